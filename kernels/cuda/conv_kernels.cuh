// The CUDA conv2d kernels, shared by kernels/cuda/conv.cu (which registers them, through the
// launchers in conv_launch.cuh), kernels/lab/conv/conv_cuda_lab.cu (which times each version on
// its own) and tests/unit/test_cuda_conv_emulation.cpp (which runs them on the CPU under
// tests/support/cuda_emulation.h). Device code only: no CUDA header, so a host compiler takes
// it as C++ under that emulation.
//
// Two versions per pass, chosen by plan_conv() (kernels/cuda/conv_plan.h):
//   - direct: the reference's loops on the device, sums in double, any size (int64 indices).
//     Forward and input gradient: one thread per output element; weight gradient: one
//     256-thread block per weight element, whose threads stride over (n, i, j) and add their
//     partial sums in a fixed tree. f64 always takes it, f32 when the GEMM is too thin for a tile.
//   - tiled: implicit GEMM in f32 (views in conv_plan.h). No im2col buffer: every thread gathers
//     its share of the A (128 x 8) and B (8 x 64) tiles straight from the image, gradient or
//     filters into shared memory, with the padding (and, for the input gradient, the stride)
//     handled by predicated loads that read 0. The per-row decomposition (n, i, j) or
//     (c, p, q) of the thread's four A rows and two B columns is computed once per block; the
//     K-side decomposition once per thread per 8-deep step (each thread loads a single k of
//     each tile). Shared memory is double buffered: the next tile's global loads are issued
//     into registers before the current tile's 8 x (8 x 4) FMAs per thread, so one barrier per
//     step suffices. Rows are padded by 4 floats so that the stores into shared memory hit 32
//     distinct banks and the float4 reads stay 16-byte aligned.
//     K may be split over blockIdx.z (plan_conv decides): each split writes its partial sums
//     to a workspace and conv_split_sum adds them in split order, so results do not depend on
//     scheduling (no float atomics anywhere).
//
// The input gradient is the "sum over valid taps" formulation: for input pixel (h, v) and tap
// (p, q), the output (i, j) that read it is ((h + pad_h - p d_h) / s_h, ...) when that divides
// exactly and lies in the output; other taps load 0. With stride 1 every tap that lands inside
// the output is used; with stride s about (s_h s_w - 1) / (s_h s_w) of the multiply-adds are on
// zeros. Stride-decomposed sub-problems (one per (h mod s_h, v mod s_w) phase, each a dense
// stride-1 GEMM over the taps of that phase) would skip them; the UNet shapes this backend is
// measured on are all stride 1, so the simpler gather came first.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/conv_gather.h"
#include "kernels/cuda/conv_plan.h"

namespace stackgrad::kernels::gpu {

// Threads per block of the direct kernels, loops.cuh's kThreads (conv_launch.cuh checks that they
// agree); conv_weight_grad_direct's tree needs exactly this many.
constexpr int kConvDirectThreads = 256;

// ---------------------------------------------------------------------------------------------
// Direct kernels.

template <typename T>
__global__ void conv_fwd_direct(ConvDev d, const T* __restrict__ x, const T* __restrict__ w,
                                const T* __restrict__ bias, T* __restrict__ y) {
  const int64_t total = d.N * d.O * d.P, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += step) {
    const int64_t j = e % d.Wo, i = (e / d.Wo) % d.Ho, o = (e / d.P) % d.O, n = e / (d.P * d.O);
    const T* xg = x + (n * d.C + (o / d.Og) * d.Cg) * d.H * d.W;
    const T* wo = w + o * d.K;
    double acc = 0;
    for (int64_t c = 0; c < d.Cg; ++c)
      for (int64_t p = 0; p < d.KH; ++p) {
        const int64_t h = i * d.sh - d.ph + p * d.dh;
        if (h < 0 || h >= d.H) continue;
        for (int64_t q = 0; q < d.KW; ++q) {
          const int64_t v = j * d.sw - d.pw + q * d.dw;
          if (v < 0 || v >= d.W) continue;
          acc += static_cast<double>(xg[(c * d.H + h) * d.W + v]) *
                 static_cast<double>(wo[(c * d.KH + p) * d.KW + q]);
        }
      }
    if (bias) acc += static_cast<double>(bias[o]);
    y[e] = static_cast<T>(acc);
  }
}

// dx[n, c, h, v]: every (o, p, q) of c's group whose output position divides exactly.
template <typename T>
__global__ void conv_input_grad_direct(ConvDev d, const T* __restrict__ dy, const T* __restrict__ w,
                                       T* __restrict__ dx) {
  const int64_t total = d.N * d.C * d.H * d.W, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += step) {
    const int64_t v = e % d.W, h = (e / d.W) % d.H, c = (e / (d.H * d.W)) % d.C,
                  n = e / (d.H * d.W * d.C);
    const int64_t g = c / d.Cg, cg = c % d.Cg;
    double acc = 0;
    for (int64_t ol = 0; ol < d.Og; ++ol) {
      const int64_t o = g * d.Og + ol;
      const T* dyo = dy + (n * d.O + o) * d.P;
      const T* wo = w + (o * d.Cg + cg) * d.KK;
      for (int64_t p = 0; p < d.KH; ++p) {
        const int64_t th = h + d.ph - p * d.dh;
        if (th < 0 || th % d.sh != 0 || th / d.sh >= d.Ho) continue;
        const int64_t i = th / d.sh;
        for (int64_t q = 0; q < d.KW; ++q) {
          const int64_t tv = v + d.pw - q * d.dw;
          if (tv < 0 || tv % d.sw != 0 || tv / d.sw >= d.Wo) continue;
          acc += static_cast<double>(dyo[i * d.Wo + tv / d.sw]) *
                 static_cast<double>(wo[p * d.KW + q]);
        }
      }
    }
    dx[e] = static_cast<T>(acc);
  }
}

// dw[o, c, p, q]: one block per weight element (grid-stride over elements); thread t adds the
// (n, i, j) positions t, t + 256, ... in double, then the block adds the 256 partials in a
// fixed tree.
template <typename T>
__global__ void __launch_bounds__(kConvDirectThreads)
    conv_weight_grad_direct(ConvDev d, const T* __restrict__ dy, const T* __restrict__ x,
                            T* __restrict__ dw) {
  __shared__ double part[kConvDirectThreads];
  const int64_t total = d.O * d.K, span = d.N * d.P;
  for (int64_t e = blockIdx.x; e < total; e += gridDim.x) {  // the same trip count block-wide
    const int64_t q = e % d.KW, p = (e / d.KW) % d.KH, cg = (e / d.KK) % d.Cg, o = e / d.K;
    const int64_t ch = (o / d.Og) * d.Cg + cg;
    double acc = 0;
    for (int64_t k = threadIdx.x; k < span; k += kConvDirectThreads) {
      const int64_t n = k / d.P, pix = k % d.P, i = pix / d.Wo, j = pix % d.Wo;
      const int64_t h = i * d.sh - d.ph + p * d.dh, v = j * d.sw - d.pw + q * d.dw;
      if (h < 0 || h >= d.H || v < 0 || v >= d.W) continue;
      acc += static_cast<double>(dy[(n * d.O + o) * d.P + pix]) *
             static_cast<double>(x[((n * d.C + ch) * d.H + h) * d.W + v]);
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int half = kConvDirectThreads / 2; half > 0; half /= 2) {
      if (static_cast<int>(threadIdx.x) < half) part[threadIdx.x] += part[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) dw[e] = static_cast<T>(part[0]);
    __syncthreads();  // part[0] is read before the next element overwrites it
  }
}

// ---------------------------------------------------------------------------------------------
// Tiled implicit GEMM (f32); the index maps of the three passes are in conv_gather.h.

constexpr int kTM = static_cast<int>(kConvTileM), kTN = static_cast<int>(kConvTileN),
              kTK = static_cast<int>(kConvTileK);
constexpr int kRowPad = 4;

// One 128 x 64 tile of C for group group0 + blockIdx.z / splits and K split blockIdx.z % splits.
// kAFastM: consecutive threads load consecutive m of A (the image runs along m: forward, input
// gradient) rather than consecutive k (weight gradient, where the image runs along k).
// B is always loaded k-fastest (the filters and dy run along k in every view).
template <class Prob, bool kAFastM>
__global__ void __launch_bounds__(kConvThreads)
    conv_igemm(Prob prob, int64_t M, int64_t N, int64_t K, int64_t k_chunk, int64_t splits,
               int64_t group0, float* __restrict__ ws, int64_t out_elems) {
  __shared__ __align__(16) float As[2][kTK][kTM + kRowPad];
  __shared__ __align__(16) float Bs[2][kTK][kTN + kRowPad];
  const int t = threadIdx.x;
  const int64_t split = blockIdx.z % splits, g = group0 + blockIdx.z / splits;
  const int64_t m0 = int64_t(blockIdx.x) * kTM, n0 = int64_t(blockIdx.y) * kTN;
  const int64_t kb = split * k_chunk, ke = kb + k_chunk < K ? kb + k_chunk : K;
  const int a_kk = a_depth_of(t, kAFastM), a_r = a_row_of(t, kAFastM);
  const int b_kk = b_depth_of(t), b_c = b_col_of(t);
  typename Prob::Row rows[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) rows[i] = prob.a_row(g, m0 + a_r + 32 * i, M);
  typename Prob::Col cols[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) cols[i] = prob.b_col(g, n0 + b_c + 32 * i, N);
  float ra[4], rb[2];
  auto load = [&](int64_t k0) {
    const typename Prob::AK ak = prob.a_k(g, k0 + a_kk, ke);
#pragma unroll
    for (int i = 0; i < 4; ++i) ra[i] = prob.a_load(rows[i], ak);
    const typename Prob::BK bk = prob.b_k(g, k0 + b_kk, ke);
#pragma unroll
    for (int i = 0; i < 2; ++i) rb[i] = prob.b_load(cols[i], bk);
  };
  auto stash = [&](int buf) {
#pragma unroll
    for (int i = 0; i < 4; ++i) As[buf][a_kk][a_r + 32 * i] = ra[i];
#pragma unroll
    for (int i = 0; i < 2; ++i) Bs[buf][b_kk][b_c + 32 * i] = rb[i];
  };
  // Compute roles (c_row_of, c_col_of): rows tx*4 + {0..3} and 64 + tx*4 + {0..3}, columns
  // ty*4 + {0..3}, read as float4 from shared memory.
  const int tx = t % 16, ty = t / 16;
  float acc[8][4];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
  const int64_t steps = ke > kb ? (ke - kb + kTK - 1) / kTK : 0;
  if (steps > 0) {
    load(kb);
    stash(0);
  }
  __syncthreads();
  for (int64_t s = 0; s < steps; ++s) {
    const int buf = static_cast<int>(s & 1);
    const bool more = s + 1 < steps;
    if (more) load(kb + (s + 1) * kTK);  // global loads in flight during the FMAs below
#pragma unroll
    for (int kk = 0; kk < kTK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][kk][tx * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][kk][64 + tx * 4]);
      const float4 b4 = *reinterpret_cast<const float4*>(&Bs[buf][kk][ty * 4]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    // The other buffer was last read in step s - 1, before the barrier that ended it.
    if (more) stash(buf ^ 1);
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t m = m0 + c_row_of(t, i);
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t n = n0 + c_col_of(t, j);
      if (n >= N) continue;
      const int64_t idx = prob.out_index(g, m, n);
      if (splits == 1)
        prob.out[idx] = prob.finish(g, n, acc[i][j]);
      else
        ws[split * out_elems + idx] = acc[i][j];
    }
  }
}

// out[e] = Σ_s ws[s][e] in split order (+ bias[channel of e] for the forward pass). A template
// (only float is used) so that every file including this header may instantiate it.
template <typename T>
__global__ void conv_split_sum(const T* __restrict__ ws, int64_t splits, int64_t n,
                               const T* __restrict__ bias, int64_t plane, int64_t channels,
                               T* __restrict__ out) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    T s = 0;
    for (int64_t k = 0; k < splits; ++k) s += ws[k * n + e];
    if (bias) s += bias[(e / plane) % channels];
    out[e] = s;
  }
}

}  // namespace stackgrad::kernels::gpu
