// Device code of the CUDA attention kernels (kernels/cuda/attention.cu, which launches them and
// documents the design): the operand views, the score and dropout helpers, and the tiled and
// generic forward and backward kernels. Included by attention.cu only; kept apart from the host
// code so the kernels depend on nothing but CUDA's built-ins, the tile plan and Philox.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "engine/core/half.h"
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
// Tensor-core forward (bf16, f16): the tiled forward's scheme with both products on
// mma.sync.m16n8k16 (16-bit inputs, f32 accumulators, sm_80+).
//
// Fragment layouts (PTX ISA, "mma.m16n8k16", .bf16/.f16): lane = 4 g + t (g = lane / 4,
// t = lane % 4); a 32-bit register holds two 16-bit elements, the lower-indexed one in the low
// half. A (16 x 16, row-major): reg 0 = (row g, cols 2t, 2t+1), reg 1 = (row g+8, same cols),
// reg 2 = (row g, cols 2t+8, 2t+9), reg 3 = (row g+8, cols 2t+8, 2t+9). B (16 x 8, k x n):
// reg 0 = (rows 2t, 2t+1, col g), reg 1 = (rows 2t+8, 2t+9, col g). C/D (16 x 8, f32):
// c0, c1 = (row g, cols 2t, 2t+1), c2, c3 = (row g+8, cols 2t, 2t+1).
//
// Warp w owns query rows 16 w .. 16 w + 15 of the block's 64; thread (g, t) holds rows g and
// g + 8 of them. S = Q Kᵀ: A = the warp's Q rows (fragments loaded once), B = Kᵀ, whose column
// n is key n: reg 0 of key n is the word of K row n at cols 2t, 2t+1, one 32-bit shared load.
// The 8 n-tiles of 8 keys give each thread 16 scores of each of its two rows; the row max and
// sum reduce over the 4 lanes of the quad (xor 1, 2). P, rounded to the input type, is the A
// operand of O += P V directly: the C layout of n-tiles 2kk and 2kk+1 is the A layout of the
// k-step over keys 16 kk .. 16 kk + 15. V is the B operand: (keys 2t, 2t+1, head col g), two
// 16-bit shared loads per register.

// The 32-bit word of two 16-bit elements, `lo` in the low half (the fragment register layout).
__device__ __forceinline__ uint32_t pack_halves(uint16_t lo, uint16_t hi) {
  return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
}

// (lo, hi) rounded to T (to nearest, ties to even) and packed as pack_halves does. On the device
// one cvt.rn.{bf16x2,f16x2}.f32 instruction (whose first source goes to the high half); it
// differs from the bit functions of half.h only in NaN payloads, which P, the one thing packed
// this way, does not have.
template <typename T>
__device__ __forceinline__ uint32_t pack_rounded(float lo, float hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint32_t r;
  if constexpr (std::is_same_v<T, BFloat16>)
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  else
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return pack_halves(T(lo).bits, T(hi).bits);
#endif
}

// The 32-bit word at row r, columns c, c + 1 (c even) of a tile of 16-bit patterns.
__device__ __forceinline__ uint32_t tile_word(const uint16_t* tile, int stride, int r, int c) {
  return *reinterpret_cast<const uint32_t*>(tile + r * stride + c);
}

// d += a b for one 16 x 8 x 16 tile of T = BFloat16 or Float16, f32 accumulators. Warp-wide:
// every lane of the warp calls it. A CPU emulation (tests/support/cuda_emulation.h) supplies
// sg_emulated_mma_m16n8k16 and defines SG_CUDA_EMULATION.
template <typename T>
__device__ __forceinline__ void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4],
                                             const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<T, BFloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
#elif defined(SG_CUDA_EMULATION)
  sg_emulated_mma_m16n8k16<T>(d, a, b);
#endif
}

// Rows [0, R) x cols [0, HD) of an operand block into shared memory as 16-bit patterns, row
// stride HD + 8, zero (+0.0 in both types) outside rows < n and cols < width.
template <int R, int HD, typename T>
__device__ __forceinline__ void load_tile_bits(uint16_t* dst, const T* src, int64_t s_row,
                                               int64_t s_col, int n, int64_t width) {
  constexpr int S = at::mma_row_halves(HD);
  for (int x = threadIdx.x; x < R * HD; x += at::kThreads) {
    const int r = x / HD, d = x % HD;
    dst[r * S + d] = r < n && d < width ? src[r * s_row + d * s_col].bits : uint16_t{0};
  }
}

template <typename T, int HD>
__global__ void __launch_bounds__(at::kThreads)
    fwd_mma(Problem<T, float> pr, Mat4<T> out, Lse<float> lse, int64_t q_tiles) {
  static_assert(std::is_same_v<T, BFloat16> || std::is_same_v<T, Float16>);
  constexpr int BQ = at::kFwdQ, BK = at::kFwdK, S = at::mma_row_halves(HD);
  constexpr int KS = HD / 16;  // k-steps of Q Kᵀ
  constexpr int NT = BK / 8;   // n-tiles of S (8 keys each)
  constexpr int ND = HD / 8;   // n-tiles of O (8 head columns each)
  static_assert(BQ == 16 * (at::kThreads / 32), "one 16-row slice of the query tile per warp");
  SG_EXTERN_SHARED(__align__(16) uint16_t, hsmem);
  uint16_t* Qs = hsmem;
  uint16_t* Ks = Qs + BQ * S;
  uint16_t* Vs = Ks + BK * S;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
  const int64_t bh = blockIdx.x / q_tiles;
  int64_t qt = blockIdx.x % q_tiles;
  if (pr.causal) qt = q_tiles - 1 - qt;  // the longest tiles first
  const int64_t b = bh / pr.H, h = bh % pr.H, i0 = qt * BQ;
  const int mq = static_cast<int>(imin(BQ, pr.Lq - i0));
  const T* kh = pr.k.head(b, h);
  const T* vh = pr.v.head(b, h);
  load_tile_bits<BQ, HD>(Qs, pr.q.head(b, h) + i0 * pr.q.s2, pr.q.s2, pr.q.s3, mq, pr.D);
  __syncthreads();

  const int r0 = warp * 16 + g;  // the thread's rows in the tile: r0 and r0 + 8
  const int64_t rows[2] = {i0 + r0, i0 + r0 + 8};
  uint32_t qa[KS][4];
#pragma unroll
  for (int ks = 0; ks < KS; ++ks) {
    qa[ks][0] = tile_word(Qs, S, r0, ks * 16 + 2 * t);
    qa[ks][1] = tile_word(Qs, S, r0 + 8, ks * 16 + 2 * t);
    qa[ks][2] = tile_word(Qs, S, r0, ks * 16 + 8 + 2 * t);
    qa[ks][3] = tile_word(Qs, S, r0 + 8, ks * 16 + 8 + 2 * t);
  }
  float o[ND][4];
#pragma unroll
  for (int nd = 0; nd < ND; ++nd)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[nd][e] = 0.0f;
  // Running max (quad-uniform) and this thread's share of the running sum, per row.
  float m[2] = {ninf<float>(), ninf<float>()}, l[2] = {0.0f, 0.0f};

  const int64_t kend = at::causal_key_end(pr.causal, pr.Lk, i0, mq);
  for (int64_t j0 = 0; j0 < kend; j0 += BK) {
    const int nk = static_cast<int>(imin(BK, pr.Lk - j0));
    __syncthreads();  // every reader of the previous K and V tiles is done
    load_tile_bits<BK, HD>(Ks, kh + j0 * pr.k.s2, pr.k.s2, pr.k.s3, nk, pr.D);
    load_tile_bits<BK, HD>(Vs, vh + j0 * pr.v.s2, pr.v.s2, pr.v.s3, nk, pr.Dv);
    __syncthreads();
    float s[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] = 0.0f;
#pragma unroll
      for (int ks = 0; ks < KS; ++ks) {
        const uint32_t kb[2] = {tile_word(Ks, S, nt * 8 + g, ks * 16 + 2 * t),
                                tile_word(Ks, S, nt * 8 + g, ks * 16 + 8 + 2 * t)};
        mma_m16n8k16<T>(s[nt], qa[ks], kb);
      }
    }
    // Scale, mask, causal cut; element (nt, e) is row rows[e / 2], key j0 + 8 nt + 2t + e % 2.
    float mx[2] = {ninf<float>(), ninf<float>()};
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[nt][e] = score(pr, b, h, rows[e / 2], j0 + nt * 8 + 2 * t + e % 2, s[nt][e]);
        mx[e / 2] = fmaxf(mx[e / 2], s[nt][e]);
      }
    float alpha[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float m_new = fmaxf(m[r], mx[r]);
      alpha[r] = m_new == ninf<float>() ? 1.0f : ex(m[r] - m_new);  // 0 on the first visible tile
      m[r] = m_new;
      l[r] *= alpha[r];
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e / 2;
        const float p = m[r] == ninf<float>() ? 0.0f : ex(s[nt][e] - m[r]);  // nothing visible yet
        l[r] += p;
        s[nt][e] = p;
      }
#pragma unroll
    for (int nd = 0; nd < ND; ++nd)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[nd][e] *= alpha[e / 2];
    if (pr.dropout) {
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int64_t i = rows[e / 2], j = j0 + nt * 8 + 2 * t + e % 2;
          if (i < pr.Lq && j < pr.Lk) s[nt][e] *= dropout_factor(pr, bh, i, j);
        }
    }
    // O += P V over the tile's keys, 16 at a time.
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) {
      const uint32_t pa[4] = {pack_rounded<T>(s[2 * kk][0], s[2 * kk][1]),
                              pack_rounded<T>(s[2 * kk][2], s[2 * kk][3]),
                              pack_rounded<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              pack_rounded<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      const uint16_t* v0 = Vs + (kk * 16 + 2 * t) * S + g;  // key 16 kk + 2t, head col g
#pragma unroll
      for (int nd = 0; nd < ND; ++nd) {
        const uint16_t* v = v0 + nd * 8;
        const uint32_t vb[2] = {pack_halves(v[0], v[S]), pack_halves(v[8 * S], v[9 * S])};
        mma_m16n8k16<T>(o[nd], pa, vb);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {  // the row sums over the quad
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
  T* oh = out.head(b, h);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t i = rows[r];
    if (i >= pr.Lq) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
#pragma unroll
    for (int nd = 0; nd < ND; ++nd)
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int64_t col = nd * 8 + 2 * t + c;
        if (col < pr.Dv) oh[i * out.s2 + col * out.s3] = T(o[nd][2 * r + c] * inv);
      }
    if (t == 0) lse.at(b, h, i) = l[r] > 0.0f ? m[r] + lg(l[r]) : pinf<float>();
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
