// Device code of the CUDA GEMM (kernels/cuda/gemm.cu, which plans and launches it and documents
// the design): the operand views, the tile loaders and the tiled, register-blocked and TF32
// tensor-core kernels. Included by gemm.cu only; kept apart from the host code so the kernels
// depend on nothing but CUDA's built-ins and the tile plan, and a CPU test can compile them as
// C++ under tests/support/cuda_emulation.h (tests/unit/test_cuda_gemm_emulation.cpp).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/gemm_plan.h"

namespace stackgrad::kernels::gpu::gemm_kernels {

template <typename T>
struct Operand {
  const T* p;
  int64_t bs, sx, sk;  // batch, x (m for A, n for B) and k strides
  int64_t X;           // M for A, N for B
  bool x_fast;         // scalar loader: neighbouring threads walk x (else k)
};

template <typename T>
struct GemmArgs {
  int64_t batch, M, N, K;
  Operand<T> a, b;
  T* c;
  int64_t c_bs, c_rs, c_cs;
  T alpha, beta;
  int64_t tiles_m, tiles_n;
  bool c_vec;
};

// Element (x, k) of an operand, 0 outside it (the padding of edge tiles).
template <typename T>
__device__ __forceinline__ T load_or_zero(const T* p, const Operand<T>& op, int64_t x, int64_t k,
                                          int64_t K) {
  return (x < op.X && k < K) ? p[x * op.sx + k * op.sk] : T(0);
}

template <typename T>
__device__ __forceinline__ void store_c(const GemmArgs<T>& g, T* c, int64_t m, int64_t n, T acc) {
  if (m >= g.M || n >= g.N) return;
  T* dst = c + m * g.c_rs + n * g.c_cs;
  *dst = g.beta == T(0) ? g.alpha * acc : g.alpha * acc + g.beta * *dst;
}

// ---------------------------------------------------------------------------------------------
// tiled: 16x16 tiles of A and B in shared memory, one C element per thread. Each operand's tile
// is read with neighbouring threads on its closer dim in memory (x_fast), so a warp's loads are
// coalesced for row- and column-major operands alike; the +1 padding keeps the transposed
// shared-memory stores free of bank conflicts.
constexpr int kSmall = 16;

template <typename T>
__global__ void __launch_bounds__(kSmall* kSmall) gemm_tiled(GemmArgs<T> g) {
  __shared__ T As[kSmall][kSmall + 1];  // As[m][k]
  __shared__ T Bs[kSmall][kSmall + 1];  // Bs[k][n]
  const int tx = threadIdx.x % kSmall, ty = threadIdx.x / kSmall;
  const int64_t tiles = g.tiles_m * g.tiles_n;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const T* A = g.a.p + z * g.a.bs;
    const T* B = g.b.p + z * g.b.bs;
    T* C = g.c + z * g.c_bs;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
      int64_t tm, tn;
      tile_coords(t, g.tiles_m, g.tiles_n, &tm, &tn);
      const int64_t m0 = tm * kSmall, n0 = tn * kSmall;
      // (i, j): the element this thread loads, i along x (m or n), j along k.
      const int ai = g.a.x_fast ? tx : ty, aj = g.a.x_fast ? ty : tx;
      const int bi = g.b.x_fast ? tx : ty, bj = g.b.x_fast ? ty : tx;
      T acc = T(0);
      for (int64_t k0 = 0; k0 < g.K; k0 += kSmall) {
        As[ai][aj] = load_or_zero(A, g.a, m0 + ai, k0 + aj, g.K);
        Bs[bj][bi] = load_or_zero(B, g.b, n0 + bi, k0 + bj, g.K);
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < kSmall; ++kk) acc += As[ty][kk] * Bs[kk][tx];
        __syncthreads();  // before the next tile overwrites As and Bs
      }
      store_c(g, C, m0 + ty, n0 + tx, acc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// f32 tiles for the register-blocked and tensor-core kernels. A block of 256 threads stages a
// BX x BK tile of an operand (x = m for A, n for B) as S[k][x]: k-major, so the math reads
// consecutive x of one k, the same for A and B. Each thread moves Q quads of 4 elements, either
// 4 consecutive x at one k ("along x") or 4 consecutive k at one x ("along k"): the vector
// loaders take the mapping of their unit-stride dim, the scalar loader the operand's faster dim.
// A quad that sticks out of the matrix (edge tiles) is loaded element by element, zero outside.
constexpr int kBigThreads = 256;

template <int BX, int BK>
constexpr int quads_per_thread() {
  static_assert(BX * BK % (4 * kBigThreads) == 0, "tile must split into whole quads");
  return BX * BK / (4 * kBigThreads);
}

template <TileLoad L, int BX, int BK>
__device__ __forceinline__ void load_tile(float4 (&r)[quads_per_thread<BX, BK>()], const float* p,
                                          const Operand<float>& op, int64_t x0, int64_t k0,
                                          int64_t K) {
  constexpr int Q = quads_per_thread<BX, BK>();
  const bool along_x = L == TileLoad::vec_x || (L == TileLoad::scalar && op.x_fast);
#pragma unroll
  for (int q = 0; q < Q; ++q) {
    const int id = threadIdx.x + q * kBigThreads;
    int x, k;
    tile_quad(id, BX, BK, along_x, &x, &k);
    const int64_t gx = x0 + x, gk = k0 + k;
    if (along_x) {
      if (L == TileLoad::vec_x && gk < K && gx + 3 < op.X) {
        r[q] = *reinterpret_cast<const float4*>(p + gx + gk * op.sk);
      } else {
        r[q].x = load_or_zero(p, op, gx, gk, K);
        r[q].y = load_or_zero(p, op, gx + 1, gk, K);
        r[q].z = load_or_zero(p, op, gx + 2, gk, K);
        r[q].w = load_or_zero(p, op, gx + 3, gk, K);
      }
    } else {
      if (L == TileLoad::vec_k && gx < op.X && gk + 3 < K) {
        r[q] = *reinterpret_cast<const float4*>(p + gx * op.sx + gk);
      } else {
        r[q].x = load_or_zero(p, op, gx, gk, K);
        r[q].y = load_or_zero(p, op, gx, gk + 1, K);
        r[q].z = load_or_zero(p, op, gx, gk + 2, K);
        r[q].w = load_or_zero(p, op, gx, gk + 3, K);
      }
    }
  }
}

// Rounds to TF32 (10-bit mantissa, nearest, ties away from zero), the tensor cores' input. A CPU
// emulation (tests/support/cuda_emulation.h) supplies sg_emulated_cvt_rna_tf32 and defines
// SG_CUDA_EMULATION.
__device__ __forceinline__ float to_tf32(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  return x;  // no cvt.rna.tf32 before sm_80; the tf32 kernel is never planned there
#elif defined(SG_CUDA_EMULATION)
  return sg_emulated_cvt_rna_tf32(x);
#else
  uint32_t u;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(u) : "f"(x));
  return __uint_as_float(u);
#endif
}

// Stores the quads of load_tile into S[k * LD + x] (S 16-byte aligned, LD a multiple of 4).
template <TileLoad L, int BX, int BK, int LD, bool kTf32>
__device__ __forceinline__ void store_tile(const float4 (&r)[quads_per_thread<BX, BK>()], float* S,
                                           bool x_fast) {
  constexpr int Q = quads_per_thread<BX, BK>();
  const bool along_x = L == TileLoad::vec_x || (L == TileLoad::scalar && x_fast);
#pragma unroll
  for (int q = 0; q < Q; ++q) {
    const int id = threadIdx.x + q * kBigThreads;
    float4 v = r[q];
    if constexpr (kTf32) {
      v.x = to_tf32(v.x);
      v.y = to_tf32(v.y);
      v.z = to_tf32(v.z);
      v.w = to_tf32(v.w);
    }
    int x, k;
    tile_quad(id, BX, BK, along_x, &x, &k);
    if (along_x) {
      *reinterpret_cast<float4*>(S + k * LD + x) = v;
    } else {
      S[(k + 0) * LD + x] = v.x;
      S[(k + 1) * LD + x] = v.y;
      S[(k + 2) * LD + x] = v.z;
      S[(k + 3) * LD + x] = v.w;
    }
  }
}

// H consecutive floats of shared memory (H = 4 or 2, aligned to H floats).
template <int H>
__device__ __forceinline__ void load_frag(float* dst, const float* src) {
  if constexpr (H == 4) {
    const float4 v = *reinterpret_cast<const float4*>(src);
    dst[0] = v.x;
    dst[1] = v.y;
    dst[2] = v.z;
    dst[3] = v.w;
  } else {
    static_assert(H == 2, "thread tiles are 8x8 or 4x4");
    const float2 v = *reinterpret_cast<const float2*>(src);
    dst[0] = v.x;
    dst[1] = v.y;
  }
}

// ---------------------------------------------------------------------------------------------
// reg64 / reg128: BM x BM block tile, TM x TM outputs per thread (16 x 16 threads). A thread's
// rows are two strips of TM/2, BM/2 apart (and its columns likewise), so that a warp's reads of
// one k row of B are 16 consecutive float4s and those of A two broadcast addresses: no bank
// conflicts on the math's shared-memory reads. LD = BM + 4 pads each k row by 16 bytes, which
// keeps the along-k stores of a transposed operand off a single bank.
//
// Double buffering: stage 0 is filled before the loop; in iteration kt the loads of tile kt+1
// go to registers, the math runs on stage kt & 1, then the registers go to the other stage and
// one barrier closes the iteration. Nobody writes a stage while others may read it: a stage is
// written in iteration kt only after the barrier that ended kt - 1, the last reads of it.
//
// At most 128 registers a thread (two blocks per SM): without the bound ptxas gives the 128-tile
// kernel 126-147, i.e. one resident block of 8 warps per SM to hide all latency.
template <int BM, int BK, int TM, TileLoad LA, TileLoad LB>
__global__ void __launch_bounds__(kBigThreads, 2) sgemm_reg(GemmArgs<float> g) {
  constexpr int LD = BM + 4;
  constexpr int TX = BM / TM;
  constexpr int H = TM / 2;
  constexpr int Q = quads_per_thread<BM, BK>();
  static_assert(TX * TX == kBigThreads, "16 x 16 threads");
  __shared__ __align__(16) float As[2][BK][LD];
  __shared__ __align__(16) float Bs[2][BK][LD];
  const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
  const int64_t tiles = g.tiles_m * g.tiles_n;
  const int64_t k_tiles = (g.K + BK - 1) / BK;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const float* A = g.a.p + z * g.a.bs;
    const float* B = g.b.p + z * g.b.bs;
    float* C = g.c + z * g.c_bs;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
      int64_t tm, tn;
      tile_coords(t, g.tiles_m, g.tiles_n, &tm, &tn);
      const int64_t m0 = tm * BM, n0 = tn * BM;
      float acc[TM][TM];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TM; ++j) acc[i][j] = 0.f;
      float4 ra[Q], rb[Q];
      if (k_tiles > 0) {
        load_tile<LA, BM, BK>(ra, A, g.a, m0, 0, g.K);
        load_tile<LB, BM, BK>(rb, B, g.b, n0, 0, g.K);
        store_tile<LA, BM, BK, LD, false>(ra, &As[0][0][0], g.a.x_fast);
        store_tile<LB, BM, BK, LD, false>(rb, &Bs[0][0][0], g.b.x_fast);
        __syncthreads();
      }
      for (int64_t kt = 0; kt < k_tiles; ++kt) {
        const int cur = static_cast<int>(kt & 1);
        const bool more = kt + 1 < k_tiles;  // the same for the whole block
        if (more) {
          load_tile<LA, BM, BK>(ra, A, g.a, m0, (kt + 1) * BK, g.K);
          load_tile<LB, BM, BK>(rb, B, g.b, n0, (kt + 1) * BK, g.K);
        }
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
          float a[TM], b[TM];
          // Registers i < H and i >= H: the two strips of reg_tile_pos.
          load_frag<H>(a, &As[cur][kk][reg_tile_pos(BM, TM, ty, 0)]);
          load_frag<H>(a + H, &As[cur][kk][reg_tile_pos(BM, TM, ty, H)]);
          load_frag<H>(b, &Bs[cur][kk][reg_tile_pos(BM, TM, tx, 0)]);
          load_frag<H>(b + H, &Bs[cur][kk][reg_tile_pos(BM, TM, tx, H)]);
#pragma unroll
          for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TM; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (more) {
          store_tile<LA, BM, BK, LD, false>(ra, &As[cur ^ 1][0][0], g.a.x_fast);
          store_tile<LB, BM, BK, LD, false>(rb, &Bs[cur ^ 1][0][0], g.b.x_fast);
        }
        __syncthreads();
      }
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const int64_t m = m0 + reg_tile_pos(BM, TM, ty, i);
#pragma unroll
        for (int jh = 0; jh < 2; ++jh) {
          const int64_t n = n0 + reg_tile_pos(BM, TM, tx, jh * H);  // .. + H - 1: j below
          bool stored = false;
          if constexpr (H == 4) {
            if (g.c_vec && m < g.M && n + 3 < g.N) {
              float4* dst = reinterpret_cast<float4*>(C + m * g.c_rs + n);
              float4 out = make_float4(g.alpha * acc[i][jh * H + 0], g.alpha * acc[i][jh * H + 1],
                                       g.alpha * acc[i][jh * H + 2], g.alpha * acc[i][jh * H + 3]);
              if (g.beta != 0.f) {
                const float4 old = *dst;
                out.x += g.beta * old.x;
                out.y += g.beta * old.y;
                out.z += g.beta * old.z;
                out.w += g.beta * old.w;
              }
              *dst = out;
              stored = true;
            }
          }
          if (!stored) {
#pragma unroll
            for (int j = 0; j < H; ++j) store_c(g, C, m, n + j, acc[i][jh * H + j]);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// tf32: 128 x 128 block tile, BK 16, the same double-buffered staging as sgemm_reg with values
// rounded to TF32 on their way into shared memory. 8 warps as 2 (m) x 4 (n), each computing a
// 64 x 32 warp tile as 4 x 4 mma.sync.m16n8k8 tiles. Fragment layouts (PTX ISA, m16n8k8 .tf32),
// with g = lane / 4, t = lane % 4: A a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4);
// B b0 (k t, n g), b1 (k t + 4, n g); C c0 (g, 2t), c1 (g, 2t + 1), c2 (g + 8, 2t),
// c3 (g + 8, 2t + 1). LD = 136 puts the 32 lanes' reads (rows t, columns g) on 32 banks.
// Warp-wide: every lane of the warp calls it (the CPU emulation supplies
// sg_emulated_mma_m16n8k8_tf32).
__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // no TF32 tensor cores before sm_80; plan_gemm never picks this kernel there
#elif defined(SG_CUDA_EMULATION)
  sg_emulated_mma_m16n8k8_tf32(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

template <TileLoad LA, TileLoad LB>
__global__ void __launch_bounds__(kBigThreads) sgemm_tf32(GemmArgs<float> g) {
  constexpr int BM = 128, BK = 16, LD = BM + 8;
  constexpr int Q = quads_per_thread<BM, BK>();
  __shared__ __align__(16) float As[2][BK][LD];
  __shared__ __align__(16) float Bs[2][BK][LD];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = warp / 4, wn = warp % 4;
  const int gq = lane / 4, tq = lane % 4;
  const int64_t tiles = g.tiles_m * g.tiles_n;
  const int64_t k_tiles = (g.K + BK - 1) / BK;
  for (int64_t z = blockIdx.z; z < g.batch; z += gridDim.z) {
    const float* A = g.a.p + z * g.a.bs;
    const float* B = g.b.p + z * g.b.bs;
    float* C = g.c + z * g.c_bs;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
      int64_t tm, tn;
      tile_coords(t, g.tiles_m, g.tiles_n, &tm, &tn);
      const int64_t m0 = tm * BM, n0 = tn * BM;
      float acc[4][4][4];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
          for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;
      float4 ra[Q], rb[Q];
      if (k_tiles > 0) {
        load_tile<LA, BM, BK>(ra, A, g.a, m0, 0, g.K);
        load_tile<LB, BM, BK>(rb, B, g.b, n0, 0, g.K);
        store_tile<LA, BM, BK, LD, true>(ra, &As[0][0][0], g.a.x_fast);
        store_tile<LB, BM, BK, LD, true>(rb, &Bs[0][0][0], g.b.x_fast);
        __syncthreads();
      }
      for (int64_t kt = 0; kt < k_tiles; ++kt) {
        const int cur = static_cast<int>(kt & 1);
        const bool more = kt + 1 < k_tiles;
        if (more) {
          load_tile<LA, BM, BK>(ra, A, g.a, m0, (kt + 1) * BK, g.K);
          load_tile<LB, BM, BK>(rb, B, g.b, n0, (kt + 1) * BK, g.K);
        }
#pragma unroll
        for (int kk = 0; kk < BK; kk += 8) {
          uint32_t af[4][4], bf[4][2];
#pragma unroll
          for (int mi = 0; mi < 4; ++mi) {
            const int r = wm * 64 + mi * 16 + gq;
            af[mi][0] = __float_as_uint(As[cur][kk + tq][r]);
            af[mi][1] = __float_as_uint(As[cur][kk + tq][r + 8]);
            af[mi][2] = __float_as_uint(As[cur][kk + tq + 4][r]);
            af[mi][3] = __float_as_uint(As[cur][kk + tq + 4][r + 8]);
          }
#pragma unroll
          for (int ni = 0; ni < 4; ++ni) {
            const int col = wn * 32 + ni * 8 + gq;
            bf[ni][0] = __float_as_uint(Bs[cur][kk + tq][col]);
            bf[ni][1] = __float_as_uint(Bs[cur][kk + tq + 4][col]);
          }
#pragma unroll
          for (int mi = 0; mi < 4; ++mi)
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) mma_tf32(acc[mi][ni], af[mi], bf[ni]);
        }
        if (more) {
          store_tile<LA, BM, BK, LD, true>(ra, &As[cur ^ 1][0][0], g.a.x_fast);
          store_tile<LB, BM, BK, LD, true>(rb, &Bs[cur ^ 1][0][0], g.b.x_fast);
        }
        __syncthreads();
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            int row, col;
            tf32_acc_pos(warp, lane, mi, ni, r, &row, &col);
            store_c(g, C, m0 + row, n0 + col, acc[mi][ni][r]);
          }
    }
  }
}

}  // namespace stackgrad::kernels::gpu::gemm_kernels
