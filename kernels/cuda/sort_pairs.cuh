// The segmented pair sort of sort.cu, shared with the kernels that sort by destination
// (scatter_add and embedding_backward in index.cu): lines of P (a power of two) pairs sorted by
// (key, pos). Pairs with distinct positions have one sorted order, so every sort of them gives
// the same result; padding pairs {kPadKey, kPadKey} order after every real pair.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/runtime/cuda_context.h"

namespace stackgrad::kernels::gpu {

struct SortPair {
  unsigned long long key, pos;
};

constexpr unsigned long long kPadKey = ~0ull;

// Sorts each of `lines` runs of P pairs in place, on `stream` (schedule: plan_sort in
// scan_plan.h).
void sort_pair_lines(SortPair* pairs, int64_t lines, int64_t P, cudaStream_t stream);

// Device memory for `count` pairs on the current device, returned to the caching allocator at
// scope exit: the kernels that use it are queued on the device's one stream before any later
// user of the block.
class PairBuffer {
 public:
  explicit PairBuffer(int64_t count) : device_(cuda_current_device()) {
    if (count > 0)
      p_ = static_cast<SortPair*>(
          cuda_alloc(device_, static_cast<size_t>(count) * sizeof(SortPair)));
  }
  ~PairBuffer() {
    if (p_) cuda_free(device_, p_);
  }
  PairBuffer(const PairBuffer&) = delete;
  PairBuffer& operator=(const PairBuffer&) = delete;
  SortPair* get() const { return p_; }

 private:
  int device_;
  SortPair* p_ = nullptr;
};

}  // namespace stackgrad::kernels::gpu
