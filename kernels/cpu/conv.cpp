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
// Limits: contiguous operands (the op layer copies others); col of one image lives in memory
// at once (K x P elements), no tiling of P.
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

// y[n] for images [lo, hi): im2col then one GEMM per group; bias preloaded into y.
template <typename T>
void conv_forward_images(const ConvShape& s, const T* x, const T* w, const T* bias, T* y,
                         int64_t lo, int64_t hi) {
  std::vector<T> col(s.pointwise() ? 0 : s.K * s.P);
  for (int64_t n = lo; n < hi; ++n) {
    for (int64_t g = 0; g < s.G; ++g) {
      const T* xg = x + (n * s.C + g * s.Cg) * s.H * s.W;
      T* yg = y + (n * s.O + g * s.Og) * s.P;
      if (bias)
        for (int64_t o = 0; o < s.Og; ++o) std::fill(yg + o * s.P, yg + (o + 1) * s.P, bias[g * s.Og + o]);
      const T* b = xg;
      if (!s.pointwise()) {
        im2col(s, xg, col.data());
        b = col.data();
      }
      gemm<T>(Mat<T>{s.Og, s.P, s.K, w + g * s.Og * s.K, s.K, 1, b, s.P, 1, yg, s.P, 1},
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

void cpu_conv2d_backward_input(const KernelCall& c) {
  const ConvShape s(c.out[0].shape, c.in[1].shape, c.in[0].shape, c.attrs.ints);
  SG_DISPATCH_FLOAT(c.in[0].dtype, "conv2d_backward_input", [&] {
    using T = scalar_t;
    const T *dy = c.in[0].ptr<T>(), *w = c.in[1].ptr<T>();
    T* dx = c.out[0].ptr<T>();
    parallel_for(0, s.N, 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> col(s.pointwise() ? 0 : s.K * s.P);
      for (int64_t n = lo; n < hi; ++n)
        for (int64_t g = 0; g < s.G; ++g) {
          T* dxg = dx + (n * s.C + g * s.Cg) * s.H * s.W;
          T* dst = s.pointwise() ? dxg : col.data();
          // Wᵀ: element (k, o) of W_g [Og, K] sits at o * K + k.
          gemm<T>(Mat<T>{s.K, s.P, s.Og, w + g * s.Og * s.K, 1, s.K,
                         dy + (n * s.O + g * s.Og) * s.P, s.P, 1, dst, s.P, 1});
          if (!s.pointwise()) col2im(s, col.data(), dxg);
        }
    });
  });
}

void cpu_conv2d_backward_weight(const KernelCall& c) {
  const ConvShape s(c.in[1].shape, c.out[0].shape, c.in[0].shape, c.attrs.ints);
  SG_DISPATCH_FLOAT(c.in[0].dtype, "conv2d_backward_weight", [&] {
    using T = scalar_t;
    const T *dy = c.in[0].ptr<T>(), *x = c.in[1].ptr<T>();
    T* dw = c.out[0].ptr<T>();
    const int64_t wsize = s.O * s.K;
    if (s.N == 0) {
      std::fill(dw, dw + wsize, T(0));
      return;
    }
    // Chunk t sums images [N t / chunks, N (t + 1) / chunks) into its own partial dW.
    const int64_t chunks = std::min<int64_t>(num_threads(), s.N);
    std::vector<T> partial((chunks - 1) * wsize);
    parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> col(s.pointwise() ? 0 : s.K * s.P);
      for (int64_t t = lo; t < hi; ++t) {
        T* acc = t == 0 ? dw : partial.data() + (t - 1) * wsize;
        for (int64_t n = s.N * t / chunks; n < s.N * (t + 1) / chunks; ++n)
          for (int64_t g = 0; g < s.G; ++g) {
            const T* xg = x + (n * s.C + g * s.Cg) * s.H * s.W;
            const T* b = xg;
            if (!s.pointwise()) {
              im2col(s, xg, col.data());
              b = col.data();
            }
            // colᵀ: element (p, k) of col [K, P] sits at k * P + p.
            gemm<T>(Mat<T>{s.Og, s.K, s.P, dy + (n * s.O + g * s.Og) * s.P, s.P, 1, b, 1, s.P,
                           acc + g * s.Og * s.K, s.K, 1},
                    n != s.N * t / chunks);
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
