// The conv family: error messages name the op, the argument and the shapes; output shapes and a
// few hand-computed values (PyTorch semantics); max_pool2d indices; the conv kernels give the
// same bits on one and two threads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "engine/runtime/parallel.h"
#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using ::testing::HasSubstr;

namespace {

using ::stackgrad::testing::error_of;

sg::Tensor z(const sg::Shape& s, sg::DType t = sg::DType::f32) { return sg::zeros(s, t); }

TEST(ConvErrors, Conv2dNamesArgumentAndShape) {
  EXPECT_EQ(error_of([] {
              sg::conv2d(z({3, 28, 28}), z({4, 3, 3, 3}));
            }),
            "conv2d: expected input (N,C,H,W), got [3, 28, 28]");
  EXPECT_EQ(error_of([] {
              sg::conv2d(z({1, 3, 8, 8}), z({4, 3, 3}));
            }),
            "conv2d: expected weight (O,C/groups,kh,kw), got [4, 3, 3]");
  EXPECT_THAT(error_of([] {
                sg::conv2d(z({1, 3, 8, 8}), z({4, 2, 3, 3}));
              }),
              HasSubstr("conv2d: weight [4, 2, 3, 3] expects 2 input channels (groups 1), got "
                        "input [1, 3, 8, 8]"));
  EXPECT_THAT(error_of([] {
                sg::conv2d(z({1, 4, 8, 8}), z({3, 2, 3, 3}), {}, {1, 1}, {0, 0}, {1, 1}, 2);
              }),
              HasSubstr("weight [3, 2, 3, 3] dim 0 (3) is not divisible by groups 2"));
  EXPECT_THAT(error_of([] {
                sg::conv2d(z({1, 3, 8, 8}), z({4, 3, 3, 3}), z({3}));
              }),
              HasSubstr("conv2d: expected bias [4], got [3]"));
  EXPECT_THAT(error_of([] {
                sg::conv2d(z({1, 3, 2, 2}), z({4, 3, 3, 3}));
              }),
              HasSubstr("conv2d: kernel 3x3 (dilation {1, 1}) does not fit the padded input "
                        "[1, 3, 2, 2] (padding {0, 0})"));
  EXPECT_THAT(error_of([] {
                sg::conv2d(z({1, 3, 8, 8}), z({4, 3, 3, 3}), {}, {0, 1});
              }),
              HasSubstr("conv2d: stride must be positive, got {0, 1}"));
  EXPECT_THAT(error_of([] {
                sg::conv2d(z({1, 3, 8, 8}), z({4, 3, 3, 3}, sg::DType::f64));
              }),
              HasSubstr("conv2d"));
  EXPECT_THAT(error_of([] {
                sg::conv2d(z({1, 3, 8, 8}, sg::DType::i64), z({4, 3, 3, 3}));
              }),
              HasSubstr("conv2d: expected a floating input"));
}

TEST(ConvErrors, BackwardKernelsCheckTheGradShape) {
  EXPECT_THAT(error_of([] {
                sg::conv2d_backward_input(z({1, 4, 5, 5}), z({4, 3, 3, 3}), {1, 3, 8, 8});
              }),
              HasSubstr("conv2d_backward_input: grad [1, 4, 5, 5] does not match the conv2d "
                        "output [1, 4, 6, 6]"));
  EXPECT_THAT(error_of([] {
                sg::conv2d_backward_weight(z({1, 4, 6, 6}), z({1, 3, 8, 8}), {4, 3, 3});
              }),
              HasSubstr("conv2d_backward_weight: expected weight_shape (O,C/groups,kh,kw), got "
                        "[4, 3, 3]"));
}

TEST(ConvErrors, TransposeAndPooling) {
  EXPECT_THAT(error_of([] {
                sg::conv_transpose2d(z({1, 3, 4, 4}), z({4, 2, 3, 3}));
              }),
              HasSubstr("conv_transpose2d: weight [4, 2, 3, 3] expects 4 input channels, got "
                        "input [1, 3, 4, 4]"));
  EXPECT_THAT(error_of([] {
                sg::conv_transpose2d(z({1, 3, 4, 4}), z({3, 2, 3, 3}), {}, {2, 2}, {0, 0}, {2, 0});
              }),
              HasSubstr("output_padding {2, 0} must be non-negative and smaller than stride"));
  EXPECT_THAT(error_of([] {
                sg::max_pool2d(z({1, 2, 8, 8}), {3, 3}, {1, 1}, {2, 2});
              }),
              HasSubstr("max_pool2d: padding {2, 2} must be non-negative and at most half the "
                        "kernel {3, 3}"));
  EXPECT_EQ(error_of([] {
              sg::avg_pool2d(z({2, 8, 8}), {2, 2});
            }),
            "avg_pool2d: expected input (N,C,H,W), got [2, 8, 8]");
  EXPECT_THAT(error_of([] {
                sg::adaptive_avg_pool2d(z({1, 2, 8, 8}), {0, 2});
              }),
              HasSubstr("adaptive_avg_pool2d: output size must be positive, got {0, 2}"));
  EXPECT_THAT(error_of([] {
                sg::upsample(z({1, 2, 4, 4}), -1.0);
              }),
              HasSubstr("upsample: scale must be positive"));
  EXPECT_THAT(error_of([] {
                sg::max_pool2d_backward(z({1, 1, 1, 1}), sg::full({1, 1, 1, 1}, 9, sg::DType::i64),
                                        {1, 1, 2, 2});
              }),
              HasSubstr("max_pool2d_backward: index 9 is outside the 2x2 plane"));
}

TEST(Conv, ShapesAndValuesFollowPyTorch) {
  // All-ones 3x3 kernel over an all-ones image with padding 1: 4 at corners, 6 at edges, 9 inside.
  sg::Tensor y = sg::conv2d(sg::ones({1, 1, 4, 4}), sg::ones({1, 1, 3, 3}), {}, {1, 1}, {1, 1});
  EXPECT_EQ(y.to_vector<float>(),
            (std::vector<float>{4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4}));
  EXPECT_EQ(sg::conv2d(z({2, 4, 9, 7}), z({6, 2, 3, 2}), {}, {2, 1}, {1, 0}, {1, 2}, 2).shape(),
            (sg::Shape{2, 6, 5, 5}));
  EXPECT_EQ(
      sg::conv_transpose2d(z({2, 4, 3, 3}), z({4, 3, 3, 3}), {}, {2, 2}, {1, 1}, {1, 1}).shape(),
      (sg::Shape{2, 3, 6, 6}));
  EXPECT_EQ(sg::max_pool2d(z({1, 1, 5, 5}), {2, 2}, {2, 2}, {0, 0}, {1, 1}, true).shape(),
            (sg::Shape{1, 1, 3, 3}));
  EXPECT_EQ(sg::upsample(z({1, 1, 3, 5}), 2.0).shape(), (sg::Shape{1, 1, 6, 10}));
}

TEST(Conv, MaxPoolIndicesAreFlatWithinThePlane) {
  sg::Tensor x =
      sg::from_vector<float>({1, 5, 2, 0, 3, 4, 9, 8, 7, 6, 2, 1, 0, 0, 0, 3}, {1, 1, 4, 4});
  auto r = sg::max_pool2d_with_indices(x, {2, 2});
  EXPECT_EQ(r.values.to_vector<float>(), (std::vector<float>{5, 9, 7, 3}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 6, 8, 15}));
  // Gradients go to the maxima only.
  sg::Tensor xg = x.clone().requires_grad_();
  sg::sum(sg::max_pool2d(xg, {2, 2})).backward();
  EXPECT_EQ(xg.grad().to_vector<float>(),
            (std::vector<float>{0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1}));
}

// Weight-gradient partial sums are combined in chunk order: the result must not depend on the
// thread count beyond that order; forward and input gradient are per image and bit-identical.
TEST(Conv, ForwardAndInputGradientDoNotDependOnThreads) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> d;
  std::vector<float> xv(4 * 8 * 10 * 10), wv(16 * 8 * 3 * 3);
  for (auto& v : xv) v = d(rng);
  for (auto& v : wv) v = d(rng);
  sg::Tensor x = sg::from_vector(xv, {4, 8, 10, 10}), w = sg::from_vector(wv, {16, 8, 3, 3});
  const int saved = sg::num_threads();
  auto run = [&](int threads) {
    sg::set_num_threads(threads);
    sg::Tensor y = sg::conv2d(x, w, {}, {1, 1}, {1, 1});
    sg::Tensor dx = sg::conv2d_backward_input(y, w, x.shape(), {1, 1}, {1, 1});
    return std::pair{y.to_vector<float>(), dx.to_vector<float>()};
  };
  auto one = run(1), two = run(2);
  sg::set_num_threads(saved);
  EXPECT_EQ(one.first, two.first);
  EXPECT_EQ(one.second, two.second);
}

}  // namespace
