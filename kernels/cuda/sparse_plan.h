// Host-side plans of the CUDA sparse kernels (kernels/cuda/sparse.cu): which SpMM version runs
// for a shape, how wide each lane's column slice is, how the merge-path version splits its work,
// and the merge-path search itself. Plain C++ with no CUDA headers so that the CPU unit test
// (tests/unit/test_cuda_sparse_plan.cpp) covers it; merge_path_search is also compiled for the
// device (SG_HOST_DEVICE), so the kernels run the same code the test checks.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__CUDACC__)
#define SG_HOST_DEVICE __host__ __device__
#else
#define SG_HOST_DEVICE
#endif

namespace stackgrad::kernels::gpu {

// --- merge path ----------------------------------------------------------------------------------
//
// SpMM's work as one merge of two sorted lists: the row ends crow[1..rows] and the nonzero
// indices 0..nnz-1. Walking the merged list, a row end is taken when the row is complete
// (crow[i + 1] <= j) and a nonzero otherwise, so each step finishes a row or consumes a nonzero.
// A point on the path is (i, j): i rows finished and j nonzeros consumed, on diagonal i + j.
// Cutting the path at equal diagonals gives parts of equal rows + nonzeros whatever the row
// lengths: a hub row with 100k nonzeros spreads over many parts instead of one warp.

struct MergeCoord {
  int64_t row = 0;  // rows finished before this point
  int64_t nz = 0;   // nonzeros consumed before this point
};

// The path's point on `diagonal` (0 <= diagonal <= rows + nnz), crow the CSR row pointers
// [rows + 1]. Binary search for the first i with crow[i + 1] > diagonal - i - 1, i.e. the number
// of row ends that the merge takes before the nonzero index diagonal - i.
SG_HOST_DEVICE inline MergeCoord merge_path_search(int64_t diagonal, const int64_t* crow,
                                                   int64_t rows, int64_t nnz) {
  int64_t lo = diagonal > nnz ? diagonal - nnz : 0;
  int64_t hi = diagonal < rows ? diagonal : rows;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (crow[mid + 1] <= diagonal - mid - 1)
      lo = mid + 1;
    else
      hi = mid;
  }
  return {lo, diagonal - lo};
}

// The merge-path split: `parts` parts of `items_per_part` path steps each (the last may be
// shorter); part p covers diagonals [p * items_per_part, min((p + 1) * items_per_part, total)).
struct MergeSplit {
  int64_t parts = 0;
  int64_t items_per_part = 0;
};

// Parts of at least kMergeMinItems steps, at most kMergeMaxParts of them: each part writes a
// carry row of N values for the row it ends inside, so the part count bounds that buffer.
constexpr int64_t kMergeMinItems = 128;
constexpr int64_t kMergeMaxParts = 32768;

inline MergeSplit merge_split(int64_t rows, int64_t nnz) {
  const int64_t total = rows + nnz;
  if (total <= 0) return {0, 0};
  int64_t parts = std::clamp<int64_t>(total / kMergeMinItems, 1, kMergeMaxParts);
  const int64_t items = (total + parts - 1) / parts;
  parts = (total + items - 1) / items;  // no empty part at the end
  return {parts, items};
}

// The start of part p (p == parts gives the end of the path, (rows, nnz)).
SG_HOST_DEVICE inline MergeCoord merge_part_start(int64_t p, int64_t items_per_part,
                                                  const int64_t* crow, int64_t rows, int64_t nnz) {
  const int64_t total = rows + nnz;
  const int64_t d = p * items_per_part < total ? p * items_per_part : total;
  return merge_path_search(d, crow, rows, nnz);
}

// --- choosing the SpMM version -----------------------------------------------------------------

enum class SpmmVersion {
  none,            // nothing to compute (no rows or no dense columns)
  thread_per_row,  // one thread per output element, walking the row's nonzeros: few columns
  warp_per_row,    // one warp per row, lanes across columns: the general case
  merge_path,      // warps over equal slices of rows + nonzeros, carries fixed up after: skew
};

inline const char* spmm_version_name(SpmmVersion v) {
  switch (v) {
    case SpmmVersion::none:
      return "none";
    case SpmmVersion::thread_per_row:
      return "thread_per_row";
    case SpmmVersion::warp_per_row:
      return "warp_per_row";
    case SpmmVersion::merge_path:
      return "merge_path";
  }
  return "?";
}

struct SpmmShape {
  int64_t rows = 0;  // M
  int64_t nnz = 0;
  int64_t max_row_nnz = 0;  // the longest row
  int64_t cols = 0;         // N, the dense columns
};

// Up to this many dense columns a warp per row would leave most lanes idle: a thread per output
// element walks the row instead (for N = 1, spmv, that is a thread per row).
constexpr int64_t kThreadMaxCols = 8;
// A row this much longer than the average, and at least kSkewMinRow long, is a hub that would keep
// one warp busy long after the others finish: the merge-path version spreads it.
constexpr int64_t kSkewRatio = 32;
constexpr int64_t kSkewMinRow = 1024;

inline bool spmm_skewed(const SpmmShape& s) {
  if (s.rows <= 0 || s.nnz <= 0) return false;
  const int64_t avg = std::max<int64_t>(1, (s.nnz + s.rows - 1) / s.rows);
  return s.max_row_nnz >= kSkewMinRow && s.max_row_nnz > kSkewRatio * avg;
}

inline SpmmVersion choose_spmm_version(const SpmmShape& s) {
  if (s.rows <= 0 || s.cols <= 0) return SpmmVersion::none;
  if (spmm_skewed(s)) return SpmmVersion::merge_path;
  if (s.cols <= kThreadMaxCols) return SpmmVersion::thread_per_row;
  return SpmmVersion::warp_per_row;
}

// Columns per lane in the warp versions: 4 (f32) or 2 consecutive columns loaded as one 16-byte
// (or 8-byte) vector when the dense operands allow it, else 1 (a lane then takes every 32nd
// column, through any strides). Vectors need unit column strides, row strides and N that are
// multiples of the width, and aligned base pointers; the widest that fits is taken, but never
// wider than N / 32 rounded up, so that N = 64 f32 uses 2 (all 32 lanes busy), not 4.
struct DenseLayout {
  int64_t cols = 0;       // N
  int64_t elem_size = 4;  // bytes
  int64_t x_row_stride = 0, x_col_stride = 1;
  int64_t c_row_stride = 0, c_col_stride = 1;
  uintptr_t x_addr = 0, c_addr = 0;
};

inline int spmm_lane_width(const DenseLayout& d) {
  if (d.x_col_stride != 1 || d.c_col_stride != 1) return 1;
  const int max_width = d.elem_size == 4 ? 4 : d.elem_size == 8 ? 2 : 1;
  for (int w = max_width; w > 1; w /= 2) {
    if (32 * (w / 2) >= d.cols) continue;  // a narrower width already covers N with one tile
    const uintptr_t bytes = static_cast<uintptr_t>(w * d.elem_size);
    if (d.cols % w == 0 && d.x_row_stride % w == 0 && d.c_row_stride % w == 0 &&
        d.x_addr % bytes == 0 && d.c_addr % bytes == 0)
      return w;
  }
  return 1;
}

// SDDMM: a thread per nonzero for short dot products, a warp per nonzero (lanes across D, an
// xor-butterfly sum) from kSddmmWarpMinD on.
constexpr int64_t kSddmmWarpMinD = 16;
inline bool sddmm_warp_per_nonzero(int64_t d) { return d >= kSddmmWarpMinD; }

// Defined in sparse.cu (CUDA builds only), for the lab: one SpMM version on raw device pointers
// (contiguous X [K, N] and C [M, N]) on the current device's stream, and the version the spmm
// kernel would choose for a pattern (it measures the longest row on the device).
template <typename T>
void spmm_cuda_run(SpmmVersion version, const int64_t* crow, const int64_t* col, const T* val,
                   int64_t rows, int64_t nnz, const T* x, int64_t n, T* c);
SpmmVersion spmm_cuda_choice(const int64_t* crow, int64_t rows, int64_t nnz, int64_t n);

}  // namespace stackgrad::kernels::gpu
