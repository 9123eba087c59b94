// The host-side plans of the CUDA norm and pool kernels (kernels/cuda/norm_plan.h), checked on
// the CPU: set geometry and index rules against direct loops, launch plans covering every row
// exactly once, and the backward gathers' candidate ranges against brute force.
#include <gtest/gtest.h>

#include <set>
#include <tuple>
#include <vector>

#include "kernels/cuda/norm_plan.h"
#include "kernels/cuda/optim_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

// Strides of a contiguous and of a permuted [N, C, S] operand.
std::vector<std::vector<int64_t>> ncs_strides(int64_t N, int64_t C, int64_t S) {
  return {{C * S, S, 1}, {1, N * S, N}, {C * S * 2, S * 2, 2}};
}

TEST(CudaNormPlan, BatchSetsVisitEachChannelElementOnce) {
  const int64_t N = 3, C = 4, S = 5;
  for (const auto& st : ncs_strides(N, C, S)) {
    NormGeom g = batch_geom(N, C, S);
    g.x = batch_set_strides(st.data());
    for (int64_t s = 0; s < g.sets; ++s)
      for (int64_t r = 0; r < g.rows; ++r)
        for (int64_t k = 0; k < g.S; ++k)
          EXPECT_EQ(set_offset(g.x, g.sdiv, s, r, k), r * st[0] + s * st[1] + k * st[2]);
  }
}

TEST(CudaNormPlan, GroupSetsAreSampleGroupBlocks) {
  const int64_t N = 2, C = 6, S = 4, G = 3, Cg = C / G;
  for (const auto& st : ncs_strides(N, C, S)) {
    NormGeom g = group_geom(N, C, S, G);
    g.x = group_set_strides(st.data(), Cg);
    EXPECT_EQ(g.sets, N * G);
    EXPECT_EQ(g.rows, Cg);
    std::set<int64_t> seen;
    for (int64_t s = 0; s < g.sets; ++s)
      for (int64_t r = 0; r < g.rows; ++r) {
        const int64_t i = s / G, ch = (s % G) * Cg + r;
        EXPECT_EQ(param_index(ParamIndex::group_channel, g.sdiv, Cg, s, r, 0), ch);
        for (int64_t k = 0; k < S; ++k) {
          const int64_t off = set_offset(g.x, g.sdiv, s, r, k);
          EXPECT_EQ(off, i * st[0] + ch * st[1] + k * st[2]);
          seen.insert(off);
        }
      }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), N * C * S);
  }
}

TEST(CudaNormPlan, LayerSetsAreRowsAndGroupChannelPassFindsEachSamplesGroup) {
  const int64_t R = 4, D = 7;
  const int64_t st[2] = {9, 1};  // a row-sliced view
  NormGeom g = layer_geom(R, D);
  g.x = layer_set_strides(st);
  for (int64_t s = 0; s < R; ++s)
    for (int64_t k = 0; k < D; ++k) {
      EXPECT_EQ(set_offset(g.x, g.sdiv, s, 0, k), s * 9 + k);
      EXPECT_EQ(param_index(ParamIndex::per_column, g.sdiv, 1, s, 0, k), k);
    }
  // group_norm's dweight pass: set = channel c, row = sample i, statistics of (i, c / Cg).
  const int64_t G = 3, Cg = 2;
  for (int64_t c = 0; c < G * Cg; ++c)
    for (int64_t i = 0; i < 4; ++i) {
      EXPECT_EQ(stat_index(StatIndex::group_of_channel, G, Cg, c, i), i * G + c / Cg);
      EXPECT_EQ(stat_index(StatIndex::per_set, G, Cg, c, i), c);
    }
}

// Every row of every set is in exactly one chunk, and the thread layout fills the task.
void check_plan(int64_t sets, int64_t rows, int64_t S) {
  SCOPED_TRACE(testing::Message() << "sets " << sets << " rows " << rows << " S " << S);
  const NormPlan p = plan_norm(sets, rows, S);
  EXPECT_TRUE(p.tpr == 32 || p.tpr == kNormBlock);
  EXPECT_EQ(p.lanes_k * p.lanes_r, p.tpr);
  EXPECT_EQ(p.lanes_k & (p.lanes_k - 1), 0);
  EXPECT_LE(p.lanes_k, std::max<int64_t>(next_pow2(S), 1));
  EXPECT_EQ(p.tasks, sets * p.chunks);
  EXPECT_GE(p.chunks, 1);
  EXPECT_LE(p.chunks, kNormMaxChunks);
  EXPECT_GE(p.blocks, 1);
  EXPECT_LE(p.blocks, 65536);
  if (rows == 0) return;
  // chunk c covers [c * rpc, min(rows, (c + 1) * rpc)); none empty, all rows covered
  EXPECT_GE(p.rows_per_chunk * p.chunks, rows);
  EXPECT_LT((p.chunks - 1) * p.rows_per_chunk, rows);
  if (p.chunks > 1) {
    EXPECT_LT(sets, kNormTargetTasks);
    EXPECT_GE(p.rows_per_chunk * S, kNormMinChunk / 2);
  }
}

TEST(CudaNormPlan, PlansCoverRowsExactly) {
  for (auto [sets, rows, S] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {128, 64, 1024},   // batch_norm N 64, C 128, 32 x 32
           {8192, 1, 1024},   // layer_norm rows 8192 x 1024
           {64, 10, 4096},    // group_norm N 2, G 32, Cg 10, 64 x 64
           {3, 100000, 1},    // batch_norm [N, C] with few channels: chunked over rows
           {1, 7, 3},         // tiny
           {5, 0, 4},         // zero-size batch
           {4, 3, 0},         // zero-size rows
           {1, 1, 1 << 20},   // one long row: cannot be cut
           {2, 1000, 37}}) {  // odd S
    check_plan(sets, rows, S);
  }
  const NormPlan bn = plan_norm(128, 64, 1024);
  EXPECT_GT(bn.chunks, 1);  // 128 sets of 64 K elements: cut to fill the GPU
  EXPECT_EQ(bn.tpr, kNormBlock);
  EXPECT_EQ(bn.lanes_k, kNormBlock);
  const NormPlan ln = plan_norm(8192, 1, 1024);
  EXPECT_EQ(ln.chunks, 1);
  EXPECT_EQ(ln.tpr, 32);  // a warp per row of 1024
  EXPECT_EQ(plan_norm(3, 100000, 1).lanes_k, 1);
  EXPECT_EQ(plan_norm(3, 100000, 1).lanes_r, kNormBlock);
}

TEST(CudaNormPlan, WorkspaceHoldsPartialsAndTable) {
  const NormPlan p = plan_norm(128, 64, 1024);
  EXPECT_EQ(norm_workspace_bytes(p, 128),
            static_cast<size_t>(128 * p.chunks * kPartialDoubles + 128 * kTableDoubles) * 8);
  const NormPlan q = plan_norm(8192, 1, 1024);
  EXPECT_EQ(norm_workspace_bytes(q, 8192), static_cast<size_t>(8192 * kTableDoubles) * 8);
}

TEST(CudaNormPlan, ColumnPlanCoversRows) {
  for (auto [R, D] : std::vector<std::pair<int64_t, int64_t>>{
           {8192, 1024}, {3, 40}, {0, 4}, {5, 1}, {100000, 7}, {1, 100000}}) {
    SCOPED_TRACE(testing::Message() << "R " << R << " D " << D);
    const ColumnPlan p = plan_columns(R, D);
    EXPECT_EQ(p.tiles, (D + kColTile - 1) / kColTile);
    EXPECT_EQ(p.tasks, p.tiles * p.chunks);
    EXPECT_GE(p.chunks, 1);
    if (R > 0) {
      EXPECT_GE(p.rows_per_chunk * p.chunks, R);
      EXPECT_LT((p.chunks - 1) * p.rows_per_chunk, R);
    }
  }
  EXPECT_EQ(plan_columns(8192, 1024).chunks, 32);  // 32 tiles x 32 chunks of 256 rows
}

TEST(CudaNormPlan, PoolCandidatesAreExactlyTheWindowsThatTap) {
  for (int64_t in = 1; in <= 9; ++in)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t pad = 0; pad <= k / 2; ++pad)
          for (int64_t dil = 1; dil <= 2; ++dil) {
            const int64_t span = (k - 1) * dil + 1;
            const int64_t out = (in + 2 * pad - span) / s + 1;
            if (out <= 0) continue;
            for (int64_t h = 0; h < in; ++h) {
              const Range r = pool_candidates(h, out, k, s, pad, dil);
              for (int64_t i = 0; i < out; ++i) {
                bool taps = false;
                for (int64_t p = 0; p < k; ++p) taps |= i * s - pad + p * dil == h;
                // every output that taps h is in the range; without dilation (avg_pool2d)
                // exactly those are
                const bool in_range = i >= r.lo && i < r.hi;
                if (dil == 1) {
                  EXPECT_EQ(taps, in_range) << in << " " << k << " " << s << " " << pad;
                } else if (taps) {
                  EXPECT_TRUE(in_range) << in << " " << k << " " << s << " " << pad;
                }
              }
              EXPECT_LE(r.hi - r.lo, (span + s - 1) / s);
            }
          }
}

TEST(CudaNormPlan, AdaptiveCandidatesAreExactlyTheWindowsThatHold) {
  for (int64_t in = 1; in <= 13; ++in)
    for (int64_t out = 1; out <= 13; ++out)
      for (int64_t h = 0; h < in; ++h) {
        const Range r = adaptive_candidates(h, in, out);
        for (int64_t i = 0; i < out; ++i) {
          const int64_t lo = i * in / out, hi = ((i + 1) * in + out - 1) / out;
          const bool holds = lo <= h && h < hi;
          EXPECT_EQ(holds, i >= r.lo && i < r.hi) << in << " " << out << " " << h << " " << i;
        }
      }
}

TEST(CudaNormPlan, UpsampleCandidatesHoldEveryTapInOrder) {
  for (bool bilinear : {false, true})
    for (bool align : {false, true})
      for (int64_t in = 1; in <= 9; ++in)
        for (int64_t out = 1; out <= 17; ++out)
          for (int64_t h = 0; h < in; ++h) {
            const Range r = upsample_candidates(h, in, out, bilinear, align);
            for (int64_t i = 0; i < out; ++i) {
              const Tap t = upsample_tap(i, in, out, bilinear, align);
              EXPECT_GE(t.i0, 0);
              EXPECT_LT(t.i1, in);
              const bool touches = t.i0 == h || t.i1 == h;
              if (touches) {
                EXPECT_TRUE(i >= r.lo && i < r.hi) << in << " " << out << " " << h;
              }
              if (!bilinear) {
                EXPECT_EQ(t.i0 == h, i >= r.lo && i < r.hi);
              }
            }
          }
  // The taps equal the reference's formula on a known case: 3 -> 5 bilinear, half-pixel.
  const Tap t = upsample_tap(1, 3, 5, true, false);  // src = 1.5 * 3 / 5 - 0.5 = 0.4
  EXPECT_EQ(t.i0, 0);
  EXPECT_EQ(t.i1, 1);
  EXPECT_DOUBLE_EQ(t.t, 0.4);
}

TEST(CudaOptimPlan, ChunksCoverEveryElementOnce) {
  const std::vector<int64_t> sizes = {0, 1, kOptimChunk, kOptimChunk + 1, 3 * kOptimChunk - 7, 5};
  const std::vector<OptimChunk> chunks = optim_chunks(sizes);
  std::vector<int64_t> covered(sizes.size(), 0);
  int64_t last_tensor = -1, next_start = 0;
  for (const OptimChunk& c : chunks) {
    ASSERT_GE(c.tensor, 0);
    ASSERT_LT(c.tensor, static_cast<int64_t>(sizes.size()));
    if (c.tensor != last_tensor) last_tensor = c.tensor, next_start = 0;
    EXPECT_EQ(c.start, next_start);  // in order, no gaps
    EXPECT_LT(c.start, sizes[c.tensor]);
    covered[c.tensor] += std::min(kOptimChunk, sizes[c.tensor] - c.start);
    next_start = c.start + kOptimChunk;
  }
  for (size_t t = 0; t < sizes.size(); ++t) EXPECT_EQ(covered[t], sizes[t]) << t;
  EXPECT_EQ(chunks.size(), 0u + 0 + 1 + 1 + 2 + 3 + 1);
  EXPECT_EQ(optim_blocks(0), 1);
  EXPECT_EQ(optim_blocks(1 << 20), 65536);
  // 10 M parameters: 1221 chunks, one block each.
  EXPECT_EQ(optim_chunks({10'000'000}).size(), 1221u);
  EXPECT_EQ(optim_table_bytes(3, 56, 10), 176u + 10 * sizeof(OptimChunk));
}

}  // namespace
}  // namespace stackgrad::kernels::gpu
