// CUDA softmax and log_softmax (the CPU versions are in kernels/cpu/reduce.cpp). The op layer
// permutes input and output so the softmax dim is last (both may be strided). One task per line:
// a warp for lines shorter than kBlockLine, a 256-thread block otherwise. Three sweeps over the
// line, as in the reference: the maximum m (NaN wins), s = sum(exp(x - m)) accumulated in
// double, then the outputs exp(x - m) / s or x - (m + log s). Reductions are xor butterflies
// (every lane ends with the same bits, since a + b == b + a) and, in a block, a sweep over the
// warps' results in warp order: no atomics, the same bits on every run.
//
// exp(x - m) is evaluated in the tensor's type (like the CPU's f32 row path), the sum and the
// final scaling in double. A line of all -inf gives NaN, as in the reference.
#include <cmath>
#include <limits>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"

namespace stackgrad::kernels::gpu {
namespace {

constexpr int64_t kBlockLine = 1024;

template <typename T>
__device__ __forceinline__ T nan_max(T a, T b) {
  if (isnan(a)) return a;
  if (isnan(b)) return b;
  return b > a ? b : a;
}

struct MaxF {
  template <typename V>
  __device__ V operator()(V a, V b) const { return nan_max(a, b); }
};
struct SumF {
  template <typename V>
  __device__ V operator()(V a, V b) const { return a + b; }
};

// The combination of the task's TPR values, returned to every thread of the task. `shared`
// holds one value per warp (TPR == kThreads only).
template <int TPR, typename V, typename F>
__device__ __forceinline__ V group_reduce(V v, V* shared, F f) {
#pragma unroll
  for (int d = 16; d > 0; d /= 2) v = f(v, __shfl_xor_sync(0xffffffffu, v, d));
  if constexpr (TPR > 32) {
    __syncthreads();  // earlier readers of `shared` are done
    if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
    __syncthreads();
    v = shared[0];
    for (int w = 1; w < TPR / 32; ++w) v = f(v, shared[w]);
  }
  return v;
}

template <typename T, bool kLog, int TPR>
__global__ void softmax_lines(int64_t lines, int64_t n, OffsetCalc<2> starts, int64_t sx,
                              int64_t sy, const T* x, T* y) {
  constexpr int kLinesPerBlock = kThreads / TPR;
  __shared__ T shared_t[kThreads / 32];
  __shared__ double shared_d[kThreads / 32];
  const int lane = threadIdx.x % TPR;
  // TPR == kThreads: one line per block, so all threads run the same iterations (barriers).
  for (int64_t line = int64_t(blockIdx.x) * kLinesPerBlock + threadIdx.x / TPR; line < lines;
       line += int64_t(gridDim.x) * kLinesPerBlock) {
    int64_t off[2];
    starts.get(line, off);
    const T* xl = x + off[0];
    T* yl = y + off[1];
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = lane; i < n; i += TPR) m = nan_max(m, xl[i * sx]);
    m = group_reduce<TPR>(m, shared_t, MaxF{});
    double s = 0;
    for (int64_t i = lane; i < n; i += TPR) s += static_cast<double>(std::exp(xl[i * sx] - m));
    s = group_reduce<TPR>(s, shared_d, SumF{});
    if constexpr (kLog) {
      const double lse = static_cast<double>(m) + std::log(s);
      for (int64_t i = lane; i < n; i += TPR) yl[i * sy] = static_cast<T>(xl[i * sx] - lse);
    } else {
      const double inv = 1.0 / s;
      for (int64_t i = lane; i < n; i += TPR)
        yl[i * sy] = static_cast<T>(static_cast<double>(std::exp(xl[i * sx] - m)) * inv);
    }
  }
}

// The leading dims of t (all but the last) as a TensorArg.
TensorArg leading(const TensorArg& t) {
  TensorArg l = t;
  l.ndim = t.ndim > 0 ? t.ndim - 1 : 0;
  l.numel = 1;
  for (int d = 0; d < l.ndim; ++d) l.numel *= t.shape[d];
  return l;
}

template <bool kLog>
void cuda_softmax(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SG_DISPATCH_FLOAT(in.dtype, kLog ? "log_softmax" : "softmax", [&] {
    using T = scalar_t;
    const bool scalar = in.ndim == 0;
    const int64_t n = scalar ? 1 : in.shape[in.ndim - 1];
    if (in.numel == 0 || n == 0) return;
    const int64_t lines = in.numel / n;
    const int64_t sx = scalar ? 1 : in.strides[in.ndim - 1];
    const int64_t sy = scalar ? 1 : out.strides[out.ndim - 1];
    const TensorArg li = leading(in), lo = leading(out);
    const OffsetCalc<2> starts = make_offset_calc<2>({&li, &lo});
    cudaStream_t stream = current_stream();
    if (n >= kBlockLine) {
      softmax_lines<T, kLog, kThreads>
          <<<blocks_for(lines, 1), kThreads, 0, stream>>>(lines, n, starts, sx, sy, in.ptr<T>(), out.ptr<T>());
    } else {
      softmax_lines<T, kLog, 32><<<blocks_for(lines, kThreads / 32), kThreads, 0, stream>>>(
          lines, n, starts, sx, sy, in.ptr<T>(), out.ptr<T>());
    }
    SG_CUDA_CHECK_LAUNCH("softmax_lines");
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_softmax() {
  using namespace kernels::gpu;
  register_kernel(OpId::softmax, Backend::cuda, cuda_softmax<false>);
  register_kernel(OpId::log_softmax, Backend::cuda, cuda_softmax<true>);
}

}  // namespace stackgrad
