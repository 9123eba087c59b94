// The half dtypes bf16 and f16: the bit conversions of engine/core/half.h (exhaustively, and
// against a plain nearest-value search), the dtype table and promotion, tensor casts and fills
// on the reference and CPU kernels (and on CUDA when a GPU is present), file I/O, and the clear
// error every op without a half kernel gives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "engine/dispatch/dispatch.h"
#include "engine/io/tensor_io.h"
#include "engine/runtime/cuda_context.h"
#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using testing::error_of;
using ::testing::HasSubstr;

float float_of_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint32_t bits_of_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// A format described by its field widths, decoded with ldexp and rounded by searching the sorted
// table of its values: independent of the bit tricks under test.
struct Format {
  int exp_bits, man_bits;
  int bias() const { return (1 << (exp_bits - 1)) - 1; }
  uint16_t max_finite() const {
    return static_cast<uint16_t>((((1 << exp_bits) - 1) << man_bits) - 1);
  }
  uint16_t inf() const { return static_cast<uint16_t>(max_finite() + 1); }
  uint16_t sign() const { return static_cast<uint16_t>(1u << (exp_bits + man_bits)); }
  double decode(uint16_t b) const {  // finite, positive or negative
    const int e = (b >> man_bits) & ((1 << exp_bits) - 1);
    const int m = b & ((1 << man_bits) - 1);
    const double mag = e == 0 ? std::ldexp(m, 1 - bias() - man_bits)
                              : std::ldexp((1 << man_bits) + m, e - bias() - man_bits);
    return (b & sign()) ? -mag : mag;
  }
  // The non-negative finite values in bit order (increasing), then the first value past them
  // (where inf stands in the table).
  const std::vector<double>& values() const {
    static std::vector<double> cache[2];
    std::vector<double>& t = cache[man_bits == 7 ? 0 : 1];
    if (t.empty()) {
      for (uint32_t b = 0; b <= max_finite(); ++b) t.push_back(decode(static_cast<uint16_t>(b)));
      t.push_back(t.back() + (t.back() - t[t.size() - 2]));
    }
    return t;
  }
  // Nearest value, ties to the even bit pattern; past the largest finite value by half an ulp
  // or more (the tie goes to the even pattern, inf) gives inf.
  uint16_t round(double x) const {
    const uint16_t s = std::signbit(x) ? sign() : 0;
    const double a = std::fabs(x);
    const std::vector<double>& table = values();
    const size_t hi = std::lower_bound(table.begin(), table.end(), a) - table.begin();
    if (hi == table.size()) return static_cast<uint16_t>(s | inf());
    if (table[hi] == a || hi == 0) return static_cast<uint16_t>(s | hi);
    const size_t lo = hi - 1;
    const double mid = (table[lo] + table[hi]) / 2;  // exact in double
    size_t pick = a < mid ? lo : a > mid ? hi : (lo % 2 == 0 ? lo : hi);
    return static_cast<uint16_t>(s | pick);  // pick == max_finite + 1 is inf
  }
};
const Format kBf16{8, 7};
const Format kF16{5, 10};

bool is_nan_bits(const Format& f, uint16_t b) { return (b & ~f.sign()) > f.inf(); }

template <typename H>
uint16_t bits_of(float x) {
  return H(x).bits;
}

TEST(HalfBits, EveryPatternRoundTripsThroughFloat) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const auto h = static_cast<uint16_t>(b);
    const float fb = BFloat16::from_bits(h), ff = Float16::from_bits(h);
    ASSERT_EQ(BFloat16(fb).bits, h) << std::hex << b;
    ASSERT_EQ(Float16(ff).bits, h) << std::hex << b;
    ASSERT_EQ(std::isnan(fb), is_nan_bits(kBf16, h)) << std::hex << b;
    ASSERT_EQ(std::isnan(ff), is_nan_bits(kF16, h)) << std::hex << b;
    if (!is_nan_bits(kBf16, h) && (h & 0x7fff) != kBf16.inf()) {
      ASSERT_EQ(static_cast<double>(fb), kBf16.decode(h)) << std::hex << b;
    }
    if (!is_nan_bits(kF16, h) && (h & 0x7fff) != kF16.inf()) {
      ASSERT_EQ(static_cast<double>(ff), kF16.decode(h)) << std::hex << b;
    }
    // Going through double changes nothing either.
    ASSERT_EQ(BFloat16(static_cast<double>(fb)).bits, h) << std::hex << b;
    ASSERT_EQ(Float16(static_cast<double>(ff)).bits, h) << std::hex << b;
  }
  EXPECT_EQ(static_cast<float>(BFloat16::from_bits(0x7f80)), INFINITY);
  EXPECT_EQ(static_cast<float>(Float16::from_bits(0xfc00)), -INFINITY);
}

TEST(HalfBits, HandPickedRoundingTiesToEven) {
  // f16: 1 + 2^-11 is halfway between 1 (even) and 1 + 2^-10 (odd).
  EXPECT_EQ(bits_of<Float16>(1.0f), 0x3c00);
  EXPECT_EQ(bits_of<Float16>(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(bits_of<Float16>(1.0f + 3 * 0x1p-11f), 0x3c02);
  EXPECT_EQ(bits_of<Float16>(1.0f + 0x1p-11f + 0x1p-23f), 0x3c01);
  EXPECT_EQ(bits_of<Float16>(-2.5f), 0xc100);
  EXPECT_EQ(bits_of<Float16>(0.1f), 0x2e66);
  EXPECT_EQ(bits_of<Float16>(65504.0f), 0x7bff);
  EXPECT_EQ(bits_of<Float16>(65519.996f), 0x7bff);
  EXPECT_EQ(bits_of<Float16>(65520.0f), 0x7c00);  // the tie goes to the even pattern: inf
  EXPECT_EQ(bits_of<Float16>(-1e10f), 0xfc00);
  EXPECT_EQ(bits_of<Float16>(INFINITY), 0x7c00);
  EXPECT_EQ(bits_of<Float16>(-0.0f), 0x8000);
  // Subnormals: units of 2^-24.
  EXPECT_EQ(bits_of<Float16>(0x1p-14f), 0x0400);
  EXPECT_EQ(bits_of<Float16>(0x1p-14f - 0x1p-25f), 0x0400);  // tie between 0x3ff and 0x400
  EXPECT_EQ(bits_of<Float16>(0x1p-24f), 0x0001);
  EXPECT_EQ(bits_of<Float16>(0x1p-25f), 0x0000);  // tie between 0 and 1 unit
  EXPECT_EQ(bits_of<Float16>(-0x1p-25f), 0x8000);
  EXPECT_EQ(bits_of<Float16>(0x1p-25f * 1.0000001f), 0x0001);
  EXPECT_EQ(bits_of<Float16>(3 * 0x1p-25f), 0x0002);  // tie between 1 and 2 units
  EXPECT_EQ(bits_of<Float16>(5 * 0x1p-25f), 0x0002);  // tie between 2 and 3 units
  EXPECT_EQ(bits_of<Float16>(FLT_TRUE_MIN), 0x0000);
  EXPECT_TRUE(std::isnan(static_cast<float>(Float16(NAN))));
  EXPECT_TRUE(std::isnan(static_cast<float>(Float16(float_of_bits(0x7f800001)))));  // low payload
  EXPECT_TRUE(std::isnan(static_cast<float>(Float16(-NAN))));
  // bf16: 1 + 2^-8 is halfway between 1 (even) and 1 + 2^-7 (odd).
  EXPECT_EQ(bits_of<BFloat16>(1.0f), 0x3f80);
  EXPECT_EQ(bits_of<BFloat16>(1.0f + 0x1p-8f), 0x3f80);
  EXPECT_EQ(bits_of<BFloat16>(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(bits_of<BFloat16>(1.0f + 0x1p-8f + 0x1p-23f), 0x3f81);
  EXPECT_EQ(bits_of<BFloat16>(3.14159265f), 0x4049);
  EXPECT_EQ(bits_of<BFloat16>(0.1f), 0x3dcd);
  EXPECT_EQ(bits_of<BFloat16>(FLT_MAX), 0x7f80);  // rounds past the largest bf16
  EXPECT_EQ(bits_of<BFloat16>(-INFINITY), 0xff80);
  EXPECT_EQ(bits_of<BFloat16>(FLT_TRUE_MIN), 0x0000);  // subnormal float, tie to 0
  EXPECT_EQ(bits_of<BFloat16>(0x1p-133f), 0x0001);     // smallest bf16 subnormal
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(float_of_bits(0x7f800001)))));
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(NAN))));
  // From double: one rounding, not two (double -> float would make a false tie here).
  EXPECT_EQ(BFloat16(1.0 + 0x1p-8 + 0x1p-40).bits, 0x3f81);
  EXPECT_EQ(BFloat16(1.0 + 0x1p-8 - 0x1p-40).bits, 0x3f80);
  EXPECT_EQ(Float16(1.0 + 0x1p-11 + 0x1p-40).bits, 0x3c01);
  EXPECT_EQ(Float16(0x1p-25 + 0x1p-60).bits, 0x0001);
  EXPECT_EQ(Float16(1e300).bits, 0x7c00);
  EXPECT_EQ(BFloat16(-1e300).bits, 0xff80);
  EXPECT_EQ(BFloat16(1e-300).bits, 0x0000);
  // From integers.
  EXPECT_EQ(Float16(int64_t{2049}).bits, 0x6800);  // 2048 (tie, even)
  EXPECT_EQ(Float16(int64_t{2051}).bits, 0x6802);  // 2052
  EXPECT_EQ(BFloat16(int32_t{257}).bits, 0x4380);  // 256
  EXPECT_EQ(Float16(true).bits, 0x3c00);
}

// Every float around every half midpoint (one float ulp below, on, above), plus a stride through
// all float bit patterns, against the table search.
template <typename H>
void sweep_against_reference(const Format& fmt) {
  std::vector<float> xs;
  for (uint32_t b = 0; b < fmt.max_finite(); ++b) {
    const double mid =
        (fmt.decode(static_cast<uint16_t>(b)) + fmt.decode(static_cast<uint16_t>(b + 1))) / 2;
    const auto m = static_cast<float>(mid);
    if (static_cast<double>(m) != mid) continue;  // a midpoint below float's subnormals
    for (float x : {std::nextafter(m, 0.0f), m, std::nextafter(m, INFINITY)}) {
      xs.push_back(x);
      xs.push_back(-x);
    }
  }
  for (uint64_t u = 0; u <= 0xffffffffu; u += 4093)
    xs.push_back(float_of_bits(static_cast<uint32_t>(u)));
  int checked = 0;
  for (float x : xs) {
    if (std::isnan(x)) {
      ASSERT_TRUE(std::isnan(static_cast<float>(H(x)))) << std::hex << bits_of_float(x);
      continue;
    }
    ASSERT_EQ(H(x).bits, fmt.round(x))
        << "x = " << x << " (0x" << std::hex << bits_of_float(x) << ")";
    ++checked;
  }
  EXPECT_GT(checked, 1000000);
}

TEST(HalfBits, FloatToF16MatchesNearestValueSearch) { sweep_against_reference<Float16>(kF16); }
TEST(HalfBits, FloatToBf16MatchesNearestValueSearch) { sweep_against_reference<BFloat16>(kBf16); }

TEST(HalfBits, DoubleToHalfMatchesNearestValueSearch) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> exps(-30, 17);
  std::uniform_real_distribution<double> frac(1.0, 2.0);
  for (int i = 0; i < 200000; ++i) {
    const double x = std::ldexp(frac(rng), exps(rng)) * (i % 2 ? -1 : 1);
    ASSERT_EQ(Float16(x).bits, kF16.round(x)) << x;
    ASSERT_EQ(BFloat16(x).bits, kBf16.round(x)) << x;
  }
  // Midpoints nudged by far less than a float ulp: a double rounding would get these wrong.
  for (uint16_t b : {0x0001, 0x0203, 0x3c00, 0x3c01, 0x5555, 0x7bfe}) {
    const double mid = (kF16.decode(b) + kF16.decode(static_cast<uint16_t>(b + 1))) / 2;
    for (double x : {mid * (1 + 0x1p-40), mid * (1 - 0x1p-40), mid})
      EXPECT_EQ(Float16(x).bits, kF16.round(x)) << x;
  }
  for (uint16_t b : {0x0001, 0x0080, 0x3f80, 0x3f81, 0x7f7e}) {
    const double mid = (kBf16.decode(b) + kBf16.decode(static_cast<uint16_t>(b + 1))) / 2;
    for (double x : {mid * (1 + 0x1p-40), mid * (1 - 0x1p-40), mid})
      EXPECT_EQ(BFloat16(x).bits, kBf16.round(x)) << x;
  }
}

TEST(HalfDType, TableNamesAndParsing) {
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f16), 2u);
  EXPECT_EQ(dtype_name(DType::bf16), "bf16");
  EXPECT_EQ(dtype_name(DType::f16), "f16");
  EXPECT_TRUE(is_floating(DType::bf16) && is_floating(DType::f16) && is_half(DType::f16));
  EXPECT_FALSE(is_half(DType::f32) || is_integral(DType::bf16));
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto t = static_cast<DType>(i);
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t) << dtype_name(t);
  }
  EXPECT_EQ(dtype_from_name("bfloat16"), DType::bf16);
  EXPECT_EQ(dtype_from_name("half"), DType::f16);
  EXPECT_EQ(dtype_from_name("float16"), DType::f16);
  EXPECT_EQ(dtype_from_name("f8"), std::nullopt);
  EXPECT_EQ(dtype_v<BFloat16>, DType::bf16);
  EXPECT_EQ(dtype_v<Float16>, DType::f16);
}

TEST(HalfDType, PromotionTableFollowsPyTorch) {
  using enum DType;
  const DType order[] = {f32, f64, i32, i64, u8, boolean, bf16, f16};
  // Row a, column b, in the order above.
  const DType expected[8][8] = {
      /* f32  */ {f32, f64, f32, f32, f32, f32, f32, f32},
      /* f64  */ {f64, f64, f64, f64, f64, f64, f64, f64},
      /* i32  */ {f32, f64, i32, i64, i32, i32, bf16, f16},
      /* i64  */ {f32, f64, i64, i64, i64, i64, bf16, f16},
      /* u8   */ {f32, f64, i32, i64, u8, u8, bf16, f16},
      /* bool */ {f32, f64, i32, i64, u8, boolean, bf16, f16},
      /* bf16 */ {f32, f64, bf16, bf16, bf16, bf16, bf16, f32},
      /* f16  */ {f32, f64, f16, f16, f16, f16, f32, f16},
  };
  static_assert(promote_types(DType::bf16, DType::f16) == DType::f32);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j)
      EXPECT_EQ(promote_types(order[i], order[j]), expected[i][j])
          << dtype_name(order[i]) << " + " << dtype_name(order[j]);
}

// Runs f once with the CPU kernels and once with the reference kernels.
template <typename F>
void on_both_cpu_backends(F&& f) {
  f();
  ReferenceKernels ref;
  f();
}

TEST(HalfTensor, CastsMatchTheScalarConversions) {
  on_both_cpu_backends([] {
    const std::vector<float> v = {0.0f,      -0.0f,          1.0f,           0.1f,  -3.14159f,
                                  65519.0f,  70000.0f,       1e-7f,          3e-8f, INFINITY,
                                  -INFINITY, 1.0f + 0x1p-8f, 1.0f + 0x1p-11f};
    Tensor x = from_vector(v);
    Tensor b = x.to(DType::bf16), h = x.to(DType::f16);
    EXPECT_EQ(b.dtype(), DType::bf16);
    EXPECT_EQ(b.storage()->nbytes(), v.size() * 2);
    auto bb = b.to_vector<BFloat16>();
    auto hh = h.to_vector<Float16>();
    for (size_t i = 0; i < v.size(); ++i) {
      EXPECT_EQ(bb[i].bits, BFloat16(v[i]).bits) << v[i];
      EXPECT_EQ(hh[i].bits, Float16(v[i]).bits) << v[i];
    }
    // Back to f32 and f64: exact.
    auto bf = b.to(DType::f32).to_vector<float>();
    auto hd = h.to(DType::f64).to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) {
      EXPECT_EQ(bits_of_float(bf[i]), bits_of_float(static_cast<float>(bb[i])));
      EXPECT_EQ(hd[i], static_cast<double>(static_cast<float>(hh[i])));
    }
    // bf16 <-> f16 directly is the same as through f32.
    EXPECT_TRUE(equal(b.to(DType::f16), b.to(DType::f32).to(DType::f16)));
    EXPECT_TRUE(equal(h.to(DType::bf16), h.to(DType::f32).to(DType::bf16)));
    // NaN survives.
    Tensor n = from_vector(std::vector<float>{NAN}).to(DType::bf16).to(DType::f32);
    EXPECT_TRUE(std::isnan(n.item()));
  });
}

TEST(HalfTensor, CastsFromF64RoundOnce) {
  on_both_cpu_backends([] {
    Tensor x = from_vector(std::vector<double>{1.0 + 0x1p-8 + 0x1p-40, 1.0 + 0x1p-11 + 0x1p-40});
    EXPECT_EQ(x.to(DType::bf16).to_vector<BFloat16>()[0].bits, 0x3f81);
    EXPECT_EQ(x.to(DType::f16).to_vector<Float16>()[1].bits, 0x3c01);
  });
}

TEST(HalfTensor, CastsToAndFromIntegersAndBool) {
  on_both_cpu_backends([] {
    for (DType half : {DType::bf16, DType::f16}) {
      Tensor i = from_vector(std::vector<int64_t>{-3, 0, 7, 255});
      Tensor h = i.to(half);
      EXPECT_EQ(h.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{-3, 0, 7, 255}));
      EXPECT_EQ(h.to(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{-3, 0, 7, 255}));
      EXPECT_EQ(
          from_vector(std::vector<uint8_t>{0, 200}).to(half).to(DType::u8).to_vector<uint8_t>(),
          (std::vector<uint8_t>{0, 200}));
      EXPECT_EQ(h.to(DType::boolean).to_vector<bool>(),
                (std::vector<bool>{true, false, true, true}));
      EXPECT_EQ(
          from_vector(std::vector<bool>{true, false}).to(half).to(DType::f32).to_vector<float>(),
          (std::vector<float>{1.0f, 0.0f}));
    }
  });
}

TEST(HalfTensor, StridedCopiesAndContiguous) {
  on_both_cpu_backends([] {
    Tensor x = arange(0.0, 12.0, 1.0, DType::f32).reshape({3, 4});
    Tensor h = x.to(DType::bf16);
    Tensor ht = h.t();  // a non-contiguous half view
    EXPECT_FALSE(ht.is_contiguous());
    Tensor c = ht.contiguous();
    EXPECT_TRUE(equal(c.to(DType::f32), x.t().contiguous()));
    // Casting a strided view, and copy_ into a strided half view.
    EXPECT_TRUE(equal(x.t().to(DType::f16).to(DType::f32), x.t()));
    Tensor dst = zeros({4, 3}, DType::f16);
    dst.t().copy_(x);
    EXPECT_TRUE(equal(dst.to(DType::f32), x.t()));
    Tensor b = zeros({3}, DType::bf16);
    b.copy_(from_vector(std::vector<float>{2.5f}));  // broadcast and cast
    EXPECT_EQ(b.to(DType::f32).to_vector<float>(), (std::vector<float>{2.5f, 2.5f, 2.5f}));
  });
}

TEST(HalfTensor, FactoriesFillAndPrint) {
  on_both_cpu_backends([] {
    for (DType t : {DType::bf16, DType::f16}) {
      EXPECT_EQ(zeros({2, 2}, t).to(DType::f32).to_vector<float>(), std::vector<float>(4, 0.0f));
      EXPECT_EQ(ones({3}, t).to(DType::f32).to_vector<float>(), std::vector<float>(3, 1.0f));
      EXPECT_EQ(full({2}, 0.1, t).to(DType::f64).to_vector<double>()[0],
                t == DType::bf16 ? static_cast<double>(static_cast<float>(BFloat16(0.1)))
                                 : static_cast<double>(static_cast<float>(Float16(0.1))));
      EXPECT_EQ(arange(0.0, 4.0, 1.0, t).to(DType::f32).to_vector<float>(),
                (std::vector<float>{0, 1, 2, 3}));
      EXPECT_EQ(eye(2, -1, t).to(DType::f32).to_vector<float>(), (std::vector<float>{1, 0, 0, 1}));
      EXPECT_EQ(from_vector(std::vector<float>{1.5f, -2.0f}, {2}, t).dtype(), t);
      EXPECT_DOUBLE_EQ(scalar_tensor(3.0, t).item(), 3.0);
      Tensor f = empty({2, 3}, t);
      f.fill_(-1.5);
      EXPECT_EQ(f.to(DType::f32).to_vector<float>(), std::vector<float>(6, -1.5f));
      f.t().fill_(70000.0);  // strided fill; overflows f16, not bf16
      EXPECT_EQ(f.to(DType::f32).to_vector<float>()[0],
                t == DType::f16 ? INFINITY : static_cast<float>(BFloat16(70000.0)));
      const std::string s = from_vector(std::vector<float>{0.5f, -2.25f}, {2}, t).repr();
      EXPECT_THAT(s, HasSubstr("tensor([  0.5, -2.25]"));
      EXPECT_THAT(s, HasSubstr("dtype=" + std::string(dtype_name(t))));
    }
    std::vector<BFloat16> raw = {BFloat16(1.0f), BFloat16(-0.5f)};
    EXPECT_EQ(from_vector(raw).to(DType::f32).to_vector<float>(),
              (std::vector<float>{1.0f, -0.5f}));
  });
}

TEST(HalfTensor, GradientFlowsThroughCasts) {
  Tensor x = from_vector(std::vector<float>{1.0f, 2.0f}).requires_grad_();
  Tensor y = x.to(DType::bf16).to(DType::f32);
  sum(y * y).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2.0f, 4.0f}));
}

TEST(HalfTensor, OpsWithoutHalfKernelsFailClearly) {
  Tensor a = ones({2, 2}, DType::bf16), b = ones({2, 2}, DType::f16);
  EXPECT_THAT(error_of([&] { add(a, a); }), HasSubstr("add: dtype bf16 not supported"));
  EXPECT_THAT(error_of([&] { mul(b, b); }), HasSubstr("mul: dtype f16 not supported"));
  EXPECT_THAT(error_of([&] { exp(a); }), HasSubstr("exp: dtype bf16 not supported"));
  EXPECT_THAT(error_of([&] { relu(b); }), HasSubstr("relu: dtype f16 not supported"));
  EXPECT_THAT(error_of([&] { sum(a); }), HasSubstr("sum: dtype bf16 not supported"));
  EXPECT_THAT(error_of([&] { matmul(a, a); }), HasSubstr("bf16 not supported"));
  EXPECT_THAT(error_of([&] { softmax(b, -1); }), HasSubstr("softmax: dtype f16 not supported"));
  EXPECT_THAT(error_of([&] { cat({a, a}, 0); }), HasSubstr("cat: dtype bf16 not supported"));
  Generator g(1);
  EXPECT_THAT(error_of([&] { randn({2}, g, DType::bf16); }), HasSubstr("bf16 not supported"));
  EXPECT_THAT(error_of([&] { add(a, b); }), HasSubstr("dtype mismatch"));
  // The message says what to do.
  EXPECT_THAT(error_of([&] { exp(a); }), HasSubstr(".to(DType::f32)"));
  // The dispatch macros are the kernels' own guard.
  EXPECT_THAT(
      error_of([] { SG_DISPATCH_FLOAT(DType::f16, "myop", [] { return sizeof(scalar_t); }); }),
      HasSubstr("myop: dtype f16 not supported"));
  EXPECT_THAT(
      error_of([] { SG_DISPATCH_ALL(DType::bf16, "myop", [] { return sizeof(scalar_t); }); }),
      HasSubstr("myop: dtype bf16 not supported"));
  EXPECT_THAT(
      error_of([] { SG_DISPATCH_NUMERIC(DType::bf16, "myop", [] { return sizeof(scalar_t); }); }),
      HasSubstr("myop: dtype bf16 not supported"));
}

// The kernel ops written for half inputs; the list changes only with a kernel that computes on
// half (and its tests).
TEST(HalfTensor, OnlyTheHalfKernelsTakeHalf) {
  std::vector<std::string> takes;
  for (OpId op : all_ops())
    if (op_takes_half(op)) takes.emplace_back(op_name(op));
  std::sort(takes.begin(), takes.end());
  EXPECT_EQ(takes, (std::vector<std::string>{"copy", "fill", "scaled_dot_product_attention",
                                             "scaled_dot_product_attention_backward"}));
}

class HalfIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("stackgrad_half_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

// The bits of every non-NaN pattern of both types, in one tensor each.
Tensor all_patterns(DType t) {
  std::vector<float> v;
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = t == DType::bf16
                        ? static_cast<float>(BFloat16::from_bits(static_cast<uint16_t>(b)))
                        : static_cast<float>(Float16::from_bits(static_cast<uint16_t>(b)));
    if (!std::isnan(f)) v.push_back(f);
  }
  return from_vector(v).to(t);
}

TEST_F(HalfIo, SafetensorsRoundTripsBitExact) {
  NamedTensors in = {{"b", all_patterns(DType::bf16).reshape({-1, 2}).t()},
                     {"h", all_patterns(DType::f16)},
                     {"x", ones({2}, DType::f32)}};
  save_safetensors(path("m.safetensors"), in);
  NamedTensors out = load_safetensors(path("m.safetensors"));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out.at("b").dtype(), DType::bf16);
  EXPECT_EQ(out.at("h").dtype(), DType::f16);
  EXPECT_EQ(out.at("b").shape(), in.at("b").shape());
  EXPECT_TRUE(equal(out.at("b"), in.at("b")));
  EXPECT_TRUE(equal(out.at("h"), in.at("h")));
  auto hb = out.at("h").to_vector<Float16>();
  auto hi = in.at("h").to_vector<Float16>();
  for (size_t i = 0; i < hb.size(); ++i) ASSERT_EQ(hb[i].bits, hi[i].bits);  // -0 vs 0 too
}

TEST_F(HalfIo, NpyTakesF16AndRefusesBf16) {
  Tensor h = all_patterns(DType::f16);
  save_npy(path("h.npy"), h);
  Tensor back = load_npy(path("h.npy"));
  EXPECT_EQ(back.dtype(), DType::f16);
  EXPECT_TRUE(equal(back, h));
  EXPECT_THAT(error_of([&] { save_npy(path("b.npy"), ones({2}, DType::bf16)); }),
              HasSubstr("dtype bf16 has no .npy type code"));
}

std::vector<uint16_t> bits_of_tensor(const Tensor& t) {
  std::vector<uint16_t> out;
  if (t.dtype() == DType::bf16)
    for (BFloat16 v : t.to_vector<BFloat16>()) out.push_back(v.bits);
  else
    for (Float16 v : t.to_vector<Float16>()) out.push_back(v.bits);
  return out;
}

TEST(HalfCuda, CastsAndFillsMatchTheCpuBitForBit) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  const Device gpu = Device::cuda(0);
  Generator g(3);
  Tensor x = randn({37, 29}, g, DType::f64) * 1000.0;  // odd sizes: remainder and unaligned paths
  for (DType half : {DType::bf16, DType::f16}) {
    for (DType src : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean}) {
      Tensor s = src == DType::u8 ? abs(x).to(src) : x.to(src);
      Tensor cpu = s.to(half);
      Tensor dev = s.to(gpu).to(half).to(Device::cpu());
      EXPECT_EQ(bits_of_tensor(dev), bits_of_tensor(cpu))
          << dtype_name(src) << " -> " << dtype_name(half);
      // A strided source, and a contiguous one at an odd offset (not aligned for packs).
      Tensor sv = s.t().narrow(0, 1, 20);
      EXPECT_EQ(bits_of_tensor(sv.to(gpu).to(half).to(Device::cpu())), bits_of_tensor(sv.to(half)));
      Tensor so = s.flatten().narrow(0, 1, 999);
      EXPECT_EQ(bits_of_tensor(so.to(gpu).to(half).to(Device::cpu())), bits_of_tensor(so.to(half)));
      // And back.
      EXPECT_TRUE(equal(cpu.to(gpu).to(src).to(Device::cpu()), cpu.to(src)))
          << dtype_name(half) << " -> " << dtype_name(src);
    }
    const DType peer = half == DType::bf16 ? DType::f16 : DType::bf16;
    Tensor h = x.to(half);
    EXPECT_EQ(bits_of_tensor(h.to(gpu).to(peer).to(Device::cpu())), bits_of_tensor(h.to(peer)));
    Tensor f = full({1001}, 0.1, Options(half, gpu)).to(Device::cpu());
    EXPECT_EQ(bits_of_tensor(f), bits_of_tensor(full({1001}, 0.1, half)));
    Tensor fs = zeros({8, 9}, Options(half, gpu));
    fs.t().fill_(-2.0);
    EXPECT_EQ(bits_of_tensor(fs.to(Device::cpu())), bits_of_tensor(full({8, 9}, -2.0, half)));
    Tensor all = all_patterns(half);
    EXPECT_TRUE(equal(all.to(gpu).to(DType::f32).to(Device::cpu()), all.to(DType::f32)));
    EXPECT_EQ(bits_of_tensor(all.to(DType::f32).to(gpu).to(half).to(Device::cpu())),
              bits_of_tensor(all));
  }
}

}  // namespace
}  // namespace stackgrad
