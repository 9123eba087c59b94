// Reduce family: the messages of every check, and the semantics that the op suite's
// random-input comparisons cannot pin down (ties, zeros, infinities, NaN, determinism).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using ::stackgrad::testing::error_of;

using ::testing::HasSubstr;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The message of the Error that f throws ("" if none).
Tensor vec(const std::vector<double>& v) { return from_vector(v); }

std::vector<double> values(const Tensor& t) {
  return t.to(DType::f64).contiguous().to_vector<double>();
}

Tensor leaf(const std::vector<double>& v) {
  Tensor t = vec(v);
  t.requires_grad_(true);
  return t;
}

// --- errors -------------------------------------------------------------------------------------

TEST(ReduceErrors, DimsOutOfRangeOrRepeated) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(error_of([&] { sum(x, {2}); }),
              HasSubstr("sum: dim 2 is out of range for a tensor with 2 dims"));
  EXPECT_THAT(error_of([&] { prod(x, {-3}); }), HasSubstr("prod: dim -3 is out of range"));
  EXPECT_THAT(error_of([&] {
                max(x, {1, -1});
              }),
              HasSubstr("max: dim 1 appears twice in the reduction dims"));
  EXPECT_THAT(error_of([&] { var(x, {0, 0}); }), HasSubstr("var: dim 0 appears twice"));
  EXPECT_THAT(error_of([&] { argmax(x, 5); }), HasSubstr("argmax: dim 5 is out of range"));
  EXPECT_THAT(error_of([&] { cumsum(x, 2); }), HasSubstr("cumsum: dim 2 is out of range"));
  EXPECT_THAT(error_of([&] { softmax(x, -3); }), HasSubstr("softmax: dim -3 is out of range"));
  EXPECT_THAT(error_of([&] { log_softmax(x, 7); }),
              HasSubstr("log_softmax: dim 7 is out of range"));
  EXPECT_THAT(error_of([&] { logsumexp(x, {3}); }), HasSubstr("logsumexp: dim 3 is out of range"));
  EXPECT_THAT(error_of([&] { norm(x, 2.0, {9}); }), HasSubstr("norm: dim 9 is out of range"));
}

TEST(ReduceErrors, BoolInputsNameTheOpAndTheTensor) {
  Tensor b = zeros({2, 3}) > 0.0;
  EXPECT_THAT(error_of([&] { sum(b); }), HasSubstr("sum: bool tensors cannot be summed"));
  EXPECT_THAT(error_of([&] { prod(b); }),
              HasSubstr("prod: bool tensors are not supported, got bool[2, 3]"));
  EXPECT_THAT(error_of([&] { max(b); }), HasSubstr("max: bool tensors are not supported"));
  EXPECT_THAT(error_of([&] { min(b); }), HasSubstr("min: bool tensors are not supported"));
  EXPECT_THAT(error_of([&] { argmax(b); }), HasSubstr("argmax: bool tensors are not supported"));
  EXPECT_THAT(error_of([&] { argmin(b); }), HasSubstr("argmin: bool tensors are not supported"));
  EXPECT_THAT(error_of([&] { cumsum(b, 0); }), HasSubstr("cumsum: bool tensors are not supported"));
}

TEST(ReduceErrors, FloatingOnlyOpsRejectIntegers) {
  Tensor i = zeros({2, 3}, DType::i64);
  EXPECT_THAT(error_of([&] { mean(i); }),
              HasSubstr("mean: expected a floating tensor, got i64[2, 3]"));
  EXPECT_THAT(error_of([&] { var(i); }),
              HasSubstr("var: expected a floating tensor (f32, f64), got i64[2, 3]"));
  EXPECT_THAT(error_of([&] { std(i); }), HasSubstr("std: expected a floating tensor"));
  EXPECT_THAT(error_of([&] { logsumexp(i); }), HasSubstr("logsumexp: expected a floating tensor"));
  EXPECT_THAT(error_of([&] { norm(i); }), HasSubstr("norm: expected a floating tensor"));
  EXPECT_THAT(error_of([&] { softmax(i, 0); }), HasSubstr("softmax: expected a floating tensor"));
  EXPECT_THAT(error_of([&] { log_softmax(i, 0); }),
              HasSubstr("log_softmax: expected a floating tensor"));
}

TEST(ReduceErrors, EmptyReductionsWithoutAValue) {
  Tensor x = zeros({0, 3});
  EXPECT_THAT(error_of([&] { max(x, {0}); }),
              HasSubstr("max: cannot reduce over zero elements (dims [0] of f32[0, 3] on cpu)"));
  EXPECT_THAT(error_of([&] { min(x); }), HasSubstr("min: cannot reduce over zero elements"));
  EXPECT_THAT(error_of([&] { argmax(x); }), HasSubstr("argmax: cannot reduce over zero elements"));
  EXPECT_THAT(error_of([&] { argmin(x, 0); }),
              HasSubstr("argmin: cannot reduce over zero elements"));
  // Reducing the non-empty dim is fine: the output is empty.
  EXPECT_EQ(shape_str(max(x, {1}).shape()), "[0]");
  EXPECT_EQ(shape_str(argmax(x, 1).shape()), "[0]");
}

TEST(ReduceErrors, BadParameters) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(error_of([&] { norm(x, 3.0); }),
              HasSubstr("norm: p must be 1, 2 or infinity, got 3"));
  EXPECT_THAT(error_of([&] { norm(x, 0.0); }),
              HasSubstr("norm: p must be 1, 2 or infinity, got 0"));
  EXPECT_THAT(error_of([&] { var(x, {}, -1); }),
              HasSubstr("var: correction must be non-negative, got -1"));
  EXPECT_THAT(error_of([&] { std(x, {}, -2); }),
              HasSubstr("var: correction must be non-negative, got -2"));
}

// --- semantics ----------------------------------------------------------------------------------

TEST(ReduceSemantics, EmptyReductionValues) {
  Tensor x = zeros({0, 2});
  EXPECT_EQ(values(sum(x, {0})), (std::vector<double>{0, 0}));
  EXPECT_EQ(values(prod(x, {0})), (std::vector<double>{1, 1}));
  EXPECT_EQ(values(norm(x, 2.0, {0})), (std::vector<double>{0, 0}));
  EXPECT_EQ(values(logsumexp(x, {0}))[0], -kInf);
  EXPECT_TRUE(std::isnan(values(mean(x, {0}))[0]));
  EXPECT_TRUE(std::isnan(values(var(x, {0}))[0]));
}

TEST(ReduceSemantics, ArgExtremaTakeTheFirstIndexOnTies) {
  EXPECT_EQ(argmax(vec({1, 3, 3, 2})).item<int64_t>(), 1);
  EXPECT_EQ(argmin(vec({2, 1, 4, 1})).item<int64_t>(), 1);
  Tensor m = from_vector<double>({5, 1, 5, 1, 5, 1}, {3, 2});
  EXPECT_EQ(argmax(m, 0).to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(argmin(m, 0).to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
  // Across the chunks of a long reduction and the blocks of the column walk.
  Tensor longv = zeros({50000});
  longv.select(0, 30000).fill_(7.0);
  longv.select(0, 45000).fill_(7.0);
  EXPECT_EQ(argmax(longv).item<int64_t>(), 30000);
  EXPECT_EQ(argmin(longv).item<int64_t>(), 0);
  Tensor cols = zeros({50000, 3});
  cols.select(0, 40000).fill_(1.0);
  cols.select(0, 20000).fill_(1.0);
  EXPECT_EQ(argmax(cols, 0).to_vector<int64_t>(), (std::vector<int64_t>{20000, 20000, 20000}));
}

TEST(ReduceSemantics, ArgExtremaShapes) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_EQ(shape_str(argmax(x).shape()), "[]");
  EXPECT_EQ(shape_str(argmax(x, std::nullopt, true).shape()), "[1, 1, 1]");
  EXPECT_EQ(shape_str(argmin(x, 1).shape()), "[2, 4]");
  EXPECT_EQ(shape_str(argmin(x, -2, true).shape()), "[2, 1, 4]");
  EXPECT_EQ(argmax(x).dtype(), DType::i64);
  // The flattened index is the C-order position, also for a non-contiguous input.
  Tensor t = from_vector<double>({0, 1, 2, 9, 4, 5}, {2, 3}).t();  // [[0, 9], [1, 4], [2, 5]]
  EXPECT_EQ(argmax(t).item<int64_t>(), 1);
}

TEST(ReduceSemantics, NaNPropagates) {
  Tensor x = vec({1, kNaN, 3});
  EXPECT_TRUE(std::isnan(max(x).item()));
  EXPECT_TRUE(std::isnan(min(x).item()));
  EXPECT_EQ(argmax(x).item<int64_t>(), 1);
  EXPECT_EQ(argmin(x).item<int64_t>(), 1);
  EXPECT_TRUE(std::isnan(norm(x, kInf).item()));
  EXPECT_TRUE(std::isnan(logsumexp(x).item()));
  EXPECT_TRUE(std::isnan(logsumexp(vec({kInf, kNaN})).item()));
}

TEST(ReduceSemantics, MaxGradientIsSplitAmongTies) {
  Tensor x = leaf({1, 3, 3, 0});
  max(x).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0.5, 0.5, 0}));
  Tensor y = leaf({2, 2, 2, 5});
  min(y).backward();
  EXPECT_EQ(values(y.grad()), (std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3, 0}));
  Tensor z = leaf({-4, 1, 4});
  norm(z, kInf).backward();
  EXPECT_EQ(values(z.grad()), (std::vector<double>{-0.5, 0, 0.5}));
}

TEST(ReduceSemantics, ProdGradientWithZeros) {
  Tensor one = leaf({2, 0, 3});
  prod(one).backward();
  EXPECT_EQ(values(one.grad()), (std::vector<double>{0, 6, 0}));
  Tensor two = leaf({0, 5, 0});
  prod(two).backward();
  EXPECT_EQ(values(two.grad()), (std::vector<double>{0, 0, 0}));
  Tensor none = leaf({2, 4, 0.5});
  prod(none).backward();
  EXPECT_EQ(values(none.grad()), (std::vector<double>{2, 1, 8}));
}

TEST(ReduceSemantics, TwoNormGradientAtZeroIsZero) {
  Tensor x = leaf({0, 0, 0});
  norm(x).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0, 0}));
  Tensor m = from_vector<double>({0, 0, 3, 4}, {2, 2});
  m.requires_grad_(true);
  sum(norm(m, 2.0, {1})).backward();
  EXPECT_EQ(values(m.grad()), (std::vector<double>{0, 0, 0.6, 0.8}));
}

TEST(ReduceSemantics, StableForLargeAndInfiniteInputs) {
  EXPECT_NEAR(logsumexp(vec({1000, 1000})).item(), 1000 + std::log(2.0), 1e-9);
  EXPECT_NEAR(logsumexp(vec({-1000, -1000})).item(), -1000 + std::log(2.0), 1e-9);
  EXPECT_EQ(logsumexp(vec({-kInf, -kInf})).item(), -kInf);
  EXPECT_EQ(logsumexp(vec({kInf, 1})).item(), kInf);
  EXPECT_EQ(values(softmax(vec({1000, 0}), 0)), (std::vector<double>{1, 0}));
  auto ls = values(log_softmax(vec({1000, 0}), 0));
  EXPECT_EQ(ls[0], 0);
  EXPECT_EQ(ls[1], -1000);
  auto f = values(softmax(vec({88.0, 89.0}).to(DType::f32), 0));
  EXPECT_NEAR(f[0] + f[1], 1.0, 1e-6);
  // Squares of f32 values past 1.8e19 overflow f32, not the double accumulator.
  EXPECT_NEAR(norm(vec({3e30, 4e30}).to(DType::f32)).item() / 5e30, 1.0, 1e-6);
}

TEST(ReduceSemantics, VarianceAndCorrection) {
  Tensor x = vec({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(var(x, {}, 0).item(), 1.25);
  EXPECT_DOUBLE_EQ(var(x).item(), 5.0 / 3);
  EXPECT_DOUBLE_EQ(std(x, {}, 0).item(), std::sqrt(1.25));
  EXPECT_TRUE(std::isinf(var(x, {}, 4).item()));
  EXPECT_TRUE(std::isnan(var(vec({2})).item()));
  // Far from zero, a single-pass sum of squares would cancel; Welford does not.
  Tensor shifted = vec({1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4});
  EXPECT_NEAR(var(shifted, {}, 0).item(), 1.25, 1e-6);
  EXPECT_NEAR(var(shifted.to(DType::f32), {}, 0).item(),
              var(shifted.to(DType::f32).to(DType::f64), {}, 0).item(), 1e-6);
}

TEST(ReduceSemantics, CumsumAndItsBackward) {
  EXPECT_EQ(values(cumsum(vec({1, 2, 3, 4}), 0)), (std::vector<double>{1, 3, 6, 10}));
  Tensor x = leaf({1, 2, 3, 4});
  sum(cumsum(x, 0) * vec({1, 10, 100, 1000})).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{1111, 1110, 1100, 1000}));
  Tensor i = from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(cumsum(i, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 5, 7, 9}));
  EXPECT_EQ(cumsum(i, 0).dtype(), DType::i64);
}

TEST(ReduceSemantics, IntegerSumsAndProductsWrap) {
  Tensor i = from_vector<int32_t>({2147483647, 1});
  EXPECT_EQ(sum(i).item<int64_t>(), -2147483648LL);
  Tensor u = from_vector<uint8_t>({200, 100});
  EXPECT_EQ(sum(u).item<int64_t>(), 44);
  EXPECT_EQ(prod(from_vector<int64_t>({1LL << 62, 4})).item<int64_t>(), 0);
}

// Chunks are cut by shape, not by thread count: the same bits for 1 and 2 threads.
TEST(ReduceSemantics, ResultsDoNotDependOnTheThreadCount) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> dist;
  std::vector<float> v(300000);
  for (auto& e : v) e = dist(rng);
  Tensor x = from_vector(v);
  Tensor cols = x.view({100000, 3}), rows = x.view({3, 100000});
  auto run = [&] {
    return std::vector<Tensor>{sum(x),         var(x),         logsumexp(x),
                               norm(x),        sum(cols, {0}), var(cols, {0}),
                               max(rows, {1}), sum(rows, {1}), argmax(cols, 0).to(DType::f32)};
  };
  const int saved = num_threads();
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(saved);
  for (size_t k = 0; k < one.size(); ++k) EXPECT_TRUE(equal(one[k], two[k])) << "result " << k;
}

TEST(ReduceSemantics, KeepdimShapes) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_EQ(shape_str(sum(x, {0, 2}, true).shape()), "[1, 3, 1]");
  EXPECT_EQ(shape_str(mean(x, {-1}).shape()), "[2, 3]");
  EXPECT_EQ(shape_str(var(x, {1}, 1, true).shape()), "[2, 1, 4]");
  EXPECT_EQ(shape_str(logsumexp(x, {}, true).shape()), "[1, 1, 1]");
  EXPECT_EQ(shape_str(norm(x, 1.0, {0}).shape()), "[3, 4]");
  EXPECT_EQ(shape_str(max(x).shape()), "[]");
  EXPECT_EQ(shape_str(softmax(x, 1).shape()), "[2, 3, 4]");
}

}  // namespace
}  // namespace stackgrad
