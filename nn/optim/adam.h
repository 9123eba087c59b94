// Adam and AdamW (Kingma & Ba; Loshchilov & Hutter), PyTorch's updates exactly. At step t:
//   g = grad + weight_decay * p           (Adam: L2 penalty in the gradient)
//   p = p * (1 - lr * weight_decay)       (AdamW instead: decoupled decay, g = grad)
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g²,  v̂ = max(v̂, v) with amsgrad
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v or v̂) / sqrt(1 - beta2^t) + eps)
//
//   nn::Adam opt(net->parameters(), {.lr = 1e-3});
//   nn::AdamW optw(net->parameters(), {.lr = 1e-3, .weight_decay = 0.01});
//   opt.zero_grad(); loss.backward(); opt.step();
#pragma once

#include "nn/optim/optimizer.h"

namespace stackgrad::nn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's default is 0.01: pass it explicitly
  bool amsgrad = false;

  template <typename F>
  void visit(F&& f) {
    f("lr", lr), f("beta1", beta1), f("beta2", beta2), f("eps", eps);
    f("weight_decay", weight_decay), f("amsgrad", amsgrad);
  }
};

class Adam : public OptimizerWith<AdamOptions> {
 public:
  explicit Adam(std::vector<Tensor> params, AdamOptions options = {});
  explicit Adam(std::vector<Group> groups);
  void step() override;

 protected:
  Adam(std::string name, std::vector<Group> groups, bool decoupled);
  std::vector<std::string> buffer_names() const override {
    return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  }

 private:
  bool step_fused(std::vector<Tensor>& params, const AdamOptions& o);
  bool decoupled_ = false;  // AdamW
};

// Adam with decoupled weight decay.
class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, AdamOptions options = {.weight_decay = 0.01});
  explicit AdamW(std::vector<Group> groups);
};

}  // namespace stackgrad::nn
