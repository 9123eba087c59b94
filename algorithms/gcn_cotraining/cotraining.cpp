#include "algorithms/gcn_cotraining/cotraining.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/stackgrad.h"

namespace stackgrad::algo {

namespace {

std::vector<bool> labelled_mask(const Tensor& labelled, int64_t n, const char* who) {
  SG_CHECK(labelled.defined() && labelled.dtype() == DType::i64 && labelled.dim() == 1, who,
           ": labelled must be i64 [L]");
  std::vector<bool> mask(size_t(n), false);
  for (int64_t v : labelled.contiguous().to_vector<int64_t>()) {
    SG_CHECK(v >= 0 && v < n, who, ": labelled node ", v, " outside [0, ", n, ")");
    mask[size_t(v)] = true;
  }
  return mask;
}

std::vector<double> as_doubles(const Tensor& m, const std::vector<int64_t>& t, const char* who) {
  SG_CHECK(m.defined() && m.dim() == 2 && (m.dtype() == DType::f32 || m.dtype() == DType::f64), who,
           ": expected an f32/f64 [N, classes] matrix");
  SG_CHECK(int64_t(t.size()) == m.size(1), who, ": t has ", t.size(), " entries for ", m.size(1),
           " classes");
  for (int64_t tk : t) SG_CHECK(tk >= 0, who, ": t_k must be >= 0, got ", tk);
  return m.to(DType::f64).contiguous().to_vector<double>();
}

// The first `count` of `nodes` by descending key, ties to the lower node; returned sorted by node.
std::vector<int64_t> top(std::vector<int64_t> nodes, const std::vector<double>& key,
                         int64_t count) {
  count = std::min<int64_t>(count, int64_t(nodes.size()));
  std::partial_sort(nodes.begin(), nodes.begin() + count, nodes.end(), [&](int64_t a, int64_t b) {
    return key[size_t(a)] > key[size_t(b)] || (key[size_t(a)] == key[size_t(b)] && a < b);
  });
  nodes.resize(size_t(count));
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

}  // namespace

LabelBudget label_budget(int64_t num_nodes, int64_t num_edges,
                         const std::vector<int64_t>& labelled_per_class, double factor) {
  SG_CHECK(num_nodes > 0 && num_edges > 0, "label_budget: need nodes and edges, got ", num_nodes,
           " and ", num_edges);
  SG_CHECK(factor >= 0, "label_budget: factor must be >= 0, got ", factor);
  const int64_t labelled =
      std::accumulate(labelled_per_class.begin(), labelled_per_class.end(), int64_t(0));
  SG_CHECK(labelled > 0, "label_budget: no labelled nodes");
  LabelBudget b;
  b.average_degree = 2.0 * double(num_edges) / double(num_nodes);
  b.eta = double(num_nodes) / (b.average_degree * b.average_degree);
  for (int64_t nk : labelled_per_class)
    b.per_class.push_back(int64_t(std::floor(factor * b.eta * double(nk) / double(labelled))));
  return b;
}

std::vector<int64_t> count_per_class(const Tensor& labels, int64_t num_classes) {
  std::vector<int64_t> n(size_t(num_classes), 0);
  for (int64_t y : labels.contiguous().to_vector<int64_t>()) {
    SG_CHECK(y >= 0 && y < num_classes, "count_per_class: label ", y, " outside [0, ", num_classes,
             ")");
    ++n[size_t(y)];
  }
  return n;
}

ClassSets select_top_scores(const Tensor& scores, const Tensor& labelled,
                            const std::vector<int64_t>& t) {
  const std::vector<double> s = as_doubles(scores, t, "select_top_scores");
  const int64_t n = scores.size(0), classes = scores.size(1);
  const std::vector<bool> is_labelled = labelled_mask(labelled, n, "select_top_scores");
  std::vector<int64_t> candidates;
  for (int64_t v = 0; v < n; ++v)
    if (!is_labelled[size_t(v)]) candidates.push_back(v);
  ClassSets sets(static_cast<size_t>(classes));
  std::vector<double> key(static_cast<size_t>(n));
  for (int64_t k = 0; k < classes; ++k) {
    for (int64_t v = 0; v < n; ++v) key[size_t(v)] = s[size_t(v * classes + k)];
    sets[size_t(k)] = top(candidates, key, t[size_t(k)]);
  }
  return sets;
}

ClassSets select_most_confident(const Tensor& probs, const Tensor& labelled,
                                const std::vector<int64_t>& t) {
  const std::vector<double> p = as_doubles(probs, t, "select_most_confident");
  const int64_t n = probs.size(0), classes = probs.size(1);
  const std::vector<bool> is_labelled = labelled_mask(labelled, n, "select_most_confident");
  std::vector<std::vector<int64_t>> predicted(static_cast<size_t>(classes));
  std::vector<double> confidence(static_cast<size_t>(n));
  for (int64_t v = 0; v < n; ++v) {
    const double* row = p.data() + v * classes;
    const int64_t k = std::max_element(row, row + classes) - row;  // the first maximum
    confidence[size_t(v)] = row[k];
    if (!is_labelled[size_t(v)]) predicted[size_t(k)].push_back(v);
  }
  ClassSets sets(static_cast<size_t>(classes));
  for (int64_t k = 0; k < classes; ++k)
    sets[size_t(k)] = top(predicted[size_t(k)], confidence, t[size_t(k)]);
  return sets;
}

ClassSets union_sets(const ClassSets& a, const ClassSets& b) {
  SG_CHECK(a.size() == b.size(), "union_sets: ", a.size(), " classes vs ", b.size());
  ClassSets out(a.size());
  for (size_t k = 0; k < a.size(); ++k)
    std::set_union(a[k].begin(), a[k].end(), b[k].begin(), b[k].end(), std::back_inserter(out[k]));
  return out;
}

ClassSets intersection_sets(const ClassSets& a, const ClassSets& b) {
  SG_CHECK(a.size() == b.size(), "intersection_sets: ", a.size(), " classes vs ", b.size());
  ClassSets out(a.size());
  for (size_t k = 0; k < a.size(); ++k)
    std::set_intersection(a[k].begin(), a[k].end(), b[k].begin(), b[k].end(),
                          std::back_inserter(out[k]));
  return out;
}

train::NodeTask expanded_task(const train::NodeTask& base, const ClassSets& added) {
  std::vector<int64_t> idx = base.train_idx.contiguous().to_vector<int64_t>();
  std::vector<int64_t> targets =
      (base.train_targets.defined() ? base.train_targets
                                    : index_select(base.labels, 0, base.train_idx))
          .contiguous()
          .to_vector<int64_t>();
  for (size_t k = 0; k < added.size(); ++k)
    for (int64_t v : added[k]) idx.push_back(v), targets.push_back(int64_t(k));
  train::NodeTask task = base;
  task.train_idx = from_vector(idx);
  task.train_targets = from_vector(targets);
  return task;
}

AddedStats added_stats(const ClassSets& added, const Tensor& labels) {
  const std::vector<int64_t> y = labels.contiguous().to_vector<int64_t>();
  AddedStats s;
  for (size_t k = 0; k < added.size(); ++k)
    for (int64_t v : added[k]) ++s.added, s.correct += (y[size_t(v)] == int64_t(k));
  return s;
}

}  // namespace stackgrad::algo
