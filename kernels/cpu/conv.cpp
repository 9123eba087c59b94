// CPU kernels of conv2d and its two gradients: im2col + the packed GEMM (kernels/cpu/gemm.h).
//
// Per image n and group g, with K = C/groups * kh * kw and P = Ho * Wo:
//   forward          y[n, g]  [O/g, P] = W_g [O/g, K] · col(x[n, g]) [K, P]   (+ bias)
//   input gradient   dcol     [K, P]   = W_gᵀ [K, O/g] · dy[n, g] [O/g, P], then col2im
//   weight gradient  dW_g     [O/g, K] = Σ_n dy[n, g] [O/g, P] · col(x[n, g])ᵀ [P, K]
// col row (c, p, q) holds x[c, i s_h - pad_h + p d_h, j s_w - pad_w + q d_w] at column i Wo + j
// (zero in the padding). A 1x1 stride-1 unpadded conv uses x itself as col (a plain GEMM).
// Threading: images are shared out over parallel_for (each task owns its col buffer and runs the
// GEMM serially); with one image the GEMM parallelises over its own tiles. The weight gradient
// sums per-chunk partials in chunk order, so it is deterministic for a given thread count.
// Bands: im2col covers a band of output rows at a time, sized so col stays in L2 (band_rows).
// Limits: contiguous operands (the op layer copies others); no implicit GEMM (col is written
// and read once per band); one GEMM orientation per pass.
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/conv_im2col.h"
#include "kernels/cpu/gemm.h"

namespace stackgrad::kernels {
namespace {

template <typename T>
using Mat = GemmProblem<T>;

// Output rows per im2col band: col [K, rows Wo] within kColBudget elements (it then stays in
// the 1 MiB L2 between im2col and the GEMM), but at least kMinBandColumns wide (narrower GEMMs
// lose more to packing than the cache saves). A 1x1 stride-1 conv needs no col at all.
constexpr int64_t kColBudget = 131072, kMinBandColumns = 256;

int64_t band_rows(const ConvShape& s) {
  if (s.pointwise() || s.Wo == 0) return std::max<int64_t>(s.Ho, 1);
  const int64_t rows =
      std::max(kColBudget / std::max<int64_t>(1, s.K * s.Wo), (kMinBandColumns + s.Wo - 1) / s.Wo);
  return std::clamp<int64_t>(rows, 1, std::max<int64_t>(s.Ho, 1));
}

template <typename T>
std::vector<T> col_buffer(const ConvShape& s, int64_t rows) {
  return std::vector<T>(s.pointwise() ? 0 : s.K * rows * s.Wo);
}

// y[n] for images [lo, hi), per group and band: im2col then one GEMM into y's rows; the bias
// is preloaded into y and the GEMM accumulates.
template <typename T>
void conv_forward_images(const ConvShape& s, const T* x, const T* w, const T* bias, T* y,
                         int64_t lo, int64_t hi) {
  const int64_t rows = band_rows(s);
  std::vector<T> col = col_buffer<T>(s, rows);
  for (int64_t n = lo; n < hi; ++n)
    for (int64_t g = 0; g < s.G; ++g) {
      const T* xg = x + (n * s.C + g * s.Cg) * s.H * s.W;
      const T* wg = w + g * s.Og * s.K;
      T* yg = y + (n * s.O + g * s.Og) * s.P;
      if (bias)
        for (int64_t o = 0; o < s.Og; ++o)
          std::fill(yg + o * s.P, yg + (o + 1) * s.P, bias[g * s.Og + o]);
      if (s.pointwise()) {
        gemm<T>(Mat<T>{s.Og, s.P, s.K, wg, s.K, 1, xg, s.P, 1, yg, s.P, 1}, bias != nullptr);
        continue;
      }
      for (int64_t i0 = 0; i0 < s.Ho; i0 += rows) {
        const ConvShape b = s.band(i0, rows);
        im2col(b, xg, col.data());
        gemm<T>(Mat<T>{s.Og, b.P, s.K, wg, s.K, 1, col.data(), b.P, 1, yg + i0 * s.Wo, s.P, 1},
                bias != nullptr);
      }
    }
}

void cpu_conv2d(const KernelCall& c) {
  const ConvShape s(c.in[0].shape, c.in[1].shape, c.out[0].shape, c.attrs.ints);
  SG_DISPATCH_FLOAT(c.in[0].dtype, "conv2d", [&] {
    using T = scalar_t;
    const T* bias = c.in.size() > 2 ? c.in[2].ptr<T>() : nullptr;
    parallel_for(0, s.N, 1, [&](int64_t lo, int64_t hi) {
      conv_forward_images<T>(s, c.in[0].ptr<T>(), c.in[1].ptr<T>(), bias, c.out[0].ptr<T>(), lo,
                             hi);
    });
  });
}

// dx[n] = Σ over bands of col2im(W_gᵀ · dy[n, g, band]).
void cpu_conv2d_backward_input(const KernelCall& c) {
  const ConvShape s(c.out[0].shape, c.in[1].shape, c.in[0].shape, c.attrs.ints);
  SG_DISPATCH_FLOAT(c.in[0].dtype, "conv2d_backward_input", [&] {
    using T = scalar_t;
    const T *dy = c.in[0].ptr<T>(), *w = c.in[1].ptr<T>();
    T* dx = c.out[0].ptr<T>();
    const int64_t rows = band_rows(s);
    parallel_for(0, s.N, 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> col = col_buffer<T>(s, rows);
      for (int64_t n = lo; n < hi; ++n)
        for (int64_t g = 0; g < s.G; ++g) {
          T* dxg = dx + (n * s.C + g * s.Cg) * s.H * s.W;
          const T* dyg = dy + (n * s.O + g * s.Og) * s.P;
          // Wᵀ: element (k, o) of W_g [Og, K] sits at o * K + k.
          const T* wt = w + g * s.Og * s.K;
          if (s.pointwise()) {
            gemm<T>(Mat<T>{s.K, s.P, s.Og, wt, 1, s.K, dyg, s.P, 1, dxg, s.P, 1});
            continue;
          }
          std::fill(dxg, dxg + s.Cg * s.H * s.W, T(0));
          for (int64_t i0 = 0; i0 < s.Ho; i0 += rows) {
            const ConvShape b = s.band(i0, rows);
            gemm<T>(
                Mat<T>{s.K, b.P, s.Og, wt, 1, s.K, dyg + i0 * s.Wo, s.P, 1, col.data(), b.P, 1});
            col2im(b, col.data(), dxg);
          }
        }
    });
  });
}

// dW_g = Σ_n Σ_bands dy[n, g, band] · col(band)ᵀ, images split into fixed chunks whose partial
// sums are added in chunk order.
void cpu_conv2d_backward_weight(const KernelCall& c) {
  const ConvShape s(c.in[1].shape, c.out[0].shape, c.in[0].shape, c.attrs.ints);
  SG_DISPATCH_FLOAT(c.in[0].dtype, "conv2d_backward_weight", [&] {
    using T = scalar_t;
    const T *dy = c.in[0].ptr<T>(), *x = c.in[1].ptr<T>();
    T* dw = c.out[0].ptr<T>();
    const int64_t wsize = s.O * s.K;
    std::fill(dw, dw + wsize, T(0));
    if (s.N == 0 || s.P == 0) return;
    const int64_t rows = band_rows(s);
    const int64_t chunks = std::min<int64_t>(num_threads(), s.N);
    std::vector<T> partial((chunks - 1) * wsize, T(0));
    parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> col = col_buffer<T>(s, rows);
      for (int64_t t = lo; t < hi; ++t) {
        T* acc = t == 0 ? dw : partial.data() + (t - 1) * wsize;
        for (int64_t n = s.N * t / chunks; n < s.N * (t + 1) / chunks; ++n)
          for (int64_t g = 0; g < s.G; ++g) {
            const T* xg = x + (n * s.C + g * s.Cg) * s.H * s.W;
            const T* dyg = dy + (n * s.O + g * s.Og) * s.P;
            T* accg = acc + g * s.Og * s.K;
            if (s.pointwise()) {
              // xᵀ: element (p, k) of x_g [K, P] sits at k * P + p.
              gemm<T>(Mat<T>{s.Og, s.K, s.P, dyg, s.P, 1, xg, 1, s.P, accg, s.K, 1}, true);
              continue;
            }
            for (int64_t i0 = 0; i0 < s.Ho; i0 += rows) {
              const ConvShape b = s.band(i0, rows);
              im2col(b, xg, col.data());
              gemm<T>(
                  Mat<T>{s.Og, s.K, b.P, dyg + i0 * s.Wo, s.P, 1, col.data(), 1, b.P, accg, s.K, 1},
                  true);
            }
          }
      }
    });
    for (int64_t t = 1; t < chunks; ++t) {
      const T* p = partial.data() + (t - 1) * wsize;
      for (int64_t i = 0; i < wsize; ++i) dw[i] += p[i];
    }
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_conv_pool();
void register_cpu_conv() {
  using namespace kernels;
  register_kernel(OpId::conv2d, Backend::cpu, cpu_conv2d);
  register_kernel(OpId::conv2d_backward_input, Backend::cpu, cpu_conv2d_backward_input);
  register_kernel(OpId::conv2d_backward_weight, Backend::cpu, cpu_conv2d_backward_weight);
  register_cpu_conv_pool();
}
}  // namespace stackgrad
