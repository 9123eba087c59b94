// Clustering: k-means (k-means++ seeding, Lloyd iterations on engine ops, best of several
// restarts) and spectral clustering (the top eigenvectors of the normalised affinity, rows
// normalised, then k-means; Ng, Jordan and Weiss 2001).
//
//   Generator gen(0);
//   auto km = train::kmeans(X, 10, {.restarts = 10}, gen);            // km.labels: i64 [N]
//   Tensor labels = train::spectral_clustering(W, 2, {}, gen);         // W: [N, N] dense or CSR
//
// Everything random draws from the Generator, so the same seed gives the same labels.
#pragma once

#include <cstdint>

#include "engine/core/tensor.h"
#include "engine/runtime/generator.h"

namespace stackgrad::train {

enum class KMeansInit {
  kmeans_plus_plus,  // D² sampling: each new center drawn with probability ∝ squared distance
  random,            // k distinct points chosen uniformly
};

struct KMeansOptions {
  int64_t restarts = 10;   // independent seedings; the run with the lowest inertia is kept
  int64_t max_iter = 300;  // Lloyd iterations per run
  // Stop when the centers' total squared shift is at most tol times the mean per-feature
  // variance of X (sklearn's scale-free criterion).
  double tol = 1e-4;
  KMeansInit init = KMeansInit::kmeans_plus_plus;
};

struct KMeansResult {
  Tensor labels;           // i64 [N], the nearest center of each point
  Tensor centers;          // [k, D], X's dtype and device
  double inertia = 0;      // sum of squared distances to the nearest center
  int64_t iterations = 0;  // Lloyd iterations of the kept run
};

// Clusters the rows of X [N, D] (f32 or f64) into k groups, 1 <= k <= N. A cluster left empty
// during the iterations is re-seeded with the point farthest from its center (deterministic).
KMeansResult kmeans(const Tensor& X, int64_t k, const KMeansOptions& options = {},
                    Generator& gen = default_generator());

// One Lloyd run from given initial centers [k, D] (no restarts, no randomness).
KMeansResult kmeans_from(const Tensor& X, const Tensor& initial_centers,
                         const KMeansOptions& options = {});

// Squared Euclidean distances [N, k] between the rows of X [N, D] and C [k, D], computed as
// ‖x‖² − 2 x·c + ‖c‖² with one matmul and clamped at zero.
Tensor squared_distances(const Tensor& X, const Tensor& C);

struct SpectralOptions {
  // true: top eigenvectors of D^-1/2 W D^-1/2, rows normalised to unit length (Ng-Jordan-Weiss).
  // false: bottom eigenvectors of the unnormalised Laplacian D − W, rows as they are.
  bool normalized = true;
  // tau of the regularised affinity W + (tau / N) 1 1ᵀ (Qin and Rohe 2013), which steadies the
  // embedding of sparse graphs and separates the repeated top eigenvalues of a graph with
  // several connected components (Lanczos finds one vector per distinct eigenvalue, so without
  // it the sparse path can miss components). < 0: 0.01 times the mean degree for sparse W,
  // 0 for dense W (eigh finds repeated eigenvalues).
  double regularization = -1;
  KMeansOptions kmeans = {};
};

// The spectral embedding [N, k] of a symmetric non-negative affinity W, dense [N, N] (eigh) or
// sparse CSR (Lanczos, eigsh_topk). Nodes of degree zero get zero rows.
Tensor spectral_embedding(const Tensor& affinity, int64_t k, const SpectralOptions& options = {});

// k-means on the spectral embedding: i64 labels [N].
Tensor spectral_clustering(const Tensor& affinity, int64_t k, const SpectralOptions& options = {},
                           Generator& gen = default_generator());

}  // namespace stackgrad::train
