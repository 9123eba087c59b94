#include "nn/layer_adapter.h"

namespace stackgrad::nn {

void AdaptableLayer::attach_adapter(std::shared_ptr<Module> adapter) {
  SG_CHECK(adapter != nullptr, type_name(), ".attach_adapter: adapter is null");
  SG_CHECK(adapter_ == nullptr, type_name(), ".attach_adapter: an adapter (", adapter_->type_name(),
           ") is already attached; detach_adapter() first");
  add_child("lora", adapter);
  adapter_ = std::move(adapter);
  adapter_enabled_ = true;
}

void AdaptableLayer::detach_adapter() {
  SG_CHECK(adapter_ != nullptr, type_name(), ".detach_adapter: no adapter is attached");
  remove_child("lora");
  adapter_.reset();
}

Tensor AdaptableLayer::forward(const Tensor& x) {
  Tensor y = base_forward(x);
  if (adapter_ && adapter_enabled_) y = y + adapter_->forward(x);
  return y;
}

}  // namespace stackgrad::nn
