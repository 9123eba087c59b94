#include "nn/optim/optimizer.h"

#include <algorithm>
#include <set>

namespace stackgrad::nn {

void Optimizer::zero_grad() {
  for (size_t g = 0; g < num_param_groups(); ++g)
    for (const Tensor& p : group_params(g)) Tensor(p).zero_grad();
}

const ParamState* Optimizer::state(const Tensor& param) const {
  auto it = state_.find(param.impl().get());
  return it == state_.end() ? nullptr : &it->second;
}

void Optimizer::check_params() const {
  std::set<const TensorImpl*> seen;
  for (size_t g = 0; g < num_param_groups(); ++g) {
    const auto& params = group_params(g);
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor& p = params[i];
      SG_CHECK(p.defined(), name_, ": parameter ", i, " of group ", g, " is undefined");
      SG_CHECK(is_floating(p.dtype()) && !p.is_sparse(), name_, ": parameter ", i, " of group ", g,
               " must be a dense floating tensor, got ", describe(p));
      SG_CHECK(seen.insert(p.impl().get()).second, name_, ": parameter ", i, " of group ", g, " (",
               describe(p), ") appears more than once");
    }
  }
}

Tensor& Optimizer::buffer(ParamState& st, const std::string& name, const Tensor& param) {
  auto it = st.buffers.find(name);
  if (it == st.buffers.end())
    it = st.buffers.emplace(name, zeros(param.shape(), Options(param.dtype(), param.device())))
             .first;
  return it->second;
}

// --- state_dict -----------------------------------------------------------------------------

namespace {

Tensor cpu(const Tensor& t) { return t.device().is_cpu() ? t.detach() : t.to(Device::cpu()); }

// "state.12.exp_avg" -> {12, "exp_avg"}; false for any other shape of key.
bool parse_indexed(const std::string& key, const std::string& prefix, size_t& index,
                   std::string& rest) {
  if (key.rfind(prefix, 0) != 0) return false;
  size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return false;
  std::string digits = key.substr(prefix.size(), dot - prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      digits.size() > 9)
    return false;
  index = std::stoul(digits);
  rest = key.substr(dot + 1);
  return !rest.empty();
}

}  // namespace

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  size_t flat = 0;
  for (size_t g = 0; g < num_param_groups(); ++g) {
    std::string group = "param_groups." + std::to_string(g) + ".";
    for (auto& [option, value] : group_options(g))
      out[group + option] = scalar_tensor(value, DType::f64);
    out[group + "num_params"] =
        scalar_tensor(static_cast<double>(group_params(g).size()), DType::i64);
    for (const Tensor& p : group_params(g)) {
      const ParamState* st = state(p);
      if (st != nullptr) {
        std::string prefix = "state." + std::to_string(flat) + ".";
        out[prefix + "step"] = scalar_tensor(static_cast<double>(st->step), DType::i64);
        for (auto& [buf, t] : st->buffers) out[prefix + buf] = cpu(t).clone();
      }
      ++flat;
    }
  }
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
  // Every parameter by flat index, and the options expected per group.
  std::vector<Tensor> params;
  for (size_t g = 0; g < num_param_groups(); ++g)
    for (const Tensor& p : group_params(g)) params.push_back(p);
  const std::vector<std::string> buffers = buffer_names();

  std::vector<std::string> problems;
  std::set<std::string> used;
  auto scalar = [&](const std::string& key, double& value) {
    auto it = state.find(key);
    if (it == state.end()) {
      problems.push_back("missing key '" + key + "'");
      return false;
    }
    used.insert(key);
    if (it->second.numel() != 1) {
      problems.push_back(str_cat("'", key, "' should be a scalar, got ", describe(it->second)));
      return false;
    }
    value = it->second.item();
    return true;
  };

  // Group options and sizes.
  std::vector<std::vector<std::pair<std::string, double>>> options(num_param_groups());
  for (size_t g = 0; g < num_param_groups(); ++g) {
    std::string group = "param_groups." + std::to_string(g) + ".";
    double n = 0;
    if (scalar(group + "num_params", n) && n != static_cast<double>(group_params(g).size()))
      problems.push_back(str_cat("group ", g, " has ", n, " parameters in the state but ",
                                 group_params(g).size(), " in this optimizer"));
    for (auto& [option, unused] : group_options(g)) {
      double value = 0;
      if (scalar(group + option, value)) options[g].emplace_back(option, value);
    }
  }

  // Per-parameter state.
  std::map<size_t, ParamState> loaded;
  for (auto& [key, t] : state) {
    size_t index = 0;
    std::string rest;
    if (!parse_indexed(key, "state.", index, rest)) continue;  // reported as unexpected below
    used.insert(key);
    if (index >= params.size()) {
      problems.push_back(str_cat("'", key, "' refers to parameter ", index, " but there are only ",
                                 params.size()));
      continue;
    }
    const Tensor& p = params[index];
    if (rest == "step") {
      if (t.numel() != 1)
        problems.push_back(str_cat("'", key, "' should be a scalar, got ", describe(t)));
      else
        loaded[index].step = static_cast<int64_t>(t.item());
    } else if (std::find(buffers.begin(), buffers.end(), rest) == buffers.end()) {
      problems.push_back(str_cat("unexpected key '", key, "' (", name_, " keeps no '", rest, "')"));
    } else if (t.shape() != p.shape()) {
      problems.push_back(str_cat("'", key, "' has shape ", shape_str(t.shape()), " but parameter ",
                                 index, " has shape ", shape_str(p.shape())));
    } else {
      loaded[index].buffers[rest] = t.to(p.dtype()).to(p.device()).contiguous().clone();
    }
  }
  for (auto& [key, t] : state)
    if (!used.count(key)) problems.push_back("unexpected key '" + key + "'");

  if (!problems.empty()) {
    std::string msg =
        name_ + ".load_state_dict: " + std::to_string(problems.size()) + " problem(s):";
    for (auto& p : problems) msg += "\n  " + p;
    fail(msg);
  }
  for (size_t g = 0; g < options.size(); ++g)
    for (auto& [option, value] : options[g]) set_group_option(g, option, value);
  state_.clear();
  for (auto& [index, st] : loaded) state_[params[index].impl().get()] = std::move(st);
}

}  // namespace stackgrad::nn
