// Host-side plan of the CUDA attention kernels (kernels/cuda/attention.cu): which path a problem
// takes, the tile shapes, the launch geometry, the shared memory of each kernel and the backward's
// workspace. Plain C++ with no CUDA headers, so tests/unit/test_cuda_attention_plan.cpp checks
// it on any machine; the tile constants and the causal loop bounds are shared with the device
// code (SG_ATTN_HD functions), so the kernels and the tests use the same numbers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#if defined(__CUDACC__)
#define SG_ATTN_HD __host__ __device__
#else
#define SG_ATTN_HD
#endif

namespace stackgrad::kernels::gpu::attention {

// Threads per block of every attention kernel (4 warps). The tiled kernels lay them out as a
// 16 x 8 grid: thread t owns rows (t / 8) * R + r of its tile and columns t % 8 + 8 c.
constexpr int kThreads = 128;
constexpr int kRowGroups = 16;  // t / 8
constexpr int kColLanes = 8;    // t % 8: the 8 lanes that share a row (one shuffle group)

// Forward (tiled): 64 query rows per block, 64-key tiles (4 rows x 8 columns per thread).
constexpr int kFwdQ = 64;
constexpr int kFwdK = 64;
// Backward dK/dV pass (tiled): one key tile per block, 32-query tiles streamed. Keys per
// thread: 4 (64-key tile) up to head dim 64, 2 (32-key tile) at 128, so the dK and dV
// accumulators (2 x keys x head_tile / 8 floats per thread) stay at 64 registers.
constexpr int kKvQ = 32;
SG_ATTN_HD constexpr int kv_keys_per_thread(int head_tile) { return head_tile > 64 ? 2 : 4; }
SG_ATTN_HD constexpr int kv_key_tile(int head_tile) {
  return kRowGroups * kv_keys_per_thread(head_tile);
}
// Backward dQ pass (tiled): 64 query rows per block, 32-key tiles streamed.
constexpr int kDqQ = 64;
constexpr int kDqK = 32;

// Shared memory of the tiled kernels in floats. Row strides are head_tile + 1 and tile + 1: an
// odd stride puts the rows a warp reads at one column in distinct banks.
SG_ATTN_HD constexpr int64_t fwd_smem_floats(int hd) {
  return int64_t{kFwdQ} * (hd + 1)        // Q tile
         + int64_t{kFwdK} * (hd + 1)      // K tile, then V tile (one buffer)
         + int64_t{kFwdQ} * (kFwdK + 1);  // probabilities
}
SG_ATTN_HD constexpr int64_t kv_smem_floats(int hd) {
  const int bk = kv_key_tile(hd);
  return 2 * int64_t{bk} * (hd + 1)      // K, V (resident)
         + 2 * int64_t{kKvQ} * (hd + 1)  // Q, dO (per query tile)
         + 2 * int64_t{kKvQ} * (bk + 1)  // Pd, dS
         + 2 * int64_t{kKvQ};            // L, D
}
SG_ATTN_HD constexpr int64_t dq_smem_floats(int hd) {
  return 2 * int64_t{kDqQ} * (hd + 1)    // Q, dO (resident)
         + 2 * int64_t{kDqK} * (hd + 1)  // K, V (per key tile)
         + int64_t{kDqQ} * (kDqK + 1)    // dS
         + 2 * int64_t{kDqQ};            // L, D
}

// Tensor-core forward (bf16, f16 inputs; sm_80+ mma.sync.m16n8k16): the same grid as the tiled
// forward (64 query rows per block, 16 per warp; 64-key tiles), Q, K and V tiles kept as their
// 16-bit patterns with rows padded to head_tile + 8 halves: the 32-bit fragment words that the
// 32 lanes of a warp read at once then fall in distinct banks (row stride (hd + 8) / 2 words,
// 4 mod 32 for every head tile).
SG_ATTN_HD constexpr int mma_row_halves(int hd) { return hd + 8; }
SG_ATTN_HD constexpr int64_t mma_fwd_smem_bytes(int hd) {
  return (int64_t{kFwdQ} + 2 * int64_t{kFwdK}) * mma_row_halves(hd) * 2;  // Q, K, V
}

// Generic kernels (f64, or a head dim above 128): one block per query row (forward, dQ) or
// key row (dK/dV), keys or queries in chunks of kThreads, the row vectors in shared memory.
// Sizes in elements of the accumulation type.
SG_ATTN_HD constexpr int64_t gen_fwd_smem_elems(int64_t d, int64_t dv) {
  return d + dv + kThreads + 32;
}
SG_ATTN_HD constexpr int64_t gen_kv_smem_elems(int64_t d, int64_t dv) {
  return 2 * d + 2 * dv + 2 * kThreads + 32;
}
SG_ATTN_HD constexpr int64_t gen_dq_smem_elems(int64_t d, int64_t dv) {
  return 2 * d + dv + kThreads + 32;
}

// Causal loop bounds (query i sees keys 0..i, top-left aligned).
// Keys a query tile [i0, i0 + mq) must visit: [0, fwd_key_end).
SG_ATTN_HD constexpr int64_t causal_key_end(bool causal, int64_t lk, int64_t i0, int64_t mq) {
  return causal ? (lk < i0 + mq ? lk : i0 + mq) : lk;
}
// First query a key tile starting at j0 must visit (rows above it see none of its keys).
SG_ATTN_HD constexpr int64_t causal_first_query(bool causal, int64_t j0) { return causal ? j0 : 0; }

enum class Path { tiled, generic };

struct Plan {
  Path path = Path::generic;
  int head_tile = 0;  // tiled: 32, 64 or 128 (>= max(D, Dv)); generic: 0
  int64_t bh = 0;     // B * H
  // Blocks of each kernel (1-D grids); 0 means the kernel is not launched.
  int64_t fwd_blocks = 0, kv_blocks = 0, dq_blocks = 0;
  int64_t q_tiles = 0, k_tiles = 0, dq_tiles = 0;  // tiled: tiles per (batch, head)
  // Dynamic shared memory of each kernel, bytes; fwd_mma_smem for the tensor-core forward that
  // half inputs take on the tiled path.
  size_t fwd_smem = 0, kv_smem = 0, dq_smem = 0, fwd_mma_smem = 0;
  // Backward workspace: D_i = rowsum(dO o O) per query row, in the accumulation type.
  size_t workspace_bytes = 0;
  // Set when a kernel needs more shared memory than the device allows or a grid larger than
  // 2^31 - 1 blocks; `why` says which.
  bool ok = true;
  const char* why = "";
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The head-dim instance for max(D, Dv) on the f32 tiled path, 0 when it has none.
inline int head_tile_for(int64_t d, int64_t dv) {
  const int64_t m = std::max(d, dv);
  if (m <= 32) return 32;
  if (m <= 64) return 64;
  if (m <= 128) return 128;
  return 0;
}

// acc_size: the accumulation type's size, 4 (f32, bf16 and f16 inputs: tiled up to head dim 128,
// f32 accumulation) or 8 (f64: generic, f64 accumulation). max_smem: the device's opt-in shared memory per block (227 KiB on an H100).
inline Plan plan_attention(int acc_size, int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t D,
                           int64_t Dv, size_t max_smem) {
  Plan p;
  p.bh = B * H;
  const int tile = acc_size == 4 ? head_tile_for(D, Dv) : 0;
  const size_t acc = acc_size == 4 ? 4 : 8;
  p.workspace_bytes = static_cast<size_t>(p.bh * Lq) * acc;
  if (tile != 0) {
    p.path = Path::tiled;
    p.head_tile = tile;
    p.q_tiles = ceil_div(Lq, kFwdQ);
    p.k_tiles = ceil_div(Lk, kv_key_tile(tile));
    p.dq_tiles = ceil_div(Lq, kDqQ);
    p.fwd_blocks = p.bh * p.q_tiles;
    p.kv_blocks = p.bh * p.k_tiles;
    p.dq_blocks = p.bh * p.dq_tiles;
    p.fwd_smem = static_cast<size_t>(fwd_smem_floats(tile)) * 4;
    p.fwd_mma_smem = static_cast<size_t>(mma_fwd_smem_bytes(tile));
    p.kv_smem = static_cast<size_t>(kv_smem_floats(tile)) * 4;
    p.dq_smem = static_cast<size_t>(dq_smem_floats(tile)) * 4;
  } else {
    p.path = Path::generic;
    p.fwd_blocks = p.bh * Lq;
    p.kv_blocks = p.bh * Lk;
    p.dq_blocks = p.bh * Lq;
    p.fwd_smem = static_cast<size_t>(gen_fwd_smem_elems(D, Dv)) * acc;
    p.kv_smem = static_cast<size_t>(gen_kv_smem_elems(D, Dv)) * acc;
    p.dq_smem = static_cast<size_t>(gen_dq_smem_elems(D, Dv)) * acc;
  }
  const int64_t max_blocks = std::numeric_limits<int32_t>::max();
  if (std::max({p.fwd_blocks, p.kv_blocks, p.dq_blocks}) > max_blocks) {
    p.ok = false;
    p.why = "more than 2^31 - 1 blocks (too many (batch, head) rows)";
  } else if (std::max({p.fwd_smem, p.kv_smem, p.dq_smem}) > max_smem) {
    p.ok = false;
    p.why = "head dim too large for the shared memory of one block";
  }
  return p;
}

}  // namespace stackgrad::kernels::gpu::attention
