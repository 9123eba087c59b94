// Host-side plans of the CUDA scan, sort and column-reduction kernels (kernels/cuda/scan_plan.h,
// reduce_plan.h): which cumsum version runs, the bitonic sort's launch schedule, the chunks of a
// column reduction. The schedule is replayed here on the CPU
// with the kernels' index arithmetic (bitonic_low_index, first_shared_distance, the chunking of
// bitonic_chunks and the line-relative direction bit), so a wrong stage, distance or chunk
// boundary shows up as an unsorted line without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cuda/reduce_plan.h"
#include "kernels/cuda/scan_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

TEST(CudaScanPlan, ColumnScanForLeadingDimsWithManyLines) {
  // cumsum along dim 0 of [1000, 512]: the line walks stride 512, neighbouring lines are adjacent.
  const ScanPlan p = plan_scan(512, 1000, 512, 1);
  EXPECT_EQ(p.version, ScanVersion::column);
  EXPECT_EQ(p.blocks, 2);  // 512 lines, 256 threads per block
}

TEST(CudaScanPlan, FewStridedLinesGetAWarpEach) {
  EXPECT_EQ(plan_scan(kScanColumnMinLines - 1, 1000, 512, 1).version, ScanVersion::warp);
  // Lines that are strided but not neighbours in memory do not coalesce by thread.
  EXPECT_EQ(plan_scan(100000, 100, 7, 700).version, ScanVersion::warp);
}

TEST(CudaScanPlan, WarpTilesAndCarries) {
  const ScanPlan p = plan_scan(1000, 300, 1, 300);
  EXPECT_EQ(p.version, ScanVersion::warp);
  EXPECT_EQ(p.tile, 32 * kScanItems);
  EXPECT_EQ(p.tiles, (300 + p.tile - 1) / p.tile);
  EXPECT_EQ(p.blocks, (1000 + 7) / 8);  // 8 warps per block
  EXPECT_EQ(plan_scan(1, 1, 1, 0).tiles, 1);
}

TEST(CudaScanPlan, LongLinesGetABlock) {
  EXPECT_EQ(plan_scan(3, kScanBlockLine - 1, 1, kScanBlockLine - 1).version, ScanVersion::warp);
  const ScanPlan p = plan_scan(3, kScanBlockLine, 1, kScanBlockLine);
  EXPECT_EQ(p.version, ScanVersion::block);
  EXPECT_EQ(p.tile, int64_t{kScanThreads} * kScanItems);
  EXPECT_EQ(p.tiles, kScanBlockLine / p.tile);
  EXPECT_EQ(p.blocks, 3);
  EXPECT_EQ(plan_scan(int64_t{1} << 40, kScanBlockLine, 1, kScanBlockLine).blocks, kScanMaxBlocks);
}

TEST(CudaScanPlan, SerialLinesNeverGetABlock) {
  // f64 lines are added by one lane in order: a block would leave 255 of 256 threads idle.
  const ScanPlan p = plan_scan(3, 10 * kScanBlockLine, 1, 10 * kScanBlockLine, /*serial=*/true);
  EXPECT_EQ(p.version, ScanVersion::warp);
  EXPECT_EQ(p.tile, 32 * kScanItems);
  EXPECT_EQ(p.blocks, 1);
  EXPECT_EQ(plan_scan(512, 1000, 512, 1, true).version, ScanVersion::column);
}

TEST(CudaReducePlan, ColumnVersionOnlyForStridedReducedAndUnitStrideKept) {
  // sum over dim 0 of [16384, 16384]: kept dim stride 1, reduced dim stride 16384.
  EXPECT_TRUE(use_column_reduce(1, 16384, 1, 1, 16384));
  EXPECT_FALSE(use_column_reduce(1, 1, 1, 16384, 16384));  // sum over dim 1: the row version
  EXPECT_FALSE(use_column_reduce(2, 7, 1, 1, 16384));      // reduced dims not one run
  EXPECT_FALSE(use_column_reduce(1, 16384, 1, 3, 16384));  // kept dim strided
  EXPECT_FALSE(use_column_reduce(1, 16384, 0, 0, 1));      // a full reduction
  EXPECT_FALSE(use_column_reduce(1, 64, 1, 1, kColOutputs - 1));
}

TEST(CudaReducePlan, ColumnChunksCoverTheReducedElements) {
  const ColumnReducePlan big = plan_column_reduce(16384, 16384);
  EXPECT_EQ(big.col_blocks, 512);
  EXPECT_EQ(big.chunks, 4);  // 2048 blocks
  EXPECT_EQ(big.run, 4096);
  EXPECT_EQ(big.blocks, 2048);
  // Many outputs: one chunk, one pass.
  const ColumnReducePlan wide = plan_column_reduce(int64_t{1} << 20, 8);
  EXPECT_EQ(wide.chunks, 1);
  EXPECT_EQ(wide.run, 8);
  EXPECT_EQ(wide.blocks, 32768);
  EXPECT_EQ(plan_column_reduce(int64_t{1} << 24, 8).blocks, kColMaxBlocks);  // grid-stride
  // Short reductions are not cut below kColMinRun per chunk.
  EXPECT_EQ(plan_column_reduce(64, 300).chunks, 1);
  EXPECT_EQ(plan_column_reduce(64, 0).chunks, 1);
  for (int64_t outer : {32, 100, 5000})
    for (int64_t inner : {1, 255, 256, 1000, 100000, 1234567}) {
      const ColumnReducePlan p = plan_column_reduce(outer, inner);
      EXPECT_GE(p.chunks * p.run, inner);
      EXPECT_LT((p.chunks - 1) * p.run, inner);  // no empty chunk
      EXPECT_LE(p.chunks, std::max<int64_t>(1, inner / kColMinRun));
    }
}

TEST(CudaSortPlan, PaddingTileAndSteps) {
  EXPECT_EQ(plan_sort(0, 10).padded, 0);
  EXPECT_EQ(plan_sort(10, 0).padded, 0);
  const SortPlan small = plan_sort(5, 3);
  EXPECT_EQ(small.padded, 4);
  EXPECT_EQ(small.tile, 4);
  EXPECT_EQ(small.global_steps, 0);
  EXPECT_EQ(small.merges, 0);
  EXPECT_EQ(small.workspace_bytes, 5 * 4 * 16);
  // P = 8 tiles: stages 2T, 4T, 8T have 1, 2, 3 global distances (>= T) and a merge each.
  const SortPlan big = plan_sort(2, 8 * kSortTile - 5);
  EXPECT_EQ(big.padded, 8 * kSortTile);
  EXPECT_EQ(big.tile, kSortTile);
  EXPECT_EQ(big.global_steps, 6);
  EXPECT_EQ(big.merges, 3);
  const std::vector<SortStep> steps = sort_schedule(big);
  ASSERT_EQ(steps.size(), size_t{1 + 6 + 3});
  EXPECT_EQ(steps[0].kind, SortLaunch::chunks);
  EXPECT_EQ(steps[0].k_hi, kSortTile);
  EXPECT_EQ(steps[1].kind, SortLaunch::global_step);
  EXPECT_EQ(steps[1].j, kSortTile);
  EXPECT_EQ(steps.back().kind, SortLaunch::chunks);
  EXPECT_EQ(steps.back().k_lo, 8 * kSortTile);
  EXPECT_TRUE(sort_schedule(plan_sort(4, 1)).empty());
}

TEST(CudaSortPlan, LowIndexEnumeratesEveryPairOnce) {
  for (int64_t j : {1, 2, 8, 2048}) {
    const int64_t total = 4 * 2 * j;
    std::vector<int> seen(total, 0);
    for (int64_t t = 0; t < total / 2; ++t) {
      const int64_t e = bitonic_low_index(t, j);
      ASSERT_EQ(e & j, 0);
      ++seen[e];
      ++seen[e + j];
    }
    for (int s : seen) EXPECT_EQ(s, 1);
  }
}

struct Pair {
  uint64_t key, pos;
};
bool pair_less(const Pair& a, const Pair& b) {
  return a.key < b.key || (a.key == b.key && a.pos < b.pos);
}
void compare_exchange(Pair& a, Pair& b, int64_t gi, int64_t k) {
  const bool ascending = (gi & k) == 0;
  if (ascending ? pair_less(b, a) : pair_less(a, b)) std::swap(a, b);
}

// sort_pair_lines of sort.cu, launch by launch, with the kernels' loops run serially.
void replay(std::vector<Pair>& a, int64_t lines, int64_t P) {
  const SortPlan plan = plan_sort(lines, P);
  const int64_t total = lines * P, tile = plan.tile;
  for (const SortStep& st : sort_schedule(plan)) {
    if (st.kind == SortLaunch::chunks) {
      for (int64_t base = 0; base < total; base += kSortTile) {
        const int64_t count = std::min(kSortTile, total - base);
        ASSERT_EQ(count % tile, 0);
        for (int64_t k = st.k_lo; k <= st.k_hi; k *= 2)
          for (int64_t j = first_shared_distance(k, tile); j >= 1; j /= 2)
            for (int64_t t = 0; t < count / 2; ++t) {
              const int64_t e = bitonic_low_index(t, j);
              ASSERT_LT(e + j, count);  // the partner is in the chunk's shared memory
              compare_exchange(a[base + e], a[base + e + j], (base + e) & (P - 1), k);
            }
      }
    } else {
      for (int64_t t = 0; t < total / 2; ++t) {
        const int64_t e = bitonic_low_index(t, st.j);
        compare_exchange(a[e], a[e + st.j], e & (P - 1), st.k_lo);
      }
    }
  }
}

// Lines of n random keys with many ties (as the kernels' order keys of repeated values or NaNs
// would be), padded like make_pairs: sorted by (key, position), each line must equal a stable
// sort of its keys, and the padding must end up last.
TEST(CudaSortPlan, ReplayedScheduleSortsLikeAStableSort) {
  std::mt19937_64 rng(7);
  for (int64_t lines : {1, 3}) {
    for (int64_t n : {1, 2, 3, 5, 64, 100, 2047, 2048, 2049, 5000, 9000}) {
      const int64_t P = next_pow2(n);
      std::vector<Pair> a(lines * P);
      std::vector<std::vector<uint64_t>> keys(lines);
      for (int64_t l = 0; l < lines; ++l) {
        for (int64_t j = 0; j < P; ++j) {
          if (j < n) {
            const uint64_t key = rng() % 5 == 0 ? ~uint64_t{0} : rng() % 17;  // ~0: a NaN's key
            keys[l].push_back(key);
            a[l * P + j] = {key, static_cast<uint64_t>(j)};
          } else {
            a[l * P + j] = {~uint64_t{0}, ~uint64_t{0}};
          }
        }
      }
      replay(a, lines, P);
      for (int64_t l = 0; l < lines; ++l) {
        std::vector<uint64_t> order(n);
        std::iota(order.begin(), order.end(), uint64_t{0});
        std::stable_sort(order.begin(), order.end(),
                         [&](uint64_t x, uint64_t y) { return keys[l][x] < keys[l][y]; });
        for (int64_t j = 0; j < n; ++j)
          ASSERT_EQ(a[l * P + j].pos, order[j]) << "lines " << lines << " n " << n << " j " << j;
        for (int64_t j = n; j < P; ++j) ASSERT_EQ(a[l * P + j].pos, ~uint64_t{0});
      }
    }
  }
}

}  // namespace
}  // namespace stackgrad::kernels::gpu
