// RMSprop (Hinton's lecture 6e), PyTorch's update exactly:
//   g = grad + weight_decay * p
//   s = alpha s + (1 - alpha) g²;  centered: a = alpha a + (1 - alpha) g, and s - a² replaces s
//   d = sqrt(s) + eps
//   momentum > 0: b = momentum b + g / d, p = p - lr b;  otherwise p = p - lr g / d
//
//   nn::RMSprop opt(net->parameters(), {.lr = 1e-2, .alpha = 0.99});
//   opt.zero_grad(); loss.backward(); opt.step();
#pragma once

#include "nn/optim/optimizer.h"

namespace stackgrad::nn {

struct RmspropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;

  template <typename F>
  void visit(F&& f) {
    f("lr", lr), f("alpha", alpha), f("eps", eps), f("weight_decay", weight_decay);
    f("momentum", momentum), f("centered", centered);
  }
};

class RMSprop : public OptimizerWith<RmspropOptions> {
 public:
  explicit RMSprop(std::vector<Tensor> params, RmspropOptions options = {});
  explicit RMSprop(std::vector<Group> groups);
  void step() override;

 protected:
  std::vector<std::string> buffer_names() const override {
    return {"square_avg", "grad_avg", "momentum_buffer"};
  }
};

}  // namespace stackgrad::nn
