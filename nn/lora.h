// LoRA (Hu et al. 2021): a frozen layer W plus a trained low-rank branch, y = W x + s·B A x with
// A [r, in], B [out, r], s = alpha / r. B starts at zero, so the adapted layer starts exactly at
// the base layer; only A and B (r·(in + out) numbers) are trained. After training the branch can
// be merged into W (W += s·B A) and the adapter then adds nothing, so inference costs no extra.
//
//   nn::LoraLinear lora(784, 256, /*rank=*/8, /*alpha=*/16);
//   Tensor y = base_out + lora.forward(x);   // what Linear does with the adapter attached
//   lora.merge(weight);                      // weight [256, 784] += 2·B A; forward now adds 0
//
// The adapters follow peft's layouts and initialisation: lora_A Kaiming-uniform (a = √5, i.e.
// U(-1/√fan_in, 1/√fan_in)), lora_B zeros. For a convolution, A is itself a convolution with the
// base's kernel and geometry, [r, in/groups, kh, kw], and B a 1x1 convolution [out, r/groups, 1, 1]
// (grouped like the base, so that s·B∘A is again a kernel of the base's shape and can be merged).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/module.h"

namespace stackgrad::nn {

class LoraAdapter : public Module {
 public:
  // The adapter's contribution s·B A x, or zeros (of that shape) while merged.
  Tensor forward(const Tensor& x) override;

  // s·B A in the base weight's shape ([out, in] or [out, in/groups, kh, kw]); differentiable.
  virtual Tensor delta_weight() const = 0;
  // weight += delta_weight() (in place, no gradient recorded), once: merging a merged adapter
  // does nothing, and so does unmerging one that is not merged. weight must have the base's
  // shape; unmerge(merge(W)) restores W up to rounding. The flag is not in state_dict(): save
  // unmerged, or merged with the adapter detached, never merged with it attached.
  void merge(Tensor& weight);
  void unmerge(Tensor& weight);
  bool merged() const { return merged_; }

  int64_t rank() const { return rank_; }
  double alpha() const { return alpha_; }
  double scale() const { return alpha_ / static_cast<double>(rank_); }
  std::string extra_repr() const override;

  Tensor lora_A, lora_B;

 protected:
  LoraAdapter(std::string type_name, int64_t rank, double alpha);
  virtual Tensor branch(const Tensor& x) = 0;             // s·B A x
  virtual Shape output_shape(const Tensor& x) const = 0;  // checks x, names the layer

 private:
  void apply_delta(Tensor& weight, double sign, const char* what);
  int64_t rank_;
  double alpha_;
  bool merged_ = false;
};

// The adapter of a Linear(in, out): lora_A [r, in], lora_B [out, r]; x [..., in] -> [..., out].
class LoraLinear : public LoraAdapter {
 public:
  LoraLinear(int64_t in_features, int64_t out_features, int64_t rank, double alpha = 1.0,
             Generator& gen = default_generator());
  Tensor delta_weight() const override;

 protected:
  Tensor branch(const Tensor& x) override;
  Shape output_shape(const Tensor& x) const override;

 private:
  int64_t in_, out_;
};

// The base convolution's geometry (that of conv2d in engine/ops/conv.h).
struct LoraConvGeometry {
  Size2 kernel_size = {1, 1};
  Size2 stride = {1, 1};
  Size2 padding = {0, 0};
  Size2 dilation = {1, 1};
  int64_t groups = 1;
};

// The adapter of a Conv2d(in, out, geometry): x [N, in, H, W] -> [N, out, Ho, Wo].
// rank must be a multiple of groups.
class LoraConv2d : public LoraAdapter {
 public:
  LoraConv2d(int64_t in_channels, int64_t out_channels, LoraConvGeometry geometry, int64_t rank,
             double alpha = 1.0, Generator& gen = default_generator());
  Tensor delta_weight() const override;

 protected:
  Tensor branch(const Tensor& x) override;
  Shape output_shape(const Tensor& x) const override;

 private:
  int64_t in_, out_;
  LoraConvGeometry g_;
};

// --- attaching to layers (nn/lora_attach.cpp) -------------------------------------------------
class Linear;
class Conv2d;

// Creates the adapter that matches `layer` (its sizes, geometry, dtype and device), attaches it
// (the layer's forward becomes base(x) + adapter(x); the adapter appears in state_dict() as
// "<layer>.lora.lora_A" / ".lora_B") and freezes the layer's weight and bias.
//   auto fc = std::make_shared<nn::Linear>(768, 768);
//   auto lora = nn::add_lora(*fc, /*rank=*/8, /*alpha=*/16);   // train nn::lora_parameters(model)
std::shared_ptr<LoraLinear> add_lora(Linear& layer, int64_t rank, double alpha = 1.0,
                                     Generator& gen = default_generator());
std::shared_ptr<LoraConv2d> add_lora(Conv2d& layer, int64_t rank, double alpha = 1.0,
                                     Generator& gen = default_generator());
// Merges (unmerges) the LoRA adapter of every Linear and Conv2d in the tree rooted at `root`
// (root included) into (out of) that layer's weight; idempotent like LoraAdapter::merge.
void merge_lora(Module& root);
void unmerge_lora(Module& root);

// Every parameter of every LoraAdapter in the tree rooted at `root` (root included): what an
// optimiser should train.
std::vector<Tensor> lora_parameters(const Module& root);
// Freezes every parameter under `root` except the LoRA ones (which are unfrozen).
void mark_only_lora_as_trainable(Module& root);

}  // namespace stackgrad::nn
