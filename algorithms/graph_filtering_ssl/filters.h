// The low-pass graph filters of Li, Wu, Liu, Zhang and Guan ("Label Efficient Semi-Supervised
// Learning via Graph Filtering", CVPR 2019), all functions of S̃ = D̃^-1/2 (A + I) D̃^-1/2 and
// of the normalised Laplacian L̃ = I - S̃:
//   RNM (repeated normalised multiplication)  G = S̃^k                 response (1 - λ)^k
//   AR  (auto-regressive)                      G = (I + α L̃)^-1        response 1 / (1 + α λ)
//   RW  (random walk)                          G = ((I + S̃) / 2)^k     response (1 - λ / 2)^k
// and label propagation (LP), the AR filter applied to the one-hot training labels.
//
//   algo::Filter f = algo::Filter::ar(10);                // series with ceil(4α) = 40 terms
//   Tensor Xbar = algo::apply_filter(S, X, f);            // S = nn::gcn_norm(ds.edges,
//   ds.num_nodes) Tensor pred = algo::label_propagation(S, split.train_idx, ds.labels,
//   ds.num_classes, 100);
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/tensor.h"

namespace stackgrad::algo {

enum class FilterKind { none, rnm, ar, rw };

// How the AR filter's inverse is applied. series: the authors' truncated Neumann series
// Σ_{j<terms} β^j S̃^j X / (1 + α), β = α / (1 + α), with terms = ceil(4α) unless set; it is a
// polynomial filter close to, not equal to, the inverse. cg: conjugate gradient to a relative
// residual of 1e-5 (f32), the inverse itself.
enum class ArSolver { series, cg };

struct Filter {
  FilterKind kind = FilterKind::none;
  int64_t k = 0;       // RNM, RW: the power
  double alpha = 0.0;  // AR: the strength
  ArSolver solver = ArSolver::series;
  int64_t terms = 0;  // AR series: number of terms (0: ceil(4α), as the authors' code)

  static Filter none() { return {}; }
  static Filter rnm(int64_t k) { return {.kind = FilterKind::rnm, .k = k}; }
  static Filter rw(int64_t k) { return {.kind = FilterKind::rw, .k = k}; }
  static Filter ar(double alpha, ArSolver solver = ArSolver::series, int64_t terms = 0) {
    return {.kind = FilterKind::ar, .alpha = alpha, .solver = solver, .terms = terms};
  }
  // "RNM k=5", "AR α=10 (series, 40 terms)", "none".
  std::string describe() const;
};

// ceil(4α): the series length of the authors' AR filter.
int64_t ar_series_terms(double alpha);

// G X for S̃ (CSR [N, N], symmetric, from nn::gcn_norm) and X dense [N, F]; X itself for none.
// Reuses nn::graph_filter (rnm, low_pass, ar), which are written with engine ops and so stay
// differentiable in X: IGCN trains through them.
Tensor apply_filter(const Tensor& S, const Tensor& X, const Filter& filter);

// Label propagation as a filter: Ȳ = G Y with Y [N, C] the one-hot labels of the training nodes
// (zero rows elsewhere) and G the given filter (the paper's LP: AR with α = 100); returns the
// predicted class of every node, argmax_c Ȳ[i, c] (i64 [N]; the lowest class wins ties, so a
// node no training label reaches gets class 0).
Tensor label_propagation(const Tensor& S, const Tensor& train_idx, const Tensor& labels,
                         int64_t num_classes, const Filter& filter);

}  // namespace stackgrad::algo
