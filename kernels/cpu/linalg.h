// Dense and iterative linear algebra on raw row-major pointers.
//
// Every matrix is row-major with a leading dimension (row stride) in elements, so element (i, j)
// of a matrix `a` with leading dimension `lda` is a[i * lda + j]. Kernels never see a Tensor.
// All functions are templates over T in {float, double}, instantiated in linalg.cpp. Dense
// factorizations of small matrices (eigh, qr, svd) copy into double and compute there, so the
// f32 versions are as accurate as their f32 outputs allow; the others work in T and accumulate
// dot products in double. Every failed check throws stackgrad::Error naming the function and
// the sizes. The math and measured accuracy are in docs/kernels/linalg.md.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <type_traits>

namespace stackgrad::kernels {

// The sign (+1 or -1) of the largest-magnitude entry of x[0], x[stride], ...; entries within a
// relative 1e-9 of the largest are ties and the first wins, so that two implementations agreeing
// to rounding choose the same entry. The sign convention of eigenvectors and singular vectors.
inline double leading_sign(int64_t len, const double* x, int64_t stride) {
  double big = 0.0;
  for (int64_t i = 0; i < len; ++i) big = std::max(big, std::abs(x[i * stride]));
  for (int64_t i = 0; i < len; ++i)
    if (std::abs(x[i * stride]) >= big * (1.0 - 1e-9)) return x[i * stride] < 0.0 ? -1.0 : 1.0;
  return 1.0;
}


// ---------------------------------------------------------------------------------------------
// Dense factorizations and solves

// Symmetric eigendecomposition A = V diag(w) Vᵀ of an n x n matrix given by its lower triangle
// (the strict upper triangle of `a` is never read; `a` is left unchanged). Eigenvalues go to w
// in ascending order, eigenvectors to the COLUMNS of v (n x n, leading dimension ldv).
// Algorithm: Householder reduction to tridiagonal form, then implicit symmetric QR steps with
// Wilkinson shifts (Givens bulge chasing), accumulating both transforms; all in double.
// Limits: O(n³) time and O(n²) extra memory (n = 400 takes about 0.3 s); backward stable,
// eigenvalues accurate to about 1e-15 * ||A|| absolute (not relative for tiny eigenvalues).
// Non-finite entries are an error.
template <typename T>
void eigh(int64_t n, T* a, int64_t lda, T* w, T* v, int64_t ldv);

// In-place Cholesky factorization of a symmetric positive definite n x n matrix, read from the
// chosen triangle: upper=false gives A = L Lᵀ with L in the lower triangle, upper=true gives
// A = Uᵀ U with U in the upper triangle. The other triangle is set to zero.
// Algorithm: column-oriented (left-looking) Cholesky, sums in double. Error when a pivot is not
// positive (the matrix is not positive definite to working precision).
template <typename T>
void cholesky(int64_t n, T* a, int64_t lda, bool upper);

// Solves op(A) X = B in place (B is n x nrhs, overwritten by X), where A is n x n triangular
// (only the triangle chosen by `upper` is read), op(A) = Aᵀ when transpose_a, and the diagonal
// is taken as ones without being read when unit_diagonal.
// Algorithm: row-wise forward or back substitution, a row of sums in double. Error on an exact
// zero on the diagonal (checked before B is touched); no condition estimate.
template <typename T>
void solve_triangular(int64_t n, int64_t nrhs, const T* a, int64_t lda, T* b, int64_t ldb,
                      bool upper, bool transpose_a, bool unit_diagonal);

// In-place LU factorization with partial pivoting, P A = L U: the strict lower triangle of `a`
// receives L (unit diagonal implied), the upper triangle U. pivots[k] (length n, 0-based) is
// the row swapped with row k at step k, applied in order k = 0..n-1 (LAPACK's ipiv, 0-based).
// Algorithm: right-looking Gaussian elimination. Error naming the column when no nonzero
// pivot exists (exactly singular); nearly singular matrices factor without warning.
template <typename T>
void lu_factor(int64_t n, T* a, int64_t lda, int64_t* pivots);

// Solves A X = B in place in b (n x nrhs) from the output of lu_factor.
template <typename T>
void lu_solve(int64_t n, int64_t nrhs, const T* lu, int64_t lda, const int64_t* pivots, T* b,
              int64_t ldb);

// Solves A X = B in place in b (n x nrhs) by lu_factor + lu_solve; `a` is overwritten by its LU.
template <typename T>
void solve(int64_t n, int64_t nrhs, T* a, int64_t lda, T* b, int64_t ldb);

// Replaces the n x n matrix `a` by its inverse (LU with partial pivoting, then n solves).
template <typename T>
void inverse(int64_t n, T* a, int64_t lda);

// Householder QR of the m x n matrix A, with k = min(m, n).
//   reduced:  Q is m x k (leading dimension k), R is k x n (leading dimension n).
//   complete: Q is m x m (leading dimension m), R is m x n (leading dimension n).
// Q has orthonormal columns, R is upper triangular (zeros below the diagonal are written) with a
// non-negative diagonal, A = Q R. Pass q = nullptr to compute R only.
// Algorithm: Householder reflections in double, Q formed by backward accumulation. No column
// pivoting, so for rank-deficient A the trailing columns of a reduced Q are still orthonormal
// but R is not rank-revealing.
template <typename T>
void qr(int64_t m, int64_t n, const T* a, int64_t lda, T* q, T* r, bool reduced);

// Singular value decomposition A = U diag(s) Vt of the m x n matrix A, with k = min(m, n).
//   reduced (full_matrices=false): U is m x k, s has k entries, Vt is k x n.
//   full_matrices=true:            U is m x m, s has k entries, Vt is n x n.
// U and Vt are dense (leading dimension = their column count). s is descending and
// non-negative. Columns of U (rows of Vt) that belong to zero singular values, or that complete
// the full bases, are orthonormal completions (Gram-Schmidt against the standard basis). Pass
// u = nullptr and/or vt = nullptr to skip writing them.
// Algorithm: one-sided Jacobi (Hestenes) on A or Aᵀ, whichever is taller, in double (scaled by a
// power of two, so tiny and huge matrices keep their accuracy); cyclic sweeps until every column
// pair is orthogonal to sqrt(rows) * eps. Columns whose norm falls to eps * ||A||_F or below
// (rank deficiency) are left out of the rotations and give singular values of exactly 0.
// Limits: O(sweeps * m n²), meant for small dense matrices (up to a few hundred); singular
// values accurate to about 1e-15 * ||A||. Error if the sweeps do not converge or an entry is not
// finite.
template <typename T>
void svd(int64_t m, int64_t n, const T* a, int64_t lda, T* u, T* s, T* vt,
         bool full_matrices = false);

// ---------------------------------------------------------------------------------------------
// Iterative methods on operators given as callbacks

// y = A x for vectors of the operator's sizes. The callback must overwrite all of y.
template <typename T>
using LinOp = std::function<void(const T* x, T* y)>;

// The same type in a non-deduced context, so that callers can pass lambdas directly and T is
// deduced from the pointer arguments.
template <typename T>
using LinOpArg = std::type_identity_t<LinOp<T>>;

struct CgResult {
  int64_t iterations = 0;      // operator applications after the initial residual
  double residual_norm = 0.0;  // relative recurrence residual ||b - A x|| / ||b|| at exit
  bool converged = false;      // residual_norm <= tol
};

// Preconditioned conjugate gradient for A x = b with A symmetric positive definite (n x n).
// x holds the initial guess on entry and the solution on exit. `preconditioner`, if given,
// applies M⁻¹ (symmetric positive definite). Stops when ||r|| / ||b|| <= tol or after max_iter
// iterations (converged=false then). b = 0 gives x = 0. Error when pᵀAp <= 0 or rᵀM⁻¹r < 0
// (the operator or preconditioner is not positive definite).
// Limits: vectors in T with dot products in double; the residual is the recurrence one, which in
// f32 cannot go much below ~1e-6 relative.
template <typename T>
CgResult conjugate_gradient(int64_t n, const LinOpArg<T>& apply_a, const T* b, T* x, double tol,
                            int64_t max_iter, const LinOpArg<T>* preconditioner = nullptr);

struct EigshResult {
  int64_t iterations = 0;             // restart cycles (outer iterations)
  int64_t operator_applications = 0;  // calls of the operator (of AᵀA or AAᵀ for svds_topk)
  double max_residual = 0.0;          // max over the k pairs of ||A x - θ x|| / max|θ|
  bool converged = false;             // max_residual <= tol
};

// Top-k eigenpairs of a symmetric operator of size n: the k largest algebraic eigenvalues, or
// the k largest in magnitude when largest_magnitude. values (k) is in descending order (of the
// value, or of its magnitude when largest_magnitude); vectors is n x k row-major with the
// orthonormal eigenvectors as columns, each signed so that its largest-magnitude entry is
// positive. Stops when every wanted pair has ||A x - θ x|| <= tol * max|θ| or after max_iter
// restarts; the result says which. Deterministic for a given seed.
// Algorithm: Lanczos with full reorthogonalisation (classical Gram-Schmidt, repeated when it
// loses more than 30% of the norm) and thick restarts keeping the best k + (m - k) / 2 Ritz
// vectors, basis size m = min(n, max(2k + 1, k + 24)); Rayleigh-Ritz on the projected matrix
// with eigh. Start vector from splitmix64 uniforms. Limits: basis of (m + 1) x n doubles;
// tightly clustered wanted eigenvalues need many restarts; f32 operators cannot reach tol much
// below ~1e-6.
template <typename T>
EigshResult eigsh_topk(int64_t n, int64_t k, const LinOpArg<T>& apply_a, T* values, T* vectors,
                       uint64_t seed, double tol, int64_t max_iter, bool largest_magnitude = false);

// Top-k singular triplets of an m x n operator given by apply_a (x in Rⁿ -> y in Rᵐ) and
// apply_at (x in Rᵐ -> y in Rⁿ): A ≈ U diag(S) Vᵀ on those directions. U is m x k, V is n x k
// (row-major, vectors as columns), S (k) descending and non-negative.
// Algorithm: eigsh_topk on the smaller of AᵀA and AAᵀ, then the other side by one application
// of A (or Aᵀ) per vector, divided by σ and re-orthogonalised; vectors of negligible σ
// (σ <= 1e-7 σ_max) are orthonormal completions. tol applies to the Gram operator, so S is
// accurate to about tol * S[0]² / S[i]. Limits: squaring the matrix makes small singular values
// (below ~1e-8 S[0]) inaccurate; for the top few it is the cheapest choice.
template <typename T>
EigshResult svds_topk(int64_t m, int64_t n, int64_t k, const LinOpArg<T>& apply_a,
                      const LinOpArg<T>& apply_at, T* u, T* s, T* v, uint64_t seed, double tol,
                      int64_t max_iter);

}  // namespace stackgrad::kernels
