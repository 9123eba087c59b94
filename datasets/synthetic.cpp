#include "datasets/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "datasets/graph_split.h"
#include "datasets/uniforms.h"
#include "engine/ops/random.h"

namespace stackgrad::data {

namespace {

// Adds each pair (i, j) with lo_i <= i < hi_i, lo_j <= j < hi_j, i < j, with probability p, by
// jumping over the pairs that are skipped (the gap to the next success is geometric).
void sample_block(int64_t lo_i, int64_t hi_i, int64_t lo_j, int64_t hi_j, bool same_block, double p,
                  Uniforms& u, std::vector<std::pair<int64_t, int64_t>>& out) {
  if (p <= 0) return;
  const double log_q = p >= 1 ? 0 : std::log1p(-p);
  for (int64_t i = lo_i; i < hi_i; ++i) {
    int64_t j = (same_block ? i + 1 : lo_j) - 1;
    while (true) {
      // Pairs skipped before the next edge; compared as a double first, since for tiny p it
      // can exceed any int64.
      const double skip = p >= 1 ? 0.0 : std::floor(std::log(u.next()) / log_q);
      if (static_cast<double>(j) + 1.0 + skip >= static_cast<double>(hi_j)) break;
      j += 1 + static_cast<int64_t>(skip);
      out.emplace_back(i, j);
    }
  }
}

}  // namespace

GraphDataset csbm(int64_t n, int64_t classes, int64_t features, double p_in, double p_out,
                  double mu, Generator& gen) {
  SG_CHECK(n >= 1 && classes >= 1 && classes <= n && features >= 1,
           "csbm: need n >= classes >= 1 "
           "and features >= 1, got n = ",
           n, ", classes = ", classes, ", features = ", features);
  SG_CHECK(p_in >= 0 && p_in <= 1 && p_out >= 0 && p_out <= 1,
           "csbm: p_in and p_out must be "
           "probabilities, got ",
           p_in, " and ", p_out);
  // Nodes are first generated sorted by class (block c holds slots start[c]..start[c+1]), which
  // makes every block pair a constant-probability rectangle; a random permutation then gives
  // each slot its node id, so labels come out in random order.
  std::vector<int64_t> start(classes + 1);
  for (int64_t c = 0; c <= classes; ++c) start[c] = c * n / classes;
  const std::vector<int64_t> node_of_slot = randperm(n, gen).to_vector<int64_t>();
  std::vector<int64_t> labels(n);
  for (int64_t c = 0; c < classes; ++c)
    for (int64_t s = start[c]; s < start[c + 1]; ++s) labels[node_of_slot[s]] = c;

  Uniforms u(gen);
  std::vector<std::pair<int64_t, int64_t>> slot_edges;
  for (int64_t a = 0; a < classes; ++a)
    for (int64_t b = a; b < classes; ++b)
      sample_block(start[a], start[a + 1], start[b], start[b + 1], a == b, a == b ? p_in : p_out, u,
                   slot_edges);
  std::vector<int64_t> edges;
  edges.reserve(2 * slot_edges.size());
  std::vector<std::pair<int64_t, int64_t>> node_edges;
  node_edges.reserve(slot_edges.size());
  for (auto [s, t] : slot_edges) {
    const int64_t i = node_of_slot[s], j = node_of_slot[t];
    node_edges.emplace_back(std::min(i, j), std::max(i, j));
  }
  std::sort(node_edges.begin(), node_edges.end());
  for (auto [i, j] : node_edges) {
    edges.push_back(i);
    edges.push_back(j);
  }

  // Centroids: Gaussian directions scaled to unit norm.
  std::vector<double> centroid = randn({classes, features}, gen, DType::f64).to_vector<double>();
  for (int64_t c = 0; c < classes; ++c) {
    double norm = 0;
    for (int64_t f = 0; f < features; ++f)
      norm += centroid[c * features + f] * centroid[c * features + f];
    const double inv = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
    for (int64_t f = 0; f < features; ++f) centroid[c * features + f] *= inv;
  }
  Tensor x =
      randn({n, features}, gen, DType::f32, 0.0, 1.0 / std::sqrt(static_cast<double>(features)));
  float* px = x.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < features; ++f)
      px[i * features + f] += static_cast<float>(mu * centroid[labels[i] * features + f]);

  GraphDataset ds;
  ds.name = "csbm";
  ds.num_nodes = n;
  ds.num_classes = classes;
  ds.features = x;
  ds.labels = from_vector(labels);
  ds.edges = from_vector(edges, {static_cast<int64_t>(node_edges.size()), 2});
  // Planetoid-like split, shrunk for small graphs: 20 per class (at most a fifth of the smallest
  // class), then validation and test from what is left.
  const int64_t smallest = n / classes;
  const int64_t per_class = std::max<int64_t>(1, std::min<int64_t>(20, smallest / 5));
  const int64_t left = n - per_class * classes;
  const int64_t val = std::min<int64_t>(500, left / 3);
  const int64_t test = std::min<int64_t>(1000, left - val);
  apply_split(ds, balanced_split(ds.labels, per_class, {.val = val, .test = test}, gen));
  validate_graph(ds, "csbm");
  return ds;
}

TableDataset blobs(int64_t n, int64_t centers, int64_t dim, double std, Generator& gen) {
  SG_CHECK(n >= 0 && centers >= 1 && dim >= 1 && std >= 0,
           "blobs: need n >= 0, centers >= 1, "
           "dim >= 1, std >= 0, got n = ",
           n, ", centers = ", centers, ", dim = ", dim, ", std = ", std);
  const std::vector<double> c =
      rand({centers, dim}, gen, DType::f64, -10.0, 10.0).to_vector<double>();
  const std::vector<int64_t> perm = randperm(n, gen).to_vector<int64_t>();
  Tensor x = randn({n, dim}, gen, DType::f64, 0.0, std);
  double* px = x.data_ptr<double>();
  std::vector<int64_t> labels(n);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = perm[k];              // row i holds the k-th point, so rows are shuffled
    const int64_t label = k * centers / n;  // even shares; earlier centres get the extra points
    labels[i] = label;
    for (int64_t d = 0; d < dim; ++d) px[i * dim + d] += c[label * dim + d];
  }
  TableDataset ds;
  ds.features = x;
  ds.labels = from_vector(labels);
  for (int64_t k = 0; k < centers; ++k) ds.class_names.push_back("blob" + std::to_string(k));
  return ds;
}

TableDataset spirals(int64_t k, int64_t n, double noise, Generator& gen) {
  SG_CHECK(k >= 1 && n >= 0 && noise >= 0, "spirals: need k >= 1, n >= 0, noise >= 0, got k = ", k,
           ", n = ", n, ", noise = ", noise);
  const std::vector<double> eps = randn({n, 2}, gen, DType::f64, 0.0, noise).to_vector<double>();
  std::vector<double> xy(2 * n);
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t arm = i % k;
    const int64_t m = (n - arm + k - 1) / k;  // points on this arm
    const double t = m > 1 ? static_cast<double>(i / k) / static_cast<double>(m - 1) : 0.0;
    const double angle = 3.0 * std::numbers::pi * t + 2.0 * std::numbers::pi * arm / k;
    xy[2 * i] = t * std::cos(angle) + eps[2 * i];
    xy[2 * i + 1] = t * std::sin(angle) + eps[2 * i + 1];
    labels[i] = arm;
  }
  TableDataset ds;
  ds.features = from_vector(xy, {n, 2});
  ds.labels = from_vector(labels);
  for (int64_t a = 0; a < k; ++a) ds.class_names.push_back("arm" + std::to_string(a));
  return ds;
}

TableDataset two_spirals(int64_t n, double noise, Generator& gen) {
  return spirals(2, n, noise, gen);
}

double edge_homophily(const GraphDataset& ds) {
  const std::vector<int64_t> y = ds.labels.to_vector<int64_t>();
  const std::vector<int64_t> e = ds.edges.contiguous().to_vector<int64_t>();
  int64_t same = 0, counted = 0;
  for (size_t k = 0; k + 1 < e.size(); k += 2) {
    const int64_t a = y[e[k]], b = y[e[k + 1]];
    if (a < 0 || b < 0) continue;
    ++counted;
    same += a == b;
  }
  return counted ? static_cast<double>(same) / static_cast<double>(counted) : 0.0;
}

}  // namespace stackgrad::data
