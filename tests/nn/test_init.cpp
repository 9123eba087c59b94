// nn/init.h: gains and fans against torch's formulas, the statistics of each initialiser on
// large tensors, determinism per seed, and orthogonality.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nn/init.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
namespace nn = stackgrad::nn;
using sg::Tensor;
using ::testing::HasSubstr;

namespace {

double mean_of(const Tensor& t) { return sg::mean(t.to(sg::DType::f64)).item(); }
double std_of(const Tensor& t) { return sg::std(t.to(sg::DType::f64)).item(); }
double max_abs(const Tensor& t) { return sg::max(sg::abs(t)).item(); }

}  // namespace

TEST(Init, GainsMatchTorch) {
  EXPECT_DOUBLE_EQ(nn::calculate_gain(nn::Nonlinearity::linear), 1.0);
  EXPECT_DOUBLE_EQ(nn::calculate_gain(nn::Nonlinearity::conv2d), 1.0);
  EXPECT_DOUBLE_EQ(nn::calculate_gain(nn::Nonlinearity::sigmoid), 1.0);
  EXPECT_DOUBLE_EQ(nn::calculate_gain(nn::Nonlinearity::tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::calculate_gain(nn::Nonlinearity::relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::calculate_gain(nn::Nonlinearity::selu), 0.75);
  // torch.nn.init.calculate_gain('leaky_relu') and ('leaky_relu', math.sqrt(5)).
  EXPECT_NEAR(nn::calculate_gain(nn::Nonlinearity::leaky_relu), 1.4141428569978354, 1e-15);
  EXPECT_NEAR(nn::calculate_gain(nn::Nonlinearity::leaky_relu, std::sqrt(5.0)), 0.5773502691896257,
              1e-15);
}

TEST(Init, FansOfLinearAndConvWeights) {
  nn::Fans lin = nn::fan_in_out({256, 784});
  EXPECT_EQ(lin.fan_in, 784);
  EXPECT_EQ(lin.fan_out, 256);
  nn::Fans conv = nn::fan_in_out({16, 3, 5, 5});
  EXPECT_EQ(conv.fan_in, 3 * 25);
  EXPECT_EQ(conv.fan_out, 16 * 25);
  EXPECT_THAT(sg::testing::error_of([] { nn::fan_in_out({10}); }),
              HasSubstr("fan_in_out: needs a tensor with at least 2 dims, got shape [10]"));
}

TEST(Init, KaimingUniformBoundAndStd) {
  sg::Generator gen(1);
  Tensor w = sg::empty({400, 500});
  nn::kaiming_uniform_(w, gen);  // a = 0, leaky_relu: gain sqrt(2), bound sqrt(6 / 500)
  double bound = std::sqrt(6.0 / 500.0);
  EXPECT_LE(max_abs(w), bound);
  EXPECT_GT(max_abs(w), 0.999 * bound);
  EXPECT_NEAR(mean_of(w), 0.0, 0.01 * bound);
  EXPECT_NEAR(std_of(w), bound / std::sqrt(3.0), 0.01 * bound / std::sqrt(3.0));
}

TEST(Init, KaimingUniformWithTorchsLinearSlopeIsOneOverSqrtFanIn) {
  sg::Generator gen(2);
  Tensor w = sg::empty({300, 100}, sg::DType::f64);
  nn::kaiming_uniform_(w, gen, std::sqrt(5.0));
  EXPECT_LE(max_abs(w), 0.1);
  EXPECT_GT(max_abs(w), 0.0999);
}

TEST(Init, KaimingNormalStdFanOut) {
  sg::Generator gen(3);
  Tensor w = sg::empty({50, 40, 3, 3});  // fan_out = 450
  nn::kaiming_normal_(w, gen, 0.0, nn::FanMode::fan_out, nn::Nonlinearity::relu);
  double want = std::sqrt(2.0 / 450.0);
  EXPECT_NEAR(std_of(w), want, 0.01 * want);
  EXPECT_NEAR(mean_of(w), 0.0, 0.01 * want);
}

TEST(Init, XavierUniformAndNormal) {
  sg::Generator gen(4);
  Tensor u = sg::empty({300, 500});
  nn::xavier_uniform_(u, gen, 2.0);
  double bound = 2.0 * std::sqrt(6.0 / 800.0);
  EXPECT_LE(max_abs(u), bound);
  EXPECT_GT(max_abs(u), 0.999 * bound);
  Tensor n = sg::empty({300, 500});
  nn::xavier_normal_(n, gen);
  double want = std::sqrt(2.0 / 800.0);
  EXPECT_NEAR(std_of(n), want, 0.01 * want);
}

TEST(Init, UniformNormalConstant) {
  sg::Generator gen(5);
  Tensor u = sg::empty({100000});
  nn::uniform_(u, gen, 2.0, 4.0);
  EXPECT_GE(sg::min(u).item(), 2.0);
  EXPECT_LT(sg::max(u).item(), 4.0);
  EXPECT_NEAR(mean_of(u), 3.0, 0.01);
  Tensor n = sg::empty({100000});
  nn::normal_(n, gen, -1.0, 0.5);
  EXPECT_NEAR(mean_of(n), -1.0, 0.01);
  EXPECT_NEAR(std_of(n), 0.5, 0.005);
  nn::constant_(n, 0.25);
  EXPECT_EQ(sg::min(n).item(), 0.25);
  EXPECT_EQ(sg::max(n).item(), 0.25);
  nn::zeros_(n);
  EXPECT_EQ(max_abs(n), 0.0);
  nn::ones_(n);
  EXPECT_EQ(sg::min(n).item(), 1.0);
}

TEST(Init, SameSeedSameValuesOtherSeedOther) {
  Tensor a = sg::empty({64, 32}), b = sg::empty({64, 32}), c = sg::empty({64, 32});
  sg::Generator g1(7), g2(7), g3(8);
  nn::kaiming_uniform_(a, g1);
  nn::kaiming_uniform_(b, g2);
  nn::kaiming_uniform_(c, g3);
  EXPECT_TRUE(sg::equal(a, b));
  EXPECT_FALSE(sg::equal(a, c));
  // A second draw from the same generator continues the stream: new values.
  nn::kaiming_uniform_(b, g2);
  EXPECT_FALSE(sg::equal(a, b));
}

TEST(Init, WorksOnParametersThatRequireGrad) {
  Tensor w = sg::zeros({8, 4}).requires_grad_(true);
  sg::Generator gen(9);
  nn::xavier_uniform_(w, gen);
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  EXPECT_GT(max_abs(w.detach()), 0.0);
}

TEST(Init, OrthogonalTallWideAndConvShaped) {
  sg::Generator gen(10);
  Tensor tall = sg::empty({40, 12}, sg::DType::f64);
  nn::orthogonal_(tall, gen);
  EXPECT_TRUE(sg::allclose(sg::mm(tall.t(), tall), sg::eye(12, -1, sg::DType::f64), 0, 1e-12));

  Tensor wide = sg::empty({12, 40}, sg::DType::f64);
  nn::orthogonal_(wide, gen, 2.0);
  EXPECT_TRUE(
      sg::allclose(sg::mm(wide, wide.t()), sg::eye(12, -1, sg::DType::f64) * 4.0, 0, 1e-12));

  Tensor conv = sg::empty({8, 2, 3, 3});  // rows of the [8, 18] view are orthonormal
  nn::orthogonal_(conv, gen);
  Tensor m = conv.reshape({8, 18});
  EXPECT_TRUE(sg::allclose(sg::mm(m, m.t()), sg::eye(8), 0, 1e-5));

  Tensor again = sg::empty({40, 12}, sg::DType::f64);
  sg::Generator same(10);
  nn::orthogonal_(again, same);
  EXPECT_TRUE(sg::equal(again, tall));
}

TEST(Init, Errors) {
  Tensor v = sg::empty({5});
  EXPECT_THAT(sg::testing::error_of([&] { nn::kaiming_uniform_(v); }),
              HasSubstr("fan_in_out: needs a tensor with at least 2 dims"));
  EXPECT_THAT(sg::testing::error_of([&] { nn::orthogonal_(v); }),
              HasSubstr("orthogonal_: needs a tensor with at least 2 dims, got shape [5]"));
  Tensor ints = sg::zeros({4, 4}, sg::DType::i64);
  EXPECT_THAT(sg::testing::error_of([&] { nn::normal_(ints); }),
              HasSubstr("normal_: expected a floating tensor, got i64[4, 4]"));
}
