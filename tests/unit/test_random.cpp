// Philox random numbers: reproducible, independent of the thread count, and with the right
// distributions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/stackgrad.h"
#include "kernels/reference/philox.h"

namespace stackgrad {
namespace {

double mean_of(const Tensor& t) { return mean(t.to(DType::f64)).item(); }
double max_value(const Tensor& t) {
  auto v = t.to(DType::f64).to_vector<double>();
  return *std::max_element(v.begin(), v.end());
}
double min_value(const Tensor& t) {
  auto v = t.to(DType::f64).to_vector<double>();
  return *std::min_element(v.begin(), v.end());
}
double var_of(const Tensor& t) {
  Tensor d = t.to(DType::f64) - mean_of(t);
  return mean(d * d).item();
}

TEST(Philox, KnownAnswerForZeroKeyAndCounter) {
  // Philox4x32-10 known-answer vector (Random123): key 0, counter 0.
  auto r = kernels::philox4x32(0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

TEST(Random, SameSeedSameNumbers) {
  Generator a(42), b(42), c(43);
  Tensor x = randn({1000}, a), y = randn({1000}, b), z = randn({1000}, c);
  EXPECT_TRUE(equal(x, y));
  EXPECT_FALSE(equal(x, z));
  // The generator advances: a second draw differs from the first.
  EXPECT_FALSE(equal(randn({1000}, a), x));
}

TEST(Random, SplitDrawsEqualOneDraw) {
  // Counter-based: drawing 600 then 400 numbers gives the same stream as one draw of 1000.
  Generator a(7), b(7);
  Tensor whole = rand({1000}, a, DType::f64);
  Tensor first = rand({600}, b, DType::f64), second = rand({400}, b, DType::f64);
  EXPECT_TRUE(equal(whole.narrow(0, 0, 600), first));
  EXPECT_TRUE(equal(whole.narrow(0, 600, 400), second));
}

TEST(Random, ThreadCountDoesNotChangeNumbers) {
  int saved = num_threads();
  set_num_threads(1);
  Generator a(5);
  Tensor one = randn({200000}, a);
  set_num_threads(4);
  Generator b(5);
  Tensor four = randn({200000}, b);
  set_num_threads(saved);
  EXPECT_TRUE(equal(one, four));
}

TEST(Random, UniformMomentsAndRange) {
  Generator g(1);
  Tensor u = rand({200000}, g, DType::f64, -1.0, 3.0);
  EXPECT_NEAR(mean_of(u), 1.0, 0.02);
  EXPECT_NEAR(var_of(u), 16.0 / 12.0, 0.02);
  EXPECT_GE(min_value(u), -1.0);
  EXPECT_LT(max_value(u), 3.0);
  Tensor f = rand({200000}, g, DType::f32);
  EXPECT_LT(max_value(f), 1.0);
}

TEST(Random, NormalMoments) {
  Generator g(2);
  Tensor n = randn({200000}, g, DType::f64, 2.0, 0.5);
  EXPECT_NEAR(mean_of(n), 2.0, 0.01);
  EXPECT_NEAR(var_of(n), 0.25, 0.01);
  // Tails: about 4.55% beyond two standard deviations.
  double tail = mean((abs(n - 2.0) > 1.0).to(DType::f64)).item();
  EXPECT_NEAR(tail, 0.0455, 0.003);
}

TEST(Random, RandintCoversRangeUniformly) {
  Generator g(3);
  Tensor r = randint(-2, 3, {50000}, g);
  auto v = r.to_vector<int64_t>();
  std::vector<int> counts(5, 0);
  for (int64_t x : v) {
    ASSERT_GE(x, -2);
    ASSERT_LT(x, 3);
    ++counts[x + 2];
  }
  for (int c : counts) EXPECT_NEAR(c / 50000.0, 0.2, 0.01);
}

TEST(Random, BernoulliRate) {
  Generator g(4);
  EXPECT_NEAR(mean_of(bernoulli({100000}, 0.3, g)), 0.3, 0.005);
  Tensor probs = full({100000}, 0.8, DType::f64);
  EXPECT_NEAR(mean_of(bernoulli(probs, g)), 0.8, 0.005);
}

TEST(Random, RandpermIsAPermutation) {
  Generator g(6);
  auto p = randperm(1000, g).to_vector<int64_t>();
  std::set<int64_t> s(p.begin(), p.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.begin(), 0);
  EXPECT_EQ(*s.rbegin(), 999);
  // Not the identity.
  int fixed = 0;
  for (int i = 0; i < 1000; ++i) fixed += p[i] == i;
  EXPECT_LT(fixed, 10);
}

TEST(Dropout, SameSeedSameMaskAndScaling) {
  Tensor x = ones({10000}, DType::f64);
  Generator a(11), b(11);
  Tensor y1 = dropout(x, 0.25, true, a), y2 = dropout(x, 0.25, true, b);
  EXPECT_TRUE(equal(y1, y2));
  auto v = y1.to_vector<double>();
  int zeros = 0;
  for (double e : v) {
    if (e == 0) ++zeros;
    else EXPECT_DOUBLE_EQ(e, 1.0 / 0.75);
  }
  EXPECT_NEAR(zeros / 10000.0, 0.25, 0.02);
  // Eval mode and p = 0 are the identity.
  EXPECT_TRUE(dropout(x, 0.5, false, a).same(x));
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  Tensor x = randn({64}, default_generator(), DType::f64).requires_grad_();
  Generator g(12);
  Tensor y = dropout(x, 0.5, true, g);
  sum(y).backward();
  auto yv = y.to_vector<double>(), gv = x.grad().to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) EXPECT_DOUBLE_EQ(gv[i], yv[i] == 0 ? 0.0 : 2.0);
}

TEST(Random, Errors) {
  Generator g(0);
  EXPECT_THROW(rand({2}, g, DType::i64), Error);
  EXPECT_THROW(randint(3, 3, {2}, g), Error);
  EXPECT_THROW(bernoulli({2}, 1.5, g), Error);
  EXPECT_THROW(dropout(ones({2}), 1.0), Error);
  try {
    randint(5, 2, {3}, g);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("randint: low 5 must be less than high 2"), std::string::npos);
  }
}

}  // namespace
}  // namespace stackgrad
