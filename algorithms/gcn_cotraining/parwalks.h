// Partially absorbing random walks (Wu, Li, So, Wright and Chang, NIPS 2012), the random-walk
// model that Li, Han and Wu co-train a GCN with. A walk from node i is absorbed at each node j
// with a probability set by α; with L = D - A the absorption probabilities are proportional to
// P = (L + αI)^-1, and α = 1e-6 makes the walks long: they reach the whole connected component.
//
//   algo::ParWalks walks(ds.edges, ds.num_nodes);            // α = 1e-6
//   Tensor P_cols = walks.columns(train_idx);                // f64 [N, |train_idx|] = P[:,
//   train_idx] Tensor pred = algo::parwalks_predict(P_cols, train_labels);  // the LP baseline
//
// Solving with α = 1e-6. On a connected component c with n_c nodes, L's null vector is the
// indicator 1_c, so (L + αI) has one eigenvalue α per component and the rest >= λ2(c) + α:
// condition numbers near 10^7, where conjugate gradient needs thousands of steps and float32
// loses the ranking. We solve it exactly in two parts instead: for b = b̄ 1_c + b⊥ on c (b̄ the
// mean of b over c),
//   (L + αI)^-1 b = (b̄ / α) 1_c + (L + αI)^-1 b⊥,
// where b⊥ has zero mean on every component, the operator keeps it there, and CG on that
// subspace sees only eigenvalues >= λ2 + α (converging in tens to hundreds of steps). All
// columns are solved at once (block CG with a step size per column) in float64.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad::algo {

struct ParWalksOptions {
  double alpha = 1e-6;       // absorption rate (Li, Han and Wu's value)
  double tol = 1e-9;         // CG stops when every column's ||b⊥ - M y|| <= tol ||b⊥||
  int64_t max_iter = 10000;  // CG steps at most (not converging in time is an error)
  // columns() keeps the columns it solved for, up to this many bytes, and solves only for nodes
  // it has not seen: P does not depend on the split, and 20 splits of Cora at six label rates
  // label nearly every node at some point.
  int64_t cache_bytes = int64_t(512) << 20;
};

class ParWalks {
 public:
  // edges: i64 [E, 2] undirected edges (both directions are used), n nodes.
  ParWalks(const Tensor& edges, int64_t n, ParWalksOptions options = {});

  // (L + αI)^-1 B for B f64 [N, m] (or f32, promoted): f64 [N, m].
  Tensor solve(const Tensor& B) const;
  // The columns P[:, idx] of P = (L + αI)^-1 for i64 node indices idx [m]: f64 [N, m].
  // P is symmetric, so this is also the rows P[idx, :] transposed. Not thread-safe (the cache).
  Tensor columns(const Tensor& idx) const;

  int64_t num_nodes() const { return n_; }
  int64_t num_components() const { return num_components_; }
  const Tensor& component() const { return component_; }  // i64 [N], 0-based component ids
  // CG steps and final worst relative residual of the last solve (0 steps when columns() found
  // every column in its cache).
  int64_t last_iterations() const { return last_iterations_; }
  double last_residual() const { return last_residual_; }
  const ParWalksOptions& options() const { return options_; }

 private:
  int64_t n_ = 0, num_components_ = 0;
  ParWalksOptions options_;
  Tensor shifted_laplacian_;  // CSR f64 L + αI
  Tensor membership_;         // CSR f64 [components, N]: 1 where node i lies in component c
  Tensor membership_t_;       // its transpose [N, components]
  Tensor component_size_;     // f64 [components, 1]
  Tensor component_;
  mutable std::unordered_map<int64_t, std::vector<double>> cache_;  // node -> P[:, node]
  mutable int64_t last_iterations_ = 0;
  mutable double last_residual_ = 0;
};

// The label-propagation baseline of the paper: every node takes the label of the labelled node
// that absorbs it with the highest probability. P_cols: f64 [N, m] = P[:, train_idx];
// train_labels: i64 [m]. Returns i64 [N]. Ties (e.g. a component without labelled nodes, where
// every column is 0) go to the first labelled node in train_idx's order.
Tensor parwalks_predict(const Tensor& P_cols, const Tensor& train_labels);

// Per-class absorption scores a_k = P y_k (y_k the indicator of the labelled nodes of class k):
// f64 [N, classes], column k the sum of P_cols's columns whose label is k.
Tensor parwalks_class_scores(const Tensor& P_cols, const Tensor& train_labels, int64_t num_classes);

}  // namespace stackgrad::algo
