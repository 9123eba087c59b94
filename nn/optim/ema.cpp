#include "nn/optim/ema.h"

#include <algorithm>

namespace stackgrad::nn {

namespace {

StateDict snapshot(const Module& model) {
  StateDict out;
  for (auto& [name, t] : model.state_dict()) out[name] = t.clone();
  return out;
}

}  // namespace

ModelEma::ModelEma(Module& model, double decay, EmaOptions options)
    : model_(model), decay_(decay), options_(options), shadow_(snapshot(model)) {
  SG_CHECK(decay >= 0 && decay <= 1, "ModelEma: decay must be in [0, 1], got ", decay);
}

double ModelEma::current_decay() const {
  if (!options_.warmup) return decay_;
  double n = static_cast<double>(num_updates_);
  return std::min(decay_, (1.0 + n) / (10.0 + n));
}

void ModelEma::update() {
  NoGradGuard no_grad;
  const double d = current_decay();
  StateDict live = model_.state_dict();
  SG_CHECK(live.size() == shadow_.size(), "ModelEma.update: the model has ", live.size(),
           " tensors but the average was made with ", shadow_.size());
  for (auto& [name, avg] : shadow_) {
    auto it = live.find(name);
    SG_CHECK(it != live.end(), "ModelEma.update: the model no longer has '", name, "'");
    SG_CHECK(it->second.shape() == avg.shape(), "ModelEma.update: '", name, "' is now ",
             describe(it->second), " but the average is ", describe(avg));
    Tensor w = it->second.device() == avg.device() ? it->second : it->second.to(avg.device());
    if (is_floating(avg.dtype()))
      avg.mul_(d).add_(w.to(avg.dtype()), 1.0 - d);
    else
      avg.copy_(w);
  }
  ++num_updates_;
}

void ModelEma::apply_to(Module& target) const { target.load_state_dict(shadow_); }

void ModelEma::store() { stored_ = snapshot(model_); }

void ModelEma::restore() {
  SG_CHECK(!stored_.empty(), "ModelEma.restore: nothing stored (call store() first)");
  model_.load_state_dict(stored_);
  stored_.clear();
}

NamedTensors ModelEma::state_dict() const {
  NamedTensors out;
  for (auto& [name, t] : shadow_)
    out["shadow." + name] = t.device().is_cpu() ? t.clone() : t.to(Device::cpu());
  out["num_updates"] = scalar_tensor(static_cast<double>(num_updates_), DType::i64);
  return out;
}

void ModelEma::load_state_dict(const NamedTensors& state) {
  auto n = state.find("num_updates");
  SG_CHECK(n != state.end() && n->second.numel() == 1,
           "ModelEma.load_state_dict: missing scalar 'num_updates'");
  StateDict shadow;
  for (auto& [key, t] : state) {
    if (key == "num_updates") continue;
    SG_CHECK(key.rfind("shadow.", 0) == 0, "ModelEma.load_state_dict: unexpected key '", key, "'");
    shadow[key.substr(7)] = t;
  }
  // Check names and shapes against the current shadows, then copy (dtype and device kept).
  for (auto& [name, avg] : shadow_) {
    auto it = shadow.find(name);
    SG_CHECK(it != shadow.end(), "ModelEma.load_state_dict: missing key 'shadow.", name, "'");
    SG_CHECK(it->second.shape() == avg.shape(), "ModelEma.load_state_dict: 'shadow.", name, "' is ",
             describe(it->second), " but the model's is ", describe(avg));
  }
  SG_CHECK(shadow.size() == shadow_.size(), "ModelEma.load_state_dict: ", shadow.size(),
           " shadow tensors in the state but ", shadow_.size(), " in the model");
  NoGradGuard no_grad;
  for (auto& [name, avg] : shadow_) {
    const Tensor& src = shadow.at(name);
    avg.copy_(src.to(avg.dtype()).to(avg.device()));
  }
  num_updates_ = static_cast<int64_t>(n->second.item());
}

}  // namespace stackgrad::nn
