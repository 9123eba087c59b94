// Reductions: shape rules, kernel calls and backward formulas side by side.
#include "engine/ops/reduce.h"

#include <algorithm>

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
Tensor reduce_kernel(OpId op, const Tensor& x, const ReducePlan& p, DType out_dtype, OpAttrs attrs = {}) {
  Tensor out = empty(p.out_shape, Options(out_dtype, x.device()));
  attrs.k = static_cast<int64_t>(p.dims.size());
  NoGradGuard no_grad;
  run_kernel(op, {x.permute(p.permutation)}, {out}, attrs);
  return out;
}
}  // namespace

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
  ReducePlan p = plan_reduction("sum", x, dims);
  SG_CHECK(x.dtype() != DType::boolean, "sum: bool tensors cannot be summed; convert with .to(DType::i64)");
  Tensor out = reduce_kernel(OpId::sum, x, p, x.dtype());
  if (keepdim) {
    NoGradGuard no_grad;
    out = out.view(p.keep_shape);
  }
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

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  SG_CHECK(lead >= 0, "sum_to: cannot reduce ", describe(grad), " to ", shape_str(shape));
  Dims dims;
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead) dims.push_back(d);
    else if (shape[d - lead] == 1 && grad.shape()[d] != 1) dims.push_back(d);
  }
  Tensor s = dims.empty() ? grad : sum(grad, dims, true);
  return s.reshape(shape);
}

}  // namespace stackgrad
