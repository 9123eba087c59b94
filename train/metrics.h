// Evaluation metrics on engine tensors: classification (accuracy, confusion matrix, precision,
// recall, F1), clustering (Hungarian-matched accuracy, NMI, ARI) and ranking for recommendation
// and search (hit rate, MRR, NDCG at k). Results are plain doubles or small structs.
//
//   double acc = train::accuracy(logits, labels);                 // argmax over classes
//   auto scores = train::classification_scores(pred, labels, 7);   // per-class and macro/micro F1
//   double nmi = train::nmi(cluster_ids, labels);
//
// Labels are integer tensors (i64 or i32) of class ids >= 0; tensors on any device are copied to
// the host. Conventions follow scikit-learn where it has the metric (named at each function).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad::train {

// --- classification --------------------------------------------------------------------------

// Fraction of positions where pred == target. `pred` is labels [N] or scores [N, C] (floating:
// the argmax over C is the prediction). NaN for N = 0.
double accuracy(const Tensor& pred, const Tensor& target);
// The same over a subset: `subset` holds i64 positions (e.g. a test split) or is a bool mask [N].
double accuracy(const Tensor& pred, const Tensor& target, const Tensor& subset);

// counts[t, p] = number of samples with true class t predicted as p (rows: truth, columns:
// prediction, as sklearn.metrics.confusion_matrix). i64 [C, C] on the CPU; labels must be < C.
Tensor confusion_matrix(const Tensor& pred, const Tensor& target, int64_t num_classes);

struct ClassificationScores {
  // Per class c. A zero denominator gives 0 (sklearn's zero_division=0).
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;  // true samples of each class
  // Macro: the unweighted mean over the classes present in the truth or the predictions (the
  // labels sklearn averages over by default). Weighted: weighted by support. Micro: from the
  // pooled counts, which for single-label data equals the accuracy.
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0, weighted_f1 = 0, micro_f1 = 0;
};
ClassificationScores classification_scores(const Tensor& confusion);  // from confusion_matrix
ClassificationScores classification_scores(const Tensor& pred, const Tensor& target,
                                           int64_t num_classes);
double f1_macro(const Tensor& pred, const Tensor& target, int64_t num_classes);
double f1_micro(const Tensor& pred, const Tensor& target, int64_t num_classes);

// --- clustering ------------------------------------------------------------------------------
// Cluster ids and class ids are arbitrary non-negative integers; only the partition matters.

struct ClusteringAccuracy {
  double accuracy = 0;
  // class_of_cluster[c]: the class matched to cluster id c, or -1 when cluster c is left
  // unmatched (more clusters than classes) or has no samples.
  std::vector<int64_t> class_of_cluster;
};
// Accuracy after the one-to-one cluster -> class mapping that maximises the matches (Hungarian
// on the contingency table), the usual "ACC" of deep-clustering papers.
ClusteringAccuracy clustering_accuracy(const Tensor& pred, const Tensor& target);

// Normalised mutual information with the arithmetic mean of the entropies (sklearn's default
// normalized_mutual_info_score). 1 when both labelings have a single cluster.
double nmi(const Tensor& pred, const Tensor& target);
// Adjusted Rand index (sklearn's adjusted_rand_score): 1 for identical partitions, about 0 for
// random ones, negative when worse than chance.
double ari(const Tensor& pred, const Tensor& target);

// --- ranking ---------------------------------------------------------------------------------
// `scores` [Q, items] (f32/f64), higher is better; exclude an item from the ranking (e.g. one
// seen in training) by giving it -inf. Ties are broken against the relevant items (a relevant
// item ranks after every irrelevant item of equal score), so constant scores earn nothing; NaN
// scores count as -inf.

// The 1-based rank of relevant[q] (i64 [Q]) among the items of query q.
std::vector<int64_t> relevant_ranks(const Tensor& scores, const Tensor& relevant);
// Mean over queries of [rank <= k].
double hit_rate_at_k(const Tensor& scores, const Tensor& relevant, int64_t k);
// Mean over queries of 1/rank when rank <= k, else 0.
double mrr_at_k(const Tensor& scores, const Tensor& relevant, int64_t k);
// Mean over queries of 1/log2(rank + 1) when rank <= k, else 0 (binary gain, one relevant item).
double ndcg_at_k(const Tensor& scores, const Tensor& relevant, int64_t k);

// Several relevant items per query. Queries with no relevant item are left out of the means
// (an error when every query is empty).
using RelevantLists = std::vector<std::vector<int64_t>>;
struct RankingScores {
  double hit_rate = 0;  // some relevant item in the top k
  double mrr = 0;       // 1 / rank of the first relevant item, 0 beyond k
  double ndcg = 0;      // DCG@k / ideal DCG@k with binary gains
  double recall = 0;    // relevant items in the top k / relevant items
  int64_t queries = 0;  // queries counted
};
RankingScores ranking_at_k(const Tensor& scores, const RelevantLists& relevant, int64_t k);

}  // namespace stackgrad::train
