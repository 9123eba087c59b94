// CUDA random kernels: uniform, normal, randint, bernoulli and dropout, the counterparts of
// kernels/reference/random_kernels.h. Element i (C order) uses Philox counter (offset + i) under
// the seed, through the same philox4x32 and word conversions (kernels/reference/philox.h, host
// and device code), so a draw on cuda:N gives the CPU generator's numbers for the same seed,
// offset and shape.
//
// Bit-for-bit: uniform, randint, bernoulli and dropout use only integer steps, exact
// conversions and single IEEE double operations, except one multiply-add: uniform's
// lo + (hi - lo) * u (and normal's mean + std * z). The CPU build (GCC, -march=x86-64-v3)
// contracts it into one FMA (vfmadd132sd in the reference and CPU kernels' code), so the kernels
// here spell that FMA out with __fma_rn: the same single rounding. A CPU build that does not
// contract (no FMA in its -march, or -ffp-contract=off) would differ from both in the last bit
// of some uniforms. normal is not bit-for-bit: Box-Muller's log and cos come from CUDA's double
// math library (within 1 and 2 ulp), not glibc's, so an f64 normal may differ in its last bits
// (f32 rarely at all).
// randperm (a sort) has no CUDA kernel yet.
#include <type_traits>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/reference/philox.h"

namespace stackgrad::kernels::gpu {
namespace {

__device__ __forceinline__ Philox4 block_of(uint64_t seed, uint64_t offset, int64_t i) {
  return philox4x32(seed, offset + static_cast<uint64_t>(i));
}

// uniform_value of random_kernels.h.
template <typename T>
__device__ __forceinline__ T uniform_value_dev(const Philox4& r, double lo, double hi) {
  const double u =
      std::is_same_v<T, float> ? static_cast<double>(uniform_f32(r)) : uniform_f64(r);
  const T v = static_cast<T>(__fma_rn(__dsub_rn(hi, lo), u, lo));  // the CPU's contraction
  return v < static_cast<T>(hi) || lo == hi ? v : static_cast<T>(lo);  // keep [lo, hi)
}

// The C-order element i of a strided operand, through the coalesced dims of OffsetCalc.
template <typename T>
__device__ __forceinline__ T read_strided(const T* p, const OffsetCalc<1>& calc, int64_t i) {
  int64_t off[1];
  calc.get(i, off);
  return p[off[0]];
}

template <typename T>
__global__ void uniform_kernel(int64_t n, T* y, uint64_t seed, uint64_t offset, double lo,
                               double hi) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    y[i] = uniform_value_dev<T>(block_of(seed, offset, i), lo, hi);
}

template <typename T>
__global__ void normal_kernel(int64_t n, T* y, uint64_t seed, uint64_t offset, double mean,
                              double std) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    y[i] = static_cast<T>(__fma_rn(std, normal_f64(block_of(seed, offset, i)), mean));
}

// below() of philox.h: the high 64 bits of bits64 * range.
template <typename T>
__global__ void randint_kernel(int64_t n, T* y, uint64_t seed, uint64_t offset, uint64_t range,
                               int64_t low) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const uint64_t k = __umul64hi(bits64(block_of(seed, offset, i)), range);
    y[i] = static_cast<T>(low + static_cast<int64_t>(k));
  }
}

// P is the probability tensor's type (float or double); `probs` null means the scalar p.
template <typename T, typename P>
__global__ void bernoulli_kernel(int64_t n, T* y, uint64_t seed, uint64_t offset, double p,
                                 const P* probs, OffsetCalc<1> calc) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const double pi = probs ? static_cast<double>(read_strided(probs, calc, i)) : p;
    y[i] = static_cast<T>(uniform_f64(block_of(seed, offset, i)) < pi);
  }
}

template <typename T>
__global__ void dropout_kernel(int64_t n, const T* x, OffsetCalc<1> calc, T* y, uint64_t seed,
                               uint64_t offset, double p, double scale) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const T xi = read_strided(x, calc, i);
    y[i] = uniform_f64(block_of(seed, offset, i)) >= p ? static_cast<T>(xi * scale) : T(0);
  }
}

void cuda_uniform(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  if (out.numel == 0) return;
  SG_DISPATCH_FLOAT(out.dtype, "uniform", [&] {
    uniform_kernel<<<blocks_for(out.numel), kThreads, 0, current_stream()>>>(
        out.numel, out.ptr<scalar_t>(), c.attrs.seed, c.attrs.offset, c.attrs.alpha, c.attrs.beta);
    SG_CUDA_CHECK_LAUNCH("uniform_kernel");
  });
}

void cuda_normal(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  if (out.numel == 0) return;
  SG_DISPATCH_FLOAT(out.dtype, "normal", [&] {
    normal_kernel<<<blocks_for(out.numel), kThreads, 0, current_stream()>>>(
        out.numel, out.ptr<scalar_t>(), c.attrs.seed, c.attrs.offset, c.attrs.alpha, c.attrs.beta);
    SG_CUDA_CHECK_LAUNCH("normal_kernel");
  });
}

void cuda_randint(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const uint64_t range = static_cast<uint64_t>(c.attrs.ints.at(0));
  if (out.numel == 0) return;
  SG_DISPATCH_NUMERIC(out.dtype, "randint", [&] {
    randint_kernel<<<blocks_for(out.numel), kThreads, 0, current_stream()>>>(
        out.numel, out.ptr<scalar_t>(), c.attrs.seed, c.attrs.offset, range,
        static_cast<int64_t>(c.attrs.k));
    SG_CUDA_CHECK_LAUNCH("randint_kernel");
  });
}

void cuda_bernoulli(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  if (out.numel == 0) return;
  const bool per_element = !c.in.empty();
  SG_DISPATCH_ALL(out.dtype, "bernoulli", [&] {
    const int64_t n = out.numel;
    if (!per_element) {
      bernoulli_kernel<scalar_t, float><<<blocks_for(n), kThreads, 0, current_stream()>>>(
          n, out.ptr<scalar_t>(), c.attrs.seed, c.attrs.offset, c.attrs.alpha, nullptr,
          OffsetCalc<1>{});
    } else {
      const TensorArg& probs = c.in[0];
      const OffsetCalc<1> calc = make_offset_calc<1>({&probs});
      if (probs.dtype == DType::f32) {
        bernoulli_kernel<scalar_t, float><<<blocks_for(n), kThreads, 0, current_stream()>>>(
            n, out.ptr<scalar_t>(), c.attrs.seed, c.attrs.offset, 0.0, probs.ptr<float>(), calc);
      } else {
        bernoulli_kernel<scalar_t, double><<<blocks_for(n), kThreads, 0, current_stream()>>>(
            n, out.ptr<scalar_t>(), c.attrs.seed, c.attrs.offset, 0.0, probs.ptr<double>(), calc);
      }
    }
    SG_CUDA_CHECK_LAUNCH("bernoulli_kernel");
  });
}

void cuda_dropout(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  if (out.numel == 0) return;
  const double p = c.attrs.alpha, scale = 1.0 / (1.0 - p);
  SG_DISPATCH_FLOAT(in.dtype, "dropout", [&] {
    dropout_kernel<<<blocks_for(out.numel), kThreads, 0, current_stream()>>>(
        out.numel, in.ptr<scalar_t>(), make_offset_calc<1>({&in}), out.ptr<scalar_t>(),
        c.attrs.seed, c.attrs.offset, p, scale);
    SG_CUDA_CHECK_LAUNCH("dropout_kernel");
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_random() {
  using namespace kernels::gpu;
  register_kernel(OpId::uniform, Backend::cuda, cuda_uniform);
  register_kernel(OpId::normal, Backend::cuda, cuda_normal);
  register_kernel(OpId::randint, Backend::cuda, cuda_randint);
  register_kernel(OpId::bernoulli, Backend::cuda, cuda_bernoulli);
  register_kernel(OpId::dropout, Backend::cuda, cuda_dropout);
}

}  // namespace stackgrad
