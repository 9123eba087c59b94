// The CUDA GEMM (kernels/cuda/gemm.h) and the bmm kernel built on it. Design and versions:
// docs/kernels/gemm.md; every version with its timings: kernels/lab/gemm/gemm_cuda_lab.cu.
//
// All kernels read A and B through their strides (any layout, stride 0, negative), walk a batch
// through gridDim.z (looping past 65535) and tiles through gridDim.x (grouped so blocks running
// together share rows of A and columns of B in L2), and compute C = alpha·A·B + beta·C, never
// reading C when beta == 0 (BLAS semantics: C may hold NaN garbage). Which kernel runs a shape
// is decided on the host by plan_gemm() (gemm_plan.h, unit-tested on the CPU):
//   - tiled: 16x16 shared-memory tiles, one output per thread; f64 and small or thin f32;
//   - reg64 / reg128 (f32): 64x64 or 128x128 block tiles, 4x4 or 8x8 outputs per thread,
//     two shared-memory stages: the global loads of tile k+1 are issued into registers before
//     the math on tile k and stored to the other stage after it, so one barrier per k-tile;
//     float4 global loads when an operand is contiguous along the loaded dim and aligned;
//   - tf32 (f32, only when allow_tf32()): the same 128x128 double-buffered tiles, computed by
//     warps of mma.sync m16n8k8 with TF32 inputs (rounded to nearest when stored to shared
//     memory) and f32 accumulators.
// Within one kernel every C element sums its K products in a fixed order (no split-K, no
// atomics), so results depend on the shape and the kernel, never on timing.
#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <type_traits>

#include "engine/dispatch/registry.h"
#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/math_mode.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

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

// Rounds to TF32 (10-bit mantissa, nearest, ties away from zero), the tensor cores' input.
__device__ __forceinline__ float to_tf32(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  return x;  // no cvt.rna.tf32 before sm_80; the tf32 kernel is never planned there
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
__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // no TF32 tensor cores before sm_80; plan_gemm never picks this kernel there
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

// ---------------------------------------------------------------------------------------------
// Launch.

// Multiprocessor count and compute capability major of a device, queried once.
struct DeviceInfo {
  int sm_count = 0, cc_major = 0;
};

DeviceInfo device_info(int device) {
  constexpr int kCached = 64;
  static std::array<std::atomic<int>, kCached> sms{}, majors{};
  if (device >= 0 && device < kCached) {
    // Acquire pairs with the release below: a thread that sees the SM count sees the major too.
    const int sm = sms[device].load(std::memory_order_acquire);
    if (sm > 0) return {sm, majors[device].load(std::memory_order_relaxed)};
  }
  DeviceInfo info;
  SG_CUDA_CHECK(cudaDeviceGetAttribute(&info.sm_count, cudaDevAttrMultiProcessorCount, device));
  SG_CUDA_CHECK(cudaDeviceGetAttribute(&info.cc_major, cudaDevAttrComputeCapabilityMajor, device));
  if (device >= 0 && device < kCached) {
    majors[device].store(info.cc_major, std::memory_order_relaxed);
    sms[device].store(info.sm_count, std::memory_order_release);
  }
  return info;
}

template <typename T>
OperandDesc desc_of(const T* p, int64_t bs, int64_t sx, int64_t sk, int64_t X) {
  return OperandDesc{reinterpret_cast<uint64_t>(p), bs, sx, sk, X};
}

template <typename T>
Operand<T> operand_of(const T* p, const OperandDesc& d, bool x_fast) {
  return Operand<T>{p, d.batch_stride, d.x_stride, d.k_stride, d.extent_x, x_fast};
}

template <TileLoad LA, TileLoad LB>
void launch_f32(const GemmPlan& plan, dim3 grid, const GemmArgs<float>& g, cudaStream_t stream) {
  switch (plan.kernel) {
    case GemmKernel::reg64:
      sgemm_reg<64, 16, 4, LA, LB><<<grid, kBigThreads, 0, stream>>>(g);
      SG_CUDA_CHECK_LAUNCH("sgemm_reg<64>");
      return;
    case GemmKernel::reg128:
      sgemm_reg<128, 8, 8, LA, LB><<<grid, kBigThreads, 0, stream>>>(g);
      SG_CUDA_CHECK_LAUNCH("sgemm_reg<128>");
      return;
    case GemmKernel::tf32:
      sgemm_tf32<LA, LB><<<grid, kBigThreads, 0, stream>>>(g);
      SG_CUDA_CHECK_LAUNCH("sgemm_tf32");
      return;
    default:
      fail("gemm: kernel ", gemm_kernel_name(plan.kernel), " is not an f32 tile kernel");
  }
}

template <TileLoad LA>
void launch_f32_b(const GemmPlan& plan, dim3 grid, const GemmArgs<float>& g, cudaStream_t s) {
  switch (plan.b_load) {
    case TileLoad::vec_k:
      return launch_f32<LA, TileLoad::vec_k>(plan, grid, g, s);
    case TileLoad::vec_x:
      return launch_f32<LA, TileLoad::vec_x>(plan, grid, g, s);
    case TileLoad::scalar:
      return launch_f32<LA, TileLoad::scalar>(plan, grid, g, s);
  }
}

template <typename T>
void launch(const GemmPlan& plan, const GemmArgs<T>& g, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(plan.grid_x), 1, static_cast<unsigned>(plan.grid_z));
  if (plan.kernel == GemmKernel::none) return;
  if (plan.kernel == GemmKernel::tiled) {
    gemm_tiled<T><<<grid, kSmall * kSmall, 0, stream>>>(g);
    SG_CUDA_CHECK_LAUNCH("gemm_tiled");
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    switch (plan.a_load) {
      case TileLoad::vec_k:
        return launch_f32_b<TileLoad::vec_k>(plan, grid, g, stream);
      case TileLoad::vec_x:
        return launch_f32_b<TileLoad::vec_x>(plan, grid, g, stream);
      case TileLoad::scalar:
        return launch_f32_b<TileLoad::scalar>(plan, grid, g, stream);
    }
  } else {
    fail("gemm: kernel ", gemm_kernel_name(plan.kernel), " is f32 only");
  }
}

}  // namespace

void set_allow_tf32(bool allow) { ::stackgrad::set_allow_tf32(allow); }
bool allow_tf32() { return ::stackgrad::allow_tf32(); }

namespace {

// The plan and launch of gemm() and gemm_with_kernel(); `forced` replaces the planned kernel
// (the geometry is recomputed for its tile).
template <typename T>
void run_gemm(int device, const GpuGemm<T>& p, GemmKernel forced) {
  SG_CHECK(p.batch >= 0 && p.M >= 0 && p.N >= 0 && p.K >= 0, "gemm: negative size (batch ", p.batch,
           ", M ", p.M, ", N ", p.N, ", K ", p.K, ")");
  if (p.batch == 0 || p.M == 0 || p.N == 0) return;
  cuda_set_device(device);
  GemmShapeDesc s;
  s.batch = p.batch;
  s.M = p.M;
  s.N = p.N;
  s.K = p.K;
  s.a = desc_of(p.a, p.a_bs, p.a_rs, p.a_cs, p.M);
  s.b = desc_of(p.b, p.b_bs, p.b_cs, p.b_rs, p.N);
  s.c_addr = reinterpret_cast<uint64_t>(p.c);
  s.c_bs = p.c_bs;
  s.c_rs = p.c_rs;
  s.c_cs = p.c_cs;
  s.elem_bytes = sizeof(T);
  s.allow_tf32 = allow_tf32();
  const DeviceInfo info = device_info(device);
  s.sm_count = info.sm_count;
  s.cc_major = info.cc_major;
  GemmPlan plan = plan_gemm(s);
  if (forced != GemmKernel::none) {
    SG_CHECK(forced != GemmKernel::tf32 || info.cc_major >= 8,
             "gemm: the tf32 kernel needs compute capability 8.0 or newer, device ", device,
             " has ", info.cc_major, ".x");
    plan = with_kernel(plan, s, forced);
  }
  GemmArgs<T> g{};
  g.batch = p.batch;
  g.M = p.M;
  g.N = p.N;
  g.K = p.K;
  g.a = operand_of(p.a, s.a, plan.a_x_fast);
  g.b = operand_of(p.b, s.b, plan.b_x_fast);
  g.c = p.c;
  g.c_bs = p.c_bs;
  g.c_rs = p.c_rs;
  g.c_cs = p.c_cs;
  g.alpha = p.alpha;
  g.beta = p.beta;
  g.tiles_m = plan.tiles_m;
  g.tiles_n = plan.tiles_n;
  g.c_vec = plan.c_vec;
  launch(plan, g, static_cast<cudaStream_t>(cuda_stream(device)));
}

}  // namespace

template <typename T>
void gemm(int device, const GpuGemm<T>& p) {
  run_gemm(device, p, GemmKernel::none);
}

void gemm_with_kernel(int device, const GpuGemm<float>& p, GemmKernel kernel) {
  SG_CHECK(kernel != GemmKernel::none, "gemm_with_kernel: name a kernel");
  run_gemm(device, p, kernel);
}

template void gemm<float>(int, const GpuGemm<float>&);
template void gemm<double>(int, const GpuGemm<double>&);

namespace {

// bmm: out[..., M, N] = a[..., M, K] · b[..., K, N] over the (already broadcast, possibly
// stride-0) batch dims, folded into as few launches as the strides allow (fold_batch).
void cuda_bmm(const KernelCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &out = c.out[0];
  const int nd = out.ndim;
  const int64_t* strides[3] = {a.strides, b.strides, out.strides};
  const BatchFold fold = fold_batch(nd - 2, out.shape, strides);
  const int device = cuda_current_device();
  SG_DISPATCH_FLOAT(a.dtype, "bmm", [&] {
    using T = scalar_t;
    GpuGemm<T> p;
    p.batch = fold.inner;
    p.M = a.shape[nd - 2];
    p.N = b.shape[nd - 1];
    p.K = a.shape[nd - 1];
    p.a_bs = fold.inner_stride[0];
    p.a_rs = a.strides[nd - 2];
    p.a_cs = a.strides[nd - 1];
    p.b_bs = fold.inner_stride[1];
    p.b_rs = b.strides[nd - 2];
    p.b_cs = b.strides[nd - 1];
    p.c_bs = fold.inner_stride[2];
    p.c_rs = out.strides[nd - 2];
    p.c_cs = out.strides[nd - 1];
    const int64_t launches = fold.launches();
    for (int64_t i = 0; i < launches; ++i) {
      int64_t off[3];
      fold.offsets(i, off);
      p.a = a.ptr<T>() + off[0];
      p.b = b.ptr<T>() + off[1];
      p.c = out.ptr<T>() + off[2];
      gemm<T>(device, p);
    }
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_matmul() { register_kernel(OpId::bmm, Backend::cuda, kernels::gpu::cuda_bmm); }

}  // namespace stackgrad
