#include "nn/optim/sgd.h"

namespace stackgrad::nn {

namespace {

void check_options(const SgdOptions& o, size_t g) {
  SG_CHECK(o.lr >= 0, "SGD: invalid lr ", o.lr, " in group ", g, " (must be >= 0)");
  SG_CHECK(o.momentum >= 0, "SGD: invalid momentum ", o.momentum, " in group ", g);
  SG_CHECK(o.weight_decay >= 0, "SGD: invalid weight_decay ", o.weight_decay, " in group ", g);
  SG_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
           "SGD: nesterov needs momentum > 0 "
           "and dampening = 0, got momentum ",
           o.momentum, " and dampening ", o.dampening, " in group ", g);
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, SgdOptions options)
    : SGD(std::vector<Group>{{std::move(params), options}}) {}

SGD::SGD(std::vector<Group> groups) : OptimizerWith("SGD", std::move(groups)) {
  for (size_t g = 0; g < groups_.size(); ++g) check_options(groups_[g].options, g);
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const SgdOptions& o = groups_[gi].options;
    check_options(o, gi);  // options are mutable between steps
    for (Tensor& p : groups_[gi].params) {
      Tensor d_p = p.grad();
      if (!d_p.defined()) continue;
      ParamState& st = state_for(p);
      ++st.step;
      if (o.weight_decay != 0) d_p = d_p + p * o.weight_decay;
      if (o.momentum != 0) {
        auto it = st.buffers.find("momentum_buffer");
        if (it == st.buffers.end()) {
          it = st.buffers.emplace("momentum_buffer", d_p.clone()).first;
        } else {
          it->second.mul_(o.momentum).add_(d_p, 1.0 - o.dampening);
        }
        d_p = o.nesterov ? d_p + it->second * o.momentum : it->second;
      }
      p.add_(d_p, -o.lr);
    }
  }
}

}  // namespace stackgrad::nn
