// The raw-pointer GEMM (kernels/cpu/gemm.h) on every microkernel path this CPU supports,
// against a plain triple loop in double: all transpose combinations, padded, stride-0
// (broadcast), negative and non-unit-column strides, accumulate on and off, sizes around the
// tile and block edges of every path, f32 and f64, batches; bit-identical results for any
// thread count; the ISA switch and its errors. Paths the CPU lacks are skipped (GTEST_SKIP).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/core/error.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_avx2.h"
#include "kernels/cpu/gemm_driver.h"

namespace {

using stackgrad::kernels::GemmIsa;
using stackgrad::kernels::GemmProblem;
namespace k = stackgrad::kernels;

// How an operand of `rows` x `cols` is laid out in memory.
enum class Layout { row, col, padded, broadcast_rows, negative_rows, strided };

// An operand in its own buffer: element (i, j) at ptr[i * rs + j * cs].
template <typename T>
struct Operand {
  std::vector<T> buf;
  T* ptr;
  int64_t rs, cs;
  T at(int64_t i, int64_t j) const { return ptr[i * rs + j * cs]; }
};

template <typename T>
Operand<T> make(int64_t rows, int64_t cols, Layout layout, std::mt19937_64& rng) {
  Operand<T> op;
  int64_t size = 0, origin = 0;
  switch (layout) {
    case Layout::row:
      op.rs = cols, op.cs = 1, size = rows * cols;
      break;
    case Layout::col:
      op.rs = 1, op.cs = rows, size = rows * cols;
      break;
    case Layout::padded:
      op.rs = cols + 3, op.cs = 1, size = rows * (cols + 3);
      break;
    case Layout::broadcast_rows:
      op.rs = 0, op.cs = 1, size = cols;
      break;
    case Layout::negative_rows:
      op.rs = -(cols + 1), op.cs = 1, size = rows * (cols + 1), origin = (rows - 1) * (cols + 1);
      break;
    case Layout::strided:
      op.rs = 2 * cols + 1, op.cs = 2, size = rows * (2 * cols + 1);
      break;
  }
  std::normal_distribution<double> dist;
  op.buf.resize(std::max<int64_t>(size, 1));
  for (auto& x : op.buf) x = static_cast<T>(dist(rng));
  op.ptr = op.buf.data() + origin;
  return op;
}

// Checks C (after gemm) against C0 (+) A·B summed in double, within a bound relative to the
// magnitudes summed (so it holds for any summation order).
template <typename T>
void expect_product(const Operand<T>& a, const Operand<T>& b, const Operand<T>& c0,
                    const Operand<T>& c, int64_t M, int64_t N, int64_t K, bool accumulate,
                    const std::string& what) {
  const double eps = sizeof(T) == 4 ? 1e-5 : 1e-13;
  int bad = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double ref = accumulate ? c0.at(i, j) : 0.0, mag = std::abs(ref);
      for (int64_t l = 0; l < K; ++l) {
        ref += double(a.at(i, l)) * double(b.at(l, j));
        mag += std::abs(double(a.at(i, l)) * double(b.at(l, j)));
      }
      if (std::abs(double(c.at(i, j)) - ref) > eps * (mag + 1) && bad++ < 3)
        ADD_FAILURE() << what << ": C(" << i << ", " << j << ") = " << c.at(i, j) << ", expected "
                      << ref;
    }
}

template <typename T>
void check(int64_t M, int64_t N, int64_t K, Layout la, Layout lb, bool accumulate,
           std::mt19937_64& rng, Layout lc = Layout::padded) {
  auto a = make<T>(M, K, la, rng), b = make<T>(K, N, lb, rng);
  auto c0 = make<T>(M, N, lc, rng);
  auto c = c0;
  c.ptr = c.buf.data() + (c0.ptr - c0.buf.data());
  k::gemm(GemmProblem<T>{M, N, K, a.ptr, a.rs, a.cs, b.ptr, b.rs, b.cs, c.ptr, c.rs, c.cs},
          accumulate);
  expect_product(a, b, c0, c, M, N, K, accumulate,
                 "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                     " layouts " + std::to_string(int(la)) + "," + std::to_string(int(lb)) + "," +
                     std::to_string(int(lc)) + (accumulate ? " accumulate" : ""));
}

class CpuGemm : public ::testing::TestWithParam<GemmIsa> {
 protected:
  void SetUp() override {
    if (!k::gemm_isa_supported(GetParam()))
      GTEST_SKIP() << "this CPU has no " << k::gemm_isa_name(GetParam());
    saved_ = k::gemm_isa();
    k::set_gemm_isa(GetParam());
  }
  void TearDown() override {
    if (k::gemm_isa_supported(GetParam())) k::set_gemm_isa(saved_);
  }
  GemmIsa saved_ = GemmIsa::portable;
};

// Sizes around every path's MR (4, 6, 12) and NR (4, 8, 16, 32), K = 0 and 1.
template <typename T>
void edge_sizes() {
  std::mt19937_64 rng(1);
  for (int64_t M : {1, 3, 5, 6, 7, 12, 13})
    for (int64_t N : {1, 2, 7, 8, 9, 15, 16, 17, 33})
      for (int64_t K : {0, 1, 5})
        for (Layout la : {Layout::row, Layout::col})
          for (Layout lb : {Layout::row, Layout::col})
            for (bool acc : {false, true}) check<T>(M, N, K, la, lb, acc, rng);
}

TEST_P(CpuGemm, EdgeSizesAllTransposesF32) { edge_sizes<float>(); }
TEST_P(CpuGemm, EdgeSizesAllTransposesF64) { edge_sizes<double>(); }

// Padded, broadcast (stride 0), negative and non-unit strides, for A, B and C; on a narrow C
// (A read in place) and a wide one (A packed).
template <typename T>
void strided() {
  std::mt19937_64 rng(2);
  const Layout all[] = {Layout::row,           Layout::col,
                        Layout::padded,        Layout::broadcast_rows,
                        Layout::negative_rows, Layout::strided};
  for (int64_t N : {9, 70})
    for (Layout la : all)
      for (Layout lb : all) check<T>(13, N, 11, la, lb, true, rng);
  for (Layout lc : {Layout::col, Layout::negative_rows, Layout::strided})
    for (bool acc : {false, true}) check<T>(13, 37, 11, Layout::row, Layout::row, acc, rng, lc);
}

TEST_P(CpuGemm, StridedBroadcastNegativeF32) { strided<float>(); }
TEST_P(CpuGemm, StridedBroadcastNegativeF64) { strided<double>(); }

// Several KC slices, MC blocks and NC panels, large enough to run on all threads.
template <typename T>
void blocks() {
  std::mt19937_64 rng(3);
  check<T>(150, 70, 300, Layout::row, Layout::row, false, rng);
  check<T>(150, 70, 300, Layout::col, Layout::col, true, rng);
  check<T>(301, 16, 200, Layout::row, Layout::row, true, rng);  // tall-skinny, A in place
  check<T>(301, 16, 200, Layout::col, Layout::row, false, rng);
  check<T>(7, 4100, 3, Layout::row, Layout::row, false, rng);  // past NC, split along N
}

TEST_P(CpuGemm, BlocksAndPanelsF32) { blocks<float>(); }
TEST_P(CpuGemm, BlocksAndPanelsF64) { blocks<double>(); }

// Narrow C with a transposed (column-major) A, as in a weight gradient dW = Xᵀ·dH: A packed,
// or the product computed as Cᵀ = Bᵀ·Aᵀ once M is wide. Odd sizes around MR / NR and the swap
// threshold (2 NR: 8 to 64 by path), several KC slices, C row-major, column-major and strided.
template <typename T>
void transposed_a_narrow_c() {
  std::mt19937_64 rng(7);
  for (int64_t M : {5, 16, 33, 65, 97, 150})
    for (int64_t N : {1, 7, 16, 17, 33})
      for (bool acc : {false, true}) {
        check<T>(M, N, 300, Layout::col, Layout::row, acc, rng);
        check<T>(M, N, 9, Layout::col, Layout::col, acc, rng);
      }
  for (Layout lc : {Layout::col, Layout::strided, Layout::negative_rows})
    check<T>(97, 16, 41, Layout::col, Layout::row, true, rng, lc);
  check<T>(97, 16, 41, Layout::strided, Layout::padded, false, rng);
  check<T>(16, 7, 271, Layout::col, Layout::row, true, rng);     // hiddenᵀ · dH of a GCN
  check<T>(143, 16, 271, Layout::col, Layout::row, false, rng);  // Xᵀ · dH, scaled down
}

TEST_P(CpuGemm, TransposedANarrowCF32) { transposed_a_narrow_c<float>(); }
TEST_P(CpuGemm, TransposedANarrowCF64) { transposed_a_narrow_c<double>(); }

// A batch: each entry its own operands, one of them shared (stride-0 batch).
template <typename T>
void batched(int64_t count, int64_t M, int64_t N, int64_t K) {
  std::mt19937_64 rng(4);
  std::vector<Operand<T>> as, cs, c0s;
  const auto b = make<T>(K, N, Layout::col, rng);
  std::vector<GemmProblem<T>> ps;
  for (int64_t e = 0; e < count; ++e) {
    as.push_back(make<T>(M, K, Layout::row, rng));
    c0s.push_back(make<T>(M, N, Layout::padded, rng));
  }
  cs = c0s;
  for (int64_t e = 0; e < count; ++e) {
    cs[e].ptr = cs[e].buf.data();
    ps.push_back(
        {M, N, K, as[e].ptr, as[e].rs, as[e].cs, b.ptr, b.rs, b.cs, cs[e].ptr, cs[e].rs, cs[e].cs});
  }
  k::gemm_batched<T>(ps, true);
  for (int64_t e = 0; e < count; ++e)
    expect_product(as[e], b, c0s[e], cs[e], M, N, K, true, "batch entry " + std::to_string(e));
}

TEST_P(CpuGemm, BatchedF32) {
  batched<float>(3, 70, 50, 90);  // fewer entries than a multiple of the threads: split too
  batched<float>(40, 5, 9, 7);
}
TEST_P(CpuGemm, BatchedF64) { batched<double>(3, 70, 50, 90); }

// A batch of transposed-A narrow products (each computed as Cᵀ = Bᵀ·Aᵀ).
TEST_P(CpuGemm, BatchedTransposedANarrowC) {
  std::mt19937_64 rng(8);
  const int64_t count = 3, M = 101, N = 16, K = 60;
  const auto b = make<float>(K, N, Layout::row, rng);
  std::vector<Operand<float>> as, c0s;
  for (int64_t e = 0; e < count; ++e) {
    as.push_back(make<float>(M, K, Layout::col, rng));
    c0s.push_back(make<float>(M, N, Layout::padded, rng));
  }
  auto cs = c0s;
  std::vector<GemmProblem<float>> ps;
  for (int64_t e = 0; e < count; ++e) {
    cs[e].ptr = cs[e].buf.data();
    ps.push_back(
        {M, N, K, as[e].ptr, as[e].rs, as[e].cs, b.ptr, b.rs, b.cs, cs[e].ptr, cs[e].rs, cs[e].cs});
  }
  k::gemm_batched<float>(ps, false);
  for (int64_t e = 0; e < count; ++e)
    expect_product(as[e], b, c0s[e], cs[e], M, N, K, false, "batch entry " + std::to_string(e));
}

// Tile boundaries and split points never change an element's summation order.
TEST_P(CpuGemm, BitIdenticalForAnyThreadCount) {
  std::mt19937_64 rng(5);
  for (auto [M, N, la] : {std::tuple{int64_t{203}, int64_t{150}, Layout::row},
                          std::tuple{int64_t{203}, int64_t{16}, Layout::col}}) {
    const int64_t K = 300;
    auto a = make<float>(M, K, la, rng), b = make<float>(K, N, Layout::row, rng);
    std::vector<float> first;
    const int saved = stackgrad::num_threads();
    for (int threads : {1, 2, 3}) {
      stackgrad::set_num_threads(threads);
      std::vector<float> c(M * N);
      k::gemm(GemmProblem<float>{M, N, K, a.ptr, a.rs, a.cs, b.ptr, b.rs, b.cs, c.data(), N, 1});
      if (first.empty())
        first = c;
      else
        EXPECT_EQ(c, first) << threads << " threads, N = " << N;
    }
    stackgrad::set_num_threads(saved);
  }
}

// The driver's two threading modes with tiny blocks (KC 16, MC 12, NC 32: several K slices, M
// blocks and N panels on small operands), which the library only reaches on large products:
// both match the reference and each other, bit for bit.
TEST(CpuGemmDriver, TeamAndPerThreadRectanglesWithTinyBlocks) {
  if (!k::gemm_isa_supported(GemmIsa::avx2)) GTEST_SKIP() << "this CPU has no avx2";
  using Tiny = k::gemm_detail::Avx2Kernel<k::gemm_detail::F32x8, 6, 16, 12, 32>;
  std::mt19937_64 rng(6);
  for (int64_t N : {20, 45, 70})
    for (Layout la : {Layout::row, Layout::col})
      for (bool acc : {false, true}) {
        const int64_t M = 37, K = 40;
        auto a = make<float>(M, K, la, rng), b = make<float>(K, N, Layout::row, rng);
        auto c0 = make<float>(M, N, Layout::padded, rng);
        auto team = c0, rect = c0;
        team.ptr = team.buf.data(), rect.ptr = rect.buf.data();
        auto problem = [&](Operand<float>& c) {
          return GemmProblem<float>{M, N, K, a.ptr, a.rs, a.cs, b.ptr, b.rs, b.cs, c.ptr, c.rs, 1};
        };
        k::gemm_detail::gemm_team<float, Tiny>(problem(team), 3, acc);
        k::gemm_detail::gemm_rect<float, Tiny>(problem(rect), 0, 20, 0, N, acc);
        k::gemm_detail::gemm_rect<float, Tiny>(problem(rect), 20, M, 0, N, acc);
        const std::string what = "N=" + std::to_string(N) + (acc ? " accumulate" : "");
        expect_product(a, b, c0, team, M, N, K, acc, "team " + what);
        EXPECT_EQ(team.buf, rect.buf) << what;
      }
}

INSTANTIATE_TEST_SUITE_P(Isa, CpuGemm,
                         ::testing::Values(GemmIsa::portable, GemmIsa::avx2, GemmIsa::avx512),
                         [](const auto& info) { return k::gemm_isa_name(info.param); });

TEST(CpuGemmIsa, DefaultIsTheWidestSupportedUnknownAndUnsupportedThrow) {
  const char* env = std::getenv("STACKGRAD_GEMM_ISA");
  if (!env || !*env) {
    const GemmIsa want = k::gemm_isa_supported(GemmIsa::avx512) ? GemmIsa::avx512
                         : k::gemm_isa_supported(GemmIsa::avx2) ? GemmIsa::avx2
                                                                : GemmIsa::portable;
    EXPECT_EQ(k::gemm_isa(), want);
  }
  EXPECT_TRUE(k::gemm_isa_supported(GemmIsa::portable));
  EXPECT_EQ(k::parse_gemm_isa("portable"), GemmIsa::portable);
  try {
    k::parse_gemm_isa("sse9");
    ADD_FAILURE() << "parse_gemm_isa(sse9) did not throw";
  } catch (const stackgrad::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "gemm: STACKGRAD_GEMM_ISA=sse9 is not one of portable, avx2, avx512");
  }
  if (!k::gemm_isa_supported(GemmIsa::avx512)) {
    try {
      k::set_gemm_isa(GemmIsa::avx512);
      ADD_FAILURE() << "set_gemm_isa(avx512) did not throw";
    } catch (const stackgrad::Error& e) {
      EXPECT_EQ(std::string(e.what()), "gemm: this CPU does not support the avx512 path");
    }
    try {
      k::parse_gemm_isa("avx512");
      ADD_FAILURE() << "parse_gemm_isa(avx512) did not throw";
    } catch (const stackgrad::Error& e) {
      EXPECT_EQ(std::string(e.what()),
                "gemm: STACKGRAD_GEMM_ISA=avx512 but this CPU does not support avx512");
    }
  }
}

}  // namespace
