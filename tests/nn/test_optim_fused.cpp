// The fused optimiser steps (ops adam_step, sgd_step, FusedStep::always on the CPU) against the
// optimisers' unfused tensor ops (FusedStep::never): several steps over parameters of odd
// sizes, f32 and f64, every option that changes the arithmetic; the parameters and every state
// buffer must be equal bit for bit. Also the fallback for a group the fused ops cannot take.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "engine/ops/optim.h"
#include "nn/optim.h"

namespace stackgrad {
namespace {

using MakeOptimizer =
    std::function<std::unique_ptr<nn::Optimizer>(std::vector<Tensor>, nn::FusedStep)>;

std::vector<Tensor> make_params(DType dtype) {
  Generator gen(7);
  std::vector<Tensor> ps;
  for (const Shape& s : {Shape{7, 3}, Shape{9000}, Shape{1}})
    ps.push_back(randn(s, gen, Options(dtype)).requires_grad_());
  return ps;
}

// Gradients of a loss that differs per step: sum(tanh(p) * w_step). The last parameter gets no
// gradient on odd steps (it is skipped then, so its step count lags the others').
void backward_step(const std::vector<Tensor>& ps, int step) {
  Generator gen(100 + step);
  Tensor loss;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i + 1 == ps.size() && step % 2 == 1) continue;
    Tensor w = randn(ps[i].shape(), gen, Options(ps[i].dtype()));
    Tensor term = sum(tanh(ps[i]) * w);
    loss = loss.defined() ? loss + term : term;
  }
  loss.backward();
}

// The kernel log (STACKGRAD_DEBUG=1 lines "[stackgrad] <op> ...") of running f.
std::string kernel_log(const std::function<void()>& f) {
  const int previous = debug_level();
  ::testing::internal::CaptureStderr();
  set_debug_level(1);
  try {
    f();
  } catch (...) {
    set_debug_level(previous);
    ::testing::internal::GetCapturedStderr();
    throw;
  }
  set_debug_level(previous);
  return ::testing::internal::GetCapturedStderr();
}

void expect_same_steps(const std::string& name, const MakeOptimizer& make) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(name + (dtype == DType::f32 ? " f32" : " f64"));
    std::vector<Tensor> a = make_params(dtype), b = make_params(dtype);
    auto fused = make(a, nn::FusedStep::always);
    auto plain = make(b, nn::FusedStep::never);
    for (int step = 0; step < 5; ++step) {
      fused->zero_grad();
      plain->zero_grad();
      backward_step(a, step);
      backward_step(b, step);
      const std::string fused_log = kernel_log([&] { fused->step(); });
      const std::string plain_log = kernel_log([&] { plain->step(); });
      // One fused call per step, and none on the unfused side.
      const std::string op = name.rfind("sgd", 0) == 0 ? "sgd_step" : "adam_step";
      EXPECT_NE(fused_log.find("[stackgrad] " + op + " "), std::string::npos) << fused_log;
      EXPECT_EQ(plain_log.find("[stackgrad] " + op + " "), std::string::npos);
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_TRUE(equal(a[i].detach(), b[i].detach())) << "parameter " << i << " step " << step;
        const nn::ParamState *sa = fused->state(a[i]), *sb = plain->state(b[i]);
        ASSERT_EQ(sa == nullptr, sb == nullptr);
        if (sa == nullptr) continue;
        EXPECT_EQ(sa->step, sb->step);
        ASSERT_EQ(sa->buffers.size(), sb->buffers.size());
        for (const auto& [key, buf] : sa->buffers)
          EXPECT_TRUE(equal(buf, sb->buffers.at(key))) << key << " of parameter " << i;
      }
    }
  }
}

template <typename Opt, typename Options>
MakeOptimizer make(Options o) {
  return [o](std::vector<Tensor> ps, nn::FusedStep mode) {
    auto opt = std::make_unique<Opt>(std::move(ps), o);
    opt->set_fused(mode);
    return opt;
  };
}

TEST(OptimFused, AdamEqualsUnfused) {
  expect_same_steps("adam", make<nn::Adam>(nn::AdamOptions{.lr = 1e-2}));
  expect_same_steps("adam l2", make<nn::Adam>(nn::AdamOptions{.lr = 1e-2, .weight_decay = 0.1}));
  expect_same_steps("adam amsgrad", make<nn::Adam>(nn::AdamOptions{
                                        .lr = 3e-2, .beta1 = 0.5, .beta2 = 0.9, .amsgrad = true}));
  expect_same_steps("adamw", make<nn::AdamW>(nn::AdamOptions{.lr = 1e-2, .weight_decay = 0.05}));
}

TEST(OptimFused, SgdEqualsUnfused) {
  expect_same_steps("sgd", make<nn::SGD>(nn::SgdOptions{.lr = 0.1}));
  expect_same_steps("sgd momentum",
                    make<nn::SGD>(nn::SgdOptions{
                        .lr = 0.1, .momentum = 0.9, .dampening = 0.2, .weight_decay = 1e-2}));
  expect_same_steps("sgd nesterov",
                    make<nn::SGD>(nn::SgdOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true}));
}

TEST(OptimFused, AutomaticLeavesCpuUnfusedAndStridedParamsFallBack) {
  // A non-contiguous parameter: the fused op refuses it, and step() takes the tensor ops.
  Tensor base = randn({4, 6}, default_generator(), Options(DType::f32));
  Tensor p = base.t().detach().requires_grad_();
  ASSERT_FALSE(p.is_contiguous());
  EXPECT_FALSE(fused_step_supported({p}));
  Tensor q = p.detach().contiguous().requires_grad_();
  nn::Adam fused({p}, {.lr = 0.1});
  fused.set_fused(nn::FusedStep::always);
  nn::Adam plain({q}, {.lr = 0.1});
  EXPECT_EQ(plain.fused(), nn::FusedStep::automatic);
  sum(p * p).backward();
  sum(q * q).backward();
  fused.step();
  plain.step();
  EXPECT_TRUE(equal(p.detach().contiguous(), q.detach()));
}

TEST(OptimFused, OpChecksItsArguments) {
  Tensor p = zeros({3}, DType::f32), g = zeros({3}, DType::f32), m = zeros({4}, DType::f32);
  EXPECT_THROW(adam_step({p}, {g}, {m}, {g.clone()}, {}, {1}, {}), Error);          // exp_avg shape
  EXPECT_THROW(adam_step({p}, {g}, {g.clone()}, {g.clone()}, {}, {0}, {}), Error);  // step 0
  EXPECT_THROW(sgd_step({p}, {}, {}, {}, {}), Error);                               // no grad
}

}  // namespace
}  // namespace stackgrad
