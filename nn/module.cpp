#include "nn/module.h"

#include <algorithm>
#include <set>

namespace stackgrad::nn {

Tensor Module::forward(const Tensor&) {
  fail(type_name_, ": has no one-tensor forward(x); call its own forward(...) instead");
}

// --- registration -------------------------------------------------------------------------

void Module::check_new_name(const std::string& name) const {
  SG_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_,
           ": invalid member name '", name, "' (must be non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) {
      if constexpr (requires { e.name; }) return e.name == name;
      else return e.first == name;
    });
  };
  SG_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), type_name_, ": '", name,
           "' is already registered");
}

Tensor& Module::register_parameter(const std::string& name, Tensor& slot, Tensor value) {
  check_new_name(name);
  SG_CHECK(value.defined(), type_name_, ": parameter '", name, "' is undefined");
  SG_CHECK(is_floating(value.dtype()), type_name_, ": parameter '", name,
           "' must be floating, got ", dtype_name(value.dtype()));
  slot = value.detach();
  slot.requires_grad_(true);
  parameters_.push_back({name, &slot});
  return slot;
}

Tensor& Module::register_buffer(const std::string& name, Tensor& slot, Tensor value, bool persistent) {
  check_new_name(name);
  SG_CHECK(value.defined(), type_name_, ": buffer '", name, "' is undefined");
  slot = value.detach();
  buffers_.push_back({name, &slot, persistent});
  return slot;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  SG_CHECK(module != nullptr, type_name_, ": submodule '", name, "' is null");
  SG_CHECK(module.get() != this, type_name_, ": a module cannot contain itself");
  children_.emplace_back(name, std::move(module));
}

void Module::remove_child(const std::string& name) {
  auto it = std::find_if(children_.begin(), children_.end(),
                         [&](const auto& entry) { return entry.first == name; });
  SG_CHECK(it != children_.end(), type_name_, ": no submodule named '", name, "'");
  children_.erase(it);
}

// --- walking the tree -----------------------------------------------------------------------

void Module::collect(const std::string& prefix, bool recurse, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const Slot& s : buffers ? buffers_ : parameters_) out.emplace_back(prefix + s.name, *s.tensor);
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", true, buffers, out);
}

void Module::collect_slots(const std::string& prefix, bool buffers_too,
                           std::vector<std::pair<std::string, Tensor*>>& out) const {
  for (const Slot& s : parameters_) out.emplace_back(prefix + s.name, s.tensor);
  if (buffers_too)
    for (const Slot& s : buffers_) out.emplace_back(prefix + s.name, s.tensor);
  for (const auto& [name, child] : children_) child->collect_slots(prefix + name + ".", buffers_too, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", recurse, false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", recurse, true, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (const auto& [name, child] : children_) {
    out.emplace_back(name, child);
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(name + "." + sub, m);
  }
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

// --- mode, device, gradients ----------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (const Slot& s : parameters_) {
    bool rg = s.tensor->requires_grad();
    *s.tensor = s.tensor->detach().to(device);
    s.tensor->requires_grad_(rg);
  }
  for (const Slot& s : buffers_) *s.tensor = s.tensor->to(device);
  for (auto& [name, child] : children_) child->to(device);
}

void Module::to(DType dtype) {
  SG_CHECK(is_floating(dtype), type_name_, ".to: expected a floating dtype, got ", dtype_name(dtype));
  NoGradGuard no_grad;
  for (const Slot& s : parameters_) {
    bool rg = s.tensor->requires_grad();
    *s.tensor = s.tensor->detach().to(dtype);
    s.tensor->requires_grad_(rg);
  }
  for (const Slot& s : buffers_)
    if (is_floating(s.tensor->dtype())) *s.tensor = s.tensor->to(dtype);
  for (auto& [name, child] : children_) child->to(dtype);
}

void Module::zero_grad() {
  for (const Slot& s : parameters_) s.tensor->zero_grad();
  for (auto& [name, child] : children_) child->zero_grad();
}

void Module::set_frozen(bool frozen) {
  for (const Slot& s : parameters_) s.tensor->requires_grad_(!frozen);
  for (auto& [name, child] : children_) child->set_frozen(frozen);
}

// --- checkpoints ----------------------------------------------------------------------------

StateDict Module::state_dict() const {
  StateDict out;
  for (auto& [name, t] : named_parameters()) out[name] = t.detach();
  // Buffers: only the persistent ones (walk the tree by hand to see the flag).
  std::vector<std::pair<std::string, const Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    for (const Slot& s : m->buffers_)
      if (s.persistent) out[prefix + s.name] = s.tensor->detach();
    for (const auto& [name, child] : m->children_) stack.emplace_back(prefix + name + ".", child.get());
  }
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  // Targets: every parameter and every persistent buffer.
  std::vector<std::pair<std::string, Tensor*>> targets;
  StateDict mine = state_dict();
  std::vector<std::pair<std::string, Tensor*>> all;
  collect_slots("", true, all);
  for (auto& [name, slot] : all)
    if (mine.count(name)) targets.emplace_back(name, slot);

  std::vector<std::string> problems;
  std::set<std::string> known;
  for (auto& [name, slot] : targets) {
    known.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      if (strict) problems.push_back("missing key '" + name + "'");
      continue;
    }
    const Tensor& src = it->second;
    if (src.shape() != slot->shape())
      problems.push_back(str_cat("'", name, "' has shape ", shape_str(src.shape()), " in the checkpoint but ",
                                 shape_str(slot->shape()), " in the model"));
    else if (is_floating(src.dtype()) != is_floating(slot->dtype()))
      problems.push_back(str_cat("'", name, "' is ", dtype_name(src.dtype()), " in the checkpoint but ",
                                 dtype_name(slot->dtype()), " in the model"));
  }
  if (strict)
    for (auto& [name, t] : state)
      if (!known.count(name)) problems.push_back("unexpected key '" + name + "'");
  if (!problems.empty()) {
    std::string msg = type_name_ + ".load_state_dict: " + std::to_string(problems.size()) + " problem(s):";
    for (auto& p : problems) msg += "\n  " + p;
    fail(msg);
  }
  NoGradGuard no_grad;
  for (auto& [name, slot] : targets) {
    auto it = state.find(name);
    if (it == state.end()) continue;
    slot->copy_(it->second.device() == slot->device() ? it->second : it->second.to(slot->device()));
  }
}

void Module::save(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  NamedTensors out;
  for (auto& [name, t] : state_dict()) out[name] = t.device().is_cpu() ? t : t.to(Device::cpu());
  save_safetensors(path, out, metadata);
}

void Module::load(const std::string& path, bool strict) { load_state_dict(load_safetensors(path), strict); }

// --- printing -------------------------------------------------------------------------------

void Module::repr_into(std::string& out, int indent) const {
  out += type_name_ + "(" + extra_repr();
  if (children_.empty()) {
    out += ")";
    return;
  }
  out += "\n";
  for (const auto& [name, child] : children_) {
    out += std::string(indent + 2, ' ') + "(" + name + "): ";
    child->repr_into(out, indent + 2);
    out += "\n";
  }
  out += std::string(indent, ' ') + ")";
}

std::string Module::repr() const {
  std::string out;
  repr_into(out, 0);
  return out;
}

}  // namespace stackgrad::nn
