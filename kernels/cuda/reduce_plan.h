// Host-side plan of reduce.cu's column version: reductions whose reduced elements are strided
// while neighbouring outputs are neighbours in memory (sum over dim 0 of a row-major matrix).
// Plain C++ without CUDA headers, unit-tested in tests/unit/test_cuda_scan_plan.cpp.
#pragma once

#include <algorithm>
#include <cstdint>

namespace stackgrad::kernels::gpu {

// A block of 256 threads takes 32 neighbouring outputs (a warp reads 32 neighbours: one run of
// memory) and 8 interleaved slices of the reduced elements per output; long reductions with few
// output groups are cut into chunks, reduced in two passes like the row version.
constexpr int kColOutputs = 32;
constexpr int kColSlices = 8;
constexpr int64_t kColTargetBlocks = 2048;  // about 8 resident blocks on each of 132 SMs, twice
constexpr int64_t kColMinRun = 256;         // elements of one output per chunk at least
constexpr int64_t kColMaxBlocks = 65536;

struct ColumnReducePlan {
  int64_t col_blocks = 0;  // groups of kColOutputs outputs
  int64_t chunks = 1;      // chunks of the reduced elements (two passes when > 1)
  int64_t run = 0;         // reduced elements per chunk
  int64_t blocks = 0;      // grid size (grid-stride over col_blocks * chunks tasks)
};

inline ColumnReducePlan plan_column_reduce(int64_t outer, int64_t inner) {
  ColumnReducePlan p;
  p.col_blocks = (outer + kColOutputs - 1) / kColOutputs;
  if (p.col_blocks < kColTargetBlocks) {
    const int64_t want = (kColTargetBlocks + p.col_blocks - 1) / p.col_blocks;
    p.chunks = std::clamp<int64_t>(std::min(want, inner / kColMinRun), 1, want);
  }
  p.run = (inner + p.chunks - 1) / p.chunks;
  if (p.run > 0) p.chunks = (inner + p.run - 1) / p.run;
  p.blocks = std::clamp<int64_t>(p.col_blocks * p.chunks, 1, kColMaxBlocks);
  return p;
}

// Whether the column version applies: the reduced dims coalesce into one strided run
// (col_ndim == 1, col_stride != 1), the innermost kept dim has stride 1, and there are enough
// outputs to fill a warp's loads.
inline bool use_column_reduce(int col_ndim, int64_t col_stride, int row_ndim,
                              int64_t inner_row_stride, int64_t outer) {
  return col_ndim == 1 && col_stride != 1 && row_ndim >= 1 && inner_row_stride == 1 &&
         outer >= kColOutputs;
}

}  // namespace stackgrad::kernels::gpu
