// Fast CPU kernels of the shape family. Ops along a dim see their iteration space as
// [outer dims][dim][inner dims]; the inner dims are walked with one stride when they collapse
// to a line (the common case) and through a table of offsets otherwise. Work is split over
// parallel_for with static chunks; scatter_add gives each task whole lines along `dim`, so
// every output element is summed by one thread in increasing index order (no atomics).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

[[noreturn]] void index_error(const char* op, int64_t idx, int64_t size, int64_t dim) {
  fail(op, ": index ", idx, " is out of bounds for dim ", dim, " with size ", size);
}

template <typename I>
inline int64_t checked_index(const char* op, I raw, int64_t size, int64_t dim) {
  const int64_t idx = static_cast<int64_t>(raw);
  if (idx < 0 || idx >= size) [[unlikely]]
    index_error(op, idx, size, dim);
  return idx;
}

// Binds `index_t` to the index argument's element type (i32 or i64).
template <typename F>
void dispatch_index(DType t, F&& f) {
  if (t == DType::i32) {
    f(int32_t{});
  } else {
    f(int64_t{});
  }
}

// Offsets of one array over an iteration shape split around `dim`.
struct Walk {
  const int64_t* shape;    // the iteration shape (ndim dims)
  const int64_t* strides;  // this array's strides
  int ndim, dim;
  int64_t inner = 1;
  bool linear = true;  // inner offsets are i * inner_stride
  int64_t inner_stride = 1;
  std::vector<int64_t> table;  // inner offsets when !linear

  Walk(const int64_t* shape_, const int64_t* strides_, int ndim_, int dim_)
      : shape(shape_), strides(strides_), ndim(ndim_), dim(dim_) {
    bool first = true;
    int64_t expected = 0;
    for (int d = ndim - 1; d > dim; --d) {
      inner *= shape[d];
      if (shape[d] == 1) continue;
      if (first) {
        inner_stride = strides[d];
        expected = strides[d] * shape[d];
        first = false;
      } else if (strides[d] == expected) {
        expected *= shape[d];
      } else {
        linear = false;
      }
    }
    if (linear) return;
    table.resize(inner);
    for (int64_t i = 0; i < inner; ++i) {
      int64_t off = 0, rest = i;
      for (int d = ndim - 1; d > dim; --d) {
        off += (rest % shape[d]) * strides[d];
        rest /= shape[d];
      }
      table[i] = off;
    }
  }
  int64_t outer_offset(int64_t o) const {
    int64_t off = 0;
    for (int d = dim - 1; d >= 0; --d) {
      off += (o % shape[d]) * strides[d];
      o /= shape[d];
    }
    return off;
  }
  int64_t at(int64_t i) const { return linear ? i * inner_stride : table[i]; }
  int64_t dim_stride() const { return strides[dim]; }
};

int64_t outer_count(const int64_t* shape, int dim) {
  int64_t n = 1;
  for (int d = 0; d < dim; ++d) n *= shape[d];
  return n;
}

// --- cat -------------------------------------------------------------------------------------

void cpu_cat(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  if (out.numel == 0) return;
  const int64_t outer = outer_count(out.shape, dim);
  int64_t inner = 1;
  for (int d = dim + 1; d < out.ndim; ++d) inner *= out.shape[d];
  const int64_t k = static_cast<int64_t>(c.in.size());
  const size_t esize = dtype_size(out.dtype);
  std::vector<int64_t> start(k + 1, 0);
  bool all_contiguous = true;
  for (int64_t i = 0; i < k; ++i) {
    start[i + 1] = start[i] + c.in[i].shape[dim];
    all_contiguous = all_contiguous && c.in[i].is_contiguous();
  }
  const int64_t row = start[k] * inner;  // out elements per outer index
  char* y = static_cast<char*>(out.data);
  if (all_contiguous) {
    // Each (outer index, input) pair is one contiguous block on both sides.
    const int64_t avg = std::max<int64_t>(1, row / k);
    parallel_for(
        0, outer * k, std::max<int64_t>(1, kElementwiseGrain / avg), [&](int64_t lo, int64_t hi) {
          for (int64_t t = lo; t < hi; ++t) {
            const int64_t o = t / k, i = t % k;
            const int64_t len = (start[i + 1] - start[i]) * inner;
            if (len == 0) continue;
            std::memcpy(y + (o * row + start[i] * inner) * esize,
                        static_cast<const char*>(c.in[i].data) + o * len * esize, len * esize);
          }
        });
    return;
  }
  // A strided copy of each input into its region of the output.
  SG_DISPATCH_ALL(out.dtype, "cat", [&] {
    for (int64_t i = 0; i < k; ++i) {
      TensorArg region = c.in[i];
      for (int d = 0; d < out.ndim; ++d) region.strides[d] = out.strides[d];
      region.data = out.ptr<scalar_t>() + start[i] * out.strides[dim];
      map_unary<scalar_t, scalar_t>(c.in[i], region, [](scalar_t v) { return v; });
    }
  });
}

// --- pad -------------------------------------------------------------------------------------

void cpu_pad(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const bool reflect = c.attrs.mode == 1;
  const auto& pads = c.attrs.ints;
  if (out.numel == 0) return;
  SG_DISPATCH_ALL(out.dtype, "pad", [&] {
    const scalar_t* x = in.ptr<scalar_t>();
    scalar_t* y = out.ptr<scalar_t>();
    const scalar_t value = static_cast<scalar_t>(c.attrs.alpha);
    if (out.ndim == 0) {
      y[0] = x[0];
      return;
    }
    const int last = out.ndim - 1;
    const int64_t len = out.shape[last], n = in.shape[last], before = pads[2 * last];
    const int64_t sx = in.strides[last];
    const int64_t rows = out.numel / len;
    parallel_for(
        0, rows, std::max<int64_t>(1, kElementwiseGrain / len), [&](int64_t lo, int64_t hi) {
          for (int64_t r = lo; r < hi; ++r) {
            scalar_t* yr = y + r * len;
            // The source row: each outer coordinate mapped back through its padding.
            int64_t off = 0, rest = r;
            bool inside = true;
            for (int d = last - 1; d >= 0; --d) {
              int64_t i = rest % out.shape[d] - pads[2 * d];
              rest /= out.shape[d];
              const int64_t nd = in.shape[d];
              if (reflect) {
                if (i < 0) i = -i;
                if (i >= nd) i = 2 * (nd - 1) - i;
              } else if (i < 0 || i >= nd) {
                inside = false;
                break;
              }
              off += i * in.strides[d];
            }
            if (!inside) {
              std::fill(yr, yr + len, value);
              continue;
            }
            const scalar_t* xr = x + off;
            const int64_t j0 = std::clamp<int64_t>(before, 0, len);      // first j with source >= 0
            const int64_t j1 = std::clamp<int64_t>(before + n, 0, len);  // first j with source >= n
            if (reflect) {
              for (int64_t j = 0; j < j0; ++j) yr[j] = xr[(before - j) * sx];
              for (int64_t j = j1; j < len; ++j) yr[j] = xr[(2 * (n - 1) - (j - before)) * sx];
            } else {
              std::fill(yr, yr + j0, value);
              std::fill(yr + j1, yr + len, value);
            }
            const scalar_t* src = xr + (j0 - before) * sx;
            if (sx == 1) {
              std::copy(src, src + (j1 - j0), yr + j0);
            } else {
              for (int64_t j = j0; j < j1; ++j) yr[j] = src[(j - j0) * sx];
            }
          }
        });
  });
}

// --- flip: a strided copy from a view with negated strides on the flipped dims ----------------

void cpu_flip(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  if (out.numel == 0) return;
  TensorArg flipped = in;
  int64_t shift = 0;
  for (int64_t d : c.attrs.ints) {
    shift += (in.shape[d] - 1) * in.strides[d];
    flipped.strides[d] = -in.strides[d];
  }
  SG_DISPATCH_ALL(out.dtype, "flip", [&] {
    flipped.data = in.ptr<scalar_t>() + shift;
    map_unary<scalar_t, scalar_t>(flipped, out, [](scalar_t v) { return v; });
  });
}

// --- index_select ----------------------------------------------------------------------------

// Calls f(o, j0, j1) for the runs of an [outer, n] loop that fall in [lo, hi): each run stays
// in one outer index, so outer offsets are computed once per run.
template <typename F>
void for_each_run(int64_t lo, int64_t hi, int64_t n, F&& f) {
  for (int64_t t = lo; t < hi;) {
    const int64_t o = t / n, j0 = t % n, j1 = std::min(n, j0 + (hi - t));
    f(o, j0, j1);
    t += j1 - j0;
  }
}

void cpu_index_select(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  if (out.numel == 0) return;
  const Walk wx(out.shape, in.strides, out.ndim, dim), wy(out.shape, out.strides, out.ndim, dim);
  const int64_t outer = outer_count(out.shape, dim), k = out.shape[dim], size = in.shape[dim];
  const int64_t inner = wy.inner, si = index.ndim == 0 ? 0 : index.strides[0];
  const int64_t sd = wx.dim_stride();
  SG_DISPATCH_ALL(out.dtype, "index_select", [&] {
    const scalar_t* x = in.ptr<scalar_t>();
    scalar_t* y = out.ptr<scalar_t>();  // contiguous: row j of outer index o is at (o k + j) inner
    dispatch_index(index.dtype, [&](auto tag) {
      using index_t = decltype(tag);
      const index_t* ix = index.ptr<index_t>();
      auto run = [&](int64_t o, int64_t j0, int64_t j1) {
        const scalar_t* xo = x + wx.outer_offset(o);
        scalar_t* yo = y + o * k * inner;
        for (int64_t j = j0; j < j1; ++j) {
          const scalar_t* xr = xo + checked_index("index_select", ix[j * si], size, dim) * sd;
          scalar_t* yr = yo + j * inner;
          if (inner == 1) {
            *yr = *xr;
          } else if (wx.linear && wx.inner_stride == 1) {
            std::copy(xr, xr + inner, yr);
          } else {
            for (int64_t i = 0; i < inner; ++i) yr[i] = xr[wx.at(i)];
          }
        }
      };
      parallel_for(0, outer * k, std::max<int64_t>(1, kElementwiseGrain / inner),
                   [&](int64_t lo, int64_t hi) { for_each_run(lo, hi, k, run); });
    });
  });
}

// --- gather ----------------------------------------------------------------------------------

void cpu_gather(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  if (out.numel == 0) return;
  // Iterate over the index's shape; x's walk uses its own strides at the index's coordinates.
  const Walk wx(index.shape, in.strides, index.ndim, dim),
      wi(index.shape, index.strides, index.ndim, dim);
  const int64_t outer = outer_count(index.shape, dim), n = index.shape[dim], size = in.shape[dim];
  const int64_t inner = wi.inner, sd = wx.dim_stride(), sid = wi.dim_stride();
  const bool lines = wx.linear && wi.linear;
  SG_DISPATCH_ALL(out.dtype, "gather", [&] {
    const scalar_t* x = in.ptr<scalar_t>();
    scalar_t* y = out.ptr<scalar_t>();  // contiguous, index's shape
    dispatch_index(index.dtype, [&](auto tag) {
      using index_t = decltype(tag);
      const index_t* ix = index.ptr<index_t>();
      auto run = [&](int64_t o, int64_t j0, int64_t j1) {
        const scalar_t* xr = x + wx.outer_offset(o);
        const index_t* io = ix + wi.outer_offset(o);
        scalar_t* yo = y + o * n * inner;
        if (inner == 1) {  // gathering along the last dim: one element per j
          for (int64_t j = j0; j < j1; ++j)
            yo[j] = xr[checked_index("gather", io[j * sid], size, dim) * sd];
          return;
        }
        for (int64_t j = j0; j < j1; ++j) {
          const index_t* ir = io + j * sid;
          scalar_t* yr = yo + j * inner;
          if (lines) {
            const int64_t sxi = wx.inner_stride, sii = wi.inner_stride;
            for (int64_t i = 0; i < inner; ++i)
              yr[i] = xr[checked_index("gather", ir[i * sii], size, dim) * sd + i * sxi];
          } else {
            for (int64_t i = 0; i < inner; ++i)
              yr[i] = xr[checked_index("gather", ir[wi.at(i)], size, dim) * sd + wx.at(i)];
          }
        }
      };
      parallel_for(0, outer * n, std::max<int64_t>(1, kElementwiseGrain / inner),
                   [&](int64_t lo, int64_t hi) { for_each_run(lo, hi, n, run); });
    });
  });
}

// --- scatter_add -----------------------------------------------------------------------------

constexpr int64_t kScatterBlock = 256;  // inner elements per task: whole lines along `dim`

void cpu_scatter_add(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &src = c.in[2], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  SG_DISPATCH_NUMERIC(out.dtype, "scatter_add", [&] {
    map_unary<scalar_t, scalar_t>(in, out, [](scalar_t v) { return v; });
    if (index.numel == 0) return;
    const Walk wy(index.shape, out.strides, index.ndim, dim),
        wi(index.shape, index.strides, index.ndim, dim),
        ws(index.shape, src.strides, index.ndim, dim);
    const int64_t outer = outer_count(index.shape, dim), n = index.shape[dim],
                  size = out.shape[dim];
    const int64_t inner = wi.inner, blocks = (inner + kScatterBlock - 1) / kScatterBlock;
    const bool lines = wy.linear && wi.linear && ws.linear;
    const scalar_t* s = src.ptr<scalar_t>();
    scalar_t* y = out.ptr<scalar_t>();
    dispatch_index(index.dtype, [&](auto tag) {
      using index_t = decltype(tag);
      const index_t* ix = index.ptr<index_t>();
      const int64_t per_task = n * std::min(inner, kScatterBlock);
      parallel_for(
          0, outer * blocks, std::max<int64_t>(1, kElementwiseGrain / per_task),
          [&](int64_t lo, int64_t hi) {
            for (int64_t t = lo; t < hi; ++t) {
              const int64_t o = t / blocks, b = t % blocks;
              const int64_t i0 = b * kScatterBlock, i1 = std::min(inner, i0 + kScatterBlock);
              scalar_t* yr = y + wy.outer_offset(o);
              const index_t* ir = ix + wi.outer_offset(o);
              const scalar_t* sr = s + ws.outer_offset(o);
              const int64_t syd = wy.dim_stride(), sid = wi.dim_stride(), ssd = ws.dim_stride();
              // j outermost: each output element receives its additions in increasing j.
              if (lines) {
                const int64_t yi = wy.inner_stride, ii = wi.inner_stride, si = ws.inner_stride;
                for (int64_t j = 0; j < n; ++j) {
                  const index_t* irj = ir + j * sid;
                  const scalar_t* srj = sr + j * ssd;
                  for (int64_t i = i0; i < i1; ++i) {
                    const int64_t idx = checked_index("scatter_add", irj[i * ii], size, dim);
                    yr[idx * syd + i * yi] += srj[i * si];
                  }
                }
              } else {
                for (int64_t j = 0; j < n; ++j)
                  for (int64_t i = i0; i < i1; ++i) {
                    const int64_t idx =
                        checked_index("scatter_add", ir[j * sid + wi.at(i)], size, dim);
                    yr[idx * syd + wy.at(i)] += sr[j * ssd + ws.at(i)];
                  }
              }
            }
          });
    });
  });
}

// --- one_hot ---------------------------------------------------------------------------------

void cpu_one_hot(const KernelCall& c) {
  const TensorArg &index = c.in[0], &out = c.out[0];
  const int64_t classes = c.attrs.k;
  int64_t* y = out.ptr<int64_t>();
  std::fill(y, y + out.numel, int64_t{0});
  dispatch_index(index.dtype, [&](auto tag) {
    using index_t = decltype(tag);
    const index_t* ix = index.ptr<index_t>();
    const bool contiguous = index.is_contiguous();
    parallel_for(0, index.numel, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const int64_t idx = static_cast<int64_t>(ix[contiguous ? i : ref_offset(i, index)]);
        if (idx < 0 || idx >= classes) [[unlikely]]
          fail("one_hot: class index ", idx, " is out of bounds for num_classes ", classes);
        y[i * classes + idx] = 1;
      }
    });
  });
}

// --- sort and topk: per line, one integer key per element ------------------------------------
// A key holds the value's order bits above its position along the line, so one unsigned
// comparison orders by value and then by position: the result is unique (stable) and a plain
// integer sort replaces a comparator with NaN branches. 4-byte values with lines shorter than
// 2^32 pack into 64 bits; 8-byte values use 128.

__extension__ typedef unsigned __int128 u128;

// Order-preserving unsigned images of the values: NaN largest, -0 equal to +0.
inline uint32_t order_bits(float v) {
  if (std::isnan(v)) return ~uint32_t{0};
  const uint32_t u = std::bit_cast<uint32_t>(v == 0.0f ? 0.0f : v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline uint64_t order_bits(double v) {
  if (std::isnan(v)) return ~uint64_t{0};
  const uint64_t u = std::bit_cast<uint64_t>(v == 0.0 ? 0.0 : v);
  return (u >> 63) ? ~u : (u | (uint64_t{1} << 63));
}
inline uint32_t order_bits(int32_t v) { return static_cast<uint32_t>(v) ^ 0x80000000u; }
inline uint64_t order_bits(int64_t v) { return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63); }
inline uint32_t order_bits(uint8_t v) { return v; }

// Stable LSD radix sort of (key, position) pairs by key, one byte per pass: equal keys keep
// their order, which is the position order. All byte histograms come from one read pass, and a
// pass whose byte is the same for every key (common for the high bytes) is skipped.
template <typename Bits>
void radix_sort(std::vector<Bits>& key, std::vector<int64_t>& pos, std::vector<Bits>& key_tmp,
                std::vector<int64_t>& pos_tmp) {
  constexpr int kBytes = sizeof(Bits);
  const int64_t n = static_cast<int64_t>(key.size());
  int64_t count[kBytes][256] = {};
  for (int64_t i = 0; i < n; ++i)
    for (int b = 0; b < kBytes; ++b) ++count[b][(key[i] >> (8 * b)) & 0xFF];
  for (int b = 0; b < kBytes; ++b) {
    const int shift = 8 * b;
    if (count[b][(key[0] >> shift) & 0xFF] == n) continue;
    int64_t start[256], sum = 0;
    for (int v = 0; v < 256; ++v) {
      start[v] = sum;
      sum += count[b][v];
    }
    for (int64_t i = 0; i < n; ++i) {
      const int64_t dst = start[(key[i] >> shift) & 0xFF]++;
      key_tmp[dst] = key[i];
      pos_tmp[dst] = pos[i];
    }
    key.swap(key_tmp);
    pos.swap(pos_tmp);
  }
}

// Lines at least this long are sorted by radix; shorter ones by comparison.
constexpr int64_t kRadixMinLine = 64;

// Sorts (or selects the best k of) every line along `dim` and writes values and positions.
// The outputs are contiguous and share the input's shape except along `dim`.
template <typename T, typename K>
void sort_lines(const TensorArg& in, const TensorArg& values, const TensorArg& indices, int dim,
                bool descending, int64_t k, bool select, bool sorted) {
  using Bits = decltype(order_bits(T{}));
  constexpr int kShift = sizeof(K) * 4;  // the position takes the low half
  const K pos_mask = (K{1} << kShift) - 1;
  const int64_t n = in.shape[dim];
  if (n == 0 || in.numel == 0 || k == 0) return;
  const int64_t lines = in.numel / n;
  TensorArg lx = in, lv = values;  // the tensors with `dim` removed: one element per line
  lx.ndim = lv.ndim = in.ndim - 1;
  for (int d = dim; d < lx.ndim; ++d) {
    lx.shape[d] = lv.shape[d] = in.shape[d + 1];
    lx.strides[d] = in.strides[d + 1];
    lv.strides[d] = values.strides[d + 1];
  }
  const int64_t sx = in.strides[dim], sv = values.strides[dim];
  const T* x = in.ptr<T>();
  const bool radix = !select && n >= kRadixMinLine;
  parallel_for(0, lines, std::max<int64_t>(1, kElementwiseGrain / n), [&](int64_t lo, int64_t hi) {
    std::vector<K> keys(radix ? 0 : n);
    std::vector<Bits> bits(radix ? n : 0), bits_tmp(bits.size());
    std::vector<int64_t> pos(bits.size()), pos_tmp(bits.size());
    for (int64_t l = lo; l < hi; ++l) {
      const T* xl = x + ref_offset(l, lx);
      const int64_t base = ref_offset(l, lv);  // values and indices share offsets
      T* v = values.ptr<T>() + base;
      int64_t* ix = indices.ptr<int64_t>() + base;
      if (radix) {
        for (int64_t j = 0; j < n; ++j) {
          const Bits b = order_bits(xl[j * sx]);
          bits[j] = descending ? static_cast<Bits>(~b) : b;
          pos[j] = j;
        }
        radix_sort(bits, pos, bits_tmp, pos_tmp);
        for (int64_t j = 0; j < n; ++j) {
          v[j * sv] = xl[pos[j] * sx];
          ix[j * sv] = pos[j];
        }
        continue;
      }
      for (int64_t j = 0; j < n; ++j) {
        Bits b = order_bits(xl[j * sx]);
        keys[j] = (K{static_cast<Bits>(descending ? ~b : b)} << kShift) | static_cast<K>(j);
      }
      if (!select) {
        std::sort(keys.begin(), keys.end());
      } else {
        // nth_element puts the k best first in O(n); only those k are then ordered.
        if (k < n) std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end());
        if (sorted) {
          std::sort(keys.begin(), keys.begin() + k);
        } else {
          std::sort(keys.begin(), keys.begin() + k,
                    [pos_mask](K a, K b) { return (a & pos_mask) < (b & pos_mask); });
        }
      }
      for (int64_t j = 0; j < k; ++j) {
        const int64_t pos = static_cast<int64_t>(keys[j] & pos_mask);
        v[j * sv] = xl[pos * sx];
        ix[j * sv] = pos;
      }
    }
  });
}

template <typename T>
void sort_dispatch(const KernelCall& c, bool select) {
  const TensorArg &in = c.in[0], &values = c.out[0], &indices = c.out[1];
  const int dim = static_cast<int>(c.attrs.dim);
  const int64_t k = select ? c.attrs.k : in.shape[dim];
  const bool descending = c.attrs.flag, sorted = select ? c.attrs.flag2 : true;
  if (sizeof(T) <= 4 && in.shape[dim] <= int64_t{0xFFFFFFFF}) {
    sort_lines<T, uint64_t>(in, values, indices, dim, descending, k, select, sorted);
  } else {
    sort_lines<T, u128>(in, values, indices, dim, descending, k, select, sorted);
  }
}

void cpu_sort(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "sort", [&] { sort_dispatch<scalar_t>(c, false); });
}

// topk's attrs.flag means "largest", which is a descending selection.
void cpu_topk(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "topk", [&] { sort_dispatch<scalar_t>(c, true); });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_shape() {
  using namespace kernels;
  register_kernel(OpId::cat, Backend::cpu, cpu_cat);
  register_kernel(OpId::pad, Backend::cpu, cpu_pad);
  register_kernel(OpId::flip, Backend::cpu, cpu_flip);
  register_kernel(OpId::index_select, Backend::cpu, cpu_index_select);
  register_kernel(OpId::gather, Backend::cpu, cpu_gather);
  register_kernel(OpId::scatter_add, Backend::cpu, cpu_scatter_add);
  register_kernel(OpId::one_hot, Backend::cpu, cpu_one_hot);
  register_kernel(OpId::topk, Backend::cpu, cpu_topk);
  register_kernel(OpId::sort, Backend::cpu, cpu_sort);
}
}  // namespace stackgrad
