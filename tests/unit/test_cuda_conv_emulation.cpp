// The CUDA conv2d kernels (kernels/cuda/conv_kernels.cuh) compiled as C++ and run on the CPU
// under tests/support/cuda_emulation.h: 256 std::threads per block, barriers for __syncthreads,
// the split-K workspace and the outputs NaN until written (the kernels' shared memory is static,
// so the emulation does not reset it between blocks). Each case builds the plans exactly as
// kernels/cuda/conv.cu does (plan_conv, with the SM count of an H100, so that small grids split
// K), runs the kernels the way conv_launch.cuh launches them (the tiled kernel once per chunk of
// groups, then the split sum), and compares the forward pass, the input gradient and the weight
// gradient with a double-precision conv2d written from the definition, on the values the kernels
// read. f64 takes the direct kernels; f32 whatever the plan picks (the tiled implicit GEMM for
// most cases here, the direct kernels for thin ones), and on some cases also a tiled plan with a
// short K chunk (many splits, the last one short) and one group per launch, forced where the
// plan would take the direct kernels (one output column per group, a 1-channel image) too.
//
// The default cases are small (each block costs 256 thread switches per barrier, and the tiled
// kernel has one barrier per 8-deep step); STACKGRAD_EMULATION=full adds larger ones:
//   STACKGRAD_EMULATION=full ./build/test_cuda_conv_emulation
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/support/cuda_emulation.h"
// (included after the emulation: the kernels' CUDA built-ins come from it)
#include "kernels/cuda/conv_kernels.cuh"

namespace {

using namespace stackgrad::kernels::gpu;
using stackgrad::kernels::ConvShape;
namespace emu = stackgrad::testing::cuda_emulation;

constexpr int kH100Sms = 132;

struct Case {
  const char* name;
  int64_t N, C, H, W, O, KH, KW, Ho, Wo;  // Ho, Wo: 0 for the forward formula
  int64_t sh, sw, ph, pw, dh, dw, G;
  bool bias;
  bool f64;        // also the f64 (direct) kernels
  bool forced;     // also a tiled f32 plan with k_chunk 40 and one group per launch
  bool full_only;  // only under STACKGRAD_EMULATION=full
};

// gtest prints a failing case by its name.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

ConvShape shape_of(const Case& c) {
  const int64_t Ho = c.Ho ? c.Ho : (c.H + 2 * c.ph - c.dh * (c.KH - 1) - 1) / c.sh + 1;
  const int64_t Wo = c.Wo ? c.Wo : (c.W + 2 * c.pw - c.dw * (c.KW - 1) - 1) / c.sw + 1;
  const int64_t x[4] = {c.N, c.C, c.H, c.W}, w[4] = {c.O, c.C / c.G, c.KH, c.KW},
                y[4] = {c.N, c.O, Ho, Wo};
  return ConvShape(x, w, y, {c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.G});
}

// conv2d from its definition, in double: y = x ⋆ w + bias, and the two gradients as the adjoint
// sums over the same (n, o, i, j, c, p, q) terms (dx scattered, not gathered, so the index
// algebra is not the kernels').
struct Expected {
  std::vector<double> y, dx, dw;
};

Expected reference(const ConvShape& s, const std::vector<double>& x, const std::vector<double>& w,
                   const std::vector<double>* bias, const std::vector<double>& dy) {
  Expected r;
  r.y.assign(s.N * s.O * s.P, 0);
  r.dx.assign(s.N * s.C * s.H * s.W, 0);
  r.dw.assign(s.O * s.K, 0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o) {
      const int64_t g = o / s.Og;
      for (int64_t i = 0; i < s.Ho; ++i)
        for (int64_t j = 0; j < s.Wo; ++j) {
          const int64_t yi = ((n * s.O + o) * s.Ho + i) * s.Wo + j;
          double acc = bias ? (*bias)[o] : 0.0;
          for (int64_t c = 0; c < s.Cg; ++c)
            for (int64_t p = 0; p < s.KH; ++p)
              for (int64_t q = 0; q < s.KW; ++q) {
                const int64_t h = i * s.sh - s.ph + p * s.dh, v = j * s.sw - s.pw + q * s.dw;
                if (h < 0 || h >= s.H || v < 0 || v >= s.W) continue;
                const int64_t xi = ((n * s.C + g * s.Cg + c) * s.H + h) * s.W + v;
                const int64_t wi = ((o * s.Cg + c) * s.KH + p) * s.KW + q;
                acc += x[xi] * w[wi];
                r.dx[xi] += dy[yi] * w[wi];
                r.dw[wi] += dy[yi] * x[xi];
              }
          r.y[yi] = acc;
        }
    }
  return r;
}

// Largest |got - want| / (atol + rtol |want|); NaN (an element nobody wrote) counts as failure.
template <class T>
double worst(const std::vector<T>& got, const std::vector<double>& want, double rtol, double atol) {
  double w = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e =
        std::abs(static_cast<double>(got[i]) - want[i]) / (atol + rtol * std::abs(want[i]));
    if (!(e <= w)) w = e;
  }
  return w;
}

// loops.cuh's blocks_for (the direct kernels' and the split sum's grid).
int blocks_for(int64_t work) {
  return static_cast<int>(
      std::clamp<int64_t>((work + kConvDirectThreads - 1) / kConvDirectThreads, 1, int64_t(65536)));
}

template <class T>
std::vector<T> nans(int64_t n) {
  return std::vector<T>(static_cast<size_t>(n), std::numeric_limits<T>::quiet_NaN());
}

// conv_launch.cuh's launch_conv_tiled on the emulator, the workspace a NaN-filled host vector.
template <class Prob, bool kAFastM>
void launch_tiled(emu::Emulator& e, const Prob& prob, const ConvPlan& p, int64_t groups,
                  int64_t out_elems, int64_t plane, int64_t channels) {
  std::vector<float> ws = nans<float>(p.splits > 1 ? p.workspace_elems : 0);
  float* wsp = p.splits > 1 ? ws.data() : nullptr;
  for (int64_t g0 = 0; g0 < groups; g0 += p.groups_per_launch) {
    const int64_t gc = std::min(p.groups_per_launch, groups - g0);
    const dim3 grid{static_cast<unsigned>(p.m_tiles), static_cast<unsigned>(p.n_tiles),
                    static_cast<unsigned>(gc * p.splits)};
    e.launch(grid, kConvThreads, [&] {
      conv_igemm<Prob, kAFastM>(prob, p.gemm.M, p.gemm.N, p.gemm.K, p.k_chunk, p.splits, g0, wsp,
                                out_elems);
    });
  }
  if (wsp)
    e.launch(blocks_for(out_elems), kConvDirectThreads, [&] {
      conv_split_sum<float>(wsp, p.splits, out_elems, prob.bias, plane, channels, prob.out);
    });
}

// conv_launch.cuh's conv_forward_gpu, conv_input_grad_gpu and conv_weight_grad_gpu.
template <class T>
void forward(emu::Emulator& e, const ConvShape& s, const ConvPlan& p, const T* x, const T* w,
             const T* bias, T* y) {
  const int64_t total = s.N * s.O * s.P;
  if (total == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (p.kernel == ConvKernel::tiled) {
      launch_tiled<FwdProblem, true>(e, FwdProblem{conv_dev(s), x, w, bias, y}, p, s.G, total, s.P,
                                     s.O);
      return;
    }
  }
  e.launch(blocks_for(total), kConvDirectThreads,
           [&] { conv_fwd_direct<T>(conv_dev(s), x, w, bias, y); });
}

template <class T>
void input_grad(emu::Emulator& e, const ConvShape& s, const ConvPlan& p, const T* dy, const T* w,
                T* dx) {
  const int64_t total = s.N * s.C * s.H * s.W;
  if (total == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (p.kernel == ConvKernel::tiled) {
      launch_tiled<InputGradProblem, true>(e, InputGradProblem{conv_dev(s), dy, w, nullptr, dx}, p,
                                           s.G, total, 1, 1);
      return;
    }
  }
  e.launch(blocks_for(total), kConvDirectThreads,
           [&] { conv_input_grad_direct<T>(conv_dev(s), dy, w, dx); });
}

template <class T>
void weight_grad(emu::Emulator& e, const ConvShape& s, const ConvPlan& p, const T* dy, const T* x,
                 T* dw) {
  const int64_t total = s.O * s.K;
  if (total == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (p.kernel == ConvKernel::tiled) {
      launch_tiled<WeightGradProblem, false>(e, WeightGradProblem{conv_dev(s), dy, x, nullptr, dw},
                                             p, s.G, total, 1, 1);
      return;
    }
  }
  e.launch(std::min<int64_t>(total, 65536), kConvDirectThreads,
           [&] { conv_weight_grad_direct<T>(conv_dev(s), dy, x, dw); });
}

struct Inputs {
  std::vector<double> x, w, bias, dy;
};

std::vector<double> randn(int64_t n, std::mt19937_64& r) {
  std::normal_distribution<double> d;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v) e = d(r);
  return v;
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}
template <class T>
std::vector<double> widen(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

const char* kernel_name(const ConvPlan& p) {
  return p.kernel == ConvKernel::tiled ? (p.splits > 1 ? "tiled split" : "tiled") : "direct";
}

// Runs the three passes in type T under the three plans and checks them against the reference
// of the inputs as T holds them. Tolerances: relative rtol, absolute atol_unit · sqrt(sum
// length) (the outputs of unit-variance inputs grow like the root of the sum length).
template <class T>
void run_and_check(const Case& c, const ConvShape& s, const Inputs& in, const ConvPlan (&plans)[3],
                   const char* label) {
  SCOPED_TRACE(label);
  const std::vector<T> x = cast<T>(in.x), w = cast<T>(in.w), bias = cast<T>(in.bias),
                       dy = cast<T>(in.dy);
  const std::vector<double> bias64 = widen(bias);
  const Expected want = reference(s, widen(x), widen(w), c.bias ? &bias64 : nullptr, widen(dy));
  std::vector<T> y = nans<T>(s.N * s.O * s.P), dx = nans<T>(s.N * s.C * s.H * s.W),
                 dw = nans<T>(s.O * s.K);
  emu::Emulator e;
  forward<T>(e, s, plans[0], x.data(), w.data(), c.bias ? bias.data() : nullptr, y.data());
  input_grad<T>(e, s, plans[1], dy.data(), w.data(), dx.data());
  weight_grad<T>(e, s, plans[2], dy.data(), x.data(), dw.data());

  const bool f64 = std::is_same_v<T, double>;
  const double rtol = f64 ? 1e-12 : 1e-4, unit = f64 ? 1e-13 : 1e-5;
  auto atol = [&](int64_t len) {
    return unit * std::sqrt(static_cast<double>(std::max<int64_t>(len, 1)));
  };
  const double ey = worst(y, want.y, rtol, atol(s.K + 1));
  const double ex = worst(dx, want.dx, rtol, atol(s.Og * s.KH * s.KW));
  const double ew = worst(dw, want.dw, rtol, atol(s.N * s.P));
  std::printf("  %-40s %-18s y %-8.3g (%s) dx %-8.3g (%s) dw %-8.3g (%s)\n", c.name, label, ey,
              kernel_name(plans[0]), ex, kernel_name(plans[1]), ew, kernel_name(plans[2]));
  EXPECT_LE(ey, 1.0) << "forward";
  EXPECT_LE(ex, 1.0) << "input gradient";
  EXPECT_LE(ew, 1.0) << "weight gradient";
}

// A tiled plan with a short K chunk (many splits, the last one short when K % 40 != 0) and one
// group per launch (the launcher's group loop and group0 > 0), whatever plan_conv would pick.
ConvPlan forced_plan(ConvPass pass, const ConvShape& s) {
  ConvPlan p = plan_tiled(pass, s, kH100Sms);
  p.k_chunk = 40;
  p.splits = std::max<int64_t>(ceil_div(p.gemm.K, p.k_chunk), 1);
  const int64_t out = pass == ConvPass::forward      ? s.N * s.O * s.P
                      : pass == ConvPass::input_grad ? s.N * s.C * s.H * s.W
                                                     : s.O * s.K;
  p.workspace_elems = p.splits > 1 ? p.splits * out : 0;
  p.groups_per_launch = 1;
  return p;
}

const std::vector<Case>& cases() {
  // clang-format off
  static const std::vector<Case> all = {
      // name, N, C, H, W, O, KH, KW, Ho, Wo, sh, sw, ph, pw, dh, dw, G, bias, f64, forced, full_only
      // M, N, K ragged against 128 / 64 / 8 in all three passes (K = 189, 630, 242), two tiles
      // along N (O = 70), and the input gradient split in two by the H100 plan.
      {"ragged 3x3 pad 1 bias", 2, 21, 11, 11, 70, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1, 1, true, false, false, false},
      {"stride 2 dilation 2 pad 2x1 groups 2", 4, 32, 13, 13, 36, 3, 3, 0, 0, 2, 2, 2, 1, 2, 2, 2, true, false, true, false},
      // The H100 plan splits K in two for the forward pass and the weight gradient (K = 576).
      {"split-K 64 channels 12x12", 4, 64, 12, 12, 16, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1, 1, false, false, false, false},
      // conv_transpose2d(stride 3, pad 1, output_padding 2)'s input gradient: dx is 18x18 for a
      // 6x6 dy, its last two rows and columns reached by no tap.
      {"N=1 stride 3 output_padding 2", 1, 16, 18, 18, 20, 3, 3, 6, 6, 3, 3, 1, 1, 1, 1, 1, false, false, false, false},
      {"depthwise 3 channels bias", 2, 3, 9, 9, 3, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1, 3, true, true, true, false},
      {"1 channel 5x3 stride 2x1 dilation 1x2", 2, 1, 9, 8, 4, 5, 3, 0, 0, 2, 1, 2, 1, 1, 2, 1, true, false, true, false},
      {"small groups 2 stride 2 dilation 2", 1, 4, 7, 8, 4, 3, 2, 0, 0, 2, 2, 1, 2, 2, 2, 2, true, true, false, false},
      {"empty batch", 0, 2, 5, 5, 2, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1, 1, true, true, false, false},
      {"1x1 pointwise 128 -> 80", 2, 128, 10, 10, 80, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, true, false, true, true},
      {"5x5 pad 2 groups 4 stride 2", 2, 64, 17, 15, 96, 5, 5, 0, 0, 2, 2, 2, 2, 1, 1, 4, true, false, true, true},
      {"UNet-like 64 -> 64 24x24", 2, 64, 24, 24, 64, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1, 1, true, false, false, true},
      {"f64 ragged 3x3", 2, 5, 7, 6, 7, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1, 1, true, true, false, true},
  };
  // clang-format on
  return all;
}

class CudaConvEmulation : public ::testing::TestWithParam<Case> {};

TEST_P(CudaConvEmulation, MatchesTheDoubleReference) {
  const Case& c = GetParam();
  const char* mode = std::getenv("STACKGRAD_EMULATION");
  const bool full = mode && std::string(mode) == "full";
  if (c.full_only && !full) GTEST_SKIP() << "a larger case: STACKGRAD_EMULATION=full runs it";
  const ConvShape s = shape_of(c);
  std::mt19937_64 r(7);
  Inputs in;
  in.x = randn(s.N * s.C * s.H * s.W, r);
  in.w = randn(s.O * s.K, r);
  in.bias = randn(s.O, r);
  in.dy = randn(s.N * s.O * s.P, r);

  const ConvPass passes[3] = {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad};
  ConvPlan f32[3], f64[3];
  for (int i = 0; i < 3; ++i) {
    f32[i] = plan_conv(passes[i], s, true, kH100Sms);
    f64[i] = plan_conv(passes[i], s, false, kH100Sms);
    ASSERT_EQ(f64[i].kernel, ConvKernel::direct);
  }
  run_and_check<float>(c, s, in, f32, "f32 plan");
  if (c.forced) {
    ConvPlan forced[3];
    for (int i = 0; i < 3; ++i) {
      forced[i] = forced_plan(passes[i], s);
      ASSERT_TRUE(forced[i].splits > 1 || forced[i].gemm.K <= 40);
    }
    run_and_check<float>(c, s, in, forced, "f32 forced tiled");
  }
  if (c.f64) run_and_check<double>(c, s, in, f64, "f64 plan");
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string s;
  for (const char* p = info.param.name; *p; ++p)
    s += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaConvEmulation, ::testing::ValuesIn(cases()), case_name);

// The plans above reach the paths they are meant to: tiled in all three passes, the H100 plan's
// K split, more than one group, and the direct kernels in f32.
TEST(CudaConvEmulationCases, ReachTheirPaths) {
  auto plan = [](const char* name, ConvPass pass) {
    for (const Case& c : cases())
      if (std::string(c.name) == name) return plan_conv(pass, shape_of(c), true, kH100Sms);
    ADD_FAILURE() << name;
    return ConvPlan{};
  };
  for (ConvPass pass : {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad}) {
    EXPECT_EQ(plan("ragged 3x3 pad 1 bias", pass).kernel, ConvKernel::tiled);
    EXPECT_EQ(plan("stride 2 dilation 2 pad 2x1 groups 2", pass).kernel, ConvKernel::tiled);
    EXPECT_EQ(plan("depthwise 3 channels bias", pass).kernel, ConvKernel::direct);
    // The full-only cases stay off the direct weight gradient (one block per weight element).
    EXPECT_EQ(plan("1x1 pointwise 128 -> 80", pass).kernel, ConvKernel::tiled);
    EXPECT_EQ(plan("5x5 pad 2 groups 4 stride 2", pass).kernel, ConvKernel::tiled);
    EXPECT_EQ(plan("UNet-like 64 -> 64 24x24", pass).kernel, ConvKernel::tiled);
  }
  EXPECT_EQ(plan("N=1 stride 3 output_padding 2", ConvPass::forward).kernel, ConvKernel::direct);
  EXPECT_EQ(plan("N=1 stride 3 output_padding 2", ConvPass::input_grad).kernel, ConvKernel::tiled);
  EXPECT_EQ(plan("N=1 stride 3 output_padding 2", ConvPass::weight_grad).kernel, ConvKernel::tiled);
  EXPECT_GT(plan("ragged 3x3 pad 1 bias", ConvPass::forward).n_tiles, 1);
  EXPECT_GT(plan("ragged 3x3 pad 1 bias", ConvPass::input_grad).splits, 1);
  EXPECT_GT(plan("split-K 64 channels 12x12", ConvPass::forward).splits, 1);
  EXPECT_GT(plan("split-K 64 channels 12x12", ConvPass::weight_grad).splits, 1);
}

}  // namespace
