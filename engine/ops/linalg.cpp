// Linear algebra ops: shape and dtype rules, kernel calls and backward formulas side by side,
// then the iterative solvers, which drive the raw-pointer solvers of kernels/cpu/linalg.h with
// operators written in engine ops (the kernel table has no slot for a callback).
#include "engine/ops/linalg.h"

#include <cmath>
#include <utility>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/sparse.h"
#include "kernels/cpu/linalg.h"

namespace stackgrad {

namespace {

using Grads = std::vector<Tensor>;

// --- helpers for backward formulas (engine ops, so they run on every device) -----------------

Tensor mT(const Tensor& x) { return x.transpose(-2, -1); }

// A constant n x n mask like `like`: 1 strictly inside the chosen triangle, `diag` on the
// diagonal, 0 elsewhere.
Tensor triangle_mask(int64_t n, bool upper, double diag, const Tensor& like) {
  std::vector<double> m(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) m[i * n + j] = i == j ? diag : ((j > i) == upper ? 1.0 : 0.0);
  return from_vector(m, {n, n}, DType::f64).to(like.dtype()).to(like.device());
}

Tensor eye_like(int64_t n, const Tensor& like) {
  return eye(n, n, Options(like.dtype(), like.device()));
}

// --- checks ----------------------------------------------------------------------------------

void check_matrix(const char* op, const Tensor& t, const char* arg, bool square) {
  check_defined(op, t, arg);
  check_strided(op, t, arg);
  SG_CHECK(is_floating(t.dtype()), op, ": expected ", arg, " to be f32 or f64, got ", describe(t));
  SG_CHECK(t.dim() >= 2, op, ": expected ", arg, " to be a ", square ? "square " : "",
           "matrix [.., ", square ? "n, n" : "m, n", "] (leading dims are a batch), got ",
           describe(t));
  SG_CHECK(!square || t.size(-1) == t.size(-2), op, ": expected ", arg,
           " to be a square matrix [.., n, n], got ", describe(t));
}

void check_pair(const char* op, const Tensor& a, const Tensor& b) {
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
}

void check_not_differentiable(const char* op, const Tensor& t, const char* arg) {
  SG_CHECK(!any_requires_grad({t}), op, ": not differentiable, but ", arg,
           " requires grad; call it under NoGradGuard or on ", arg, ".detach()");
}

Shape batch_shape(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

// Expands A [.., n, n] and B [.., n, k] to one broadcast batch shape (differentiable views, so
// the backward of the expand sums the gradient back to each operand's batch shape).
std::pair<Tensor, Tensor> broadcast_batch(const char* op, const Tensor& A, const Tensor& B) {
  Shape batch = broadcast_shapes(op, batch_shape(A), batch_shape(B));
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), A.shape().end() - 2, A.shape().end());
  sb.insert(sb.end(), B.shape().end() - 2, B.shape().end());
  return {A.expand(sa), B.expand(sb)};
}

Tensor empty_as(const Shape& shape, const Tensor& like) {
  return empty(shape, Options(like.dtype(), like.device()));
}

}  // namespace

// --- dense -----------------------------------------------------------------------------------

EighResult eigh(const Tensor& A) {
  check_matrix("eigh", A, "A", true);
  const int64_t n = A.size(-1);
  Shape ws = batch_shape(A);
  ws.push_back(n);
  Tensor w = empty_as(ws, A), V = empty_as(A.shape(), A);
  run_kernel(OpId::eigh, {A}, {w, V});
  // Ā = V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ with F_ij = 1 / (w_j - w_i) off the diagonal, then
  // symmetrised (only symmetric perturbations of A keep it symmetric). Needs distinct w.
  record("eigh", {A}, {w, V},
         [sw = SavedTensor(w, "eigh"), sv = SavedTensor(V, "eigh"), n](const Grads& g) {
           Tensor wv = sw.get(), vv = sv.get();
           Tensor I = eye_like(n, wv);
           Tensor gap = wv.unsqueeze(-2) - wv.unsqueeze(-1);  // [.., i, j] = w_j - w_i
           Tensor F = (1.0 - I) / (gap + I);
           Tensor inner = g[0].unsqueeze(-1) * I + F * matmul(mT(vv), g[1]);
           Tensor ga = matmul(matmul(vv, inner), mT(vv));
           return Grads{(ga + mT(ga)) * 0.5};
         });
  return {w, V};
}

Tensor cholesky(const Tensor& A, bool upper) {
  check_matrix("cholesky", A, "A", true);
  Tensor out = empty_as(A.shape(), A);
  OpAttrs attrs;
  attrs.flag = upper;
  run_kernel(OpId::cholesky, {A}, {out}, attrs);
  // With L̄ = tril(gradient of L): Φ(X) = tril(X) with halved diagonal, S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹,
  // Ā = (S + Sᵀ) / 2. The upper factor is U = Lᵀ, so its gradient transposes to L̄.
  record("cholesky", {A}, {out}, [so = SavedTensor(out, "cholesky"), upper](const Grads& g) {
    Tensor L = upper ? mT(so.get()) : so.get();
    const int64_t n = L.size(-1);
    Tensor gl = (upper ? mT(g[0]) : g[0]) * triangle_mask(n, false, 1.0, L);
    Tensor P = matmul(mT(L), gl) * triangle_mask(n, false, 0.5, L);
    Tensor Z = solve_triangular(mT(L), P, /*upper=*/true);          // L⁻ᵀ P
    Tensor S = mT(solve_triangular(mT(L), mT(Z), /*upper=*/true));  // Z L⁻¹
    return Grads{(S + mT(S)) * 0.5};
  });
  return out;
}

Tensor solve_triangular(const Tensor& A, const Tensor& B, bool upper, bool left,
                        bool unit_diagonal) {
  const char* op = "solve_triangular";
  check_matrix(op, A, "A", true);
  check_matrix(op, B, "B", false);
  check_pair(op, A, B);
  const int64_t n = A.size(-1);
  if (!left) {
    SG_CHECK(B.size(-1) == n, op, ": B has ", B.size(-1), " columns but A is ", n, "x", n,
             " (left=false solves X A = B; A ", describe(A), ", B ", describe(B), ")");
    // X A = B is Aᵀ Xᵀ = Bᵀ, and Aᵀ is triangular the other way round.
    return mT(solve_triangular(mT(A), mT(B), !upper, true, unit_diagonal));
  }
  SG_CHECK(B.size(-2) == n, op, ": B has ", B.size(-2), " rows but A is ", n, "x", n, " (A ",
           describe(A), ", B ", describe(B), ")");
  auto [Ae, Be] = broadcast_batch(op, A, B);
  Tensor X = empty_as(Be.shape(), Be);
  OpAttrs attrs;
  attrs.flag = upper;
  attrs.flag2 = unit_diagonal;
  {
    NoGradGuard no_grad;
    run_kernel(OpId::solve_triangular, {Ae, Be}, {X}, attrs);
  }
  // B̄ = A⁻ᵀ X̄ and Ā = -B̄ Xᵀ restricted to the triangle that was read.
  record(
      op, {Ae, Be}, {X},
      [sa = SavedTensor(Ae, op), sx = SavedTensor(X, op), upper, unit_diagonal, n](const Grads& g) {
        Tensor a = sa.get();
        Tensor gb = solve_triangular(mT(a), g[0], !upper, true, unit_diagonal);
        Tensor ga =
            -matmul(gb, mT(sx.get())) * triangle_mask(n, upper, unit_diagonal ? 0.0 : 1.0, a);
        return Grads{ga, gb};
      });
  return X;
}

Tensor solve(const Tensor& A, const Tensor& B) {
  const char* op = "solve";
  check_matrix(op, A, "A", true);
  check_defined(op, B, "B");
  check_strided(op, B, "B");
  check_pair(op, A, B);
  const int64_t n = A.size(-1);
  SG_CHECK(B.dim() >= 1, op, ": expected B to be a vector [n] or matrices [.., n, k], got ",
           describe(B));
  if (B.dim() == 1) {
    SG_CHECK(B.size(0) == n, op, ": B has ", B.size(0), " entries but A is ", n, "x", n, " (A ",
             describe(A), ", B ", describe(B), ")");
    return solve(A, B.unsqueeze(1)).squeeze(-1);
  }
  SG_CHECK(B.size(-2) == n, op, ": B has ", B.size(-2), " rows but A is ", n, "x", n, " (A ",
           describe(A), ", B ", describe(B), ")");
  auto [Ae, Be] = broadcast_batch(op, A, B);
  Tensor X = empty_as(Be.shape(), Be);
  {
    NoGradGuard no_grad;
    run_kernel(OpId::solve, {Ae, Be}, {X});
  }
  // B̄ = A⁻ᵀ X̄, Ā = -B̄ Xᵀ.
  record(op, {Ae, Be}, {X}, [sa = SavedTensor(Ae, op), sx = SavedTensor(X, op)](const Grads& g) {
    Tensor gb = solve(mT(sa.get()), g[0]);
    return Grads{-matmul(gb, mT(sx.get())), gb};
  });
  return X;
}

Tensor inverse(const Tensor& A) {
  check_matrix("inverse", A, "A", true);
  Tensor Y = empty_as(A.shape(), A);
  run_kernel(OpId::inverse, {A}, {Y});
  // Ā = -Yᵀ Ȳ Yᵀ.
  record("inverse", {A}, {Y}, [sy = SavedTensor(Y, "inverse")](const Grads& g) {
    Tensor yt = mT(sy.get());
    return Grads{-matmul(matmul(yt, g[0]), yt)};
  });
  return Y;
}

QRResult qr(const Tensor& A, bool reduced) {
  check_matrix("qr", A, "A", false);
  check_not_differentiable("qr", A, "A");
  const int64_t m = A.size(-2), n = A.size(-1), k = std::min(m, n);
  const int64_t qcols = reduced ? k : m;
  Shape qs = batch_shape(A), rs = batch_shape(A);
  qs.insert(qs.end(), {m, qcols});
  rs.insert(rs.end(), {qcols, n});
  Tensor Q = empty_as(qs, A), R = empty_as(rs, A);
  OpAttrs attrs;
  attrs.flag = reduced;
  run_kernel(OpId::qr, {A}, {Q, R}, attrs);
  return {Q, R};
}

SVDResult svd(const Tensor& A, bool full_matrices) {
  check_matrix("svd", A, "A", false);
  check_not_differentiable("svd", A, "A");
  const int64_t m = A.size(-2), n = A.size(-1), k = std::min(m, n);
  Shape us = batch_shape(A), ss = batch_shape(A), vs = batch_shape(A);
  us.insert(us.end(), {m, full_matrices ? m : k});
  ss.push_back(k);
  vs.insert(vs.end(), {full_matrices ? n : k, n});
  Tensor U = empty_as(us, A), S = empty_as(ss, A), Vh = empty_as(vs, A);
  OpAttrs attrs;
  attrs.flag = full_matrices;
  run_kernel(OpId::svd, {A}, {U, S, Vh}, attrs);
  return {U, S, Vh};
}

// --- iterative -------------------------------------------------------------------------------

namespace {

double default_tol(DType dtype, double tol) {
  if (tol >= 0.0) return tol;
  return dtype == DType::f64 ? 1e-10 : 1e-5;
}

// A host-side operator for the raw solvers: wraps x in a tensor (a copy, so the operator may
// keep it), applies `apply` with grad mode off and copies the result into y.
template <typename T>
kernels::LinOp<T> host_operator(const char* op, const LinearOperator& apply, int64_t n_in,
                                int64_t n_out) {
  return [op, &apply, n_in, n_out](const T* x, T* y) {
    NoGradGuard no_grad;
    Tensor xt = from_vector(std::vector<T>(x, x + n_in), {n_in});
    Tensor yt = apply(xt);
    SG_CHECK(yt.defined(), op, ": the operator returned an undefined tensor for ", describe(xt));
    SG_CHECK(yt.layout() == Layout::strided && yt.dtype() == dtype_v<T> &&
                 yt.shape() == Shape{n_out} && yt.device().is_cpu(),
             op, ": the operator returned ", describe(yt), " for an input ", describe(xt),
             "; expected ", dtype_name(dtype_v<T>), "[", n_out, "] on cpu");
    from_blob(y, {n_out}, dtype_v<T>).copy_(yt);
  };
}

// The operator x -> A x of a dense or sparse CSR matrix (A.t() x when transposed). The sparse
// transpose is built once here rather than in every application.
LinearOperator matrix_operator(const Tensor& A, bool transposed) {
  if (A.is_sparse()) {
    NoGradGuard no_grad;
    Tensor M = transposed ? sparse_transpose(A) : A;
    return [M](const Tensor& x) { return spmv(M, x); };
  }
  Tensor M = transposed ? A.t() : A;
  return [M](const Tensor& x) { return matmul(M, x); };
}

void check_operator_matrix(const char* op, const Tensor& A, bool square) {
  check_defined(op, A, "A");
  SG_CHECK(is_floating(A.dtype()), op, ": expected A to be f32 or f64, got ", describe(A));
  SG_CHECK(A.dim() == 2, op, ": expected A to be a ", square ? "square " : "",
           "matrix (dense or sparse CSR), got ", describe(A));
  SG_CHECK(!square || A.size(0) == A.size(1), op, ": expected A to be a square matrix, got ",
           describe(A));
  SG_CHECK(A.device().is_cpu(), op, ": needs a cpu matrix (host-side iteration), got ",
           describe(A));
  check_not_differentiable(op, A, "A");
}

void check_vector(const char* op, const Tensor& v, const char* arg) {
  check_defined(op, v, arg);
  check_strided(op, v, arg);
  SG_CHECK(is_floating(v.dtype()), op, ": expected ", arg, " to be f32 or f64, got ", describe(v));
  SG_CHECK(v.dim() == 1, op, ": expected ", arg, " to be a vector [n], got ", describe(v));
  SG_CHECK(v.device().is_cpu(), op, ": needs cpu vectors (host-side iteration), got ", arg, " ",
           describe(v));
  check_not_differentiable(op, v, arg);
}

template <typename T>
CgSolution cg_impl(const LinearOperator& apply, const Tensor& b, const Tensor& x0, double tol,
                   int64_t max_iter) {
  NoGradGuard no_grad;
  const int64_t n = b.size(0);
  std::vector<T> bv = b.to_vector<T>();
  std::vector<T> xv = x0.defined() ? x0.to_vector<T>() : std::vector<T>(n, T(0));
  kernels::LinOp<T> op = host_operator<T>("cg", apply, n, n);
  kernels::CgResult r = kernels::conjugate_gradient<T>(n, op, bv.data(), xv.data(), tol, max_iter);
  return {from_vector(xv, {n}), r.iterations, r.residual_norm, r.converged};
}

template <typename T>
EigshTopk eigsh_impl(const LinearOperator& apply, int64_t n, int64_t k, const EigshOptions& o,
                     double tol) {
  NoGradGuard no_grad;
  std::vector<T> values(k), vectors(n * k);
  kernels::LinOp<T> op = host_operator<T>("eigsh_topk", apply, n, n);
  kernels::EigshResult r = kernels::eigsh_topk<T>(n, k, op, values.data(), vectors.data(), o.seed,
                                                  tol, o.max_iter, o.largest_magnitude);
  // Re-sign with the tie-tolerant rule of the dense kernels.
  std::vector<double> col(n);
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t i = 0; i < n; ++i) col[i] = vectors[i * k + j];
    if (kernels::leading_sign(n, col.data(), 1) < 0)
      for (int64_t i = 0; i < n; ++i) vectors[i * k + j] = -vectors[i * k + j];
  }
  return {from_vector(values, {k}),
          from_vector(vectors, {n, k}),
          r.iterations,
          r.operator_applications,
          r.max_residual,
          r.converged};
}

template <typename T>
SvdsTopk svds_impl(const LinearOperator& apply, const LinearOperator& apply_t, int64_t m, int64_t n,
                   int64_t k, const EigshOptions& o, double tol) {
  NoGradGuard no_grad;
  std::vector<T> u(m * k), s(k), v(n * k), vh(k * n);
  kernels::LinOp<T> op = host_operator<T>("svds_topk", apply, n, m);
  kernels::LinOp<T> op_t = host_operator<T>("svds_topk", apply_t, m, n);
  kernels::EigshResult r = kernels::svds_topk<T>(m, n, k, op, op_t, u.data(), s.data(), v.data(),
                                                 o.seed, tol, o.max_iter);
  // Each pair signed so that the U column's largest-magnitude entry is positive, as in svd.
  std::vector<double> col(m);
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t i = 0; i < m; ++i) col[i] = u[i * k + j];
    const T sign = static_cast<T>(kernels::leading_sign(m, col.data(), 1));
    for (int64_t i = 0; i < m; ++i) u[i * k + j] *= sign;
    for (int64_t i = 0; i < n; ++i) vh[j * n + i] = sign * v[i * k + j];
  }
  return {from_vector(u, {m, k}),
          from_vector(s, {k}),
          from_vector(vh, {k, n}),
          r.iterations,
          r.operator_applications,
          r.max_residual,
          r.converged};
}

}  // namespace

CgSolution cg(const LinearOperator& apply, const Tensor& b, const Tensor& x0, double tol,
              int64_t max_iter) {
  SG_CHECK(static_cast<bool>(apply), "cg: the operator is empty");
  check_vector("cg", b, "b");
  if (x0.defined()) {
    check_vector("cg", x0, "x0");
    check_same_dtype("cg", b, x0);
    SG_CHECK(x0.shape() == b.shape(), "cg: x0 ", describe(x0), " and b ", describe(b),
             " differ in length");
  }
  tol = default_tol(b.dtype(), tol);
  if (max_iter < 0) max_iter = 10 * b.size(0);
  return SG_DISPATCH_FLOAT(b.dtype(), "cg",
                           [&] { return cg_impl<scalar_t>(apply, b, x0, tol, max_iter); });
}

CgSolution cg(const Tensor& A, const Tensor& b, const Tensor& x0, double tol, int64_t max_iter) {
  check_operator_matrix("cg", A, true);
  check_vector("cg", b, "b");
  check_same_dtype("cg", A, b);
  SG_CHECK(A.size(0) == b.size(0), "cg: b has ", b.size(0), " entries but A is ", A.size(0), "x",
           A.size(1), " (A ", describe(A), ", b ", describe(b), ")");
  return cg(matrix_operator(A, false), b, x0, tol, max_iter);
}

EigshTopk eigsh_topk(const LinearOperator& apply, int64_t n, int64_t k, DType dtype,
                     const EigshOptions& options) {
  SG_CHECK(static_cast<bool>(apply), "eigsh_topk: the operator is empty");
  SG_CHECK(is_floating(dtype), "eigsh_topk: expected dtype f32 or f64, got ", dtype_name(dtype));
  SG_CHECK(n >= 0 && k >= 0 && k <= n, "eigsh_topk: need 0 <= k <= n, got k=", k, ", n=", n);
  const double tol = default_tol(dtype, options.tol);
  return SG_DISPATCH_FLOAT(dtype, "eigsh_topk",
                           [&] { return eigsh_impl<scalar_t>(apply, n, k, options, tol); });
}

EigshTopk eigsh_topk(const Tensor& A, int64_t k, const EigshOptions& options) {
  check_operator_matrix("eigsh_topk", A, true);
  SG_CHECK(k >= 0 && k <= A.size(0), "eigsh_topk: need 0 <= k <= n, got k=", k, " for A ",
           describe(A));
  return eigsh_topk(matrix_operator(A, false), A.size(0), k, A.dtype(), options);
}

SvdsTopk svds_topk(const LinearOperator& apply, const LinearOperator& apply_transposed, int64_t m,
                   int64_t n, int64_t k, DType dtype, const EigshOptions& options) {
  SG_CHECK(static_cast<bool>(apply) && static_cast<bool>(apply_transposed),
           "svds_topk: an operator is empty");
  SG_CHECK(is_floating(dtype), "svds_topk: expected dtype f32 or f64, got ", dtype_name(dtype));
  SG_CHECK(m >= 0 && n >= 0 && k >= 0 && k <= std::min(m, n),
           "svds_topk: need 0 <= k <= min(m, n), got k=", k, " for a ", m, "x", n, " operator");
  const double tol = default_tol(dtype, options.tol);
  return SG_DISPATCH_FLOAT(dtype, "svds_topk", [&] {
    return svds_impl<scalar_t>(apply, apply_transposed, m, n, k, options, tol);
  });
}

SvdsTopk svds_topk(const Tensor& A, int64_t k, const EigshOptions& options) {
  check_operator_matrix("svds_topk", A, false);
  const int64_t m = A.size(0), n = A.size(1);
  SG_CHECK(k >= 0 && k <= std::min(m, n), "svds_topk: need 0 <= k <= min(m, n), got k=", k,
           " for A ", describe(A));
  return svds_topk(matrix_operator(A, false), matrix_operator(A, true), m, n, k, A.dtype(),
                   options);
}

}  // namespace stackgrad
