// Shape ops: joining and splitting (cat, stack, split, chunk), padding, flipping and repeating,
// indexing (index_select, gather, scatter_add, take_along_dim, masked_fill, one_hot) and
// ordering (topk, sort, argsort). PyTorch semantics unless a comment says otherwise.
// Index arguments are i64 (i32 is accepted too); every index is bounds-checked and an
// out-of-range one is an error naming the op, the index value and the size it must stay below.
#pragma once

#include <optional>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad {

// Concatenates tensors of equal dtype, device and rank along `dim`; all other sizes must match.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Joins tensors of equal shape along a new dim inserted at `dim` (in [-(ndim+1), ndim]).
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);

// Views of consecutive pieces of `split_size` along `dim` (the last one may be shorter).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
// Views of consecutive pieces with the given sizes, which must sum to x.size(dim).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// `chunks` views of ceil(size / chunks) elements along `dim` (fewer when the size runs out).
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

enum class PadMode { constant, reflect };
// Pads as torch.nn.functional.pad: `pads` holds (before, after) pairs starting from the last
// dim, at most one pair per dim. Constant mode fills with `value` and accepts negative pads
// (they crop); reflect mode mirrors without repeating the edge and needs 0 <= pad < size.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode = PadMode::constant,
           double value = 0.0);

// Reverses the order of elements along each of `dims`.
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
// torch.Tensor.repeat: tiles x repeats[i] times along dim i; repeats.size() >= x.dim(), and
// extra leading repeats add leading dims.
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats);
// numpy/torch tile: like repeat, but a shorter `reps` is padded with leading ones.
Tensor tile(const Tensor& x, const std::vector<int64_t>& reps);

// out = x with dim `dim` replaced by x.index_select(dim, index): index is 1-D (or 0-dim).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (likewise for any dim). index has x's rank
// and index.size(d) <= x.size(d) for d != dim; out has index's shape.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Out-of-place scatter-add: out = x, then out[i][index[i][j][k]][k] += src[i][j][k] (dim 1).
// index.size(d) <= src.size(d) for all d and <= x.size(d) for d != dim. Deterministic:
// duplicates are added in increasing order along `dim`, with no atomics.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// numpy take_along_axis: gather after broadcasting x and indices against each other in every
// dim but `dim`; without a dim, both are flattened first.
Tensor take_along_dim(const Tensor& x, const Tensor& indices,
                      std::optional<int64_t> dim = std::nullopt);
// x with `value` where the bool `mask` (broadcastable to x) is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// i64 tensor of shape index.shape + [num_classes] with a 1 at each index; num_classes = -1
// infers max(index) + 1 (reads the indices on the host).
Tensor one_hot(const Tensor& index, int64_t num_classes = -1);

// Values and i64 indices along a dim (returned by topk and sort).
struct SortResult {
  Tensor values;
  Tensor indices;
};
// The k largest (or smallest) elements along `dim`. sorted: in order, best first; unsorted:
// in their original order along `dim`. Ties go to the lower index; NaN counts as the largest.
SortResult topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true,
                bool sorted = true);
// Sorts along `dim`, NaN last (first when descending). Always stable (equal values keep their
// order), so `stable` only documents the caller's intent.
SortResult sort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = false);
// The indices of sort(x, dim, descending, stable).
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = false);

}  // namespace stackgrad
