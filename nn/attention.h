// Multi-head attention with PyTorch's nn.MultiheadAttention names, layouts and masks, so a torch
// state_dict loads as is. The attention itself is the engine's fused
// scaled_dot_product_attention (the score matrix is never stored); the attention weights are
// computed separately, by the plain softmax(Q Kᵀ / √d) path, only when asked for.
//
//   nn::MultiheadAttention mha(64, 8, {.batch_first = true});
//   nn::AttentionOutput y = mha.forward(x, x, x, {.key_padding_mask = pad});  // x [B, L, 64]
//   Tensor out = y.output;                                                     // [B, L, 64]
#pragma once

#include <cstdint>
#include <memory>

#include "nn/module.h"

namespace stackgrad::nn {

struct MultiheadAttentionOptions {
  double dropout = 0.0;      // on the attention probabilities, in training mode
  bool bias = true;          // in_proj_bias and out_proj.bias
  bool batch_first = false;  // inputs and output [B, L, E] instead of [L, B, E]
  int64_t kdim = 0;          // key features (0: embed_dim)
  int64_t vdim = 0;          // value features (0: embed_dim)
};

// The masks follow torch: a bool mask is true where attention is NOT allowed; a floating mask
// (of the query's dtype) is added to the scores.
struct AttentionForwardOptions {
  Tensor key_padding_mask{};         // [B, S] (or [S] unbatched): true hides key s of batch b
  Tensor attn_mask{};                // [L, S] or [B * heads, L, S]
  bool need_weights = false;         // also return the attention probabilities
  bool average_attn_weights = true;  // weights [B, L, S] averaged over heads, else [B, h, L, S]
  bool is_causal = false;            // query i sees keys 0..i (with or without attn_mask)
};

struct AttentionOutput {
  Tensor output;   // [L, B, E] ([B, L, E] with batch_first; [L, E] unbatched)
  Tensor weights;  // undefined unless need_weights; before dropout
};

// out_proj of MultiheadAttention: y = x Wᵀ + b with weight [E, E] and bias [E] (torch's names).
class AttentionOutProjection : public Module {
 public:
  AttentionOutProjection(int64_t embed_dim, bool bias, Generator& gen);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
};

// Parameters (E = embed_dim):
//   kdim == vdim == E: in_proj_weight [3E, E] (the q, k, v projections stacked),
//   otherwise:         q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim];
//   in_proj_bias [3E] (with bias); out_proj.weight [E, E], out_proj.bias [E].
// Initialised as torch does: projections Xavier-uniform, out_proj.weight U(-1/√E, 1/√E), biases 0.
// Each head attends over E / num_heads features; scores are scaled by 1/√(E / num_heads).
// A query whose keys are all masked attends to nothing (the fused kernel's zeros, so its output
// is out_proj.bias, where torch gives NaN); its weights are NaN.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {},
                     Generator& gen = default_generator());

  // query [L, B, E], key [S, B, kdim], value [S, B, vdim] (batch first with batch_first, or
  // unbatched [L, E], [S, kdim], [S, vdim]).
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const AttentionForwardOptions& call = {});

  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias;
  std::shared_ptr<AttentionOutProjection> out_proj;

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  std::string extra_repr() const override;

 private:
  Tensor project(const Tensor& x, int64_t which, const Tensor& separate_weight) const;

  int64_t embed_dim_, num_heads_, kdim_, vdim_;
  MultiheadAttentionOptions options_;
  Generator* gen_;  // attention dropout
};

}  // namespace stackgrad::nn
