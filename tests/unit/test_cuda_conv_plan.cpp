// The host side of the CUDA conv kernels, checked without a GPU: the plans of
// kernels/cuda/conv_plan.h (kernel choice, grid, K split, workspace) and the index maps of
// kernels/cuda/conv_gather.h, which the tiled kernel calls on the device. The maps run here
// through an emulation of conv_igemm's block loop (the same thread roles, tiles, K ranges,
// sentinels and split sum, minus the double buffering) and must reproduce direct conv loops.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/conv_gather.h"
#include "kernels/cuda/conv_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

// A conv problem: input [N, C, H, W], weight [O, C/G, kh, kw], the output size from the
// geometry (or given, for conv_transpose2d-style larger inputs).
ConvShape make_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t kh, int64_t kw,
                     std::vector<int64_t> attrs /* sh sw ph pw dh dw G */) {
  const int64_t ho = (H + 2 * attrs[2] - attrs[4] * (kh - 1) - 1) / attrs[0] + 1;
  const int64_t wo = (W + 2 * attrs[3] - attrs[5] * (kw - 1) - 1) / attrs[1] + 1;
  const int64_t xs[4] = {N, C, H, W}, ws[4] = {O, C / attrs[6], kh, kw}, ys[4] = {N, O, ho, wo};
  return ConvShape(xs, ws, ys, attrs);
}

constexpr int kH100Sms = 132;

TEST(CudaConvPlan, GemmViewsOfThePasses) {
  // [2, 6, 9, 7] * [4, 3, 3, 2], groups 2, stride {2, 1}, pad {1, 0}, dilation {1, 2}.
  const ConvShape s = make_shape(2, 6, 9, 7, 4, 3, 2, {2, 1, 1, 0, 1, 2, 2});
  ASSERT_EQ(s.Ho, 5);
  ASSERT_EQ(s.Wo, 5);
  const ConvGemm f = conv_gemm(ConvPass::forward, s);
  EXPECT_EQ(f.M, 2 * 5 * 5);
  EXPECT_EQ(f.N, 2);
  EXPECT_EQ(f.K, 3 * 3 * 2);
  const ConvGemm in = conv_gemm(ConvPass::input_grad, s);
  EXPECT_EQ(in.M, 2 * 9 * 7);
  EXPECT_EQ(in.N, 3);
  EXPECT_EQ(in.K, 2 * 3 * 2);
  const ConvGemm wg = conv_gemm(ConvPass::weight_grad, s);
  EXPECT_EQ(wg.M, 3 * 3 * 2);
  EXPECT_EQ(wg.N, 2);
  EXPECT_EQ(wg.K, 2 * 5 * 5);
}

TEST(CudaConvPlan, KernelChoice) {
  // The UNet layer 64 -> 64 at 32x32, batch 16: tiled for every pass in f32, direct in f64.
  const ConvShape s = make_shape(16, 64, 32, 32, 64, 3, 3, {1, 1, 1, 1, 1, 1, 1});
  for (ConvPass pass : {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad}) {
    EXPECT_EQ(plan_conv(pass, s, true, kH100Sms).kernel, ConvKernel::tiled);
    EXPECT_EQ(plan_conv(pass, s, false, kH100Sms).kernel, ConvKernel::direct);
  }
  // One input channel (the first UNet layer): K = 9 forward, N = 1 for the input gradient,
  // M = 9 for the weight gradient: each is too thin for a 128 x 64 x 8 tile.
  const ConvShape first = make_shape(64, 1, 28, 28, 32, 3, 3, {1, 1, 1, 1, 1, 1, 1});
  for (ConvPass pass : {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad})
    EXPECT_EQ(plan_conv(pass, first, true, kH100Sms).kernel, ConvKernel::direct);
  // Depthwise: Og = Cg = 1.
  const ConvShape dw = make_shape(8, 32, 16, 16, 32, 3, 3, {1, 1, 1, 1, 1, 1, 32});
  for (ConvPass pass : {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad})
    EXPECT_EQ(plan_conv(pass, dw, true, kH100Sms).kernel, ConvKernel::direct);
  // An empty batch never reaches the tiled kernel (its weight-gradient K is 0).
  const ConvShape empty = make_shape(0, 64, 8, 8, 64, 3, 3, {1, 1, 1, 1, 1, 1, 1});
  for (ConvPass pass : {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad})
    EXPECT_EQ(plan_conv(pass, empty, true, kH100Sms).kernel, ConvKernel::direct);
}

TEST(CudaConvPlan, SplitsOnlyWhenTheGridIsSmallAndKIsLong) {
  // Forward 64 -> 64, batch 16 at 32x32: 128 x 1 tiles on 132 SMs want ceil(264 / 128) = 3
  // splits, but K = 576 holds only two runs of 256.
  const ConvShape s = make_shape(16, 64, 32, 32, 64, 3, 3, {1, 1, 1, 1, 1, 1, 1});
  const ConvPlan f = plan_conv(ConvPass::forward, s, true, kH100Sms);
  EXPECT_EQ(f.m_tiles, 128);
  EXPECT_EQ(f.n_tiles, 1);
  EXPECT_EQ(f.splits, 2);
  EXPECT_EQ(f.k_chunk, 288);
  EXPECT_EQ(f.workspace_elems, 2 * 16 * 64 * 32 * 32);
  // With enough SMs busy (or a slow split) nothing splits.
  EXPECT_EQ(plan_conv(ConvPass::forward, s, true, 64).splits, 1);
  // Its weight gradient: M = 576 (5 tiles), N = 64 (1 tile), K = 16384: 5 blocks want
  // ceil(264 / 5) = 53 splits: chunks of ceil(16384 / 53) = 310, rounded up to 312.
  const ConvPlan w = plan_conv(ConvPass::weight_grad, s, true, kH100Sms);
  EXPECT_EQ(w.m_tiles, 5);
  EXPECT_EQ(w.n_tiles, 1);
  EXPECT_EQ(w.splits, 53);
  EXPECT_EQ(w.k_chunk, 312);
  EXPECT_EQ(w.workspace_elems, 53 * 64 * 576);
  // Batch 32, 256 -> 256 at 32x32: forward has 256 x 4 = 1024 blocks, no split.
  const ConvShape big = make_shape(32, 256, 32, 32, 256, 3, 3, {1, 1, 1, 1, 1, 1, 1});
  EXPECT_EQ(plan_conv(ConvPass::forward, big, true, kH100Sms).splits, 1);
  const ConvPlan bw = plan_conv(ConvPass::weight_grad, big, true, kH100Sms);
  EXPECT_EQ(bw.m_tiles, 18);  // 2304 / 128
  EXPECT_EQ(bw.n_tiles, 4);
  EXPECT_EQ(bw.splits, 4);  // 72 blocks -> ceil(264 / 72) = 4
  EXPECT_EQ(bw.k_chunk, 8192);
  // A long K that cannot be cut: 64 splits at most.
  const ConvShape tall = make_shape(512, 16, 32, 32, 16, 3, 3, {1, 1, 1, 1, 1, 1, 1});
  EXPECT_EQ(plan_conv(ConvPass::weight_grad, tall, true, kH100Sms).splits, kMaxSplits);
}

TEST(CudaConvPlan, SplitInvariantsOverManyShapes) {
  std::mt19937_64 rng(7);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  int tiled = 0, split = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int64_t G = pick(0, 3) == 0 ? pick(1, 4) : 1;
    const int64_t C = G * pick(1, 80), O = G * pick(1, 80), k = pick(1, 5);
    const int64_t H = pick(k, 70), W = pick(k, 70), N = pick(1, 40);
    const ConvShape s = make_shape(N, C, H, W, O, k, k, {pick(1, 2), 1, pick(0, 2), 1, 1, 1, G});
    const int sms = static_cast<int>(pick(1, 200));
    for (ConvPass pass : {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad}) {
      const ConvPlan p = plan_conv(pass, s, true, sms);
      if (p.kernel == ConvKernel::direct) continue;
      ++tiled;
      split += p.splits > 1;
      const ConvGemm& g = p.gemm;
      EXPECT_GE(p.m_tiles * kConvTileM, g.M);
      EXPECT_LT((p.m_tiles - 1) * kConvTileM, g.M);
      EXPECT_GE(p.n_tiles * kConvTileN, g.N);
      EXPECT_LT((p.n_tiles - 1) * kConvTileN, g.N);
      EXPECT_EQ(p.k_chunk % kConvTileK, 0);
      EXPECT_GE(p.splits * p.k_chunk, g.K);        // the splits cover K ...
      EXPECT_LT((p.splits - 1) * p.k_chunk, g.K);  // ... and none is empty
      EXPECT_LE(p.splits, kMaxSplits);
      if (p.splits > 1) {
        EXPECT_GE(p.k_chunk, kMinSplitK);
        EXPECT_LT(p.m_tiles * p.n_tiles * s.G, 2 * sms);
        EXPECT_GT(p.workspace_elems, 0);
      } else {
        EXPECT_EQ(p.workspace_elems, 0);
      }
      EXPECT_LE(p.groups_per_launch * p.splits, kMaxGridYZ);
      EXPECT_GE(p.groups_per_launch, 1);
    }
  }
  EXPECT_GT(tiled, 1000);  // the sweep reaches the tiled kernel and its splits
  EXPECT_GT(split, 100);
}

TEST(CudaConvPlan, ManyGroupsAreLaunchedInChunksUnderTheGridLimit) {
  // 70000 groups of one channel with a long K: gridDim.z = groups · splits must stay <= 65535.
  const ConvShape s = make_shape(1, 70000, 1, 1, 70000, 1, 1, {1, 1, 0, 0, 1, 1, 70000});
  ConvPlan p = plan_conv(ConvPass::forward, s, true, kH100Sms);
  EXPECT_EQ(p.kernel, ConvKernel::direct);  // far too thin anyway
  const ConvShape wide = make_shape(1, 3 * 64, 40, 40, 3 * 64, 3, 3, {1, 1, 1, 1, 1, 1, 3});
  p = plan_conv(ConvPass::forward, wide, true, kH100Sms);
  ASSERT_EQ(p.kernel, ConvKernel::tiled);
  EXPECT_EQ(p.groups_per_launch, 3);
}

TEST(CudaConvPlan, ThreadRolesCoverTheTilesOnce) {
  for (bool fast_m : {true, false}) {
    std::vector<int> a(kConvTileK * kConvTileM, 0), b(kConvTileK * kConvTileN, 0);
    for (int t = 0; t < kConvThreads; ++t) {
      for (int i = 0; i < 4; ++i)
        ++a[a_depth_of(t, fast_m) * kConvTileM + a_row_of(t, fast_m) + 32 * i];
      for (int i = 0; i < 2; ++i) ++b[b_depth_of(t) * kConvTileN + b_col_of(t) + 32 * i];
    }
    for (int v : a) EXPECT_EQ(v, 1);
    for (int v : b) EXPECT_EQ(v, 1);
    // Shared-memory stores of one warp hit 32 distinct banks (rows padded by 4 floats).
    for (int warp = 0; warp < kConvThreads / 32; ++warp)
      for (int i = 0; i < 4; ++i) {
        std::vector<int> banks(32, 0);
        for (int lane = 0; lane < 32; ++lane) {
          const int t = warp * 32 + lane;
          ++banks[(a_depth_of(t, fast_m) * (kConvTileM + 4) + a_row_of(t, fast_m) + 32 * i) % 32];
        }
        for (int v : banks) EXPECT_EQ(v, 1);
      }
  }
  std::vector<int> c(kConvTileM * kConvTileN, 0);
  for (int t = 0; t < kConvThreads; ++t)
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 4; ++j) ++c[c_row_of(t, i) * kConvTileN + c_col_of(t, j)];
  for (int v : c) EXPECT_EQ(v, 1);
}

// --- the index maps through an emulation of conv_igemm ---

template <class Prob, bool kFastM>
void emulate_igemm(const Prob& prob, const ConvPlan& p, int64_t groups, int64_t out_elems) {
  const int64_t M = p.gemm.M, N = p.gemm.N, K = p.gemm.K, TM = kConvTileM, TN = kConvTileN,
                TK = kConvTileK;
  std::vector<float> ws(p.splits > 1 ? p.splits * out_elems : 0, 0.f);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t split = 0; split < p.splits; ++split)
      for (int64_t bx = 0; bx < p.m_tiles; ++bx)
        for (int64_t by = 0; by < p.n_tiles; ++by) {
          const int64_t m0 = bx * TM, n0 = by * TN, kb = split * p.k_chunk;
          const int64_t ke = std::min(K, kb + p.k_chunk);
          std::vector<float> acc(TM * TN, 0.f), As(TK * TM), Bs(TK * TN);
          for (int64_t k0 = kb; k0 < ke; k0 += TK) {
            for (int t = 0; t < kConvThreads; ++t) {
              const int akk = a_depth_of(t, kFastM), ar = a_row_of(t, kFastM);
              const auto ak = prob.a_k(g, k0 + akk, ke);
              for (int i = 0; i < 4; ++i)
                As[akk * TM + ar + 32 * i] = prob.a_load(prob.a_row(g, m0 + ar + 32 * i, M), ak);
              const auto bk = prob.b_k(g, k0 + b_depth_of(t), ke);
              for (int i = 0; i < 2; ++i)
                Bs[b_depth_of(t) * TN + b_col_of(t) + 32 * i] =
                    prob.b_load(prob.b_col(g, n0 + b_col_of(t) + 32 * i, N), bk);
            }
            for (int64_t kk = 0; kk < TK; ++kk)
              for (int64_t i = 0; i < TM; ++i)
                for (int64_t j = 0; j < TN; ++j)
                  acc[i * TN + j] += As[kk * TM + i] * Bs[kk * TN + j];
          }
          for (int64_t i = 0; i < TM; ++i)
            for (int64_t j = 0; j < TN; ++j) {
              if (m0 + i >= M || n0 + j >= N) continue;
              const int64_t idx = prob.out_index(g, m0 + i, n0 + j);
              ASSERT_GE(idx, 0);
              ASSERT_LT(idx, out_elems);
              if (p.splits == 1)
                prob.out[idx] = prob.finish(g, n0 + j, acc[i * TN + j]);
              else
                ws[split * out_elems + idx] = acc[i * TN + j];
            }
        }
  if (p.splits > 1)  // conv_split_sum, bias handled by the caller's check
    for (int64_t e = 0; e < out_elems; ++e) {
      float s = 0.f;
      for (int64_t k = 0; k < p.splits; ++k) s += ws[k * out_elems + e];
      prob.out[e] = s;
    }
}

struct Case {
  const char* name;
  int64_t N, C, H, W, O, kh, kw;
  std::vector<int64_t> attrs;  // sh sw ph pw dh dw G
};

// Direct loops in double (kernels/reference/conv.cpp's formulas).
struct Direct {
  const ConvShape& s;
  const std::vector<float>& x;
  const std::vector<float>& w;
  const std::vector<float>& dy;
  std::vector<double> y, dx, dw;
  void run() {
    y.assign(s.N * s.O * s.P, 0.0);
    dx.assign(s.N * s.C * s.H * s.W, 0.0);
    dw.assign(s.O * s.K, 0.0);
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t o = 0; o < s.O; ++o)
        for (int64_t i = 0; i < s.Ho; ++i)
          for (int64_t j = 0; j < s.Wo; ++j)
            for (int64_t c = 0; c < s.Cg; ++c)
              for (int64_t p = 0; p < s.KH; ++p)
                for (int64_t q = 0; q < s.KW; ++q) {
                  const int64_t h = i * s.sh - s.ph + p * s.dh, v = j * s.sw - s.pw + q * s.dw;
                  if (h < 0 || h >= s.H || v < 0 || v >= s.W) continue;
                  const int64_t ch = (o / s.Og) * s.Cg + c;
                  const int64_t xi = ((n * s.C + ch) * s.H + h) * s.W + v;
                  const int64_t wi = ((o * s.Cg + c) * s.KH + p) * s.KW + q;
                  const int64_t yi = ((n * s.O + o) * s.Ho + i) * s.Wo + j;
                  y[yi] += double(x[xi]) * w[wi];
                  dx[xi] += double(dy[yi]) * w[wi];
                  dw[wi] += double(dy[yi]) * x[xi];
                }
  }
};

void expect_close(const std::vector<float>& got, const std::vector<double>& want, const char* what,
                  const char* name) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t e = 0; e < got.size(); ++e)
    ASSERT_NEAR(got[e], want[e], 1e-4 * (1 + std::abs(want[e])))
        << what << " of " << name << " at " << e;
}

TEST(CudaConvPlan, EmulatedTiledKernelMatchesDirectLoops) {
  const std::vector<Case> cases = {
      {"3x3 pad 1", 2, 5, 9, 11, 7, 3, 3, {1, 1, 1, 1, 1, 1, 1}},
      {"stride 2 odd", 3, 4, 9, 7, 6, 3, 3, {2, 2, 1, 1, 1, 1, 1}},
      {"stride {2,3} dilation {2,1} pad {2,0}", 2, 6, 11, 13, 5, 3, 2, {2, 3, 2, 0, 2, 1, 1}},
      {"groups 3", 2, 9, 8, 6, 6, 2, 3, {1, 2, 1, 1, 1, 2, 3}},
      {"multi-tile", 3, 70, 9, 10, 80, 3, 3, {1, 1, 1, 1, 1, 1, 1}},
      {"long K (splits)", 2, 14, 24, 24, 16, 3, 3, {1, 1, 1, 1, 1, 1, 1}},
  };
  std::mt19937_64 rng(11);
  std::normal_distribution<float> nd;
  for (const Case& cs : cases) {
    const ConvShape s = make_shape(cs.N, cs.C, cs.H, cs.W, cs.O, cs.kh, cs.kw, cs.attrs);
    std::vector<float> x(s.N * s.C * s.H * s.W), w(s.O * s.K), dy(s.N * s.O * s.P), bias(s.O);
    for (auto* v : {&x, &w, &dy, &bias})
      for (float& e : *v) e = nd(rng);
    Direct ref{s, x, w, dy, {}, {}, {}};
    ref.run();
    const ConvDev d = conv_dev(s);
    // Small sm counts force splits where K allows; 1000 SMs never split.
    for (int sms : {1, 1000}) {
      // The tiled path even where plan_conv would take the direct one.
      auto plan = [&](ConvPass pass) { return plan_tiled(pass, s, sms); };
      std::vector<float> y(ref.y.size()), dx(ref.dx.size()), dw(ref.dw.size());
      std::vector<double> yb = ref.y;
      const ConvPlan pf = plan(ConvPass::forward);
      emulate_igemm<FwdProblem, true>(
          FwdProblem{d, x.data(), w.data(), pf.splits > 1 ? nullptr : bias.data(), y.data()}, pf,
          s.G, y.size());
      for (size_t e = 0; e < yb.size(); ++e) yb[e] += pf.splits > 1 ? 0.0 : bias[(e / s.P) % s.O];
      expect_close(y, yb, "forward", cs.name);
      const ConvPlan pi = plan(ConvPass::input_grad);
      emulate_igemm<InputGradProblem, true>(
          InputGradProblem{d, dy.data(), w.data(), nullptr, dx.data()}, pi, s.G, dx.size());
      expect_close(dx, ref.dx, "input grad", cs.name);
      const ConvPlan pw = plan(ConvPass::weight_grad);
      if (sms == 1 && cs.N * s.P >= 2 * kMinSplitK) {
        EXPECT_GT(pw.splits, 1) << cs.name;
      }
      emulate_igemm<WeightGradProblem, false>(
          WeightGradProblem{d, dy.data(), x.data(), nullptr, dw.data()}, pw, s.G, dw.size());
      expect_close(dw, ref.dw, "weight grad", cs.name);
    }
  }
}

// conv_transpose2d runs conv2d_backward_input with output_padding, and its gradients run
// conv2d and conv2d_backward_weight on that larger image: H, W exceed what Ho, Wo read (the
// kernels take Ho, Wo from dy, never from the forward formula). Rows and columns past the last
// window must get 0 in dx and add nothing to y or dw.
TEST(CudaConvPlan, EmulatedTiledKernelTakesImagesLargerThanTheOutputReads) {
  // [2, 6, 12, 11] with a 3x3 kernel, stride {2, 3}, pad {1, 0}, dilation {1, 2}, groups 2: the
  // formula gives 6 x 3; dy is 5 x 2, so the last rows and columns of x are never read.
  const int64_t xs[4] = {2, 6, 12, 11}, wsh[4] = {4, 3, 3, 3}, ys[4] = {2, 4, 5, 2};
  const ConvShape s(xs, wsh, ys, {2, 3, 1, 0, 1, 2, 2});
  std::mt19937_64 rng(5);
  std::normal_distribution<float> nd;
  std::vector<float> x(s.N * s.C * s.H * s.W), w(s.O * s.K), dy(s.N * s.O * s.P);
  for (auto* v : {&x, &w, &dy})
    for (float& e : *v) e = nd(rng);
  Direct ref{s, x, w, dy, {}, {}, {}};
  ref.run();
  const ConvDev d = conv_dev(s);
  for (int sms : {1, 1000}) {
    std::vector<float> y(ref.y.size()), dx(ref.dx.size(), 1.f), dw(ref.dw.size());
    emulate_igemm<FwdProblem, true>(FwdProblem{d, x.data(), w.data(), nullptr, y.data()},
                                    plan_tiled(ConvPass::forward, s, sms), s.G, y.size());
    expect_close(y, ref.y, "forward", "larger image");
    emulate_igemm<InputGradProblem, true>(
        InputGradProblem{d, dy.data(), w.data(), nullptr, dx.data()},
        plan_tiled(ConvPass::input_grad, s, sms), s.G, dx.size());
    expect_close(dx, ref.dx, "input grad", "larger image");
    emulate_igemm<WeightGradProblem, false>(
        WeightGradProblem{d, dy.data(), x.data(), nullptr, dw.data()},
        plan_tiled(ConvPass::weight_grad, s, sms), s.G, dw.size());
    expect_close(dw, ref.dw, "weight grad", "larger image");
  }
}

}  // namespace
}  // namespace stackgrad::kernels::gpu
