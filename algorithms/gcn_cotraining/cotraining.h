// Expanding a tiny label set before training a GCN (Li, Han and Wu, "Deeper Insights into Graph
// Convolutional Networks for Semi-Supervised Learning", AAAI 2018). A two-layer GCN only sees two
// hops around each labelled node; with 0.5% of the nodes labelled most nodes see none. So add
// pseudo-labels first, then train a fresh GCN on the enlarged set:
//   co-training:   the t_k nodes that the random walks of ParWalks ascribe most strongly to
//                  class k (absorption scores a = P y_k), for every class k;
//   self-training: the t_k nodes a first GCN predicts as class k with the highest confidence;
//   union / intersection of the two, class by class.
// How many: a two-layer GCN covers about d̄² nodes around a label (d̄ the average degree), so
// η = N / d̄² labels would cover the graph; t_k = floor(3η · n_k / n_L) adds 3η in total, shared
// in proportion to the labels n_k each class already has (n_L all labelled nodes).
//
//   algo::LabelBudget b = algo::label_budget(ds.num_nodes, ds.num_edges(), labelled_per_class);
//   algo::ClassSets co = algo::select_top_scores(parwalks_class_scores(P, y, C), train_idx,
//   b.per_class); train::NodeTask task = algo::expanded_task(base_task, co);
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"
#include "train/full_batch.h"

namespace stackgrad::algo {

struct LabelBudget {
  double average_degree = 0;       // d̄ = 2E / N
  double eta = 0;                  // η = N / d̄²
  std::vector<int64_t> per_class;  // t_k
};

// η and t_k = floor(factor · η · n_k / n_L) (the paper's factor is 3). num_edges counts each
// undirected edge once; labelled_per_class[k] = n_k.
LabelBudget label_budget(int64_t num_nodes, int64_t num_edges,
                         const std::vector<int64_t>& labelled_per_class, double factor = 3.0);

// n_k: how many of `labels` (i64 [L], values in [0, classes)) are each class.
std::vector<int64_t> count_per_class(const Tensor& labels, int64_t num_classes);

// For each class k, the nodes chosen as class k (sorted ascending). A node may appear under two
// classes (co-training can pick it for both); it is then trained towards both.
using ClassSets = std::vector<std::vector<int64_t>>;

// Co-training's rule: for each class k, the t[k] nodes with the largest scores[:, k] (f32/f64
// [N, classes]) among the nodes not in `labelled` (i64); ties go to the lower node index.
ClassSets select_top_scores(const Tensor& scores, const Tensor& labelled,
                            const std::vector<int64_t>& t);

// Self-training's rule: each unlabelled node is predicted as its argmax class with confidence
// its largest probability (probs f32/f64 [N, classes], e.g. a softmax); for each class k, the t[k]
// most confident nodes predicted as k (ties to the lower index).
ClassSets select_most_confident(const Tensor& probs, const Tensor& labelled,
                                const std::vector<int64_t>& t);

ClassSets union_sets(const ClassSets& a, const ClassSets& b);
ClassSets intersection_sets(const ClassSets& a, const ClassSets& b);

// The base task with every class's added nodes appended to train_idx, targets their class (the
// original labelled nodes keep their true labels).
train::NodeTask expanded_task(const train::NodeTask& base, const ClassSets& added);

// How many added nodes there are and how many of them carry their true label (labels i64 [N]).
struct AddedStats {
  int64_t added = 0, correct = 0;
};
AddedStats added_stats(const ClassSets& added, const Tensor& labels);

}  // namespace stackgrad::algo
