// Host-side plans of the CUDA scan (cumsum) and sort kernels (kernels/cuda/scan.cu, sort.cu):
// which kernel version runs and its launch geometry. Plain C++ without CUDA headers, so the
// choices are unit-tested on machines without a GPU (tests/unit/test_cuda_scan_plan.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#ifdef __CUDACC__
#define SG_PLAN_HD __host__ __device__
#else
#define SG_PLAN_HD
#endif

namespace stackgrad::kernels::gpu {

// --- cumsum ----------------------------------------------------------------------------------

// The versions of the line scan:
//   column: one thread per line, walking it in order (the CPU's summation order exactly); picked
//           when the line's elements are strided and neighbouring lines are neighbours in memory
//           (a scan along a leading dim), so a warp's 32 loads of one step are one run;
//   warp:   one warp per line, tiles of 32 x kScanItems elements: each lane adds its kScanItems
//           in order, a shuffle scan combines the lanes, a carry runs from tile to tile;
//   block:  the same with a 256-thread block per line, for lines longer than kScanBlockLine.
// `serial` (f64): the warp loads and stores tiles together but one lane adds them in order, so
// the sums are the CPU's, bit for bit; such lines never get a block (one adding thread in 256).
enum class ScanVersion { column, warp, block };

constexpr int kScanThreads = 256;
constexpr int kScanItems = 8;                 // elements per thread per tile
constexpr int64_t kScanBlockLine = 4096;      // from this length a line gets a block
constexpr int64_t kScanColumnMinLines = 256;  // fewer lines leave the GPU mostly idle
constexpr int64_t kScanMaxBlocks = 65536;

struct ScanPlan {
  ScanVersion version = ScanVersion::warp;
  int64_t tile = 0;    // elements per tile (warp, block); 0 for column
  int64_t tiles = 0;   // tiles per line: carry steps are tiles - 1
  int64_t blocks = 0;  // grid size (grid-stride over lines)
};

// lines: number of lines; n: line length; sx: input stride along the line; line_stride: the
// input stride between neighbouring lines (the innermost leading dim), 0 when there is one line.
inline ScanPlan plan_scan(int64_t lines, int64_t n, int64_t sx, int64_t line_stride,
                          bool serial = false) {
  ScanPlan p;
  auto grid = [](int64_t work) { return std::clamp<int64_t>(work, 1, kScanMaxBlocks); };
  if (sx != 1 && line_stride == 1 && lines >= kScanColumnMinLines) {
    p.version = ScanVersion::column;
    p.blocks = grid((lines + kScanThreads - 1) / kScanThreads);
    p.tiles = n > 0 ? 1 : 0;
    return p;
  }
  const bool block = !serial && n >= kScanBlockLine;
  p.version = block ? ScanVersion::block : ScanVersion::warp;
  p.tile = (block ? kScanThreads : 32) * int64_t{kScanItems};
  p.tiles = (n + p.tile - 1) / p.tile;
  const int64_t lines_per_block = block ? 1 : kScanThreads / 32;
  p.blocks = grid((lines + lines_per_block - 1) / lines_per_block);
  return p;
}

// --- sort, topk, randperm --------------------------------------------------------------------

// Every line is padded to a power of two P with pairs that order after every real one and sorted
// by a bitonic network on (key, position) pairs. Tiles of up to kSortTile pairs are sorted (and,
// for longer lines, merged after each global step) in shared memory; the steps whose partner is
// kSortTile or more away run as one launch each over global memory.
constexpr int64_t kSortTile = 2048;  // 16-byte pairs: 32 KiB of shared memory
constexpr int kSortThreads = 256;

inline int64_t next_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

struct SortPlan {
  int64_t padded = 0;        // P: the padded line length (a power of two, 0 for empty lines)
  int64_t tile = 0;          // min(P, kSortTile)
  int64_t global_steps = 0;  // launches of the global compare-exchange step
  int64_t merges = 0;        // launches of the shared-memory merge (one per k above the tile)
  int64_t workspace_bytes = 0;
};

// Launches: one tile sort, then for each k = 2T, 4T, ..., P the global steps j = k/2 .. T and one
// shared merge for j < T.
inline SortPlan plan_sort(int64_t lines, int64_t n) {
  SortPlan p;
  if (lines == 0 || n == 0) return p;
  p.padded = next_pow2(n);
  p.tile = std::min(p.padded, kSortTile);
  for (int64_t k = 2 * p.tile; k <= p.padded; k *= 2) {
    for (int64_t j = k / 2; j >= p.tile; j /= 2) ++p.global_steps;
    ++p.merges;
  }
  p.workspace_bytes = lines * p.padded * 16;
  return p;
}

// The launches of a sort, in order: `chunks` runs stages k_lo .. k_hi in shared memory for the
// partner distances below the tile (starting at first_shared_distance), `global_step` one
// distance j >= tile of stage k_lo over global memory.
enum class SortLaunch { chunks, global_step };
struct SortStep {
  SortLaunch kind;
  int64_t k_lo, k_hi, j;
};

inline std::vector<SortStep> sort_schedule(const SortPlan& p) {
  std::vector<SortStep> steps;
  if (p.padded <= 1) return steps;
  steps.push_back({SortLaunch::chunks, 2, p.tile, 0});
  for (int64_t k = 2 * p.tile; k <= p.padded; k *= 2) {
    for (int64_t j = k / 2; j >= p.tile; j /= 2)
      steps.push_back({SortLaunch::global_step, k, k, j});
    steps.push_back({SortLaunch::chunks, k, k, 0});
  }
  return steps;
}

// The first partner distance of stage k that a shared-memory pass handles.
SG_PLAN_HD inline int64_t first_shared_distance(int64_t k, int64_t tile) {
  return k / 2 < tile / 2 ? k / 2 : tile / 2;
}

// The pair index i (within a line of P) that global-step thread t handles for partner distance
// j: the t-th index whose bit j is clear; its partner is i + j.
SG_PLAN_HD inline int64_t bitonic_low_index(int64_t t, int64_t j) {
  return (t / j) * 2 * j + t % j;
}

}  // namespace stackgrad::kernels::gpu
