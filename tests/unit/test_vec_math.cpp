// Accuracy and special values of the vector math in kernels/cpu/vec_math.h.
#include "kernels/cpu/vec_math.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <thread>

namespace stackgrad::kernels::vec {
namespace {

// Distance in units in the last place, counting the floats between a and b (subnormals
// included; +0 and -0 are the same point).
int64_t ulps(float a, float b) {
  auto key = [](float v) {
    const int32_t i = std::bit_cast<int32_t>(v);
    return i < 0 ? int64_t{INT32_MIN} - i : int64_t{i};
  };
  return std::llabs(key(a) - key(b));
}
int64_t ulps(double a, double b) {
  auto key = [](double v) {
    const int64_t i = std::bit_cast<int64_t>(v);
    return i < 0 ? INT64_MIN - i : i;
  };
  const int64_t ka = key(a), kb = key(b);
  return ka > kb ? ka - kb : kb - ka;
}

float exp1(float x) { return exp8(F8{} + x)[0]; }
double exp1(double x) { return exp4(D4{} + x)[0]; }

// The single-scale kernel the losses used before exp8 moved here, to check that exp8 kept its
// bits on [-87, 88].
F8 legacy_exp8(F8 x) {
  const F8 n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const F8 r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  F8 p = F8{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const I8 bits = (__builtin_convertvector(n, I8) + 127) << 23;
  return p * std::bit_cast<F8>(bits);
}

// Every float in [lo, hi] of one sign, walked by bit pattern, 8 at a time.
template <typename Check>
void every_float(float lo, float hi, Check check) {
  const uint32_t a = std::bit_cast<uint32_t>(lo), b = std::bit_cast<uint32_t>(hi);
  const uint32_t first = std::min(a, b), last = std::max(a, b);
  for (uint32_t u = first; u <= last; u += 8) {
    F8 x;
    for (int l = 0; l < 8; ++l) x[l] = std::bit_cast<float>(std::min(u + l, last));
    check(x);
  }
}

// About 2.2e9 floats, 5.4e8 of them through expf: the two signs run on two threads.
TEST(VecMath, ExpF32WithinOneUlpOfExpfOnEveryFloatInRange) {
  struct Result {
    int64_t worst = 0, legacy_diff = 0;
  };
  auto sweep = [](float lo, float hi, Result& res) {
    every_float(lo, hi, [&](F8 x) {
      const F8 y = exp8(x), old = legacy_exp8(x);
      for (int l = 0; l < 8; ++l) {
        // Below 2^-25 in magnitude expf is 1, no need to call it.
        const float want = std::fabs(x[l]) < 0x1p-25f ? 1.0f : std::exp(x[l]);
        res.worst = std::max(res.worst, ulps(y[l], want));
        res.legacy_diff += std::bit_cast<uint32_t>(y[l]) != std::bit_cast<uint32_t>(old[l]);
      }
    });
  };
  Result pos, neg;
  std::thread t([&] { sweep(0.0f, 88.0f, pos); });
  sweep(-0.0f, -87.0f, neg);
  t.join();
  EXPECT_LE(std::max(pos.worst, neg.worst), 1);
  EXPECT_EQ(pos.legacy_diff + neg.legacy_diff, 0);
}

TEST(VecMath, ExpF32SpecialValuesAndRangeEnds) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isnan(exp1(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(exp1(inf), inf);
  EXPECT_EQ(exp1(-inf), 0.0f);
  EXPECT_EQ(exp1(0.0f), 1.0f);
  EXPECT_EQ(exp1(-0.0f), 1.0f);
  EXPECT_EQ(exp1(1e30f), inf);
  EXPECT_EQ(exp1(-1e30f), 0.0f);
  EXPECT_EQ(exp1(88.8f), inf);
  EXPECT_EQ(exp1(-104.0f), 0.0f);
  // Near overflow and into the subnormals (gradual underflow), still within 1 ulp of expf.
  for (float x = 88.0f; x < 88.8f; x += 0.01f) EXPECT_LE(ulps(exp1(x), std::exp(x)), 1) << x;
  for (float x = -87.0f; x > -104.0f; x -= 0.01f) EXPECT_LE(ulps(exp1(x), std::exp(x)), 1) << x;
  EXPECT_GT(exp1(-100.0f), 0.0f);
}

TEST(VecMath, ExpF64WithinOneUlpOfStdExp) {
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> wide(-745.5, 709.9), unit(-1.0, 1.0);
  int64_t worst = 0, vexp_diff = 0;
  for (int i = 0; i < 1000000; i += 4) {
    D4 x;
    for (int l = 0; l < 4; ++l) x[l] = (i % 8 == 0) ? unit(gen) : wide(gen);
    const D4 y = exp4(x);
    for (int l = 0; l < 4; ++l) {
      worst = std::max(worst, ulps(y[l], std::exp(x[l])));
      // The scalar vexp of the softmax kernels is the same function on [-708, 709].
      if (x[l] >= -708.0 && x[l] <= 709.0)
        vexp_diff += std::bit_cast<uint64_t>(vexp(x[l])) != std::bit_cast<uint64_t>(y[l]);
    }
  }
  EXPECT_LE(worst, 1);
  EXPECT_EQ(vexp_diff, 0);
}

TEST(VecMath, ExpF64SpecialValuesAndRangeEnds) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(std::isnan(exp1(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_EQ(exp1(inf), inf);
  EXPECT_EQ(exp1(-inf), 0.0);
  EXPECT_EQ(exp1(0.0), 1.0);
  EXPECT_EQ(exp1(1e300), inf);
  EXPECT_EQ(exp1(-1e300), 0.0);
  EXPECT_EQ(exp1(709.8), inf);
  EXPECT_EQ(exp1(-745.2), 0.0);
  for (double x = 709.0; x < 709.8; x += 0.001) EXPECT_LE(ulps(exp1(x), std::exp(x)), 1) << x;
  for (double x = -708.0; x > -745.2; x -= 0.01) EXPECT_LE(ulps(exp1(x), std::exp(x)), 1) << x;
  // vexp's documented shortcut: 0 below -708, NaN kept.
  EXPECT_EQ(vexp(-720.0), 0.0);
  EXPECT_EQ(vexp(-inf), 0.0);
  EXPECT_TRUE(std::isnan(vexp(std::numeric_limits<double>::quiet_NaN())));
}

// sigmoid and tanh against long double references, over [-120, 120] (log-spaced magnitudes
// from 1e-30, both signs), in ulps of the result type.
template <typename T>
void check_sigmoid_tanh(int64_t max_ulps) {
  using V = Vec<T>;
  int64_t worst_sig = 0, worst_tanh = 0;
  for (int i = 0; i < 200000; ++i) {
    const long double mag = std::pow(10.0L, -30.0L + 32.08L * i / 200000);
    const T x = static_cast<T>((i % 2 ? -1 : 1) * mag);
    const long double xl = x;
    const T sig = static_cast<T>(1.0L / (1.0L + std::exp(-xl)));
    const T th = static_cast<T>(std::tanh(xl));
    worst_sig = std::max(worst_sig, ulps(sigmoid(V{} + x)[0], sig));
    worst_tanh = std::max(worst_tanh, ulps(tanh(V{} + x)[0], th));
  }
  EXPECT_LE(worst_sig, max_ulps);
  EXPECT_LE(worst_tanh, max_ulps);
}

TEST(VecMath, SigmoidAndTanhF32) { check_sigmoid_tanh<float>(4); }
TEST(VecMath, SigmoidAndTanhF64) { check_sigmoid_tanh<double>(4); }

TEST(VecMath, SigmoidTanhSiluSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(sigmoid(F8{} + inf)[0], 1.0f);
  EXPECT_EQ(sigmoid(F8{} - inf)[0], 0.0f);
  EXPECT_EQ(sigmoid(F8{} + 0.0f)[0], 0.5f);
  EXPECT_TRUE(std::isnan(sigmoid(F8{} + nan)[0]));
  EXPECT_EQ(tanh(F8{} + inf)[0], 1.0f);
  EXPECT_EQ(tanh(F8{} - inf)[0], -1.0f);
  EXPECT_TRUE(std::isnan(tanh(F8{} + nan)[0]));
  EXPECT_TRUE(std::signbit(tanh(-F8{})[0]));
  EXPECT_FALSE(std::signbit(tanh(F8{})[0]));
  EXPECT_EQ(tanh(D4{} + 30.0)[0], 1.0);
  EXPECT_EQ(tanh(D4{} - 30.0)[0], -1.0);
  EXPECT_TRUE(std::isnan(silu(F8{} - inf)[0]));  // -inf * 0, as in the scalar reference
  EXPECT_NEAR(silu(D4{} + 2.0)[0], 2.0 / (1.0 + std::exp(-2.0)), 1e-15);
}

}  // namespace
}  // namespace stackgrad::kernels::vec
