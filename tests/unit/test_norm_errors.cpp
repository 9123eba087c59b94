// The norm family against hand-computed values (PyTorch's conventions: running statistics with
// momentum and the unbiased variance, eval with the running ones, the padding row of an
// embedding), determinism across thread counts, and error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using ::stackgrad::testing::error_of;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

sg::Tensor f64(const std::vector<double>& v, const sg::Shape& s) { return sg::from_vector(v, s); }
sg::Tensor i64(const std::vector<int64_t>& v, const sg::Shape& s) { return sg::from_vector(v, s); }
std::vector<double> values(const sg::Tensor& t) { return t.contiguous().to_vector<double>(); }

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

// x [4, 2]: channel 0 holds 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3);
// channel 1 holds 0, 0, 2, 2 (mean 1, biased var 1, unbiased 4/3).
sg::Tensor bn_input() { return f64({1, 0, 2, 0, 3, 2, 4, 2}, {4, 2}); }

TEST(BatchNorm, TrainingUpdatesRunningStatisticsLikePyTorch) {
  sg::Tensor rm = f64({0, 1}, {2}), rv = f64({1, 2}, {2});
  sg::Tensor y = sg::batch_norm(bn_input(), rm, rv, {}, {}, true, 0.1, 1e-5);
  // running = 0.9 running + 0.1 batch statistic, the variance unbiased.
  expect_near(values(rm), {0.9 * 0 + 0.1 * 2.5, 0.9 * 1 + 0.1 * 1.0}, 1e-15);
  expect_near(values(rv), {0.9 * 1 + 0.1 * (5.0 / 3.0), 0.9 * 2 + 0.1 * (4.0 / 3.0)}, 1e-15);
  // y uses the biased batch variance.
  const double r0 = 1 / std::sqrt(1.25 + 1e-5), r1 = 1 / std::sqrt(1.0 + 1e-5);
  expect_near(values(y),
              {-1.5 * r0, -1 * r1, -0.5 * r0, -1 * r1, 0.5 * r0, 1 * r1, 1.5 * r0, 1 * r1}, 1e-12);
  // A second step starts from the updated statistics.
  sg::batch_norm(bn_input(), rm, rv, {}, {}, true, 0.1, 1e-5);
  expect_near(values(rm), {0.9 * 0.25 + 0.25, 0.9 * 1.0 + 0.1}, 1e-15);
  expect_near(values(rv),
              {0.9 * (0.9 + 1.0 / 6.0) + 1.0 / 6.0, 0.9 * (1.8 + 0.4 / 3.0) + 0.4 / 3.0}, 1e-14);
}

TEST(BatchNorm, SpatialDimsCountInTheUnbiasedVariance) {
  // One channel of N * S = 2 * 3 values 0..5: mean 2.5, biased var 35/12, unbiased 3.5.
  for (sg::DType dt : {sg::DType::f32, sg::DType::f64}) {
    sg::Tensor x = f64({0, 1, 2, 3, 4, 5}, {2, 1, 3}).to(dt);
    sg::Tensor rm = sg::zeros({1}, dt), rv = sg::ones({1}, dt);
    sg::batch_norm(x, rm, rv, {}, {}, true, 0.5, 1e-5);
    EXPECT_NEAR(rm.item(), 1.25, 1e-6);
    EXPECT_NEAR(rv.item(), 0.5 + 0.5 * 3.5, 1e-6);
  }
}

TEST(BatchNorm, WideInputMatchesByHandOnBothKernelPaths) {
  // [N, C] with C = 11 runs one 8-channel block and 3 single channels; every channel holds
  // c + {0, 1, 2, 3} * (c + 1): mean c + 1.5 (c + 1), biased var 1.25 (c + 1)^2.
  const int64_t C = 11;
  std::vector<double> v(4 * C);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t c = 0; c < C; ++c) v[i * C + c] = c + i * (c + 1.0);
  sg::Tensor rm = sg::zeros({C}, sg::DType::f64), rv = sg::ones({C}, sg::DType::f64);
  sg::Tensor w = sg::full({C}, 2.0, sg::DType::f64), b = sg::full({C}, -1.0, sg::DType::f64);
  sg::Tensor y = sg::batch_norm(f64(v, {4, C}), rm, rv, w, b, true, 0.2, 0.0);
  const std::vector<double> yv = values(y), rmv = values(rm), rvv = values(rv);
  for (int64_t c = 0; c < C; ++c) {
    const double mean = c + 1.5 * (c + 1), var = 1.25 * (c + 1) * (c + 1);
    EXPECT_NEAR(rmv[c], 0.2 * mean, 1e-12) << c;
    EXPECT_NEAR(rvv[c], 0.8 + 0.2 * var * 4 / 3, 1e-12) << c;
    for (int64_t i = 0; i < 4; ++i)
      EXPECT_NEAR(yv[i * C + c], 2 * (v[i * C + c] - mean) / std::sqrt(var) - 1, 1e-12);
  }
}

TEST(BatchNorm, EvalUsesRunningStatisticsAndLeavesThem) {
  sg::Tensor rm = f64({1, -1}, {2}), rv = f64({4, 0.25}, {2});
  sg::Tensor w = f64({2, 3}, {2}), b = f64({0.5, 0}, {2});
  sg::Tensor y = sg::batch_norm(bn_input(), rm, rv, w, b, false, 0.1, 0.0);
  // y = (x - rm) / sqrt(rv) * w + b.
  expect_near(values(y), {0.5, 6, 1.5, 6, 2.5, 18, 3.5, 18}, 1e-12);
  expect_near(values(rm), {1, -1}, 0);
  expect_near(values(rv), {4, 0.25}, 0);
}

TEST(BatchNorm, GradientsOfWeightAndBias) {
  // dbias = sum of the upstream gradient; dweight = sum of it times xhat.
  sg::Tensor w = f64({1, 1}, {2}).requires_grad_(), b = f64({0, 0}, {2}).requires_grad_();
  sg::Tensor y = sg::batch_norm(bn_input(), {}, {}, w, b, true, 0.1, 0.0);
  sg::sum(y * f64({1, 0, 0, 0, 0, 0, 0, 1}, {4, 2})).backward();
  expect_near(values(b.grad()), {1, 1}, 1e-12);
  expect_near(values(w.grad()), {-1.5 / std::sqrt(1.25), 1}, 1e-12);
}

TEST(LayerNorm, ByHand) {
  // Row [1, 2, 3]: mean 2, var 2/3; a constant row normalises to 0 (eps keeps 0 / 0 away).
  sg::Tensor y = sg::layer_norm(f64({1, 2, 3, 5, 5, 5}, {2, 3}), {3}, {}, {}, 1e-12);
  const double s = std::sqrt(1.5);
  expect_near(values(y), {-s, 0, s, 0, 0, 0}, 1e-12);
}

TEST(GroupNorm, ByHand) {
  // Two groups of two channels, one position each: [1, 3 | 10, 14].
  sg::Tensor y = sg::group_norm(f64({1, 3, 10, 14}, {1, 4, 1}), 2, {}, {}, 0.0);
  expect_near(values(y), {-1, 1, -1, 1}, 1e-12);
}

TEST(Embedding, LooksUpRowsAndSumsGradientsExceptPadding) {
  sg::Tensor w = f64({0, 1, 10, 11, 20, 21}, {3, 2}).requires_grad_();
  sg::Tensor idx = i64({2, 0, 2, 1}, {2, 2});
  sg::Tensor y = sg::embedding(w, idx, 1);
  EXPECT_EQ(sg::shape_str(y.shape()), "[2, 2, 2]");
  expect_near(values(y), {20, 21, 0, 1, 20, 21, 10, 11}, 0);
  sg::sum(y * f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2})).backward();
  // Row 2 gets positions 0 and 2, row 0 position 1, row 1 is the padding row.
  expect_near(values(w.grad()), {3, 4, 0, 0, 6, 8}, 0);
}

TEST(NormKernels, SameBitsOnOneAndTwoThreads) {
  sg::Generator g(3);
  sg::Tensor x = sg::randn({64, 300}, g), dy = sg::randn({64, 300}, g);
  sg::Tensor w = sg::randn({300}, g), rows = sg::randn({2000, 16}, g);
  sg::Tensor idx = sg::randint(0, 50, {2000}, g);
  auto run = [&] {
    sg::Tensor m = sg::mean(x, {1}), r = sg::rsqrt(sg::var(x, {1}, 0) + 1e-5);
    sg::NormGrads d = sg::layer_norm_backward(x, dy, m, r, {300}, w);
    return std::vector<sg::Tensor>{sg::layer_norm(x, {300}, w, {}), d.input, d.weight,
                                   sg::embedding_backward(rows, idx, 50)};
  };
  const int before = sg::num_threads();
  sg::set_num_threads(1);
  auto one = run();
  sg::set_num_threads(2);
  auto two = run();
  sg::set_num_threads(before);
  for (size_t i = 0; i < one.size(); ++i)
    EXPECT_EQ(one[i].to_vector<float>(), two[i].to_vector<float>()) << "output " << i;
}

// --- errors ----------------------------------------------------------------------------------

TEST(NormErrors, BatchNorm) {
  sg::Tensor x = sg::zeros({4, 3}), c3 = sg::zeros({3}), c2 = sg::zeros({2});
  EXPECT_THAT(error_of([&] { sg::batch_norm(sg::zeros({3}), c3, c3); }),
              HasSubstr("batch_norm: expected input (N, C) or (N, C, d1, ...), got f32[3]"));
  EXPECT_THAT(error_of([&] { sg::batch_norm(x, c3, c3, c2); }),
              HasSubstr("batch_norm: expected weight of shape [3] for input [4, 3], got f32[2]"));
  EXPECT_THAT(error_of([&] { sg::batch_norm(x, c3, {}, {}, {}, true); }),
              HasSubstr("running_mean and running_var must be given together"));
  EXPECT_THAT(error_of([&] { sg::batch_norm(x, {}, {}); }),
              HasSubstr("batch_norm: running_mean and running_var are required in eval mode"));
  EXPECT_THAT(error_of([&] {
                sg::batch_norm(sg::zeros({1, 3}), c3, c3, {}, {}, true);
              }),
              HasSubstr("expected more than 1 value per channel when training, got input [1, 3]"));
  sg::Tensor needs_grad = sg::zeros({3}).requires_grad_();
  EXPECT_THAT(error_of([&] { sg::batch_norm(x, needs_grad, c3, {}, {}, true); }),
              HasSubstr("batch_norm: running_mean is updated in place and must not require grad"));
  EXPECT_THAT(error_of([&] { sg::batch_norm(x, c3.to(sg::DType::f64), c3.to(sg::DType::f64)); }),
              HasSubstr("batch_norm"));
  EXPECT_THAT(error_of([&] { sg::batch_norm(x.to(sg::DType::i64), {}, {}, {}, {}, true); }),
              HasSubstr("batch_norm: expected a floating input"));
}

TEST(NormErrors, LayerAndGroupNorm) {
  sg::Tensor x = sg::zeros({2, 3, 4});
  EXPECT_THAT(error_of([&] { sg::layer_norm(x, {3}); }),
              HasSubstr("layer_norm: normalized_shape [3] does not match the trailing dims of "
                        "input [2, 3, 4]"));
  EXPECT_THAT(error_of([&] { sg::layer_norm(x, {}); }),
              HasSubstr("layer_norm: normalized_shape must have at least one dim"));
  EXPECT_THAT(error_of([&] {
                sg::layer_norm(x, {3, 4}, sg::zeros({4}));
              }),
              HasSubstr("layer_norm: expected weight of shape [3, 4]"));
  EXPECT_THAT(error_of([&] { sg::group_norm(x, 2); }),
              HasSubstr("group_norm: the 3 channels of input [2, 3, 4] must split into groups = "
                        "2 equal groups"));
  EXPECT_THAT(error_of([&] { sg::group_norm(x, 0); }), HasSubstr("groups = 0"));
  EXPECT_THAT(error_of([&] { sg::group_norm(sg::zeros({3}), 1); }),
              HasSubstr("group_norm: expected input (N, C, d1, ...), got f32[3]"));
  EXPECT_THAT(error_of([&] { sg::group_norm(x, 3, {}, sg::zeros({4})); }),
              HasSubstr("group_norm: expected bias of shape [3]"));
}

TEST(NormErrors, Embedding) {
  sg::Tensor w = sg::zeros({10, 4});
  EXPECT_THAT(error_of([&] {
                sg::embedding(w, i64({3, 10, 2}, {3}));
              }),
              HasSubstr("embedding: index 10 (at flat position 1 of indices [3]) is out of range "
                        "for 10 embeddings (expected 0 <= index < 10)"));
  EXPECT_THAT(error_of([&] { sg::embedding(w, i64({-1}, {1})); }), HasSubstr("index -1"));
  EXPECT_THAT(error_of([&] { sg::embedding(w, i64({1}, {1}).to(sg::DType::i32)); }),
              HasSubstr("embedding: expected indices of dtype i64, got i32[1]"));
  EXPECT_THAT(error_of([&] { sg::embedding(w, i64({1}, {1}), 10); }),
              HasSubstr("embedding: padding_idx 10 is out of range for 10 embeddings"));
  EXPECT_THAT(error_of([&] { sg::embedding(sg::zeros({10}), i64({1}, {1})); }),
              HasSubstr("embedding: expected weight (num_embeddings, embedding_dim), got f32[10]"));
  EXPECT_THAT(error_of([&] {
                sg::embedding_backward(sg::zeros({3, 4}), i64({1, 2}, {2}), 5);
              }),
              HasSubstr("embedding_backward: grad must have shape indices.shape + [D]"));
}

}  // namespace
