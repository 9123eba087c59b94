// add_lora and merge_lora: the LoRA adapters of nn/lora.h put on Linear and Conv2d layers.
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/lora.h"

namespace stackgrad::nn {

namespace {

// The adapter follows the base weight's dtype and device; the base stops training.
template <typename Adapter, typename Layer>
std::shared_ptr<Adapter> attach(Layer& layer, std::shared_ptr<Adapter> adapter) {
  adapter->to(layer.weight.dtype());
  adapter->to(layer.weight.device());
  layer.attach_adapter(adapter);
  layer.weight.requires_grad_(false);
  if (layer.bias.defined()) layer.bias.requires_grad_(false);
  return adapter;
}

// Calls f(adapter, weight) for every Linear / Conv2d under root that carries a LoraAdapter.
template <typename F>
void for_each_lora(Module& root, F&& f) {
  auto visit = [&](Module& m) {
    auto apply = [&](AdaptableLayer& layer, Tensor& weight) {
      if (auto* lora = dynamic_cast<LoraAdapter*>(layer.adapter().get())) f(*lora, weight);
    };
    if (auto* linear = dynamic_cast<Linear*>(&m)) apply(*linear, linear->weight);
    if (auto* conv = dynamic_cast<Conv2d*>(&m)) apply(*conv, conv->weight);
  };
  visit(root);
  for (const auto& [name, m] : root.named_modules()) visit(*m);
}

}  // namespace

std::shared_ptr<LoraLinear> add_lora(Linear& layer, int64_t rank, double alpha, Generator& gen) {
  return attach(
      layer, std::make_shared<LoraLinear>(layer.in_features, layer.out_features, rank, alpha, gen));
}

std::shared_ptr<LoraConv2d> add_lora(Conv2d& layer, int64_t rank, double alpha, Generator& gen) {
  const LoraConvGeometry geometry{.kernel_size = layer.kernel_size.size2(),
                                  .stride = layer.options.stride.size2(),
                                  .padding = layer.options.padding.size2(),
                                  .dilation = layer.options.dilation.size2(),
                                  .groups = layer.options.groups};
  return attach(layer, std::make_shared<LoraConv2d>(layer.in_channels, layer.out_channels, geometry,
                                                    rank, alpha, gen));
}

void merge_lora(Module& root) {
  for_each_lora(root, [](LoraAdapter& lora, Tensor& weight) { lora.merge(weight); });
}

void unmerge_lora(Module& root) {
  for_each_lora(root, [](LoraAdapter& lora, Tensor& weight) { lora.unmerge(weight); });
}

}  // namespace stackgrad::nn
