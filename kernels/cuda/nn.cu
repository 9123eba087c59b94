// CUDA cross-entropy forward and backward, the counterparts of kernels/reference/nn.cpp: one
// thread per row (sample) walks its C classes in order with every sum in double, exactly the
// reference's loop, so the results differ from the CPU only by the device's exp and log. Every
// operand is read and written through its strides (the op layer passes class-last permuted
// views and a possibly broadcast gradient). Simple, not fast for many classes: a warp or block
// per row (like softmax.cu) is the obvious next step.
#include <cmath>

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

// TT: the target's type (T for probabilities, int64_t for class indices).
template <typename T, typename TT>
__global__ void cross_entropy_kernel(int64_t rows, int64_t C, const T* x, OffsetCalc<1> cx,
                                     const TT* t, OffsetCalc<1> ct, T* loss, OffsetCalc<1> cl,
                                     T* lse_out, OffsetCalc<1> clse, bool probs, int64_t ignore,
                                     Smoothing smooth) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += step) {
    auto xc = [&](int64_t k) { return static_cast<double>(elem(x, cx, r * C + k)); };
    double m = -INFINITY;
    for (int64_t k = 0; k < C; ++k) m = fmax(m, xc(k));
    double s = 0;
    for (int64_t k = 0; k < C; ++k) s += exp(xc(k) - m);
    const double lse = m + log(s);
    double l = 0;
    if (probs) {
      for (int64_t k = 0; k < C; ++k)
        l += smooth(static_cast<double>(elem(t, ct, r * C + k))) * (lse - xc(k));
    } else {
      const int64_t target = static_cast<int64_t>(elem(t, ct, r));
      if (target != ignore) {
        double spread = 0;
        for (int64_t k = 0; k < C; ++k) spread += lse - xc(k);
        l = (1.0 - smooth.eps) * (lse - xc(target)) + smooth.eps / static_cast<double>(C) * spread;
      }
    }
    elem(loss, cl, r) = static_cast<T>(l);
    elem(lse_out, clse, r) = static_cast<T>(lse);
  }
}

template <typename T, typename TT>
__global__ void cross_entropy_backward_kernel(int64_t rows, int64_t C, const T* x,
                                              OffsetCalc<1> cx, const TT* t, OffsetCalc<1> ct,
                                              const T* lse, OffsetCalc<1> clse, const T* g,
                                              OffsetCalc<1> cg, T* dx, OffsetCalc<1> cdx,
                                              bool probs, int64_t ignore, Smoothing smooth) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += step) {
    const double gr = static_cast<double>(elem(g, cg, r));
    const double l = static_cast<double>(elem(lse, clse, r));
    if (probs) {
      double ysum = 0;
      for (int64_t k = 0; k < C; ++k) ysum += smooth(static_cast<double>(elem(t, ct, r * C + k)));
      for (int64_t k = 0; k < C; ++k) {
        const double p = exp(static_cast<double>(elem(x, cx, r * C + k)) - l);
        const double y = smooth(static_cast<double>(elem(t, ct, r * C + k)));
        elem(dx, cdx, r * C + k) = static_cast<T>(gr * (p * ysum - y));
      }
      continue;
    }
    const int64_t target = static_cast<int64_t>(elem(t, ct, r));
    for (int64_t k = 0; k < C; ++k) {
      double d = 0;
      if (target != ignore) {
        const double p = exp(static_cast<double>(elem(x, cx, r * C + k)) - l);
        d = gr * (p - smooth(k == target ? 1.0 : 0.0));
      }
      elem(dx, cdx, r * C + k) = static_cast<T>(d);
    }
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
    if (probs) {
      cross_entropy_kernel<T, T><<<blocks_for(rows), kThreads, 0, current_stream()>>>(
          rows, C, x.ptr<T>(), calc_of(x), t.ptr<T>(), calc_of(t), loss.ptr<T>(), calc_of(loss),
          lse.ptr<T>(), calc_of(lse), true, c.attrs.k, smooth);
    } else {
      cross_entropy_kernel<T, int64_t><<<blocks_for(rows), kThreads, 0, current_stream()>>>(
          rows, C, x.ptr<T>(), calc_of(x), t.ptr<int64_t>(), calc_of(t), loss.ptr<T>(),
          calc_of(loss), lse.ptr<T>(), calc_of(lse), false, c.attrs.k, smooth);
    }
    SG_CUDA_CHECK_LAUNCH("cross_entropy_kernel");
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
    if (probs) {
      cross_entropy_backward_kernel<T, T><<<blocks_for(rows), kThreads, 0, current_stream()>>>(
          rows, C, x.ptr<T>(), calc_of(x), t.ptr<T>(), calc_of(t), lse.ptr<T>(), calc_of(lse),
          g.ptr<T>(), calc_of(g), dx.ptr<T>(), calc_of(dx), true, c.attrs.k, smooth);
    } else {
      cross_entropy_backward_kernel<T, int64_t><<<blocks_for(rows), kThreads, 0,
                                                  current_stream()>>>(
          rows, C, x.ptr<T>(), calc_of(x), t.ptr<int64_t>(), calc_of(t), lse.ptr<T>(),
          calc_of(lse), g.ptr<T>(), calc_of(g), dx.ptr<T>(), calc_of(dx), false, c.attrs.k,
          smooth);
    }
    SG_CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
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
