#include "nn/optim/adam.h"

#include <cmath>

namespace stackgrad::nn {

namespace {

void check_options(const std::string& name, const AdamOptions& o, size_t g) {
  SG_CHECK(o.lr >= 0, name, ": invalid lr ", o.lr, " in group ", g, " (must be >= 0)");
  SG_CHECK(o.eps >= 0, name, ": invalid eps ", o.eps, " in group ", g, " (must be >= 0)");
  SG_CHECK(o.beta1 >= 0 && o.beta1 < 1, name, ": invalid beta1 ", o.beta1, " in group ", g,
           " (must be in [0, 1))");
  SG_CHECK(o.beta2 >= 0 && o.beta2 < 1, name, ": invalid beta2 ", o.beta2, " in group ", g,
           " (must be in [0, 1))");
  SG_CHECK(o.weight_decay >= 0, name, ": invalid weight_decay ", o.weight_decay, " in group ", g);
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam(std::vector<Group>{{std::move(params), options}}) {}

Adam::Adam(std::vector<Group> groups) : Adam("Adam", std::move(groups), false) {}

Adam::Adam(std::string name, std::vector<Group> groups, bool decoupled)
    : OptimizerWith(std::move(name), std::move(groups)), decoupled_(decoupled) {
  for (size_t g = 0; g < groups_.size(); ++g) check_options(this->name(), groups_[g].options, g);
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions options)
    : AdamW(std::vector<Group>{{std::move(params), options}}) {}

AdamW::AdamW(std::vector<Group> groups) : Adam("AdamW", std::move(groups), true) {}

void Adam::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const AdamOptions& o = groups_[gi].options;
    check_options(name(), o, gi);
    for (Tensor& p : groups_[gi].params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& st = state_for(p);
      Tensor& exp_avg = buffer(st, "exp_avg", p);
      Tensor& exp_avg_sq = buffer(st, "exp_avg_sq", p);
      const int64_t t = ++st.step;

      if (decoupled_)
        p.mul_(1.0 - o.lr * o.weight_decay);
      else if (o.weight_decay != 0)
        grad = grad + p * o.weight_decay;

      exp_avg.mul_(o.beta1).add_(grad, 1.0 - o.beta1);
      exp_avg_sq.mul_(o.beta2).add_(grad * grad, 1.0 - o.beta2);
      const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(t));
      const double bias_correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(t));
      const double step_size = o.lr / bias_correction1;
      const double bias_correction2_sqrt = std::sqrt(bias_correction2);

      Tensor second = exp_avg_sq;
      if (o.amsgrad) {
        Tensor& max_sq = buffer(st, "max_exp_avg_sq", p);
        max_sq.copy_(maximum(max_sq, exp_avg_sq));
        second = max_sq;
      }
      Tensor denom = sqrt(second) / bias_correction2_sqrt + o.eps;
      p.add_(exp_avg / denom, -step_size);
    }
  }
}

}  // namespace stackgrad::nn
