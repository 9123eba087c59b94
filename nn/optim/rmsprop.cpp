#include "nn/optim/rmsprop.h"

namespace stackgrad::nn {

namespace {

void check_options(const RmspropOptions& o, size_t g) {
  SG_CHECK(o.lr >= 0, "RMSprop: invalid lr ", o.lr, " in group ", g, " (must be >= 0)");
  SG_CHECK(o.eps >= 0, "RMSprop: invalid eps ", o.eps, " in group ", g, " (must be >= 0)");
  SG_CHECK(o.alpha >= 0, "RMSprop: invalid alpha ", o.alpha, " in group ", g, " (must be >= 0)");
  SG_CHECK(o.momentum >= 0, "RMSprop: invalid momentum ", o.momentum, " in group ", g);
  SG_CHECK(o.weight_decay >= 0, "RMSprop: invalid weight_decay ", o.weight_decay, " in group ", g);
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, RmspropOptions options)
    : RMSprop(std::vector<Group>{{std::move(params), options}}) {}

RMSprop::RMSprop(std::vector<Group> groups) : OptimizerWith("RMSprop", std::move(groups)) {
  for (size_t g = 0; g < groups_.size(); ++g) check_options(groups_[g].options, g);
}

void RMSprop::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const RmspropOptions& o = groups_[gi].options;
    check_options(o, gi);
    for (Tensor& p : groups_[gi].params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& st = state_for(p);
      ++st.step;
      if (o.weight_decay != 0) grad = grad + p * o.weight_decay;

      Tensor& square_avg = buffer(st, "square_avg", p);
      square_avg.mul_(o.alpha).add_(grad * grad, 1.0 - o.alpha);
      Tensor avg;
      if (o.centered) {
        Tensor& grad_avg = buffer(st, "grad_avg", p);
        grad_avg.mul_(o.alpha).add_(grad, 1.0 - o.alpha);
        avg = sqrt(square_avg - grad_avg * grad_avg);
      } else {
        avg = sqrt(square_avg);
      }
      avg = avg + o.eps;
      if (o.momentum > 0) {
        Tensor& buf = buffer(st, "momentum_buffer", p);
        buf.mul_(o.momentum).add_(grad / avg);
        p.add_(buf, -o.lr);
      } else {
        p.add_(grad / avg, -o.lr);
      }
    }
  }
}

}  // namespace stackgrad::nn
