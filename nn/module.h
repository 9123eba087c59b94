// nn::Module: the base of every layer and model. A module owns named parameters (tensors that
// require grad and that an optimiser updates), named buffers (state saved in checkpoints but not
// trained, such as batch-norm running statistics) and named submodules; everything else derives
// from walking that tree: parameters(), state_dict(), train()/eval(), to(device), zero_grad().
//
// Registration stores a pointer to the member tensor, so a layer keeps plain `Tensor weight;`
// members and assigning a new tensor to one (to(device), a LoRA merge, user code) stays visible
// to the tree. Modules are therefore neither copyable nor movable: create them with
// std::make_shared and share them by pointer.
//
//   struct Mlp : nn::Module {
//     std::shared_ptr<nn::Linear> fc1, fc2;
//     Mlp() : Module("Mlp") {
//       fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 256));
//       fc2 = register_module("fc2", std::make_shared<nn::Linear>(256, 10));
//     }
//     Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
//   };
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/stackgrad.h"

namespace stackgrad::nn {

// Name -> tensor, ordered by name (the order safetensors files are written in).
using StateDict = std::map<std::string, Tensor>;

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The one-tensor forward that Sequential and operator() use. Layers with other signatures
  // (LSTM, attention, graph layers) declare their own forward and leave this one failing.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // The class name shown in messages and in repr(): "Linear", "Sequential", ...
  const std::string& type_name() const { return type_name_; }

  // --- the tree ---------------------------------------------------------------------------
  // Dotted names relative to this module ("fc1.weight"), in registration order, depth first.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // Every module below this one (not this one itself), with dotted names.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;
  // Number of scalar parameters (trainable and frozen).
  int64_t num_parameters() const;

  // --- mode, device, gradients --------------------------------------------------------------
  // Sets training mode here and below (dropout active, batch norm uses batch statistics).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves (copies) every parameter and buffer; parameters stay leaves that require grad and
  // lose their .grad. Create optimisers after moving: they hold the parameter tensors.
  void to(Device device);
  // Casts every floating parameter and buffer (f32 <-> f64); integer buffers are kept.
  void to(DType dtype);
  // Drops the .grad of every parameter (the next backward writes fresh ones).
  void zero_grad();
  // Freezes (or unfreezes) every parameter here and below: requires_grad = !frozen.
  void set_frozen(bool frozen);

  // --- checkpoints --------------------------------------------------------------------------
  // Parameters and persistent buffers by dotted name. The tensors share storage with the
  // module (detached): clone them to keep a snapshot.
  StateDict state_dict() const;
  // Copies values into the existing tensors (so optimisers keep working). With strict, any
  // missing, unexpected, mis-shaped or non-floating/floating mismatched key is an error that
  // lists every problem; without strict, only the keys present in both are loaded (shapes must
  // still match). Dtypes are converted (an f64 checkpoint loads into f32 parameters).
  void load_state_dict(const StateDict& state, bool strict = true);
  // state_dict() to and from a safetensors file (written atomically).
  void save(const std::string& path, const std::map<std::string, std::string>& metadata = {}) const;
  void load(const std::string& path, bool strict = true);

  // A readable tree: "Mlp(\n  (fc1): Linear(in=784, out=256, bias=true)\n ...)".
  std::string repr() const;
  // One line describing this module's own settings ("in=784, out=256, bias=true").
  virtual std::string extra_repr() const { return ""; }

 protected:
  // Registers `slot` (a member of the derived class) as a parameter named `name` and sets it
  // to `value` (detached, requires_grad = true). Returns the slot.
  Tensor& register_parameter(const std::string& name, Tensor& slot, Tensor value);
  // Registers `slot` as a buffer: saved in state_dict() when persistent, moved by to().
  Tensor& register_buffer(const std::string& name, Tensor& slot, Tensor value, bool persistent = true);
  // Registers a submodule and returns it (typed), so a constructor can write
  //   fc = register_module("fc", std::make_shared<Linear>(4, 2));
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  // Unregisters the submodule `name` (error if there is none), e.g. when an adapter is detached.
  void remove_child(const std::string& name);

 private:
  struct Slot {
    std::string name;
    Tensor* tensor;
    bool persistent = true;  // buffers only
  };
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool recurse, bool buffers,
               std::vector<std::pair<std::string, Tensor>>& out) const;
  void collect_slots(const std::string& prefix, bool buffers_too,
                     std::vector<std::pair<std::string, Tensor*>>& out) const;
  void repr_into(std::string& out, int indent) const;

  std::string type_name_;
  bool training_ = true;
  std::vector<Slot> parameters_;
  std::vector<Slot> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace stackgrad::nn
