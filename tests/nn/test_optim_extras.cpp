// LR schedules (lr sequences of PyTorch 1.13's schedulers), gradient clipping (against
// torch.nn.utils.clip_grad_norm_) and the model EMA (hand-computed averages).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>

#include "nn/optim.h"
#include "optim_fixtures.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
using testing::nn_fixture;

// Two groups with base lrs 0.1 and 0.02, like the fixture script's.
struct TwoGroups {
  Tensor a = zeros({1}, DType::f64).requires_grad_(), b = zeros({1}, DType::f64).requires_grad_();
  nn::SGD opt{std::vector<nn::SGD::Group>{{{a}, {.lr = 0.1}}, {{b}, {.lr = 0.02}}}};
};

void expect_lrs(const std::string& fixture, nn::Optimizer& opt, nn::LRScheduler& sched) {
  SCOPED_TRACE(fixture);
  Tensor expected = load_npy(nn_fixture("optim/sched_" + fixture + ".npy"));
  for (int64_t e = 0; e < expected.size(0); ++e) {
    std::vector<double> last = sched.get_last_lr();
    ASSERT_EQ(last.size(), 2u);
    for (size_t g = 0; g < 2; ++g) {
      double want = expected.select(0, e).select(0, static_cast<int64_t>(g)).item();
      EXPECT_NEAR(opt.lr(g), want, 1e-12 * std::abs(want)) << "epoch " << e << " group " << g;
      EXPECT_EQ(last[g], opt.lr(g));
    }
    EXPECT_EQ(sched.last_epoch(), e);
    sched.step();
  }
}

TEST(Schedule, StepLRMatchesTorch) {
  TwoGroups t;
  nn::StepLR sched(t.opt, 3, 0.5);
  expect_lrs("step", t.opt, sched);
}

TEST(Schedule, MultiStepLRMatchesTorch) {
  TwoGroups t;
  nn::MultiStepLR sched(t.opt, {2, 5, 5}, 0.1);  // a repeated milestone counts twice
  expect_lrs("multistep", t.opt, sched);
}

TEST(Schedule, CosineAnnealingLRMatchesTorch) {
  TwoGroups t;
  nn::CosineAnnealingLR sched(t.opt, 5, 0.001);
  expect_lrs("cosine", t.opt, sched);
}

TEST(Schedule, CosineAnnealingWarmRestartsMatchesTorch) {
  TwoGroups t;
  nn::CosineAnnealingWarmRestarts sched(t.opt, 3, 2, 0.001);
  expect_lrs("restarts", t.opt, sched);
}

TEST(Schedule, LambdaLRMatchesTorch) {
  TwoGroups t;
  nn::LambdaLR sched(t.opt, [](int64_t e) { return std::pow(0.95, e) / (1.0 + e); });
  expect_lrs("lambda", t.opt, sched);
}

TEST(Schedule, LinearWarmupThenCosineMatchesTorchSequentialLR) {
  TwoGroups t;
  nn::LinearWarmup sched(t.opt, 3, std::make_unique<nn::CosineAnnealingLR>(t.opt, 5, 0.001), 0.1);
  expect_lrs("warmup_cosine", t.opt, sched);
}

TEST(Schedule, WarmupKeepsTheBaseLrsOfTheScheduleAfterIt) {
  // LambdaLR changes the lr in its constructor; the warmup must still ramp to the true base.
  TwoGroups t;
  nn::LinearWarmup sched(t.opt, 2,
                         std::make_unique<nn::LambdaLR>(t.opt, [](int64_t) { return 0.5; }), 0.0);
  EXPECT_EQ(t.opt.lr(0), 0.0);
  sched.step();
  EXPECT_DOUBLE_EQ(t.opt.lr(0), 0.05);
  sched.step();
  EXPECT_DOUBLE_EQ(t.opt.lr(0), 0.05);  // 0.1 * 0.5 from the LambdaLR
  EXPECT_EQ(sched.base_lrs(), (std::vector<double>{0.1, 0.02}));
}

TEST(Schedule, StateDictResumes) {
  TwoGroups t;
  nn::CosineAnnealingLR sched(t.opt, 10);
  for (int e = 0; e < 4; ++e) sched.step();
  NamedTensors state = sched.state_dict();
  EXPECT_EQ(state.at("last_epoch").item(), 4);

  TwoGroups fresh;
  nn::CosineAnnealingLR again(fresh.opt, 10);
  again.load_state_dict(state);
  EXPECT_EQ(again.last_epoch(), 4);
  EXPECT_EQ(fresh.opt.lr(1), t.opt.lr(1));
  sched.step();
  again.step();
  EXPECT_EQ(fresh.opt.lr(0), t.opt.lr(0));

  EXPECT_THAT(
      error_of([&] {
        again.load_state_dict({{"last_epoch", state.at("last_epoch")}});
      }),
      HasSubstr("CosineAnnealingLR.load_state_dict: expected keys 'last_epoch' and 'base_lrs'"));
  NamedTensors wrong = state;
  wrong["base_lrs"] = zeros({3}, DType::f64);
  EXPECT_THAT(error_of([&] { again.load_state_dict(wrong); }),
              HasSubstr("'base_lrs' is f64[3] on cpu but the optimizer has 2 param group(s)"));
}

TEST(Schedule, ConstructorErrors) {
  TwoGroups t;
  EXPECT_THAT(error_of([&] { nn::StepLR(t.opt, 0); }),
              HasSubstr("StepLR: step_size must be > 0, got 0"));
  EXPECT_THAT(error_of([&] { nn::CosineAnnealingLR(t.opt, -1); }),
              HasSubstr("CosineAnnealingLR: t_max must be > 0, got -1"));
  TwoGroups other;
  EXPECT_THAT(
      error_of([&] { nn::LinearWarmup(t.opt, 2, std::make_unique<nn::StepLR>(other.opt, 1)); }),
      HasSubstr("LinearWarmup: the schedule after the warmup (StepLR) drives another optimizer"));
}

// --- clipping -------------------------------------------------------------------------------

TEST(Clip, GradNormMatchesTorch) {
  Tensor grads = load_npy(nn_fixture("optim/clip_grads.npy"));
  Tensor cases = load_npy(nn_fixture("optim/clip_norm.npy"));
  for (int64_t c = 0; c < cases.size(0); ++c) {
    Tensor row = cases.select(0, c);
    double norm_type = row.select(0, 0).item(), max_norm = row.select(0, 1).item();
    SCOPED_TRACE(str_cat("norm_type ", norm_type, " max_norm ", max_norm));
    Tensor p1 = zeros({3, 4}, DType::f64).requires_grad_(),
           p2 = zeros({5}, DType::f64).requires_grad_();
    Tensor no_grad = zeros({2}, DType::f64).requires_grad_();  // ignored: no .grad
    p1.set_grad(grads.narrow(0, 0, 12).reshape({3, 4}).clone());
    p2.set_grad(grads.narrow(0, 12, 5).clone());
    double total = nn::clip_grad_norm_({p1, no_grad, p2}, max_norm, norm_type);
    EXPECT_NEAR(total, row.select(0, 2).item(), 1e-12 * total);
    Tensor clipped = cat({p1.grad().flatten(), p2.grad()});
    EXPECT_TRUE(allclose(clipped, row.narrow(0, 3, 17), 1e-12, 1e-15));
    EXPECT_FALSE(no_grad.grad().defined());
  }
}

TEST(Clip, GradNormWithoutGradientsIsZero) {
  Tensor p = ones({3}).requires_grad_();
  EXPECT_EQ(nn::clip_grad_norm_({p}, 1.0), 0.0);
  EXPECT_THAT(error_of([&] { nn::clip_grad_norm_({p}, 1.0, 0.0); }),
              HasSubstr("clip_grad_norm_: norm_type must be > 0 or infinity, got 0"));
}

TEST(Clip, GradValueClampsEachElement) {
  Tensor p = zeros({4}).requires_grad_();
  p.set_grad(from_vector<float>({-3.0f, -0.5f, 0.25f, 2.0f}));
  nn::clip_grad_value_({p}, 1.0);
  EXPECT_EQ(p.grad().to_vector<float>(), (std::vector<float>{-1.0f, -0.5f, 0.25f, 1.0f}));
  EXPECT_THAT(error_of([&] { nn::clip_grad_value_({p}, -1.0); }),
              HasSubstr("clip_grad_value_: clip_value must be >= 0, got -1"));
}

// --- EMA ------------------------------------------------------------------------------------

struct Scalar : nn::Module {
  Tensor w, count;
  explicit Scalar(double v) : Module("Scalar") {
    register_parameter("w", w, full({1}, v, DType::f64));
    register_buffer("count", count, zeros({1}, DType::i64));
  }
  void set(double v) {
    NoGradGuard g;
    w.fill_(v);
    count.add_(ones({1}, DType::i64));
  }
};

TEST(Ema, AveragesWeightsAndCopiesIntegerBuffers) {
  auto m = std::make_shared<Scalar>(1.0);
  nn::ModelEma ema(*m, 0.9);
  m->set(3.0);
  ema.update();  // 0.9 * 1 + 0.1 * 3
  EXPECT_DOUBLE_EQ(ema.shadow().at("w").item(), 1.2);
  m->set(5.0);
  ema.update();  // 0.9 * 1.2 + 0.1 * 5
  EXPECT_DOUBLE_EQ(ema.shadow().at("w").item(), 1.58);
  EXPECT_EQ(ema.shadow().at("count").item(), 2);
  EXPECT_EQ(ema.num_updates(), 2);
}

TEST(Ema, WarmupRampsTheDecay) {
  auto m = std::make_shared<Scalar>(1.0);
  nn::ModelEma ema(*m, 0.9, {.warmup = true});
  EXPECT_DOUBLE_EQ(ema.current_decay(), 0.1);  // (1 + 0) / (10 + 0)
  m->set(3.0);
  ema.update();  // 0.1 * 1 + 0.9 * 3
  EXPECT_DOUBLE_EQ(ema.shadow().at("w").item(), 2.8);
  EXPECT_DOUBLE_EQ(ema.current_decay(), 2.0 / 11.0);
  for (int i = 0; i < 200; ++i) ema.update();
  EXPECT_EQ(ema.current_decay(), 0.9);
}

TEST(Ema, StoreApplyRestore) {
  auto m = std::make_shared<Scalar>(1.0);
  nn::ModelEma ema(*m, 0.5);
  m->set(3.0);
  ema.update();  // shadow 2
  ema.store();
  ema.apply_to(*m);
  EXPECT_EQ(m->w.item(), 2.0);
  EXPECT_TRUE(m->w.requires_grad());  // still a trainable parameter
  ema.restore();
  EXPECT_EQ(m->w.item(), 3.0);
  EXPECT_THAT(error_of([&] { ema.restore(); }), HasSubstr("ModelEma.restore: nothing stored"));

  auto copy = std::make_shared<Scalar>(0.0);
  nn::ModelEma loaded(*copy, 0.5);
  loaded.load_state_dict(ema.state_dict());
  EXPECT_EQ(loaded.shadow().at("w").item(), 2.0);
  EXPECT_EQ(loaded.num_updates(), 1);
  NamedTensors bad = ema.state_dict();
  bad.erase("shadow.w");
  EXPECT_THAT(error_of([&] { loaded.load_state_dict(bad); }),
              HasSubstr("ModelEma.load_state_dict: missing key 'shadow.w'"));
}

}  // namespace
}  // namespace stackgrad
