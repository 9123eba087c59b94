// Loop skeletons of the CUDA elementwise kernels, the counterpart of kernels/cpu/loops.h. A
// "body" holds the pointers and the math and says what one element (or one pack of kVec
// elements) does; the skeletons say how the grid walks memory:
//   - vector loop: every operand contiguous and 16-byte friendly (each pointer aligned to
//     kVec elements): each thread loads kVec elements per operand at once, the last numel % kVec
//     elements are done one by one;
//   - linear loop: every operand contiguous, some pointer not aligned for packs;
//   - strided loop: anything else (transposed views, broadcast stride-0 operands); dims are
//     coalesced on the host first so a typical broadcast has one or two dims to walk.
// All loops are grid-stride loops over int64 indices with a capped grid, so any numel works.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "engine/dispatch/kernel.h"
#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"

namespace stackgrad::kernels::gpu {

constexpr int kThreads = 256;
constexpr int kVec = 4;
constexpr int64_t kMaxBlocks = 65536;  // grid cap: enough to fill any current GPU many times

inline cudaStream_t current_stream() {
  return static_cast<cudaStream_t>(cuda_stream(cuda_current_device()));
}

inline int blocks_for(int64_t work, int threads = kThreads) {
  return static_cast<int>(std::clamp<int64_t>((work + threads - 1) / threads, 1, kMaxBlocks));
}

template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

template <typename T>
__device__ __forceinline__ Pack<T, kVec> load_pack(const T* p, int64_t v) {
  return reinterpret_cast<const Pack<T, kVec>*>(p)[v];
}
template <typename T>
__device__ __forceinline__ void store_pack(T* p, int64_t v, const Pack<T, kVec>& x) {
  reinterpret_cast<Pack<T, kVec>*>(p)[v] = x;
}

// Element offsets of N operands of one shape, for a C-order index.
template <int N>
struct OffsetCalc {
  int ndim = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[N][kMaxDims] = {};

  __device__ __forceinline__ void get(int64_t i, int64_t (&off)[N]) const {
    if (ndim == 1) {  // the common case after coalescing: no division
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = i * stride[k][0];
      return;
    }
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t q = i / size[d];
      const int64_t r = i - q * size[d];
      i = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += r * stride[k][d];
    }
  }
};

// Drops size-1 dims and merges neighbours that are one run of memory in every operand, so the
// device loop divides once per remaining dim.
template <int N>
OffsetCalc<N> make_offset_calc(const std::array<const TensorArg*, N>& args) {
  const TensorArg& shape = *args[0];
  OffsetCalc<N> c;
  for (int d = 0; d < shape.ndim; ++d) {
    if (shape.shape[d] == 1) continue;
    bool merge = c.ndim > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = c.stride[k][c.ndim - 1] == args[k]->strides[d] * shape.shape[d];
    if (merge) {
      c.size[c.ndim - 1] *= shape.shape[d];
      for (int k = 0; k < N; ++k) c.stride[k][c.ndim - 1] = args[k]->strides[d];
      continue;
    }
    c.size[c.ndim] = shape.shape[d];
    for (int k = 0; k < N; ++k) c.stride[k][c.ndim] = args[k]->strides[d];
    ++c.ndim;
  }
  return c;
}

template <typename Body>
__global__ void vector_loop(int64_t n, Body body) {
  const int64_t packs = n / kVec;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t v = first; v < packs; v += step) body.pack(v);
  for (int64_t i = packs * kVec + first; i < n; i += step) body.linear(i);
}

template <typename Body>
__global__ void linear_loop(int64_t n, Body body) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    body.linear(i);
}

template <int N, typename Body>
__global__ void strided_loop(int64_t n, OffsetCalc<N> calc, Body body) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[N];
    calc.get(i, off);
    body.strided(off);
  }
}

inline bool pack_aligned(const TensorArg& t) {
  return reinterpret_cast<uintptr_t>(t.data) % (dtype_size(t.dtype) * kVec) == 0;
}

// Runs `body` over the elements of args[0] (the output); every arg has the output's shape.
// Bodies define linear(i), strided(off[N]) and, when kHasPack, pack(v).
template <int N, typename Body>
void run_map(const char* name, const std::array<const TensorArg*, N>& args, const Body& body) {
  const int64_t n = args[0]->numel;
  if (n == 0) return;
  cudaStream_t stream = current_stream();
  bool contiguous = true, aligned = true;
  for (const TensorArg* a : args) {
    contiguous = contiguous && a->is_contiguous();
    aligned = aligned && pack_aligned(*a);
  }
  if (contiguous && aligned && Body::kHasPack) {
    vector_loop<<<blocks_for((n + kVec - 1) / kVec), kThreads, 0, stream>>>(n, body);
  } else if (contiguous) {
    linear_loop<<<blocks_for(n), kThreads, 0, stream>>>(n, body);
  } else {
    strided_loop<N><<<blocks_for(n), kThreads, 0, stream>>>(n, make_offset_calc<N>(args), body);
  }
  cuda_check(cudaGetLastError(), name, __FILE__, __LINE__);
}

// out = in (same shape, any strides, casting between dtypes): the copy kernel of
// elementwise.cu, for kernels that are copies between views (cat, flip).
void copy_strided(const TensorArg& in, const TensorArg& out);

}  // namespace stackgrad::kernels::gpu
