// Linear algebra on tensors: dense factorizations and solves (kernel ops, with autograd where
// stated) and iterative solvers on linear operators (composite ops, not differentiable).
//
// Dense ops take f32 or f64 matrices in the last two dims; any leading dims are a batch (each
// matrix is factorized independently). solve and solve_triangular broadcast the batch dims of
// A and B. Kernels compute eigh, qr and svd in double; the math is in docs/kernels/linalg.md.
#pragma once

#include <cstdint>
#include <functional>

#include "engine/core/tensor.h"

namespace stackgrad {

// --- dense ---------------------------------------------------------------------------------

struct EighResult {
  Tensor eigenvalues;   // [.., n], ascending
  Tensor eigenvectors;  // [.., n, n], orthonormal columns
};
// Symmetric eigendecomposition A = V diag(w) Vᵀ, reading only the lower triangle of A. Each
// eigenvector is signed so that its largest-magnitude entry (the first, on near-ties) is
// positive. Differentiable in both outputs, assuming distinct eigenvalues (the gradient of the
// eigenvectors divides by eigenvalue gaps); the gradient is symmetric.
EighResult eigh(const Tensor& A);

// Cholesky factor of a symmetric positive definite A: lower L with A = L Lᵀ, or upper U with
// A = Uᵀ U. Reads only the chosen triangle. Error naming the pivot when A is not positive
// definite. Differentiable (symmetric gradient).
Tensor cholesky(const Tensor& A, bool upper = false);

// X with A X = B (left) or X A = B (right) for triangular A [.., n, n] (only the triangle chosen
// by `upper` is read; its diagonal is taken as ones when unit_diagonal). B is [.., n, k] (left)
// or [.., k, n] (right). Error on an exact zero on the diagonal. Differentiable in A and B.
Tensor solve_triangular(const Tensor& A, const Tensor& B, bool upper, bool left = true,
                        bool unit_diagonal = false);

// X with A X = B for square A [.., n, n]; B is a vector [n] (result [.., n]) or matrices
// [.., n, k]. LU with partial pivoting; error when A is exactly singular (no condition
// estimate). Differentiable in A and B.
Tensor solve(const Tensor& A, const Tensor& B);

// A⁻¹ for square A [.., n, n]; error when A is exactly singular. Differentiable.
Tensor inverse(const Tensor& A);

struct QRResult {
  Tensor Q;  // [.., m, k] (reduced) or [.., m, m] (complete), k = min(m, n)
  Tensor R;  // [.., k, n] (reduced) or [.., m, n] (complete), upper triangular, diag(R) >= 0
};
// QR factorization A = Q R (Householder). Not differentiable: an input that requires grad (with
// grad mode on) is an error.
QRResult qr(const Tensor& A, bool reduced = true);

struct SVDResult {
  Tensor U;   // [.., m, k] or [.., m, m] with full_matrices
  Tensor S;   // [.., k], descending, non-negative
  Tensor Vh;  // [.., k, n] or [.., n, n] with full_matrices
};
// Singular value decomposition A = U diag(S) Vh (one-sided Jacobi). Each pair (U column, Vh row)
// is signed so that the U column's largest-magnitude entry is positive. Not differentiable: an
// input that requires grad (with grad mode on) is an error.
SVDResult svd(const Tensor& A, bool full_matrices = false);

// --- iterative, on linear operators ----------------------------------------------------------
// The operator is called with a CPU vector and must return a vector of the right length and
// the same dtype; it runs with grad mode off. The iteration vectors live on the host, so these
// need CPU tensors. The results carry no gradient: a vector argument that requires grad (with
// grad mode on) is an error.

using LinearOperator = std::function<Tensor(const Tensor&)>;

struct CgSolution {
  Tensor x;
  int64_t iterations = 0;      // operator applications after the initial residual
  double residual_norm = 0.0;  // ||b - A x|| / ||b|| (recurrence residual) at exit
  bool converged = false;      // residual_norm <= tol
};
// Conjugate gradient for A x = b with A symmetric positive definite, b [n] (f32 or f64). x0 is
// the initial guess (zeros when undefined). tol < 0 picks 1e-10 (f64) or 1e-5 (f32); max_iter < 0
// picks 10 n. Stops at ||r|| / ||b|| <= tol; error when the operator is not positive definite.
CgSolution cg(const LinearOperator& apply, const Tensor& b, const Tensor& x0 = Tensor(),
              double tol = -1.0, int64_t max_iter = -1);
// The same with A a dense [n, n] or sparse CSR matrix (same dtype as b).
CgSolution cg(const Tensor& A, const Tensor& b, const Tensor& x0 = Tensor(), double tol = -1.0,
              int64_t max_iter = -1);

struct EigshOptions {
  double tol = -1.0;        // residual ||A x - θ x|| <= tol max|θ|; < 0: 1e-10 (f64), 1e-5 (f32)
  int64_t max_iter = 1000;  // restart cycles
  uint64_t seed = 0;        // start vector
  bool largest_magnitude = false;  // eigsh_topk: the k largest |θ| instead of the k largest θ
};

struct EigshTopk {
  Tensor values;   // [k], descending (by magnitude when largest_magnitude)
  Tensor vectors;  // [n, k], orthonormal columns, each with its largest-magnitude entry positive
  int64_t restarts = 0;
  int64_t operator_applications = 0;
  double max_residual = 0.0;
  bool converged = false;
};
// Top-k eigenpairs of a symmetric operator of size n (Lanczos with thick restarts).
EigshTopk eigsh_topk(const LinearOperator& apply, int64_t n, int64_t k, DType dtype = DType::f64,
                     const EigshOptions& options = {});
// The same for a dense symmetric [n, n] or sparse CSR matrix.
EigshTopk eigsh_topk(const Tensor& A, int64_t k, const EigshOptions& options = {});

struct SvdsTopk {
  Tensor U;   // [m, k]
  Tensor S;   // [k], descending, non-negative
  Tensor Vh;  // [k, n]
  int64_t restarts = 0;
  int64_t operator_applications = 0;  // of AᵀA or AAᵀ
  double max_residual = 0.0;
  bool converged = false;
};
// Top-k singular triplets of an m x n operator given by x [n] -> A x [m] and y [m] -> Aᵀ y [n]
// (Lanczos on the smaller Gram operator; tol applies to σ², so small σ lose accuracy). Pairs are
// signed as in svd (each U column's largest-magnitude entry positive).
SvdsTopk svds_topk(const LinearOperator& apply, const LinearOperator& apply_transposed, int64_t m,
                   int64_t n, int64_t k, DType dtype = DType::f64,
                   const EigshOptions& options = {});
// The same for a dense [m, n] or sparse CSR matrix.
SvdsTopk svds_topk(const Tensor& A, int64_t k, const EigshOptions& options = {});

}  // namespace stackgrad
