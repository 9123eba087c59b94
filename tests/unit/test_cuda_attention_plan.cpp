// The host-side plan of the CUDA attention kernels (kernels/cuda/attention_plan.h): path and
// head-dim instance, launch geometry, shared memory and workspace sizes, and the causal loop
// bounds the kernels share with it (every visible (query, key) pair visited exactly once by
// each of the forward, dK/dV and dQ loops). Runs without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "kernels/cuda/attention_plan.h"

namespace at = stackgrad::kernels::gpu::attention;

namespace {

constexpr size_t kH100Smem = 227 * 1024;  // opt-in shared memory per block on sm_90

TEST(CudaAttentionPlan, HeadTileIsTheSmallestInstanceThatHoldsBothHeadDims) {
  EXPECT_EQ(at::head_tile_for(64, 64), 64);
  EXPECT_EQ(at::head_tile_for(32, 16), 32);
  EXPECT_EQ(at::head_tile_for(1, 1), 32);
  EXPECT_EQ(at::head_tile_for(33, 8), 64);
  EXPECT_EQ(at::head_tile_for(8, 33), 64);
  EXPECT_EQ(at::head_tile_for(64, 65), 128);
  EXPECT_EQ(at::head_tile_for(128, 128), 128);
  EXPECT_EQ(at::head_tile_for(129, 8), 0);
  EXPECT_EQ(at::head_tile_for(8, 129), 0);
}

TEST(CudaAttentionPlan, ThreadLayoutCoversEveryTile) {
  EXPECT_EQ(at::kRowGroups * at::kColLanes, at::kThreads);
  // Forward: 4 query rows per row group, 8 key columns per lane.
  EXPECT_EQ(at::kFwdQ, 4 * at::kRowGroups);
  EXPECT_EQ(at::kFwdK, 8 * at::kColLanes);
  // dK/dV: kv_keys_per_thread keys per row group, queries tx + 8 c.
  for (int hd : {32, 64, 128}) {
    EXPECT_EQ(at::kv_key_tile(hd), at::kRowGroups * at::kv_keys_per_thread(hd));
    EXPECT_EQ(hd % at::kColLanes, 0);
  }
  EXPECT_EQ(at::kKvQ % at::kColLanes, 0);
  // dQ: 4 query rows per row group, keys tx + 8 c.
  EXPECT_EQ(at::kDqQ, 4 * at::kRowGroups);
  EXPECT_EQ(at::kDqK % at::kColLanes, 0);
}

TEST(CudaAttentionPlan, BenchmarkShapeTakesTheTiledPath) {
  // batch 8, 16 heads, seq 1024, head dim 64, f32.
  const at::Plan p = at::plan_attention(4, 8, 16, 1024, 1024, 64, 64, kH100Smem);
  ASSERT_TRUE(p.ok) << p.why;
  EXPECT_EQ(p.path, at::Path::tiled);
  EXPECT_EQ(p.head_tile, 64);
  EXPECT_EQ(p.bh, 128);
  EXPECT_EQ(p.q_tiles, 16);  // 1024 / 64
  EXPECT_EQ(p.k_tiles, 16);  // 64-key tiles at head dim 64
  EXPECT_EQ(p.dq_tiles, 16);
  EXPECT_EQ(p.fwd_blocks, 128 * 16);
  EXPECT_EQ(p.kv_blocks, 128 * 16);
  EXPECT_EQ(p.dq_blocks, 128 * 16);
  // Q, K/V (stride 65) and P (stride 65) tiles of 64 rows.
  EXPECT_EQ(p.fwd_smem, size_t{4} * (64 * 65 + 64 * 65 + 64 * 65));
  // K, V (64 x 65), Q, dO (32 x 65), Pd, dS (32 x 65), L, D (32).
  EXPECT_EQ(p.kv_smem, size_t{4} * (2 * 64 * 65 + 2 * 32 * 65 + 2 * 32 * 65 + 2 * 32));
  // Q, dO (64 x 65), K, V (32 x 65), dS (64 x 33), L, D (64).
  EXPECT_EQ(p.dq_smem, size_t{4} * (2 * 64 * 65 + 2 * 32 * 65 + 64 * 33 + 2 * 64));
  // Linear in the sequence: one f32 per query row.
  EXPECT_EQ(p.workspace_bytes, size_t{4} * 128 * 1024);
  const at::Plan p2 = at::plan_attention(4, 8, 16, 2048, 2048, 64, 64, kH100Smem);
  EXPECT_EQ(p2.workspace_bytes, 2 * p.workspace_bytes);
  EXPECT_EQ(p2.fwd_smem, p.fwd_smem);  // tiles do not grow with the sequence
}

TEST(CudaAttentionPlan, RaggedTilesRoundUp) {
  const at::Plan p = at::plan_attention(4, 2, 3, 65, 33, 100, 128, kH100Smem);
  ASSERT_TRUE(p.ok) << p.why;
  EXPECT_EQ(p.head_tile, 128);
  EXPECT_EQ(at::kv_key_tile(128), 32);
  EXPECT_EQ(p.q_tiles, 2);  // 65 rows: 64 + 1
  EXPECT_EQ(p.k_tiles, 2);  // 33 keys: 32 + 1
  EXPECT_EQ(p.dq_tiles, 2);
  EXPECT_EQ(p.fwd_blocks, 6 * 2);
  EXPECT_EQ(p.kv_blocks, 6 * 2);
}

TEST(CudaAttentionPlan, EveryTiledInstanceFitsAnH100Block) {
  for (int hd : {32, 64, 128}) {
    const at::Plan p = at::plan_attention(4, 1, 1, 100, 100, hd, hd, kH100Smem);
    ASSERT_TRUE(p.ok) << p.why;
    EXPECT_EQ(p.head_tile, hd);
    EXPECT_LE(p.fwd_smem, kH100Smem);
    EXPECT_LE(p.kv_smem, kH100Smem);
    EXPECT_LE(p.dq_smem, kH100Smem);
    // The tensor-core forward (bf16, f16): Q, K, V as 16-bit tiles, smaller than the f32 forward.
    EXPECT_EQ(p.fwd_mma_smem, size_t{(64 + 2 * 64) * (hd + 8) * 2});
    EXPECT_LT(p.fwd_mma_smem, p.fwd_smem);
  }
  // The mma fragment words a warp reads (row g, word t, for lanes 4 g + t) fall in 32 distinct
  // banks: the row stride in 32-bit words is 4 mod 32 for every head tile.
  for (int hd : {32, 64, 128}) {
    const int words = at::mma_row_halves(hd) / 2;
    std::set<int> banks;
    for (int lane = 0; lane < 32; ++lane) banks.insert((lane / 4 * words + lane % 4) % 32);
    EXPECT_EQ(banks.size(), 32u) << "head tile " << hd;
  }
  // Head dim 128 needs the opt-in above 48 KiB: a device without it is refused, not launched.
  const at::Plan small = at::plan_attention(4, 1, 1, 100, 100, 128, 128, 48 * 1024);
  EXPECT_FALSE(small.ok);
  EXPECT_NE(std::string(small.why).find("shared memory"), std::string::npos);
}

TEST(CudaAttentionPlan, F64AndLargeHeadDimsTakeTheGenericPath) {
  const at::Plan d = at::plan_attention(8, 2, 3, 5, 7, 4, 3, kH100Smem);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.path, at::Path::generic);
  EXPECT_EQ(d.head_tile, 0);
  EXPECT_EQ(d.fwd_blocks, 6 * 5);  // one block per query row
  EXPECT_EQ(d.kv_blocks, 6 * 7);   // one block per key row
  EXPECT_EQ(d.dq_blocks, 6 * 5);
  EXPECT_EQ(d.fwd_smem, size_t{8} * (4 + 3 + at::kThreads + 32));
  EXPECT_EQ(d.kv_smem, size_t{8} * (2 * 4 + 2 * 3 + 2 * at::kThreads + 32));
  EXPECT_EQ(d.dq_smem, size_t{8} * (2 * 4 + 3 + at::kThreads + 32));
  EXPECT_EQ(d.workspace_bytes, size_t{8} * 6 * 5);

  const at::Plan f = at::plan_attention(4, 1, 2, 10, 10, 256, 64, kH100Smem);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.path, at::Path::generic);
  EXPECT_EQ(f.fwd_smem, size_t{4} * (256 + 64 + at::kThreads + 32));

  // A head dim whose row vectors do not fit in shared memory is refused.
  const at::Plan huge = at::plan_attention(8, 1, 1, 4, 4, 20000, 20000, kH100Smem);
  EXPECT_FALSE(huge.ok);
}

TEST(CudaAttentionPlan, TooManyBlocksIsRefused) {
  const at::Plan p = at::plan_attention(8, 1 << 16, 1 << 8, 1 << 8, 4, 4, 4, kH100Smem);
  EXPECT_FALSE(p.ok);
  EXPECT_NE(std::string(p.why).find("2^31"), std::string::npos);
}

TEST(CudaAttentionPlan, EmptyDimsLaunchNothingWhereThereIsNothingToWrite) {
  const at::Plan no_keys = at::plan_attention(4, 1, 2, 3, 0, 8, 8, kH100Smem);
  EXPECT_EQ(no_keys.kv_blocks, 0);
  EXPECT_GT(no_keys.fwd_blocks, 0);  // O = 0, L = +inf still written
  EXPECT_GT(no_keys.dq_blocks, 0);   // dQ = 0 still written
  const at::Plan no_batch = at::plan_attention(4, 0, 2, 3, 5, 8, 8, kH100Smem);
  EXPECT_EQ(no_batch.fwd_blocks + no_batch.kv_blocks + no_batch.dq_blocks, 0);
  EXPECT_EQ(no_batch.workspace_bytes, 0u);
}

// Visits of each (query, key) pair by the kernels' loops, with their tile sizes and causal
// bounds; every visible pair (j <= i when causal) must be visited exactly once by each loop
// (the masked ones inside a visited tile are cut by score()).
struct Coverage {
  int64_t lq, lk;
  std::vector<int> n;
  Coverage(int64_t q, int64_t k) : lq(q), lk(k), n(static_cast<size_t>(q * k), 0) {}
  void tile(int64_t i0, int64_t mq, int64_t j0, int64_t nk) {
    for (int64_t i = i0; i < i0 + mq && i < lq; ++i)
      for (int64_t j = j0; j < j0 + nk && j < lk; ++j) ++n[static_cast<size_t>(i * lk + j)];
  }
  void expect_each_visible_once(bool causal, const char* what) const {
    for (int64_t i = 0; i < lq; ++i)
      for (int64_t j = 0; j < lk; ++j)
        if (!causal || j <= i) {
          ASSERT_EQ(n[static_cast<size_t>(i * lk + j)], 1)
              << what << ": pair (" << i << ", " << j << ") of " << lq << " x " << lk;
        }
  }
};

TEST(CudaAttentionPlan, LoopsVisitEveryVisiblePairOnce) {
  const std::vector<std::pair<int64_t, int64_t>> sizes = {
      {1, 1}, {5, 7}, {64, 64}, {65, 63}, {140, 133}, {9, 130}, {200, 70}, {33, 300}};
  for (bool causal : {false, true})
    for (int hd : {32, 64, 128})
      for (auto [lq, lk] : sizes) {
        Coverage fwd(lq, lk), kv(lq, lk), dq(lq, lk);
        for (int64_t i0 = 0; i0 < lq; i0 += at::kFwdQ) {
          const int64_t mq = std::min<int64_t>(at::kFwdQ, lq - i0);
          for (int64_t j0 = 0; j0 < at::causal_key_end(causal, lk, i0, mq); j0 += at::kFwdK)
            fwd.tile(i0, mq, j0, at::kFwdK);
        }
        const int64_t bk = at::kv_key_tile(hd);
        for (int64_t j0 = 0; j0 < lk; j0 += bk)
          for (int64_t i0 = at::causal_first_query(causal, j0); i0 < lq; i0 += at::kKvQ)
            kv.tile(i0, at::kKvQ, j0, bk);
        for (int64_t i0 = 0; i0 < lq; i0 += at::kDqQ) {
          const int64_t mq = std::min<int64_t>(at::kDqQ, lq - i0);
          for (int64_t j0 = 0; j0 < at::causal_key_end(causal, lk, i0, mq); j0 += at::kDqK)
            dq.tile(i0, mq, j0, at::kDqK);
        }
        fwd.expect_each_visible_once(causal, "forward");
        kv.expect_each_visible_once(causal, "dK/dV");
        dq.expect_each_visible_once(causal, "dQ");
      }
  // The generic kernels: one row, chunks of kThreads.
  for (bool causal : {false, true}) {
    const int64_t lq = 300, lk = 260;
    Coverage fwd(lq, lk), kv(lq, lk);
    for (int64_t i = 0; i < lq; ++i)
      for (int64_t j0 = 0; j0 < at::causal_key_end(causal, lk, i, 1); j0 += at::kThreads)
        fwd.tile(i, 1, j0,
                 std::min<int64_t>(at::kThreads, at::causal_key_end(causal, lk, i, 1) - j0));
    for (int64_t j = 0; j < lk; ++j)
      for (int64_t i0 = at::causal_first_query(causal, j); i0 < lq; i0 += at::kThreads)
        kv.tile(i0, at::kThreads, j, 1);
    fwd.expect_each_visible_once(causal, "generic forward");
    kv.expect_each_visible_once(causal, "generic dK/dV");
  }
}

// Causal tiles past the diagonal are skipped: a square causal problem visits about half the
// key tiles of the non-causal one.
TEST(CudaAttentionPlan, CausalSkipsTilesPastTheDiagonal) {
  const int64_t L = 1024;
  int64_t full = 0, causal = 0;
  for (int64_t i0 = 0; i0 < L; i0 += at::kFwdQ) {
    full += (at::causal_key_end(false, L, i0, at::kFwdQ) + at::kFwdK - 1) / at::kFwdK;
    causal += (at::causal_key_end(true, L, i0, at::kFwdQ) + at::kFwdK - 1) / at::kFwdK;
  }
  EXPECT_EQ(full, 16 * 16);
  EXPECT_EQ(causal, 16 * 17 / 2);
}

}  // namespace
