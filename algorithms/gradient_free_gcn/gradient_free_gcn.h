// Linearized graph convolutional networks trained with and without gradients (after Zhu, Ai, Li,
// Wu and Zhou, 2023). A linearized GCN is a fixed graph filter followed by a linear classifier:
//   X̄ = filter_K(S̃, X),   logits = X̄ W + b,   S̃ = D̃^-1/2 (A + I) D̃^-1/2.
// Deep filters (large K) smooth the rows of X̄ towards each other (over-smoothing); the gradient
// of the loss with respect to W is a weighted sum of those rows, so it shrinks and loses its
// class signal with them. The gradient-free alternative solves W in closed form on the labelled
// rows (ridge regression to one-hot targets), with the ridge λ picked on the validation nodes.
//
//   algo::FilterStream sgc(algo::Filter::sgc, S, X);      // X̄ at K = 1, 2, ... one spmm a step
//   while (sgc.depth() < 16) sgc.step();
//   algo::RidgeFit r = algo::fit_ridge(sgc.features(), labels, split, {});   // closed form
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/graph_split.h"
#include "engine/core/tensor.h"
#include "nn/linear.h"

namespace stackgrad::algo {

// --- graph filters ----------------------------------------------------------------------------

enum class Filter {
  sgc,   // Wu et al. (ICML 2019): S̃^K X
  ssgc,  // Zhu & Koniusz (ICLR 2021): (1/K) Σ_{k=1..K} ((1 - α) S̃^k X + α X)
  appnp,  // personalised PageRank power iteration X̄ ← (1 - α) S̃ X̄ + α X, K steps from X̄ = X
};
const char* filter_name(Filter f);  // "sgc", "ssgc", "appnp"
// Error naming the value unless it is one of the names above.
Filter parse_filter(const std::string& name);

struct FilterOptions {
  double ssgc_alpha = 0.05;  // SSGC's α (their Cora/CiteSeer value); 0: the plain average of S̃^k X
  double appnp_alpha = 0.1;  // APPNP's teleport probability
};

// The filtered features at depth 0, 1, 2, ...: step() costs one sparse product with S̃, so one
// pass reaches every depth up to the largest one needed and keeps only the current one (a
// sweep over K = 2, 4, ..., 64 propagates once, not once per depth).
class FilterStream {
 public:
  // S: CSR [N, N] (e.g. nn::gcn_norm); X: dense [N, F]. Starts at depth 0 (features() == X).
  FilterStream(Filter filter, Tensor S, Tensor X, FilterOptions options = {});
  void step();
  int64_t depth() const { return depth_; }
  Filter filter() const { return filter_; }
  // X̄ at the current depth, [N, F] (a fresh tensor; stepping on does not change it).
  Tensor features() const;

 private:
  Filter filter_;
  FilterOptions options_;
  Tensor S_, X_;
  Tensor power_;  // S̃^k X for sgc and ssgc; the PageRank iterate for appnp
  Tensor sum_;    // Σ_{j=1..k} S̃^j X for ssgc
  int64_t depth_ = 0;
};

// X̄ at depth K from a fresh stream (tests and one-off use).
Tensor apply_filter(Filter filter, const Tensor& S, const Tensor& X, int64_t K,
                    FilterOptions options = {});

// Each column shifted to mean 0 and scaled to standard deviation 1 over all N rows (population
// std); a constant column becomes 0. Undoes the shrinking of deep filters column by column.
Tensor standardize_columns(const Tensor& X);

// --- closed-form classifier (no gradients) ------------------------------------------------------

// Ridge regression W = argmin ||X W - Y||² + λ ||W||², for X [L, F], Y [L, C] (f32 or f64; the
// solve runs in f64, the result has X's dtype), λ > 0. Both forms give the same W:
//   primal: W = (Xᵀ X + λ I_F)^-1 Xᵀ Y     an F x F Cholesky solve
//   dual:   W = Xᵀ (X Xᵀ + λ I_L)^-1 Y     an L x L Cholesky solve
// since Xᵀ (X Xᵀ + λ I) = (Xᵀ X + λ I) Xᵀ. With F = 1433 or 3703 features and L = 140 labelled
// rows the dual is the cheap one; fit_ridge uses it.
Tensor ridge_primal(const Tensor& X, const Tensor& Y, double lambda);
Tensor ridge_dual(const Tensor& X, const Tensor& Y, double lambda);

struct RidgeConfig {
  // λ candidates, relative to the mean squared norm of a centred training row (the mean
  // diagonal of the Gram matrix), so one grid fits every depth whatever the scale of X̄.
  std::vector<double> lambdas = {1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0};
  // Fit an unpenalised intercept by centring X̄ and Y on the training rows.
  bool intercept = true;
};

struct RidgeFit {
  Tensor weight;      // [F, C]
  Tensor bias;        // [C] (zeros without intercept)
  double lambda = 0;  // the chosen relative λ
  double val_accuracy = 0, test_accuracy = 0, train_accuracy = 0;
  double seconds = 0;  // the whole fit: every λ of the grid, selection and test prediction
};

// Ridge to one-hot targets on split.train_idx of X̄ [N, F]; λ chosen by validation accuracy
// (ties: the larger λ; without validation nodes: the largest λ of the grid). labels: i64 [N].
RidgeFit fit_ridge(const Tensor& features, const Tensor& labels, const data::NodeSplit& split,
                   const RidgeConfig& config = {});

// --- gradient-trained classifier (SGC's recipe) -------------------------------------------------

struct DescentConfig {
  double lr = 0.2;             // Adam, SGC's value
  double weight_decay = 5e-6;  // SGC's default (its tuned CiteSeer value is 5e-5)
  int64_t epochs = 100;
  bool bias = true;
  int64_t grad_epochs = 10;  // the gradient norm is also averaged over this many first epochs
};

struct DescentFit {
  double val_accuracy = 0, test_accuracy = 0, train_accuracy = 0;  // after the last epoch
  double grad_norm_init = 0;  // ||∂loss/∂W||_F at the initial weights
  double grad_norm_mean = 0;  // mean of ||∂loss/∂W||_F over the first grad_epochs epochs
  double seconds =
      0;  // fit_full_batch (it also scores the training rows every epoch) + final scoring
};

// An nn::Linear (initialised from `seed`) trained by train::fit_full_batch with Adam and
// cross-entropy on split.train_idx of X̄ [N, F]; the validation and test rows are scored after
// the last epoch (the recipe has no early stopping). Only labelled rows are forwarded while
// training: a linear classifier treats rows independently, so the rest would be wasted work.
DescentFit fit_descent(const Tensor& features, const Tensor& labels, const data::NodeSplit& split,
                       const DescentConfig& config, uint64_t seed);

// ||∂ CE(model(X), targets) / ∂ model.weight||_F (mean cross-entropy over the rows of X [L, F],
// targets i64 [L]); leaves the model's gradients cleared.
double loss_gradient_norm(nn::Linear& model, const Tensor& X, const Tensor& targets);

}  // namespace stackgrad::algo
