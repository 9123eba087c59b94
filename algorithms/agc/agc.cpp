#include "algorithms/agc/agc.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "engine/stackgrad.h"
#include "nn/graph.h"
#include "train/metrics.h"

namespace stackgrad::algo {

namespace {

std::vector<int64_t> host_ids(const Tensor& t, const char* op, const char* what) {
  SG_CHECK(t.defined() && t.dim() == 1, op, ": ", what, " must be a 1-D tensor of ids");
  SG_CHECK(t.dtype() == DType::i64 || t.dtype() == DType::i32, op, ": ", what,
           " must be i64 or i32, got ", dtype_name(t.dtype()));
  return t.to(Device::cpu()).to(DType::i64).contiguous().to_vector<int64_t>();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

ClusterMetrics score_clustering(const Tensor& predicted, const Tensor& labels) {
  const std::vector<int64_t> pred = host_ids(predicted, "score_clustering", "predicted");
  const std::vector<int64_t> truth = host_ids(labels, "score_clustering", "labels");
  SG_CHECK(pred.size() == truth.size(), "score_clustering: ", pred.size(), " predictions for ",
           truth.size(), " labels");
  // Unlabelled nodes (label -1) are clustered but not scored.
  std::vector<int64_t> p, t;
  for (size_t i = 0; i < pred.size(); ++i)
    if (truth[i] >= 0) {
      SG_CHECK(pred[i] >= 0, "score_clustering: negative cluster id ", pred[i], " at node ", i);
      p.push_back(pred[i]);
      t.push_back(truth[i]);
    }
  SG_CHECK(!t.empty(), "score_clustering: no labelled node");
  const Tensor pt = from_vector(p), tt = from_vector(t);
  ClusterMetrics m;
  const train::ClusteringAccuracy matched = train::clustering_accuracy(pt, tt);
  m.acc = matched.accuracy;
  m.nmi = train::nmi(pt, tt);
  // F1 of the predictions relabelled by the Hungarian matching (the authors' clusteringAcc);
  // points of an unmatched cluster get an extra class of their own, so they count as errors.
  int64_t classes = *std::max_element(t.begin(), t.end()) + 1;
  std::vector<int64_t> mapped(p.size());
  bool unmatched = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const int64_t c = matched.class_of_cluster[size_t(p[i])];
    mapped[i] = c >= 0 ? c : classes;
    unmatched = unmatched || c < 0;
  }
  m.f1 = train::f1_macro(from_vector(mapped), tt, classes + (unmatched ? 1 : 0));
  return m;
}

ClusterScores cluster_embedding(const Tensor& embedding, int64_t classes, const Tensor& labels,
                                int64_t runs, uint64_t seed, const train::KMeansOptions& kmeans) {
  SG_CHECK(embedding.defined() && embedding.dim() == 2, "cluster_embedding: embedding must be [N, D]");
  SG_CHECK(classes >= 1 && classes <= embedding.size(0), "cluster_embedding: classes must be in [1, ",
           embedding.size(0), "], got ", classes);
  SG_CHECK(runs >= 1, "cluster_embedding: runs must be >= 1, got ", runs);
  if (labels.defined())
    SG_CHECK(labels.dim() == 1 && labels.size(0) == embedding.size(0), "cluster_embedding: labels must be [",
             embedding.size(0), "]");
  ClusterScores s;
  for (int64_t r = 0; r < runs; ++r) {
    Generator gen(seed + uint64_t(r));
    Tensor pred = train::kmeans(embedding, classes, kmeans, gen).labels;
    if (labels.defined()) {
      const ClusterMetrics m = score_clustering(pred, labels);
      s.acc.push_back(m.acc);
      s.nmi.push_back(m.nmi);
      s.f1.push_back(m.f1);
    }
    s.predictions.push_back(pred);
  }
  s.acc_summary = train::mean_std(s.acc);
  s.nmi_summary = train::mean_std(s.nmi);
  s.f1_summary = train::mean_std(s.f1);
  return s;
}

Tensor svd_embedding(const Tensor& features, int64_t k) {
  SG_CHECK(features.defined() && features.dim() == 2 && !features.is_sparse(),
           "svd_embedding: features must be a dense [N, F] matrix");
  SG_CHECK(k >= 1 && k <= std::min(features.size(0), features.size(1)), "svd_embedding: k must be in [1, ",
           std::min(features.size(0), features.size(1)), "], got ", k);
  NoGradGuard no_grad;
  return svds_topk(features.to(Device::cpu()).contiguous(), k).U;
}

ClusterScores cluster_by_svd(const Tensor& features, int64_t classes, const Tensor& labels,
                             int64_t runs, uint64_t seed, const train::KMeansOptions& kmeans) {
  return cluster_embedding(svd_embedding(features, classes), classes, labels, runs, seed, kmeans);
}

double intra_cluster_distance(const Tensor& features, const Tensor& assignment, IntraDistance form) {
  SG_CHECK(features.defined() && features.dim() == 2, "intra_cluster_distance: features must be [N, F]");
  const std::vector<int64_t> ids = host_ids(assignment, "intra_cluster_distance", "assignment");
  SG_CHECK(int64_t(ids.size()) == features.size(0), "intra_cluster_distance: ", ids.size(),
           " cluster ids for ", features.size(0), " rows");
  NoGradGuard no_grad;
  const Tensor X = features.to(Device::cpu()).to(DType::f64).contiguous();
  int64_t clusters = 0;
  for (int64_t c : ids) {
    SG_CHECK(c >= 0, "intra_cluster_distance: negative cluster id ", c);
    clusters = std::max(clusters, c + 1);
  }
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(clusters));
  for (size_t i = 0; i < ids.size(); ++i) members[size_t(ids[i])].push_back(int64_t(i));

  double total = 0;
  int64_t non_empty = 0;
  for (const auto& rows : members) {
    const int64_t n = int64_t(rows.size());
    if (n == 0) continue;
    ++non_empty;
    const Tensor Xc = index_select(X, 0, from_vector(rows));
    if (form == IntraDistance::squared) {
      // (1/n²) Σ_{i,j} ‖x_i − x_j‖² = (2/n) Σ_i ‖x_i − x̄‖²: linear in n instead of quadratic.
      const Tensor centred = Xc - mean(Xc, {0}, true);
      total += 2.0 * sum(centred * centred).item() / double(n);
    } else if (n > 1) {
      // Σ_{i,j} ‖x_i − x_j‖ over blocks of rows, so the n x n distances are never all in memory.
      const int64_t block = 1024;
      double pair_sum = 0;
      for (int64_t start = 0; start < n; start += block) {
        const Tensor d2 = train::squared_distances(Xc.narrow(0, start, std::min(block, n - start)), Xc);
        pair_sum += sum(sqrt(d2)).item();
      }
      total += pair_sum / (double(n) * double(n - 1));
    }
  }
  return total / double(non_empty);
}

int64_t select_order(const std::vector<double>& intra) {
  SG_CHECK(!intra.empty(), "select_order: no intra-cluster distance given");
  for (size_t k = 1; k < intra.size(); ++k)
    if (intra[k] > intra[k - 1]) return int64_t(k);  // intra[k] is order k + 1; keep order k
  return int64_t(intra.size());
}

AgcResult run_agc(const Tensor& S, const Tensor& X, int64_t classes, const Tensor& labels,
                  const AgcConfig& config, uint64_t seed, const std::function<void(const AgcStep&)>& on_step) {
  SG_CHECK(S.defined() && S.is_sparse() && S.dim() == 2 && S.size(0) == S.size(1),
           "run_agc: S must be a square CSR matrix (e.g. nn::gcn_norm)");
  SG_CHECK(X.defined() && X.dim() == 2 && X.size(0) == S.size(0), "run_agc: X must be [", S.size(0), ", F]");
  SG_CHECK(config.max_order >= 1, "run_agc: max_order must be >= 1, got ", config.max_order);
  SG_CHECK(config.runs >= 1, "run_agc: runs must be >= 1, got ", config.runs);
  NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  const Tensor G = S.dtype() == X.dtype() ? S : csr_with_values(S, csr_values(S).to(X.dtype()));
  const int64_t last = std::max(config.max_order, config.scan_to);

  AgcResult result;
  std::vector<double> intra;
  bool stopped = false;
  Tensor filtered = X;
  for (int64_t k = 1; k <= last; ++k) {
    const auto step_start = std::chrono::steady_clock::now();
    filtered = nn::graph_filter::low_pass(G, filtered, 1);  // X̄_k = G X̄_{k-1}
    AgcStep step;
    step.order = k;
    step.scores = cluster_by_svd(filtered, classes, labels, config.runs, seed, config.kmeans);
    // The authors average the distance over the k-means runs.
    for (const Tensor& pred : step.scores.predictions)
      step.intra += intra_cluster_distance(filtered, pred, config.distance) / double(config.runs);
    step.seconds = seconds_since(step_start);
    if (!stopped) {
      intra.push_back(step.intra);
      stopped = (intra.size() >= 2 && intra.back() > intra[intra.size() - 2]) || k == config.max_order;
      if (stopped) result.order = select_order(intra);
    }
    result.steps.push_back(step);
    if (on_step) on_step(result.steps.back());
    if (stopped && k >= config.scan_to) break;
  }
  result.best = result.steps[size_t(result.order - 1)].scores;
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace stackgrad::algo
