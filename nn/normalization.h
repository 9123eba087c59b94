// Normalisation layers with PyTorch's names, buffers and defaults, over the engine's fused
// batch_norm / layer_norm / group_norm ops: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm.
//
//   auto bn = std::make_shared<nn::BatchNorm2d>(16);        // weight, bias, running_mean, ...
//   Tensor y = (*bn)(x);                                    // train: batch statistics
//   bn->eval(); Tensor z = (*bn)(x);                        // eval: running statistics
#pragma once

#include <optional>

#include "nn/module.h"

namespace stackgrad::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  // Weight of the new batch statistic in the running average; nullopt gives the cumulative
  // average (weight 1 / num_batches_tracked), as torch's momentum=None.
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learnable weight (ones) and bias (zeros)
  bool track_running_stats = true;  // else batch statistics in eval mode too
};

// Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept.
class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  // Running statistics back to mean 0, variance 1, no batches.
  void reset_running_stats();

  int64_t num_features;
  BatchNormOptions options;
  Tensor weight, bias;               // [C], undefined without affine
  Tensor running_mean, running_var;  // [C], undefined without track_running_stats
  Tensor num_batches_tracked;        // i64 [], likewise

 protected:
  BatchNorm(const char* type_name, int64_t num_features, BatchNormOptions opts,
            std::vector<int64_t> ranks, const char* shape_text);

 private:
  std::vector<int64_t> ranks_;  // accepted input ranks
  const char* shape_text_;      // for messages: "[N, C] or [N, C, L]"
};

// Over x [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions opts = {})
      : BatchNorm("BatchNorm1d", num_features, opts, {2, 3}, "[N, C] or [N, C, L]") {}
};

// Over x [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions opts = {})
      : BatchNorm("BatchNorm2d", num_features, opts, {4}, "[N, C, H, W]") {}
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // weight (ones) and bias (zeros) shaped normalized_shape
};

// Normalises over the trailing dims normalized_shape of x [..., normalized_shape].
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, LayerNormOptions opts = {});
  explicit LayerNorm(int64_t normalized_size, LayerNormOptions opts = {})
      : LayerNorm(Shape{normalized_size}, opts) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  LayerNormOptions options;
  Tensor weight, bias;
};

struct GroupNormOptions {
  double eps = 1e-5;
  bool affine = true;  // per-channel weight (ones) and bias (zeros)
};

// Normalises each (sample, group of num_channels / num_groups channels) of x [N, C, ...].
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions opts = {});
  Tensor forward(const Tensor& x) override;
  // silu(forward(x)), computed by the normalisation's kernel (one pass over x fewer each way,
  // no saved pre-activation).
  Tensor forward_silu(const Tensor& x);
  std::string extra_repr() const override;

  int64_t num_groups, num_channels;
  GroupNormOptions options;
  Tensor weight, bias;  // [C]
};

}  // namespace stackgrad::nn
