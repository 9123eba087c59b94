// Host launchers of the CUDA conv2d kernels (conv_kernels.cuh): the tiled plan's launches over
// chunks of groups and its split sum, and the direct kernels' grids. Shared by
// kernels/cuda/conv.cu and kernels/lab/conv/conv_cuda_lab.cu.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/conv_kernels.cuh"
#include "kernels/cuda/loops.cuh"

namespace stackgrad::kernels::gpu {

static_assert(kConvDirectThreads == kThreads, "the direct kernels' blocks are loops.cuh's");

inline int conv_sm_count() {
  int sms = 0;
  SG_CUDA_CHECK(
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, cuda_current_device()));
  return sms;
}

// Runs a tiled plan: one launch per chunk of groups_per_launch groups, then the split sum.
// bias/plane/channels: the forward's bias and the output's P and O (nullptr elsewhere).
template <class Prob, bool kAFastM>
void launch_conv_tiled(const Prob& prob, const ConvPlan& p, int64_t groups, int64_t out_elems,
                       int64_t plane, int64_t channels) {
  cudaStream_t stream = current_stream();
  const int device = cuda_current_device();
  float* ws = p.splits > 1 ? static_cast<float*>(cuda_alloc(
                                 device, static_cast<size_t>(p.workspace_elems) * sizeof(float)))
                           : nullptr;
  try {
    for (int64_t g0 = 0; g0 < groups; g0 += p.groups_per_launch) {
      const int64_t gc = std::min(p.groups_per_launch, groups - g0);
      const dim3 grid(static_cast<unsigned>(p.m_tiles), static_cast<unsigned>(p.n_tiles),
                      static_cast<unsigned>(gc * p.splits));
      conv_igemm<Prob, kAFastM><<<grid, kConvThreads, 0, stream>>>(
          prob, p.gemm.M, p.gemm.N, p.gemm.K, p.k_chunk, p.splits, g0, ws, out_elems);
      SG_CUDA_CHECK_LAUNCH("conv_igemm");
    }
    if (ws) {
      conv_split_sum<float><<<blocks_for(out_elems), kThreads, 0, stream>>>(
          ws, p.splits, out_elems, prob.bias, plane, channels, prob.out);
      SG_CUDA_CHECK_LAUNCH("conv_split_sum");
    }
  } catch (...) {
    if (ws) cuda_free(device, ws);
    throw;
  }
  // Back to the caching allocator at once: later users queue on the same stream.
  if (ws) cuda_free(device, ws);
}

template <typename T>
void conv_forward_gpu(const ConvShape& s, const ConvPlan& p, const T* x, const T* w, const T* bias,
                      T* y) {
  const int64_t total = s.N * s.O * s.P;
  if (total == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (p.kernel == ConvKernel::tiled) {
      launch_conv_tiled<FwdProblem, true>(FwdProblem{conv_dev(s), x, w, bias, y}, p, s.G, total,
                                          s.P, s.O);
      return;
    }
  }
  conv_fwd_direct<T>
      <<<blocks_for(total), kThreads, 0, current_stream()>>>(conv_dev(s), x, w, bias, y);
  SG_CUDA_CHECK_LAUNCH("conv_fwd_direct");
}

template <typename T>
void conv_input_grad_gpu(const ConvShape& s, const ConvPlan& p, const T* dy, const T* w, T* dx) {
  const int64_t total = s.N * s.C * s.H * s.W;
  if (total == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (p.kernel == ConvKernel::tiled) {
      launch_conv_tiled<InputGradProblem, true>(InputGradProblem{conv_dev(s), dy, w, nullptr, dx},
                                                p, s.G, total, 1, 1);
      return;
    }
  }
  conv_input_grad_direct<T>
      <<<blocks_for(total), kThreads, 0, current_stream()>>>(conv_dev(s), dy, w, dx);
  SG_CUDA_CHECK_LAUNCH("conv_input_grad_direct");
}

template <typename T>
void conv_weight_grad_gpu(const ConvShape& s, const ConvPlan& p, const T* dy, const T* x, T* dw) {
  const int64_t total = s.O * s.K;
  if (total == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (p.kernel == ConvKernel::tiled) {
      launch_conv_tiled<WeightGradProblem, false>(
          WeightGradProblem{conv_dev(s), dy, x, nullptr, dw}, p, s.G, total, 1, 1);
      return;
    }
  }
  const int blocks = static_cast<int>(std::min<int64_t>(total, kMaxBlocks));
  conv_weight_grad_direct<T>
      <<<blocks, kConvDirectThreads, 0, current_stream()>>>(conv_dev(s), dy, x, dw);
  SG_CUDA_CHECK_LAUNCH("conv_weight_grad_direct");
}

}  // namespace stackgrad::kernels::gpu
