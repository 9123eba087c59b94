// The host-side logic of the CUDA sparse kernels (kernels/cuda/sparse_plan.h), checked on the
// CPU: the merge-path search against a step-by-step merge, the split into parts, a CPU replay of
// the merge-path SpMM (parts, carries, fix-up) against a plain SpMM, the version choice and the
// lane widths.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cuda/sparse_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

using Index = std::vector<int64_t>;

// Row pointers of rows with the given lengths.
Index crow_of(const Index& lengths) {
  Index crow{0};
  for (int64_t l : lengths) crow.push_back(crow.back() + l);
  return crow;
}

// Patterns with empty rows at both ends, hubs, all-empty and single rows.
std::vector<Index> row_length_sets() {
  std::mt19937_64 rng(5);
  std::vector<Index> sets = {
      {}, {0}, {3}, {0, 0, 0}, {0, 5, 0, 0, 2, 0}, {1, 1, 1, 1}, {1000, 0, 1, 2}, {0, 0, 700}};
  Index power;
  for (int i = 0; i < 300; ++i) {
    const int64_t r = static_cast<int64_t>(rng() % 1000);
    power.push_back(r < 5 ? 400 + r * 100 : r < 400 ? 0 : static_cast<int64_t>(r % 7));
  }
  sets.push_back(power);
  return sets;
}

// The merge's points in order, one per diagonal: take a row end when the row is complete.
std::vector<MergeCoord> walk_merge(const Index& crow) {
  const int64_t rows = static_cast<int64_t>(crow.size()) - 1, nnz = crow.back();
  std::vector<MergeCoord> path{{0, 0}};
  int64_t i = 0, j = 0;
  while (i < rows || j < nnz) {
    if (i < rows && crow[i + 1] <= j)
      ++i;
    else
      ++j;
    path.push_back({i, j});
  }
  return path;
}

TEST(CudaSparsePlan, MergePathSearchFollowsTheMerge) {
  for (const Index& lengths : row_length_sets()) {
    const Index crow = crow_of(lengths);
    const int64_t rows = static_cast<int64_t>(lengths.size()), nnz = crow.back();
    const std::vector<MergeCoord> path = walk_merge(crow);
    ASSERT_EQ(static_cast<int64_t>(path.size()), rows + nnz + 1);
    for (int64_t d = 0; d <= rows + nnz; ++d) {
      const MergeCoord c = merge_path_search(d, crow.data(), rows, nnz);
      EXPECT_EQ(c.row, path[d].row) << "diagonal " << d << " of " << rows << " rows";
      EXPECT_EQ(c.nz, path[d].nz) << "diagonal " << d << " of " << rows << " rows";
      // The invariant the kernel relies on: the point lies inside row c.row's nonzeros.
      if (c.row < rows) {
        EXPECT_LE(crow[c.row], c.nz);
        EXPECT_LE(c.nz, crow[c.row + 1]);
      }
    }
  }
}

TEST(CudaSparsePlan, MergeSplitCoversThePathInBoundedParts) {
  EXPECT_EQ(merge_split(0, 0).parts, 0);
  for (int64_t rows : {1, 5, 127, 128, 129, 1000, 19717, 1000000}) {
    for (int64_t nnz : {0, 1, 88648, 16000000}) {
      const MergeSplit s = merge_split(rows, nnz);
      const int64_t total = rows + nnz;
      ASSERT_GE(s.parts, 1);
      EXPECT_LE(s.parts, kMergeMaxParts);
      EXPECT_GE(s.parts * s.items_per_part, total) << rows << " rows, " << nnz << " nnz";
      EXPECT_LT((s.parts - 1) * s.items_per_part, total) << "an empty last part";
      if (total >= kMergeMinItems) {
        EXPECT_GE(s.items_per_part, kMergeMinItems);
      }
    }
  }
  const MergeSplit big = merge_split(1000000, 16000000);
  EXPECT_GT(big.parts, kMergeMaxParts - 64);  // the cap, less the rounding of the part size
  EXPECT_EQ(big.items_per_part, (17000000 + kMergeMaxParts - 1) / kMergeMaxParts);
}

// The merge-path SpMM of sparse.cu replayed on the CPU with one dense column: parts write the
// rows they finish and a carry for the row they end inside; the fix-up adds each row's carries
// in part order. Integer values keep every sum exact, so it must equal the plain row sums.
TEST(CudaSparsePlan, MergePathSpmmReplayMatchesRowSums) {
  std::mt19937_64 rng(9);
  for (const Index& lengths : row_length_sets()) {
    const Index crow = crow_of(lengths);
    const int64_t rows = static_cast<int64_t>(lengths.size()), nnz = crow.back();
    std::vector<double> val(nnz), expected(rows, 0.0);
    for (int64_t e = 0; e < nnz; ++e) val[e] = static_cast<double>(rng() % 9) - 4.0;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t e = crow[i]; e < crow[i + 1]; ++e) expected[i] += val[e];
    for (int64_t items : {int64_t{1}, int64_t{3}, int64_t{128}, int64_t{0}}) {
      MergeSplit split = merge_split(rows, nnz);
      if (items > 0 && rows + nnz > 0)
        split = {(rows + nnz + items - 1) / items, items};  // small parts: many carries
      std::vector<double> out(rows, -999.0), carry(split.parts);
      std::vector<int> writes(rows, 0);
      Index carry_row(split.parts);
      for (int64_t p = 0; p < split.parts; ++p) {
        const MergeCoord s = merge_part_start(p, split.items_per_part, crow.data(), rows, nnz);
        const MergeCoord t = merge_part_start(p + 1, split.items_per_part, crow.data(), rows, nnz);
        int64_t j = s.nz;
        for (int64_t i = s.row; i < t.row; ++i) {
          double acc = 0;
          for (int64_t e = j; e < crow[i + 1]; ++e) acc += val[e];
          out[i] = acc;
          ++writes[i];
          j = crow[i + 1];
        }
        double acc = 0;
        for (int64_t e = j; e < t.nz; ++e) acc += val[e];
        carry[p] = acc;
        carry_row[p] = t.row < rows ? t.row : -1;
      }
      for (int64_t p = 0; p < split.parts; ++p) {
        const int64_t r = carry_row[p];
        if (r < 0 || (p > 0 && carry_row[p - 1] == r)) continue;
        double sum = carry[p];
        for (int64_t q = p + 1; q < split.parts && carry_row[q] == r; ++q) sum += carry[q];
        out[r] += sum;
      }
      for (int64_t i = 0; i < rows; ++i) {
        EXPECT_EQ(writes[i], 1) << "row " << i << " (items per part " << items << ")";
        EXPECT_EQ(out[i], expected[i]) << "row " << i << " (items per part " << items << ")";
      }
    }
  }
}

TEST(CudaSparsePlan, VersionFollowsColumnsAndSkew) {
  using V = SpmmVersion;
  EXPECT_EQ(choose_spmm_version({0, 0, 0, 64}), V::none);
  EXPECT_EQ(choose_spmm_version({10, 5, 2, 0}), V::none);
  EXPECT_EQ(choose_spmm_version({19717, 88648, 171, 1}), V::thread_per_row);  // spmv
  EXPECT_EQ(choose_spmm_version({19717, 88648, 171, kThreadMaxCols}), V::thread_per_row);
  EXPECT_EQ(choose_spmm_version({19717, 88648, 171, kThreadMaxCols + 1}), V::warp_per_row);
  EXPECT_EQ(choose_spmm_version({19717, 88648, 171, 256}), V::warp_per_row);  // PubMed-like
  EXPECT_EQ(choose_spmm_version({3, 0, 0, 64}), V::warp_per_row);             // no nonzeros
  // A power-law graph: average 16, hubs of 50k nonzeros.
  EXPECT_EQ(choose_spmm_version({1000000, 16000000, 50000, 64}), V::merge_path);
  EXPECT_EQ(choose_spmm_version({1000000, 16000000, 50000, 1}), V::merge_path);
  // Long rows everywhere are no skew; a long row below kSkewMinRow is not a hub.
  EXPECT_EQ(choose_spmm_version({100, 500000, 6000, 64}), V::warp_per_row);
  EXPECT_EQ(choose_spmm_version({100000, 100000, kSkewMinRow - 1, 64}), V::warp_per_row);
  EXPECT_EQ(choose_spmm_version({100000, 100000, kSkewMinRow, 64}), V::merge_path);
  EXPECT_STREQ(spmm_version_name(V::merge_path), "merge_path");
}

TEST(CudaSparsePlan, LaneWidthNeedsUnitStridesAlignmentAndWideEnoughN) {
  auto layout = [](int64_t n, int64_t elem, uintptr_t x = 4096, uintptr_t c = 8192) {
    return DenseLayout{n, elem, n, 1, n, 1, x, c};
  };
  EXPECT_EQ(spmm_lane_width(layout(256, 4)), 4);  // 128 columns per tile, two tiles
  EXPECT_EQ(spmm_lane_width(layout(128, 4)), 4);
  EXPECT_EQ(spmm_lane_width(layout(64, 4)), 2);   // all 32 lanes busy
  EXPECT_EQ(spmm_lane_width(layout(33, 4)), 1);   // odd N
  EXPECT_EQ(spmm_lane_width(layout(16, 4)), 1);   // one lane-wide tile covers it
  EXPECT_EQ(spmm_lane_width(layout(256, 8)), 2);  // f64: 16-byte vectors
  EXPECT_EQ(spmm_lane_width(layout(32, 8)), 1);
  EXPECT_EQ(spmm_lane_width(layout(66, 4)), 2);             // N % 4 != 0, N % 2 == 0
  EXPECT_EQ(spmm_lane_width(layout(256, 4, 4096 + 8)), 2);  // X 8-byte aligned only
  EXPECT_EQ(spmm_lane_width(layout(256, 4, 4096, 8192 + 4)), 1);
  DenseLayout strided = layout(256, 4);
  strided.x_col_stride = 2;
  EXPECT_EQ(spmm_lane_width(strided), 1);
  DenseLayout row_stride = layout(256, 4);
  row_stride.x_row_stride = 258;  // rows 8 bytes apart from a 16-byte boundary
  EXPECT_EQ(spmm_lane_width(row_stride), 2);
  DenseLayout out_col = layout(256, 4);
  out_col.c_col_stride = 256;
  EXPECT_EQ(spmm_lane_width(out_col), 1);
}

TEST(CudaSparsePlan, SddmmWarpFromSixteenColumns) {
  EXPECT_FALSE(sddmm_warp_per_nonzero(0));
  EXPECT_FALSE(sddmm_warp_per_nonzero(1));
  EXPECT_FALSE(sddmm_warp_per_nonzero(kSddmmWarpMinD - 1));
  EXPECT_TRUE(sddmm_warp_per_nonzero(kSddmmWarpMinD));
  EXPECT_TRUE(sddmm_warp_per_nonzero(256));
}

}  // namespace
}  // namespace stackgrad::kernels::gpu
