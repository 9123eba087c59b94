// Reductions, scans and softmax: shape rules, kernel calls and backward formulas side by side.
#include "engine/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/elementwise.h"

namespace stackgrad {

using Grads = std::vector<Tensor>;

ReducePlan plan_reduction(const char* op, const Tensor& x, const Dims& dims) {
  check_strided(op, x, "x");
  ReducePlan p;
  const int64_t nd = x.dim();
  std::vector<bool> reduced(nd, dims.empty());
  for (int64_t d : dims) {
    int64_t n = normalize_dim(op, d, nd);
    if (nd == 0) continue;
    SG_CHECK(!reduced[n], op, ": dim ", n, " appears twice in the reduction dims");
    reduced[n] = true;
  }
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[d]) {
      p.dims.push_back(d);
      p.reduced_numel *= x.shape()[d];
      p.keep_shape.push_back(1);
    } else {
      p.permutation.push_back(d);
      p.out_shape.push_back(x.shape()[d]);
      p.keep_shape.push_back(x.shape()[d]);
    }
  }
  for (int64_t d : p.dims) p.permutation.push_back(d);
  return p;
}

namespace {

// Runs a reduction kernel: input permuted so reduced dims are last; output over kept dims.
Tensor reduce_kernel(OpId op, const Tensor& x, const ReducePlan& p, DType out_dtype,
                     OpAttrs attrs = {}) {
  Tensor out = empty(p.out_shape, Options(out_dtype, x.device()));
  attrs.k = static_cast<int64_t>(p.dims.size());
  NoGradGuard no_grad;
  run_kernel(op, {x.permute(p.permutation)}, {out}, attrs);
  return out;
}

// The user-visible result: `out` with size-1 reduced dims when keepdim.
Tensor keep_dims(const Tensor& out, const ReducePlan& p, bool keepdim) {
  if (!keepdim) return out;
  NoGradGuard no_grad;
  return out.view(p.keep_shape);
}

// Saving an op's own output would tie the output to its node in a reference cycle; a detached
// view shares the storage (and its version counter) without the history.
SavedTensor save_output(const Tensor& y, const char* op) { return SavedTensor(y.detach(), op); }

void check_floating(const char* op, const Tensor& x) {
  check_strided(op, x, "x");
  SG_CHECK(is_floating(x.dtype()), op, ": expected a floating tensor (f32, f64), got ",
           describe(x));
}

void check_numeric(const char* op, const Tensor& x) {
  check_strided(op, x, "x");
  SG_CHECK(x.dtype() != DType::boolean, op, ": bool tensors are not supported, got ", describe(x),
           " (convert with .to(DType::i64))");
}

// max, min, argmax and argmin have no value for an empty set.
void check_nonempty(const char* op, const Tensor& x, const ReducePlan& p) {
  SG_CHECK(p.reduced_numel > 0, op, ": cannot reduce over zero elements (dims ", shape_str(p.dims),
           " of ", describe(x), ")");
}

}  // namespace

// --- sums and products -------------------------------------------------------------------------

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
  ReducePlan p = plan_reduction("sum", x, dims);
  SG_CHECK(x.dtype() != DType::boolean,
           "sum: bool tensors cannot be summed; convert with .to(DType::i64)");
  Tensor out = keep_dims(reduce_kernel(OpId::sum, x, p, x.dtype()), p, keepdim);
  record("sum", {x}, {out}, [in_shape = x.shape(), keep = p.keep_shape](const Grads& g) {
    return Grads{g[0].reshape(keep).expand(in_shape).contiguous()};
  });
  return out;
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  SG_CHECK(is_floating(x.dtype()), "mean: expected a floating tensor, got ", describe(x));
  ReducePlan p = plan_reduction("mean", x, dims);
  return sum(x, dims, keepdim) * (1.0 / static_cast<double>(p.reduced_numel));
}

Tensor prod(const Tensor& x, const Dims& dims, bool keepdim) {
  check_numeric("prod", x);
  ReducePlan p = plan_reduction("prod", x, dims);
  Tensor out = keep_dims(reduce_kernel(OpId::prod, x, p, x.dtype()), p, keepdim);
  record("prod", {x}, {out}, [sx = SavedTensor(x, "prod"), p](const Grads& g) {
    // d prod / d x_i is the product of the other elements. Dividing the product by x_i fails at
    // zeros, so count them: with none, it is P / x_i (P the product of all); with exactly one,
    // it is the product of the non-zero elements at the zero and 0 elsewhere; with more, 0.
    Tensor xv = sx.get();
    Tensor is_zero = xv == 0.0;
    Tensor zero_count = sum(is_zero.to(xv.dtype()), p.dims, true);
    Tensor safe = where(is_zero, scalar_like(1.0, xv), xv);
    Tensor nonzero_prod = prod(safe, p.dims, true);
    Tensor at_single_zero =
        where(is_zero & (zero_count == 1.0), nonzero_prod, scalar_like(0.0, xv));
    Tensor others = where(zero_count == 0.0, nonzero_prod / safe, at_single_zero);
    return Grads{g[0].reshape(p.keep_shape) * others};
  });
  return out;
}

// --- extremes ----------------------------------------------------------------------------------

namespace {
Tensor extremum(OpId op, const char* name, const Tensor& x, const Dims& dims, bool keepdim) {
  check_numeric(name, x);
  ReducePlan p = plan_reduction(name, x, dims);
  check_nonempty(name, x, p);
  Tensor y = reduce_kernel(op, x, p, x.dtype());
  Tensor out = keep_dims(y, p, keepdim);
  record(name, {x}, {out},
         [sx = SavedTensor(x, name), sy = save_output(y, name), p](const Grads& g) {
           // Every element equal to the result shares the gradient evenly.
           Tensor xv = sx.get();
           Tensor hit = (xv == sy.get().reshape(p.keep_shape)).to(xv.dtype());
           Tensor count = sum(hit, p.dims, true);
           return Grads{g[0].reshape(p.keep_shape) * hit / count};
         });
  return out;
}

Tensor arg_extremum(OpId op, const char* name, const Tensor& x, std::optional<int64_t> dim,
                    bool keepdim) {
  check_numeric(name, x);
  ReducePlan p = plan_reduction(name, x, dim ? Dims{*dim} : Dims{});
  check_nonempty(name, x, p);
  return keep_dims(reduce_kernel(op, x, p, DType::i64), p, keepdim);
}
}  // namespace

Tensor max(const Tensor& x, const Dims& dims, bool keepdim) {
  return extremum(OpId::max, "max", x, dims, keepdim);
}

Tensor min(const Tensor& x, const Dims& dims, bool keepdim) {
  return extremum(OpId::min, "min", x, dims, keepdim);
}

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extremum(OpId::argmax, "argmax", x, dim, keepdim);
}

Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extremum(OpId::argmin, "argmin", x, dim, keepdim);
}

// --- statistics ----------------------------------------------------------------------------------

Tensor var(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  check_floating("var", x);
  SG_CHECK(correction >= 0, "var: correction must be non-negative, got ", correction);
  ReducePlan p = plan_reduction("var", x, dims);
  OpAttrs attrs;
  attrs.alpha = static_cast<double>(correction);
  Tensor out = keep_dims(reduce_kernel(OpId::var, x, p, x.dtype(), attrs), p, keepdim);
  record("var", {x}, {out}, [sx = SavedTensor(x, "var"), p, correction](const Grads& g) {
    // d/dx_i sum_j (x_j - m)^2 = 2 (x_i - m): the terms through m sum to zero.
    Tensor xv = sx.get();
    double scale = 2.0 / std::max(0.0, static_cast<double>(p.reduced_numel - correction));
    return Grads{g[0].reshape(p.keep_shape) * (xv - mean(xv, p.dims, true)) * scale};
  });
  return out;
}

Tensor std(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  check_floating("std", x);
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim) {
  check_floating("logsumexp", x);
  ReducePlan p = plan_reduction("logsumexp", x, dims);
  Tensor y = reduce_kernel(OpId::logsumexp, x, p, x.dtype());
  Tensor out = keep_dims(y, p, keepdim);
  record("logsumexp", {x}, {out},
         [sx = SavedTensor(x, "logsumexp"), sy = save_output(y, "logsumexp"), p](const Grads& g) {
           // d/dx_i log sum exp(x) = exp(x_i - y): the softmax over the reduced elements.
           Tensor w = exp(sx.get() - sy.get().reshape(p.keep_shape));
           return Grads{g[0].reshape(p.keep_shape) * w};
         });
  return out;
}

Tensor norm(const Tensor& x, double p_norm, const Dims& dims, bool keepdim) {
  check_floating("norm", x);
  const double inf = std::numeric_limits<double>::infinity();
  SG_CHECK(p_norm == 1.0 || p_norm == 2.0 || p_norm == inf,
           "norm: p must be 1, 2 or infinity, got ", p_norm);
  ReducePlan p = plan_reduction("norm", x, dims);
  OpAttrs attrs;
  attrs.alpha = p_norm;
  Tensor y = reduce_kernel(OpId::norm, x, p, x.dtype(), attrs);
  Tensor out = keep_dims(y, p, keepdim);
  record("norm", {x}, {out},
         [sx = SavedTensor(x, "norm"), sy = save_output(y, "norm"), p, p_norm](const Grads& g) {
           Tensor xv = sx.get(), yv = sy.get().reshape(p.keep_shape);
           Tensor gk = g[0].reshape(p.keep_shape);
           if (p_norm == 1.0) return Grads{gk * sign(xv)};
           if (p_norm == 2.0) {
             // x / |x|, taking 0 where the norm is 0 (x is 0 there too) instead of 0/0.
             Tensor safe = where(yv == 0.0, scalar_like(1.0, yv), yv);
             return Grads{gk * xv / safe};
           }
           // Infinity norm: the max of |x|; ties share the gradient evenly.
           Tensor hit = (abs(xv) == yv).to(xv.dtype());
           return Grads{gk * sign(xv) * hit / sum(hit, p.dims, true)};
         });
  return out;
}

// --- along one dim -------------------------------------------------------------------------------

namespace {
// Runs a kernel that works along `dim`: input and a fresh output (same shape) are both permuted
// so that dim is last. A 0-dim tensor is treated as one line of length 1.
Tensor line_kernel(OpId op, const Tensor& x, int64_t dim, OpAttrs attrs = {}) {
  const char* name = op_name(op).data();
  const int64_t d = normalize_dim(name, dim, x.dim());
  Tensor out = empty(x.shape(), Options(x.dtype(), x.device()));
  NoGradGuard no_grad;
  Tensor xi = x.dim() == 0 ? x.view({1}) : x, oi = x.dim() == 0 ? out.view({1}) : out;
  Dims perm;
  for (int64_t i = 0; i < xi.dim(); ++i)
    if (i != d) perm.push_back(i);
  perm.push_back(d);
  run_kernel(op, {xi.permute(perm)}, {oi.permute(perm)}, attrs);
  return out;
}

Tensor cumsum_impl(const Tensor& x, int64_t dim, bool reverse) {
  check_numeric("cumsum", x);
  OpAttrs attrs;
  attrs.flag = reverse;
  Tensor y = line_kernel(OpId::cumsum, x, dim, attrs);
  // y_i = sum_{j <= i} x_j, so dL/dx_j = sum_{i >= j} g_i: the reversed cumsum (and vice versa).
  record(reverse ? "cumsum_reverse" : "cumsum", {x}, {y},
         [dim, reverse](const Grads& g) { return Grads{cumsum_impl(g[0], dim, !reverse)}; });
  return y;
}
}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) { return cumsum_impl(x, dim, false); }

Tensor softmax(const Tensor& x, int64_t dim) {
  check_floating("softmax", x);
  Tensor y = line_kernel(OpId::softmax, x, dim);
  record("softmax", {x}, {y}, [sy = save_output(y, "softmax"), dim](const Grads& g) {
    // J = diag(y) - y y^T, so J^T g = y * (g - <g, y>).
    Tensor yv = sy.get();
    return Grads{yv * (g[0] - sum(g[0] * yv, {dim}, true))};
  });
  return y;
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  check_floating("log_softmax", x);
  Tensor y = line_kernel(OpId::log_softmax, x, dim);
  record("log_softmax", {x}, {y}, [sy = save_output(y, "log_softmax"), dim](const Grads& g) {
    // y_i = x_i - logsumexp(x): dL/dx_j = g_j - softmax_j * sum_i g_i.
    return Grads{g[0] - exp(sy.get()) * sum(g[0], {dim}, true)};
  });
  return y;
}

// --- broadcasting support ------------------------------------------------------------------------

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  SG_CHECK(lead >= 0, "sum_to: cannot reduce ", describe(grad), " to ", shape_str(shape));
  Dims dims;
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead)
      dims.push_back(d);
    else if (shape[d - lead] == 1 && grad.shape()[d] != 1)
      dims.push_back(d);
  }
  Tensor s = dims.empty() ? grad : sum(grad, dims, true);
  return s.reshape(shape);
}

}  // namespace stackgrad
