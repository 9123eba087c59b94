// Host-side plans of the CUDA norm and pool kernels (kernels/cuda/norm.cu, pool.cu): plain C++
// that the kernels share with the CPU unit test tests/unit/test_cuda_norm_plan.cpp, so every
// index rule and launch geometry is checked without a GPU. Functions marked SG_HD are compiled
// for the device too (nvcc defines __CUDACC__).
//
// Normalisation sets. batch_norm, layer_norm and group_norm all reduce "sets" (what one mean
// and rstd describe) made of `rows` rows of `S` elements. Element (s, r, k) of set s lies at
//   (s / sdiv) * o0 + (s % sdiv) * o1 + r * orow + k * ok
// in an operand with its own four strides (x, grad and the output differ):
//   batch_norm [N, C, S]: set = channel c, rows = samples, sdiv = C (s / sdiv == 0)
//   group_norm [N, C, S]: set = (sample, group) = i * G + g, rows = the group's Cg channels
//   layer_norm [R, D]:    set = row, one row of D elements
// A set is cut into `chunks` runs of rows when there are too few sets to fill the GPU; each
// (set, chunk) task is reduced by TPR threads (a warp, or a 256-thread block), laid out as
// lanes_r rows x lanes_k elements so consecutive threads read consecutive k.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef __CUDACC__
#define SG_HD __host__ __device__
#else
#define SG_HD
#endif

namespace stackgrad::kernels::gpu {

// The four strides that place element (s, r, k) of a set in one operand.
struct SetStrides {
  int64_t o0 = 0, o1 = 0, orow = 0, ok = 0;
};

struct NormGeom {
  int64_t sets = 0, rows = 0, S = 0;
  int64_t sdiv = 1;
  SetStrides x, g, y;  // input, incoming gradient (backward), output (y or dx)
};

SG_HD inline int64_t set_offset(const SetStrides& st, int64_t sdiv, int64_t s, int64_t r,
                                int64_t k) {
  return (s / sdiv) * st.o0 + (s % sdiv) * st.o1 + r * st.orow + k * st.ok;
}

// Strides of a [N, C, S] operand (element strides s0, s1, s2) as batch_norm sets (one per
// channel) or group_norm sets (one per sample and group of Cg channels).
inline SetStrides batch_set_strides(const int64_t* st) { return {0, st[1], st[0], st[2]}; }
inline SetStrides group_set_strides(const int64_t* st, int64_t Cg) {
  return {st[0], Cg * st[1], st[1], st[2]};
}
// Of a [R, D] operand as layer_norm sets (one per row).
inline SetStrides layer_set_strides(const int64_t* st) { return {0, st[0], 0, st[1]}; }

inline NormGeom batch_geom(int64_t N, int64_t C, int64_t S) {
  NormGeom g;
  g.sets = C, g.rows = N, g.S = S, g.sdiv = std::max<int64_t>(C, 1);
  return g;
}
inline NormGeom group_geom(int64_t N, int64_t C, int64_t S, int64_t G) {
  NormGeom g;
  g.sets = N * G, g.rows = C / G, g.S = S, g.sdiv = std::max<int64_t>(G, 1);
  return g;
}
inline NormGeom layer_geom(int64_t R, int64_t D) {
  NormGeom g;
  g.sets = R, g.rows = 1, g.S = D, g.sdiv = std::max<int64_t>(R, 1);
  return g;
}

// The weight (and bias) index of element (s, r, k): per set (batch_norm, and the per-channel
// dweight pass of group_norm), per row's channel (group_norm), per column (layer_norm).
enum class ParamIndex : int { per_set = 0, group_channel = 1, per_column = 2 };
SG_HD inline int64_t param_index(ParamIndex mode, int64_t sdiv, int64_t Cg, int64_t s, int64_t r,
                                 int64_t k) {
  switch (mode) {
    case ParamIndex::per_set:
      return s;
    case ParamIndex::group_channel:
      return (s % sdiv) * Cg + r;
    default:
      return k;
  }
}

// The statistics index of element (s, r): the set's own (every forward and backward pass), or,
// in group_norm's per-channel dweight pass (sets = channels, rows = samples), sample r's group.
enum class StatIndex : int { per_set = 0, group_of_channel = 1 };
SG_HD inline int64_t stat_index(StatIndex mode, int64_t G, int64_t Cg, int64_t s, int64_t r) {
  return mode == StatIndex::per_set ? s : r * G + s / Cg;
}

constexpr int kNormBlock = 256;             // threads of a block
constexpr int64_t kNormTargetTasks = 1024;  // enough (set, chunk) tasks to fill an H100 a few times
constexpr int64_t kNormMinChunk = 16384;    // elements below which a set is never cut
constexpr int64_t kNormBlockSet = 2048;     // elements from which a task gets a block, not a warp
constexpr int64_t kNormMaxChunks = 512;     // bounds the serial merge of a set's partials

struct NormPlan {
  int tpr = 32;        // threads per task: 32 (a warp) or kNormBlock
  int lanes_k = 32;    // threads along k (power of two, divides tpr)
  int lanes_r = 1;     // tpr / lanes_k: threads along rows
  int64_t chunks = 1;  // row runs per set
  int64_t rows_per_chunk = 0;
  int64_t tasks = 0;  // sets * chunks
  int blocks = 1;     // grid size (tasks are walked grid-stride beyond it)
};

inline int64_t next_pow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p *= 2;
  return p;
}

// The plan of a set reduction. `allow_chunks` is false for passes that must see a whole set in
// one task (none today: every pass can merge partials; kept for tests of the unchunked path).
inline NormPlan plan_norm(int64_t sets, int64_t rows, int64_t S, bool allow_chunks = true) {
  NormPlan p;
  const int64_t elems = rows * S;
  if (allow_chunks && sets < kNormTargetTasks && elems > kNormMinChunk && rows > 1) {
    const int64_t want = (kNormTargetTasks + sets - 1) / std::max<int64_t>(sets, 1);
    const int64_t most = std::min(rows, (elems + kNormMinChunk - 1) / kNormMinChunk);
    p.chunks = std::clamp<int64_t>(std::min(want, most), 1, kNormMaxChunks);
  }
  p.rows_per_chunk = rows == 0 ? 0 : (rows + p.chunks - 1) / p.chunks;
  if (p.rows_per_chunk > 0) p.chunks = (rows + p.rows_per_chunk - 1) / p.rows_per_chunk;
  const int64_t task_elems = p.rows_per_chunk * S;
  p.tpr = task_elems >= kNormBlockSet ? kNormBlock : 32;
  p.lanes_k = static_cast<int>(std::clamp<int64_t>(next_pow2(std::max<int64_t>(S, 1)), 1, p.tpr));
  p.lanes_r = p.tpr / p.lanes_k;
  p.tasks = sets * p.chunks;
  const int64_t per_block = kNormBlock / p.tpr;
  p.blocks = static_cast<int>(
      std::clamp<int64_t>((p.tasks + per_block - 1) / per_block, 1, int64_t{65536}));
  return p;
}

// Partial accumulators of a chunked pass: three doubles per (set, chunk) (Welford count, mean,
// m2; or the backward's two sums and a spare), and the per-set table the finishing step writes
// for the apply pass (mean, rstd, and the backward's two coefficients).
constexpr int kPartialDoubles = 3;
constexpr int kTableDoubles = 4;
inline size_t norm_workspace_bytes(const NormPlan& p, int64_t sets) {
  const int64_t partial = p.chunks > 1 ? p.tasks * kPartialDoubles : 0;
  return static_cast<size_t>(partial + sets * kTableDoubles) * sizeof(double);
}

// layer_norm's dweight and dbias: column sums over rows. Tiles of 32 columns x 8 row lanes (a
// 256-thread block), the rows cut into `chunks` runs; pass 1 writes [chunks, D] partial pairs,
// pass 2 sums each column's partials in chunk order.
constexpr int kColTile = 32;
constexpr int kColRowLanes = kNormBlock / kColTile;
constexpr int64_t kColMinRows = 64;
struct ColumnPlan {
  int64_t tiles = 0, chunks = 1, rows_per_chunk = 0, tasks = 0;
  int blocks = 1;
};
inline ColumnPlan plan_columns(int64_t R, int64_t D) {
  ColumnPlan p;
  p.tiles = (D + kColTile - 1) / kColTile;
  if (p.tiles > 0 && p.tiles < kNormTargetTasks) {
    const int64_t want = (kNormTargetTasks + p.tiles - 1) / p.tiles;
    const int64_t most = std::max<int64_t>(1, R / kColMinRows);
    p.chunks = std::clamp<int64_t>(std::min(want, most), 1, kNormMaxChunks);
  }
  p.rows_per_chunk = R == 0 ? 0 : (R + p.chunks - 1) / p.chunks;
  if (p.rows_per_chunk > 0) p.chunks = (R + p.rows_per_chunk - 1) / p.rows_per_chunk;
  p.tasks = p.tiles * p.chunks;
  p.blocks = static_cast<int>(std::clamp<int64_t>(p.tasks, 1, int64_t{65536}));
  return p;
}

// --- pooling and upsampling: the backward kernels gather -----------------------------------
// Each input pixel walks the outputs whose windows can hold it, in increasing output order
// (the reference's accumulation order), so the sums need no atomics and match the reference's
// double accumulation. These give that candidate range along one axis: outputs [lo, hi).

// Outputs i of a pooling window (start i * stride - pad, taps at + p * dil for p < k) that can
// tap coordinate h: h + pad - (k - 1) * dil <= i * stride <= h + pad. Without dilation these
// are exactly the windows holding h; with it the caller checks that (h + pad - i * stride) is a
// multiple of dil.
struct Range {
  int64_t lo = 0, hi = 0;
};
SG_HD inline Range pool_candidates(int64_t h, int64_t out, int64_t k, int64_t stride, int64_t pad,
                                   int64_t dil) {
  const int64_t top = h + pad;                 // i * stride <= top
  const int64_t bottom = top - (k - 1) * dil;  // i * stride >= bottom
  int64_t lo = bottom <= 0 ? 0 : (bottom + stride - 1) / stride;
  int64_t hi = top < 0 ? 0 : top / stride + 1;
  lo = lo < 0 ? 0 : lo;
  hi = hi > out ? out : hi;
  return {lo, hi < lo ? lo : hi};
}

// Outputs i of adaptive_avg_pool2d along one axis (window [i * in / out, ceil((i + 1) * in /
// out))) that hold coordinate h.
SG_HD inline Range adaptive_candidates(int64_t h, int64_t in, int64_t out) {
  int64_t lo = h * out / in;
  int64_t hi = ((h + 1) * out + in - 1) / in;  // first i whose window starts after h
  lo = lo < 0 ? 0 : lo;
  hi = hi > out ? out : hi;
  return {lo, hi < lo ? lo : hi};
}

// Upsampling taps along one axis, the reference's formula (kernels/reference/conv.cpp).
struct Tap {
  int64_t i0, i1;
  double t;
};
SG_HD inline Tap upsample_tap(int64_t i, int64_t in, int64_t out, bool bilinear,
                              bool align_corners) {
  if (!bilinear) {
    const int64_t s = i * in / out;
    return {s < in - 1 ? s : in - 1, s < in - 1 ? s : in - 1, 0.0};
  }
  double src;
  if (align_corners) {
    src = out > 1
              ? static_cast<double>(i) * static_cast<double>(in - 1) / static_cast<double>(out - 1)
              : 0.0;
  } else {
    src = (static_cast<double>(i) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
    src = src < 0.0 ? 0.0 : src;
  }
  int64_t i0 = static_cast<int64_t>(src);
  i0 = i0 < in - 1 ? i0 : in - 1;
  const int64_t i1 = i0 + 1 < in - 1 ? i0 + 1 : in - 1;
  return {i0, i1, src - static_cast<double>(i0)};
}

// Outputs whose taps can touch coordinate h: i0(i) is non-decreasing in i and i1(i) <= i0(i) +
// 1, so they are those with h - 1 <= i0(i) <= h (nearest: i0(i) == h). Two binary searches.
SG_HD inline Range upsample_candidates(int64_t h, int64_t in, int64_t out, bool bilinear,
                                       bool align_corners) {
  const int64_t first = bilinear ? h - 1 : h;
  int64_t a = 0, b = out;  // first i with i0(i) >= first
  while (a < b) {
    const int64_t m = a + (b - a) / 2;
    if (upsample_tap(m, in, out, bilinear, align_corners).i0 >= first)
      b = m;
    else
      a = m + 1;
  }
  const int64_t lo = a;
  b = out;  // first i with i0(i) > h
  while (a < b) {
    const int64_t m = a + (b - a) / 2;
    if (upsample_tap(m, in, out, bilinear, align_corners).i0 > h)
      b = m;
    else
      a = m + 1;
  }
  return {lo, a};
}

// One thread per element, grid-stride beyond the grid cap.
inline int elementwise_blocks(int64_t n, int threads = kNormBlock) {
  return static_cast<int>(std::clamp<int64_t>((n + threads - 1) / threads, 1, int64_t{65536}));
}

}  // namespace stackgrad::kernels::gpu
