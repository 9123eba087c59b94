// Host-side plans of the CUDA conv kernels (kernels/cuda/conv.cu): the GEMM view of each pass,
// the choice between the direct and the tiled implicit-GEMM kernel, the launch grid, the split
// of the reduction dimension and the workspace it needs. Plain C++ so that tests/unit/
// test_cuda_conv_plan.cpp checks it on machines without a GPU.
//
// GEMM views (per group g; Cg = C/G, Og = O/G, KK = kh·kw, P = Ho·Wo):
//   forward       M = N·Ho·Wo (n, i, j)   N = Og (o)   K = Cg·KK (c, p, q)
//   input grad    M = N·H·W   (n, h, v)   N = Cg (c)   K = Og·KK (o, p, q)
//   weight grad   M = Cg·KK   (c, p, q)   N = Og (o)   K = N·Ho·Wo (n, i, j)
// The weight gradient puts the filter taps on M (usually the longer side: Cg·9 against Og) and
// the batch on K, which is where it splits.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_im2col.h"

namespace stackgrad::kernels::gpu {

enum class ConvPass { forward, input_grad, weight_grad };
enum class ConvKernel { direct, tiled };

// The tiled kernel's block tile (M x N x K per step) and threads; each thread owns an 8 x 4
// register tile of the 128 x 64 block tile.
constexpr int64_t kConvTileM = 128, kConvTileN = 64, kConvTileK = 8;
constexpr int kConvThreads = 256;
// Grid dims y and z are limited to 65535 blocks.
constexpr int64_t kMaxGridYZ = 65535;
// Split K only while every split keeps at least this many K (32 tile steps): shorter splits
// spend more on writing and re-reading partial sums than they win in parallelism.
constexpr int64_t kMinSplitK = 256;
constexpr int64_t kMaxSplits = 64;
// The tiled kernel keeps spatial coordinates in int32 and marks out-of-range rows with
// offsets of -2^29; images and kernels must stay well inside that.
constexpr int64_t kMaxTiledCoord = int64_t(1) << 28;

struct ConvGemm {
  int64_t M = 0, N = 0, K = 0;
};

inline ConvGemm conv_gemm(ConvPass pass, const ConvShape& s) {
  switch (pass) {
    case ConvPass::forward:
      return {s.N * s.P, s.Og, s.K};
    case ConvPass::input_grad:
      return {s.N * s.H * s.W, s.Cg, s.Og * s.KH * s.KW};
    case ConvPass::weight_grad:
      return {s.K, s.Og, s.N * s.P};
  }
  return {};
}

struct ConvPlan {
  ConvKernel kernel = ConvKernel::direct;
  ConvGemm gemm;
  int64_t m_tiles = 0, n_tiles = 0;
  // K split into `splits` ranges of k_chunk (a multiple of kConvTileK; the last may be
  // shorter). splits > 1: partial sums go to a workspace of splits x output elements and a
  // second pass adds them in split order (no atomics, so the bits depend only on the shape).
  int64_t splits = 1, k_chunk = 0;
  int64_t workspace_elems = 0;
  // Groups per launch, so that gridDim.z = groups_per_launch · splits <= 65535.
  int64_t groups_per_launch = 1;
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Whether the tiled kernel's int32 coordinates cover the problem.
inline bool conv_coords_fit(const ConvShape& s) {
  const int64_t biggest = std::max({s.H, s.W, s.Ho * s.sh, s.Wo * s.sw, s.ph, s.pw,
                                    (s.KH - 1) * s.dh + 1, (s.KW - 1) * s.dw + 1});
  return biggest < kMaxTiledCoord;
}

// The tiled kernel pays for a 128 x 64 tile and 8-deep steps: it wins once the GEMM fills a
// good part of a tile in every dimension. Thin problems (depthwise, one input channel, tiny
// images) and f64 take the direct kernels.
inline bool conv_use_tiled(ConvPass pass, const ConvShape& s, bool f32) {
  if (!f32 || !conv_coords_fit(s)) return false;
  const ConvGemm g = conv_gemm(pass, s);
  return g.M >= 128 && g.N >= 16 && g.K >= 16;
}

// The tiled kernel's grid, K split and workspace for a pass, whether or not plan_conv would pick
// it (the lab and the tests force it). sm_count: the device's multiprocessors; the plan aims at
// two blocks per SM before it splits K.
inline ConvPlan plan_tiled(ConvPass pass, const ConvShape& s, int sm_count) {
  ConvPlan p;
  p.kernel = ConvKernel::tiled;
  p.gemm = conv_gemm(pass, s);
  p.m_tiles = ceil_div(p.gemm.M, kConvTileM);
  p.n_tiles = ceil_div(p.gemm.N, kConvTileN);
  const int64_t blocks = std::max<int64_t>(p.m_tiles * p.n_tiles * s.G, 1);
  const int64_t target = 2 * std::max(sm_count, 1);
  if (blocks < target)
    p.splits = std::clamp<int64_t>(std::min(ceil_div(target, blocks), p.gemm.K / kMinSplitK), 1,
                                   kMaxSplits);
  p.k_chunk = std::max<int64_t>(ceil_div(ceil_div(p.gemm.K, p.splits), kConvTileK) * kConvTileK,
                                kConvTileK);
  p.splits = std::max<int64_t>(ceil_div(p.gemm.K, p.k_chunk), 1);  // rounding up the chunk
                                                                   // can leave fewer splits
  const int64_t out_elems = pass == ConvPass::forward      ? s.N * s.O * s.P
                            : pass == ConvPass::input_grad ? s.N * s.C * s.H * s.W
                                                           : s.O * s.K;
  p.workspace_elems = p.splits > 1 ? p.splits * out_elems : 0;
  p.groups_per_launch = std::clamp<int64_t>(kMaxGridYZ / p.splits, 1, std::max<int64_t>(s.G, 1));
  return p;
}

// Whether a tiled plan's grid is launchable: n tiles on gridDim.y, groups x splits on gridDim.z.
inline bool conv_plan_launchable(const ConvPlan& p) {
  return p.n_tiles <= kMaxGridYZ && p.m_tiles <= 0x7fffffff &&
         p.groups_per_launch * p.splits <= kMaxGridYZ;
}

inline ConvPlan plan_conv(ConvPass pass, const ConvShape& s, bool f32, int sm_count) {
  if (conv_use_tiled(pass, s, f32)) {
    ConvPlan p = plan_tiled(pass, s, sm_count);
    if (conv_plan_launchable(p)) return p;
  }
  ConvPlan p;
  p.gemm = conv_gemm(pass, s);
  return p;
}

}  // namespace stackgrad::kernels::gpu
