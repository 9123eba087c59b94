#include "nn/optim/sgd.h"

#include "engine/ops/optim.h"

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

// The group's update as one sgd_step call, when the fused path applies; false leaves it to the
// tensor ops (nothing changed).
bool SGD::step_fused(std::vector<Tensor>& params, const SgdOptions& o) {
  std::vector<Tensor> ps, gs, bufs, all;
  for (Tensor& p : params) {
    if (!p.grad().defined()) continue;
    ps.push_back(p);
    gs.push_back(p.grad());
  }
  if (ps.empty() || !fuse_on(ps[0].device())) return false;
  for (size_t i = 0; i < ps.size(); ++i)
    if (gs[i].dtype() != ps[i].dtype() || gs[i].device() != ps[i].device()) return false;
  const bool momentum = o.momentum != 0;
  std::vector<bool> first(ps.size(), false);
  if (momentum) {
    for (size_t i = 0; i < ps.size(); ++i) {
      const ParamState* st = state(ps[i]);
      if (st == nullptr || st->buffers.count("momentum_buffer") == 0) continue;
      bufs.push_back(st->buffers.at("momentum_buffer"));
    }
  }
  all = ps;
  all.insert(all.end(), bufs.begin(), bufs.end());
  if (!fused_step_supported(all)) return false;
  bufs.clear();
  for (size_t i = 0; i < ps.size(); ++i) {
    ParamState& st = state_for(ps[i]);
    ++st.step;
    if (!momentum) continue;
    auto it = st.buffers.find("momentum_buffer");
    if (it == st.buffers.end()) {
      // PyTorch's buffer starts as the (decayed) gradient: sgd_step writes it.
      it = st.buffers
               .emplace("momentum_buffer",
                        empty(ps[i].shape(), Options(ps[i].dtype(), ps[i].device())))
               .first;
      first[i] = true;
    }
    bufs.push_back(it->second);
  }
  sgd_step(ps, gs, bufs, first,
           {.lr = o.lr,
            .momentum = o.momentum,
            .dampening = o.dampening,
            .weight_decay = o.weight_decay,
            .nesterov = o.nesterov});
  return true;
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const SgdOptions& o = groups_[gi].options;
    check_options(o, gi);  // options are mutable between steps
    if (step_fused(groups_[gi].params, o)) continue;
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
