// Host-side plans of the CUDA LSTM kernels (kernels/cuda/rnn.cu): which GEMMs a call runs on
// which operands, what the step loop reads and writes at each step, the workspace and the
// launch geometry of the elementwise kernels. Plain C++ with no CUDA headers, so that
// tests/unit/test_cuda_rnn_plan.cpp checks every decision on a machine without a GPU; rnn.cu
// only follows these plans.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

namespace stackgrad::kernels::gpu::rnn {

// A strided matrix operand of a GEMM: element (r, c) at base + r * rs + c * cs, and a batch of
// them `bs` elements apart.
struct MatView {
  int64_t offset = 0;  // elements from the argument's data pointer
  int64_t bs = 0, rs = 0, cs = 0;
};

// The row stride of a [D0, D1, K] strided argument read as a [D0 * D1, K] matrix, when one
// exists (D1 rows of stride s1, then the next D0 index exactly D1 * s1 further on); nullopt when
// the rows do not form one progression (a permuted or sliced x).
inline std::optional<int64_t> merged_row_stride(int64_t d0, int64_t d1, int64_t s0, int64_t s1) {
  if (d0 <= 1) return s1;
  if (d1 <= 1) return s0;
  if (s0 == d1 * s1) return s1;
  return std::nullopt;
}

// The input projection gates[T, B, 4H] = x[T, B, I] · w_ihᵀ: one GEMM over all T·B rows when x's
// first two dims merge, else a batch of T GEMMs of B rows (the weights broadcast, b_bs = 0).
// Either way it is one gemm() call.
struct ProjectionPlan {
  int64_t batch = 1, M = 0;  // batch problems of M rows each
  MatView x;                 // A operand: rows of x
  int64_t gates_bs = 0;      // C's batch stride (C rows are 4H apart)
};

inline ProjectionPlan projection_plan(int64_t T, int64_t B, const int64_t (&x_strides)[3]) {
  ProjectionPlan p;
  if (auto rs = merged_row_stride(T, B, x_strides[0], x_strides[1])) {
    p.batch = 1;
    p.M = T * B;
    p.x = {0, 0, *rs, x_strides[2]};
  } else {
    p.batch = T;
    p.M = B;
    p.x = {0, x_strides[0], x_strides[1], x_strides[2]};
  }
  return p;
}

// The step loop of the forward. Step t reads h_{t-1} and c_{t-1}: h0 / c0 (the caller's
// strided state) at t = 0, else the previous step's rows of output / cs. The last step also
// writes h_T and c_T (so no copy follows the loop).
enum class StateSource { initial, previous_step };
struct ForwardStep {
  StateSource prev;
  bool write_last;
};
inline ForwardStep forward_step(int64_t t, int64_t T) {
  return {t == 0 ? StateSource::initial : StateSource::previous_step, t == T - 1};
}

// The step loop of the backward through time, t = T-1 … 0. Step t's gate backward reads dh
// (the recurrent part: the caller's dh_T at t = T-1, else the workspace row dh written by step
// t+1's GEMM) plus d_output[t], and dc (the caller's dc_T at t = T-1, else the running dc held
// in dc0's buffer, updated in place). Its recurrent GEMM dh = dgates_t · w_hh writes into the
// workspace dh, except at t = 0, where it writes dh0 itself.
enum class GradSource { caller, running };
struct BackwardStep {
  GradSource dh, dc;
  bool dh_into_dh0;
};
inline BackwardStep backward_step(int64_t t, int64_t T) {
  const GradSource s = t == T - 1 ? GradSource::caller : GradSource::running;
  return {s, s, t == 0};
}

// Workspace of the backward, in elements of the tensor's type, laid out in this order:
//   dgates [T·B, 4H]: every step's pre-activation gate gradients (the weight GEMMs read them
//                     all after the loop);
//   dh [B, H]:        the recurrent gradient between steps (absent when T == 1);
//   x_pack [T·B, I]:  a packed copy of x when its rows do not merge (dw_ih is one GEMM);
//   out_pack [(T-1)·B, H]: likewise for output's first T-1 steps (dw_hh's second GEMM).
struct BackwardWorkspace {
  int64_t dgates = 0, dh = 0, x_pack = 0, out_pack = 0;  // offsets
  int64_t total = 0;                                     // elements
  bool pack_x = false, pack_out = false;
};

// Offsets are rounded up to kWorkspaceAlign elements, so every buffer starts at least 256-byte
// aligned.
constexpr int64_t kWorkspaceAlign = 64;
inline int64_t align_up(int64_t n) {
  return (n + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
}

inline BackwardWorkspace backward_workspace(int64_t T, int64_t B, int64_t I, int64_t H,
                                            const int64_t (&x_strides)[3],
                                            const int64_t (&out_strides)[3]) {
  BackwardWorkspace w;
  w.pack_x = !merged_row_stride(T, B, x_strides[0], x_strides[1]).has_value();
  w.pack_out = T > 1 && !merged_row_stride(T - 1, B, out_strides[0], out_strides[1]).has_value();
  int64_t at = 0;
  w.dgates = at;
  at += align_up(T * B * 4 * H);
  w.dh = at;
  if (T > 1) at += align_up(B * H);
  w.x_pack = at;
  if (w.pack_x) at += align_up(T * B * I);
  w.out_pack = at;
  if (w.pack_out) at += align_up((T - 1) * B * H);
  w.total = at;
  return w;
}

// Launch geometry of the per-unit gate kernels: one thread per (row, unit), kGateThreads per
// block, the grid capped (the kernels stride over the rest).
constexpr int kGateThreads = 256;
constexpr int64_t kMaxGateBlocks = 65536;
inline int gate_blocks(int64_t rows, int64_t units) {
  const int64_t n = rows * units;
  return static_cast<int>(
      std::clamp<int64_t>((n + kGateThreads - 1) / kGateThreads, 1, kMaxGateBlocks));
}

// The bias gradient db[j] = Σ_r dgates[r, j] over R rows and G columns: a block of kColThreads
// columns by kColSlices row slices; slice s sums rows s, s + kColSlices, … in order, then the
// slices are added in slice order (no atomics: the same bits every run). One block per
// kColThreads columns.
constexpr int kColThreads = 32, kColSlices = 16;
inline int colsum_blocks(int64_t G) {
  return static_cast<int>(std::max<int64_t>((G + kColThreads - 1) / kColThreads, 1));
}

}  // namespace stackgrad::kernels::gpu::rnn
