#include "datasets/graph_split.h"

#include <algorithm>
#include <cmath>

#include "engine/ops/random.h"

namespace stackgrad::data {

namespace {

Tensor sorted_tensor(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return from_vector(v);
}

std::vector<int64_t> checked_labels(const char* op, const Tensor& labels) {
  SG_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1, op,
           ": labels must be i64 [N], got ",
           labels.defined() ? describe(labels) : std::string("undefined"));
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  for (int64_t v : y) SG_CHECK(v >= -1, op, ": label ", v, " (only -1 may be negative)");
  return y;
}

// The shared work: `take[c]` training nodes of class c, visiting nodes in a random order so the
// picks are uniform; the labelled nodes left over (in the same random order) give val and test.
NodeSplit split_with_counts(const char* op, const std::vector<int64_t>& y,
                            const std::vector<int64_t>& take, SplitSizes sizes, Generator& gen) {
  const auto n = static_cast<int64_t>(y.size());
  const std::vector<int64_t> perm = randperm(n, gen).to_vector<int64_t>();
  std::vector<int64_t> got(take.size(), 0), train, rest;
  for (int64_t i : perm) {
    const int64_t c = y[i];
    if (c < 0) continue;  // unlabelled: never in any set
    if (got[c] < take[c]) {
      ++got[c];
      train.push_back(i);
    } else {
      rest.push_back(i);
    }
  }
  const auto left = static_cast<int64_t>(rest.size());
  const int64_t test = sizes.test < 0 ? std::max<int64_t>(left - sizes.val, 0) : sizes.test;
  SG_CHECK(sizes.val >= 0 && sizes.val + test <= left, op, ": asked for ", sizes.val,
           " validation and ", test, " test nodes but only ", left,
           " labelled nodes remain after the ", train.size(), " training nodes");
  NodeSplit s;
  s.train_idx = sorted_tensor(train);
  s.val_idx = sorted_tensor({rest.begin(), rest.begin() + sizes.val});
  s.test_idx = sorted_tensor({rest.begin() + sizes.val, rest.begin() + sizes.val + test});
  return s;
}

std::vector<int64_t> class_sizes(const std::vector<int64_t>& y) {
  std::vector<int64_t> count;
  for (int64_t c : y) {
    if (c < 0) continue;
    if (c >= static_cast<int64_t>(count.size())) count.resize(c + 1, 0);
    ++count[c];
  }
  return count;
}

}  // namespace

NodeSplit balanced_split(const Tensor& labels, int64_t per_class, SplitSizes sizes,
                         Generator& gen) {
  const std::vector<int64_t> y = checked_labels("balanced_split", labels);
  SG_CHECK(per_class >= 1, "balanced_split: per_class must be >= 1, got ", per_class);
  const std::vector<int64_t> count = class_sizes(y);
  for (size_t c = 0; c < count.size(); ++c)
    SG_CHECK(count[c] >= per_class, "balanced_split: class ", c, " has ", count[c],
             " labelled nodes, fewer than per_class = ", per_class);
  return split_with_counts("balanced_split", y, std::vector<int64_t>(count.size(), per_class),
                           sizes, gen);
}

NodeSplit balanced_split_rate(const Tensor& labels, double rate, SplitSizes sizes, Generator& gen) {
  const std::vector<int64_t> y = checked_labels("balanced_split_rate", labels);
  SG_CHECK(rate > 0 && rate < 1, "balanced_split_rate: rate must be in (0, 1), got ", rate);
  std::vector<int64_t> take = class_sizes(y);
  for (int64_t& t : take)
    if (t > 0) t = std::max<int64_t>(1, std::llround(rate * static_cast<double>(t)));
  return split_with_counts("balanced_split_rate", y, take, sizes, gen);
}

NodeSplit planetoid_public_split(const GraphDataset& ds) {
  SG_CHECK(ds.train_idx.defined() && ds.val_idx.defined() && ds.test_idx.defined(),
           "planetoid_public_split: '", ds.name, "' has no stored split");
  return {ds.train_idx, ds.val_idx, ds.test_idx};
}

void apply_split(GraphDataset& ds, const NodeSplit& split) {
  ds.train_idx = split.train_idx;
  ds.val_idx = split.val_idx;
  ds.test_idx = split.test_idx;
}

Tensor index_mask(const Tensor& idx, int64_t n) {
  SG_CHECK(idx.defined() && idx.dtype() == DType::i64 && idx.dim() == 1,
           "index_mask: idx must be "
           "i64 [K], got ",
           idx.defined() ? describe(idx) : std::string("undefined"));
  SG_CHECK(n >= 0, "index_mask: n must be >= 0, got ", n);
  Tensor mask = zeros({n}, DType::boolean);
  bool* m = mask.data_ptr<bool>();
  for (int64_t i : idx.to_vector<int64_t>()) {
    SG_CHECK(i >= 0 && i < n, "index_mask: index ", i, " outside [0, ", n, ")");
    m[i] = true;
  }
  return mask;
}

}  // namespace stackgrad::data
