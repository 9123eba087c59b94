// SGD with momentum, dampening, weight decay and Nesterov momentum; PyTorch's update exactly:
//   g = grad + weight_decay * p
//   b = g at the first step, else momentum * b + (1 - dampening) * g      (when momentum != 0)
//   g = g + momentum * b (nesterov) or g = b
//   p = p - lr * g
//
//   nn::SGD opt(net->parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
//   nn::SGD two({{net->fc1->parameters(), {.lr = 0.1}}, {net->fc2->parameters(), {.lr = 0.01}}});
//   opt.zero_grad(); loss.backward(); opt.step();
#pragma once

#include "nn/optim/optimizer.h"

namespace stackgrad::nn {

struct SgdOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;

  template <typename F>
  void visit(F&& f) {
    f("lr", lr), f("momentum", momentum), f("dampening", dampening);
    f("weight_decay", weight_decay), f("nesterov", nesterov);
  }
};

class SGD : public OptimizerWith<SgdOptions> {
 public:
  explicit SGD(std::vector<Tensor> params, SgdOptions options = {});
  explicit SGD(std::vector<Group> groups);
  void step() override;

 protected:
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }

 private:
  bool step_fused(std::vector<Tensor>& params, const SgdOptions& o);
};

}  // namespace stackgrad::nn
