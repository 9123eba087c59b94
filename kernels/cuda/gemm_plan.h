// Host-side decisions of the CUDA GEMM (kernels/cuda/gemm.cu), kept free of CUDA headers so the
// CPU tests can check them (tests/unit/test_cuda_gemm_plan.cpp): which kernel runs a shape, how
// each operand's tile is loaded (16-byte vectors along a unit-stride dim when the addresses allow,
// scalar loads otherwise), the launch geometry, the order in which tiles are handed out, and how
// the batch dims of a bmm call fold into the GEMM's one batch stride.
//
// Both operands are described the same way: A as x = m (its rows), B as x = n (its columns), each
// with a stride along x and one along k, so one loader serves A and B in every layout.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#ifdef __CUDACC__
#define SG_GEMM_HD __host__ __device__
#else
#define SG_GEMM_HD
#endif

namespace stackgrad::kernels::gpu {

// The kernels of gemm.cu.
enum class GemmKernel : int {
  none,    // nothing to write (batch, M or N is 0)
  tiled,   // 16x16 shared-memory tiles, one C element per thread: f64, and tiny or skinny f32
  reg64,   // f32, 64x64 block tile, 4x4 per thread, BK 16, double-buffered
  reg128,  // f32, 128x128 block tile, 8x8 per thread, BK 8, double-buffered
  tf32,    // f32 on tensor cores (mma.sync m16n8k8 TF32), 128x128 block tile, BK 16
};

// How a tile of one operand travels from global to shared memory.
enum class TileLoad {
  vec_k,   // float4 along k (unit k stride: A row-major, B column-major)
  vec_x,   // float4 along x (unit x stride: A column-major, B row-major)
  scalar,  // one element at a time, any strides (stride 0, negative, unaligned)
};

inline const char* gemm_kernel_name(GemmKernel k) {
  switch (k) {
    case GemmKernel::none:
      return "none";
    case GemmKernel::tiled:
      return "tiled";
    case GemmKernel::reg64:
      return "reg64";
    case GemmKernel::reg128:
      return "reg128";
    case GemmKernel::tf32:
      return "tf32";
  }
  return "?";
}

// One operand as the loader sees it: element (x, k) of batch z is at
// addr + (z * batch_stride + x * x_stride + k * k_stride) * elem_bytes.
struct OperandDesc {
  uint64_t addr = 0;
  int64_t batch_stride = 0, x_stride = 0, k_stride = 0;
  int64_t extent_x = 0;  // M for A, N for B
};

// A size-1 dim's stride never moves the address: zero it so that it neither blocks nor fakes a
// vector path (a [1, K] row may carry any row stride).
inline OperandDesc normalized(OperandDesc d, int64_t batch, int64_t K) {
  if (d.extent_x <= 1) d.x_stride = 0;
  if (K <= 1) d.k_stride = 0;
  if (batch <= 1) d.batch_stride = 0;
  return d;
}

// The vector loads read 4 consecutive elements at an x (or k) that is a multiple of 4 from the
// tile origin, so they need a unit stride along that dim, every other stride a multiple of 4 and
// a 16-byte aligned base. Partial quads at the edges are loaded element by element in the kernel.
inline TileLoad choose_load(const OperandDesc& raw, int64_t batch, int64_t K, int elem_bytes) {
  if (elem_bytes != 4) return TileLoad::scalar;
  const OperandDesc d = normalized(raw, batch, K);
  const bool aligned = d.addr % 16 == 0 && d.batch_stride % 4 == 0;
  if (!aligned) return TileLoad::scalar;
  if (d.k_stride == 1 && d.x_stride % 4 == 0) return TileLoad::vec_k;
  if (d.x_stride == 1 && d.k_stride % 4 == 0) return TileLoad::vec_x;
  return TileLoad::scalar;
}

// For the scalar loader: walk x across neighbouring threads when x is the closer dim in memory,
// so that a warp's loads fall on few cache lines.
inline bool x_is_fast(const OperandDesc& raw, int64_t batch, int64_t K) {
  const OperandDesc d = normalized(raw, batch, K);
  const int64_t ax = d.x_stride < 0 ? -d.x_stride : d.x_stride;
  const int64_t ak = d.k_stride < 0 ? -d.k_stride : d.k_stride;
  if (ax == 0) return false;
  if (ak == 0) return true;
  return ax < ak;
}

struct GemmShapeDesc {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  OperandDesc a, b;  // a: x = m; b: x = n
  uint64_t c_addr = 0;
  int64_t c_bs = 0, c_rs = 0, c_cs = 0;
  int elem_bytes = 4;  // 4: f32, 8: f64
  bool allow_tf32 = false;
  int sm_count = 132;  // multiprocessors of the device (H100 SXM: 132)
  int cc_major = 9;    // compute capability; TF32 tensor cores from 8 (Ampere)
};

struct GemmPlan {
  GemmKernel kernel = GemmKernel::none;
  TileLoad a_load = TileLoad::scalar, b_load = TileLoad::scalar;
  bool a_x_fast = false, b_x_fast = false;
  bool c_vec = false;  // float4 stores of C rows (unit column stride, aligned)
  int tile = 16;       // block tile edge (M and N)
  int threads = 256;
  int64_t tiles_m = 0, tiles_n = 0;
  int64_t grid_x = 1, grid_z = 1;  // tiles and batch, capped; the kernels loop over the rest
};

constexpr int64_t kMaxGridX = 2147483647;
constexpr int64_t kMaxGridZ = 65535;
// Tiles handed out in groups of this many tile rows (see tile_coords).
constexpr int64_t kTileGroup = 8;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The kernel and geometry for one shape. f64 always takes the tiled kernel (parity, not speed).
// f32: the tiled kernel when the product is tiny or one side is thinner than a register tile's
// worth of rows (M or N < 32), where the 64- and 128-wide tiles would mostly compute padding;
// the tensor-core kernel when allowed (and the device has TF32 tensor cores, sm_80 on) and both
// sides fill at least a 64-wide tile; otherwise the 128x128 kernel when it yields two waves of
// blocks on the device, else the 64x64 one (four times as many blocks for mid-sized products).
inline GemmPlan plan_gemm(const GemmShapeDesc& s) {
  GemmPlan p;
  if (s.batch <= 0 || s.M <= 0 || s.N <= 0) return p;
  const int64_t macs = s.M * s.N * std::max<int64_t>(s.K, 1);
  if (s.elem_bytes != 4 || s.M < 32 || s.N < 32 || macs < int64_t(64) * 64 * 64) {
    p.kernel = GemmKernel::tiled;
    p.tile = 16;
  } else if (s.allow_tf32 && s.cc_major >= 8 && s.M >= 64 && s.N >= 64) {
    p.kernel = GemmKernel::tf32;
    p.tile = 128;
  } else {
    const int64_t big = ceil_div(s.M, 128) * ceil_div(s.N, 128) * s.batch;
    if (big >= 2 * int64_t(s.sm_count)) {
      p.kernel = GemmKernel::reg128;
      p.tile = 128;
    } else {
      p.kernel = GemmKernel::reg64;
      p.tile = 64;
    }
  }
  p.a_load = choose_load(s.a, s.batch, s.K, s.elem_bytes);
  p.b_load = choose_load(s.b, s.batch, s.K, s.elem_bytes);
  p.a_x_fast = x_is_fast(s.a, s.batch, s.K);
  p.b_x_fast = x_is_fast(s.b, s.batch, s.K);
  const int64_t c_rs = s.M <= 1 ? 0 : s.c_rs, c_bs = s.batch <= 1 ? 0 : s.c_bs;
  p.c_vec = s.elem_bytes == 4 && (s.c_cs == 1 || s.N == 1) && c_rs % 4 == 0 && c_bs % 4 == 0 &&
            s.c_addr % 16 == 0;
  p.tiles_m = ceil_div(s.M, p.tile);
  p.tiles_n = ceil_div(s.N, p.tile);
  p.grid_x = std::min(p.tiles_m * p.tiles_n, kMaxGridX);
  p.grid_z = std::min(s.batch, kMaxGridZ);
  return p;
}

// `plan` with another kernel (the lab and benchmarks compare versions on one shape): the tile
// and the geometry follow the kernel; loaders and C stores stay as planned.
inline GemmPlan with_kernel(GemmPlan plan, const GemmShapeDesc& s, GemmKernel kernel) {
  if (plan.kernel == GemmKernel::none) return plan;
  plan.kernel = kernel;
  plan.tile = kernel == GemmKernel::tiled ? 16 : kernel == GemmKernel::reg64 ? 64 : 128;
  plan.tiles_m = ceil_div(s.M, plan.tile);
  plan.tiles_n = ceil_div(s.N, plan.tile);
  plan.grid_x = std::min(plan.tiles_m * plan.tiles_n, kMaxGridX);
  return plan;
}

// Tile t of a tiles_m x tiles_n grid, in groups of kTileGroup tile rows walked column by column:
// blocks that run at the same time share a few rows of A and a few columns of B, so a large
// product reads each from L2 rather than DRAM. A bijection of [0, tiles_m * tiles_n).
SG_GEMM_HD inline void tile_coords(int64_t t, int64_t tiles_m, int64_t tiles_n, int64_t* tm,
                                   int64_t* tn) {
  const int64_t per_group = kTileGroup * tiles_n;
  const int64_t group = t / per_group, in_group = t - group * per_group;
  const int64_t first = group * kTileGroup;
  const int64_t rows = tiles_m - first < kTileGroup ? tiles_m - first : kTileGroup;
  *tm = first + in_group % rows;
  *tn = in_group / rows;
}

// Index maps shared by the kernels and the CPU tests (each must cover its tile exactly once).

// Quad `id` (thread + q * 256) of a BX x BK operand tile: its first element (x, k); along x it
// holds (x..x+3, k), along k (x, k..k+3).
SG_GEMM_HD inline void tile_quad(int id, int bx, int bk, bool along_x, int* x, int* k) {
  if (along_x) {
    *x = (id % (bx / 4)) * 4;
    *k = id / (bx / 4);
  } else {
    *x = id / (bk / 4);
    *k = (id % (bk / 4)) * 4;
  }
}

// Register-tiled kernels: row (or column) of the block tile held in register i of thread
// coordinate t (ty for rows, tx for columns): two strips of tm / 2, bm / 2 apart.
SG_GEMM_HD inline int reg_tile_pos(int bm, int tm, int t, int i) {
  const int h = tm / 2;
  return (i / h) * (bm / 2) + t * h + i % h;
}

// Tensor-core kernel: position in the 128 x 128 block tile of accumulator r of mma tile
// (mi, ni) held by `lane` of `warp` (8 warps as 2 x 4, each 64 x 32 as 4 x 4 m16n8 tiles;
// m16n8k8 C layout: c0 (g, 2t), c1 (g, 2t + 1), c2 (g + 8, 2t), c3 (g + 8, 2t + 1)).
SG_GEMM_HD inline void tf32_acc_pos(int warp, int lane, int mi, int ni, int r, int* row, int* col) {
  *row = (warp / 4) * 64 + mi * 16 + lane / 4 + 8 * (r / 2);
  *col = (warp % 4) * 32 + ni * 8 + 2 * (lane % 4) + r % 2;
}

// The batch dims of a bmm call, merged where all three operands allow: the innermost merged dim
// becomes the GEMM's batch (one stride per operand), the outer ones are walked by the host, one
// launch per index. Broadcast (stride-0) dims merge like any other when every operand agrees.
struct BatchFold {
  int64_t inner = 1;                     // problems per launch
  int64_t inner_stride[3] = {0, 0, 0};   // a, b, c
  std::vector<int64_t> outer_size;       // outer dims, outermost first
  std::vector<int64_t> outer_stride[3];  // per operand, same order
  int64_t launches() const {
    int64_t n = 1;
    for (int64_t s : outer_size) n *= s;
    return n;
  }
  // Element offsets of launch i (C order over outer dims).
  void offsets(int64_t i, int64_t (&off)[3]) const {
    off[0] = off[1] = off[2] = 0;
    for (int64_t d = static_cast<int64_t>(outer_size.size()) - 1; d >= 0; --d) {
      const int64_t r = i % outer_size[d];
      i /= outer_size[d];
      for (int k = 0; k < 3; ++k) off[k] += r * outer_stride[k][d];
    }
  }
};

// dims: the batch dim count; size: their sizes; strides[k]: operand k's strides for them.
inline BatchFold fold_batch(int dims, const int64_t* size, const int64_t* const strides[3]) {
  std::vector<int64_t> sz;
  std::vector<int64_t> st[3];
  for (int d = 0; d < dims; ++d) {
    if (size[d] == 1) continue;
    bool merge = !sz.empty();
    for (int k = 0; k < 3 && merge; ++k) merge = st[k].back() == strides[k][d] * size[d];
    if (merge) {
      sz.back() *= size[d];
      for (int k = 0; k < 3; ++k) st[k].back() = strides[k][d];
      continue;
    }
    sz.push_back(size[d]);
    for (int k = 0; k < 3; ++k) st[k].push_back(strides[k][d]);
  }
  BatchFold f;
  if (!sz.empty()) {
    f.inner = sz.back();
    for (int k = 0; k < 3; ++k) f.inner_stride[k] = st[k].back();
    sz.pop_back();
    for (int k = 0; k < 3; ++k) st[k].pop_back();
  }
  f.outer_size = std::move(sz);
  for (int k = 0; k < 3; ++k) f.outer_stride[k] = std::move(st[k]);
  return f;
}

}  // namespace stackgrad::kernels::gpu
