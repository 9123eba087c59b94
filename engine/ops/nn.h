// Loss functions (PyTorch conventions). Each takes a Reduction: none (one loss per sample),
// mean or sum. Floating inputs (f32, f64); class indices are i64.
#pragma once

#include <cstdint>

#include "engine/core/tensor.h"

namespace stackgrad {

enum class Reduction { none, mean, sum };

// Softmax cross-entropy of logits [N, C] or [N, C, d1, ...] (or [C] for one sample) against
// either class indices, i64 [N] or [N, d1, ...] (or []), or class probabilities shaped like the
// logits. Samples whose index equals ignore_index contribute 0 and are left out of the mean.
// label_smoothing ε in [0, 1] mixes the target with the uniform distribution:
// (1 - ε) target + ε / C. Fused: one kernel computes the loss through a stable log-sum-exp,
// a dedicated kernel the gradient (softmax - smoothed target).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     double label_smoothing = 0.0, Reduction reduction = Reduction::mean);

// The gradient kernel of cross_entropy, exposed for tests: grad [N, d1, ...] times
// (softmax(logits) - smoothed target) along the class dim, zero where the target is ignored.
// `lse` is the per-sample log-sum-exp of the logits (shape of grad). Not differentiable.
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse,
                              const Tensor& grad, int64_t ignore_index = -100,
                              double label_smoothing = 0.0);

// Negative log-likelihood of log-probabilities [N, C] or [N, C, d1, ...] (or [C]) at class
// indices i64 [N] or [N, d1, ...] (or []): -log_probs[n, target[n]]; ignore_index as above.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, int64_t ignore_index = -100,
                Reduction reduction = Reduction::mean);

// Squared error (input - target)^2; input and target have the same shape.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

// Sigmoid + binary cross-entropy in one stable expression, max(x, 0) - x y + log1p(exp(-|x|)),
// or with pos_weight p: (1 - y) x + (1 + (p - 1) y) (max(-x, 0) + log1p(exp(-|x|))).
// target has the logits' shape; pos_weight (optional) weighs the positive term and broadcasts
// against the logits (usually one weight per class, shape [C]). Gradients for all three.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const Tensor& pos_weight = Tensor(),
                                        Reduction reduction = Reduction::mean);

}  // namespace stackgrad
