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
// Launch.

int sm_count(int device) {
  static std::array<std::atomic<int>, 64> cache{};
  if (device >= 0 && device < 64) {
    const int known = cache[device].load(std::memory_order_relaxed);
    if (known > 0) return known;
  }
  int n = 0;
  SG_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
  if (device >= 0 && device < 64) cache[device].store(n, std::memory_order_relaxed);
  return n;
}

template <typename T>
OperandDesc desc_of(const T* p, int64_t bs, int64_t sx, int64_t sk, int64_t X) {
  return OperandDesc{reinterpret_cast<uint64_t>(p), bs, sx, sk, X};
}

template <typename T>
Operand<T> operand_of(const T* p, const OperandDesc& d, bool x_fast) {
  return Operand<T>{p, d.batch_stride, d.x_stride, d.k_stride, d.extent_x, x_fast};
}

template <typename T>
void launch(const GemmPlan& plan, const GemmArgs<T>& g, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(plan.grid_x), 1, static_cast<unsigned>(plan.grid_z));
  switch (plan.kernel) {
    case GemmKernel::none:
      return;
    default:  // every kernel until the f32 ones are in
      gemm_tiled<T><<<grid, kSmall * kSmall, 0, stream>>>(g);
      SG_CUDA_CHECK_LAUNCH("gemm_tiled");
      return;
  }
}

}  // namespace

void set_allow_tf32(bool allow) { ::stackgrad::set_allow_tf32(allow); }
bool allow_tf32() { return ::stackgrad::allow_tf32(); }

template <typename T>
void gemm(int device, const GpuGemm<T>& p) {
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
  s.sm_count = sm_count(device);
  const GemmPlan plan = plan_gemm(s);
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
