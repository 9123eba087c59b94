// Normalisations and embeddings: shape rules, kernel calls and backward side by side. Each
// normalisation views its input as [N, C, S] (batch, group) or [R, D] (layer) for the kernel,
// saves x, weight and the mean and rstd the kernel returns, and runs a dedicated backward
// kernel for dx, dweight and dbias together.
#include "engine/ops/norm.h"

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"

namespace stackgrad {
namespace {

using Grads = std::vector<Tensor>;

int64_t product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

void check_floating_input(const char* op, const Tensor& x, const char* name) {
  check_defined(op, x, name);
  check_strided(op, x, name);
  SG_CHECK(is_floating(x.dtype()), op, ": expected a floating ", name, " (f32, f64), got ",
           describe(x));
}

// An optional operand (weight, bias, running statistic): undefined, or strided, of x's dtype and
// device, with the expected shape.
void check_optional(const char* op, const Tensor& t, const char* name, const Tensor& x,
                    const Shape& expected) {
  if (!t.defined()) return;
  check_strided(op, t, name);
  check_same_dtype(op, x, t);
  check_same_device(op, x, t);
  SG_CHECK(t.shape() == expected, op, ": expected ", name, " of shape ", shape_str(expected),
           " for input ", shape_str(x.shape()), ", got ", describe(t));
}

// Kernel operands: an absent optional operand is an empty [0] tensor of x's dtype.
Tensor or_empty(const Tensor& t, const Tensor& x) {
  return t.defined() ? t : empty({0}, Options(x.dtype(), x.device()));
}

// An operand read along its one dim by the inner loops of a kernel: flat and contiguous.
Tensor flat_param(const Tensor& t, const Tensor& x, int64_t n) {
  return t.defined() ? t.reshape({n}).contiguous() : or_empty(t, x);
}

// [N, C, S] view (or copy) of x [N, C, d1, ...].
Tensor as_ncs(const Tensor& x) {
  const Shape& s = x.shape();
  return x.reshape({s[0], s[1], product(s, 2, s.size())});
}

void check_grad_like(const char* op, const Tensor& x, const Tensor& grad) {
  check_defined(op, grad, "grad");
  check_strided(op, grad, "grad");
  check_same_dtype(op, x, grad);
  check_same_device(op, x, grad);
  SG_CHECK(grad.shape() == x.shape(), op, ": grad must have the input's shape ",
           shape_str(x.shape()), ", got ", describe(grad));
}

void check_stat(const char* op, const Tensor& t, const char* name, const Tensor& x,
                const Shape& expected) {
  check_defined(op, t, name);
  check_optional(op, t, name, x, expected);
}

// The three gradients from a backward kernel that takes x and grad as `view` shapes them;
// dweight and dbias come back shaped like `weight_shape`.
// `extra`, when defined, is passed after the weight (group_norm's bias with a fused activation).
NormGrads run_norm_backward(OpId op, const Tensor& x, const Tensor& grad, const Tensor& mean,
                            const Tensor& rstd, const Tensor& weight, const Shape& view,
                            const Shape& weight_shape, const OpAttrs& attrs,
                            const Tensor& extra = Tensor(), bool pass_extra = false) {
  NoGradGuard no_grad;
  const int64_t P = product(weight_shape, 0, weight_shape.size());
  const Options opts(x.dtype(), x.device());
  Tensor dx = empty(view, opts), dw = empty({P}, opts), db = empty({P}, opts);
  std::vector<Tensor> inputs{x.reshape(view), grad.reshape(view), mean.reshape({mean.numel()}),
                             rstd.reshape({rstd.numel()}), flat_param(weight, x, P)};
  if (pass_extra) inputs.push_back(flat_param(extra, x, P));
  run_kernel(op, inputs, {dx, dw, db}, attrs);
  return {dx.view(x.shape()), dw.view(weight_shape), db.view(weight_shape)};
}

// The backward of a normalisation, from the saved x, grad, mean, rstd, weight and bias.
using NormBackward = std::function<NormGrads(const Tensor&, const Tensor&, const Tensor&,
                                             const Tensor&, const Tensor&, const Tensor&)>;

// Records a normalisation whose backward is `backward` on the saved x, mean, rstd and weight,
// and the bias when `save_bias` (a fused activation needs it to recompute its input).
void record_norm(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                 const Tensor& y, const Tensor& mean, const Tensor& rstd, NormBackward backward,
                 bool save_bias = false) {
  record(op, {x, weight, bias}, {y},
         [sx = SavedTensor(x, op), sw = SavedTensor(weight, op), smean = SavedTensor(mean, op),
          srstd = SavedTensor(rstd, op), sb = SavedTensor(save_bias ? bias : Tensor(), op),
          gx = x.requires_grad(), gw = weight.defined() && weight.requires_grad(),
          gb = bias.defined() && bias.requires_grad(), backward](const Grads& g) {
           NormGrads d = backward(sx.get(), g[0], smean.get(), srstd.get(), sw.get(), sb.get());
           return Grads{gx ? d.input : Tensor(), gw ? d.weight : Tensor(), gb ? d.bias : Tensor()};
         });
}

OpAttrs eps_attrs(double eps, int64_t groups = 0) {
  OpAttrs attrs;
  attrs.beta = eps;
  attrs.k = groups;
  return attrs;
}

}  // namespace

// --- batch_norm ------------------------------------------------------------------------------

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  const char* op = "batch_norm";
  check_floating_input(op, x, "input");
  SG_CHECK(x.dim() >= 2, op, ": expected input (N, C) or (N, C, d1, ...), got ", describe(x));
  const int64_t C = x.shape()[1];
  for (const auto& [t, name] :
       {std::pair{weight, "weight"}, std::pair{bias, "bias"},
        std::pair{running_mean, "running_mean"}, std::pair{running_var, "running_var"}})
    check_optional(op, t, name, x, {C});
  SG_CHECK(running_mean.defined() == running_var.defined(), op,
           ": running_mean and running_var must be given together (got only ",
           running_mean.defined() ? "running_mean" : "running_var", ")");
  SG_CHECK(training || running_mean.defined(), op,
           ": running_mean and running_var are required in eval mode (training = false)");
  SG_CHECK(eps >= 0.0, op, ": eps must be >= 0, got ", eps);
  const int64_t per_channel = C == 0 ? 0 : x.numel() / C;
  SG_CHECK(!training || per_channel != 1, op,
           ": expected more than 1 value per channel when training, got input ",
           shape_str(x.shape()));
  const bool update = training && running_mean.defined();
  if (update)
    for (const auto& [t, name] :
         {std::pair{running_mean, "running_mean"}, std::pair{running_var, "running_var"}})
      SG_CHECK(!(grad_enabled() && t.requires_grad()), op, ": ", name,
               " is updated in place and must not require grad, got ", describe(t));

  const Options opts(x.dtype(), x.device());
  Tensor y, mean = empty({C}, opts), rstd = empty({C}, opts);
  {
    NoGradGuard no_grad;
    Tensor x3 = as_ncs(x);
    Tensor y3 = empty(x3.shape(), opts);
    OpAttrs attrs = eps_attrs(eps);
    attrs.flag = training;
    attrs.alpha = momentum;
    run_kernel(OpId::batch_norm,
               {x3, or_empty(weight, x), or_empty(bias, x), or_empty(running_mean, x),
                or_empty(running_var, x)},
               {y3, mean, rstd}, attrs);
    y = y3.view(x.shape());
  }
  if (update) {
    running_mean.storage()->bump_version();
    running_var.storage()->bump_version();
  }
  record_norm(
      op, x, weight, bias, y, mean, rstd,
      [training](const Tensor& sx, const Tensor& g, const Tensor& m, const Tensor& r,
                 const Tensor& w, const Tensor&) {
        return batch_norm_backward(sx, g, m, r, w, training);
      });
  return y;
}

NormGrads batch_norm_backward(const Tensor& x, const Tensor& grad, const Tensor& mean,
                              const Tensor& rstd, const Tensor& weight, bool training) {
  const char* op = "batch_norm_backward";
  check_floating_input(op, x, "input");
  SG_CHECK(x.dim() >= 2, op, ": expected input (N, C) or (N, C, d1, ...), got ", describe(x));
  check_grad_like(op, x, grad);
  const int64_t C = x.shape()[1];
  check_stat(op, mean, "mean", x, {C});
  check_stat(op, rstd, "rstd", x, {C});
  check_optional(op, weight, "weight", x, {C});
  const Shape& s = x.shape();
  OpAttrs attrs;
  attrs.flag = training;
  return run_norm_backward(OpId::batch_norm_backward, x, grad, mean, rstd, weight,
                           {s[0], C, product(s, 2, s.size())}, {C}, attrs);
}

// --- layer_norm ------------------------------------------------------------------------------

namespace {

// Rows R (the leading dims) and row length D (normalized_shape) of a layer_norm input.
std::pair<int64_t, int64_t> layer_norm_rows(const char* op, const Tensor& x,
                                            const Shape& normalized_shape) {
  const size_t k = normalized_shape.size(), n = x.shape().size();
  SG_CHECK(k >= 1, op, ": normalized_shape must have at least one dim, got []");
  bool fits = k <= n;
  for (size_t i = 0; fits && i < k; ++i) fits = x.shape()[n - k + i] == normalized_shape[i];
  SG_CHECK(fits, op, ": normalized_shape ", shape_str(normalized_shape),
           " does not match the trailing dims of input ", shape_str(x.shape()));
  return {product(x.shape(), 0, n - k), product(normalized_shape, 0, k)};
}

Shape leading_shape(const Tensor& x, const Shape& normalized_shape) {
  return Shape(x.shape().begin(), x.shape().end() - static_cast<int64_t>(normalized_shape.size()));
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  check_floating_input(op, x, "input");
  const auto [R, D] = layer_norm_rows(op, x, normalized_shape);
  check_optional(op, weight, "weight", x, normalized_shape);
  check_optional(op, bias, "bias", x, normalized_shape);
  SG_CHECK(eps >= 0.0, op, ": eps must be >= 0, got ", eps);
  const Options opts(x.dtype(), x.device());
  const Shape lead = leading_shape(x, normalized_shape);
  Tensor y = empty({R, D}, opts), mean = empty({R}, opts), rstd = empty({R}, opts);
  {
    NoGradGuard no_grad;
    run_kernel(OpId::layer_norm,
               {x.reshape({R, D}), flat_param(weight, x, D), flat_param(bias, x, D)},
               {y, mean, rstd}, eps_attrs(eps));
  }
  y = y.view(x.shape());
  mean = mean.view(lead);
  rstd = rstd.view(lead);
  record_norm(op, x, weight, bias, y, mean, rstd,
              [normalized_shape](const Tensor& sx, const Tensor& g, const Tensor& m,
                                 const Tensor& r, const Tensor& w, const Tensor&) {
                return layer_norm_backward(sx, g, m, r, normalized_shape, w);
              });
  return y;
}

NormGrads layer_norm_backward(const Tensor& x, const Tensor& grad, const Tensor& mean,
                              const Tensor& rstd, const Shape& normalized_shape,
                              const Tensor& weight) {
  const char* op = "layer_norm_backward";
  check_floating_input(op, x, "input");
  const auto [R, D] = layer_norm_rows(op, x, normalized_shape);
  check_grad_like(op, x, grad);
  const Shape lead = leading_shape(x, normalized_shape);
  check_stat(op, mean, "mean", x, lead);
  check_stat(op, rstd, "rstd", x, lead);
  check_optional(op, weight, "weight", x, normalized_shape);
  return run_norm_backward(OpId::layer_norm_backward, x, grad, mean, rstd, weight, {R, D},
                           normalized_shape, {});
}

// --- group_norm ------------------------------------------------------------------------------

namespace {

void check_groups(const char* op, const Tensor& x, int64_t groups) {
  SG_CHECK(x.dim() >= 2, op, ": expected input (N, C, d1, ...), got ", describe(x));
  const int64_t C = x.shape()[1];
  SG_CHECK(groups > 0 && C % groups == 0, op, ": the ", C, " channels of input ",
           shape_str(x.shape()), " must split into groups = ", groups, " equal groups");
}

}  // namespace

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  double eps, NormActivation activation) {
  const char* op = "group_norm";
  check_floating_input(op, x, "input");
  check_groups(op, x, groups);
  const int64_t N = x.shape()[0], C = x.shape()[1];
  check_optional(op, weight, "weight", x, {C});
  check_optional(op, bias, "bias", x, {C});
  SG_CHECK(eps >= 0.0, op, ": eps must be >= 0, got ", eps);
  const Options opts(x.dtype(), x.device());
  Tensor y, mean = empty({N, groups}, opts), rstd = empty({N, groups}, opts);
  {
    NoGradGuard no_grad;
    Tensor x3 = as_ncs(x);
    Tensor y3 = empty(x3.shape(), opts);
    OpAttrs attrs = eps_attrs(eps, groups);
    attrs.mode = static_cast<int64_t>(activation);
    run_kernel(OpId::group_norm, {x3, flat_param(weight, x, C), flat_param(bias, x, C)},
               {y3, mean, rstd}, attrs);
    y = y3.view(x.shape());
  }
  const bool fused = activation != NormActivation::none;
  record_norm(
      op, x, weight, bias, y, mean, rstd,
      [groups, activation](const Tensor& sx, const Tensor& g, const Tensor& m, const Tensor& r,
                           const Tensor& w, const Tensor& b) {
        return group_norm_backward(sx, g, m, r, groups, w, b, activation);
      },
      fused);
  return y;
}

NormGrads group_norm_backward(const Tensor& x, const Tensor& grad, const Tensor& mean,
                              const Tensor& rstd, int64_t groups, const Tensor& weight,
                              const Tensor& bias, NormActivation activation) {
  const char* op = "group_norm_backward";
  check_floating_input(op, x, "input");
  check_groups(op, x, groups);
  check_grad_like(op, x, grad);
  const Shape& s = x.shape();
  const int64_t N = s[0], C = s[1];
  check_stat(op, mean, "mean", x, {N, groups});
  check_stat(op, rstd, "rstd", x, {N, groups});
  check_optional(op, weight, "weight", x, {C});
  check_optional(op, bias, "bias", x, {C});
  OpAttrs attrs = eps_attrs(0.0, groups);
  attrs.mode = static_cast<int64_t>(activation);
  return run_norm_backward(OpId::group_norm_backward, x, grad, mean, rstd, weight,
                           {N, C, product(s, 2, s.size())}, {C}, attrs, bias,
                           activation != NormActivation::none);
}

// --- embedding -------------------------------------------------------------------------------

namespace {

void check_embedding_indices(const char* op, const Tensor& indices, int64_t V,
                             int64_t padding_idx) {
  check_defined(op, indices, "indices");
  check_strided(op, indices, "indices");
  SG_CHECK(indices.dtype() == DType::i64, op, ": expected indices of dtype i64, got ",
           describe(indices));
  SG_CHECK(padding_idx == -1 || (padding_idx >= 0 && padding_idx < V), op, ": padding_idx ",
           padding_idx, " is out of range for ", V, " embeddings (expected 0 <= padding_idx < ", V,
           ", or -1 for none)");
  // Read on the host: an out-of-range index must be an error, never a read out of bounds.
  Tensor host = indices.device().is_cuda() ? indices.to(Device::cpu()) : indices;
  const std::vector<int64_t> v = host.to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); ++i)
    SG_CHECK(v[i] >= 0 && v[i] < V, op, ": index ", v[i], " (at flat position ", i, " of indices ",
             shape_str(indices.shape()), ") is out of range for ", V,
             " embeddings (expected 0 <= index < ", V, ")");
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  const char* op = "embedding";
  check_floating_input(op, weight, "weight");
  SG_CHECK(weight.dim() == 2, op, ": expected weight (num_embeddings, embedding_dim), got ",
           describe(weight));
  const int64_t V = weight.shape()[0], D = weight.shape()[1];
  check_embedding_indices(op, indices, V, padding_idx);
  check_same_device(op, weight, indices);
  const int64_t M = indices.numel();
  Shape out_shape = indices.shape();
  out_shape.push_back(D);
  Tensor y = empty({M, D}, Options(weight.dtype(), weight.device()));
  {
    NoGradGuard no_grad;
    run_kernel(OpId::embedding, {weight, indices.reshape({M})}, {y});
  }
  y = y.view(out_shape);
  record(op, {weight}, {y}, [si = SavedTensor(indices, op), V, padding_idx](const Grads& g) {
    return Grads{embedding_backward(g[0], si.get(), V, padding_idx)};
  });
  return y;
}

Tensor embedding_backward(const Tensor& grad, const Tensor& indices, int64_t num_weights,
                          int64_t padding_idx) {
  const char* op = "embedding_backward";
  check_floating_input(op, grad, "grad");
  SG_CHECK(num_weights >= 0, op, ": num_weights must be >= 0, got ", num_weights);
  check_embedding_indices(op, indices, num_weights, padding_idx);
  check_same_device(op, grad, indices);
  const Shape& is = indices.shape();
  SG_CHECK(
      grad.dim() == indices.dim() + 1 && Shape(grad.shape().begin(), grad.shape().end() - 1) == is,
      op, ": grad must have shape indices.shape + [D] = ", shape_str(is), " + [D], got ",
      describe(grad));
  const int64_t M = indices.numel(), D = grad.shape().back();
  NoGradGuard no_grad;
  Tensor dw = empty({num_weights, D}, Options(grad.dtype(), grad.device()));
  OpAttrs attrs;
  attrs.k = padding_idx;
  run_kernel(OpId::embedding_backward, {grad.reshape({M, D}), indices.reshape({M})}, {dw}, attrs);
  return dw;
}

}  // namespace stackgrad
