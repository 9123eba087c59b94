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
#include "kernels/cuda/gemm_kernels.cuh"
#include "kernels/cuda/gemm_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

// The kernels and their argument block: kernels/cuda/gemm_kernels.cuh.
using namespace gemm_kernels;

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
