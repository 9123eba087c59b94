// CUDA pooling and upsampling over contiguous NCHW (the op layer passes contiguous operands):
// max_pool2d, avg_pool2d, adaptive_avg_pool2d, upsample (nearest, bilinear, align_corners) and
// their backward kernels. Window and tap rules are kernels/reference/conv.cpp's; the index
// helpers are in norm_plan.h, unit-tested on the CPU.
//
// Forward: one thread per output element, sums in double in the reference's tap order.
// Backward without atomics, deterministic:
//   avg_pool2d, adaptive_avg_pool2d, upsample: one thread per input pixel gathers from the
//   outputs whose windows (taps) hold it, in increasing output order with double sums: the
//   reference's accumulation order, so the bits are the reference's.
//   max_pool2d: the backward kernel gets dy and the saved flat indices but not the window
//   geometry, so an input pixel cannot tell which outputs could have chosen it. One thread per
//   (n, c) plane zeroes it and routes dy to the indexed positions in output order, summing in the
//   tensor's type: the CPU kernel's loop, bit for bit. Slow for large planes with few of them
//   (N * C threads); an index outside the plane is skipped (the CPU fails on it; the op's own
//   indices are always inside).
#include <cmath>
#include <limits>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/norm_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

struct PoolArgs {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};
PoolArgs pool_args(const OpAttrs& a) {
  return {a.ints[0], a.ints[1], a.ints[2], a.ints[3], a.ints[4], a.ints[5], a.ints[6], a.ints[7]};
}

#define SG_GRID_STRIDE(e, n)                                                \
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < (n); \
       e += int64_t(gridDim.x) * blockDim.x)

template <typename T>
__global__ void max_pool_fwd(int64_t total, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                             PoolArgs g, const T* x, T* y, int64_t* ind) {
  SG_GRID_STRIDE(e, total) {
    const int64_t j = e % Wo, i = (e / Wo) % Ho, pl = e / (Wo * Ho);
    const T* xp = x + pl * H * W;
    T best = -std::numeric_limits<T>::infinity();
    int64_t where = -1;
    for (int64_t p = 0; p < g.kh; ++p) {
      const int64_t h = i * g.sh - g.ph + p * g.dh;
      if (h < 0 || h >= H) continue;
      for (int64_t q = 0; q < g.kw; ++q) {
        const int64_t v = j * g.sw - g.pw + q * g.dw;
        if (v < 0 || v >= W) continue;
        const T val = xp[h * W + v];
        if (where < 0 || val > best || isnan(val)) {
          best = val;
          where = h * W + v;
        }
      }
    }
    y[e] = best;
    ind[e] = where;
  }
}

template <typename T>
__global__ void max_pool_bwd(int64_t planes, int64_t plane, int64_t out, const T* dy,
                             const int64_t* ind, T* dx) {
  SG_GRID_STRIDE(pl, planes) {
    T* d = dx + pl * plane;
    for (int64_t k = 0; k < plane; ++k) d[k] = T(0);
    const T* g = dy + pl * out;
    const int64_t* ip = ind + pl * out;
    for (int64_t e = 0; e < out; ++e) {
      const int64_t k = ip[e];
      if (k >= 0 && k < plane) d[k] += g[e];
    }
  }
}

// The avg_pool2d window of output (i, j) along one axis: [lo, hi) clipped, and the padded size.
struct Span {
  int64_t lo, hi, padded;
};
__device__ __forceinline__ Span avg_span(int64_t i, int64_t in, int64_t k, int64_t s, int64_t p) {
  int64_t lo = i * s - p;
  int64_t hi = min(lo + k, in + p);
  const int64_t padded = hi - lo;
  lo = max(lo, int64_t(0));
  hi = min(hi, in);
  return {lo, hi, padded};
}
__device__ __forceinline__ double avg_divisor(const Span& a, const Span& b, bool include_pad) {
  return static_cast<double>(include_pad ? a.padded * b.padded : (a.hi - a.lo) * (b.hi - b.lo));
}
__device__ __forceinline__ Span adaptive_span(int64_t i, int64_t in, int64_t out) {
  return {i * in / out, ((i + 1) * in + out - 1) / out, 0};
}
__device__ __forceinline__ double adaptive_divisor(const Span& a, const Span& b) {
  return static_cast<double>((a.hi - a.lo) * (b.hi - b.lo));
}

// kAdaptive: adaptive_avg_pool2d, else avg_pool2d with geometry g.
template <typename T, bool kAdaptive>
__global__ void avg_pool_fwd(int64_t total, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                             PoolArgs g, bool include_pad, const T* x, T* y) {
  SG_GRID_STRIDE(e, total) {
    const int64_t j = e % Wo, i = (e / Wo) % Ho, pl = e / (Wo * Ho);
    const T* xp = x + pl * H * W;
    Span a, b;
    double divisor;
    if constexpr (kAdaptive) {
      a = adaptive_span(i, H, Ho), b = adaptive_span(j, W, Wo);
      divisor = adaptive_divisor(a, b);
    } else {
      a = avg_span(i, H, g.kh, g.sh, g.ph), b = avg_span(j, W, g.kw, g.sw, g.pw);
      divisor = avg_divisor(a, b, include_pad);
    }
    double s = 0;
    for (int64_t h = a.lo; h < a.hi; ++h)
      for (int64_t v = b.lo; v < b.hi; ++v) s += static_cast<double>(xp[h * W + v]);
    y[e] = static_cast<T>(s / divisor);
  }
}

template <typename T, bool kAdaptive>
__global__ void avg_pool_bwd(int64_t total, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                             PoolArgs g, bool include_pad, const T* dy, T* dx) {
  SG_GRID_STRIDE(e, total) {
    const int64_t v = e % W, h = (e / W) % H, pl = e / (W * H);
    const T* gp = dy + pl * Ho * Wo;
    const Range ri =
        kAdaptive ? adaptive_candidates(h, H, Ho) : pool_candidates(h, Ho, g.kh, g.sh, g.ph, 1);
    const Range rj =
        kAdaptive ? adaptive_candidates(v, W, Wo) : pool_candidates(v, Wo, g.kw, g.sw, g.pw, 1);
    double acc = 0;
    for (int64_t i = ri.lo; i < ri.hi; ++i) {
      const Span a = kAdaptive ? adaptive_span(i, H, Ho) : avg_span(i, H, g.kh, g.sh, g.ph);
      if (h < a.lo || h >= a.hi) continue;
      for (int64_t j = rj.lo; j < rj.hi; ++j) {
        const Span b = kAdaptive ? adaptive_span(j, W, Wo) : avg_span(j, W, g.kw, g.sw, g.pw);
        if (v < b.lo || v >= b.hi) continue;
        const double divisor = kAdaptive ? adaptive_divisor(a, b) : avg_divisor(a, b, include_pad);
        acc += static_cast<double>(gp[i * Wo + j]) / divisor;
      }
    }
    dx[e] = static_cast<T>(acc);
  }
}

template <typename T>
__global__ void upsample_fwd(int64_t total, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                             bool bilinear, bool align, const T* x, T* y) {
  SG_GRID_STRIDE(e, total) {
    const int64_t j = e % Wo, i = (e / Wo) % Ho, pl = e / (Wo * Ho);
    const T* xp = x + pl * H * W;
    const Tap th = upsample_tap(i, H, Ho, bilinear, align),
              tw = upsample_tap(j, W, Wo, bilinear, align);
    const int64_t hs[2] = {th.i0, th.i1}, vs[2] = {tw.i0, tw.i1};
    const double wh[2] = {1.0 - th.t, th.t}, wv[2] = {1.0 - tw.t, tw.t};
    double s = 0;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) s += wh[a] * wv[b] * static_cast<double>(xp[hs[a] * W + vs[b]]);
    y[e] = static_cast<T>(s);
  }
}

template <typename T>
__global__ void upsample_bwd(int64_t total, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                             bool bilinear, bool align, const T* dy, T* dx) {
  SG_GRID_STRIDE(e, total) {
    const int64_t v = e % W, h = (e / W) % H, pl = e / (W * H);
    const T* gp = dy + pl * Ho * Wo;
    const Range ri = upsample_candidates(h, H, Ho, bilinear, align);
    const Range rj = upsample_candidates(v, W, Wo, bilinear, align);
    double acc = 0;
    for (int64_t i = ri.lo; i < ri.hi; ++i) {
      const Tap th = upsample_tap(i, H, Ho, bilinear, align);
      const int64_t hs[2] = {th.i0, th.i1};
      const double wh[2] = {1.0 - th.t, th.t};
      for (int64_t j = rj.lo; j < rj.hi; ++j) {
        const Tap tw = upsample_tap(j, W, Wo, bilinear, align);
        const int64_t vs[2] = {tw.i0, tw.i1};
        const double wv[2] = {1.0 - tw.t, tw.t};
        const double gv = static_cast<double>(gp[i * Wo + j]);
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            if (hs[a] == h && vs[b] == v) acc += wh[a] * wv[b] * gv;
      }
    }
    dx[e] = static_cast<T>(acc);
  }
}

#undef SG_GRID_STRIDE

// Shapes: the image x [N, C, H, W] and the pooled (or upsampled) y [N, C, Ho, Wo].
struct Dims {
  int64_t H, W, Ho, Wo, planes;
};
Dims dims(const TensorArg& x, const TensorArg& y) {
  return {x.shape[2], x.shape[3], y.shape[2], y.shape[3], x.shape[0] * x.shape[1]};
}

void cuda_max_pool2d(const KernelCall& c) {
  const TensorArg &x = c.in[0], &y = c.out[0], &ind = c.out[1];
  const Dims d = dims(x, y);
  const PoolArgs g = pool_args(c.attrs);
  if (y.numel == 0) return;
  SG_DISPATCH_FLOAT(x.dtype, "max_pool2d", [&] {
    using T = scalar_t;
    max_pool_fwd<T><<<elementwise_blocks(y.numel), kThreads, 0, current_stream()>>>(
        y.numel, d.H, d.W, d.Ho, d.Wo, g, x.ptr<T>(), y.ptr<T>(), ind.ptr<int64_t>());
    SG_CUDA_CHECK_LAUNCH("max_pool_fwd");
  });
}

void cuda_max_pool2d_backward(const KernelCall& c) {
  const TensorArg &dy = c.in[0], &ind = c.in[1], &dx = c.out[0];
  const Dims d = dims(dx, dy);
  if (dx.numel == 0) return;
  SG_DISPATCH_FLOAT(dy.dtype, "max_pool2d_backward", [&] {
    using T = scalar_t;
    max_pool_bwd<T><<<elementwise_blocks(d.planes, 64), 64, 0, current_stream()>>>(
        d.planes, d.H * d.W, d.Ho * d.Wo, dy.ptr<T>(), ind.ptr<int64_t>(), dx.ptr<T>());
    SG_CUDA_CHECK_LAUNCH("max_pool_bwd");
  });
}

template <bool kAdaptive, bool kBackward>
void cuda_avg(const KernelCall& c) {
  const TensorArg &x = kBackward ? c.out[0] : c.in[0], &y = kBackward ? c.in[0] : c.out[0];
  const Dims d = dims(x, y);
  const PoolArgs g = kAdaptive ? PoolArgs{} : pool_args(c.attrs);
  const bool include_pad = c.attrs.flag2;
  const int64_t total = kBackward ? x.numel : y.numel;
  if (total == 0) return;
  SG_DISPATCH_FLOAT(x.dtype, "avg_pool2d", [&] {
    using T = scalar_t;
    if constexpr (kBackward)
      avg_pool_bwd<T, kAdaptive><<<elementwise_blocks(total), kThreads, 0, current_stream()>>>(
          total, d.H, d.W, d.Ho, d.Wo, g, include_pad, y.ptr<T>(), x.ptr<T>());
    else
      avg_pool_fwd<T, kAdaptive><<<elementwise_blocks(total), kThreads, 0, current_stream()>>>(
          total, d.H, d.W, d.Ho, d.Wo, g, include_pad, x.ptr<T>(), y.ptr<T>());
    SG_CUDA_CHECK_LAUNCH("avg_pool");
  });
}

template <bool kBackward>
void cuda_upsample(const KernelCall& c) {
  const TensorArg &x = kBackward ? c.out[0] : c.in[0], &y = kBackward ? c.in[0] : c.out[0];
  const Dims d = dims(x, y);
  const bool bilinear = c.attrs.mode == 1, align = c.attrs.flag;
  const int64_t total = kBackward ? x.numel : y.numel;
  if (total == 0) return;
  SG_DISPATCH_FLOAT(x.dtype, "upsample", [&] {
    using T = scalar_t;
    if constexpr (kBackward)
      upsample_bwd<T><<<elementwise_blocks(total), kThreads, 0, current_stream()>>>(
          total, d.H, d.W, d.Ho, d.Wo, bilinear, align, y.ptr<T>(), x.ptr<T>());
    else
      upsample_fwd<T><<<elementwise_blocks(total), kThreads, 0, current_stream()>>>(
          total, d.H, d.W, d.Ho, d.Wo, bilinear, align, x.ptr<T>(), y.ptr<T>());
    SG_CUDA_CHECK_LAUNCH("upsample");
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_pool() {
  using namespace kernels::gpu;
  register_kernel(OpId::max_pool2d, Backend::cuda, cuda_max_pool2d);
  register_kernel(OpId::max_pool2d_backward, Backend::cuda, cuda_max_pool2d_backward);
  register_kernel(OpId::avg_pool2d, Backend::cuda, cuda_avg<false, false>);
  register_kernel(OpId::avg_pool2d_backward, Backend::cuda, cuda_avg<false, true>);
  register_kernel(OpId::adaptive_avg_pool2d, Backend::cuda, cuda_avg<true, false>);
  register_kernel(OpId::adaptive_avg_pool2d_backward, Backend::cuda, cuda_avg<true, true>);
  register_kernel(OpId::upsample, Backend::cuda, cuda_upsample<false>);
  register_kernel(OpId::upsample_backward, Backend::cuda, cuda_upsample<true>);
}

}  // namespace stackgrad
