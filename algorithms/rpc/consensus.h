// Consistency learning across possible worlds: per-world affinities and a consensus spectral
// embedding that all worlds are pulled towards.
//
// Affinity of a world (self-tuning, Zelnik-Manor and Perona 2004): W_ij = exp(−‖x_i − x_j‖² /
// (σ_i σ_j)) with σ_i the distance from x_i to its K-th nearest neighbour, W_ii = 0; each world
// enters through its normalised affinity A_v = D_v^-1/2 W_v D_v^-1/2.
//
// Consensus (centroid co-regularisation, Kumar, Rai and Daumé 2011): maximise over
// orthonormal U_v, U* [N, k]
//
//   Σ_v tr(U_vᵀ A_v U_v) + λ Σ_v tr(U_v U_vᵀ U* U*ᵀ)
//
// by alternating: U_v ← top-k eigenvectors of A_v + λ U* U*ᵀ (each world's embedding moves
// towards the shared one), then U* ← top-k eigenvectors of Σ_v U_v U_vᵀ (the shared one moves
// to the worlds' agreement). Both steps never lower the objective when solved exactly; we solve
// the first by a few warm-started subspace iterations. The labels are k-means on U*'s
// row-normalised rows.
//
//   std::vector<Tensor> A = {algo::normalized_affinity(algo::self_tuning_affinity(X1)), ...};
//   algo::ConsensusResult c = algo::consensus_embedding(A, 3);
//   Tensor labels = train::kmeans(c.embedding, 3, {}, gen).labels;
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad::algo {

// The self-tuning Gaussian affinity of the rows of X (f64 [N, D]): f64 [N, N], symmetric,
// zero diagonal. neighbor K in [1, N − 1]; σ_i is floored at 1e-12 times the mean σ (so
// duplicate points give large finite affinities, not NaN).
Tensor self_tuning_affinity(const Tensor& X, int64_t neighbor = 7);

// D^-1/2 W D^-1/2 for a symmetric non-negative W (rows of degree 0 stay 0).
Tensor normalized_affinity(const Tensor& W);

// The top-k eigenvectors f64 [N, k] of a dense symmetric matrix (Lanczos).
Tensor top_eigenvectors(const Tensor& A, int64_t k);

// Rows scaled to unit length (zero rows stay zero), as Ng, Jordan and Weiss do before k-means.
Tensor normalize_rows(const Tensor& U);

struct ConsensusOptions {
  double lambda = 1.0;         // λ, the pull between each world's embedding and the consensus
  int64_t iterations = 10;     // alternations
  int64_t subspace_steps = 3;  // subspace iterations per world update (warm-started)
};

struct ConsensusResult {
  Tensor embedding;  // U*, f64 [N, k], orthonormal columns (not row-normalised)
  // After initialisation and after each alternation: the objective and the disagreement
  // Σ_v (k − ‖U_vᵀ U*‖²_F) (0 when every world's subspace equals the consensus).
  std::vector<double> objective, disagreement;
};

// The consensus embedding of the worlds' normalised affinities (each f64 [N, N]). The worlds
// are initialised with the top-k eigenvectors of their mean, then refined.
ConsensusResult consensus_embedding(const std::vector<Tensor>& affinities, int64_t k,
                                    const ConsensusOptions& options = {});

}  // namespace stackgrad::algo
