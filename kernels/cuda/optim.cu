// CUDA fused optimiser steps (ops adam_step, sgd_step): one launch updates every parameter of a
// call in place, through the per-element updates that the reference and CPU kernels share
// (kernels/reference/optim_math.h) with the __f*_rn / __d*_rn intrinsics, so every operation
// rounds as the unfused tensor ops do and the GPU step equals theirs bit for bit.
//
// Multi-tensor launch rather than one flat buffer: parameters are separate tensors owned by
// their modules (views, checkpoints, .to(device) and the optimiser state all address them one
// by one), and re-homing them into one allocation would change every owner. A table of
// per-tensor descriptors and (tensor, start) chunks (optim_plan.h) is copied to the device with
// each call (one small asynchronous copy), and block b updates chunk b: one launch per step
// instead of about a dozen kernels per parameter.
#include <cstring>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/optim_plan.h"
#include "kernels/reference/optim_math.h"

namespace stackgrad::kernels::gpu {
namespace {

// IEEE operations rounded to nearest that nvcc never contracts into FMAs.
struct DeviceArith {
  static __host__ __device__ float mul(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
  }
  static __host__ __device__ double mul(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
  }
  static __host__ __device__ float add(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
  }
  static __host__ __device__ double add(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dadd_rn(a, b);
#else
    return a + b;
#endif
  }
  static __host__ __device__ float div(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
  }
  static __host__ __device__ double div(double a, double b) {
#ifdef __CUDA_ARCH__
    return __ddiv_rn(a, b);
#else
    return a / b;
#endif
  }
  static __host__ __device__ float sqrt(float a) {
#ifdef __CUDA_ARCH__
    return __fsqrt_rn(a);
#else
    return std::sqrt(a);
#endif
  }
  static __host__ __device__ double sqrt(double a) {
#ifdef __CUDA_ARCH__
    return __dsqrt_rn(a);
#else
    return std::sqrt(a);
#endif
  }
};

template <typename T>
struct AdamTensor {
  T* p;
  const T* g;
  T* m;
  T* v;
  T* vmax;  // nullptr unless amsgrad
  int64_t n;
  AdamParamScalars<T> q;
};

template <typename T>
struct SgdTensor {
  T* p;
  const T* g;
  T* buf;  // nullptr without momentum
  int64_t n;
  int first;
};

template <typename T>
__global__ void __launch_bounds__(kOptimThreads)
    adam_chunks(const AdamTensor<T>* tensors, const OptimChunk* chunks, int64_t nchunks,
                AdamScalars<T> s) {
  for (int64_t c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const OptimChunk ch = chunks[c];
    const AdamTensor<T> t = tensors[ch.tensor];
    const int64_t end = min(t.n, ch.start + kOptimChunk);
    for (int64_t e = ch.start + threadIdx.x; e < end; e += blockDim.x) {
      T p = t.p[e], m = t.m[e], v = t.v[e], vm = s.amsgrad ? t.vmax[e] : T(0);
      adam_update<DeviceArith>(p, t.g[e], m, v, s.amsgrad ? &vm : nullptr, s, t.q);
      t.p[e] = p, t.m[e] = m, t.v[e] = v;
      if (s.amsgrad) t.vmax[e] = vm;
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kOptimThreads)
    sgd_chunks(const SgdTensor<T>* tensors, const OptimChunk* chunks, int64_t nchunks,
               SgdScalars<T> s) {
  for (int64_t c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const OptimChunk ch = chunks[c];
    const SgdTensor<T> t = tensors[ch.tensor];
    const int64_t end = min(t.n, ch.start + kOptimChunk);
    for (int64_t e = ch.start + threadIdx.x; e < end; e += blockDim.x) {
      T p = t.p[e], b = s.has_momentum ? t.buf[e] : T(0);
      sgd_update<DeviceArith>(p, t.g[e], s.has_momentum ? &b : nullptr, t.first != 0, s);
      t.p[e] = p;
      if (s.has_momentum) t.buf[e] = b;
    }
  }
}

// Copies descriptors and chunks to one device block, runs `launch(descs, chunks, n)`, and
// returns the block to the caching allocator (stream-ordered: later work runs after the kernel).
// The host vectors may go once cudaMemcpyAsync returns: from pageable memory it stages the
// bytes before returning.
template <typename Desc, typename Launch>
void with_table(const std::vector<Desc>& descs, const std::vector<int64_t>& sizes, Launch launch) {
  const std::vector<OptimChunk> chunks = optim_chunks(sizes);
  if (chunks.empty()) return;
  const size_t bytes = optim_table_bytes(descs.size(), sizeof(Desc), chunks.size());
  std::vector<unsigned char> host(bytes, 0);
  std::memcpy(host.data(), descs.data(), descs.size() * sizeof(Desc));
  const size_t chunk_off = bytes - chunks.size() * sizeof(OptimChunk);
  std::memcpy(host.data() + chunk_off, chunks.data(), chunks.size() * sizeof(OptimChunk));
  const int device = cuda_current_device();
  auto* table = static_cast<unsigned char*>(cuda_alloc(device, bytes));
  try {
    cudaStream_t stream = current_stream();
    SG_CUDA_CHECK(cudaMemcpyAsync(table, host.data(), bytes, cudaMemcpyHostToDevice, stream));
    launch(reinterpret_cast<const Desc*>(table),
           reinterpret_cast<const OptimChunk*>(table + chunk_off),
           static_cast<int64_t>(chunks.size()), stream);
  } catch (...) {
    cuda_free(device, table);
    throw;
  }
  cuda_free(device, table);
}

void cuda_adam_step(const KernelCall& c) {
  const size_t n = c.in.size() / 5;
  if (n == 0) return;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "adam_step", [&] {
    using T = scalar_t;
    const AdamScalars<T> s =
        adam_scalars<T>(c.attrs.alpha, c.attrs.beta, c.attrs.flag, c.attrs.flag2, c.attrs.ints);
    std::vector<AdamTensor<T>> descs(n);
    std::vector<int64_t> sizes(n);
    for (size_t i = 0; i < n; ++i) {
      descs[i] = {c.in[5 * i].ptr<T>(),
                  c.in[5 * i + 1].ptr<T>(),
                  c.in[5 * i + 2].ptr<T>(),
                  c.in[5 * i + 3].ptr<T>(),
                  s.amsgrad ? c.in[5 * i + 4].ptr<T>() : nullptr,
                  c.in[5 * i].numel,
                  adam_param_scalars<T>(c.attrs.ints, i)};
      sizes[i] = c.in[5 * i].numel;
    }
    with_table(descs, sizes,
               [&](const AdamTensor<T>* d, const OptimChunk* ch, int64_t nch, cudaStream_t st) {
                 adam_chunks<T><<<optim_blocks(nch), kOptimThreads, 0, st>>>(d, ch, nch, s);
                 SG_CUDA_CHECK_LAUNCH("adam_chunks");
               });
  });
}

void cuda_sgd_step(const KernelCall& c) {
  const size_t n = c.in.size() / 3;
  if (n == 0) return;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "sgd_step", [&] {
    using T = scalar_t;
    const SgdScalars<T> s = sgd_scalars<T>(c.attrs.alpha, c.attrs.beta, c.attrs.flag, c.attrs.ints);
    std::vector<SgdTensor<T>> descs(n);
    std::vector<int64_t> sizes(n);
    for (size_t i = 0; i < n; ++i) {
      descs[i] = {c.in[3 * i].ptr<T>(), c.in[3 * i + 1].ptr<T>(),
                  s.has_momentum ? c.in[3 * i + 2].ptr<T>() : nullptr, c.in[3 * i].numel,
                  c.attrs.ints[2 + i] != 0 ? 1 : 0};
      sizes[i] = c.in[3 * i].numel;
    }
    with_table(descs, sizes,
               [&](const SgdTensor<T>* d, const OptimChunk* ch, int64_t nch, cudaStream_t st) {
                 sgd_chunks<T><<<optim_blocks(nch), kOptimThreads, 0, st>>>(d, ch, nch, s);
                 SG_CUDA_CHECK_LAUNCH("sgd_chunks");
               });
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_optim() {
  using namespace kernels::gpu;
  register_kernel(OpId::adam_step, Backend::cuda, cuda_adam_step);
  register_kernel(OpId::sgd_step, Backend::cuda, cuda_sgd_step);
}

}  // namespace stackgrad
