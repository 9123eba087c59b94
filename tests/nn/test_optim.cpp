// SGD, Adam, AdamW and RMSprop against PyTorch 1.13: five steps on a tiny model must give the
// same parameters after every step (f64). Also param groups, skipped parameters, state_dict
// round trips and error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "nn/optim.h"
#include "optim_fixtures.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
using testing::nn_fixture;
using testing::TinyModel;

using MakeOptimizer = std::function<std::unique_ptr<nn::Optimizer>(TinyModel&)>;

const Tensor& X() {
  static Tensor x = load_npy(nn_fixture("optim/X.npy"));
  return x;
}
const Tensor& Y() {
  static Tensor y = load_npy(nn_fixture("optim/Y.npy"));
  return y;
}

void train_step(TinyModel& m, nn::Optimizer& opt) {
  opt.zero_grad();
  m.loss(X(), Y()).backward();
  opt.step();
}

// Runs the steps and compares every step's parameters with the fixture's row.
void expect_trajectory(const std::string& name, const MakeOptimizer& make) {
  SCOPED_TRACE(name);
  Tensor expected = load_npy(nn_fixture("optim/traj_" + name + ".npy"));
  auto m = std::make_shared<TinyModel>();
  auto opt = make(*m);
  for (int64_t s = 0; s < expected.size(0); ++s) {
    train_step(*m, *opt);
    EXPECT_TRUE(allclose(m->row(), expected.select(0, s), 1e-10, 1e-14))
        << "step " << s + 1 << "\n got " << m->row() << "\n expected " << expected.select(0, s);
  }
  // The parameter the loss never reaches has no gradient: untouched and without state.
  EXPECT_TRUE(equal(m->unused, zeros({2}, DType::f64)));
  EXPECT_EQ(opt->state(m->unused), nullptr);
}

template <typename Opt, typename Options>
MakeOptimizer make(Options o) {
  return [o](TinyModel& m) { return std::make_unique<Opt>(m.parameters(), o); };
}

TEST(Optim, SgdMatchesTorch) {
  expect_trajectory("sgd", make<nn::SGD>(nn::SgdOptions{.lr = 0.1}));
  expect_trajectory("sgd_momentum",
                    make<nn::SGD>(nn::SgdOptions{
                        .lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01}));
  expect_trajectory("sgd_nesterov",
                    make<nn::SGD>(nn::SgdOptions{
                        .lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}));
}

TEST(Optim, AdamMatchesTorch) {
  expect_trajectory("adam", make<nn::Adam>(nn::AdamOptions{.lr = 0.01, .beta2 = 0.99}));
  expect_trajectory("adam_wd_amsgrad", make<nn::Adam>(nn::AdamOptions{
                                           .lr = 0.01, .weight_decay = 0.1, .amsgrad = true}));
}

TEST(Optim, AdamWMatchesTorch) {
  expect_trajectory("adamw", make<nn::AdamW>(nn::AdamOptions{.lr = 0.01, .weight_decay = 0.1}));
  expect_trajectory("adamw_amsgrad", make<nn::AdamW>(nn::AdamOptions{.lr = 0.01,
                                                                     .beta1 = 0.8,
                                                                     .beta2 = 0.9,
                                                                     .eps = 1e-6,
                                                                     .weight_decay = 0.01,
                                                                     .amsgrad = true}));
}

TEST(Optim, RmspropMatchesTorch) {
  expect_trajectory("rmsprop", make<nn::RMSprop>(nn::RmspropOptions{.lr = 0.01}));
  expect_trajectory("rmsprop_centered_momentum",
                    make<nn::RMSprop>(nn::RmspropOptions{.lr = 0.01,
                                                         .alpha = 0.9,
                                                         .eps = 1e-6,
                                                         .weight_decay = 0.01,
                                                         .momentum = 0.9,
                                                         .centered = true}));
}

TEST(Optim, ParamGroupsHaveTheirOwnOptions) {
  expect_trajectory("sgd_groups", [](TinyModel& m) {
    return std::make_unique<nn::SGD>(std::vector<nn::SGD::Group>{
        {{m.W}, {.lr = 0.1, .momentum = 0.9, .nesterov = true}}, {{m.b, m.unused}, {.lr = 0.01}}});
  });
}

TEST(Optim, FrozenParametersAreSkipped) {
  auto m = std::make_shared<TinyModel>();
  m->W.requires_grad_(false);  // a frozen base, as with LoRA
  Tensor w0 = m->W.clone();
  nn::Adam opt(m->parameters(), {.lr = 0.1});
  train_step(*m, opt);
  EXPECT_TRUE(equal(m->W, w0));
  EXPECT_EQ(opt.state(m->W), nullptr);
  ASSERT_NE(opt.state(m->b), nullptr);
  EXPECT_EQ(opt.state(m->b)->step, 1);
  EXPECT_FALSE(equal(m->b, load_npy(nn_fixture("optim/b0.npy"))));
}

TEST(Optim, ZeroGradDropsGradients) {
  auto m = std::make_shared<TinyModel>();
  nn::SGD opt(m->parameters(), {.lr = 0.1});
  m->loss(X(), Y()).backward();
  ASSERT_TRUE(m->W.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(m->W.grad().defined());
  EXPECT_FALSE(m->b.grad().defined());
}

TEST(Optim, LrIsMutablePerGroup) {
  auto m = std::make_shared<TinyModel>();
  nn::SGD opt(m->parameters(), {.lr = 0.1});
  opt.param_groups()[0].options.lr = 0.0;  // no movement at lr 0
  train_step(*m, opt);
  EXPECT_TRUE(equal(m->W, load_npy(nn_fixture("optim/W0.npy"))));
  opt.set_lr(0, 0.5);
  EXPECT_EQ(opt.param_groups()[0].options.lr, 0.5);
  EXPECT_EQ(opt.lr(0), 0.5);
}

// Resuming from state_dict() continues the trajectory exactly: 2 steps, save, fresh optimiser
// over fresh parameters holding the saved values, load, 3 more steps == 5 uninterrupted steps.
void expect_resume_exact(const MakeOptimizer& make) {
  auto a = std::make_shared<TinyModel>();
  auto opt_a = make(*a);
  for (int s = 0; s < 5; ++s) train_step(*a, *opt_a);

  auto b = std::make_shared<TinyModel>();
  auto opt_b = make(*b);
  for (int s = 0; s < 2; ++s) train_step(*b, *opt_b);
  NamedTensors saved = opt_b->state_dict();
  nn::StateDict weights = b->state_dict();

  auto c = std::make_shared<TinyModel>();
  auto opt_c = make(*c);
  c->load_state_dict(weights);
  opt_c->load_state_dict(saved);
  for (int s = 0; s < 3; ++s) train_step(*c, *opt_c);
  EXPECT_TRUE(equal(c->row(), a->row())) << c->row() << "\n" << a->row();
}

TEST(Optim, StateDictResumesExactly) {
  expect_resume_exact(make<nn::SGD>(nn::SgdOptions{.lr = 0.1, .momentum = 0.9}));
  expect_resume_exact(make<nn::Adam>(nn::AdamOptions{.lr = 0.01, .amsgrad = true}));
  expect_resume_exact(make<nn::AdamW>(nn::AdamOptions{.lr = 0.01, .weight_decay = 0.1}));
  expect_resume_exact(make<nn::RMSprop>(nn::RmspropOptions{.momentum = 0.5, .centered = true}));
}

TEST(Optim, StateDictHoldsStepsBuffersAndOptions) {
  auto m = std::make_shared<TinyModel>();
  nn::Adam opt(m->parameters(), {.lr = 0.01, .amsgrad = true});
  train_step(*m, opt);
  train_step(*m, opt);
  NamedTensors s = opt.state_dict();
  EXPECT_EQ(s.at("state.0.step").item(), 2);
  EXPECT_EQ(s.at("state.1.exp_avg").shape(), (Shape{3}));
  EXPECT_EQ(s.at("state.0.max_exp_avg_sq").shape(), (Shape{3, 4}));
  EXPECT_EQ(s.count("state.2.step"), 0u);  // the unused parameter has no state
  EXPECT_EQ(s.at("param_groups.0.lr").item(), 0.01);
  EXPECT_EQ(s.at("param_groups.0.amsgrad").item(), 1.0);
  EXPECT_EQ(s.at("param_groups.0.num_params").item(), 3);
  // Loading restores the options too.
  nn::Adam other(m->parameters(), {.lr = 0.5});
  other.load_state_dict(s);
  EXPECT_EQ(other.lr(0), 0.01);
  EXPECT_TRUE(other.param_groups()[0].options.amsgrad);
  EXPECT_EQ(other.state(m->W)->step, 2);
}

TEST(Optim, LoadStateDictErrorsListEveryProblem) {
  auto m = std::make_shared<TinyModel>();
  nn::Adam adam(m->parameters());
  train_step(*m, adam);
  nn::SGD sgd(m->parameters(), {.lr = 0.1, .momentum = 0.9});
  std::string msg = error_of([&] { sgd.load_state_dict(adam.state_dict()); });
  EXPECT_THAT(msg, HasSubstr("SGD.load_state_dict:"));
  EXPECT_THAT(msg, HasSubstr("missing key 'param_groups.0.momentum'"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'param_groups.0.beta1'"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'state.0.exp_avg' (SGD keeps no 'exp_avg')"));

  NamedTensors bad = adam.state_dict();
  bad["state.1.exp_avg"] = zeros({4}, DType::f64);
  bad["state.7.step"] = scalar_tensor(1, DType::i64);
  bad["state.x.step"] = scalar_tensor(1, DType::i64);
  msg = error_of([&] { adam.load_state_dict(bad); });
  EXPECT_THAT(msg, HasSubstr("'state.1.exp_avg' has shape [4] but parameter 1 has shape [3]"));
  EXPECT_THAT(msg, HasSubstr("'state.7.step' refers to parameter 7 but there are only 3"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'state.x.step'"));
  EXPECT_THAT(msg, HasSubstr("Adam.load_state_dict: 3 problem(s)"));

  auto small = std::make_shared<TinyModel>();
  nn::Adam fewer(std::vector<Tensor>{small->W});
  EXPECT_THAT(error_of([&] { fewer.load_state_dict(adam.state_dict()); }),
              HasSubstr("group 0 has 3 parameters in the state but 1 in this optimizer"));
}

TEST(Optim, ConstructorErrors) {
  auto m = std::make_shared<TinyModel>();
  EXPECT_THAT(error_of([&] { nn::SGD(m->parameters(), {.lr = -1}); }),
              HasSubstr("SGD: invalid lr -1 in group 0"));
  EXPECT_THAT(error_of([&] { nn::SGD(m->parameters(), {.lr = 0.1, .nesterov = true}); }),
              HasSubstr("SGD: nesterov needs momentum > 0 and dampening = 0"));
  EXPECT_THAT(error_of([&] { nn::Adam(m->parameters(), {.beta1 = 1.0}); }),
              HasSubstr("Adam: invalid beta1 1 in group 0 (must be in [0, 1))"));
  EXPECT_THAT(error_of([&] {
                nn::AdamW(std::vector<Tensor>{m->W, m->W});
              }),
              HasSubstr("AdamW: parameter 1 of group 0 (f64[3, 4] on cpu) appears more than once"));
  EXPECT_THAT(error_of([&] { nn::RMSprop(std::vector<Tensor>{arange(3)}); }),
              HasSubstr("RMSprop: parameter 0 of group 0 must be a dense floating tensor"));
}

}  // namespace
}  // namespace stackgrad
