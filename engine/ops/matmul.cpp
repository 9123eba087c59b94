// Matrix products: shape rules, the bmm kernel call and the backward formulas side by side.
// Every product goes through product(): operands of at least 2 dims whose batch dims broadcast
// (expanded to stride-0 views, never copied); the bmm kernel walks any batch dims itself.
#include "engine/ops/matmul.h"

#include <algorithm>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/reduce.h"

namespace stackgrad {
namespace {

using Grads = std::vector<Tensor>;

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a, "a");
  check_defined(op, b, "b");
  check_strided(op, a, "a");
  check_strided(op, b, "b");
  SG_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), op,
           ": expected floating tensors (f32 or f64), got ", describe(a), " and ", describe(b),
           "; integer matrix products are not supported");
  check_same_dtype(op, a, b);
  check_same_device(op, a, b);
}

void check_inner(const char* op, const Shape& sa, const Shape& sb, int64_t ka, int64_t kb) {
  SG_CHECK(ka == kb, op, ": shapes ", shape_str(sa), " and ", shape_str(sb),
           " cannot be multiplied (", ka, " != ", kb, ")");
}

// True when dims [0, end) of t merge into one dim as a view (no copy).
bool leading_dims_merge(const Tensor& t, int64_t end) {
  int64_t inner = -1;
  for (int64_t d = end - 1; d >= 0; --d) {
    if (t.shape()[d] == 1) continue;
    if (inner >= 0 && t.strides()[d] != t.strides()[inner] * t.shape()[inner]) return false;
    inner = d;
  }
  return true;
}

Tensor product(const char* op, const Tensor& a, const Tensor& b, const Shape& sa, const Shape& sb);

// dA = dC · Bᵀ, summed over the dims that broadcasting added to A.
Tensor grad_a(const char* op, const Tensor& g, const Tensor& b, const Shape& a_shape) {
  Tensor bt = b.transpose(-2, -1);
  return sum_to(product(op, g, bt, g.shape(), bt.shape()), a_shape);
}

// dB = Aᵀ · dC, summed over the dims that broadcasting added to B. For a 2-D B under a batched
// A (a linear layer), the batch folds into the contraction: one [K, rows] x [rows, N] product
// instead of a [batch, K, N] intermediate that sum_to would then reduce.
Tensor grad_b(const char* op, const Tensor& a, const Tensor& g, const Shape& b_shape) {
  if (b_shape.size() == 2 && g.dim() > 2) {
    const int64_t K = a.shape().back(), N = g.shape().back();
    const int64_t rows = numel_of(Shape(g.shape().begin(), g.shape().end() - 1));
    // B is 2-D, so the batch dims of dC all come from A: A has them all.
    Tensor at = a.reshape({rows, K}).t();
    Tensor g2 = g.reshape({rows, N});
    return product(op, at, g2, at.shape(), g2.shape());
  }
  Tensor at = a.transpose(-2, -1);
  return sum_to(product(op, at, g, at.shape(), g.shape()), b_shape);
}

// a [batch_a..., M, K] x b [batch_b..., K, N] with broadcast batch dims; both at least 2-D.
// `op` names the caller in errors and in the graph; sa and sb are the caller's shapes (before
// 1-D operands were given their extra dim) for error messages.
Tensor product(const char* op, const Tensor& a, const Tensor& b, const Shape& sa, const Shape& sb) {
  const int64_t na = a.dim(), nb = b.dim();
  const int64_t M = a.shape()[na - 2], K = a.shape()[na - 1], N = b.shape()[nb - 1];
  check_inner(op, sa, sb, K, b.shape()[nb - 2]);
  const int64_t nbatch = std::max(na, nb) - 2;
  Shape batch(nbatch);
  for (int64_t i = 0; i < nbatch; ++i) {
    const int64_t da = i - (nbatch - (na - 2)), db = i - (nbatch - (nb - 2));
    const int64_t x = da >= 0 ? a.shape()[da] : 1, y = db >= 0 ? b.shape()[db] : 1;
    SG_CHECK(x == y || x == 1 || y == 1, op, ": batch dims of ", shape_str(sa), " and ",
             shape_str(sb), " cannot be broadcast (", x, " vs ", y, " in batch dim ", i, ")");
    batch[i] = x == 1 ? y : x;
  }
  auto with = [&batch](int64_t rows, int64_t cols) {
    Shape s = batch;
    s.push_back(rows);
    s.push_back(cols);
    return s;
  };
  Tensor out = empty(with(M, N), Options(a.dtype(), a.device()));
  {
    NoGradGuard no_grad;  // the expands are internal
    run_kernel(OpId::bmm, {a.expand(with(M, K)), b.expand(with(K, N))}, {out});
  }
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  record(op, {a, b}, {out},
         [op, ga, gb, sa_ = SavedTensor(gb ? a : Tensor(), op),
          sb_ = SavedTensor(ga ? b : Tensor(), op), a_shape = a.shape(),
          b_shape = b.shape()](const Grads& g) {
           return Grads{ga ? grad_a(op, g[0], sb_.get(), a_shape) : Tensor(),
                        gb ? grad_b(op, sa_.get(), g[0], b_shape) : Tensor()};
         });
  return out;
}

// product() for matmul: a batched A times a 2-D B is one [rows, K] x [K, N] product when A's
// leading dims merge without a copy (a bigger M packs B once instead of once per batch).
Tensor folded_product(const Tensor& a, const Tensor& b, const Shape& sa, const Shape& sb) {
  if (a.dim() > 2 && b.dim() == 2 && leading_dims_merge(a, a.dim() - 1)) {
    const int64_t K = a.shape().back();
    check_inner("matmul", sa, sb, K, b.shape()[0]);
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(b.shape()[1]);
    Tensor a2 = a.reshape({numel_of(Shape(out_shape.begin(), out_shape.end() - 1)), K});
    return product("matmul", a2, b, sa, sb).view(out_shape);
  }
  return product("matmul", a, b, sa, sb);
}

}  // namespace

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands("bmm", a, b);
  SG_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors [B, M, K] and [B, K, N], got ",
           describe(a), " and ", describe(b));
  SG_CHECK(a.shape()[0] == b.shape()[0], "bmm: batch sizes differ, got ", shape_str(a.shape()),
           " and ", shape_str(b.shape()), " (use matmul to broadcast)");
  return product("bmm", a, b, a.shape(), b.shape());
}

Tensor mm(const Tensor& a, const Tensor& b) {
  check_operands("mm", a, b);
  SG_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors [M, K] and [K, N], got ",
           describe(a), " and ", describe(b));
  return product("mm", a, b, a.shape(), b.shape());
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_operands("dot", a, b);
  SG_CHECK(a.dim() == 1 && b.dim() == 1, "dot: expected 1-D tensors, got ", describe(a), " and ",
           describe(b));
  check_inner("dot", a.shape(), b.shape(), a.shape()[0], b.shape()[0]);
  return product("dot", a.unsqueeze(0), b.unsqueeze(1), a.shape(), b.shape()).reshape({});
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands("matmul", a, b);
  SG_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
           describe(a), " and ", describe(b));
  const Shape &sa = a.shape(), &sb = b.shape();
  if (a.dim() == 1 && b.dim() == 1) {
    check_inner("matmul", sa, sb, sa[0], sb[0]);
    return product("matmul", a.unsqueeze(0), b.unsqueeze(1), sa, sb).reshape({});
  }
  if (a.dim() == 1) return folded_product(a.unsqueeze(0), b, sa, sb).squeeze(-2);
  if (b.dim() == 1) return folded_product(a, b.unsqueeze(1), sa, sb).squeeze(-1);
  return folded_product(a, b, sa, sb);
}

}  // namespace stackgrad
