#include "nn/normalization.h"

#include <algorithm>

namespace stackgrad::nn {

// --- BatchNorm ------------------------------------------------------------------------------

BatchNorm::BatchNorm(const char* type_name, int64_t num_features, BatchNormOptions opts,
                     std::vector<int64_t> ranks, const char* shape_text)
    : Module(type_name),
      num_features(num_features),
      options(opts),
      ranks_(std::move(ranks)),
      shape_text_(shape_text) {
  SG_CHECK(num_features > 0, type_name, ": num_features must be positive, got ", num_features);
  SG_CHECK(!opts.momentum || (*opts.momentum >= 0 && *opts.momentum <= 1), type_name,
           ": momentum must be in [0, 1], got ", opts.momentum.value_or(0));
  if (opts.affine) {
    register_parameter("weight", weight, ones({num_features}));
    register_parameter("bias", bias, zeros({num_features}));
  }
  if (opts.track_running_stats) {
    register_buffer("running_mean", running_mean, zeros({num_features}));
    register_buffer("running_var", running_var, ones({num_features}));
    register_buffer("num_batches_tracked", num_batches_tracked, zeros({}, DType::i64));
  }
}

void BatchNorm::reset_running_stats() {
  if (!options.track_running_stats) return;
  NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

Tensor BatchNorm::forward(const Tensor& x) {
  SG_CHECK(
      std::find(ranks_.begin(), ranks_.end(), x.dim()) != ranks_.end() && x.size(1) == num_features,
      type_name(), ": expected input ", shape_text_, " with C=", num_features, ", got ",
      shape_str(x.shape()));
  double momentum = options.momentum.value_or(0.0);
  if (is_training() && options.track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(scalar_tensor(1, Options(DType::i64, num_batches_tracked.device())));
    if (!options.momentum) momentum = 1.0 / static_cast<double>(num_batches_tracked.item());
  }
  // Batch statistics in training, and always when no running ones are kept; the engine updates
  // the running statistics in place when it is given them in training mode.
  bool use_batch_stats = is_training() || !options.track_running_stats;
  return batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, momentum,
                    options.eps);
}

std::string BatchNorm::extra_repr() const {
  std::string s = str_cat(num_features, ", eps=", options.eps, ", momentum=");
  s += options.momentum ? str_cat(*options.momentum) : "none";
  s += options.affine ? ", affine=true" : ", affine=false";
  s += options.track_running_stats ? ", track_running_stats=true" : ", track_running_stats=false";
  return s;
}

// --- LayerNorm ------------------------------------------------------------------------------

LayerNorm::LayerNorm(Shape normalized_shape, LayerNormOptions opts)
    : Module("LayerNorm"), normalized_shape(std::move(normalized_shape)), options(opts) {
  const Shape& s = this->normalized_shape;
  SG_CHECK(!s.empty() && std::all_of(s.begin(), s.end(), [](int64_t d) { return d > 0; }),
           "LayerNorm: normalized_shape must be non-empty and positive, got ", shape_str(s));
  if (opts.elementwise_affine) {
    register_parameter("weight", weight, ones(s));
    register_parameter("bias", bias, zeros(s));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  auto k = static_cast<int64_t>(normalized_shape.size());
  SG_CHECK(x.dim() >= k && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
           "LayerNorm: expected input [..., ", shape_str(normalized_shape).substr(1), ", got ",
           shape_str(x.shape()));
  return layer_norm(x, normalized_shape, weight, bias, options.eps);
}

std::string LayerNorm::extra_repr() const {
  return str_cat(
      shape_str(normalized_shape), ", eps=", options.eps,
      options.elementwise_affine ? ", elementwise_affine=true" : ", elementwise_affine=false");
}

// --- GroupNorm ------------------------------------------------------------------------------

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions opts)
    : Module("GroupNorm"), num_groups(num_groups), num_channels(num_channels), options(opts) {
  SG_CHECK(num_groups > 0 && num_channels > 0 && num_channels % num_groups == 0,
           "GroupNorm: num_groups=", num_groups, " must divide num_channels=", num_channels);
  if (opts.affine) {
    register_parameter("weight", weight, ones({num_channels}));
    register_parameter("bias", bias, zeros({num_channels}));
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  SG_CHECK(x.dim() >= 2 && x.size(1) == num_channels, "GroupNorm: expected input [N, ",
           num_channels, ", ...], got ", shape_str(x.shape()));
  return group_norm(x, num_groups, weight, bias, options.eps);
}

Tensor GroupNorm::forward_silu(const Tensor& x) {
  SG_CHECK(x.dim() >= 2 && x.size(1) == num_channels, "GroupNorm: expected input [N, ",
           num_channels, ", ...], got ", shape_str(x.shape()));
  return group_norm(x, num_groups, weight, bias, options.eps, NormActivation::silu);
}

std::string GroupNorm::extra_repr() const {
  return str_cat(num_groups, ", ", num_channels, ", eps=", options.eps,
                 options.affine ? ", affine=true" : ", affine=false");
}

}  // namespace stackgrad::nn
