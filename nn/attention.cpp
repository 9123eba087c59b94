#include "nn/attention.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

namespace stackgrad::nn {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

Tensor xavier_uniform(int64_t rows, int64_t cols, Generator& gen) {
  const double a = std::sqrt(6.0 / static_cast<double>(rows + cols));
  return rand({rows, cols}, gen, DType::f32, -a, a);
}

// A "true = forbidden" bool mask as an additive one: 0 where allowed, -inf where forbidden.
Tensor additive_from_forbidden(const Tensor& forbidden, DType dtype) {
  return masked_fill(zeros(forbidden.shape(), Options(dtype, forbidden.device())), forbidden,
                     kNegInf);
}

// The engine's mask from torch's: a bool "true = may attend" mask when every given mask is bool,
// else one additive float mask; broadcastable to [B, h, L, S]. Undefined when nothing is masked.
Tensor engine_mask(const Tensor& key_padding /*[B,1,1,S]*/, const Tensor& attn /*[.,.,L,S]*/,
                   DType dtype) {
  const bool kp_bool = key_padding.defined() && key_padding.dtype() == DType::boolean;
  const bool at_bool = attn.defined() && attn.dtype() == DType::boolean;
  if ((!key_padding.defined() || kp_bool) && (!attn.defined() || at_bool)) {
    if (!key_padding.defined() && !attn.defined()) return Tensor();
    if (!attn.defined()) return logical_not(key_padding);
    if (!key_padding.defined()) return logical_not(attn);
    return logical_not(logical_or(key_padding, attn));
  }
  auto additive = [&](const Tensor& m) {
    if (!m.defined()) return Tensor();
    return m.dtype() == DType::boolean ? additive_from_forbidden(m, dtype) : m;
  };
  Tensor a = additive(key_padding), b = additive(attn);
  return !a.defined() ? b : !b.defined() ? a : a + b;
}

// softmax(Q Kᵀ / √d + mask) [B, h, L, S] by the plain path: the probabilities that the fused
// kernel never stores, for callers that asked to see them.
Tensor attention_probabilities(const Tensor& qh, const Tensor& kh, const Tensor& mask,
                               bool causal) {
  const int64_t L = qh.size(2), S = kh.size(2);
  Tensor scores = matmul(qh, kh.transpose(2, 3)) * (1.0 / std::sqrt(double(qh.size(3))));
  if (mask.defined())
    scores = mask.dtype() == DType::boolean ? masked_fill(scores, logical_not(mask), kNegInf)
                                            : scores + mask;
  if (causal) {
    const Options index(DType::i64, qh.device());
    Tensor later = gt(arange(S, index).unsqueeze(0), arange(L, index).unsqueeze(1));  // j > i
    scores = masked_fill(scores, later, kNegInf);
  }
  return softmax(scores, 3);
}

}  // namespace

AttentionOutProjection::AttentionOutProjection(int64_t embed_dim, bool with_bias, Generator& gen)
    : Module("AttentionOutProjection") {
  const double k = 1.0 / std::sqrt(static_cast<double>(embed_dim));
  register_parameter("weight", weight, rand({embed_dim, embed_dim}, gen, DType::f32, -k, k));
  if (with_bias) register_parameter("bias", bias, zeros({embed_dim}));
}

Tensor AttentionOutProjection::forward(const Tensor& x) {
  Tensor y = matmul(x, weight.t());
  return bias.defined() ? y + bias : y;
}

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads,
                                       MultiheadAttentionOptions options, Generator& gen)
    : Module("MultiheadAttention"),
      embed_dim_(embed_dim),
      num_heads_(num_heads),
      kdim_(options.kdim > 0 ? options.kdim : embed_dim),
      vdim_(options.vdim > 0 ? options.vdim : embed_dim),
      options_(options),
      gen_(&gen) {
  SG_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0,
           "MultiheadAttention: embed_dim must be a positive multiple of num_heads, got embed_dim ",
           embed_dim, ", num_heads ", num_heads);
  SG_CHECK(options.dropout >= 0.0 && options.dropout < 1.0,
           "MultiheadAttention: dropout must be in [0, 1), got ", options.dropout);
  const int64_t E = embed_dim;
  if (kdim_ == E && vdim_ == E) {
    register_parameter("in_proj_weight", in_proj_weight, xavier_uniform(3 * E, E, gen));
  } else {
    register_parameter("q_proj_weight", q_proj_weight, xavier_uniform(E, E, gen));
    register_parameter("k_proj_weight", k_proj_weight, xavier_uniform(E, kdim_, gen));
    register_parameter("v_proj_weight", v_proj_weight, xavier_uniform(E, vdim_, gen));
  }
  if (options.bias) register_parameter("in_proj_bias", in_proj_bias, zeros({3 * E}));
  out_proj =
      register_module("out_proj", std::make_shared<AttentionOutProjection>(E, options.bias, gen));
}

// x [B, N, in] projected by rows [which E, (which + 1) E) of the stacked weight and bias.
Tensor MultiheadAttention::project(const Tensor& x, int64_t which, const Tensor& separate) const {
  const Tensor w =
      separate.defined() ? separate : in_proj_weight.narrow(0, which * embed_dim_, embed_dim_);
  Tensor y = matmul(x, w.t());
  return in_proj_bias.defined() ? y + in_proj_bias.narrow(0, which * embed_dim_, embed_dim_) : y;
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                            const Tensor& value,
                                            const AttentionForwardOptions& call) {
  check_defined("MultiheadAttention", query, "query");
  check_defined("MultiheadAttention", key, "key");
  check_defined("MultiheadAttention", value, "value");
  const bool batched = query.dim() == 3;
  const char* layout = !batched ? "[N, " : options_.batch_first ? "[B, N, " : "[N, B, ";
  auto check_input = [&](const char* name, const Tensor& t, int64_t features) {
    SG_CHECK(
        t.dim() == query.dim() && (t.dim() == 2 || t.dim() == 3) && t.shape().back() == features,
        "MultiheadAttention: expected ", name, " ", layout, features, "], got ",
        shape_str(t.shape()));
  };
  check_input("query", query, embed_dim_);
  check_input("key", key, kdim_);
  check_input("value", value, vdim_);
  // Everything below is batch first: [B, N, features].
  auto batch_major = [&](const Tensor& t) {
    return !batched ? t.unsqueeze(0) : options_.batch_first ? t : t.transpose(0, 1);
  };
  Tensor q = batch_major(query), k = batch_major(key), v = batch_major(value);
  const int64_t B = q.size(0), L = q.size(1), S = k.size(1), h = num_heads_;
  const int64_t E = embed_dim_, hd = E / h;
  SG_CHECK(k.size(0) == B && v.size(0) == B && v.size(1) == S,
           "MultiheadAttention: query, key and value disagree on batch or key length: query ",
           shape_str(query.shape()), ", key ", shape_str(key.shape()), ", value ",
           shape_str(value.shape()));

  // [B, N, E] -> [B, h, N, hd]
  auto heads = [&](const Tensor& t) {
    return t.reshape({B, t.size(1), h, hd}).permute({0, 2, 1, 3});
  };
  Tensor qh = heads(project(q, 0, q_proj_weight));
  Tensor kh = heads(project(k, 1, k_proj_weight));
  Tensor vh = heads(project(v, 2, v_proj_weight));

  Tensor kpm = call.key_padding_mask, am = call.attn_mask;
  if (kpm.defined()) {
    const Shape want = batched ? Shape{B, S} : Shape{S};
    SG_CHECK(kpm.shape() == want, "MultiheadAttention: expected key_padding_mask ", shape_str(want),
             ", got ", shape_str(kpm.shape()));
    kpm = kpm.reshape({B, 1, 1, S});
  }
  if (am.defined()) {
    SG_CHECK(am.shape() == (Shape{L, S}) || am.shape() == (Shape{B * h, L, S}),
             "MultiheadAttention: expected attn_mask [", L, ", ", S, "] or [", B * h, ", ", L, ", ",
             S, "], got ", shape_str(am.shape()));
    am = am.dim() == 2 ? am.reshape({1, 1, L, S}) : am.reshape({B, h, L, S});
  }
  const Tensor mask = engine_mask(kpm, am, q.dtype());
  const double p = is_training() ? options_.dropout : 0.0;
  Tensor attended =
      scaled_dot_product_attention(qh, kh, vh, mask, call.is_causal, p, std::nullopt, *gen_);
  Tensor out = (*out_proj)(attended.permute({0, 2, 1, 3}).reshape({B, L, E}));
  out = !batched ? out.squeeze(0) : options_.batch_first ? out : out.transpose(0, 1);

  Tensor weights;
  if (call.need_weights) {
    weights = attention_probabilities(qh, kh, mask, call.is_causal);
    if (call.average_attn_weights) weights = mean(weights, {1});
    if (!batched) weights = weights.squeeze(0);
  }
  return {out, weights};
}

std::string MultiheadAttention::extra_repr() const {
  std::ostringstream s;
  s << "embed_dim=" << embed_dim_ << ", num_heads=" << num_heads_;
  if (kdim_ != embed_dim_ || vdim_ != embed_dim_) s << ", kdim=" << kdim_ << ", vdim=" << vdim_;
  s << ", dropout=" << options_.dropout << ", bias=" << (options_.bias ? "true" : "false")
    << ", batch_first=" << (options_.batch_first ? "true" : "false");
  return s.str();
}

}  // namespace stackgrad::nn
