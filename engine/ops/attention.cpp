// Scaled dot-product attention: checks, the forward kernel call and its dedicated backward
// kernel, recorded side by side.
#include "engine/ops/attention.h"

#include <cmath>
#include <tuple>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"

namespace stackgrad {
namespace {

// Checked 4-D operands and the kernel attributes.
struct Prepared {
  Tensor q, k, v, mask;  // mask expanded to [B, H, Lq, Lk], undefined when none
  OpAttrs attrs;
};

void check_operand(const char* op, const Tensor& q, const Tensor& t, const char* name) {
  check_defined(op, t, name);
  check_strided(op, t, name);
  check_same_device(op, q, t);
  SG_CHECK(is_floating(t.dtype()), op, ": expected ", name, " to be f32, f64, bf16 or f16, got ",
           describe(t));
  check_same_dtype(op, q, t);
  SG_CHECK(t.dim() == 4, op, ": expected ", name, " (B, H, L, D), got ", shape_str(t.shape()));
}

Prepared prepare(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                 const Tensor& mask, const AttentionParams& params) {
  check_operand(op, q, q, "q");
  check_operand(op, q, k, "k");
  check_operand(op, q, v, "v");
  const Shape &qs = q.shape(), &ks = k.shape(), &vs = v.shape();
  SG_CHECK(qs[0] == ks[0] && qs[1] == ks[1] && qs[0] == vs[0] && qs[1] == vs[1], op,
           ": q, k and v must share (B, H), got q ", shape_str(qs), ", k ", shape_str(ks), ", v ",
           shape_str(vs));
  SG_CHECK(qs[3] == ks[3], op, ": q and k must have the same head dim, got q ", shape_str(qs),
           ", k ", shape_str(ks));
  SG_CHECK(ks[2] == vs[2], op, ": k and v must have the same length, got k ", shape_str(ks), ", v ",
           shape_str(vs));
  SG_CHECK(params.dropout_p >= 0 && params.dropout_p < 1, op, ": dropout_p must be in [0, 1), got ",
           params.dropout_p);
  Prepared p{q, k, v, Tensor(), {}};
  p.attrs.alpha = params.scale ? *params.scale : 1.0 / std::sqrt(static_cast<double>(qs[3]));
  p.attrs.beta = params.dropout_p;
  p.attrs.flag = params.causal;
  p.attrs.seed = params.seed;
  p.attrs.offset = params.offset;
  if (mask.defined()) {
    check_strided(op, mask, "mask");
    check_same_device(op, q, mask);
    SG_CHECK(mask.dtype() == DType::boolean || mask.dtype() == q.dtype(), op,
             ": mask must be bool or of q's dtype, got ", describe(mask), " with q ", describe(q));
    const Shape full{qs[0], qs[1], qs[2], ks[2]};
    bool fits = mask.dim() <= 4;
    for (int64_t d = 1; fits && d <= mask.dim(); ++d) {
      const int64_t m = mask.shape()[mask.dim() - d];
      fits = m == 1 || m == full[4 - d];
    }
    SG_CHECK(fits, op, ": mask ", shape_str(mask.shape()), " does not broadcast to ",
             shape_str(full));
    p.mask = mask.detach().expand(full);
    p.attrs.mode = mask.dtype() == DType::boolean ? 1 : 2;
  }
  return p;
}

std::vector<Tensor> with_mask(std::vector<Tensor> inputs, const Tensor& mask) {
  if (mask.defined()) inputs.push_back(mask);
  return inputs;
}

std::vector<Tensor> run_forward(const Prepared& p) {
  NoGradGuard no_grad;
  const Options opts(p.q.dtype(), p.q.device());
  const Shape& qs = p.q.shape();
  Tensor out = empty({qs[0], qs[1], qs[2], p.v.shape()[3]}, opts);
  // Half inputs are computed in f32, and their log-sum-exp is kept in f32.
  Tensor lse = empty({qs[0], qs[1], qs[2]}, opts.with_dtype(accumulation_dtype(p.q.dtype())));
  run_kernel(OpId::scaled_dot_product_attention, with_mask({p.q, p.k, p.v}, p.mask), {out, lse},
             p.attrs);
  return {out, lse};
}

std::vector<Tensor> run_backward(const Prepared& p, const Tensor& out, const Tensor& lse,
                                 const Tensor& grad_out) {
  NoGradGuard no_grad;
  const Options opts(p.q.dtype(), p.q.device());
  Tensor dq = empty(p.q.shape(), opts), dk = empty(p.k.shape(), opts),
         dv = empty(p.v.shape(), opts);
  run_kernel(OpId::scaled_dot_product_attention_backward,
             with_mask({p.q, p.k, p.v, out, lse, grad_out}, p.mask), {dq, dk, dv}, p.attrs);
  return {dq, dk, dv};
}

}  // namespace

std::vector<Tensor> scaled_dot_product_attention_forward(const Tensor& q, const Tensor& k,
                                                         const Tensor& v, const Tensor& mask,
                                                         const AttentionParams& params) {
  return run_forward(prepare("scaled_dot_product_attention", q, k, v, mask, params));
}

std::vector<Tensor> scaled_dot_product_attention_backward(const Tensor& q, const Tensor& k,
                                                          const Tensor& v, const Tensor& mask,
                                                          const Tensor& out, const Tensor& lse,
                                                          const Tensor& grad_out,
                                                          const AttentionParams& params) {
  const char* op = "scaled_dot_product_attention_backward";
  Prepared p = prepare(op, q, k, v, mask, params);
  const Shape& qs = q.shape();
  const Shape os{qs[0], qs[1], qs[2], v.shape()[3]}, ls{qs[0], qs[1], qs[2]};
  // out and grad_out in q's dtype; lse in its accumulation dtype (f32 for half q).
  const DType lse_dtype = accumulation_dtype(q.dtype());
  for (const auto& [t, name, shape, dtype] :
       {std::tuple{out, "out", os, q.dtype()}, std::tuple{grad_out, "grad_out", os, q.dtype()},
        std::tuple{lse, "lse", ls, lse_dtype}}) {
    check_defined(op, t, name);
    check_strided(op, t, name);
    check_same_device(op, q, t);
    SG_CHECK(t.dtype() == dtype, op, ": expected ", name, " of dtype ", dtype_name(dtype),
             " for q ", describe(q), ", got ", describe(t));
    SG_CHECK(t.shape() == shape, op, ": ", name, " must have shape ", shape_str(shape), ", got ",
             describe(t));
  }
  return run_backward(p, out, lse, grad_out);
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& mask, bool causal, double dropout_p,
                                    std::optional<double> scale, Generator& gen) {
  const char* op = "scaled_dot_product_attention";
  check_defined(op, q, "q");
  // [N, L, D] operands: one head.
  const bool three_d = q.dim() == 3;
  if (three_d) {
    SG_CHECK(k.defined() && v.defined() && k.dim() == 3 && v.dim() == 3, op,
             ": expected q, k and v all (B, H, L, D) or all (N, L, D), got q ", describe(q), ", k ",
             describe(k), ", v ", describe(v));
    Tensor m = mask;
    if (mask.defined() && mask.dim() == 3) m = mask.unsqueeze(1);
    Tensor o = scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), m,
                                            causal, dropout_p, scale, gen);
    return o.squeeze(1);
  }
  AttentionParams params{causal, scale, dropout_p, 0, 0};
  Prepared p = prepare(op, q, k, v, mask, params);
  if (dropout_p > 0) {
    // One Philox counter (four 32-bit words) per four elements of the probability matrix.
    const uint64_t n =
        static_cast<uint64_t>(q.shape()[0] * q.shape()[1] * q.shape()[2] * k.shape()[2]);
    p.attrs.seed = gen.seed();
    p.attrs.offset = gen.advance((n + 3) / 4);
  }
  std::vector<Tensor> ol = run_forward(p);
  record(op, {q, k, v}, {ol[0]},
         [attrs = p.attrs, sm = SavedTensor(p.mask, op), so = SavedTensor(ol[0], op),
          sl = SavedTensor(ol[1], op), sq = SavedTensor(q, op), sk = SavedTensor(k, op),
          sv = SavedTensor(v, op)](const std::vector<Tensor>& g) {
           const Prepared saved{sq.get(), sk.get(), sv.get(), sm.get(), attrs};
           return run_backward(saved, so.get(), sl.get(), g[0]);
         });
  return ol[0];
}

}  // namespace stackgrad
