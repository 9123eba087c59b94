// AdaptableLayer: the base of Linear and Conv2d, holding an optional adapter (a LoRA branch,
// say) that is added to the layer's own output: forward(x) = base(x) + adapter->forward(x).
// The adapter is registered as the child "lora", so its parameters appear in state_dict() as
// "<layer>.lora.<name>" and are moved, frozen and trained with the rest of the tree.
//
//   auto fc = std::make_shared<nn::Linear>(784, 256);
//   fc->attach_adapter(std::make_shared<MyLowRankBranch>(784, 256, 8));
//   fc->set_adapter_enabled(false);  // base output only, adapter kept
#pragma once

#include <memory>

#include "nn/module.h"

namespace stackgrad::nn {

class AdaptableLayer : public Module {
 public:
  using Module::Module;

  // Registers `adapter` as the child "lora" (enabled). Error if one is already attached.
  void attach_adapter(std::shared_ptr<Module> adapter);
  // Unregisters the adapter (error if none is attached).
  void detach_adapter();
  std::shared_ptr<Module> adapter() const { return adapter_; }
  // A disabled adapter stays attached (and in state_dict) but is skipped by forward.
  void set_adapter_enabled(bool enabled) { adapter_enabled_ = enabled; }
  bool adapter_enabled() const { return adapter_enabled_; }

  // base_forward(x) plus the adapter's output when one is attached and enabled.
  Tensor forward(const Tensor& x) final;
  // The layer alone, without the adapter (what an adapter adds to).
  virtual Tensor base_forward(const Tensor& x) = 0;

 private:
  std::shared_ptr<Module> adapter_;
  bool adapter_enabled_ = true;
};

}  // namespace stackgrad::nn
