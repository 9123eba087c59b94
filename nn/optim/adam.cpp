#include "nn/optim/adam.h"

#include <cmath>

#include "engine/ops/optim.h"

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

// The group's update as one adam_step call, when the fused path applies; false leaves it to
// the tensor ops (nothing changed).
bool Adam::step_fused(std::vector<Tensor>& params, const AdamOptions& o) {
  std::vector<Tensor> ps, gs, m, v, vmax, all;
  for (Tensor& p : params) {
    if (!p.grad().defined()) continue;
    ps.push_back(p);
    gs.push_back(p.grad());
  }
  if (ps.empty() || !fuse_on(ps[0].device())) return false;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (gs[i].dtype() != ps[i].dtype() || gs[i].device() != ps[i].device()) return false;
    ParamState& st = state_for(ps[i]);
    m.push_back(buffer(st, "exp_avg", ps[i]));
    v.push_back(buffer(st, "exp_avg_sq", ps[i]));
    if (o.amsgrad) vmax.push_back(buffer(st, "max_exp_avg_sq", ps[i]));
  }
  for (const auto* list : {&ps, &m, &v, &vmax}) all.insert(all.end(), list->begin(), list->end());
  if (!fused_step_supported(all)) return false;
  std::vector<int64_t> steps;
  for (const Tensor& p : ps) steps.push_back(++state_for(p).step);
  adam_step(ps, gs, m, v, vmax, steps,
            {.lr = o.lr,
             .beta1 = o.beta1,
             .beta2 = o.beta2,
             .eps = o.eps,
             .weight_decay = o.weight_decay,
             .amsgrad = o.amsgrad,
             .decoupled = decoupled_});
  return true;
}

void Adam::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const AdamOptions& o = groups_[gi].options;
    check_options(name(), o, gi);
    if (step_fused(groups_[gi].params, o)) continue;
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
