// CPU kernels of pooling and upsampling: contiguous NCHW, parallel over the N * C image planes
// (static chunks). Backward kernels scatter within their own plane only, in a fixed order, so
// they need no atomics and are deterministic. Window rules match kernels/reference/conv.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"

namespace stackgrad::kernels {
namespace {

// Runs f(plane) over the N * C planes of a 4-D shape, enough planes per chunk to be worth a
// thread.
template <typename F>
void for_each_plane(const int64_t* shape, int64_t work_per_plane, F&& f) {
  const int64_t planes = shape[0] * shape[1];
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work_per_plane));
  parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) f(pl);
  });
}

struct Pool {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  explicit Pool(const std::vector<int64_t>& a)
      : kh(a[0]), kw(a[1]), sh(a[2]), sw(a[3]), ph(a[4]), pw(a[5]), dh(a[6]), dw(a[7]) {}
};

void cpu_max_pool2d(const KernelCall& c) {
  const TensorArg &x = c.in[0], &y = c.out[0], &ind = c.out[1];
  const Pool g(c.attrs.ints);
  const int64_t H = x.shape[2], W = x.shape[3], Ho = y.shape[2], Wo = y.shape[3];
  SG_DISPATCH_FLOAT(x.dtype, "max_pool2d", [&] {
    using T = scalar_t;
    for_each_plane(y.shape, Ho * Wo * g.kh * g.kw, [&](int64_t pl) {
      const T* xp = x.ptr<T>() + pl * H * W;
      T* yp = y.ptr<T>() + pl * Ho * Wo;
      int64_t* ip = ind.ptr<int64_t>() + pl * Ho * Wo;
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          T best = -std::numeric_limits<T>::infinity();
          int64_t where = -1;
          for (int64_t p = 0; p < g.kh; ++p) {
            const int64_t h = i * g.sh - g.ph + p * g.dh;
            if (h < 0 || h >= H) continue;
            for (int64_t q = 0; q < g.kw; ++q) {
              const int64_t v = j * g.sw - g.pw + q * g.dw;
              if (v < 0 || v >= W) continue;
              const T val = xp[h * W + v];
              if (where < 0 || val > best || std::isnan(val)) {
                best = val;
                where = h * W + v;
              }
            }
          }
          yp[i * Wo + j] = best;
          ip[i * Wo + j] = where;
        }
    });
  });
}

void cpu_max_pool2d_backward(const KernelCall& c) {
  const TensorArg &dy = c.in[0], &ind = c.in[1], &dx = c.out[0];
  const int64_t plane = dx.shape[2] * dx.shape[3], out = dy.shape[2] * dy.shape[3];
  SG_DISPATCH_FLOAT(dy.dtype, "max_pool2d_backward", [&] {
    using T = scalar_t;
    for_each_plane(dy.shape, out, [&](int64_t pl) {
      const T* g = dy.ptr<T>() + pl * out;
      const int64_t* ip = ind.ptr<int64_t>() + pl * out;
      T* d = dx.ptr<T>() + pl * plane;
      std::fill(d, d + plane, T(0));
      for (int64_t e = 0; e < out; ++e) {
        if (ip[e] < 0 || ip[e] >= plane)
          fail("max_pool2d_backward: index ", ip[e], " is outside the ", dx.shape[2], "x",
               dx.shape[3], " plane");
        d[ip[e]] += g[e];
      }
    });
  });
}

// One window of a mean: rows [h0, h1), columns [v0, v1), and 1 / divisor.
struct Window {
  int64_t h0, h1, v0, v1;
  double scale;
};

Window avg_window(const Pool& g, bool include_pad, int64_t H, int64_t W, int64_t i, int64_t j) {
  int64_t h0 = i * g.sh - g.ph, v0 = j * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, H + g.ph), v1 = std::min(v0 + g.kw, W + g.pw);
  const int64_t padded = (h1 - h0) * (v1 - v0);
  h0 = std::max<int64_t>(h0, 0), v0 = std::max<int64_t>(v0, 0);
  h1 = std::min(h1, H), v1 = std::min(v1, W);
  return {h0, h1, v0, v1, 1.0 / static_cast<double>(include_pad ? padded : (h1 - h0) * (v1 - v0))};
}

Window adaptive_window(int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t i, int64_t j) {
  const int64_t h0 = i * H / Ho, h1 = ((i + 1) * H + Ho - 1) / Ho;
  const int64_t v0 = j * W / Wo, v1 = ((j + 1) * W + Wo - 1) / Wo;
  return {h0, h1, v0, v1, 1.0 / static_cast<double>((h1 - h0) * (v1 - v0))};
}

// Mean over each window (forward) or its adjoint (backward): x is the image, y the pooled one.
template <typename MakeWindow>
void window_mean(const KernelCall& c, bool backward, int64_t work, MakeWindow make) {
  const TensorArg &x = backward ? c.out[0] : c.in[0], &y = backward ? c.in[0] : c.out[0];
  const int64_t plane = x.shape[2] * x.shape[3], W = x.shape[3], out = y.shape[2] * y.shape[3],
                Wo = y.shape[3];
  SG_DISPATCH_FLOAT(x.dtype, "avg_pool2d", [&] {
    using T = scalar_t;
    for_each_plane(y.shape, out * work, [&](int64_t pl) {
      T* xp = x.ptr<T>() + pl * plane;
      T* yp = y.ptr<T>() + pl * out;
      if (backward) std::fill(xp, xp + plane, T(0));
      for (int64_t e = 0; e < out; ++e) {
        const Window w = make(e / Wo, e % Wo);
        const T scale = static_cast<T>(w.scale);
        if (backward) {
          const T share = yp[e] * scale;
          for (int64_t h = w.h0; h < w.h1; ++h)
            for (int64_t v = w.v0; v < w.v1; ++v) xp[h * W + v] += share;
        } else {
          T s = 0;
          for (int64_t h = w.h0; h < w.h1; ++h)
            for (int64_t v = w.v0; v < w.v1; ++v) s += xp[h * W + v];
          yp[e] = s * scale;
        }
      }
    });
  });
}

void cpu_avg_pool(const KernelCall& c, bool backward) {
  const TensorArg& x = backward ? c.out[0] : c.in[0];
  const Pool g(c.attrs.ints);
  const bool include_pad = c.attrs.flag2;
  window_mean(c, backward, g.kh * g.kw, [&](int64_t i, int64_t j) {
    return avg_window(g, include_pad, x.shape[2], x.shape[3], i, j);
  });
}
void cpu_avg_pool2d(const KernelCall& c) { cpu_avg_pool(c, false); }
void cpu_avg_pool2d_backward(const KernelCall& c) { cpu_avg_pool(c, true); }

void cpu_adaptive(const KernelCall& c, bool backward) {
  const TensorArg &x = backward ? c.out[0] : c.in[0], &y = backward ? c.in[0] : c.out[0];
  const int64_t work = (x.shape[2] / y.shape[2] + 1) * (x.shape[3] / y.shape[3] + 1);
  window_mean(c, backward, work, [&](int64_t i, int64_t j) {
    return adaptive_window(x.shape[2], x.shape[3], y.shape[2], y.shape[3], i, j);
  });
}
void cpu_adaptive_avg_pool2d(const KernelCall& c) { cpu_adaptive(c, false); }
void cpu_adaptive_avg_pool2d_backward(const KernelCall& c) { cpu_adaptive(c, true); }

// Source taps along one axis for every output coordinate, computed once per call.
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<double> t;
};
Taps axis_taps(int64_t in, int64_t out, bool bilinear, bool align_corners) {
  Taps a{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<double>(out)};
  for (int64_t i = 0; i < out; ++i) {
    if (!bilinear) {
      a.i0[i] = a.i1[i] = std::min(i * in / out, in - 1);
      continue;
    }
    const double di = static_cast<double>(i), din = static_cast<double>(in),
                 dout = static_cast<double>(out);
    const double src = align_corners ? (out > 1 ? di * (din - 1) / (dout - 1) : 0.0)
                                     : std::max(0.0, (di + 0.5) * din / dout - 0.5);
    a.i0[i] = std::min(static_cast<int64_t>(src), in - 1);
    a.i1[i] = std::min(a.i0[i] + 1, in - 1);
    a.t[i] = src - static_cast<double>(a.i0[i]);
  }
  return a;
}

void cpu_upsample(const KernelCall& c, bool backward) {
  const TensorArg &x = backward ? c.out[0] : c.in[0], &y = backward ? c.in[0] : c.out[0];
  const int64_t H = x.shape[2], W = x.shape[3], Ho = y.shape[2], Wo = y.shape[3];
  const bool bilinear = c.attrs.mode == 1;
  const Taps th = axis_taps(H, Ho, bilinear, c.attrs.flag),
             tw = axis_taps(W, Wo, bilinear, c.attrs.flag);
  SG_DISPATCH_FLOAT(x.dtype, "upsample", [&] {
    using T = scalar_t;
    for_each_plane(y.shape, Ho * Wo * (bilinear ? 4 : 1), [&](int64_t pl) {
      T* xp = x.ptr<T>() + pl * H * W;
      T* yp = y.ptr<T>() + pl * Ho * Wo;
      if (backward) std::fill(xp, xp + H * W, T(0));
      for (int64_t i = 0; i < Ho; ++i) {
        T* r0 = xp + th.i0[i] * W;
        T* r1 = xp + th.i1[i] * W;
        const T a1 = static_cast<T>(th.t[i]), a0 = T(1) - a1;
        T* yr = yp + i * Wo;
        for (int64_t j = 0; j < Wo; ++j) {
          const int64_t v0 = tw.i0[j], v1 = tw.i1[j];
          if (!bilinear) {
            if (backward)
              r0[v0] += yr[j];
            else
              yr[j] = r0[v0];
            continue;
          }
          const T b1 = static_cast<T>(tw.t[j]), b0 = T(1) - b1;
          if (backward) {
            const T g = yr[j];
            r0[v0] += a0 * b0 * g, r0[v1] += a0 * b1 * g;
            r1[v0] += a1 * b0 * g, r1[v1] += a1 * b1 * g;
          } else {
            yr[j] = a0 * (b0 * r0[v0] + b1 * r0[v1]) + a1 * (b0 * r1[v0] + b1 * r1[v1]);
          }
        }
      }
    });
  });
}
void cpu_upsample_forward(const KernelCall& c) { cpu_upsample(c, false); }
void cpu_upsample_backward(const KernelCall& c) { cpu_upsample(c, true); }

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_conv_pool() {
  using namespace kernels;
  register_kernel(OpId::max_pool2d, Backend::cpu, cpu_max_pool2d);
  register_kernel(OpId::max_pool2d_backward, Backend::cpu, cpu_max_pool2d_backward);
  register_kernel(OpId::avg_pool2d, Backend::cpu, cpu_avg_pool2d);
  register_kernel(OpId::avg_pool2d_backward, Backend::cpu, cpu_avg_pool2d_backward);
  register_kernel(OpId::adaptive_avg_pool2d, Backend::cpu, cpu_adaptive_avg_pool2d);
  register_kernel(OpId::adaptive_avg_pool2d_backward, Backend::cpu,
                  cpu_adaptive_avg_pool2d_backward);
  register_kernel(OpId::upsample, Backend::cpu, cpu_upsample_forward);
  register_kernel(OpId::upsample_backward, Backend::cpu, cpu_upsample_backward);
}
}  // namespace stackgrad
