// The host-side plans of the CUDA LSTM kernels (kernels/cuda/rnn_plan.h): how x's rows form the
// input-projection GEMM, what each step of the forward and backward loops reads and writes, the
// backward's workspace and the launch geometry. Checked on the CPU, with an emulation of the
// step schedules against a straightforward recurrence where that says more than the fields.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cuda/rnn_plan.h"

namespace stackgrad::kernels::gpu::rnn {
namespace {

TEST(CudaRnnPlan, MergedRowStride) {
  // Contiguous [T, B, I]: rows I apart.
  EXPECT_EQ(merged_row_stride(4, 3, 3 * 5, 5), 5);
  // A [B, T, I] tensor transposed to [T, B, I]: strides (I, T*I): no single progression.
  EXPECT_FALSE(merged_row_stride(4, 3, 5, 4 * 5).has_value());
  // Size-1 dims merge whatever their stride.
  EXPECT_EQ(merged_row_stride(1, 3, 999, 7), 7);
  EXPECT_EQ(merged_row_stride(4, 1, 11, 999), 11);
  // Rows of a wider buffer (I columns of a row 8 long): still one progression.
  EXPECT_EQ(merged_row_stride(2, 3, 24, 8), 8);
  // A gap between time steps: not mergeable.
  EXPECT_FALSE(merged_row_stride(2, 3, 30, 8).has_value());
}

TEST(CudaRnnPlan, ProjectionIsOneGemmWhenRowsMerge) {
  const ProjectionPlan p = projection_plan(5, 4, {4 * 3, 3, 1});
  EXPECT_EQ(p.batch, 1);
  EXPECT_EQ(p.M, 20);
  EXPECT_EQ(p.x.rs, 3);
  EXPECT_EQ(p.x.cs, 1);
}

TEST(CudaRnnPlan, ProjectionIsABatchOfStepsOtherwise) {
  // x [T 5, B 4, I 3] as a transposed batch-first buffer: strides (3, 15, 1).
  const ProjectionPlan p = projection_plan(5, 4, {3, 15, 1});
  EXPECT_EQ(p.batch, 5);
  EXPECT_EQ(p.M, 4);
  EXPECT_EQ(p.x.bs, 3);
  EXPECT_EQ(p.x.rs, 15);
  EXPECT_EQ(p.x.cs, 1);
  // Every (t, b, k) of x is read at the address the plan gives for batch t, row b, column k.
  for (int64_t t = 0; t < 5; ++t)
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t k = 0; k < 3; ++k)
        EXPECT_EQ(t * p.x.bs + b * p.x.rs + k * p.x.cs, t * 3 + b * 15 + k);
}

TEST(CudaRnnPlan, MergedProjectionAddressesEveryRowOfX) {
  // Row r = t * B + b of the merged plan must be element (t, b) of x for any mergeable strides.
  const int64_t T = 3, B = 4, I = 2, s[3] = {B * 6, 6, 2};  // rows 6 apart, columns 2 apart
  const ProjectionPlan p = projection_plan(T, B, s);
  ASSERT_EQ(p.batch, 1);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t k = 0; k < I; ++k)
        EXPECT_EQ((t * B + b) * p.x.rs + k * p.x.cs, t * s[0] + b * s[1] + k * s[2]);
}

TEST(CudaRnnPlan, ForwardStepsChainTheState) {
  // Emulate the loop on scalars: state h_t = h_{t-1} + 1 from h0; the plan's sources must give
  // the recurrence, and exactly the last step writes h_T.
  for (int64_t T : {1, 2, 7}) {
    const double h0 = 10;
    std::vector<double> out(T);
    double h_last = -1;
    int writes = 0;
    for (int64_t t = 0; t < T; ++t) {
      const ForwardStep s = forward_step(t, T);
      const double prev = s.prev == StateSource::initial ? h0 : out[t - 1];
      if (s.prev == StateSource::previous_step) {
        EXPECT_GT(t, 0);
      }
      out[t] = prev + 1;
      if (s.write_last) {
        h_last = out[t];
        ++writes;
      }
    }
    EXPECT_EQ(writes, 1);
    EXPECT_EQ(h_last, h0 + static_cast<double>(T));
  }
}

TEST(CudaRnnPlan, BackwardStepsReadTheCallersGradientsOnceAndEndInDh0) {
  // Emulate the backward on scalars: dh_{t-1} = 2 * (dh_t + d_output[t]); the caller's dh_T
  // enters at the last step, the workspace carries the rest, and only step 0 writes dh0.
  for (int64_t T : {1, 2, 5}) {
    const double dh_T = 1;
    std::vector<double> dout(T);
    for (int64_t t = 0; t < T; ++t) dout[t] = static_cast<double>(t + 1);
    double ws = -1e9, dh0 = -1e9;  // garbage until written
    int caller_reads = 0, dh0_writes = 0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const BackwardStep s = backward_step(t, T);
      EXPECT_EQ(s.dh, s.dc);
      double d;
      if (s.dh == GradSource::caller) {
        d = dh_T;
        ++caller_reads;
      } else {
        d = ws;
      }
      const double next = 2 * (d + dout[t]);
      if (s.dh_into_dh0) {
        dh0 = next;
        ++dh0_writes;
      } else {
        ws = next;
      }
    }
    double want = dh_T;
    for (int64_t t = T - 1; t >= 0; --t) want = 2 * (want + dout[t]);
    EXPECT_EQ(caller_reads, 1);
    EXPECT_EQ(dh0_writes, 1);
    EXPECT_EQ(dh0, want);
  }
}

TEST(CudaRnnPlan, BackwardWorkspaceContiguousInputs) {
  const int64_t T = 3, B = 2, I = 5, H = 7;
  const BackwardWorkspace w = backward_workspace(T, B, I, H, {B * I, I, 1}, {B * H, H, 1});
  EXPECT_FALSE(w.pack_x);
  EXPECT_FALSE(w.pack_out);
  EXPECT_EQ(w.dgates, 0);
  EXPECT_GE(w.dh, T * B * 4 * H);
  EXPECT_GE(w.total, w.dh + B * H);
  // Buffers start aligned and do not overlap.
  EXPECT_EQ(w.dh % kWorkspaceAlign, 0);
  EXPECT_EQ(w.total % kWorkspaceAlign, 0);
}

TEST(CudaRnnPlan, BackwardWorkspacePacksUnmergeableOperands) {
  const int64_t T = 4, B = 3, I = 5, H = 6;
  // x and output transposed from batch-first buffers.
  const BackwardWorkspace w = backward_workspace(T, B, I, H, {I, T * I, 1}, {H, T * H, 1});
  EXPECT_TRUE(w.pack_x);
  EXPECT_TRUE(w.pack_out);
  EXPECT_GE(w.dh, w.dgates + T * B * 4 * H);
  EXPECT_GE(w.x_pack, w.dh + B * H);
  EXPECT_GE(w.out_pack, w.x_pack + T * B * I);
  EXPECT_GE(w.total, w.out_pack + (T - 1) * B * H);
  for (int64_t off : {w.dh, w.x_pack, w.out_pack}) EXPECT_EQ(off % kWorkspaceAlign, 0);
}

TEST(CudaRnnPlan, BackwardWorkspaceSingleStep) {
  // One step: no dh between steps and no output rows for dw_hh (only h0), whatever output's
  // strides.
  const BackwardWorkspace w = backward_workspace(1, 2, 3, 4, {6, 3, 1}, {1, 100, 3});
  EXPECT_FALSE(w.pack_out);
  EXPECT_EQ(w.dh, w.x_pack);  // dh is empty
  EXPECT_EQ(w.total, align_up(1 * 2 * 4 * 4));
  // Output's first T-1 steps decide packing: T = 2 with a one-step head always merges.
  EXPECT_FALSE(backward_workspace(2, 3, 1, 4, {3, 1, 1}, {4, 40, 1}).pack_out);
}

TEST(CudaRnnPlan, GateGridCoversEveryUnitOrCaps) {
  EXPECT_EQ(gate_blocks(0, 5), 1);
  EXPECT_EQ(gate_blocks(1, 1), 1);
  EXPECT_EQ(gate_blocks(1, kGateThreads), 1);
  EXPECT_EQ(gate_blocks(1, kGateThreads + 1), 2);
  EXPECT_EQ(gate_blocks(64, 512), 64 * 512 / kGateThreads);
  // Huge problems are capped; the kernels stride over the rest.
  EXPECT_EQ(gate_blocks(int64_t{1} << 20, int64_t{1} << 20), kMaxGateBlocks);
  for (int64_t n : {1, 17, 255, 256, 257, 100000}) {
    const int64_t covered = int64_t{gate_blocks(1, n)} * kGateThreads;
    EXPECT_GE(covered, n);
    EXPECT_LT(covered - n, kGateThreads);
  }
}

TEST(CudaRnnPlan, ColumnSumBlocksCoverEveryColumn) {
  for (int64_t G : {4, 20, 32, 33, 2048, 4 * 17}) {
    const int64_t blocks = colsum_blocks(G);
    EXPECT_GE(blocks * kColThreads, G);
    EXPECT_LT(blocks * kColThreads - G, kColThreads);
  }
  EXPECT_EQ(colsum_blocks(0), 1);
  EXPECT_LE(kColThreads * kColSlices, 1024);  // a legal block
}

}  // namespace
}  // namespace stackgrad::kernels::gpu::rnn
