// The vectorised CPU random kernels against the reference kernels, bit for bit: the 8-lane
// Philox against the scalar one (including counters whose low word wraps), and every draw op for
// f32 and f64, sizes around the 8-lane block, non-zero offsets, strided inputs and several
// thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/dispatch/dispatch.h"
#include "engine/stackgrad.h"
#include "kernels/cpu/philox_vec.h"
#include "kernels/reference/philox.h"

namespace stackgrad {
namespace {

void expect_lanes_match(uint64_t seed, uint64_t counter) {
  kernels::Philox8 b;
  kernels::philox4x32_x8(seed, counter, b);
  for (int j = 0; j < 8; ++j) {
    kernels::Philox4 s = kernels::philox4x32(seed, counter + j);
    for (int w = 0; w < 4; ++w)
      ASSERT_EQ(b.v[w][j], s.v[w])
          << "seed " << seed << " counter " << counter << " lane " << j << " word " << w;
  }
}

TEST(CpuRandom, VectorPhiloxMatchesScalar) {
  const uint64_t seeds[] = {0, 1, 0x0123456789ABCDEFull, ~0ull};
  // Counters whose low word wraps inside the block (the carry must reach the high word), and the
  // 64-bit counter wrapping as a whole.
  const uint64_t edges[] = {0,
                            1,
                            0xFFFFFFF8ull,
                            0xFFFFFFF9ull,
                            0xFFFFFFFFull,
                            0x1FFFFFFFCull,
                            0xABCDEFFFFFFFAull,
                            ~0ull - 3,
                            ~0ull};
  for (uint64_t seed : seeds)
    for (uint64_t c : edges) expect_lanes_match(seed, c);
  std::mt19937_64 rng(3);
  for (int t = 0; t < 2000; ++t) expect_lanes_match(rng(), rng());
  // Known answer through the vector path too (Random123: key 0, counter 0).
  kernels::Philox8 b;
  kernels::philox4x32_x8(0, 0, b);
  EXPECT_EQ(b.v[0][0], 0x6627e8d5u);
  EXPECT_EQ(b.v[3][0], 0x9b00dbd8u);
}

TEST(CpuRandom, VectorThresholdMatchesUniformCompare) {
  // uniform_at_least must equal uniform_f64(r) >= p lane by lane, including p exactly equal to a
  // lane's uniform and its neighbours (a 2^-53 off-by-one in the threshold shows only there).
  std::mt19937_64 rng(11);
  for (int t = 0; t < 300; ++t) {
    kernels::Philox8 b;
    kernels::philox4x32_x8(rng(), rng(), b);
    const double u = kernels::uniform_f64(b.lane(t % 8));
    for (double p : {u, std::nextafter(u, 0.0), std::nextafter(u, 1.0), 0.0, 0.5}) {
      if (!kernels::UniformThreshold::valid(p)) continue;
      alignas(32) int32_t mask[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(mask),
                         kernels::uniform_at_least(b, kernels::UniformThreshold(p)));
      for (int j = 0; j < 8; ++j)
        ASSERT_EQ(mask[j] != 0, kernels::uniform_f64(b.lane(j)) >= p) << "p " << p << " lane " << j;
    }
  }
}

// Runs draw(gen) on the CPU and the reference backend from the same generator state.
template <typename F>
void expect_same_draw(const char* what, uint64_t offset, F draw) {
  Generator a(20261126), b(20261126);
  a.advance(offset);
  b.advance(offset);
  Tensor fast = draw(a);
  Tensor ref;
  {
    ReferenceKernels guard;
    ref = draw(b);
  }
  ASSERT_TRUE(equal(fast, ref)) << what << " numel " << fast.numel() << " offset " << offset
                                << " threads " << num_threads();
}

TEST(CpuRandom, DrawsEqualReferenceBitForBit) {
  const int saved = num_threads();
  const int64_t sizes[] = {0, 1, 7, 8, 9, 1000, 100003};
  // 0xFFFFFFFD: the low word of the counter wraps inside the draw.
  const uint64_t offsets[] = {5, 0xFFFFFFFDull};
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (DType dt : {DType::f32, DType::f64})
      for (int64_t n : sizes)
        for (uint64_t off : offsets) {
          expect_same_draw("uniform", off,
                           [&](Generator& g) { return rand({n}, g, dt, -2.0, 3.0); });
          expect_same_draw("normal", off,
                           [&](Generator& g) { return randn({n}, g, dt, 1.0, 2.0); });
          expect_same_draw("bernoulli", off,
                           [&](Generator& g) { return bernoulli({n}, 0.3, g, dt); });
          expect_same_draw("randint", off, [&](Generator& g) { return randint(-3, 1000, {n}, g); });
          Generator data(n);
          Tensor x = randn({n}, data, dt);
          expect_same_draw("dropout", off, [&](Generator& g) { return dropout(x, 0.4, true, g); });
          expect_same_draw("bernoulli probs", off,
                           [&](Generator& g) { return bernoulli(sigmoid(x), g); });
          if (n % 2 == 0 && n > 0) {
            // Strided inputs: a transposed view.
            Tensor xt = x.reshape({2, n / 2}).transpose(0, 1);
            expect_same_draw("dropout strided", off,
                             [&](Generator& g) { return dropout(xt, 0.25, true, g); });
            expect_same_draw("bernoulli strided", off,
                             [&](Generator& g) { return bernoulli(sigmoid(xt), g); });
          }
        }
  }
  set_num_threads(saved);
}

TEST(CpuRandom, UniformEdgeRanges) {
  // A range narrower than one float ulp at 1: values round up to hi and must map back to lo;
  // lo == hi keeps the value as is.
  for (DType dt : {DType::f32, DType::f64}) {
    expect_same_draw("uniform narrow", 3,
                     [&](Generator& g) { return rand({1003}, g, dt, 1.0, 1.0 + 1e-7); });
    expect_same_draw("uniform narrow f64", 3,
                     [&](Generator& g) { return rand({1003}, g, dt, 1.0, 1.0 + 4e-16); });
    expect_same_draw("uniform point", 3,
                     [&](Generator& g) { return rand({1003}, g, dt, 2.5, 2.5); });
    expect_same_draw("uniform wide", 3,
                     [&](Generator& g) { return rand({1003}, g, dt, -1e300, 1e300); });
  }
}

TEST(CpuRandom, DropoutEdgeProbabilities) {
  Generator data(1);
  Tensor x = randn({1001}, data);
  for (double p : {0.0, 1e-300, 0.5, 1.0 - 1e-16})
    expect_same_draw("dropout p", 11, [&](Generator& g) { return dropout(x, p, true, g); });
}

}  // namespace
}  // namespace stackgrad
