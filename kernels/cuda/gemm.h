// The CUDA GEMM as a raw-device-pointer routine, the counterpart of kernels/cpu/gemm.h, for the
// kernels that build on it (bmm, the LSTM's input projection, attention or conv epilogues that
// want a plain product). Operands are strided matrices (strides in elements, stride 0 allowed
// for broadcast), so transposed views need no copy; a batch is `batch` problems whose operands
// are `*_bs` elements apart. Everything is queued on the device's stream (cuda_stream(device)).
//
// This header needs no CUDA headers; the definitions are in kernels/cuda/gemm.cu.
#pragma once

#include <cstdint>

namespace stackgrad::kernels::gpu {

// C[b][M, N] = alpha · A[b][M, K] · B[b][K, N] + beta · C[b] for b < batch.
template <typename T>
struct GpuGemm {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  const T* a = nullptr;
  int64_t a_bs = 0, a_rs = 0, a_cs = 0;
  const T* b = nullptr;
  int64_t b_bs = 0, b_rs = 0, b_cs = 0;
  T* c = nullptr;
  int64_t c_bs = 0, c_rs = 0, c_cs = 0;
  T alpha = T(1), beta = T(0);
};

// Runs the product on device `device` (its stream). Defined for float and double. Floats use
// the exact f32 kernels unless tensor cores are allowed (below).
template <typename T>
void gemm(int device, const GpuGemm<T>& p);

// Whether f32 products may use tensor cores with TF32 inputs (10-bit mantissa, f32
// accumulation): faster, less exact. Off by default, so results match the CPU to f32 rounding.
void set_allow_tf32(bool allow);
bool allow_tf32();

// The kernel versions of gemm.cu (kernels/cuda/gemm_plan.h defines them; gemm() picks one per
// shape with plan_gemm()).
enum class GemmKernel : int;

// An f32 product on the named kernel instead of the planned one, for the lab and the benchmarks
// that compare versions: GemmKernel::tf32 runs on tensor cores whatever allow_tf32() says.
// Throws for GemmKernel::none.
void gemm_with_kernel(int device, const GpuGemm<float>& p, GemmKernel kernel);

}  // namespace stackgrad::kernels::gpu
