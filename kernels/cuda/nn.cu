// CUDA cross-entropy forward and backward, the counterparts of kernels/reference/nn.cpp. One
// task per row (sample), like softmax.cu: a warp for fewer than kBlockRow classes, a 256-thread
// block otherwise. The reference's sums (the sum of exp, the smoothed target terms, the spread
// of the label smoothing, the backward's target sum) stay in double; only their order changes:
// each thread adds its strided classes in order, then an xor butterfly and, in a block, the warp
// results in warp order combine them (no atomics, the same bits on every run). Every term of
// those sums is non-negative (exp, lse - x_k >= 0, smoothed probabilities of a distribution), so
// the regrouping moves a result by a few ulp of double, far below the f32/f64 parity
// tolerances; the rest differs from the CPU only by the device's exp and log. Every operand is
// read and written through its strides (the op layer passes class-last permuted views and a
// possibly broadcast gradient).
#include <cmath>
#include <type_traits>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"

namespace stackgrad::kernels::gpu {
namespace {

// Smoothed target probability of class c: (1 - eps) y_c + eps / C.
struct Smoothing {
  double eps;
  int64_t classes;
  __device__ __forceinline__ double operator()(double y) const {
    return (1.0 - eps) * y + eps / static_cast<double>(classes);
  }
};

template <typename T>
__device__ __forceinline__ T& elem(T* p, const OffsetCalc<1>& calc, int64_t i) {
  int64_t off[1];
  calc.get(i, off);
  return p[off[0]];
}

constexpr int64_t kBlockRow = 1024;

struct MaxF {
  __device__ double operator()(double a, double b) const { return fmax(a, b); }
};
struct SumF {
  __device__ double operator()(double a, double b) const { return a + b; }
};

// The combination of the task's TPR values, returned to every thread of the task (softmax.cu's
// group_reduce). `shared` holds one value per warp (TPR == kThreads only).
template <int TPR, typename F>
__device__ __forceinline__ double row_reduce(double v, double* shared, F f) {
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

// TT: the target's type (T for probabilities, int64_t for class indices). TPR threads per row;
// with TPR == kThreads one row per block, so every thread runs the same iterations (barriers).
template <typename T, typename TT, int TPR>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_kernel(int64_t rows, int64_t C, const T* x, OffsetCalc<1> cx, const TT* t,
                         OffsetCalc<1> ct, T* loss, OffsetCalc<1> cl, T* lse_out,
                         OffsetCalc<1> clse, bool probs, int64_t ignore, Smoothing smooth) {
  constexpr int kRowsPerBlock = kThreads / TPR;
  __shared__ double shared[kThreads / 32];
  const int lane = threadIdx.x % TPR;
  for (int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; r < rows;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    auto xc = [&](int64_t k) { return static_cast<double>(elem(x, cx, r * C + k)); };
    double m = -INFINITY;
    for (int64_t k = lane; k < C; k += TPR) m = fmax(m, xc(k));
    m = row_reduce<TPR>(m, shared, MaxF{});
    double s = 0;
    for (int64_t k = lane; k < C; k += TPR) s += exp(xc(k) - m);
    s = row_reduce<TPR>(s, shared, SumF{});
    const double lse = m + log(s);
    double l = 0;
    if (probs) {
      for (int64_t k = lane; k < C; k += TPR)
        l += smooth(static_cast<double>(elem(t, ct, r * C + k))) * (lse - xc(k));
      l = row_reduce<TPR>(l, shared, SumF{});
    } else {
      const int64_t target = static_cast<int64_t>(elem(t, ct, r));
      // The same for every thread of the row, so the reduction inside is reached by all.
      if (target != ignore) {
        double spread = 0;
        for (int64_t k = lane; k < C; k += TPR) spread += lse - xc(k);
        spread = row_reduce<TPR>(spread, shared, SumF{});
        l = (1.0 - smooth.eps) * (lse - xc(target)) + smooth.eps / static_cast<double>(C) * spread;
      }
    }
    if (lane == 0) {
      elem(loss, cl, r) = static_cast<T>(l);
      elem(lse_out, clse, r) = static_cast<T>(lse);
    }
  }
}

template <typename T, typename TT, int TPR>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_backward_kernel(int64_t rows, int64_t C, const T* x, OffsetCalc<1> cx,
                                  const TT* t, OffsetCalc<1> ct, const T* lse, OffsetCalc<1> clse,
                                  const T* g, OffsetCalc<1> cg, T* dx, OffsetCalc<1> cdx,
                                  bool probs, int64_t ignore, Smoothing smooth) {
  constexpr int kRowsPerBlock = kThreads / TPR;
  __shared__ double shared[kThreads / 32];
  const int lane = threadIdx.x % TPR;
  for (int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; r < rows;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    const double gr = static_cast<double>(elem(g, cg, r));
    const double l = static_cast<double>(elem(lse, clse, r));
    if (probs) {
      double ysum = 0;
      for (int64_t k = lane; k < C; k += TPR)
        ysum += smooth(static_cast<double>(elem(t, ct, r * C + k)));
      ysum = row_reduce<TPR>(ysum, shared, SumF{});
      for (int64_t k = lane; k < C; k += TPR) {
        const double p = exp(static_cast<double>(elem(x, cx, r * C + k)) - l);
        const double y = smooth(static_cast<double>(elem(t, ct, r * C + k)));
        elem(dx, cdx, r * C + k) = static_cast<T>(gr * (p * ysum - y));
      }
      continue;
    }
    const int64_t target = static_cast<int64_t>(elem(t, ct, r));
    for (int64_t k = lane; k < C; k += TPR) {
      double d = 0;
      if (target != ignore) {
        const double p = exp(static_cast<double>(elem(x, cx, r * C + k)) - l);
        d = gr * (p - smooth(k == target ? 1.0 : 0.0));
      }
      elem(dx, cdx, r * C + k) = static_cast<T>(d);
    }
  }
}

// Launches kernel<TPR> over `rows` rows of C classes: a warp per row below kBlockRow classes.
template <typename Launch>
void per_row(int64_t rows, int64_t C, Launch&& launch) {
  if (C >= kBlockRow) {
    launch(std::integral_constant<int, kThreads>{}, blocks_for(rows, 1));
  } else {
    launch(std::integral_constant<int, 32>{}, blocks_for(rows, kThreads / 32));
  }
}

OffsetCalc<1> calc_of(const TensorArg& t) { return make_offset_calc<1>({&t}); }

void cuda_cross_entropy(const KernelCall& c) {
  const TensorArg &x = c.in[0], &t = c.in[1], &loss = c.out[0], &lse = c.out[1];
  const int64_t C = x.shape[x.ndim - 1], rows = loss.numel;
  if (rows == 0) return;
  const bool probs = c.attrs.mode == 1;
  const Smoothing smooth{c.attrs.alpha, C};
  SG_DISPATCH_FLOAT(x.dtype, "cross_entropy", [&] {
    using T = scalar_t;
    per_row(rows, C, [&](auto tpr, int blocks) {
      constexpr int TPR = decltype(tpr)::value;
      if (probs) {
        cross_entropy_kernel<T, T, TPR><<<blocks, kThreads, 0, current_stream()>>>(
            rows, C, x.ptr<T>(), calc_of(x), t.ptr<T>(), calc_of(t), loss.ptr<T>(), calc_of(loss),
            lse.ptr<T>(), calc_of(lse), true, c.attrs.k, smooth);
      } else {
        cross_entropy_kernel<T, int64_t, TPR><<<blocks, kThreads, 0, current_stream()>>>(
            rows, C, x.ptr<T>(), calc_of(x), t.ptr<int64_t>(), calc_of(t), loss.ptr<T>(),
            calc_of(loss), lse.ptr<T>(), calc_of(lse), false, c.attrs.k, smooth);
      }
      SG_CUDA_CHECK_LAUNCH("cross_entropy_kernel");
    });
  });
}

void cuda_cross_entropy_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &t = c.in[1], &lse = c.in[2], &g = c.in[3], &dx = c.out[0];
  const int64_t C = x.shape[x.ndim - 1], rows = lse.numel;
  if (rows == 0 || dx.numel == 0) return;
  const bool probs = c.attrs.mode == 1;
  const Smoothing smooth{c.attrs.alpha, C};
  SG_DISPATCH_FLOAT(x.dtype, "cross_entropy_backward", [&] {
    using T = scalar_t;
    per_row(rows, C, [&](auto tpr, int blocks) {
      constexpr int TPR = decltype(tpr)::value;
      if (probs) {
        cross_entropy_backward_kernel<T, T, TPR><<<blocks, kThreads, 0, current_stream()>>>(
            rows, C, x.ptr<T>(), calc_of(x), t.ptr<T>(), calc_of(t), lse.ptr<T>(), calc_of(lse),
            g.ptr<T>(), calc_of(g), dx.ptr<T>(), calc_of(dx), true, c.attrs.k, smooth);
      } else {
        cross_entropy_backward_kernel<T, int64_t, TPR><<<blocks, kThreads, 0, current_stream()>>>(
            rows, C, x.ptr<T>(), calc_of(x), t.ptr<int64_t>(), calc_of(t), lse.ptr<T>(),
            calc_of(lse), g.ptr<T>(), calc_of(g), dx.ptr<T>(), calc_of(dx), false, c.attrs.k,
            smooth);
      }
      SG_CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
    });
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_nn() {
  using namespace kernels::gpu;
  register_kernel(OpId::cross_entropy, Backend::cuda, cuda_cross_entropy);
  register_kernel(OpId::cross_entropy_backward, Backend::cuda, cuda_cross_entropy_backward);
}

}  // namespace stackgrad
