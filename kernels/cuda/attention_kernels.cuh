// Device code of the CUDA attention kernels (kernels/cuda/attention.cu, which launches them and
// documents the design): the operand views, the score and dropout helpers, and the tiled and
// generic forward and backward kernels. Included by attention.cu only; kept apart from the host
// code so the kernels depend on nothing but CUDA's built-ins, the tile plan and Philox.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/cuda/attention_plan.h"
#include "kernels/reference/philox.h"

// The kernel's dynamic shared memory, `extern __shared__ type name[]`; a CPU emulation
// (tests/support/cuda_emulation.h) defines it first, as a plain extern array.
#ifndef SG_EXTERN_SHARED
#define SG_EXTERN_SHARED(type, name) extern __shared__ type name[]
#endif

namespace stackgrad::kernels::gpu::attention {

namespace at = attention;

// A 4-D strided operand, read as element [i0, i1, i2, i3].
template <typename T>
struct Mat4 {
  T* p = nullptr;
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  // The (b, h) matrix: element (i, d) is head(b, h)[i * s2 + d * s3].
  __device__ __forceinline__ T* head(int64_t b, int64_t h) const { return p + b * s0 + h * s1; }
};

// The [B, H, Lq] log-sum-exp, strided like the CPU kernel reads it.
template <typename T>
struct Lse {
  T* p = nullptr;
  int64_t s0 = 0, s1 = 0, s2 = 0;
  __device__ __forceinline__ T& at(int64_t b, int64_t h, int64_t i) const {
    return p[b * s0 + h * s1 + i * s2];
  }
};

__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// The problem as every kernel reads it. Acc is the accumulation type.
template <typename T, typename Acc>
struct Problem {
  Mat4<const T> q, k, v;
  Mat4<const T> mask_add;      // mode 2
  Mat4<const bool> mask_bool;  // mode 1
  int64_t B, H, Lq, Lk, D, Dv;
  Acc scale;
  int mode;  // 0 none, 1 bool (true = may attend), 2 additive
  bool causal;
  bool dropout;
  uint64_t seed, offset;
  uint32_t threshold;  // dropped when the Philox word is below it
  Acc keep;            // 1 / (1 - p)
};

__device__ __forceinline__ float ex(float x) { return expf(x); }
__device__ __forceinline__ double ex(double x) { return exp(x); }
__device__ __forceinline__ float lg(float x) { return logf(x); }
__device__ __forceinline__ double lg(double x) { return log(x); }
template <typename Acc>
__device__ __forceinline__ Acc ninf() {
  return -std::numeric_limits<Acc>::infinity();
}
template <typename Acc>
__device__ __forceinline__ Acc pinf() {
  return std::numeric_limits<Acc>::infinity();
}

// The scaled, masked score of query i, key j from the dot product q_i . k_j; -inf where the
// key is masked, past the causal diagonal, or outside the problem (ragged tiles). The CPU's
// order: scale, then the mask, then the causal cut.
template <typename T, typename Acc>
__device__ __forceinline__ Acc score(const Problem<T, Acc>& pr, int64_t b, int64_t h, int64_t i,
                                     int64_t j, Acc dot) {
  if (i >= pr.Lq || j >= pr.Lk || (pr.causal && j > i)) return ninf<Acc>();
  Acc s = dot * pr.scale;
  if (pr.mode == 1) {
    if (!pr.mask_bool.head(b, h)[i * pr.mask_bool.s2 + j * pr.mask_bool.s3]) return ninf<Acc>();
  } else if (pr.mode == 2) {
    s += static_cast<Acc>(pr.mask_add.head(b, h)[i * pr.mask_add.s2 + j * pr.mask_add.s3]);
  }
  return s;
}

// The dropout multiplier of element (bh, i, j): 0 or 1 / (1 - p). Callers pass i < Lq, j < Lk.
// Not inlined: the tiled kernels call it from fully unrolled loops (32 call sites), and ten
// inlined Philox rounds at each would multiply their code size and compile time.
template <typename T, typename Acc>
__device__ __noinline__ Acc dropout_factor(const Problem<T, Acc>& pr, int64_t bh, int64_t i,
                                           int64_t j) {
  const uint64_t e = static_cast<uint64_t>((bh * pr.Lq + i) * pr.Lk + j);
  const Philox4 r = philox4x32(pr.seed, pr.offset + e / 4);
  return r.v[e % 4] < pr.threshold ? Acc(0) : pr.keep;
}

// Stores rows [0, R) x cols [0, HD) of a (rows, cols) operand block into shared memory with row
// stride HD + 1, zero outside rows < n and cols < width. Consecutive threads take consecutive
// columns: coalesced global reads when the operand's last dim is contiguous.
template <int R, int HD, typename T>
__device__ __forceinline__ void load_tile(float* dst, const T* src, int64_t s_row, int64_t s_col,
                                          int n, int64_t width) {
  for (int x = threadIdx.x; x < R * HD; x += at::kThreads) {
    const int r = x / HD, d = x % HD;
    dst[r * (HD + 1) + d] =
        r < n && d < width ? static_cast<float>(src[r * s_row + d * s_col]) : 0.0f;
  }
}

// ------------------------------------------------------------------------------------------
// Tiled forward (f32 accumulation).

template <typename T, int HD>
__global__ void __launch_bounds__(at::kThreads)
    fwd_tiled(Problem<T, float> pr, Mat4<T> out, Lse<float> lse, int64_t q_tiles) {
  constexpr int BQ = at::kFwdQ, BK = at::kFwdK, S = HD + 1, PS = BK + 1, NC = HD / 8;
  SG_EXTERN_SHARED(float, smem);
  float* Qs = smem;
  float* KV = Qs + BQ * S;
  float* Ps = KV + BK * S;
  const int t = threadIdx.x, tx = t % 8, ty = t / 8;
  const int64_t bh = blockIdx.x / q_tiles;
  int64_t qt = blockIdx.x % q_tiles;
  if (pr.causal) qt = q_tiles - 1 - qt;  // the longest tiles first
  const int64_t b = bh / pr.H, h = bh % pr.H, i0 = qt * BQ;
  const int mq = static_cast<int>(imin(BQ, pr.Lq - i0));
  const T* qh = pr.q.head(b, h) + i0 * pr.q.s2;
  const T* kh = pr.k.head(b, h);
  const T* vh = pr.v.head(b, h);
  load_tile<BQ, HD>(Qs, qh, pr.q.s2, pr.q.s3, mq, pr.D);

  float acc[4][NC];
  float m[4], l[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    m[r] = ninf<float>();
    l[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < NC; ++c) acc[r][c] = 0.0f;
  }
  const int64_t kend = at::causal_key_end(pr.causal, pr.Lk, i0, mq);
  for (int64_t j0 = 0; j0 < kend; j0 += BK) {
    const int nk = static_cast<int>(imin(BK, pr.Lk - j0));
    __syncthreads();  // the previous tile's readers of KV and Ps are done (and Qs is stored)
    load_tile<BK, HD>(KV, kh + j0 * pr.k.s2, pr.k.s2, pr.k.s3, nk, pr.D);
    __syncthreads();
    float s[4][8];
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int c = 0; c < 8; ++c) s[r][c] = 0.0f;
#pragma unroll 4
    for (int d = 0; d < HD; ++d) {
      float a[4], kk[8];
#pragma unroll
      for (int r = 0; r < 4; ++r) a[r] = Qs[(ty * 4 + r) * S + d];
#pragma unroll
      for (int c = 0; c < 8; ++c) kk[c] = KV[(tx + 8 * c) * S + d];
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < 8; ++c) s[r][c] = fmaf(a[r], kk[c], s[r][c]);
    }
    // Online softmax, row by row; the 8 lanes of a row (tx = lane % 8) reduce by shuffles,
    // which every lane of the warp reaches.
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int64_t i = i0 + ty * 4 + r;
      float mx = ninf<float>();
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        s[r][c] = score(pr, b, h, i, j0 + tx + 8 * c, s[r][c]);
        mx = fmaxf(mx, s[r][c]);
      }
#pragma unroll
      for (int o = 1; o < 8; o *= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      const float m_new = fmaxf(m[r], mx);
      float alpha = 1.0f, sum = 0.0f;
      if (m_new == ninf<float>()) {  // nothing visible in this row yet
#pragma unroll
        for (int c = 0; c < 8; ++c) s[r][c] = 0.0f;
      } else {
        alpha = ex(m[r] - m_new);  // 0 on the first visible tile
#pragma unroll
        for (int c = 0; c < 8; ++c) {
          s[r][c] = ex(s[r][c] - m_new);
          sum += s[r][c];
        }
      }
#pragma unroll
      for (int o = 1; o < 8; o *= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
      l[r] = l[r] * alpha + sum;
      m[r] = m_new;
#pragma unroll
      for (int c = 0; c < NC; ++c) acc[r][c] *= alpha;
      if (pr.dropout) {
#pragma unroll
        for (int c = 0; c < 8; ++c) {
          const int64_t j = j0 + tx + 8 * c;
          if (i < pr.Lq && j < pr.Lk) s[r][c] *= dropout_factor(pr, bh, i, j);
        }
      }
#pragma unroll
      for (int c = 0; c < 8; ++c) Ps[(ty * 4 + r) * PS + tx + 8 * c] = s[r][c];
    }
    __syncthreads();  // Ps complete; every reader of the K tile is done
    load_tile<BK, HD>(KV, vh + j0 * pr.v.s2, pr.v.s2, pr.v.s3, nk, pr.Dv);
    __syncthreads();
#pragma unroll 4
    for (int j = 0; j < BK; ++j) {
      float p[4], vv[NC];
#pragma unroll
      for (int r = 0; r < 4; ++r) p[r] = Ps[(ty * 4 + r) * PS + j];
#pragma unroll
      for (int c = 0; c < NC; ++c) vv[c] = KV[j * S + tx + 8 * c];
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < NC; ++c) acc[r][c] = fmaf(p[r], vv[c], acc[r][c]);
    }
  }
  T* oh = out.head(b, h);
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int64_t i = i0 + ty * 4 + r;
    if (i >= pr.Lq) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int64_t e = tx + 8 * c;
      if (e < pr.Dv) oh[i * out.s2 + e * out.s3] = static_cast<T>(acc[r][c] * inv);
    }
    if (tx == 0) lse.at(b, h, i) = l[r] > 0.0f ? m[r] + lg(l[r]) : pinf<float>();
  }
}

// ------------------------------------------------------------------------------------------
// Backward, step 1: D_i = rowsum(dO o O), one warp per row (grid-stride over rows; the whole
// warp shares a row, so the shuffles see all 32 lanes).

template <typename T, typename Acc>
__global__ void row_dot(Mat4<const T> o, Mat4<const T> dout, int64_t H, int64_t Lq, int64_t Dv,
                        int64_t rows, Acc* D) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < rows;
       row += warps) {
    const int64_t bh = row / Lq, i = row % Lq, b = bh / H, h = bh % H;
    const T* oi = o.head(b, h) + i * o.s2;
    const T* gi = dout.head(b, h) + i * dout.s2;
    Acc s = 0;
    for (int64_t e = lane; e < Dv; e += 32)
      s += static_cast<Acc>(oi[e * o.s3]) * static_cast<Acc>(gi[e * dout.s3]);
#pragma unroll
    for (int d = 16; d > 0; d /= 2) s += __shfl_xor_sync(0xffffffffu, s, d);
    if (lane == 0) D[row] = s;
  }
}

// ------------------------------------------------------------------------------------------
// Backward, step 2 (tiled): dK and dV of one key tile, summed over the query tiles in order.
// Thread (ty, tx) owns keys ty * KR + r and, in the score tiles, queries tx + 8 c.

template <typename T, int HD>
__global__ void __launch_bounds__(at::kThreads)
    bwd_kv_tiled(Problem<T, float> pr, Mat4<const T> dout, Lse<const float> lse, const float* Dw,
                 Mat4<T> dk, Mat4<T> dv, int64_t k_tiles) {
  constexpr int KR = at::kv_keys_per_thread(HD), BK = at::kv_key_tile(HD), BQ = at::kKvQ;
  constexpr int S = HD + 1, PS = BK + 1, NC = HD / 8, QC = BQ / 8;
  SG_EXTERN_SHARED(float, smem);
  float* Ks = smem;
  float* Vs = Ks + BK * S;
  float* Qs = Vs + BK * S;
  float* Gs = Qs + BQ * S;  // dO
  float* Pds = Gs + BQ * S;
  float* dSs = Pds + BQ * PS;
  float* Ls = dSs + BQ * PS;
  float* Ds = Ls + BQ;
  const int t = threadIdx.x, tx = t % 8, ty = t / 8;
  const int64_t bh = blockIdx.x / k_tiles, j0 = (blockIdx.x % k_tiles) * BK;
  const int64_t b = bh / pr.H, h = bh % pr.H;
  const int nk = static_cast<int>(imin(BK, pr.Lk - j0));
  load_tile<BK, HD>(Ks, pr.k.head(b, h) + j0 * pr.k.s2, pr.k.s2, pr.k.s3, nk, pr.D);
  load_tile<BK, HD>(Vs, pr.v.head(b, h) + j0 * pr.v.s2, pr.v.s2, pr.v.s3, nk, pr.Dv);
  const T* qh = pr.q.head(b, h);
  const T* gh = dout.head(b, h);

  float gk[KR][NC], gv[KR][NC];
#pragma unroll
  for (int r = 0; r < KR; ++r)
#pragma unroll
    for (int c = 0; c < NC; ++c) gk[r][c] = gv[r][c] = 0.0f;

  for (int64_t i0 = at::causal_first_query(pr.causal, j0); i0 < pr.Lq; i0 += BQ) {
    const int mq = static_cast<int>(imin(BQ, pr.Lq - i0));
    __syncthreads();  // the previous tile's readers are done (first time: K, V stored)
    load_tile<BQ, HD>(Qs, qh + i0 * pr.q.s2, pr.q.s2, pr.q.s3, mq, pr.D);
    load_tile<BQ, HD>(Gs, gh + i0 * dout.s2, dout.s2, dout.s3, mq, pr.Dv);
    for (int x = t; x < BQ; x += at::kThreads) {
      Ls[x] = x < mq ? static_cast<float>(lse.at(b, h, i0 + x)) : pinf<float>();
      Ds[x] = x < mq ? Dw[bh * pr.Lq + i0 + x] : 0.0f;
    }
    __syncthreads();
    // Sᵀ = K Qᵀ and dPᵀ = V dOᵀ for this thread's keys and queries.
    float st[KR][QC], dpt[KR][QC];
#pragma unroll
    for (int r = 0; r < KR; ++r)
#pragma unroll
      for (int c = 0; c < QC; ++c) st[r][c] = dpt[r][c] = 0.0f;
#pragma unroll 4
    for (int d = 0; d < HD; ++d) {
      float kk[KR], vv[KR], qq[QC], gg[QC];
#pragma unroll
      for (int r = 0; r < KR; ++r) {
        kk[r] = Ks[(ty * KR + r) * S + d];
        vv[r] = Vs[(ty * KR + r) * S + d];
      }
#pragma unroll
      for (int c = 0; c < QC; ++c) {
        qq[c] = Qs[(tx + 8 * c) * S + d];
        gg[c] = Gs[(tx + 8 * c) * S + d];
      }
#pragma unroll
      for (int r = 0; r < KR; ++r)
#pragma unroll
        for (int c = 0; c < QC; ++c) {
          st[r][c] = fmaf(kk[r], qq[c], st[r][c]);
          dpt[r][c] = fmaf(vv[r], gg[c], dpt[r][c]);
        }
    }
    // P = exp(S - L) (0 where masked, and for a fully masked row, whose L is +inf),
    // Pd = P Z, dS = scale (Pd dPd - P D).
#pragma unroll
    for (int r = 0; r < KR; ++r)
#pragma unroll
      for (int c = 0; c < QC; ++c) {
        const int jl = ty * KR + r, il = tx + 8 * c;
        const int64_t i = i0 + il, j = j0 + jl;
        const float p = ex(score(pr, b, h, i, j, st[r][c]) - Ls[il]);
        float pd = p;
        if (pr.dropout && i < pr.Lq && j < pr.Lk) pd *= dropout_factor(pr, bh, i, j);
        Pds[il * PS + jl] = pd;
        dSs[il * PS + jl] = pr.scale * (pd * dpt[r][c] - p * Ds[il]);
      }
    __syncthreads();
    // dV += Pdᵀ dO, dK += dSᵀ Q.
#pragma unroll 4
    for (int il = 0; il < BQ; ++il) {
      float pd[KR], ds[KR], gg[NC], qq[NC];
#pragma unroll
      for (int r = 0; r < KR; ++r) {
        pd[r] = Pds[il * PS + ty * KR + r];
        ds[r] = dSs[il * PS + ty * KR + r];
      }
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        gg[c] = Gs[il * S + tx + 8 * c];
        qq[c] = Qs[il * S + tx + 8 * c];
      }
#pragma unroll
      for (int r = 0; r < KR; ++r)
#pragma unroll
        for (int c = 0; c < NC; ++c) {
          gv[r][c] = fmaf(pd[r], gg[c], gv[r][c]);
          gk[r][c] = fmaf(ds[r], qq[c], gk[r][c]);
        }
    }
  }
  T* dkh = dk.head(b, h);
  T* dvh = dv.head(b, h);
#pragma unroll
  for (int r = 0; r < KR; ++r) {
    const int64_t j = j0 + ty * KR + r;
    if (j >= pr.Lk) continue;
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int64_t e = tx + 8 * c;
      if (e < pr.D) dkh[j * dk.s2 + e * dk.s3] = static_cast<T>(gk[r][c]);
      if (e < pr.Dv) dvh[j * dv.s2 + e * dv.s3] = static_cast<T>(gv[r][c]);
    }
  }
}

// ------------------------------------------------------------------------------------------
// Backward, step 3 (tiled): dQ of one query tile, summed over the key tiles in order. Thread
// (ty, tx) owns queries ty * 4 + r and, in the score tiles, keys tx + 8 c.

template <typename T, int HD>
__global__ void __launch_bounds__(at::kThreads)
    bwd_q_tiled(Problem<T, float> pr, Mat4<const T> dout, Lse<const float> lse, const float* Dw,
                Mat4<T> dq, int64_t q_tiles) {
  constexpr int BQ = at::kDqQ, BK = at::kDqK, S = HD + 1, PS = BK + 1, NC = HD / 8, KC = BK / 8;
  SG_EXTERN_SHARED(float, smem);
  float* Qs = smem;
  float* Gs = Qs + BQ * S;
  float* Ks = Gs + BQ * S;
  float* Vs = Ks + BK * S;
  float* dSs = Vs + BK * S;
  float* Ls = dSs + BQ * PS;
  float* Ds = Ls + BQ;
  const int t = threadIdx.x, tx = t % 8, ty = t / 8;
  const int64_t bh = blockIdx.x / q_tiles;
  int64_t qt = blockIdx.x % q_tiles;
  if (pr.causal) qt = q_tiles - 1 - qt;
  const int64_t b = bh / pr.H, h = bh % pr.H, i0 = qt * BQ;
  const int mq = static_cast<int>(imin(BQ, pr.Lq - i0));
  load_tile<BQ, HD>(Qs, pr.q.head(b, h) + i0 * pr.q.s2, pr.q.s2, pr.q.s3, mq, pr.D);
  load_tile<BQ, HD>(Gs, dout.head(b, h) + i0 * dout.s2, dout.s2, dout.s3, mq, pr.Dv);
  for (int x = t; x < BQ; x += at::kThreads) {
    Ls[x] = x < mq ? static_cast<float>(lse.at(b, h, i0 + x)) : pinf<float>();
    Ds[x] = x < mq ? Dw[bh * pr.Lq + i0 + x] : 0.0f;
  }
  const T* kh = pr.k.head(b, h);
  const T* vh = pr.v.head(b, h);

  float gq[4][NC];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int c = 0; c < NC; ++c) gq[r][c] = 0.0f;

  const int64_t kend = at::causal_key_end(pr.causal, pr.Lk, i0, mq);
  for (int64_t j0 = 0; j0 < kend; j0 += BK) {
    const int nk = static_cast<int>(imin(BK, pr.Lk - j0));
    __syncthreads();  // the previous tile's readers of Ks and dSs are done (first time: Q, dO)
    load_tile<BK, HD>(Ks, kh + j0 * pr.k.s2, pr.k.s2, pr.k.s3, nk, pr.D);
    load_tile<BK, HD>(Vs, vh + j0 * pr.v.s2, pr.v.s2, pr.v.s3, nk, pr.Dv);
    __syncthreads();
    float s[4][KC], dp[4][KC];
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int c = 0; c < KC; ++c) s[r][c] = dp[r][c] = 0.0f;
#pragma unroll 4
    for (int d = 0; d < HD; ++d) {
      float qq[4], gg[4], kk[KC], vv[KC];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        qq[r] = Qs[(ty * 4 + r) * S + d];
        gg[r] = Gs[(ty * 4 + r) * S + d];
      }
#pragma unroll
      for (int c = 0; c < KC; ++c) {
        kk[c] = Ks[(tx + 8 * c) * S + d];
        vv[c] = Vs[(tx + 8 * c) * S + d];
      }
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < KC; ++c) {
          s[r][c] = fmaf(qq[r], kk[c], s[r][c]);
          dp[r][c] = fmaf(gg[r], vv[c], dp[r][c]);
        }
    }
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int c = 0; c < KC; ++c) {
        const int il = ty * 4 + r, jl = tx + 8 * c;
        const int64_t i = i0 + il, j = j0 + jl;
        const float p = ex(score(pr, b, h, i, j, s[r][c]) - Ls[il]);
        float pd = p;
        if (pr.dropout && i < pr.Lq && j < pr.Lk) pd *= dropout_factor(pr, bh, i, j);
        dSs[il * PS + jl] = pr.scale * (pd * dp[r][c] - p * Ds[il]);
      }
    __syncthreads();
#pragma unroll 4
    for (int jl = 0; jl < BK; ++jl) {
      float ds[4], kk[NC];
#pragma unroll
      for (int r = 0; r < 4; ++r) ds[r] = dSs[(ty * 4 + r) * PS + jl];
#pragma unroll
      for (int c = 0; c < NC; ++c) kk[c] = Ks[jl * S + tx + 8 * c];
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < NC; ++c) gq[r][c] = fmaf(ds[r], kk[c], gq[r][c]);
    }
  }
  T* dqh = dq.head(b, h);
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int64_t i = i0 + ty * 4 + r;
    if (i >= pr.Lq) continue;
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int64_t e = tx + 8 * c;
      if (e < pr.D) dqh[i * dq.s2 + e * dq.s3] = static_cast<T>(gq[r][c]);
    }
  }
}

// ------------------------------------------------------------------------------------------
// Generic kernels (any head dim, f64): one row per block, the other side in chunks of kThreads
// (one element per thread), row vectors in shared memory.

struct MaxOp {
  template <typename V>
  __device__ V operator()(V a, V b) const {
    return a > b ? a : b;
  }
};
struct AddOp {
  template <typename V>
  __device__ V operator()(V a, V b) const {
    return a + b;
  }
};

// The block's combination of one value per thread, returned to every thread. `red` holds one
// value per warp; all threads of the block must call it.
template <typename Acc, typename F>
__device__ __forceinline__ Acc block_reduce(Acc v, Acc* red, F f) {
#pragma unroll
  for (int d = 16; d > 0; d /= 2) v = f(v, __shfl_xor_sync(0xffffffffu, v, d));
  __syncthreads();  // earlier readers of `red` are done
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  v = red[0];
#pragma unroll
  for (int w = 1; w < at::kThreads / 32; ++w) v = f(v, red[w]);
  return v;
}

template <typename T, typename Acc>
__device__ __forceinline__ Acc dot_row(const Acc* x, const T* y, int64_t stride, int64_t n) {
  Acc s = 0;
  for (int64_t d = 0; d < n; ++d) s += x[d] * static_cast<Acc>(y[d * stride]);
  return s;
}

template <typename T, typename Acc>
__global__ void __launch_bounds__(at::kThreads)
    fwd_generic(Problem<T, Acc> pr, Mat4<T> out, Lse<Acc> lse) {
  SG_EXTERN_SHARED(__align__(16) unsigned char, raw);
  Acc* qrow = reinterpret_cast<Acc*>(raw);
  Acc* acc = qrow + pr.D;
  Acc* pbuf = acc + pr.Dv;
  Acc* red = pbuf + at::kThreads;
  const int t = threadIdx.x;
  const int64_t row = blockIdx.x, bh = row / pr.Lq, i = row % pr.Lq, b = bh / pr.H, h = bh % pr.H;
  const T* qi = pr.q.head(b, h) + i * pr.q.s2;
  const T* kh = pr.k.head(b, h);
  const T* vh = pr.v.head(b, h);
  for (int64_t d = t; d < pr.D; d += at::kThreads) qrow[d] = static_cast<Acc>(qi[d * pr.q.s3]);
  for (int64_t e = t; e < pr.Dv; e += at::kThreads) acc[e] = 0;
  __syncthreads();
  Acc m = ninf<Acc>(), l = 0;
  const int64_t kend = at::causal_key_end(pr.causal, pr.Lk, i, 1);
  for (int64_t j0 = 0; j0 < kend; j0 += at::kThreads) {
    const int64_t j = j0 + t;
    Acc s = ninf<Acc>();
    if (j < kend) s = score(pr, b, h, i, j, dot_row(qrow, kh + j * pr.k.s2, pr.k.s3, pr.D));
    const Acc mx = block_reduce(s, red, MaxOp{});
    const Acc m_new = mx > m ? mx : m;
    const bool none = m_new == ninf<Acc>();
    const Acc p = none ? Acc(0) : ex(s - m_new);
    const Acc alpha = none ? Acc(1) : ex(m - m_new);
    l = l * alpha + block_reduce(p, red, AddOp{});
    m = m_new;
    Acc pd = p;
    if (pr.dropout && j < kend) pd *= dropout_factor(pr, bh, i, j);
    pbuf[t] = pd;
    __syncthreads();
    const int64_t nj = imin(at::kThreads, kend - j0);
    for (int64_t e = t; e < pr.Dv; e += at::kThreads) {
      Acc a = acc[e] * alpha;
      for (int64_t jj = 0; jj < nj; ++jj)
        a += pbuf[jj] * static_cast<Acc>(vh[(j0 + jj) * pr.v.s2 + e * pr.v.s3]);
      acc[e] = a;
    }
    __syncthreads();  // pbuf is rewritten next chunk
  }
  T* oi = out.head(b, h) + i * out.s2;
  const Acc inv = l > 0 ? Acc(1) / l : Acc(0);
  for (int64_t e = t; e < pr.Dv; e += at::kThreads) oi[e * out.s3] = static_cast<T>(acc[e] * inv);
  if (t == 0) lse.at(b, h, i) = l > 0 ? m + lg(l) : pinf<Acc>();
}

// dK, dV of key j: one block per (batch*head, key), queries in chunks.
template <typename T, typename Acc>
__global__ void __launch_bounds__(at::kThreads)
    bwd_kv_generic(Problem<T, Acc> pr, Mat4<const T> dout, Lse<const Acc> lse, const Acc* Dw,
                   Mat4<T> dk, Mat4<T> dv) {
  SG_EXTERN_SHARED(__align__(16) unsigned char, raw);
  Acc* krow = reinterpret_cast<Acc*>(raw);
  Acc* vrow = krow + pr.D;
  Acc* gk = vrow + pr.Dv;
  Acc* gv = gk + pr.D;
  Acc* pdb = gv + pr.Dv;
  Acc* dsb = pdb + at::kThreads;
  const int t = threadIdx.x;
  const int64_t row = blockIdx.x, bh = row / pr.Lk, j = row % pr.Lk, b = bh / pr.H, h = bh % pr.H;
  const T* kj = pr.k.head(b, h) + j * pr.k.s2;
  const T* vj = pr.v.head(b, h) + j * pr.v.s2;
  const T* qh = pr.q.head(b, h);
  const T* gh = dout.head(b, h);
  for (int64_t d = t; d < pr.D; d += at::kThreads) {
    krow[d] = static_cast<Acc>(kj[d * pr.k.s3]);
    gk[d] = 0;
  }
  for (int64_t e = t; e < pr.Dv; e += at::kThreads) {
    vrow[e] = static_cast<Acc>(vj[e * pr.v.s3]);
    gv[e] = 0;
  }
  __syncthreads();
  for (int64_t i0 = at::causal_first_query(pr.causal, j); i0 < pr.Lq; i0 += at::kThreads) {
    const int64_t i = i0 + t;
    Acc pd = 0, ds = 0;
    if (i < pr.Lq) {
      const Acc p = ex(score(pr, b, h, i, j, dot_row(krow, qh + i * pr.q.s2, pr.q.s3, pr.D)) -
                       static_cast<Acc>(lse.at(b, h, i)));
      const Acc dpd = dot_row(vrow, gh + i * dout.s2, dout.s3, pr.Dv);
      pd = p;
      if (pr.dropout) pd *= dropout_factor(pr, bh, i, j);
      ds = pr.scale * (pd * dpd - p * Dw[bh * pr.Lq + i]);
    }
    pdb[t] = pd;
    dsb[t] = ds;
    __syncthreads();
    const int64_t ni = imin(at::kThreads, pr.Lq - i0);
    for (int64_t d = t; d < pr.D; d += at::kThreads) {
      Acc a = gk[d];
      for (int64_t ii = 0; ii < ni; ++ii)
        a += dsb[ii] * static_cast<Acc>(qh[(i0 + ii) * pr.q.s2 + d * pr.q.s3]);
      gk[d] = a;
    }
    for (int64_t e = t; e < pr.Dv; e += at::kThreads) {
      Acc a = gv[e];
      for (int64_t ii = 0; ii < ni; ++ii)
        a += pdb[ii] * static_cast<Acc>(gh[(i0 + ii) * dout.s2 + e * dout.s3]);
      gv[e] = a;
    }
    __syncthreads();
  }
  T* dkj = dk.head(b, h) + j * dk.s2;
  T* dvj = dv.head(b, h) + j * dv.s2;
  for (int64_t d = t; d < pr.D; d += at::kThreads) dkj[d * dk.s3] = static_cast<T>(gk[d]);
  for (int64_t e = t; e < pr.Dv; e += at::kThreads) dvj[e * dv.s3] = static_cast<T>(gv[e]);
}

// dQ of query i: one block per (batch*head, query), keys in chunks.
template <typename T, typename Acc>
__global__ void __launch_bounds__(at::kThreads)
    bwd_q_generic(Problem<T, Acc> pr, Mat4<const T> dout, Lse<const Acc> lse, const Acc* Dw,
                  Mat4<T> dq) {
  SG_EXTERN_SHARED(__align__(16) unsigned char, raw);
  Acc* qrow = reinterpret_cast<Acc*>(raw);
  Acc* grow = qrow + pr.D;
  Acc* gq = grow + pr.Dv;
  Acc* dsb = gq + pr.D;
  const int t = threadIdx.x;
  const int64_t row = blockIdx.x, bh = row / pr.Lq, i = row % pr.Lq, b = bh / pr.H, h = bh % pr.H;
  const T* qi = pr.q.head(b, h) + i * pr.q.s2;
  const T* gi = dout.head(b, h) + i * dout.s2;
  const T* kh = pr.k.head(b, h);
  const T* vh = pr.v.head(b, h);
  for (int64_t d = t; d < pr.D; d += at::kThreads) {
    qrow[d] = static_cast<Acc>(qi[d * pr.q.s3]);
    gq[d] = 0;
  }
  for (int64_t e = t; e < pr.Dv; e += at::kThreads) grow[e] = static_cast<Acc>(gi[e * dout.s3]);
  __syncthreads();
  const Acc Li = static_cast<Acc>(lse.at(b, h, i)), Di = Dw[row];
  const int64_t kend = at::causal_key_end(pr.causal, pr.Lk, i, 1);
  for (int64_t j0 = 0; j0 < kend; j0 += at::kThreads) {
    const int64_t j = j0 + t;
    Acc ds = 0;
    if (j < kend) {
      const Acc p = ex(score(pr, b, h, i, j, dot_row(qrow, kh + j * pr.k.s2, pr.k.s3, pr.D)) - Li);
      const Acc dpd = dot_row(grow, vh + j * pr.v.s2, pr.v.s3, pr.Dv);
      Acc pd = p;
      if (pr.dropout) pd *= dropout_factor(pr, bh, i, j);
      ds = pr.scale * (pd * dpd - p * Di);
    }
    dsb[t] = ds;
    __syncthreads();
    const int64_t nj = imin(at::kThreads, kend - j0);
    for (int64_t d = t; d < pr.D; d += at::kThreads) {
      Acc a = gq[d];
      for (int64_t jj = 0; jj < nj; ++jj)
        a += dsb[jj] * static_cast<Acc>(kh[(j0 + jj) * pr.k.s2 + d * pr.k.s3]);
      gq[d] = a;
    }
    __syncthreads();
  }
  T* dqi = dq.head(b, h) + i * dq.s2;
  for (int64_t d = t; d < pr.D; d += at::kThreads) dqi[d * dq.s3] = static_cast<T>(gq[d]);
}

}  // namespace stackgrad::kernels::gpu::attention
