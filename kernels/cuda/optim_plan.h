// Host-side plan of the CUDA fused optimiser steps (kernels/cuda/optim.cu), unit-tested on the
// CPU in tests/unit/test_cuda_norm_plan.cpp. One launch covers every parameter of a call: each
// parameter is cut into chunks of kOptimChunk elements, and block b of the grid (grid-stride
// beyond it) updates chunk b, found through a table of (tensor, start) pairs in device memory
// next to the per-tensor descriptors (pointers, size, bias corrections).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace stackgrad::kernels::gpu {

constexpr int64_t kOptimChunk = 8192;  // 32 elements per thread of a 256-thread block
constexpr int kOptimThreads = 256;

struct OptimChunk {
  int64_t tensor, start;  // elements [start, min(start + kOptimChunk, size)) of tensor
};

inline std::vector<OptimChunk> optim_chunks(const std::vector<int64_t>& sizes) {
  std::vector<OptimChunk> chunks;
  for (size_t t = 0; t < sizes.size(); ++t)
    for (int64_t s = 0; s < sizes[t]; s += kOptimChunk)
      chunks.push_back({static_cast<int64_t>(t), s});
  return chunks;
}

inline int optim_blocks(int64_t chunks) {
  return static_cast<int>(std::clamp<int64_t>(chunks, 1, int64_t{65536}));
}

// Bytes of the device table: descriptors (each `desc_bytes`) rounded up to 16, then the chunks.
inline size_t optim_table_bytes(size_t tensors, size_t desc_bytes, size_t chunks) {
  const size_t d = (tensors * desc_bytes + 15) / 16 * 16;
  return d + chunks * sizeof(OptimChunk);
}

}  // namespace stackgrad::kernels::gpu
