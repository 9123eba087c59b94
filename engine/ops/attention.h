// Fused scaled dot-product attention (PyTorch's F.scaled_dot_product_attention conventions),
// computed by the FlashAttention scheme: the [Lq, Lk] score matrix is never stored, only the
// output and the per-row log-sum-exp (kernels/cpu/attention.cpp, docs/kernels/attention.md).
#pragma once

#include <optional>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/runtime/generator.h"

namespace stackgrad {

// softmax(q kᵀ scale + mask) v over the last two dims of q [B, H, Lq, D] (or [N, Lq, D]),
// k [B, H, Lk, D] and v [B, H, Lk, Dv]; f32, f64, bf16 or f16 (one dtype), any strides. Returns
// [B, H, Lq, Dv] in that dtype; bf16 and f16 are computed in f32 and rounded once.
//   mask: optional, broadcastable to [B, H, Lq, Lk]: bool (true = may attend) or an additive
//         float mask of q's dtype (it gets no gradient).
//   causal: query i attends keys 0..i (top-left aligned when Lq != Lk, as PyTorch); may be
//         combined with a mask.
//   dropout_p: drops attention probabilities with probability p (kept ones scaled by
//         1 / (1 - p)); the mask comes from `gen` (Philox) and is regenerated in backward.
//   scale: default 1 / sqrt(D).
// A query row whose keys are all masked gives zeros (and zero gradients).
// Differentiable in q, k and v (one fused backward kernel).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& mask = Tensor(), bool causal = false,
                                    double dropout_p = 0.0,
                                    std::optional<double> scale = std::nullopt,
                                    Generator& gen = default_generator());

// The kernels on their own (4-D inputs), exposed for tests and benchmarks; not recorded.
struct AttentionParams {
  bool causal = false;
  std::optional<double> scale;  // default 1 / sqrt(D)
  double dropout_p = 0.0;
  uint64_t seed = 0, offset = 0;  // the dropout's Philox key and first counter
};

// {O [B, H, Lq, Dv], L [B, H, Lq]}: L is the row's log-sum-exp of the scaled, masked scores
// (+inf for a row with every key masked), in accumulation_dtype(q) (f32 for bf16 and f16).
std::vector<Tensor> scaled_dot_product_attention_forward(const Tensor& q, const Tensor& k,
                                                         const Tensor& v, const Tensor& mask,
                                                         const AttentionParams& params);

// {dq, dk, dv} from the forward's O and L and the output gradient dO [B, H, Lq, Dv].
std::vector<Tensor> scaled_dot_product_attention_backward(const Tensor& q, const Tensor& k,
                                                          const Tensor& v, const Tensor& mask,
                                                          const Tensor& out, const Tensor& lse,
                                                          const Tensor& grad_out,
                                                          const AttentionParams& params);

}  // namespace stackgrad
