// Reference kernels of the conv family: plain loops over every output (or input) element, sums
// in double, any strides. The oracle of the op tests; geometry in attrs.ints as documented in
// engine/dispatch/ops/conv.def.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Element (a, b, c, d) of a 4-D argument.
template <typename T>
T& at4(const TensorArg& t, int64_t a, int64_t b, int64_t c, int64_t d) {
  return t.ptr<T>()[a * t.strides[0] + b * t.strides[1] + c * t.strides[2] + d * t.strides[3]];
}

struct ConvGeometry {
  int64_t sh, sw, ph, pw, dh, dw, groups;
  explicit ConvGeometry(const OpAttrs& a)
      : sh(a.ints[0]),
        sw(a.ints[1]),
        ph(a.ints[2]),
        pw(a.ints[3]),
        dh(a.ints[4]),
        dw(a.ints[5]),
        groups(a.ints[6]) {}
};

// Calls f(n, o, i, j, c, p, q, h, v) for every (output, weight tap) pair whose input position
// (h, v) lies inside the image: the one loop nest all three conv kernels share.
template <typename F>
void for_each_tap(const ConvGeometry& g, const int64_t* xs, const int64_t* ws, const int64_t* ys,
                  F&& f) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const int64_t O = ws[0], Cg = C / g.groups, Og = O / g.groups, KH = ws[2], KW = ws[3];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < ys[2]; ++i)
        for (int64_t j = 0; j < ys[3]; ++j)
          for (int64_t cg = 0; cg < Cg; ++cg)
            for (int64_t p = 0; p < KH; ++p)
              for (int64_t q = 0; q < KW; ++q) {
                const int64_t h = i * g.sh - g.ph + p * g.dh, v = j * g.sw - g.pw + q * g.dw;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                f(n, o, i, j, (o / Og) * Cg + cg, cg, p, q, h, v);
              }
}

void ref_conv2d(const KernelCall& c) {
  const TensorArg &x = c.in[0], &w = c.in[1], &y = c.out[0];
  const ConvGeometry g(c.attrs);
  SG_DISPATCH_FLOAT(x.dtype, "conv2d", [&] {
    using T = scalar_t;
    std::vector<double> acc(y.numel, 0.0);
    auto idx = [&](int64_t n, int64_t o, int64_t i, int64_t j) {
      return ((n * y.shape[1] + o) * y.shape[2] + i) * y.shape[3] + j;
    };
    for_each_tap(g, x.shape, w.shape, y.shape,
                 [&](int64_t n, int64_t o, int64_t i, int64_t j, int64_t ch, int64_t cg, int64_t p,
                     int64_t q, int64_t h, int64_t v) {
                   acc[idx(n, o, i, j)] += static_cast<double>(at4<T>(x, n, ch, h, v)) *
                                           static_cast<double>(at4<T>(w, o, cg, p, q));
                 });
    const bool bias = c.in.size() > 2;
    for (int64_t n = 0; n < y.shape[0]; ++n)
      for (int64_t o = 0; o < y.shape[1]; ++o)
        for (int64_t i = 0; i < y.shape[2]; ++i)
          for (int64_t j = 0; j < y.shape[3]; ++j) {
            double b = bias ? static_cast<double>(c.in[2].ptr<T>()[o * c.in[2].strides[0]]) : 0.0;
            at4<T>(y, n, o, i, j) = static_cast<T>(acc[idx(n, o, i, j)] + b);
          }
  });
}

// dx[n, c, h, v] = sum over the taps reading (h, v) of dy[n, o, i, j] w[o, c, p, q].
void ref_conv2d_backward_input(const KernelCall& c) {
  const TensorArg &dy = c.in[0], &w = c.in[1], &dx = c.out[0];
  const ConvGeometry g(c.attrs);
  SG_DISPATCH_FLOAT(dy.dtype, "conv2d_backward_input", [&] {
    using T = scalar_t;
    std::vector<double> acc(dx.numel, 0.0);
    for_each_tap(g, dx.shape, w.shape, dy.shape,
                 [&](int64_t n, int64_t o, int64_t i, int64_t j, int64_t ch, int64_t cg, int64_t p,
                     int64_t q, int64_t h, int64_t v) {
                   acc[((n * dx.shape[1] + ch) * dx.shape[2] + h) * dx.shape[3] + v] +=
                       static_cast<double>(at4<T>(dy, n, o, i, j)) *
                       static_cast<double>(at4<T>(w, o, cg, p, q));
                 });
    for (int64_t e = 0; e < dx.numel; ++e) ref_at<T>(dx, e) = static_cast<T>(acc[e]);
  });
}

// dw[o, c, p, q] = sum over n, i, j of dy[n, o, i, j] x[n, c, h(i, p), v(j, q)].
void ref_conv2d_backward_weight(const KernelCall& c) {
  const TensorArg &dy = c.in[0], &x = c.in[1], &dw = c.out[0];
  const ConvGeometry g(c.attrs);
  SG_DISPATCH_FLOAT(dy.dtype, "conv2d_backward_weight", [&] {
    using T = scalar_t;
    std::vector<double> acc(dw.numel, 0.0);
    for_each_tap(g, x.shape, dw.shape, dy.shape,
                 [&](int64_t n, int64_t o, int64_t i, int64_t j, int64_t ch, int64_t cg, int64_t p,
                     int64_t q, int64_t h, int64_t v) {
                   acc[((o * dw.shape[1] + cg) * dw.shape[2] + p) * dw.shape[3] + q] +=
                       static_cast<double>(at4<T>(dy, n, o, i, j)) *
                       static_cast<double>(at4<T>(x, n, ch, h, v));
                 });
    for (int64_t e = 0; e < dw.numel; ++e) ref_at<T>(dw, e) = static_cast<T>(acc[e]);
  });
}

// --- pooling and upsampling: one output element at a time ---

struct PoolGeometry {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  explicit PoolGeometry(const OpAttrs& a)
      : kh(a.ints[0]),
        kw(a.ints[1]),
        sh(a.ints[2]),
        sw(a.ints[3]),
        ph(a.ints[4]),
        pw(a.ints[5]),
        dh(a.ints[6]),
        dw(a.ints[7]) {}
};

// Calls f(n, c, i, j) for every element of a 4-D shape.
template <typename F>
void for_each_nchw(const int64_t* s, F&& f) {
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < s[1]; ++c)
      for (int64_t i = 0; i < s[2]; ++i)
        for (int64_t j = 0; j < s[3]; ++j) f(n, c, i, j);
}

void ref_max_pool2d(const KernelCall& c) {
  const TensorArg &x = c.in[0], &y = c.out[0], &ind = c.out[1];
  const PoolGeometry g(c.attrs);
  SG_DISPATCH_FLOAT(x.dtype, "max_pool2d", [&] {
    using T = scalar_t;
    for_each_nchw(y.shape, [&](int64_t n, int64_t ch, int64_t i, int64_t j) {
      double best = -std::numeric_limits<double>::infinity();
      int64_t where = -1;
      for (int64_t p = 0; p < g.kh; ++p)
        for (int64_t q = 0; q < g.kw; ++q) {
          const int64_t h = i * g.sh - g.ph + p * g.dh, v = j * g.sw - g.pw + q * g.dw;
          if (h < 0 || h >= x.shape[2] || v < 0 || v >= x.shape[3]) continue;
          const double val = static_cast<double>(at4<T>(x, n, ch, h, v));
          if (where < 0 || val > best || std::isnan(val)) {
            best = val;
            where = h * x.shape[3] + v;
          }
        }
      at4<T>(y, n, ch, i, j) = static_cast<T>(best);
      at4<int64_t>(ind, n, ch, i, j) = where;
    });
  });
}

void ref_max_pool2d_backward(const KernelCall& c) {
  const TensorArg &dy = c.in[0], &ind = c.in[1], &dx = c.out[0];
  SG_DISPATCH_FLOAT(dy.dtype, "max_pool2d_backward", [&] {
    using T = scalar_t;
    std::vector<double> acc(dx.numel, 0.0);
    const int64_t W = dx.shape[3], plane = dx.shape[2] * W;
    for_each_nchw(dy.shape, [&](int64_t n, int64_t ch, int64_t i, int64_t j) {
      const int64_t k = at4<int64_t>(ind, n, ch, i, j);
      if (k < 0 || k >= plane)
        fail("max_pool2d_backward: index ", k, " is outside the ", dx.shape[2], "x", W, " plane");
      acc[(n * dx.shape[1] + ch) * plane + k] += static_cast<double>(at4<T>(dy, n, ch, i, j));
    });
    for (int64_t e = 0; e < dx.numel; ++e) ref_at<T>(dx, e) = static_cast<T>(acc[e]);
  });
}

// Window of output (i, j) of avg_pool2d: rows [h0, h1), columns [v0, v1) clipped to the image,
// and the divisor.
struct AvgWindow {
  int64_t h0, h1, v0, v1;
  double divisor;
};
AvgWindow avg_window(const PoolGeometry& g, bool include_pad, int64_t H, int64_t W, int64_t i,
                     int64_t j) {
  int64_t h0 = i * g.sh - g.ph, v0 = j * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, H + g.ph), v1 = std::min(v0 + g.kw, W + g.pw);
  const int64_t padded = (h1 - h0) * (v1 - v0);
  h0 = std::max<int64_t>(h0, 0);
  v0 = std::max<int64_t>(v0, 0);
  h1 = std::min(h1, H);
  v1 = std::min(v1, W);
  return {h0, h1, v0, v1, static_cast<double>(include_pad ? padded : (h1 - h0) * (v1 - v0))};
}

// Window of output (i, j) of adaptive_avg_pool2d.
AvgWindow adaptive_window(int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t i, int64_t j) {
  const int64_t h0 = i * H / Ho, h1 = ((i + 1) * H + Ho - 1) / Ho;
  const int64_t v0 = j * W / Wo, v1 = ((j + 1) * W + Wo - 1) / Wo;
  return {h0, h1, v0, v1, static_cast<double>((h1 - h0) * (v1 - v0))};
}

// y = mean over the window (forward), or dx += dy / divisor over the window (backward).
template <typename Window>
void ref_window_mean(const KernelCall& c, bool backward, Window window) {
  const TensorArg &a = c.in[0], &b = c.out[0];
  const TensorArg &x = backward ? b : a, &y = backward ? a : b;
  SG_DISPATCH_FLOAT(a.dtype, "avg_pool2d", [&] {
    using T = scalar_t;
    std::vector<double> acc(x.numel, 0.0);
    for_each_nchw(y.shape, [&](int64_t n, int64_t ch, int64_t i, int64_t j) {
      const AvgWindow w = window(i, j);
      double s = 0;
      for (int64_t h = w.h0; h < w.h1; ++h)
        for (int64_t v = w.v0; v < w.v1; ++v) {
          if (backward)
            acc[((n * x.shape[1] + ch) * x.shape[2] + h) * x.shape[3] + v] +=
                static_cast<double>(at4<T>(y, n, ch, i, j)) / w.divisor;
          else
            s += static_cast<double>(at4<T>(x, n, ch, h, v));
        }
      if (!backward) at4<T>(y, n, ch, i, j) = static_cast<T>(s / w.divisor);
    });
    if (backward)
      for (int64_t e = 0; e < x.numel; ++e) ref_at<T>(x, e) = static_cast<T>(acc[e]);
  });
}

void ref_avg_pool(const KernelCall& c, bool backward) {
  const TensorArg& x = backward ? c.out[0] : c.in[0];
  const PoolGeometry g(c.attrs);
  ref_window_mean(c, backward, [&](int64_t i, int64_t j) {
    return avg_window(g, c.attrs.flag2, x.shape[2], x.shape[3], i, j);
  });
}
void ref_avg_pool2d(const KernelCall& c) { ref_avg_pool(c, false); }
void ref_avg_pool2d_backward(const KernelCall& c) { ref_avg_pool(c, true); }

void ref_adaptive(const KernelCall& c, bool backward) {
  const TensorArg &x = backward ? c.out[0] : c.in[0], &y = backward ? c.in[0] : c.out[0];
  ref_window_mean(c, backward, [&](int64_t i, int64_t j) {
    return adaptive_window(x.shape[2], x.shape[3], y.shape[2], y.shape[3], i, j);
  });
}
void ref_adaptive_avg_pool2d(const KernelCall& c) { ref_adaptive(c, false); }
void ref_adaptive_avg_pool2d_backward(const KernelCall& c) { ref_adaptive(c, true); }

// Source taps of output coordinate i along one axis: (i0, i1, weight of i1). Nearest uses i0.
struct Taps {
  int64_t i0, i1;
  double t;
};
Taps source_taps(int64_t i, int64_t in, int64_t out, bool bilinear, bool align_corners) {
  if (!bilinear) {
    const int64_t s = std::min(i * in / out, in - 1);
    return {s, s, 0.0};
  }
  double src;
  if (align_corners)
    src = out > 1
              ? static_cast<double>(i) * static_cast<double>(in - 1) / static_cast<double>(out - 1)
              : 0.0;
  else
    src = std::max(
        0.0,
        (static_cast<double>(i) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5);
  const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
  return {i0, std::min(i0 + 1, in - 1), src - static_cast<double>(i0)};
}

void ref_upsample(const KernelCall& c, bool backward) {
  const TensorArg &a = c.in[0], &b = c.out[0];
  const TensorArg &x = backward ? b : a, &y = backward ? a : b;
  const bool bilinear = c.attrs.mode == 1, align = c.attrs.flag;
  SG_DISPATCH_FLOAT(a.dtype, "upsample", [&] {
    using T = scalar_t;
    std::vector<double> acc(x.numel, 0.0);
    for_each_nchw(y.shape, [&](int64_t n, int64_t ch, int64_t i, int64_t j) {
      const Taps th = source_taps(i, x.shape[2], y.shape[2], bilinear, align);
      const Taps tw = source_taps(j, x.shape[3], y.shape[3], bilinear, align);
      const int64_t hs[2] = {th.i0, th.i1}, vs[2] = {tw.i0, tw.i1};
      const double wh[2] = {1.0 - th.t, th.t}, wv[2] = {1.0 - tw.t, tw.t};
      double s = 0;
      for (int a_ = 0; a_ < 2; ++a_)
        for (int b_ = 0; b_ < 2; ++b_) {
          const double wt = wh[a_] * wv[b_];
          if (backward)
            acc[((n * x.shape[1] + ch) * x.shape[2] + hs[a_]) * x.shape[3] + vs[b_]] +=
                wt * static_cast<double>(at4<T>(y, n, ch, i, j));
          else
            s += wt * static_cast<double>(at4<T>(x, n, ch, hs[a_], vs[b_]));
        }
      if (!backward) at4<T>(y, n, ch, i, j) = static_cast<T>(s);
    });
    if (backward)
      for (int64_t e = 0; e < x.numel; ++e) ref_at<T>(x, e) = static_cast<T>(acc[e]);
  });
}
void ref_upsample_forward(const KernelCall& c) { ref_upsample(c, false); }
void ref_upsample_backward(const KernelCall& c) { ref_upsample(c, true); }

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_conv() {
  using namespace kernels;
  register_kernel(OpId::conv2d, Backend::reference, ref_conv2d);
  register_kernel(OpId::conv2d_backward_input, Backend::reference, ref_conv2d_backward_input);
  register_kernel(OpId::conv2d_backward_weight, Backend::reference, ref_conv2d_backward_weight);
  register_kernel(OpId::max_pool2d, Backend::reference, ref_max_pool2d);
  register_kernel(OpId::max_pool2d_backward, Backend::reference, ref_max_pool2d_backward);
  register_kernel(OpId::avg_pool2d, Backend::reference, ref_avg_pool2d);
  register_kernel(OpId::avg_pool2d_backward, Backend::reference, ref_avg_pool2d_backward);
  register_kernel(OpId::adaptive_avg_pool2d, Backend::reference, ref_adaptive_avg_pool2d);
  register_kernel(OpId::adaptive_avg_pool2d_backward, Backend::reference,
                  ref_adaptive_avg_pool2d_backward);
  register_kernel(OpId::upsample, Backend::reference, ref_upsample_forward);
  register_kernel(OpId::upsample_backward, Backend::reference, ref_upsample_backward);
}
}  // namespace stackgrad
