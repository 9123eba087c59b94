// Reference kernels of the shape family: one plain loop over the output (or the index), with
// explicit coordinates. No fast paths; these are the oracle of the CPU kernels.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// C-order coordinates of element i of `shape`.
void unravel(int64_t i, const int64_t* shape, int ndim, int64_t* coords) {
  for (int d = ndim - 1; d >= 0; --d) {
    coords[d] = i % shape[d];
    i /= shape[d];
  }
}

int64_t offset_of(const int64_t* coords, const TensorArg& t) {
  int64_t off = 0;
  for (int d = 0; d < t.ndim; ++d) off += coords[d] * t.strides[d];
  return off;
}

int64_t read_index(const TensorArg& index, int64_t offset) {
  if (index.dtype == DType::i32) return index.ptr<int32_t>()[offset];
  return index.ptr<int64_t>()[offset];
}

void check_index(const char* op, int64_t idx, int64_t size, int64_t dim) {
  if (idx < 0 || idx >= size)
    fail(op, ": index ", idx, " is out of bounds for dim ", dim, " with size ", size);
}

void ref_cat(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  SG_DISPATCH_ALL(out.dtype, "cat", [&] {
    int64_t start = 0, coords[kMaxDims];
    for (const TensorArg& in : c.in) {
      for (int64_t i = 0; i < in.numel; ++i) {
        unravel(i, in.shape, in.ndim, coords);
        coords[dim] += start;
        out.ptr<scalar_t>()[offset_of(coords, out)] = ref_at<scalar_t>(in, i);
      }
      start += in.shape[dim];
    }
  });
}

// Input coordinate of output coordinate `o` along a dim of input size n padded by `before`, or
// -1 for a constant-padded position.
int64_t pad_source(int64_t o, int64_t n, int64_t before, bool reflect) {
  int64_t i = o - before;
  if (!reflect) return i >= 0 && i < n ? i : -1;
  if (i < 0) i = -i;
  if (i >= n) i = 2 * (n - 1) - i;
  return i;
}

void ref_pad(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const bool reflect = c.attrs.mode == 1;
  SG_DISPATCH_ALL(out.dtype, "pad", [&] {
    int64_t coords[kMaxDims];
    for (int64_t i = 0; i < out.numel; ++i) {
      unravel(i, out.shape, out.ndim, coords);
      bool inside = true;
      for (int d = 0; d < out.ndim && inside; ++d) {
        coords[d] = pad_source(coords[d], in.shape[d], c.attrs.ints[2 * d], reflect);
        inside = coords[d] >= 0;
      }
      out.ptr<scalar_t>()[i] =
          inside ? in.ptr<scalar_t>()[offset_of(coords, in)] : static_cast<scalar_t>(c.attrs.alpha);
    }
  });
}

void ref_flip(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SG_DISPATCH_ALL(out.dtype, "flip", [&] {
    int64_t coords[kMaxDims];
    for (int64_t i = 0; i < out.numel; ++i) {
      unravel(i, out.shape, out.ndim, coords);
      for (int64_t d : c.attrs.ints) coords[d] = in.shape[d] - 1 - coords[d];
      ref_at<scalar_t>(out, i) = in.ptr<scalar_t>()[offset_of(coords, in)];
    }
  });
}

void ref_index_select(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  SG_DISPATCH_ALL(out.dtype, "index_select", [&] {
    int64_t coords[kMaxDims];
    for (int64_t i = 0; i < out.numel; ++i) {
      unravel(i, out.shape, out.ndim, coords);
      int64_t idx = read_index(index, ref_offset(coords[dim], index));
      check_index("index_select", idx, in.shape[dim], dim);
      coords[dim] = idx;
      ref_at<scalar_t>(out, i) = in.ptr<scalar_t>()[offset_of(coords, in)];
    }
  });
}

void ref_gather(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  SG_DISPATCH_ALL(out.dtype, "gather", [&] {
    int64_t coords[kMaxDims];
    for (int64_t i = 0; i < index.numel; ++i) {
      unravel(i, index.shape, index.ndim, coords);
      int64_t idx = read_index(index, offset_of(coords, index));
      check_index("gather", idx, in.shape[dim], dim);
      coords[dim] = idx;
      ref_at<scalar_t>(out, i) = in.ptr<scalar_t>()[offset_of(coords, in)];
    }
  });
}

// Accumulates in double (int64 for integers), visiting the index in C order.
void ref_scatter_add(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &src = c.in[2], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  SG_DISPATCH_NUMERIC(out.dtype, "scatter_add", [&] {
    using Acc = std::conditional_t<std::is_floating_point_v<scalar_t>, double, int64_t>;
    std::vector<Acc> acc(out.numel);
    for (int64_t i = 0; i < out.numel; ++i) acc[i] = static_cast<Acc>(ref_at<scalar_t>(in, i));
    int64_t coords[kMaxDims];
    for (int64_t i = 0; i < index.numel; ++i) {
      unravel(i, index.shape, index.ndim, coords);
      int64_t idx = read_index(index, offset_of(coords, index));
      check_index("scatter_add", idx, out.shape[dim], dim);
      Acc v = static_cast<Acc>(src.ptr<scalar_t>()[offset_of(coords, src)]);
      coords[dim] = idx;
      acc[offset_of(coords, out)] += v;  // out is contiguous
    }
    for (int64_t i = 0; i < out.numel; ++i) out.ptr<scalar_t>()[i] = static_cast<scalar_t>(acc[i]);
  });
}

void ref_one_hot(const KernelCall& c) {
  const TensorArg &index = c.in[0], &out = c.out[0];
  const int64_t classes = c.attrs.k;
  int64_t* y = out.ptr<int64_t>();
  for (int64_t i = 0; i < out.numel; ++i) y[i] = 0;
  for (int64_t i = 0; i < index.numel; ++i) {
    int64_t idx = read_index(index, ref_offset(i, index));
    if (idx < 0 || idx >= classes)
      fail("one_hot: class index ", idx, " is out of bounds for num_classes ", classes);
    y[i * classes + idx] = 1;
  }
}

// NaN is the largest value: ordered after every number, equal to other NaNs.
template <typename T>
bool value_less(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
  }
  return a < b;
}

// Sorts every line along `dim` (the op layer passes no 0-dim tensors) with a stable sort of the
// positions by value, so equal values keep index order, and writes the first `k` positions
// (restored to index order when !in_order) to values and indices.
template <typename T>
void sort_lines(const TensorArg& in, int dim, bool descending, int64_t k, bool in_order,
                const TensorArg& values, const TensorArg& indices) {
  const int64_t n = in.shape[dim];
  const int64_t lines = n == 0 ? 0 : in.numel / n;
  std::vector<int64_t> order(n);
  std::vector<ref_compute_t<T>> v(n);
  int64_t coords[kMaxDims];
  for (int64_t line = 0; line < lines; ++line) {
    // Coordinates of the line's first element: `line` spread over the dims other than `dim`.
    int64_t rest = line;
    for (int d = in.ndim - 1; d >= 0; --d) {
      if (d == dim) {
        coords[d] = 0;
        continue;
      }
      coords[d] = rest % in.shape[d];
      rest /= in.shape[d];
    }
    for (int64_t j = 0; j < n; ++j) {
      coords[dim] = j;
      v[j] = static_cast<ref_compute_t<T>>(in.ptr<T>()[offset_of(coords, in)]);
    }
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return descending ? value_less(v[b], v[a]) : value_less(v[a], v[b]);
    });
    if (!in_order) std::sort(order.begin(), order.begin() + k);
    for (int64_t j = 0; j < k; ++j) {
      coords[dim] = j;
      values.ptr<T>()[offset_of(coords, values)] = static_cast<T>(v[order[j]]);
      indices.ptr<int64_t>()[offset_of(coords, indices)] = order[j];
    }
  }
}

void ref_sort(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "sort", [&] {
    sort_lines<scalar_t>(c.in[0], static_cast<int>(c.attrs.dim), c.attrs.flag,
                         c.in[0].shape[c.attrs.dim], true, c.out[0], c.out[1]);
  });
}

void ref_topk(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "topk", [&] {
    sort_lines<scalar_t>(c.in[0], static_cast<int>(c.attrs.dim), c.attrs.flag, c.attrs.k,
                         c.attrs.flag2, c.out[0], c.out[1]);
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_shape() {
  using namespace kernels;
  register_kernel(OpId::cat, Backend::reference, ref_cat);
  register_kernel(OpId::pad, Backend::reference, ref_pad);
  register_kernel(OpId::flip, Backend::reference, ref_flip);
  register_kernel(OpId::index_select, Backend::reference, ref_index_select);
  register_kernel(OpId::gather, Backend::reference, ref_gather);
  register_kernel(OpId::scatter_add, Backend::reference, ref_scatter_add);
  register_kernel(OpId::one_hot, Backend::reference, ref_one_hot);
  register_kernel(OpId::topk, Backend::reference, ref_topk);
  register_kernel(OpId::sort, Backend::reference, ref_sort);
}
}  // namespace stackgrad
