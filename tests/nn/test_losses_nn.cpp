// nn losses against PyTorch 1.13 (tests/fixtures/nn/make_loss_fixtures.py, f64): the loss and
// its gradient with respect to the first input, for every loss and the reductions and options
// that change its formula; then the error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "nn/losses.h"
#include "optim_fixtures.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
using testing::nn_fixture;
using R = Reduction;

Tensor in(const std::string& name) {
  static std::map<std::string, Tensor> cache;
  auto it = cache.find(name);
  if (it == cache.end())
    it = cache.emplace(name, load_npy(nn_fixture("losses/in_" + name + ".npy"))).first;
  return it->second;
}

struct LossCase {
  std::string name;
  std::string input;  // the input the gradient is taken for
  std::function<Tensor(const Tensor&)> loss;
};

std::vector<LossCase> cases() {
  Tensor w = in("class_weight");
  return {
      {"ce_weight", "logits",
       [=](const Tensor& x) { return nn::cross_entropy(x, in("target"), {.weight = w}); }},
      {"ce_weight_ignore_smooth", "logits",
       [=](const Tensor& x) {
         return nn::cross_entropy(x, in("target_ignore"), {.weight = w, .label_smoothing = 0.2});
       }},
      {"ce_weight_smooth_sum", "logits",
       [=](const Tensor& x) {
         return nn::cross_entropy(x, in("target_ignore"),
                                  {.weight = w, .label_smoothing = 0.1, .reduction = R::sum});
       }},
      {"ce_weight_smooth_none", "logits",
       [=](const Tensor& x) {
         return nn::cross_entropy(x, in("target_ignore"),
                                  {.weight = w, .label_smoothing = 0.1, .reduction = R::none});
       }},
      {"ce_weight_3d", "logits3d",
       [=](const Tensor& x) { return nn::cross_entropy(x, in("target3d"), {.weight = w}); }},
      {"ce_smooth_3d_none", "logits3d",
       [=](const Tensor& x) {
         return nn::cross_entropy(x, in("target3d"),
                                  {.label_smoothing = 0.3, .reduction = R::none});
       }},
      {"ce_probs", "logits",
       [=](const Tensor& x) { return nn::cross_entropy(x, in("probs_target")); }},
      {"ce_probs_weight_smooth", "logits",
       [=](const Tensor& x) {
         return nn::cross_entropy(x, in("probs_target"), {.weight = w, .label_smoothing = 0.1});
       }},
      {"nll_weight_ignore", "logits",
       [=](const Tensor& x) {
         return nn::nll_loss(log_softmax(x, 1), in("target_ignore"), {.weight = w});
       }},
      {"nll_weight_none", "logits",
       [=](const Tensor& x) {
         return nn::nll_loss(x, in("target"), {.weight = w, .reduction = R::none});
       }},
      {"mse", "x", [](const Tensor& x) { return nn::mse_loss(x, in("y")); }},
      {"l1", "x", [](const Tensor& x) { return nn::l1_loss(x, in("y")); }},
      {"l1_none", "x", [](const Tensor& x) { return nn::l1_loss(x, in("y"), R::none); }},
      {"smooth_l1", "x", [](const Tensor& x) { return nn::smooth_l1_loss(x, in("y"), 0.5); }},
      {"smooth_l1_beta0_sum", "x",
       [](const Tensor& x) { return nn::smooth_l1_loss(x, in("y"), 0.0, R::sum); }},
      {"huber", "x", [](const Tensor& x) { return nn::huber_loss(x, in("y"), 0.8); }},
      {"huber_none", "x", [](const Tensor& x) { return nn::huber_loss(x, in("y"), 1.5, R::none); }},
      {"bce", "p", [](const Tensor& p) { return nn::bce_loss(p, in("y01")); }},
      {"bce_weight_none", "p",
       [](const Tensor& p) { return nn::bce_loss(p, in("y01"), in("bce_weight"), R::none); }},
      {"bce_logits_pos_weight", "x",
       [](const Tensor& x) {
         return nn::bce_with_logits(x, in("y01"), {.pos_weight = in("pos_weight")});
       }},
      {"bce_logits_weight_sum", "x",
       [](const Tensor& x) {
         return nn::bce_with_logits(
             x, in("y01"),
             {.weight = in("bce_weight"), .pos_weight = in("pos_weight"), .reduction = R::sum});
       }},
      {"margin_ranking", "x1",
       [](const Tensor& a) { return nn::margin_ranking_loss(a, in("x2"), in("ysign"), 0.3); }},
      {"margin_ranking_none", "x1",
       [](const Tensor& a) {
         return nn::margin_ranking_loss(a, in("x2"), in("ysign"), 0.0, R::none);
       }},
      {"hinge_embedding", "x1",
       [](const Tensor& a) { return nn::hinge_embedding_loss(a, in("ysign"), 0.7); }},
      {"hinge_embedding_none", "x1",
       [](const Tensor& a) { return nn::hinge_embedding_loss(a, in("ysign"), 1.0, R::none); }},
      {"multi_margin", "logits",
       [](const Tensor& x) { return nn::multi_margin_loss(x, in("target"), {.margin = 0.9}); }},
      {"multi_margin_p2_weight_none", "logits",
       [=](const Tensor& x) {
         return nn::multi_margin_loss(x, in("target"), {.p = 2, .weight = w, .reduction = R::none});
       }},
      {"triplet", "anchor",
       [](const Tensor& a) {
         return nn::triplet_margin_loss(a, in("positive"), in("negative"), {.margin = 1.5});
       }},
      {"triplet_p1_swap_none", "anchor",
       [](const Tensor& a) {
         return nn::triplet_margin_loss(a, in("positive"), in("negative"),
                                        {.p = 1, .swap = true, .reduction = R::none});
       }},
      {"triplet_p3_swap", "anchor",
       [](const Tensor& a) {
         return nn::triplet_margin_loss(a, in("positive"), in("negative"),
                                        {.margin = 2.0, .p = 3, .swap = true});
       }},
      {"cosine_embedding", "a3",
       [](const Tensor& a) { return nn::cosine_embedding_loss(a, in("b3"), in("ysign4"), -0.2); }},
      {"cosine_embedding_none", "a3",
       [](const Tensor& a) {
         return nn::cosine_embedding_loss(a, in("b3"), in("ysign4"), 0.1, R::none);
       }},
      {"kl_div_batchmean", "kl_input",
       [](const Tensor& x) {
         return nn::kl_div(x, in("kl_target"), nn::KlDivReduction::batchmean);
       }},
      {"kl_div_none", "kl_input",
       [](const Tensor& x) { return nn::kl_div(x, in("kl_target"), nn::KlDivReduction::none); }},
      {"kl_div_log_target_sum", "kl_input",
       [](const Tensor& x) {
         return nn::kl_div(x, log_softmax(in("x"), 1), nn::KlDivReduction::sum,
                           /*log_target=*/true);
       }},
      {"kl_div_mean", "kl_input", [](const Tensor& x) { return nn::kl_div(x, in("kl_target")); }},
  };
}

TEST(LossesNn, MatchTorchValuesAndGradients) {
  for (const LossCase& c : cases()) {
    SCOPED_TRACE(c.name);
    Tensor x = in(c.input).clone().requires_grad_();
    Tensor loss = c.loss(x);
    sum(loss).backward();
    Tensor expected = load_npy(nn_fixture("losses/" + c.name + ".npy"));
    ASSERT_EQ(expected.numel(), loss.numel() + x.numel());
    Tensor want_loss = expected.narrow(0, 0, loss.numel()).reshape(loss.shape());
    Tensor want_grad = expected.narrow(0, loss.numel(), x.numel()).reshape(x.shape());
    EXPECT_TRUE(allclose(loss.detach(), want_loss, 1e-10, 1e-13))
        << loss << "\nexpected " << want_loss;
    ASSERT_TRUE(x.grad().defined());
    EXPECT_TRUE(allclose(x.grad(), want_grad, 1e-10, 1e-13))
        << x.grad() << "\nexpected " << want_grad;
  }
}

TEST(LossesNn, PlainCallsReachTheEngineLosses) {
  Tensor x = in("logits");
  EXPECT_TRUE(equal(nn::cross_entropy(x, in("target")), stackgrad::cross_entropy(x, in("target"))));
  EXPECT_TRUE(equal(nn::cross_entropy(x, in("target"), {.label_smoothing = 0.1}),
                    stackgrad::cross_entropy(x, in("target"), -100, 0.1)));
  EXPECT_TRUE(equal(nn::nll_loss(x, in("target"), {.reduction = R::sum}),
                    stackgrad::nll_loss(x, in("target"), -100, R::sum)));
}

TEST(LossesNn, KlDivIsZeroForEqualDistributionsAndIgnoresZeroTargets) {
  Tensor t = in("kl_target");
  Tensor safe_log = log(where(t > 0.0, t, ones_like(t)));
  // Rows with a zero probability: the term there is 0, not NaN.
  EXPECT_NEAR(nn::kl_div(safe_log, t, nn::KlDivReduction::sum).item(), 0.0, 1e-15);
}

TEST(LossesNn, Errors) {
  Tensor x = in("logits"), w = in("class_weight");
  EXPECT_THAT(error_of([&] {
                nn::cross_entropy(x, from_vector<int64_t>({1, 0, 5, 2}), {.weight = w});
              }),
              HasSubstr("cross_entropy: target 5 is out of range [0, 5)"));
  EXPECT_THAT(
      error_of([&] { nn::cross_entropy(x, in("target"), {.weight = ones({4}, DType::f64)}); }),
      HasSubstr("cross_entropy: expected weight [5] (one per class), got f64[4] on cpu"));
  EXPECT_THAT(error_of([&] {
                nn::nll_loss(x, from_vector<int64_t>({1, 0}), {.weight = w});
              }),
              HasSubstr("nll_loss: expected target [4] for input [4, 5], got [2]"));
  EXPECT_THAT(error_of([&] { nn::l1_loss(in("x"), in("x1")); }),
              HasSubstr("l1_loss: input and target must have the same shape, got [3, 4] and [6]"));
  EXPECT_THAT(error_of([&] { nn::bce_loss(in("x"), in("y01")); }),
              HasSubstr("bce_loss: probs must be in [0, 1]"));
  EXPECT_THAT(error_of([&] { nn::multi_margin_loss(x, in("target"), {.p = 3}); }),
              HasSubstr("multi_margin_loss: p must be 1 or 2, got 3"));
  EXPECT_THAT(error_of([&] { nn::cosine_embedding_loss(in("a3"), in("b3"), in("ysign")); }),
              HasSubstr("cosine_embedding_loss: expected target [4], got [6]"));
  EXPECT_THAT(error_of([&] { nn::cross_entropy(x, in("target"), {.label_smoothing = 1.5}); }),
              HasSubstr("cross_entropy: label_smoothing must be in [0, 1], got 1.5"));
}

}  // namespace
}  // namespace stackgrad
