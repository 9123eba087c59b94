// Graph layers and filters over sparse CSR matrices (engine/ops/sparse.h): the normalised
// adjacencies of GCN-style models, Kipf and Welling's GCNConv, and the fixed graph filters that
// several graph papers share (repeated propagation, auto-regressive, random walk, low-pass).
//
//   Tensor S = nn::gcn_norm(edges, num_nodes);           // D̃^-1/2 (A + I) D̃^-1/2, CSR
//   nn::GCNConv conv(1433, 16);
//   Tensor h = relu(conv.forward(S, x));                 // x [N, 1433] -> h [N, 16]
#pragma once

#include <cstdint>

#include "nn/module.h"

namespace stackgrad::nn {

// --- normalised adjacencies -------------------------------------------------------------------
// `edges` [E, 2] i64 lists undirected edges (u, v): both directions are added, duplicates count
// once, a self-loop (u, u) is a diagonal entry. The result is an [n, n] CSR matrix in `dtype`.

// S̃ = D̃^-1/2 (A + I) D̃^-1/2 with D̃ the degrees of A + I (symmetric; eigenvalues in (-1, 1]).
// Without add_self_loops: D^-1/2 A D^-1/2 (an isolated node's row stays zero).
Tensor gcn_norm(const Tensor& edges, int64_t n, bool add_self_loops = true,
                DType dtype = DType::f32);
// P = D̃^-1 (A + I): rows sum to one (the transition matrix of a lazy random walk). Without
// add_self_loops: D^-1 A.
Tensor random_walk_norm(const Tensor& edges, int64_t n, bool add_self_loops = true,
                        DType dtype = DType::f32);

// --- GCNConv ----------------------------------------------------------------------------------
struct GCNConvOptions {
  bool bias = true;
};

// Kipf and Welling's graph convolution H' = S̃ H W + b with weight [in, out] (their layout, not
// Linear's) initialised Glorot-uniform and bias [out] zeros, as in their code. The product is
// ordered to keep the sparse product narrow: S̃ (X W) when out < in, else (S̃ X) W.
class GCNConv : public Module {
 public:
  GCNConv(int64_t in_features, int64_t out_features, GCNConvOptions options = {},
          Generator& gen = default_generator());

  // adj: CSR [N, N] (e.g. gcn_norm); x: dense [N, in]. Returns [N, out].
  Tensor forward(const Tensor& adj, const Tensor& x);

  Tensor weight, bias;
  std::string extra_repr() const override;

 private:
  int64_t in_, out_;
};

// --- fixed graph filters ------------------------------------------------------------------------
// Each maps node features X [N, F] through a polynomial or rational function of a sparse
// propagation matrix, written with engine ops (spmm, elementwise), so they work on any device and
// stay differentiable in X (and in the matrix's values); callers usually run them under
// NoGradGuard as a preprocessing step.
namespace graph_filter {

// Repeated normalised multiplication (RNM): S̃^k X, k >= 0.
Tensor rnm(const Tensor& S, const Tensor& X, int64_t k);

// k steps of a random walk with transition matrix P (row-stochastic, e.g. random_walk_norm):
// P^k X, each row a k-step average of its neighbourhood.
Tensor random_walk(const Tensor& P, const Tensor& X, int64_t k);

// AGC's low-pass filter ((I + S̃) / 2)^k X: frequency response (1 - λ/2)^k on the eigenvalues
// λ = 1 - μ of L̃ = I - S̃, keeping smooth signals and damping the high frequencies. This is
// also the "RW" filter of Li et al. (CVPR 2019), which random_walk above is not.
Tensor low_pass(const Tensor& S, const Tensor& X, int64_t k);

// The auto-regressive filter (I + α L̃)^-1 X with L̃ = I - S̃, α > 0 (frequency response
// 1 / (1 + α λ)). Two ways to apply it:
//   series: since I + α L̃ = (1 + α)(I - β S̃) with β = α / (1 + α) < 1, the Neumann series
//           (I + α L̃)^-1 X = Σ_{j>=0} β^j S̃^j X / (1 + α), truncated after `terms` products
//           (error ~ β^terms when ||S̃|| <= 1);
//   cg:     conjugate gradient on (I + α L̃) Y = X (symmetric positive definite when S̃ is
//           symmetric with eigenvalues in [-1, 1]), all columns at once with one step size per
//           column, until every column's relative residual ||x - A y|| / ||x|| <= tol or
//           max_iter steps.
enum class ArMethod { series, cg };

struct ArOptions {
  ArMethod method = ArMethod::cg;
  int64_t terms = 50;       // series
  double tol = -1.0;        // cg; < 0: 1e-10 (f64) or 1e-5 (f32)
  int64_t max_iter = 1000;  // cg
};

Tensor ar(const Tensor& S, const Tensor& X, double alpha, const ArOptions& options = {});

}  // namespace graph_filter

}  // namespace stackgrad::nn
