// Optimizer: the base of every optimiser. Parameters come in groups (one by default), each with
// its own options (lr, momentum, ...); per-parameter state (a step count and named buffers such as
// exp_avg) is created lazily at the first step that sees a gradient, like PyTorch's.
//
//   nn::Adam opt(net->parameters(), {.lr = 1e-3});
//   opt.zero_grad(); loss.backward(); opt.step();
//   save_safetensors("opt.safetensors", opt.state_dict());
//
// Parameters whose .grad is undefined after backward are skipped by step(): frozen parameters
// (requires_grad = false, e.g. a LoRA base) and parameters the loss did not reach stay untouched
// and get no state. state_dict() holds every state tensor and every group option as tensors:
//   state.<i>.step, state.<i>.<buffer>   (i: the parameter's index, counting across groups)
//   param_groups.<g>.<option>            (f64 scalars: lr, momentum, ...; booleans as 0 / 1)
//   param_groups.<g>.num_params          (i64 scalar, checked on load)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/stackgrad.h"

namespace stackgrad::nn {

// How step() applies an update. `automatic`: the parameters of a group that are all on one CUDA
// device go through one fused kernel call (ops adam_step / sgd_step: one launch instead of about
// a dozen tensor ops per parameter), the others through the tensor ops one by one. `always`:
// fused on the CPU too (same bits as the tensor ops; the tests compare the two). `never`: the
// tensor ops. A group the fused ops cannot take (mixed dtypes or devices, non-contiguous
// parameters or state) uses the tensor ops whatever the setting.
enum class FusedStep { automatic, always, never };

// A group of parameters sharing one set of options (SgdOptions, AdamOptions, ...).
template <typename Options>
struct ParamGroup {
  std::vector<Tensor> params;
  Options options{};
};

// What an optimiser keeps per parameter.
struct ParamState {
  int64_t step = 0;                       // updates applied so far
  std::map<std::string, Tensor> buffers;  // momentum_buffer, exp_avg, exp_avg_sq, ...
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "SGD", "Adam", ...: used in messages.
  const std::string& name() const { return name_; }

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Drops the .grad of every parameter (the next backward writes fresh ones).
  void zero_grad();

  // Groups seen without their option type (schedulers and checkpoints use these).
  virtual size_t num_param_groups() const = 0;
  virtual const std::vector<Tensor>& group_params(size_t group) const = 0;
  virtual double lr(size_t group) const = 0;
  virtual void set_lr(size_t group, double lr) = 0;

  void set_fused(FusedStep mode) { fused_ = mode; }
  FusedStep fused() const { return fused_; }

  // The state of one parameter (nullptr before its first update).
  const ParamState* state(const Tensor& param) const;

  NamedTensors state_dict() const;
  // Restores options and state saved by state_dict() of the same kind of optimiser over
  // parameters of the same shapes; every problem (missing, unexpected, mis-shaped keys) is
  // listed in one error. State tensors are copied to each parameter's dtype and device.
  void load_state_dict(const NamedTensors& state);

 protected:
  explicit Optimizer(std::string name) : name_(std::move(name)) {}

  // Options of a group by name, for state_dict() and load_state_dict().
  virtual std::vector<std::pair<std::string, double>> group_options(size_t group) const = 0;
  virtual void set_group_option(size_t group, const std::string& option, double value) = 0;
  // The buffer names this optimiser may keep per parameter (load_state_dict checks them).
  virtual std::vector<std::string> buffer_names() const = 0;

  // Checks the parameters of every group: defined, floating, dense, each in one group only.
  void check_params() const;
  // The state of `param`, created empty when missing.
  ParamState& state_for(const Tensor& param) { return state_[param.impl().get()]; }
  // Whether step() should take the fused path for tensors on `device` (see FusedStep).
  bool fuse_on(Device device) const {
    return fused_ == FusedStep::always || (fused_ == FusedStep::automatic && device.is_cuda());
  }
  // A zero buffer shaped like `param`, created on first use.
  static Tensor& buffer(ParamState& st, const std::string& name, const Tensor& param);

 private:
  std::string name_;
  FusedStep fused_ = FusedStep::automatic;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

// The typed part: param_groups() with their options. Options types list their fields with
// `template <typename F> void visit(F&& f)` calling f("name", field) for each double or bool.
template <typename Options>
class OptimizerWith : public Optimizer {
 public:
  using Group = ParamGroup<Options>;

  // Mutable: change lr or any other option of a group between steps.
  std::vector<Group>& param_groups() { return groups_; }
  const std::vector<Group>& param_groups() const { return groups_; }

  size_t num_param_groups() const override { return groups_.size(); }
  const std::vector<Tensor>& group_params(size_t g) const override { return groups_.at(g).params; }
  double lr(size_t g) const override { return groups_.at(g).options.lr; }
  void set_lr(size_t g, double lr) override { groups_.at(g).options.lr = lr; }

 protected:
  OptimizerWith(std::string name, std::vector<Group> groups)
      : Optimizer(std::move(name)), groups_(std::move(groups)) {
    SG_CHECK(!groups_.empty(), this->name(), ": expected at least one parameter group");
    check_params();
  }

  std::vector<std::pair<std::string, double>> group_options(size_t g) const override {
    std::vector<std::pair<std::string, double>> out;
    Options o = groups_.at(g).options;
    o.visit(
        [&](const char* name, auto& value) { out.emplace_back(name, static_cast<double>(value)); });
    return out;
  }
  void set_group_option(size_t g, const std::string& option, double value) override {
    groups_.at(g).options.visit([&](const char* name, auto& field) {
      if (option == name) field = static_cast<std::remove_reference_t<decltype(field)>>(value);
    });
  }

  std::vector<Group> groups_;
};

}  // namespace stackgrad::nn
