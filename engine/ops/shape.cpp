// Shape ops: shape rules, kernel calls and backward formulas side by side.
#include "engine/ops/shape.h"

#include <algorithm>
#include <numeric>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace stackgrad {

namespace {

using Grads = std::vector<Tensor>;

void check_index_tensor(const char* op, const Tensor& index, const char* arg) {
  check_strided(op, index, arg);
  SG_CHECK(index.dtype() == DType::i64 || index.dtype() == DType::i32, op, ": ", arg,
           " must be an i64 (or i32) tensor, got ", describe(index));
}

// Kernels along a dim get no 0-dim tensors: a 0-dim tensor is the same data as a [1] one.
Tensor at_least_1d(const Tensor& t) { return t.dim() == 0 ? t.reshape({1}) : t; }

// The shape of x with dim `dim` set to `n`.
Shape with_size(const Shape& s, int64_t dim, int64_t n) {
  Shape r = s;
  r[dim] = n;
  return r;
}

// Sums `g` into zeros of `size` along `dim` at positions `index` (1-D, one per g slice):
// index_add, written with scatter_add over an index broadcast to g's shape.
Tensor index_add_into_zeros(const Tensor& g, int64_t dim, const Tensor& index, int64_t size) {
  Shape view_shape(g.dim(), 1);
  view_shape[dim] = index.numel();
  Tensor expanded = index.reshape(view_shape).expand(g.shape());
  return scatter_add(zeros(with_size(g.shape(), dim, size), Options(g.dtype(), g.device())), dim,
                     expanded, g);
}

}  // namespace

// --- cat, stack, split, chunk ----------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  SG_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string arg = "tensors[" + std::to_string(i) + "]";
    check_strided("cat", tensors[i], arg.c_str());
    SG_CHECK(tensors[i].dim() > 0, "cat: ", arg, " is 0-dim (", describe(tensors[i]),
             "); zero-dimensional tensors cannot be concatenated");
    check_same_dtype("cat", first, tensors[i]);
    check_same_device("cat", first, tensors[i]);
    SG_CHECK(tensors[i].dim() == first.dim(),
             "cat: tensors must have the same number of dims, got ", describe(first), " and ",
             describe(tensors[i]), " (", arg, ")");
  }
  dim = normalize_dim("cat", dim, first.dim());
  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    for (int64_t d = 0; d < first.dim(); ++d)
      SG_CHECK(d == dim || tensors[i].size(d) == first.size(d),
               "cat: sizes must match except in dim ", dim, ", got ", describe(first), " and ",
               describe(tensors[i]), " (tensors[", i, "], dim ", d, ")");
    out_shape[dim] += tensors[i].size(dim);
  }
  Tensor out = empty(out_shape, Options(first.dtype(), first.device()));
  OpAttrs attrs;
  attrs.dim = dim;
  run_kernel(OpId::cat, tensors, {out}, attrs);
  std::vector<int64_t> sizes;
  for (const auto& t : tensors) sizes.push_back(t.size(dim));
  record("cat", tensors, {out}, [sizes, dim](const Grads& g) {
    Grads grads;
    int64_t start = 0;
    for (int64_t n : sizes) {
      grads.push_back(g[0].narrow(dim, start, n));
      start += n;
    }
    return grads;
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  SG_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string arg = "tensors[" + std::to_string(i) + "]";
    check_strided("stack", tensors[i], arg.c_str());
    SG_CHECK(tensors[i].shape() == tensors[0].shape(),
             "stack: expected tensors of the same shape, got ", describe(tensors[0]), " and ",
             describe(tensors[i]), " (", arg, ")");
  }
  dim = normalize_dim("stack", dim, tensors[0].dim() + 1);
  std::vector<Tensor> parts;
  for (const auto& t : tensors) parts.push_back(t.unsqueeze(dim));
  return cat(parts, dim);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  check_strided("split", x, "x");
  SG_CHECK(x.dim() > 0, "split: cannot split a 0-dim tensor");
  dim = normalize_dim("split", dim, x.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    SG_CHECK(s >= 0, "split: sizes must be non-negative, got ", shape_str(sizes));
    total += s;
  }
  SG_CHECK(total == x.size(dim), "split: sizes ", shape_str(sizes), " sum to ", total, " but dim ",
           dim, " of ", describe(x), " has size ", x.size(dim));
  std::vector<Tensor> parts;
  {
    // The pieces are views without history of their own: one node for all of them keeps the
    // backward at one cat, O(size of x), instead of a full-size zero tensor per piece.
    NoGradGuard no_grad;
    int64_t start = 0;
    for (int64_t s : sizes) {
      parts.push_back(x.narrow(dim, start, s));
      start += s;
    }
  }
  record("split", {x}, parts, [dim](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{cat(g, dim)};
  });
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  check_strided("split", x, "x");
  SG_CHECK(x.dim() > 0, "split: cannot split a 0-dim tensor");
  dim = normalize_dim("split", dim, x.dim());
  const int64_t n = x.size(dim);
  SG_CHECK(split_size > 0 || (split_size == 0 && n == 0),
           "split: split_size must be positive, got ", split_size, " for dim ", dim, " of size ",
           n);
  std::vector<int64_t> sizes;
  for (int64_t start = 0; start < n; start += split_size)
    sizes.push_back(std::min(split_size, n - start));
  if (sizes.empty()) sizes.push_back(0);  // as PyTorch: one empty piece
  return split(x, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  check_strided("chunk", x, "x");
  SG_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  SG_CHECK(x.dim() > 0, "chunk: cannot chunk a 0-dim tensor");
  dim = normalize_dim("chunk", dim, x.dim());
  const int64_t n = x.size(dim);
  if (n == 0) return split(x, std::vector<int64_t>(chunks, 0), dim);
  return split(x, (n + chunks - 1) / chunks, dim);
}

// --- pad, flip, repeat, tile -----------------------------------------------------------------

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  check_strided("pad", x, "x");
  const int64_t nd = x.dim();
  SG_CHECK(pads.size() % 2 == 0 && static_cast<int64_t>(pads.size()) <= 2 * nd,
           "pad: expected an even number of paddings, at most 2 per dim (", 2 * nd, " for ",
           describe(x), "), got ", pads.size(), " ", shape_str(pads));
  // Per-dim (before, after) in dim order; `pads` starts from the last dim.
  std::vector<int64_t> per_dim(2 * nd, 0);
  for (size_t p = 0; p < pads.size() / 2; ++p) {
    per_dim[2 * (nd - 1 - p)] = pads[2 * p];
    per_dim[2 * (nd - 1 - p) + 1] = pads[2 * p + 1];
  }
  Shape out_shape = x.shape();
  for (int64_t d = 0; d < nd; ++d) {
    const int64_t before = per_dim[2 * d], after = per_dim[2 * d + 1], n = x.size(d);
    if (mode == PadMode::reflect) {
      SG_CHECK(
          before >= 0 && after >= 0 && (before == 0 || before < n) && (after == 0 || after < n),
          "pad: reflect padding (", before, ", ", after, ") of dim ", d,
          " must be non-negative and less than its size ", n, " in ", describe(x));
    }
    out_shape[d] = n + before + after;
    SG_CHECK(out_shape[d] >= 0, "pad: padding (", before, ", ", after, ") of dim ", d, " (size ", n,
             ") gives a negative size in ", describe(x));
  }
  Tensor out = empty(out_shape, Options(x.dtype(), x.device()));
  OpAttrs attrs;
  attrs.ints = per_dim;
  attrs.mode = mode == PadMode::reflect ? 1 : 0;
  attrs.alpha = value;
  run_kernel(OpId::pad, {x}, {out}, attrs);
  if (mode == PadMode::constant) {
    // The adjoint of constant padding crops the padding off again (and pads where it cropped).
    std::vector<int64_t> negated;
    for (int64_t p : pads) negated.push_back(-p);
    record("pad", {x}, {out},
           [negated](const Grads& g) { return Grads{pad(g[0], negated, PadMode::constant, 0.0)}; });
    return out;
  }
  // Reflect padding is, dim by dim, an index_select with the mirrored positions; its adjoint
  // sums the gradient back with scatter_add, again dim by dim.
  record("pad_reflect", {x}, {out}, [per_dim, in_shape = x.shape()](const Grads& g) {
    Tensor grad = g[0];
    for (int64_t d = 0; d < static_cast<int64_t>(in_shape.size()); ++d) {
      const int64_t before = per_dim[2 * d], after = per_dim[2 * d + 1], n = in_shape[d];
      if (before == 0 && after == 0) continue;
      std::vector<int64_t> source(n + before + after);
      for (int64_t o = 0; o < static_cast<int64_t>(source.size()); ++o) {
        int64_t i = o - before;
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
        source[o] = i;
      }
      grad = index_add_into_zeros(grad, d, from_vector(source).to(grad.device()), n);
    }
    return Grads{grad};
  });
  return out;
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  check_strided("flip", x, "x");
  std::vector<int64_t> normalized;
  for (int64_t d : dims) {
    int64_t n = normalize_dim("flip", d, x.dim());
    SG_CHECK(std::find(normalized.begin(), normalized.end(), n) == normalized.end(), "flip: dim ",
             n, " appears twice in ", shape_str(dims));
    normalized.push_back(n);
  }
  if (x.dim() == 0) normalized.clear();
  Tensor out = empty(x.shape(), Options(x.dtype(), x.device()));
  OpAttrs attrs;
  attrs.ints = normalized;
  run_kernel(OpId::flip, {x}, {out}, attrs);
  record("flip", {x}, {out},
         [normalized](const Grads& g) { return Grads{flip(g[0], normalized)}; });
  return out;
}

Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  check_strided("repeat", x, "x");
  const int64_t nr = static_cast<int64_t>(repeats.size());
  SG_CHECK(nr >= x.dim(), "repeat: the number of repeats (", nr,
           ") must be at least the number of dims of ", describe(x));
  for (int64_t r : repeats)
    SG_CHECK(r >= 0, "repeat: repeats must be non-negative, got ", shape_str(repeats));
  Shape padded(nr - x.dim(), 1);  // x with leading ones, one dim per repeat
  padded.insert(padded.end(), x.shape().begin(), x.shape().end());
  // View x as [.., 1, s_d, ..] with a new dim before each repeated dim, expand the new dims to
  // the repeats (a stride-0 view) and copy: the copy lays the tiles out. Backward comes from
  // expand (a sum over the tiles) and the views. When the interleaved view would have too many
  // dims, each repeated dim is instead tiled with cat (one copy per repeated dim).
  int64_t repeated = 0;
  for (int64_t r : repeats) repeated += r != 1;
  Tensor xs = x.reshape(padded);
  if (nr + repeated > kMaxDims) {
    Tensor out = xs;
    bool copied = false;
    for (int64_t d = 0; d < nr; ++d) {
      if (repeats[d] == 1) continue;
      if (repeats[d] == 0) {
        out = out.narrow(d, 0, 0);
      } else {
        out = cat(std::vector<Tensor>(repeats[d], out), d);
        copied = true;
      }
    }
    return copied ? out : out.clone();
  }
  Shape interleaved, expanded, result;
  for (int64_t d = 0; d < nr; ++d) {
    if (repeats[d] != 1) {
      interleaved.push_back(1);
      expanded.push_back(repeats[d]);
    }
    interleaved.push_back(padded[d]);
    expanded.push_back(padded[d]);
    result.push_back(padded[d] * repeats[d]);
  }
  // clone, not contiguous(): with no real repeat the expand is x itself, and repeat must copy.
  return xs.reshape(interleaved).expand(expanded).clone().view(result);
}

Tensor tile(const Tensor& x, const std::vector<int64_t>& reps) {
  check_strided("tile", x, "x");
  std::vector<int64_t> r = reps;
  if (static_cast<int64_t>(r.size()) < x.dim()) r.insert(r.begin(), x.dim() - r.size(), 1);
  return repeat(x, r);
}

// --- indexing --------------------------------------------------------------------------------

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_strided("index_select", x, "x");
  check_index_tensor("index_select", index, "index");
  check_same_device("index_select", x, index);
  SG_CHECK(index.dim() <= 1, "index_select: index must be 1-D (or 0-dim), got ", describe(index));
  if (x.dim() == 0) {
    normalize_dim("index_select", dim, 0);
    SG_CHECK(index.numel() == 1, "index_select: a 0-dim x takes one index, got ", describe(index));
    return index_select(x.reshape({1}), 0, index).reshape({});
  }
  dim = normalize_dim("index_select", dim, x.dim());
  Tensor idx = at_least_1d(index);
  Tensor out = empty(with_size(x.shape(), dim, idx.numel()), Options(x.dtype(), x.device()));
  OpAttrs attrs;
  attrs.dim = dim;
  run_kernel(OpId::index_select, {x, idx}, {out}, attrs);
  record("index_select", {x}, {out},
         [dim, size = x.size(dim), si = SavedTensor(idx, "index_select")](const Grads& g) {
           return Grads{index_add_into_zeros(g[0], dim, si.get(), size)};
         });
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_strided("gather", x, "x");
  check_index_tensor("gather", index, "index");
  check_same_device("gather", x, index);
  SG_CHECK(index.dim() == x.dim(), "gather: index ", describe(index),
           " must have as many dims as x ", describe(x));
  if (x.dim() == 0) {
    normalize_dim("gather", dim, 0);
    return gather(x.reshape({1}), 0, index.reshape({1})).reshape({});
  }
  dim = normalize_dim("gather", dim, x.dim());
  for (int64_t d = 0; d < x.dim(); ++d)
    SG_CHECK(d == dim || index.size(d) <= x.size(d), "gather: index ", describe(index),
             " is larger than x ", describe(x), " in dim ", d, " (only dim ", dim, " may be)");
  Tensor out = empty(index.shape(), Options(x.dtype(), x.device()));
  OpAttrs attrs;
  attrs.dim = dim;
  run_kernel(OpId::gather, {x, index}, {out}, attrs);
  record("gather", {x}, {out},
         [dim, in_shape = x.shape(), si = SavedTensor(index, "gather")](const Grads& g) {
           Tensor z = zeros(in_shape, Options(g[0].dtype(), g[0].device()));
           return Grads{scatter_add(z, dim, si.get(), g[0])};
         });
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_strided("scatter_add", x, "x");
  check_index_tensor("scatter_add", index, "index");
  check_strided("scatter_add", src, "src");
  check_same_dtype("scatter_add", x, src);
  check_same_device("scatter_add", x, index);
  check_same_device("scatter_add", x, src);
  SG_CHECK(x.dtype() != DType::boolean, "scatter_add: cannot add bool tensors, got ", describe(x));
  SG_CHECK(index.dim() == x.dim() && src.dim() == x.dim(), "scatter_add: x ", describe(x),
           ", index ", describe(index), " and src ", describe(src),
           " must have the same number of dims");
  if (x.dim() == 0) {
    normalize_dim("scatter_add", dim, 0);
    return scatter_add(x.reshape({1}), 0, index.reshape({1}), src.reshape({1})).reshape({});
  }
  dim = normalize_dim("scatter_add", dim, x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) {
    SG_CHECK(index.size(d) <= src.size(d), "scatter_add: index ", describe(index),
             " is larger than src ", describe(src), " in dim ", d);
    SG_CHECK(d == dim || index.size(d) <= x.size(d), "scatter_add: index ", describe(index),
             " is larger than x ", describe(x), " in dim ", d, " (only dim ", dim, " may be)");
  }
  Tensor out = empty(x.shape(), Options(x.dtype(), x.device()));
  OpAttrs attrs;
  attrs.dim = dim;
  run_kernel(OpId::scatter_add, {x, index, src}, {out}, attrs);
  record("scatter_add", {x, src}, {out},
         [dim, src_shape = src.shape(), si = SavedTensor(index, "scatter_add"),
          need_src = src.requires_grad()](const Grads& g) {
           Tensor gsrc;
           if (need_src) {
             Tensor index = si.get();
             gsrc = gather(g[0], dim, index);
             if (index.shape() != src_shape) {
               // src elements beyond the index's extent were not scattered: zero gradient.
               std::vector<int64_t> pads;
               for (int64_t d = index.dim() - 1; d >= 0; --d) {
                 pads.push_back(0);
                 pads.push_back(src_shape[d] - index.size(d));
               }
               gsrc = pad(gsrc, pads);
             }
           }
           return Grads{g[0], gsrc};
         });
  return out;
}

Tensor take_along_dim(const Tensor& x, const Tensor& indices, std::optional<int64_t> dim) {
  check_strided("take_along_dim", x, "x");
  check_index_tensor("take_along_dim", indices, "indices");
  check_same_device("take_along_dim", x, indices);
  if (!dim) return take_along_dim(x.reshape({-1}), indices.reshape({-1}), 0);
  SG_CHECK(indices.dim() == x.dim(), "take_along_dim: x ", describe(x), " and indices ",
           describe(indices), " must have the same number of dims");
  if (x.dim() == 0) {
    normalize_dim("take_along_dim", *dim, 0);
    return take_along_dim(x.reshape({1}), indices.reshape({1}), 0).reshape({});
  }
  const int64_t d = normalize_dim("take_along_dim", *dim, x.dim());
  Shape common = broadcast_shapes("take_along_dim", with_size(x.shape(), d, 1),
                                  with_size(indices.shape(), d, 1));
  Tensor xe = x.expand(with_size(common, d, x.size(d)));
  Tensor ie = indices.expand(with_size(common, d, indices.size(d)));
  try {
    return gather(xe, d, ie);
  } catch (const Error& e) {
    fail("take_along_dim: ", e.what());
  }
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_strided("masked_fill", x, "x");
  check_strided("masked_fill", mask, "mask");
  check_same_device("masked_fill", x, mask);
  SG_CHECK(mask.dtype() == DType::boolean, "masked_fill: mask must be bool, got ", describe(mask));
  Shape b = broadcast_shapes("masked_fill", x.shape(), mask.shape());
  SG_CHECK(b == x.shape(), "masked_fill: mask ", describe(mask), " does not broadcast to x ",
           describe(x));
  return where(mask, scalar_like(value, x), x);
}

Tensor one_hot(const Tensor& index, int64_t num_classes) {
  check_index_tensor("one_hot", index, "index");
  SG_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (infer) or non-negative, got ",
           num_classes);
  if (num_classes == -1) {
    SG_CHECK(index.numel() > 0, "one_hot: cannot infer num_classes from an empty index ",
             describe(index));
    auto values = index.to(DType::i64).to_vector<int64_t>();
    num_classes = *std::max_element(values.begin(), values.end()) + 1;
    SG_CHECK(num_classes > 0, "one_hot: cannot infer num_classes: every index is negative (max ",
             num_classes - 1, ")");
  }
  Shape out_shape = index.shape();
  out_shape.push_back(num_classes);
  check_shape("one_hot", out_shape);
  Tensor out = empty(out_shape, Options(DType::i64, index.device()));
  OpAttrs attrs;
  attrs.k = num_classes;
  run_kernel(OpId::one_hot, {index}, {out}, attrs);
  return out;
}

// --- ordering --------------------------------------------------------------------------------

namespace {

SortResult sort_kernel(OpId op, const Tensor& x, int64_t dim, int64_t k, bool flag, bool flag2) {
  SortResult r;
  OpAttrs attrs;
  attrs.dim = dim;
  attrs.k = k;
  attrs.flag = flag;
  attrs.flag2 = flag2;
  {
    NoGradGuard no_grad;
    Tensor xs = at_least_1d(x);
    Shape out_shape = with_size(xs.shape(), dim, k);
    r.values = empty(out_shape, Options(x.dtype(), x.device()));
    r.indices = empty(out_shape, Options(DType::i64, x.device()));
    run_kernel(op, {xs}, {r.values, r.indices}, attrs);
    if (x.dim() == 0) {
      r.values = r.values.reshape({});
      r.indices = r.indices.reshape({});
    }
  }
  // The values are x at the indices: their gradient goes back to those positions.
  record(std::string(op_name(op)), {x}, {r.values, r.indices},
         [dim, in_shape = x.shape(),
          si = SavedTensor(r.indices, std::string(op_name(op)))](const Grads& g) {
           Tensor index = si.get(), gv = g[0];
           Tensor z = zeros(in_shape, Options(gv.dtype(), gv.device()));
           return Grads{scatter_add(z, dim, index, gv)};
         });
  return r;
}

void check_sortable(const char* op, const Tensor& x) {
  check_strided(op, x, "x");
  SG_CHECK(x.dtype() != DType::boolean, op, ": expected a numeric tensor, got ", describe(x));
}

}  // namespace

SortResult topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  check_sortable("topk", x);
  dim = normalize_dim("topk", dim, x.dim());
  const int64_t n = x.dim() == 0 ? 1 : x.size(dim);
  SG_CHECK(k >= 0 && k <= n, "topk: k (", k, ") is out of range for dim ", dim, " of size ", n,
           " in ", describe(x));
  return sort_kernel(OpId::topk, x, dim, k, largest, sorted);
}

SortResult sort(const Tensor& x, int64_t dim, bool descending, bool /*stable*/) {
  check_sortable("sort", x);
  dim = normalize_dim("sort", dim, x.dim());
  const int64_t n = x.dim() == 0 ? 1 : x.size(dim);
  return sort_kernel(OpId::sort, x, dim, n, descending, false);
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending, bool stable) {
  check_sortable("argsort", x);
  normalize_dim("argsort", dim, x.dim());
  NoGradGuard no_grad;  // indices carry no gradient
  return sort(x, dim, descending, stable).indices;
}

}  // namespace stackgrad
