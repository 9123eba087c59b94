#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "train/assignment.h"

namespace stackgrad::train {

namespace {

// Integer labels [N] as host int64s, checked non-negative.
std::vector<int64_t> host_labels(const char* fn, const Tensor& t, const char* arg) {
  check_defined(fn, t, arg);
  SG_CHECK(t.dtype() == DType::i64 || t.dtype() == DType::i32, fn, ": ", arg,
           " must hold integer labels (i64 or i32), got ", describe(t));
  SG_CHECK(t.dim() == 1, fn, ": ", arg, " must be 1-D [N], got ", describe(t));
  std::vector<int64_t> v = t.to(Device::cpu()).to(DType::i64).contiguous().to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); ++i)
    SG_CHECK(v[i] >= 0, fn, ": ", arg, "[", i, "] = ", v[i], " is negative");
  return v;
}

void check_same_length(const char* fn, const std::vector<int64_t>& pred,
                       const std::vector<int64_t>& target) {
  SG_CHECK(pred.size() == target.size(), fn, ": pred has ", pred.size(), " labels, target has ",
           target.size());
}

// Predicted labels: integer labels as they are, floating scores [N, C] by argmax.
Tensor as_labels(const char* fn, const Tensor& pred) {
  check_defined(fn, pred, "pred");
  if (pred.dtype() != DType::f32 && pred.dtype() != DType::f64) return pred;
  SG_CHECK(pred.dim() == 2, fn, ": floating pred must be scores [N, C], got ", describe(pred));
  return argmax(pred, 1);
}

// The contingency table n[a][b] over the ids of two labelings.
struct Contingency {
  int64_t rows = 0, cols = 0, total = 0;
  std::vector<int64_t> counts;  // [rows, cols]
  std::vector<int64_t> row_sums, col_sums;
};

Contingency contingency(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  Contingency c;
  for (size_t i = 0; i < a.size(); ++i) {
    c.rows = std::max(c.rows, a[i] + 1);
    c.cols = std::max(c.cols, b[i] + 1);
  }
  c.total = static_cast<int64_t>(a.size());
  c.counts.assign(c.rows * c.cols, 0);
  c.row_sums.assign(c.rows, 0);
  c.col_sums.assign(c.cols, 0);
  for (size_t i = 0; i < a.size(); ++i) {
    ++c.counts[a[i] * c.cols + b[i]];
    ++c.row_sums[a[i]];
    ++c.col_sums[b[i]];
  }
  return c;
}

int64_t nonzero(const std::vector<int64_t>& v) {
  return std::count_if(v.begin(), v.end(), [](int64_t x) { return x > 0; });
}

// Scores [Q, items] as host doubles with NaN replaced by -inf.
std::vector<double> host_scores(const char* fn, const Tensor& scores, int64_t& q, int64_t& items) {
  check_defined(fn, scores, "scores");
  SG_CHECK(scores.dim() == 2 && (scores.dtype() == DType::f32 || scores.dtype() == DType::f64), fn,
           ": scores must be floating [Q, items], got ", describe(scores));
  q = scores.size(0);
  items = scores.size(1);
  std::vector<double> s = scores.to(Device::cpu()).to(DType::f64).contiguous().to_vector<double>();
  for (double& x : s)
    if (std::isnan(x)) x = -std::numeric_limits<double>::infinity();
  return s;
}

}  // namespace

// --- classification --------------------------------------------------------------------------

double accuracy(const Tensor& pred, const Tensor& target) {
  const auto p = host_labels("accuracy", as_labels("accuracy", pred), "pred");
  const auto t = host_labels("accuracy", target, "target");
  check_same_length("accuracy", p, t);
  if (p.empty()) return std::numeric_limits<double>::quiet_NaN();
  int64_t correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == t[i];
  return double(correct) / double(p.size());
}

double accuracy(const Tensor& pred, const Tensor& target, const Tensor& subset) {
  check_defined("accuracy", subset, "subset");
  Tensor labels = as_labels("accuracy", pred);
  Tensor index = subset;
  if (subset.dtype() == DType::boolean) {
    SG_CHECK(subset.dim() == 1 && subset.size(0) == target.size(0),
             "accuracy: a bool subset mask must be [N] = [", target.size(0), "], got ",
             describe(subset));
    // The positions of the true entries.
    const auto mask = subset.to(Device::cpu()).to(DType::i64).contiguous().to_vector<int64_t>();
    std::vector<int64_t> positions;
    for (size_t i = 0; i < mask.size(); ++i)
      if (mask[i]) positions.push_back(static_cast<int64_t>(i));
    index = from_vector(positions);
  }
  SG_CHECK(index.dim() == 1 && (index.dtype() == DType::i64 || index.dtype() == DType::i32),
           "accuracy: subset must be i64 positions [M] or a bool mask [N], got ", describe(subset));
  index = index.to(labels.device());
  return accuracy(index_select(labels, 0, index),
                  index_select(target, 0, index.to(target.device())));
}

Tensor confusion_matrix(const Tensor& pred, const Tensor& target, int64_t num_classes) {
  SG_CHECK(num_classes > 0, "confusion_matrix: num_classes must be positive, got ", num_classes);
  const auto p = host_labels("confusion_matrix", as_labels("confusion_matrix", pred), "pred");
  const auto t = host_labels("confusion_matrix", target, "target");
  check_same_length("confusion_matrix", p, t);
  std::vector<int64_t> counts(num_classes * num_classes, 0);
  for (size_t i = 0; i < p.size(); ++i) {
    SG_CHECK(p[i] < num_classes && t[i] < num_classes, "confusion_matrix: label at ", i, " (pred ",
             p[i], ", target ", t[i], ") is not below num_classes = ", num_classes);
    ++counts[t[i] * num_classes + p[i]];
  }
  return from_vector(counts, {num_classes, num_classes});
}

ClassificationScores classification_scores(const Tensor& confusion) {
  check_defined("classification_scores", confusion, "confusion");
  SG_CHECK(confusion.dim() == 2 && confusion.size(0) == confusion.size(1) &&
               confusion.dtype() == DType::i64,
           "classification_scores: expected an i64 confusion matrix [C, C], got ",
           describe(confusion));
  const int64_t C = confusion.size(0);
  const auto m = confusion.to(Device::cpu()).contiguous().to_vector<int64_t>();
  ClassificationScores s;
  s.precision.assign(C, 0.0);
  s.recall.assign(C, 0.0);
  s.f1.assign(C, 0.0);
  s.support.assign(C, 0);
  int64_t total = 0, correct = 0, present = 0;
  for (int64_t c = 0; c < C; ++c) {
    int64_t predicted = 0, actual = 0;
    for (int64_t o = 0; o < C; ++o) {
      predicted += m[o * C + c];
      actual += m[c * C + o];
    }
    const int64_t tp = m[c * C + c];
    s.support[c] = actual;
    total += actual;
    correct += tp;
    if (predicted > 0) s.precision[c] = double(tp) / double(predicted);
    if (actual > 0) s.recall[c] = double(tp) / double(actual);
    // 2 tp / (2 tp + fp + fn): 0 when the class is absent from both (then it is not averaged).
    if (predicted + actual > 0) s.f1[c] = 2.0 * double(tp) / double(predicted + actual);
    if (predicted + actual == 0) continue;
    ++present;
    s.macro_precision += s.precision[c];
    s.macro_recall += s.recall[c];
    s.macro_f1 += s.f1[c];
    s.weighted_f1 += s.f1[c] * double(actual);
  }
  if (present > 0) {
    s.macro_precision /= double(present);
    s.macro_recall /= double(present);
    s.macro_f1 /= double(present);
  }
  if (total > 0) {
    s.weighted_f1 /= double(total);
    s.micro_f1 = double(correct) / double(total);
  }
  return s;
}

ClassificationScores classification_scores(const Tensor& pred, const Tensor& target,
                                           int64_t num_classes) {
  return classification_scores(confusion_matrix(pred, target, num_classes));
}

double f1_macro(const Tensor& pred, const Tensor& target, int64_t num_classes) {
  return classification_scores(pred, target, num_classes).macro_f1;
}

double f1_micro(const Tensor& pred, const Tensor& target, int64_t num_classes) {
  return classification_scores(pred, target, num_classes).micro_f1;
}

// --- clustering ------------------------------------------------------------------------------

ClusteringAccuracy clustering_accuracy(const Tensor& pred, const Tensor& target) {
  const auto p = host_labels("clustering_accuracy", pred, "pred");
  const auto t = host_labels("clustering_accuracy", target, "target");
  check_same_length("clustering_accuracy", p, t);
  ClusteringAccuracy result;
  if (p.empty()) {
    result.accuracy = std::numeric_limits<double>::quiet_NaN();
    return result;
  }
  const Contingency c = contingency(p, t);  // rows: clusters, cols: classes
  std::vector<double> cost(c.counts.size());
  for (size_t e = 0; e < cost.size(); ++e) cost[e] = -double(c.counts[e]);  // maximise matches
  result.class_of_cluster = hungarian(cost, c.rows, c.cols);
  int64_t matched = 0;
  for (int64_t k = 0; k < c.rows; ++k) {
    int64_t& cls = result.class_of_cluster[k];
    if (c.row_sums[k] == 0) cls = -1;  // an unused cluster id matches nothing
    if (cls >= 0) matched += c.counts[k * c.cols + cls];
  }
  result.accuracy = double(matched) / double(c.total);
  return result;
}

double nmi(const Tensor& pred, const Tensor& target) {
  const auto p = host_labels("nmi", pred, "pred");
  const auto t = host_labels("nmi", target, "target");
  check_same_length("nmi", p, t);
  SG_CHECK(!p.empty(), "nmi: no samples");
  const Contingency c = contingency(t, p);
  // Both labelings a single cluster: identical partitions (sklearn returns 1 too).
  if (nonzero(c.row_sums) == 1 && nonzero(c.col_sums) == 1) return 1.0;
  const double n = double(c.total);
  auto entropy = [n](const std::vector<int64_t>& sums) {
    double h = 0;
    for (int64_t s : sums)
      if (s > 0) h -= double(s) / n * std::log(double(s) / n);
    return h;
  };
  double mi = 0;
  for (int64_t a = 0; a < c.rows; ++a)
    for (int64_t b = 0; b < c.cols; ++b) {
      const double nab = double(c.counts[a * c.cols + b]);
      if (nab > 0)
        mi += nab / n * std::log(nab * n / (double(c.row_sums[a]) * double(c.col_sums[b])));
    }
  mi = std::max(mi, 0.0);  // rounding can leave a tiny negative
  const double normalizer = 0.5 * (entropy(c.row_sums) + entropy(c.col_sums));
  return mi / std::max(normalizer, std::numeric_limits<double>::epsilon());
}

double ari(const Tensor& pred, const Tensor& target) {
  const auto p = host_labels("ari", pred, "pred");
  const auto t = host_labels("ari", target, "target");
  check_same_length("ari", p, t);
  SG_CHECK(!p.empty(), "ari: no samples");
  const Contingency c = contingency(t, p);
  auto pairs = [](int64_t m) { return double(m) * double(m - 1) / 2.0; };
  double index = 0, rows = 0, cols = 0;
  for (int64_t x : c.counts) index += pairs(x);
  for (int64_t x : c.row_sums) rows += pairs(x);
  for (int64_t x : c.col_sums) cols += pairs(x);
  const double expected = rows * cols / pairs(c.total);
  const double best = 0.5 * (rows + cols);
  // Both partitions trivial in the same way (all singletons, or one cluster each, or N < 2):
  // the index is undefined (0/0) and the partitions agree, so 1 (as sklearn).
  if (best == expected) return 1.0;
  return (index - expected) / (best - expected);
}

// --- ranking ---------------------------------------------------------------------------------

std::vector<int64_t> relevant_ranks(const Tensor& scores, const Tensor& relevant) {
  int64_t Q = 0, items = 0;
  const auto s = host_scores("relevant_ranks", scores, Q, items);
  const auto rel = host_labels("relevant_ranks", relevant, "relevant");
  SG_CHECK(static_cast<int64_t>(rel.size()) == Q, "relevant_ranks: scores has ", Q,
           " queries, relevant has ", rel.size());
  std::vector<int64_t> ranks(Q);
  for (int64_t q = 0; q < Q; ++q) {
    SG_CHECK(rel[q] < items, "relevant_ranks: relevant[", q, "] = ", rel[q], " is not below ",
             items, " items");
    const double* row = &s[q * items];
    const double target = row[rel[q]];
    int64_t ahead = 0;  // ties rank ahead of the relevant item
    for (int64_t j = 0; j < items; ++j) ahead += (j != rel[q] && row[j] >= target);
    ranks[q] = ahead + 1;
  }
  return ranks;
}

namespace {

template <typename Gain>
double mean_gain(const char* fn, const Tensor& scores, const Tensor& relevant, int64_t k,
                 Gain gain) {
  SG_CHECK(k > 0, fn, ": k must be positive, got ", k);
  const auto ranks = relevant_ranks(scores, relevant);
  SG_CHECK(!ranks.empty(), fn, ": no queries");
  double total = 0;
  for (int64_t r : ranks)
    if (r <= k) total += gain(r);
  return total / double(ranks.size());
}

}  // namespace

double hit_rate_at_k(const Tensor& scores, const Tensor& relevant, int64_t k) {
  return mean_gain("hit_rate_at_k", scores, relevant, k, [](int64_t) { return 1.0; });
}

double mrr_at_k(const Tensor& scores, const Tensor& relevant, int64_t k) {
  return mean_gain("mrr_at_k", scores, relevant, k, [](int64_t r) { return 1.0 / double(r); });
}

double ndcg_at_k(const Tensor& scores, const Tensor& relevant, int64_t k) {
  return mean_gain("ndcg_at_k", scores, relevant, k,
                   [](int64_t r) { return 1.0 / std::log2(double(r) + 1.0); });
}

RankingScores ranking_at_k(const Tensor& scores, const RelevantLists& relevant, int64_t k) {
  SG_CHECK(k > 0, "ranking_at_k: k must be positive, got ", k);
  int64_t Q = 0, items = 0;
  const auto s = host_scores("ranking_at_k", scores, Q, items);
  SG_CHECK(static_cast<int64_t>(relevant.size()) == Q, "ranking_at_k: scores has ", Q,
           " queries, relevant has ", relevant.size(), " lists");
  RankingScores out;
  std::vector<char> is_relevant(items, 0);
  for (int64_t q = 0; q < Q; ++q) {
    if (relevant[q].empty()) continue;
    const double* row = &s[q * items];
    for (int64_t r : relevant[q]) {
      SG_CHECK(r >= 0 && r < items, "ranking_at_k: relevant[", q, "] holds ", r, ", outside [0, ",
               items, ")");
      is_relevant[r] = 1;
    }
    // Each relevant item's position in the order (score descending; on ties irrelevant items
    // first, then by index), counted without sorting the row.
    std::vector<int64_t> ranks;
    for (int64_t r : relevant[q]) {
      if (is_relevant[r] == 2) continue;  // a duplicate in the list, already counted
      int64_t ahead = 0;
      for (int64_t j = 0; j < items; ++j) {
        if (j == r) continue;
        if (is_relevant[j] != 0)
          ahead += row[j] > row[r] || (row[j] == row[r] && j < r);
        else
          ahead += row[j] >= row[r];
      }
      ranks.push_back(ahead + 1);
      is_relevant[r] = 2;
    }
    for (int64_t r : relevant[q]) is_relevant[r] = 0;
    std::sort(ranks.begin(), ranks.end());
    double dcg = 0, ideal = 0;
    int64_t in_top = 0;
    for (size_t i = 0; i < ranks.size(); ++i) {
      if (ranks[i] <= k) {
        dcg += 1.0 / std::log2(double(ranks[i]) + 1.0);
        ++in_top;
      }
      if (static_cast<int64_t>(i) < k) ideal += 1.0 / std::log2(double(i) + 2.0);
    }
    out.hit_rate += in_top > 0;
    if (ranks[0] <= k) out.mrr += 1.0 / double(ranks[0]);
    out.ndcg += dcg / ideal;
    out.recall += double(in_top) / double(ranks.size());
    ++out.queries;
  }
  SG_CHECK(out.queries > 0, "ranking_at_k: every one of the ", Q, " queries has no relevant item");
  const double n = double(out.queries);
  out.hit_rate /= n;
  out.mrr /= n;
  out.ndcg /= n;
  out.recall /= n;
  return out;
}

}  // namespace stackgrad::train
