// CUDA index kernels: gather, index_select, scatter_add, pad, embedding and embedding_backward,
// each a line-by-line counterpart of kernels/reference/ (shape.cpp, norm.cpp).
//
// One thread per output element, with explicit C-order coordinates like the reference. The two
// sums (scatter_add, embedding_backward) use no atomics: the (destination, position) pairs of
// the index are sorted by destination and then position (the segmented pair sort of sort.cu),
// the run of each destination is located, and the thread of one output element adds its run in
// position order, which is the reference's order (increasing position along the scatter dim,
// increasing row of the index), in double (uint64 for integers, wrapping like the reference's
// int64). So the bits depend only on the inputs, and are those of the earlier version that
// scanned the whole index line (scatter_add) or the whole index (embedding_backward) per output
// element; the work is now a sort of the index plus one read per source element.
//
// Out-of-range indices (gather, index_select, scatter_add) are not read; the kernel records one
// of them in a device flag, which the host reads back after the launch (a stream sync) to fail
// with the reference's message. embedding's indices are checked on the host by the op layer.
#include <type_traits>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/scan_plan.h"
#include "kernels/cuda/sort_pairs.cuh"

namespace stackgrad::kernels::gpu {
namespace {

// Shape and element strides of one operand, passed by value to the kernels.
struct Geom {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
};

Geom geom_of(const TensorArg& t) {
  Geom g;
  g.ndim = t.ndim;
  for (int d = 0; d < t.ndim; ++d) {
    g.shape[d] = t.shape[d];
    g.stride[d] = t.strides[d];
  }
  return g;
}

// C-order coordinates of element i of `g`'s shape.
__device__ __forceinline__ void unravel(int64_t i, const Geom& g, int64_t* coords) {
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t q = i / g.shape[d];
    coords[d] = i - q * g.shape[d];
    i = q;
  }
}

__device__ __forceinline__ int64_t offset_of(const int64_t* coords, const Geom& g) {
  int64_t off = 0;
  for (int d = 0; d < g.ndim; ++d) off += coords[d] * g.stride[d];
  return off;
}

// flag[0] counts out-of-range indices, flag[1] holds the one the first counter saw.
__device__ __forceinline__ void report_bad(unsigned long long* flag, int64_t idx) {
  if (atomicAdd(flag, 1ull) == 0ull) flag[1] = static_cast<unsigned long long>(idx);
}

// A zeroed two-word flag on the current device, read back (with a sync of the stream) by
// check(), which fails with the reference's message if a kernel reported an index.
class BadIndexFlag {
 public:
  BadIndexFlag() : device_(cuda_current_device()) {
    flag_ = static_cast<unsigned long long*>(cuda_alloc(device_, 2 * sizeof(unsigned long long)));
    cuda_check(cudaMemsetAsync(flag_, 0, 2 * sizeof(unsigned long long), current_stream()),
               "cudaMemsetAsync (index flag)", __FILE__, __LINE__);
  }
  ~BadIndexFlag() { cuda_free(device_, flag_); }
  BadIndexFlag(const BadIndexFlag&) = delete;
  BadIndexFlag& operator=(const BadIndexFlag&) = delete;

  unsigned long long* get() const { return flag_; }

  void check(const char* op, int64_t dim, int64_t size) const {
    unsigned long long host[2] = {0, 0};
    cudaStream_t stream = current_stream();
    cuda_check(cudaMemcpyAsync(host, flag_, sizeof(host), cudaMemcpyDeviceToHost, stream),
               "cudaMemcpyAsync (index flag)", __FILE__, __LINE__);
    cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (index flag)", __FILE__,
               __LINE__);
    if (host[0] != 0)
      fail(op, ": index ", static_cast<int64_t>(host[1]), " is out of bounds for dim ", dim,
           " with size ", size);
  }

 private:
  int device_;
  unsigned long long* flag_;
};

// --- gather, index_select --------------------------------------------------------------------

// out[i] (contiguous, index's shape) = in at the coordinates of index element i, with the
// coordinate along dim replaced by that element's value.
template <typename T, typename I>
__global__ void gather_kernel(int64_t n, const T* in, Geom gin, const I* index, Geom gidx, T* out,
                              int dim, unsigned long long* bad) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t coords[kMaxDims];
    unravel(i, gidx, coords);
    const int64_t idx = static_cast<int64_t>(index[offset_of(coords, gidx)]);
    if (idx < 0 || idx >= gin.shape[dim]) {
      report_bad(bad, idx);
      out[i] = T(0);
      continue;
    }
    coords[dim] = idx;
    out[i] = in[offset_of(coords, gin)];
  }
}

// out[i] (contiguous) = in at out's coordinates of element i, with the coordinate along dim c
// replaced by index[c] (index is 1-D).
template <typename T, typename I>
__global__ void index_select_kernel(int64_t n, const T* in, Geom gin, const I* index,
                                    int64_t index_stride, Geom gout, T* out, int dim,
                                    unsigned long long* bad) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t coords[kMaxDims];
    unravel(i, gout, coords);
    const int64_t idx = static_cast<int64_t>(index[coords[dim] * index_stride]);
    if (idx < 0 || idx >= gin.shape[dim]) {
      report_bad(bad, idx);
      out[i] = T(0);
      continue;
    }
    coords[dim] = idx;
    out[i] = in[offset_of(coords, gin)];
  }
}

template <typename Launch>
void with_index_type(const TensorArg& index, const char* op, Launch&& launch) {
  if (index.dtype == DType::i32) {
    launch(index.ptr<int32_t>(), int32_t{});
  } else if (index.dtype == DType::i64) {
    launch(index.ptr<int64_t>(), int64_t{});
  } else {
    fail(op, ": index must be i32 or i64, got ", dtype_name(index.dtype));
  }
}

void cuda_gather(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  if (index.numel == 0) return;
  BadIndexFlag bad;
  SG_DISPATCH_ALL(out.dtype, "gather", [&] {
    with_index_type(index, "gather", [&](auto* idx, auto) {
      gather_kernel<<<blocks_for(index.numel), kThreads, 0, current_stream()>>>(
          index.numel, in.ptr<scalar_t>(), geom_of(in), idx, geom_of(index), out.ptr<scalar_t>(),
          dim, bad.get());
      SG_CUDA_CHECK_LAUNCH("gather_kernel");
    });
  });
  bad.check("gather", dim, in.shape[dim]);
}

void cuda_index_select(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  if (out.numel == 0) return;
  BadIndexFlag bad;
  SG_DISPATCH_ALL(out.dtype, "index_select", [&] {
    with_index_type(index, "index_select", [&](auto* idx, auto) {
      index_select_kernel<<<blocks_for(out.numel), kThreads, 0, current_stream()>>>(
          out.numel, in.ptr<scalar_t>(), geom_of(in), idx, index.strides[0], geom_of(out),
          out.ptr<scalar_t>(), dim, bad.get());
      SG_CUDA_CHECK_LAUNCH("index_select_kernel");
    });
  });
  bad.check("index_select", dim, in.shape[dim]);
}

// --- scatter_add -----------------------------------------------------------------------------

template <typename T>
struct AccOf {
  using type = unsigned long long;  // integers: wraps like the reference's int64 sum
};
template <>
struct AccOf<float> {
  using type = double;
};
template <>
struct AccOf<double> {
  using type = double;
};

template <typename T, typename Acc>
__device__ __forceinline__ Acc to_acc(T v) {
  if constexpr (std::is_same_v<Acc, double>) {
    return static_cast<double>(v);
  } else {
    return static_cast<unsigned long long>(static_cast<int64_t>(v));
  }
}
template <typename T, typename Acc>
__device__ __forceinline__ T from_acc(Acc a) {
  if constexpr (std::is_same_v<Acc, double>) {
    return static_cast<T>(a);
  } else {
    return static_cast<T>(static_cast<int64_t>(a));
  }
}

// Pair i (C order over index) = (the output element it adds to, i); an out-of-range index is
// reported and becomes a padding pair. Pairs from n to P are padding.
template <typename I>
__global__ void scatter_pairs(int64_t P, int64_t n, const I* index, Geom gidx, Geom gout, int dim,
                              SortPair* pairs, unsigned long long* bad) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < P; i += step) {
    SortPair p{kPadKey, kPadKey};
    if (i < n) {
      int64_t coords[kMaxDims];
      unravel(i, gidx, coords);
      const int64_t idx = static_cast<int64_t>(index[offset_of(coords, gidx)]);
      if (idx < 0 || idx >= gout.shape[dim]) {
        report_bad(bad, idx);
      } else {
        coords[dim] = idx;
        p.key = static_cast<unsigned long long>(offset_of(coords, gout));  // out is contiguous
        p.pos = static_cast<unsigned long long>(i);
      }
    }
    pairs[i] = p;
  }
}

// After the sort: run [start[o], end[o]) of destination o (both zeroed before, so an output
// without sources has an empty run). Padding pairs (key >= outputs) mark nothing.
__global__ void run_bounds(int64_t n, const SortPair* pairs, int64_t outputs, int64_t* start,
                           int64_t* end) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const unsigned long long key = pairs[e].key;
    if (key >= static_cast<unsigned long long>(outputs)) continue;
    if (e == 0 || pairs[e - 1].key != key) start[key] = e;
    if (e == n - 1 || pairs[e + 1].key != key) end[key] = e + 1;
  }
}

// out[o] (contiguous, in's shape) = in[o] + the src elements of o's run, in position order.
template <typename T>
__global__ void scatter_add_runs(int64_t outputs, const T* in, Geom gin, const T* src, Geom gsrc,
                                 Geom gidx, Geom gout, const SortPair* pairs, const int64_t* start,
                                 const int64_t* end, T* out) {
  using Acc = typename AccOf<T>::type;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < outputs; o += step) {
    int64_t coords[kMaxDims];
    unravel(o, gout, coords);
    Acc acc = to_acc<T, Acc>(in[offset_of(coords, gin)]);
    for (int64_t e = start[o]; e < end[o]; ++e) {
      unravel(static_cast<int64_t>(pairs[e].pos), gidx, coords);
      acc += to_acc<T, Acc>(src[offset_of(coords, gsrc)]);
    }
    out[o] = from_acc<T, Acc>(acc);
  }
}

// Two zeroed int64 arrays of `count` entries (run starts and ends) on the current device.
class RunBounds {
 public:
  explicit RunBounds(int64_t count) : device_(cuda_current_device()) {
    const size_t bytes = static_cast<size_t>(2 * count) * sizeof(int64_t);
    p_ = static_cast<int64_t*>(cuda_alloc(device_, bytes));
    cuda_check(cudaMemsetAsync(p_, 0, bytes, current_stream()), "cudaMemsetAsync (run bounds)",
               __FILE__, __LINE__);
    count_ = count;
  }
  ~RunBounds() { cuda_free(device_, p_); }
  RunBounds(const RunBounds&) = delete;
  RunBounds& operator=(const RunBounds&) = delete;
  int64_t* start() const { return p_; }
  int64_t* end() const { return p_ + count_; }

 private:
  int device_;
  int64_t* p_;
  int64_t count_ = 0;
};

void cuda_scatter_add(const KernelCall& c) {
  const TensorArg &in = c.in[0], &index = c.in[1], &src = c.in[2], &out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  if (out.numel == 0) {
    // Only possible with out.shape[dim] == 0 if the index is not empty: every index is out of
    // range, and the reference reports the first one.
    if (index.numel > 0) {
      // The index may come from a kernel still queued on the stream: copy on it, then wait.
      cudaStream_t stream = current_stream();
      int64_t first = 0;
      int32_t first32 = 0;
      const bool i32 = index.dtype == DType::i32;
      SG_CUDA_CHECK(cudaMemcpyAsync(i32 ? static_cast<void*>(&first32) : static_cast<void*>(&first),
                                    index.data, i32 ? sizeof(first32) : sizeof(first),
                                    cudaMemcpyDeviceToHost, stream));
      SG_CUDA_CHECK(cudaStreamSynchronize(stream));
      if (i32) first = first32;
      fail("scatter_add: index ", first, " is out of bounds for dim ", dim, " with size ",
           out.shape[dim]);
    }
    return;
  }
  BadIndexFlag bad;
  cudaStream_t stream = current_stream();
  const int64_t n = index.numel, P = next_pow2(n);
  PairBuffer pairs(P);
  RunBounds runs(out.numel);
  if (n > 0) {
    with_index_type(index, "scatter_add", [&](auto* idx, auto) {
      scatter_pairs<<<blocks_for(P), kThreads, 0, stream>>>(P, n, idx, geom_of(index), geom_of(out),
                                                            dim, pairs.get(), bad.get());
      SG_CUDA_CHECK_LAUNCH("scatter_pairs");
    });
    sort_pair_lines(pairs.get(), 1, P, stream);
    run_bounds<<<blocks_for(n), kThreads, 0, stream>>>(n, pairs.get(), out.numel, runs.start(),
                                                       runs.end());
    SG_CUDA_CHECK_LAUNCH("run_bounds");
  }
  SG_DISPATCH_NUMERIC(out.dtype, "scatter_add", [&] {
    scatter_add_runs<<<blocks_for(out.numel), kThreads, 0, stream>>>(
        out.numel, in.ptr<scalar_t>(), geom_of(in), src.ptr<scalar_t>(), geom_of(src),
        geom_of(index), geom_of(out), pairs.get(), runs.start(), runs.end(), out.ptr<scalar_t>());
    SG_CUDA_CHECK_LAUNCH("scatter_add_runs");
  });
  bad.check("scatter_add", dim, out.shape[dim]);
}

// --- pad -------------------------------------------------------------------------------------

struct PadGeom {
  int64_t before[kMaxDims] = {};
};

// Input coordinate of output coordinate o along a dim of input size n padded by `before`, or -1
// for a constant-padded position (the reference's pad_source; negative padding crops).
__device__ __forceinline__ int64_t pad_source(int64_t o, int64_t n, int64_t before, bool reflect) {
  int64_t i = o - before;
  if (!reflect) return i >= 0 && i < n ? i : -1;
  if (i < 0) i = -i;
  if (i >= n) i = 2 * (n - 1) - i;
  return i;
}

template <typename T>
__global__ void pad_kernel(int64_t n, const T* in, Geom gin, T* out, Geom gout, PadGeom pads,
                           bool reflect, T value) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t coords[kMaxDims];
    unravel(i, gout, coords);
    bool inside = true;
    for (int d = 0; d < gout.ndim && inside; ++d) {
      coords[d] = pad_source(coords[d], gin.shape[d], pads.before[d], reflect);
      inside = coords[d] >= 0;
    }
    out[i] = inside ? in[offset_of(coords, gin)] : value;
  }
}

void cuda_pad(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  if (out.numel == 0) return;
  const bool reflect = c.attrs.mode == 1;
  PadGeom pads;
  for (int d = 0; d < out.ndim; ++d) pads.before[d] = c.attrs.ints[2 * d];
  SG_DISPATCH_ALL(out.dtype, "pad", [&] {
    pad_kernel<<<blocks_for(out.numel), kThreads, 0, current_stream()>>>(
        out.numel, in.ptr<scalar_t>(), geom_of(in), out.ptr<scalar_t>(), geom_of(out), pads,
        reflect, static_cast<scalar_t>(c.attrs.alpha));
    SG_CUDA_CHECK_LAUNCH("pad_kernel");
  });
}

// --- embedding -------------------------------------------------------------------------------

// y[m, d] = w[idx[m], d]; the op layer has checked every index on the host.
template <typename T>
__global__ void embedding_kernel(int64_t M, int64_t D, const T* w, int64_t w_s0, int64_t w_s1,
                                 const int64_t* idx, int64_t idx_s, T* y, int64_t y_s0,
                                 int64_t y_s1) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < M * D; i += step) {
    const int64_t m = i / D, d = i - m * D;
    const int64_t v = idx[m * idx_s];
    y[m * y_s0 + d * y_s1] = w[v * w_s0 + d * w_s1];
  }
}

// Pair m = (idx[m], m); pairs from M to P are padding.
__global__ void embedding_pairs(int64_t P, int64_t M, const int64_t* idx, int64_t idx_s,
                                SortPair* pairs) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t m = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; m < P; m += step) {
    SortPair p{kPadKey, kPadKey};
    if (m < M)
      p = SortPair{static_cast<unsigned long long>(idx[m * idx_s]),
                   static_cast<unsigned long long>(m)};
    pairs[m] = p;
  }
}

// dw[v, d] = the sum in double, in increasing m, of g[m, d] over v's run of the sorted pairs
// (the m with idx[m] == v); zero for v == padding. Consecutive threads take consecutive d, so a
// warp reads runs of g's rows.
template <typename T>
__global__ void embedding_backward_runs(int64_t V, int64_t D, const T* g, int64_t g_s0,
                                        int64_t g_s1, const SortPair* pairs, const int64_t* start,
                                        const int64_t* end, T* dw, int64_t dw_s0, int64_t dw_s1,
                                        int64_t padding) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < V * D; i += step) {
    const int64_t v = i / D, d = i - v * D;
    double acc = 0.0;
    if (v != padding)
      for (int64_t e = start[v]; e < end[v]; ++e)
        acc += static_cast<double>(g[static_cast<int64_t>(pairs[e].pos) * g_s0 + d * g_s1]);
    dw[v * dw_s0 + d * dw_s1] = static_cast<T>(acc);
  }
}

void cuda_embedding(const KernelCall& c) {
  const TensorArg &w = c.in[0], &idx = c.in[1], &y = c.out[0];
  const int64_t M = idx.numel, D = w.shape[1];
  if (M * D == 0) return;
  SG_DISPATCH_FLOAT(w.dtype, "embedding", [&] {
    embedding_kernel<<<blocks_for(M * D), kThreads, 0, current_stream()>>>(
        M, D, w.ptr<scalar_t>(), w.strides[0], w.strides[1], idx.ptr<int64_t>(), idx.strides[0],
        y.ptr<scalar_t>(), y.strides[0], y.strides[1]);
    SG_CUDA_CHECK_LAUNCH("embedding_kernel");
  });
}

void cuda_embedding_backward(const KernelCall& c) {
  const TensorArg &g = c.in[0], &idx = c.in[1], &dw = c.out[0];
  const int64_t M = idx.numel, V = dw.shape[0], D = dw.shape[1], padding = c.attrs.k;
  if (V * D == 0) return;
  cudaStream_t stream = current_stream();
  const int64_t P = next_pow2(M);
  PairBuffer pairs(M > 0 ? P : 0);
  RunBounds runs(V);
  if (M > 0) {
    embedding_pairs<<<blocks_for(P), kThreads, 0, stream>>>(P, M, idx.ptr<int64_t>(),
                                                            idx.strides[0], pairs.get());
    SG_CUDA_CHECK_LAUNCH("embedding_pairs");
    sort_pair_lines(pairs.get(), 1, P, stream);
    // Indices were checked on the host (0 <= idx < V): every pair has a run.
    run_bounds<<<blocks_for(M), kThreads, 0, stream>>>(M, pairs.get(), V, runs.start(), runs.end());
    SG_CUDA_CHECK_LAUNCH("run_bounds");
  }
  SG_DISPATCH_FLOAT(g.dtype, "embedding_backward", [&] {
    embedding_backward_runs<<<blocks_for(V * D), kThreads, 0, stream>>>(
        V, D, g.ptr<scalar_t>(), g.strides[0], g.strides[1], pairs.get(), runs.start(), runs.end(),
        dw.ptr<scalar_t>(), dw.strides[0], dw.strides[1], padding);
    SG_CUDA_CHECK_LAUNCH("embedding_backward_runs");
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_index() {
  using namespace kernels::gpu;
  register_kernel(OpId::gather, Backend::cuda, cuda_gather);
  register_kernel(OpId::index_select, Backend::cuda, cuda_index_select);
  register_kernel(OpId::scatter_add, Backend::cuda, cuda_scatter_add);
  register_kernel(OpId::pad, Backend::cuda, cuda_pad);
  register_kernel(OpId::embedding, Backend::cuda, cuda_embedding);
  register_kernel(OpId::embedding_backward, Backend::cuda, cuda_embedding_backward);
}

}  // namespace stackgrad
