// The CUDA GEMM kernels (kernels/cuda/gemm_kernels.cuh) compiled as C++ and run on the CPU under
// tests/support/cuda_emulation.h: 256 std::threads per block, barriers for __syncthreads,
// mma.sync m16n8k8 TF32 and cvt.rna.tf32.f32 from their PTX definitions. Each case builds the
// plan as gemm.cu's run_gemm does (plan_gemm on the operands' real addresses and strides, a fake
// 132-SM compute-capability-9 device, with_kernel where a version is forced as
// gemm_with_kernel does), checks that the plan took the loaders the case is meant to reach, runs
// the kernel the launcher would pick and compares C with a double-precision
// C = alpha op(A) op(B) + beta C, op(.) taken from the strides.
//
// What can fail:
//   - an element of C not written (C is NaN-filled when beta == 0), or written outside the C view
//     (everything around the view holds a sentinel that must survive bit for bit);
//   - a read outside the operands (their padding, the elements no stride reaches, is NaN);
//   - a wrong value: the error of each element, scaled by what it sums,
//     |got - want| / (|alpha| sum_k |a_mk b_kn| + |beta c_mn|), must stay under the rounding
//     bound of the kernel's arithmetic: (K + 4) u with u = 2^-24 (f32, fmaf in order) or 2^-53
//     (f64). For TF32 the kernel's result is compared twice: with the reference on the inputs
//     rounded as cvt.rna.tf32.f32 rounds them (bound (K + 4) 2^-24: the accumulation in f32),
//     which checks that every value the tensor cores read is rounded and that the
//     fragments pair the right elements; and with the reference on the f32 inputs, bound
//     2^-10 + (K + 4) 2^-24: each TF32 input is within 2^-11 relative of its f32 value, so each
//     product within 2^-10 of its f32 value (a worst case: the sums of these shapes, of
//     uniform inputs, stay near 2^-12).
//
// Shapes are small (a few blocks per case: each block costs 256 thread switches per barrier);
// STACKGRAD_EMULATION=full adds larger ones:
//   STACKGRAD_EMULATION=full ./build/test_cuda_gemm_emulation
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/support/cuda_emulation.h"
// The kernels, compiled as C++ under the emulation above.
#include "kernels/cuda/gemm_kernels.cuh"

namespace {

using namespace stackgrad::kernels::gpu;
using namespace stackgrad::kernels::gpu::gemm_kernels;
namespace emu = stackgrad::testing::cuda_emulation;

constexpr GemmKernel kPlanned = GemmKernel::none;

struct Case {
  const char* name;
  bool f64;
  GemmKernel force;  // kPlanned: plan_gemm's choice
  GemmKernel expect;
  int64_t batch, M, N, K;
  bool a_t, b_t;          // A stored as [K, M] (column-major), B as [N, K]
  int64_t a_pad, b_pad;   // extra elements per stored row
  int64_t a_off, b_off;   // element offset of the base from a 64-byte boundary
  bool a_bcast, b_bcast;  // batch stride 0
  bool c_t;               // C stored column-major
  int64_t c_pad, c_off;
  double alpha, beta;
  bool tf32;
  TileLoad a_load, b_load;  // the loaders the plan must take
  bool c_vec;               // the plan's float4 C stores
  bool capped;              // one block in x and z: the kernels' grid-stride loops
  bool full_only;
  bool a_flip = false;  // A's rows (m) stored last to first: a negative stride along m
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// One operand or C in a buffer: logical [batch, R, S] at base + z * bs + r * rs + s * cs.
template <class T>
struct Strided {
  std::vector<T> buf;
  size_t base = 0;
  int64_t batch = 1, R = 0, S = 0, bs = 0, rs = 0, cs = 0;
  T* ptr() { return buf.data() + base; }
  const T* ptr() const { return buf.data() + base; }
  size_t index(int64_t z, int64_t r, int64_t s) const {
    return static_cast<size_t>(static_cast<int64_t>(base) + z * bs + r * rs + s * cs);
  }
};

// [batch, R, S] stored row-major ([R, S + pad]) or transposed ([S, R + pad]); the base sits
// `off` elements past a 64-byte boundary; batch stride 0 when broadcast; with flip_r, row r is
// stored where row R - 1 - r would be (a negative stride along R). Every element is `fill`.
template <class T>
Strided<T> make_strided(int64_t batch, int64_t R, int64_t S, bool trans, int64_t pad, int64_t off,
                        bool bcast, T fill, bool flip_r = false) {
  Strided<T> m;
  m.batch = batch, m.R = R, m.S = S;
  const int64_t ld = (trans ? R : S) + pad, rows = trans ? S : R;
  m.rs = trans ? 1 : ld;
  m.cs = trans ? ld : 1;
  const int64_t span = (rows * ld + 3) / 4 * 4;
  m.bs = bcast ? 0 : span;
  const int64_t stored = bcast ? 1 : batch;
  m.buf.assign(static_cast<size_t>(stored * span + off + 64), fill);
  size_t a = 0;
  while (reinterpret_cast<uintptr_t>(m.buf.data() + a) % 64 != 0) ++a;
  m.base = a + static_cast<size_t>(off);
  if (flip_r) {
    m.base += static_cast<size_t>((R - 1) * std::abs(m.rs));
    m.rs = -m.rs;
  }
  return m;
}

template <class T>
T quiet_nan() {
  return std::numeric_limits<T>::quiet_NaN();
}

template <class T>
struct Launch {
  template <TileLoad LA, TileLoad LB>
  static void f32(emu::Emulator& e, const GemmPlan& plan, dim3 grid, const GemmArgs<float>& g) {
    switch (plan.kernel) {
      case GemmKernel::reg64:
        return e.launch(grid, kBigThreads, [&] { sgemm_reg<64, 16, 4, LA, LB>(g); });
      case GemmKernel::reg128:
        return e.launch(grid, kBigThreads, [&] { sgemm_reg<128, 8, 8, LA, LB>(g); });
      case GemmKernel::tf32:
        return e.launch(grid, kBigThreads, [&] { sgemm_tf32<LA, LB>(g); });
      default:
        FAIL() << "not an f32 tile kernel";
    }
  }
  template <TileLoad LA>
  static void f32_b(emu::Emulator& e, const GemmPlan& plan, dim3 grid, const GemmArgs<float>& g) {
    switch (plan.b_load) {
      case TileLoad::vec_k:
        return f32<LA, TileLoad::vec_k>(e, plan, grid, g);
      case TileLoad::vec_x:
        return f32<LA, TileLoad::vec_x>(e, plan, grid, g);
      case TileLoad::scalar:
        return f32<LA, TileLoad::scalar>(e, plan, grid, g);
    }
  }
  // gemm.cu's launch(): the same kernel for the same plan.
  static void run(const GemmPlan& plan, dim3 grid, const GemmArgs<T>& g) {
    emu::Emulator e;
    if (plan.kernel == GemmKernel::tiled)
      return e.launch(grid, kSmall * kSmall, [&] { gemm_tiled<T>(g); });
    if constexpr (std::is_same_v<T, float>) {
      switch (plan.a_load) {
        case TileLoad::vec_k:
          return f32_b<TileLoad::vec_k>(e, plan, grid, g);
        case TileLoad::vec_x:
          return f32_b<TileLoad::vec_x>(e, plan, grid, g);
        case TileLoad::scalar:
          return f32_b<TileLoad::scalar>(e, plan, grid, g);
      }
    } else {
      FAIL() << "f64 runs the tiled kernel only";
    }
  }
};

double tf32_of(double x) { return sg_emulated_cvt_rna_tf32(static_cast<float>(x)); }

struct Errors {
  double worst = 0;      // scaled error against the reference on the values the kernel reads
  double worst_f32 = 0;  // TF32: against the reference on the f32 inputs
  int64_t bad = 0, bad_f32 = 0, clobbered = 0;
};

template <class T>
Errors run_case(const Case& c) {
  std::mt19937_64 rng(0x5eed + c.M * 131 + c.N * 7 + c.K);
  std::uniform_real_distribution<double> u(-1, 1);
  const T nan = quiet_nan<T>();
  Strided<T> A =
      make_strided<T>(c.batch, c.M, c.K, c.a_t, c.a_pad, c.a_off, c.a_bcast, nan, c.a_flip);
  Strided<T> B = make_strided<T>(c.batch, c.K, c.N, c.b_t, c.b_pad, c.b_off, c.b_bcast, nan);
  const T sentinel = T(-777.25);
  Strided<T> C = make_strided<T>(c.batch, c.M, c.N, c.c_t, c.c_pad, c.c_off, false, sentinel);
  for (int64_t z = 0; z < (c.a_bcast ? 1 : c.batch); ++z)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t k = 0; k < c.K; ++k) A.buf[A.index(z, m, k)] = static_cast<T>(u(rng));
  for (int64_t z = 0; z < (c.b_bcast ? 1 : c.batch); ++z)
    for (int64_t k = 0; k < c.K; ++k)
      for (int64_t n = 0; n < c.N; ++n) B.buf[B.index(z, k, n)] = static_cast<T>(u(rng));
  for (int64_t z = 0; z < c.batch; ++z)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n)
        C.buf[C.index(z, m, n)] = c.beta == 0 ? nan : static_cast<T>(u(rng));
  const std::vector<T> c0 = C.buf;

  // run_gemm: the shape as plan_gemm sees it.
  GemmShapeDesc s;
  s.batch = c.batch, s.M = c.M, s.N = c.N, s.K = c.K;
  s.a = OperandDesc{reinterpret_cast<uint64_t>(A.ptr()), A.bs, A.rs, A.cs, c.M};
  s.b = OperandDesc{reinterpret_cast<uint64_t>(B.ptr()), B.bs, B.cs, B.rs, c.N};
  s.c_addr = reinterpret_cast<uint64_t>(C.ptr());
  s.c_bs = C.bs, s.c_rs = C.rs, s.c_cs = C.cs;
  s.elem_bytes = sizeof(T);
  s.allow_tf32 = c.tf32;
  s.sm_count = 132;
  s.cc_major = 9;
  GemmPlan plan = plan_gemm(s);
  if (c.force != kPlanned) plan = with_kernel(plan, s, c.force);
  EXPECT_EQ(gemm_kernel_name(plan.kernel), std::string(gemm_kernel_name(c.expect)));
  if (plan.kernel != GemmKernel::tiled) {
    EXPECT_EQ(static_cast<int>(plan.a_load), static_cast<int>(c.a_load)) << "A's loader";
    EXPECT_EQ(static_cast<int>(plan.b_load), static_cast<int>(c.b_load)) << "B's loader";
    EXPECT_EQ(plan.c_vec, c.c_vec) << "C's float4 stores";
  }
  GemmArgs<T> g{};
  g.batch = c.batch, g.M = c.M, g.N = c.N, g.K = c.K;
  g.a = Operand<T>{A.ptr(), s.a.batch_stride, s.a.x_stride, s.a.k_stride, c.M, plan.a_x_fast};
  g.b = Operand<T>{B.ptr(), s.b.batch_stride, s.b.x_stride, s.b.k_stride, c.N, plan.b_x_fast};
  g.c = C.ptr();
  g.c_bs = C.bs, g.c_rs = C.rs, g.c_cs = C.cs;
  g.alpha = static_cast<T>(c.alpha);
  g.beta = static_cast<T>(c.beta);
  g.tiles_m = plan.tiles_m, g.tiles_n = plan.tiles_n;
  g.c_vec = plan.c_vec;
  dim3 grid{static_cast<unsigned>(plan.grid_x), 1, static_cast<unsigned>(plan.grid_z)};
  if (c.capped) grid = dim3{1, 1, 1};
  Launch<T>::run(plan, grid, g);

  const bool tf32 = plan.kernel == GemmKernel::tf32;
  const double unit = std::is_same_v<T, float> ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
  const double tol = (c.K + 4) * unit, tol_f32 = std::ldexp(1.0, -10) + (c.K + 4) * unit;
  Errors e;
  std::vector<bool> in_view(C.buf.size(), false);
  for (int64_t z = 0; z < c.batch; ++z)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n) {
        double sum = 0, sum_rounded = 0, mag = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          const double a = static_cast<double>(A.buf[A.index(c.a_bcast ? 0 : z, m, k)]);
          const double b = static_cast<double>(B.buf[B.index(c.b_bcast ? 0 : z, k, n)]);
          sum += a * b;
          if (tf32) sum_rounded += tf32_of(a) * tf32_of(b);
          mag += std::fabs(a * b);
        }
        const size_t i = C.index(z, m, n);
        in_view[i] = true;
        const double old = c.beta == 0 ? 0 : static_cast<double>(c0[i]);
        const double scale = std::fabs(c.alpha) * mag + std::fabs(c.beta * old) + 1e-30;
        const double want = c.alpha * (tf32 ? sum_rounded : sum) + c.beta * old;
        const double got = static_cast<double>(C.buf[i]);
        const double err = std::fabs(got - want) / scale;
        if (!(err <= tol)) {  // NaN too: an element never written
          if (e.bad++ < 5)
            ADD_FAILURE() << "C[" << z << ", " << m << ", " << n << "] = " << got << ", want "
                          << want << " (scaled error " << err << ", bound " << tol << ")";
        }
        e.worst = std::max(e.worst, std::isnan(err) ? INFINITY : err);
        if (tf32) {
          const double err_f32 = std::fabs(got - (c.alpha * sum + c.beta * old)) / scale;
          if (!(err_f32 <= tol_f32) && e.bad_f32++ < 5)
            ADD_FAILURE() << "C[" << z << ", " << m << ", " << n << "] = " << got
                          << ": TF32 scaled error against the f32 inputs " << err_f32 << ", bound "
                          << tol_f32;
          e.worst_f32 = std::max(e.worst_f32, err_f32);
        }
      }
  for (size_t i = 0; i < C.buf.size(); ++i)
    if (!in_view[i] && std::memcmp(&C.buf[i], &sentinel, sizeof(T)) != 0) ++e.clobbered;
  EXPECT_EQ(e.clobbered, 0) << "elements written outside the C view";
  EXPECT_EQ(e.bad, 0) << "elements of C off the reference (bound " << tol << ")";
  EXPECT_EQ(e.bad_f32, 0) << "TF32 elements off the f32 reference (bound " << tol_f32 << ")";
  return e;
}

std::vector<Case> cases() {
  using TL = TileLoad;
  const auto K_ = TL::vec_k, X_ = TL::vec_x, S_ = TL::scalar;
  const auto T_ = GemmKernel::tiled, R64 = GemmKernel::reg64, R128 = GemmKernel::reg128,
             TF = GemmKernel::tf32;
  // clang-format off
  return {
    // name                         f64   force     expect batch  M    N    K   a_t    b_t    apad bpad aoff boff abc    bbc    c_t    cpad coff alpha beta  tf32   aload bload cvec   capped full
    {"f64_tiled_nn_edges",          true, kPlanned, T_,    1,    37,  29,  23, false, false, 0,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.0,  false, S_,   S_,   false, false, false},
    {"f64_tiled_tt_batch_beta",     true, kPlanned, T_,    3,    19,  33,  17, true,  true,  2,   1,   1,   0,   false, true,  false, 3,   0,   -0.5, 0.75, false, S_,   S_,   false, false, false},
    {"f64_tiled_c_colmajor_capped", true, kPlanned, T_,    2,    21,  18,  40, false, true,  1,   0,   0,   0,   true,  false, true,  2,   0,   2.0,  0.0,  false, S_,   S_,   false, true,  false},
    {"f32_tiled_thin",              false, kPlanned, T_,   2,    24,  70,  19, false, false, 0,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.0,  false, K_,   S_,   false, false, false},
    {"f32_tiled_forced_tn_beta",    false, T_,      T_,    1,    40,  45,  33, true,  false, 0,   0,   0,   0,   false, false, false, 0,   0,   1.5,  -1.0, false, X_,   S_,   false, false, false},
    // reg64: A row-major (vec_k) x B row-major (vec_x); both transposed; unaligned (scalar).
    {"reg64_nn_vec",                false, R64,     R64,   1,    70,  68,  37, false, false, 3,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.0,  false, K_,   X_,   true,  false, false},
    {"reg64_tt_vec_beta",           false, R64,     R64,   2,    66,  72,  21, true,  true,  2,   3,   0,   0,   false, false, false, 4,   0,   0.5,  2.0,  false, X_,   K_,   true,  false, false},
    {"reg64_scalar_bcast",          false, R64,     R64,   2,    67,  65,  35, false, true,  0,   1,   1,   1,   false, true,  false, 1,   0,   1.0,  0.0,  false, S_,   S_,   false, false, false},
    {"reg64_scalar_rowB_ccol",      false, R64,     R64,   1,    72,  66,  18, true,  false, 1,   0,   0,   1,   false, false, true,  0,   0,   -1.0, 0.5,  false, S_,   S_,   false, false, false},
    // reg128.
    {"reg128_nn_vec",               false, R128,    R128,  1,    130, 136, 21, false, false, 3,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.0,  false, K_,   X_,   true,  false, false},
    {"reg128_tt_vec_beta_capped",   false, R128,    R128,  2,    129, 132, 13, true,  true,  3,   3,   0,   0,   true,  false, false, 0,   0,   1.0,  -0.5, false, X_,   K_,   true,  true,  false},
    {"reg128_scalar",               false, R128,    R128,  1,    131, 129, 19, false, false, 1,   1,   1,   0,   false, false, false, 1,   1,   2.0,  1.0,  false, S_,   S_,   false, false, false},
    // Planned reg64 (a mid-sized product) and reg128 (enough tiles for two waves on 132 SMs).
    {"planned_reg64",               false, kPlanned, R64,  1,    96,  80,  72, false, false, 0,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.0,  false, K_,   X_,   true,  false, false},
    {"planned_reg128",              false, kPlanned, R128, 264,  64,  64,  64, false, true,  0,   0,   0,   0,   false, true,  false, 0,   0,   1.0,  0.0,  false, K_,   K_,   true,  false, false},
    // tf32 (planned: allow_tf32, sm_90, both sides >= 64).
    {"tf32_nn_vec",                 false, kPlanned, TF,   1,    130, 72,  40, false, false, 0,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.0,  true , K_,   X_,   true,  false, false},
    {"tf32_tt_vec_beta",            false, kPlanned, TF,   2,    70,  129, 32, true,  true,  2,   0,   0,   0,   false, true,  false, 3,   0,   -1.0, 0.5,  true , X_,   K_,   true,  false, false},
    {"tf32_scalar_ccol",            false, kPlanned, TF,   1,    65,  66,  64, false, false, 1,   1,   3,   0,   false, false, true,  1,   0,   1.0,  0.0,  true , S_,   S_,   false, false, false},
    {"reg128_big",                  false, R128,    R128,  2,    300, 260, 100, false, true, 0,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.5,  false, K_,   K_,   true,  false, false},
    {"reg64_big",                   false, R64,     R64,   3,    200, 192, 77, true,  false, 0,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.0,  false, X_,   X_,   true,  false, false},
    // A with a negative row stride: float4 loads along k from rows walked backwards (vec_k), and
    // a -1 stride along m (scalar).
    {"reg64_neg_rows_vec",          false, R64,     R64,   2,    69,  66,  28, false, false, 0,   2,   0,   0,   false, false, false, 2,   0,   1.0,  0.0,  false, K_,   X_,   true,  false, false, true},
    {"tf32_neg_m_scalar",           false, kPlanned, TF,   1,    67,  70,  64, true,  true,  0,   0,   0,   0,   false, false, false, 2,   0,   1.0,  0.5,  true,  S_,   K_,   true,  false, false, true},
    {"f64_neg_rows",                true, kPlanned, T_,    2,    20,  17,  9,  false, false, 1,   0,   0,   0,   false, false, false, 0,   0,   1.0,  0.0,  false, S_,   S_,   false, false, false, true},
    {"full_tf32_big",               false, kPlanned, TF,   2,    260, 300, 150, false, false, 0,  0,   1,   0,   false, false, false, 0,   0,   1.0,  0.0,  true , S_,   X_,   true,  false, true},
    {"full_f64_big",                true, kPlanned, T_,    2,    150, 170, 90, true,  false, 0,   0,   0,   0,   false, false, false, 0,   0,   1.0,  1.0,  false, S_,   S_,   false, false, true},
  };
  // clang-format on
}

class CudaGemmEmulation : public ::testing::TestWithParam<Case> {};

TEST_P(CudaGemmEmulation, MatchesTheDoubleReference) {
  const Case& c = GetParam();
  const char* mode = std::getenv("STACKGRAD_EMULATION");
  if (c.full_only && !(mode && std::string(mode) == "full"))
    GTEST_SKIP() << "a larger configuration: STACKGRAD_EMULATION=full runs it";
  const Errors e = c.f64 ? run_case<double>(c) : run_case<float>(c);
  std::printf("  %-30s worst scaled error %.3g", c.name, e.worst);
  if (c.expect == GemmKernel::tf32) std::printf(" (against the f32 inputs %.3g)", e.worst_f32);
  std::printf("\n");
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaGemmEmulation, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.name);
                         });

// cvt.rna.tf32.f32 as emulated: nearest, ties away from zero (where round-to-even would differ),
// carry into the exponent, infinity on overflow, low 13 bits zero.
TEST(CudaGemmEmulation, Tf32RoundingIsNearestTiesAway) {
  const float one = 1.0f, ulp = std::ldexp(1.0f, -10), half = std::ldexp(1.0f, -11);
  EXPECT_EQ(sg_emulated_cvt_rna_tf32(one + half), one + ulp);  // tie: away (even would be 1)
  EXPECT_EQ(sg_emulated_cvt_rna_tf32(-(one + half)), -(one + ulp));
  EXPECT_EQ(sg_emulated_cvt_rna_tf32(std::nextafter(one + half, 0.f)), one);
  EXPECT_EQ(sg_emulated_cvt_rna_tf32(std::nextafter(one + half, 2.f)), one + ulp);
  EXPECT_EQ(sg_emulated_cvt_rna_tf32(std::nextafter(2.0f, 0.f)), 2.0f);  // mantissa carry
  EXPECT_EQ(sg_emulated_cvt_rna_tf32(std::numeric_limits<float>::max()), INFINITY);
  EXPECT_EQ(sg_emulated_cvt_rna_tf32(-INFINITY), -INFINITY);
  EXPECT_TRUE(std::isnan(sg_emulated_cvt_rna_tf32(NAN)));
  std::mt19937 r(3);
  for (int i = 0; i < 1000; ++i) {
    const float x = std::ldexp(std::uniform_real_distribution<float>(-1, 1)(r), i % 60 - 30);
    const float y = sg_emulated_cvt_rna_tf32(x);
    EXPECT_EQ(__float_as_uint(y) & 0x1fffu, 0u);
    EXPECT_LE(std::fabs(y - x), std::ldexp(std::fabs(x), -11));
  }
}

}  // namespace
