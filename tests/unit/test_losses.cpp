// Losses: values against hand-computed numbers, PyTorch's conventions (ignore_index, label
// smoothing, mean over the valid targets), stability on large logits, and error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using sg::Reduction;
using ::testing::HasSubstr;

namespace {

using ::stackgrad::testing::error_of;

sg::Tensor f64(const std::vector<double>& v, const sg::Shape& s) { return sg::from_vector(v, s); }
sg::Tensor i64(const std::vector<int64_t>& v, const sg::Shape& s) { return sg::from_vector(v, s); }
std::vector<double> values(const sg::Tensor& t) { return t.contiguous().to_vector<double>(); }

sg::Tensor log_softmax(const sg::Tensor& x) { return x - sg::log(sg::sum(sg::exp(x), {1}, true)); }

// The 2 x 3 example used below, by hand:
//   logits [[1, 2, 3], [1, 0, -1]], targets [2, 1]
//   lse_0 = 3 + log(1 + e^-1 + e^-2) = 3.4076059644443806, loss_0 = lse_0 - 3 = 0.4076059644443806
//   lse_1 = 1 + log(1 + e^-1 + e^-2) = 1.4076059644443804, loss_1 = lse_1 - 0 = 1.4076059644443804
//   mean = 0.9076059644443805
//   softmax_0 = [e^-2, e^-1, 1] / 1.5032147244... = [0.0900305732, 0.2447284711, 0.6652409558]
//   label smoothing 0.1 (C = 3): loss_n = 0.9 (lse_n - x_t) + 0.1 / 3 sum_c (lse_n - x_c)
//   loss_0 = 0.9 * 0.4076059644 + (3 * 3.4076059644 - 6) / 30 = 0.5076059644443807
//   loss_1 = 0.9 * 1.4076059644 + (3 * 1.4076059644 - 0) / 30 = 1.4076059644443804
const std::vector<double> kLogits = {1, 2, 3, 1, 0, -1};
constexpr double kLoss0 = 0.4076059644443806, kLoss1 = 1.4076059644443804;

TEST(CrossEntropy, UniformLogitsGiveLogC) {
  for (int64_t C : {2, 5, 1000}) {
    sg::Tensor logits = sg::zeros({3, C});
    sg::Tensor target = i64({0, 1, C - 1}, {3});
    EXPECT_NEAR(sg::cross_entropy(logits, target).item(), std::log(double(C)), 1e-6) << C;
  }
}

TEST(CrossEntropy, HandComputedTwoByThree) {
  sg::Tensor x = f64(kLogits, {2, 3}), t = i64({2, 1}, {2});
  auto none = values(sg::cross_entropy(x, t, -100, 0.0, Reduction::none));
  EXPECT_NEAR(none[0], kLoss0, 1e-14);
  EXPECT_NEAR(none[1], kLoss1, 1e-14);
  EXPECT_NEAR(sg::cross_entropy(x, t).item(), (kLoss0 + kLoss1) / 2, 1e-14);
  EXPECT_NEAR(sg::cross_entropy(x, t, -100, 0.0, Reduction::sum).item(), kLoss0 + kLoss1, 1e-14);
  // f32 gives the same to f32 precision.
  EXPECT_NEAR(sg::cross_entropy(x.to(sg::DType::f32), t).item(), (kLoss0 + kLoss1) / 2, 1e-6);
}

TEST(CrossEntropy, HandComputedGradient) {
  sg::Tensor x = f64(kLogits, {2, 3}).requires_grad_();
  sg::cross_entropy(x, i64({2, 1}, {2})).backward();
  // (softmax - onehot) / 2; row 1's softmax is row 0's reversed.
  const double p0 = 0.0900305731703804, p1 = 0.2447284710547976, p2 = 0.6652409557748217;
  std::vector<double> expected = {p0 / 2, p1 / 2, (p2 - 1) / 2, p2 / 2, (p1 - 1) / 2, p0 / 2};
  auto got = values(x.grad());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-12) << i;
}

TEST(CrossEntropy, IgnoredTargetsAreLeftOutOfTheMean) {
  sg::Tensor x = f64(kLogits, {2, 3}).requires_grad_();
  sg::Tensor loss = sg::cross_entropy(x, i64({2, -100}, {2}));
  EXPECT_NEAR(loss.item(), kLoss0, 1e-14);  // divided by 1 valid target, not 2
  loss.backward();
  auto g = values(x.grad());
  EXPECT_EQ(g[3], 0.0);
  EXPECT_EQ(g[4], 0.0);
  EXPECT_EQ(g[5], 0.0);
  // A class index as ignore_index.
  EXPECT_NEAR(sg::cross_entropy(x, i64({2, 1}, {2}), 1).item(), kLoss0, 1e-14);
  // All ignored: 0 / 0, as in PyTorch.
  EXPECT_TRUE(std::isnan(sg::cross_entropy(x, i64({-100, -100}, {2})).item()));
  EXPECT_EQ(sg::cross_entropy(x, i64({-100, -100}, {2}), -100, 0.0, Reduction::sum).item(), 0.0);
}

TEST(CrossEntropy, LabelSmoothing) {
  sg::Tensor x = f64(kLogits, {2, 3}), t = i64({2, 1}, {2});
  auto none = values(sg::cross_entropy(x, t, -100, 0.1, Reduction::none));
  EXPECT_NEAR(none[0], 0.5076059644443807, 1e-14);
  EXPECT_NEAR(none[1], 1.4076059644443804, 1e-14);
  // With an ignored target the mean still divides by the valid count only.
  EXPECT_NEAR(sg::cross_entropy(x, i64({2, -100}, {2}), -100, 0.1).item(), 0.5076059644443807,
              1e-14);
  // ε = 1: the target is uniform, the loss the mean of -log_softmax.
  sg::Tensor expected = sg::neg(sg::mean(log_softmax(x), {1}));
  EXPECT_TRUE(
      sg::allclose(sg::cross_entropy(x, t, -100, 1.0, Reduction::none), expected, 1e-14, 1e-14));
}

TEST(CrossEntropy, ProbabilityTargetsMatchIndexTargets) {
  sg::Tensor x = f64(kLogits, {2, 3}), t = i64({2, 1}, {2});
  sg::Tensor onehot = f64({0, 0, 1, 0, 1, 0}, {2, 3});
  for (double eps : {0.0, 0.3}) {
    EXPECT_NEAR(sg::cross_entropy(x, onehot, -100, eps).item(),
                sg::cross_entropy(x, t, -100, eps).item(), 1e-14);
  }
  // Gradient w.r.t. soft targets: -log_softmax.
  sg::Tensor soft = f64({0.2, 0.3, 0.5, 0.6, 0.4, 0.0}, {2, 3}).requires_grad_();
  sg::cross_entropy(x, soft, -100, 0.0, Reduction::sum).backward();
  EXPECT_TRUE(sg::allclose(soft.grad(), sg::neg(log_softmax(x)), 1e-14, 1e-14));
}

TEST(CrossEntropy, SpatialDimsAreSamples) {
  // [N=2, C=3, d=2] equals the [4, 3] problem of its class columns.
  sg::Tensor x = f64({1, 0, 2, 1, 3, -1, 0.5, 2, -1, 0, 4, 1}, {2, 3, 2});
  sg::Tensor t = i64({2, 0, 1, 2}, {2, 2});
  sg::Tensor flat = x.permute({0, 2, 1}).reshape({4, 3});
  EXPECT_TRUE(sg::allclose(sg::cross_entropy(x, t, -100, 0.2, Reduction::none).reshape({4}),
                           sg::cross_entropy(flat, t.reshape({4}), -100, 0.2, Reduction::none),
                           1e-14, 1e-14));
  // Unbatched: [C] logits with a 0-dim target give a 0-dim loss.
  sg::Tensor one = sg::cross_entropy(f64({1, 2, 3}, {3}), i64({2}, {}), -100, 0.0, Reduction::none);
  EXPECT_EQ(one.dim(), 0);
  EXPECT_NEAR(one.item(), kLoss0, 1e-14);
}

TEST(CrossEntropy, StableForHugeLogits) {
  // exp(1000) overflows; the log-sum-exp subtracts the max first.
  sg::Tensor x = sg::from_vector<float>({1000, 0, -1000, 1000}, {2, 2});
  auto loss =
      values(sg::cross_entropy(x, i64({0, 0}, {2}), -100, 0.0, Reduction::none).to(sg::DType::f64));
  EXPECT_NEAR(loss[0], 0.0, 1e-6);
  EXPECT_NEAR(loss[1], 2000.0, 1e-3);
}

TEST(NllLoss, MatchesCrossEntropyOnLogSoftmax) {
  sg::Tensor x = f64(kLogits, {2, 3});
  sg::Tensor t = i64({2, 1}, {2});
  EXPECT_NEAR(sg::nll_loss(log_softmax(x), t).item(), (kLoss0 + kLoss1) / 2, 1e-14);
  // -log_probs[n, t_n]: picks one value per row, even next to -inf (log 0) entries.
  sg::Tensor lp = f64({-0.5, -INFINITY, -1.0, -2.0}, {2, 2});
  auto none = values(sg::nll_loss(lp, i64({0, 1}, {2}), -100, Reduction::none));
  EXPECT_EQ(none, (std::vector<double>{0.5, 2.0}));
  EXPECT_EQ(sg::nll_loss(lp, i64({0, -100}, {2})).item(), 0.5);
  EXPECT_EQ(sg::nll_loss(lp, i64({0, 1}, {2}), 0, Reduction::sum).item(), 2.0);
}

TEST(MseLoss, Values) {
  sg::Tensor a = f64({1, 2, 3}, {3}), b = f64({1, 0, 0}, {3});
  EXPECT_NEAR(sg::mse_loss(a, b).item(), 13.0 / 3.0, 1e-15);  // (0 + 4 + 9) / 3
  EXPECT_EQ(sg::mse_loss(a, b, Reduction::sum).item(), 13.0);
  EXPECT_EQ(values(sg::mse_loss(a, b, Reduction::none)), (std::vector<double>{0, 4, 9}));
}

TEST(BinaryCrossEntropyWithLogits, Values) {
  // x = 0: log 2 whatever the target; x = 2, y = 1: log(1 + e^-2) = 0.1269280110429725.
  sg::Tensor x = f64({0, 0, 2}, {3}), y = f64({1, 0, 1}, {3});
  auto none = values(sg::binary_cross_entropy_with_logits(x, y, sg::Tensor(), Reduction::none));
  EXPECT_NEAR(none[0], std::log(2.0), 1e-15);
  EXPECT_NEAR(none[1], std::log(2.0), 1e-15);
  EXPECT_NEAR(none[2], 0.1269280110429725, 1e-15);
  // pos_weight 3 scales the positive term: 3 log 2 at x = 0, y = 1.
  sg::Tensor pw = f64({3}, {1});
  EXPECT_NEAR(sg::binary_cross_entropy_with_logits(f64({0}, {1}), f64({1}, {1}), pw).item(),
              3 * std::log(2.0), 1e-15);
  // Soft target at x = 0.5, y = 0.25, p = 2: 0.75 * 0.5 + 1.25 * log(1 + e^-0.5) = 0.9492546...
  EXPECT_NEAR(
      sg::binary_cross_entropy_with_logits(f64({0.5}, {1}), f64({0.25}, {1}), f64({2}, {1})).item(),
      0.75 * 0.5 + 1.25 * std::log1p(std::exp(-0.5)), 1e-15);
}

TEST(BinaryCrossEntropyWithLogits, GradientAtZeroLogits) {
  // A zero-initialised output layer starts exactly at x = 0: the gradient must be
  // sigmoid(0) - y there, not a one-sided derivative of max(x, 0) or |x|.
  sg::Tensor x = sg::zeros({2}, sg::DType::f64).requires_grad_();
  sg::binary_cross_entropy_with_logits(x, f64({1, 0}, {2}), sg::Tensor(), Reduction::sum)
      .backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{-0.5, 0.5}));
}

TEST(BinaryCrossEntropyWithLogits, StableForHugeLogits) {
  sg::Tensor x = sg::from_vector<float>({1000, -1000, 1000}, {3});
  sg::Tensor y = sg::from_vector<float>({0, 0, 1}, {3});
  auto loss = values(
      sg::binary_cross_entropy_with_logits(x, y, sg::Tensor(), Reduction::none).to(sg::DType::f64));
  EXPECT_EQ(loss, (std::vector<double>{1000, 0, 0}));
  // A confident right answer keeps its small loss log1p(e^-15) = 3.0590227e-7 in f32 (it would
  // cancel to 0 in x + softplus(-x)), and its gradient sigmoid(-15).
  sg::Tensor xs = sg::from_vector<float>({-15}, {1}).requires_grad_();
  sg::Tensor small =
      sg::binary_cross_entropy_with_logits(xs, sg::zeros({1}), sg::Tensor(), Reduction::sum);
  EXPECT_NEAR(small.item() / 3.0590227e-7, 1.0, 1e-5);
  small.backward();
  EXPECT_NEAR(xs.grad().item() / 3.0590222e-7, 1.0, 1e-5);
}

// --- errors ------------------------------------------------------------------------------------

TEST(LossErrors, ClassIndexOutOfRange) {
  sg::Tensor x = sg::zeros({2, 5});
  EXPECT_EQ(
      error_of([&] {
        sg::cross_entropy(x, i64({1, 7}, {2}));
      }),
      "cross_entropy: target value 7 is out of range for 5 classes (expected 0 <= target < 5, "
      "or ignore_index -100)");
  EXPECT_THAT(error_of([&] {
                sg::cross_entropy(x, i64({-1, 0}, {2}));
              }),
              HasSubstr("cross_entropy: target value -1 is out of range for 5 classes"));
  EXPECT_THAT(error_of([&] {
                sg::nll_loss(x, i64({5, 0}, {2}));
              }),
              HasSubstr("nll_loss: target value 5 is out of range for 5 classes"));
}

TEST(LossErrors, TargetShapes) {
  EXPECT_EQ(error_of([] {
              sg::cross_entropy(sg::zeros({4, 5}), i64({0, 1, 2}, {3}));
            }),
            "cross_entropy: target shape [3] does not match input [4, 5] (expected [4])");
  EXPECT_THAT(error_of([] {
                sg::cross_entropy(sg::zeros({2, 3, 4}), i64({0, 1}, {2}));
              }),
              HasSubstr("target shape [2] does not match input [2, 3, 4] (expected [2, 4])"));
  EXPECT_THAT(error_of([] { sg::cross_entropy(sg::zeros({3}), i64({0}, {1})); }),
              HasSubstr("target shape [1] does not match input [3] (expected [])"));
  EXPECT_THAT(
      error_of([] {
        sg::cross_entropy(sg::zeros({2, 3}), sg::zeros({3, 2}));
      }),
      HasSubstr(
          "cross_entropy: a probability target must have the input's shape [2, 3], got f32[3, 2]"));
  EXPECT_THAT(error_of([] { sg::cross_entropy(sg::zeros({}), i64({0}, {})); }),
              HasSubstr("cross_entropy: expected input [N, C, d1, ...] or [C], got f32[]"));
  EXPECT_THAT(error_of([] {
                sg::cross_entropy(sg::zeros({2, 0}), i64({0, 0}, {2}));
              }),
              HasSubstr("cross_entropy: the input has no classes (C = 0)"));
  EXPECT_EQ(error_of([] {
              sg::mse_loss(sg::zeros({2, 3}), sg::zeros({3}));
            }),
            "mse_loss: input [2, 3] and target [3] must have the same shape");
  EXPECT_THAT(error_of([] {
                sg::binary_cross_entropy_with_logits(sg::zeros({2, 3}), sg::zeros({2, 1}));
              }),
              HasSubstr("logits [2, 3] and target [2, 1] must have the same shape"));
  EXPECT_THAT(
      error_of([] {
        sg::binary_cross_entropy_with_logits(sg::zeros({2, 3}), sg::zeros({2, 3}), sg::zeros({2}));
      }),
      HasSubstr("binary_cross_entropy_with_logits: pos_weight [2] does not broadcast to the logits "
                "[2, 3]"));
  EXPECT_THAT(
      error_of([] {
        sg::binary_cross_entropy_with_logits(sg::zeros({3}), sg::zeros({3}), sg::zeros({2, 3}));
      }),
      HasSubstr("pos_weight [2, 3] does not broadcast to the logits [3]"));
}

TEST(LossErrors, Dtypes) {
  EXPECT_THAT(
      error_of([] {
        sg::cross_entropy(sg::zeros({2, 3}), sg::zeros({2}, sg::DType::i32));
      }),
      HasSubstr("cross_entropy: expected a target of class indices (i64) or of probabilities "
                "(floating, shaped like the input), got i32[2]"));
  EXPECT_THAT(error_of([] {
                sg::nll_loss(sg::zeros({2, 3}), sg::zeros({2, 3}));
              }),
              HasSubstr("nll_loss: expected a target of class indices (i64), got f32[2, 3]"));
  EXPECT_THAT(error_of([] {
                sg::cross_entropy(sg::zeros({2, 3}, sg::DType::i64), i64({0, 1}, {2}));
              }),
              HasSubstr("cross_entropy: expected a floating input, got i64[2, 3]"));
  EXPECT_THAT(error_of([] {
                sg::cross_entropy(sg::zeros({2, 3}), sg::zeros({2, 3}, sg::DType::f64));
              }),
              HasSubstr("cross_entropy: dtype mismatch"));
  EXPECT_THAT(error_of([] { sg::mse_loss(sg::zeros({2}), sg::zeros({2}, sg::DType::f64)); }),
              HasSubstr("mse_loss: dtype mismatch"));
  EXPECT_THAT(error_of([] {
                sg::mse_loss(sg::zeros({2}, sg::DType::i64), sg::zeros({2}, sg::DType::i64));
              }),
              HasSubstr("mse_loss: expected a floating input"));
  EXPECT_THAT(error_of([] {
                sg::binary_cross_entropy_with_logits(sg::zeros({2}),
                                                     sg::zeros({2}, sg::DType::f64));
              }),
              HasSubstr("binary_cross_entropy_with_logits: dtype mismatch"));
}

TEST(LossErrors, Arguments) {
  sg::Tensor x = sg::zeros({2, 3});
  sg::Tensor t = i64({0, 1}, {2});
  EXPECT_EQ(error_of([&] { sg::cross_entropy(x, t, -100, 1.5); }),
            "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
  EXPECT_THAT(error_of([&] { sg::cross_entropy_backward(x, t, sg::zeros({3}), sg::zeros({2})); }),
              HasSubstr("cross_entropy_backward: lse must have shape [2], got f32[3]"));
  EXPECT_THAT(error_of([&] { sg::cross_entropy(x, sg::Tensor()); }),
              HasSubstr("cross_entropy: argument 'target' is an undefined tensor"));
}

}  // namespace
