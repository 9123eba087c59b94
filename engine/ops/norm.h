// Ops of the norm family: batch, layer and group normalisation and embedding lookups, with
// PyTorch's semantics (torch.nn.functional). Floating inputs (f32, f64); optional operands are
// undefined Tensors. Each normalisation is one fused kernel that also returns the mean and the
// inverse standard deviation rstd = 1 / sqrt(var + eps) it used (var biased); autograd saves
// only those (and x, weight), and a dedicated backward kernel turns them into the gradients of
// the input, the weight and the bias. docs/kernels/norm.md has the math.
#pragma once

#include <cstdint>

#include "engine/core/tensor.h"

namespace stackgrad {

// Gradients of a normalisation: of the input, the weight and the bias (shaped like them).
struct NormGrads {
  Tensor input, weight, bias;
};

// Batch normalisation of x [N, C] or [N, C, d1, ...] over every dim but the channel dim 1:
// y = (x - mean) / sqrt(var + eps) * weight + bias, weight and bias [C] (optional).
// training: mean and the biased var come from the batch, and the running statistics (optional,
// [C], both or neither) are updated in place: running = (1 - momentum) running + momentum stat,
// with the unbiased batch variance for running_var. Needs more than one value per channel.
// eval: mean and var are running_mean and running_var (required), left unchanged.
// Differentiable in x, weight and bias; the running statistics are buffers.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  bool training = false, double momentum = 0.1, double eps = 1e-5);

// The gradient kernel of batch_norm, exposed for tests: x and grad shaped alike, mean and
// rstd [C] as the forward used them. `training` says they are x's batch statistics (so the
// gradient flows through them); otherwise they are constants. Not differentiable.
NormGrads batch_norm_backward(const Tensor& x, const Tensor& grad, const Tensor& mean,
                              const Tensor& rstd, const Tensor& weight, bool training);

// Layer normalisation over the trailing dims `normalized_shape` of x (each of the leading
// positions is normalised on its own): y = (x - mean) / sqrt(var + eps) * weight + bias with
// weight and bias (optional) shaped like normalized_shape. Differentiable in all three.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// The gradient kernel of layer_norm, exposed for tests: mean and rstd have x's leading shape
// (x.shape without normalized_shape). Not differentiable.
NormGrads layer_norm_backward(const Tensor& x, const Tensor& grad, const Tensor& mean,
                              const Tensor& rstd, const Shape& normalized_shape,
                              const Tensor& weight);

// An activation applied to a normalisation's output inside its kernel: silu(group_norm(x)) in
// one pass instead of two, with no saved pre-activation (the backward recomputes it from x and
// the statistics). docs/kernels/norm.md, "Fused activation".
enum class NormActivation { none = 0, silu = 1 };

// Group normalisation of x [N, C, d1, ...]: the C channels are split into `groups` groups of
// C / groups consecutive channels, and each (sample, group) is normalised over its channels and
// spatial positions; weight and bias (optional) are per channel, [C]. With `activation` silu the
// result is silu(group_norm(x)), computed by the same kernel. Differentiable in all.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5,
                  NormActivation activation = NormActivation::none);

// The gradient kernel of group_norm, exposed for tests: mean and rstd [N, groups]; bias is read
// only with the fused activation (to recompute its input). Not differentiable.
NormGrads group_norm_backward(const Tensor& x, const Tensor& grad, const Tensor& mean,
                              const Tensor& rstd, int64_t groups, const Tensor& weight,
                              const Tensor& bias = Tensor(),
                              NormActivation activation = NormActivation::none);

// Rows of weight [V, D] picked by i64 indices of any shape: out indices.shape + [D].
// padding_idx in [0, V) marks a row whose gradient stays zero (its lookups still read it);
// -1 means none. An index outside [0, V) is an error naming it. Differentiable in weight.
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1);

// The gradient kernel of embedding, exposed for tests: grad indices.shape + [D] summed into
// rows of a zero [num_weights, D] by index (deterministically, in index order), the
// padding_idx row left zero. Not differentiable.
Tensor embedding_backward(const Tensor& grad, const Tensor& indices, int64_t num_weights,
                          int64_t padding_idx = -1);

}  // namespace stackgrad
