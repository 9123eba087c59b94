// Node splits for semi-supervised graph learning: a class-balanced labelled training set with
// disjoint validation and test sets drawn from the remaining labelled nodes, the stored public
// split of a dataset, and boolean masks from index lists.
//
//   data::NodeSplit s = data::balanced_split(ds.labels, 20, {.val = 500, .test = 1000}, gen);
//   Tensor train_mask = data::index_mask(s.train_idx, ds.num_nodes);   // bool [N]
//   data::NodeSplit pub = data::planetoid_public_split(cora);
#pragma once

#include <cstdint>

#include "datasets/planetoid.h"
#include "engine/core/tensor.h"
#include "engine/runtime/generator.h"

namespace stackgrad::data {

struct NodeSplit {
  Tensor train_idx, val_idx, test_idx;  // i64, sorted, pairwise disjoint
};

struct SplitSizes {
  int64_t val = 500;
  int64_t test = 1000;  // -1: every labelled node left after train and val
};

// per_class labelled nodes of each class for training (every class must have that many), then
// `val` and `test` nodes drawn at random from the remaining labelled nodes. Nodes labelled -1
// are never chosen. labels: i64 [N].
NodeSplit balanced_split(const Tensor& labels, int64_t per_class, SplitSizes sizes = {},
                         Generator& gen = default_generator());

// As balanced_split with round(rate * size of class c) training nodes of class c (at least 1),
// rate in (0, 1).
NodeSplit balanced_split_rate(const Tensor& labels, double rate, SplitSizes sizes = {},
                              Generator& gen = default_generator());

// The split stored with the dataset (for Planetoid: Kipf's public split).
NodeSplit planetoid_public_split(const GraphDataset& ds);

// Sets the dataset's train/val/test indices to the split's.
void apply_split(GraphDataset& ds, const NodeSplit& split);

// bool [n], true at the given indices (i64 [K], each in [0, n)).
Tensor index_mask(const Tensor& idx, int64_t n);

}  // namespace stackgrad::data
