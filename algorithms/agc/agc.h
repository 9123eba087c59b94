// Adaptive Graph Convolution for attributed graph clustering (Zhang, Liu, Li and Wu, "Attributed
// Graph Clustering via Adaptive Graph Convolution", IJCAI 2019). The node features are smoothed
// by the low-pass filter G = (I + S̃) / 2, S̃ = D̃^-1/2 (A + I) D̃^-1/2, applied k times; the
// filtered rows are clustered by spectral clustering on the linear kernel X̄ X̄ᵀ (the top-c left
// singular vectors of X̄, then k-means); k grows from 1 until the intra-cluster distance of the
// clustering first rises, and the order before it is kept.
//
//   algo::AgcResult r = algo::run_agc(nn::gcn_norm(ds.edges, n, true, DType::f64),
//                                     ds.features.to(DType::f64), ds.num_classes, ds.labels, {}, 0);
//   std::printf("k = %lld, ACC %.4f\n", (long long)r.order, r.best.acc_summary.mean);
//
// The clustering step (cluster_by_svd) and the intra-cluster distance are public on their own:
// other filter-then-cluster methods reuse them.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/core/tensor.h"
#include "train/cluster.h"
#include "train/full_batch.h"

namespace stackgrad::algo {

// --- clustering and its scores ---------------------------------------------------------------

// ACC (Hungarian-matched accuracy), NMI and macro-F1 (after the Hungarian matching) of a
// clustering, computed on the nodes whose label is >= 0 (CiteSeer has 15 unlabelled nodes).
struct ClusterMetrics {
  double acc = 0, nmi = 0, f1 = 0;
};
ClusterMetrics score_clustering(const Tensor& predicted, const Tensor& labels);

struct ClusterScores {
  std::vector<double> acc, nmi, f1;                   // one per run (empty without labels)
  train::MeanStd acc_summary, nmi_summary, f1_summary;  // mean and population std over the runs
  std::vector<Tensor> predictions;                    // i64 [N] cluster ids, one per run
};

// k-means on the rows of `embedding` [N, D], `runs` times with Generators seeded seed, seed + 1,
// ...; each run is train::kmeans with `kmeans` (best of its restarts). Scores against `labels`
// (i64 [N], -1 = unlabelled) when it is defined.
ClusterScores cluster_embedding(const Tensor& embedding, int64_t classes, const Tensor& labels,
                                int64_t runs, uint64_t seed, const train::KMeansOptions& kmeans = {});

// The top-`k` left singular vectors U [N, k] of `features` [N, F] (engine svds_topk, Lanczos on
// the smaller Gram matrix). These are the top eigenvectors of the linear kernel X Xᵀ, which is
// the spectral embedding AGC clusters (its rows are not normalised).
Tensor svd_embedding(const Tensor& features, int64_t k);

// AGC's clustering step: svd_embedding(features, classes), then cluster_embedding. The SVD is
// computed once and shared by the runs, as in the authors' code.
ClusterScores cluster_by_svd(const Tensor& features, int64_t classes, const Tensor& labels,
                             int64_t runs, uint64_t seed, const train::KMeansOptions& kmeans = {});

// --- AGC's order selection -------------------------------------------------------------------

enum class IntraDistance {
  // (1/|𝒞|) Σ_C (1/|C|²) Σ_{i,j∈C} ‖x_i − x_j‖², from the cluster means:
  // (1/|C|²) Σ_{i,j∈C} ‖x_i − x_j‖² = (2/|C|) Σ_{i∈C} ‖x_i − x̄_C‖². The authors' default.
  squared,
  // The paper's formula (1/|𝒞|) Σ_C 1/(|C|(|C|−1)) Σ_{i,j∈C} ‖x_i − x_j‖ (clusters of one node
  // add 0), from blockwise pairwise distances: O(Σ|C|² F) work.
  euclidean,
};

// intra(𝒞) of the partition `assignment` (i64 [N], ids >= 0) of the rows of `features` [N, F];
// 𝒞 counts the non-empty clusters.
double intra_cluster_distance(const Tensor& features, const Tensor& assignment,
                              IntraDistance form = IntraDistance::squared);

// AGC's stopping rule on intra[0], intra[1], ... (the distances at orders 1, 2, ...): the first
// order k >= 2 whose distance exceeds that of k − 1 gives the order k − 1; a sequence that never
// rises gives its last order. Empty: an error.
int64_t select_order(const std::vector<double>& intra);

// --- the whole method ------------------------------------------------------------------------

struct AgcConfig {
  int64_t max_order = 60;  // the largest k tried (the authors' max_iter)
  int64_t runs = 10;       // k-means runs per order (seeds seed, seed + 1, ...)
  IntraDistance distance = IntraDistance::squared;
  train::KMeansOptions kmeans = {};  // sklearn's KMeans defaults: k-means++, 10 restarts, 300 iterations
  // Keep filtering and clustering up to this order after the rule has stopped (0: stop at the
  // rule), to draw the intra-distance and ACC curves; the chosen order is unchanged.
  int64_t scan_to = 0;
};

struct AgcStep {
  int64_t order = 0;        // k
  double intra = 0;         // mean over the runs of the intra-cluster distance on X̄_k
  ClusterScores scores;     // the runs' clusterings of X̄_k
  double seconds = 0;       // filter + SVD + k-means + distances for this order
};

struct AgcResult {
  int64_t order = 0;            // the selected k
  ClusterScores best;           // the clustering at the selected k
  std::vector<AgcStep> steps;   // every order computed, 1, 2, ...
  double seconds = 0;           // wall time of run_agc
};

// Runs AGC on the normalised adjacency S̃ (CSR [N, N], e.g. nn::gcn_norm) and the raw features
// X [N, F] (f32 or f64; the filter runs in X's dtype). `on_step` sees each order as it is done.
AgcResult run_agc(const Tensor& S, const Tensor& X, int64_t classes, const Tensor& labels,
                  const AgcConfig& config, uint64_t seed,
                  const std::function<void(const AgcStep&)>& on_step = nullptr);

}  // namespace stackgrad::algo
