// OpSpecs of the linalg family. Multi-output ops get one spec per output. Inputs of symmetric
// ops are free matrices that the spec function symmetrises ((X + Xᵀ) / 2, or X Xᵀ + n I for
// positive definite ones), so that gradcheck perturbs only inputs the op accepts.
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;
using Cases = std::function<std::vector<OpCase>(std::mt19937_64&)>;

Tensor mT(const Tensor& x) { return x.transpose(-2, -1); }
// Batched matrix product from broadcasting ops (kept independent of the matmul family; named
// apart from stackgrad::mm, which would make unqualified calls ambiguous).
Tensor bmm_bcast(const Tensor& a, const Tensor& b) {
  return sum(a.unsqueeze(-1) * b.unsqueeze(-3), {-2});
}
Tensor eye_as(const Tensor& x) { return eye(x.size(-1), x.size(-1), Options(x.dtype())); }
Tensor sym(const Tensor& x) { return (x + mT(x)) * 0.5; }
Tensor spd(const Tensor& x) {
  return bmm_bcast(x, mT(x)) + eye_as(x) * static_cast<double>(x.size(-1));
}
// The projector onto the span of columns [from, end) of q (unique even where the columns are not).
Tensor projector(const Tensor& q, int64_t from) {
  Tensor tail = q.narrow(-1, from, q.size(-1) - from);
  return bmm_bcast(tail, mT(tail));
}

// Square matrices [.., n, n] with the given diagonal shift and noise scale: well-conditioned.
Tensor shifted(std::mt19937_64& r, const Shape& s, double shift, double noise) {
  Tensor x = randn_f64(r, s) * noise;
  return s.back() == 0 ? x : x + eye(s.back(), s.back(), DType::f64) * shift;
}
// diag(1, 2, .., n) plus small noise: symmetrised, eigenvalues stay about 1 apart.
Tensor spread_diag(std::mt19937_64& r, const Shape& s) {
  const int64_t n = s.back();
  std::vector<double> d(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) d[i * n + i] = static_cast<double>(i + 1);
  return randn_f64(r, s) * 0.15 + from_vector(d, {n, n}, DType::f64);
}

void spec(const std::string& op, Fn fn, Cases cases, bool differentiable = true,
          double rtol_f32 = 1e-4, double atol_f32 = 1e-5) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  s.rtol_f32 = rtol_f32;
  s.atol_f32 = atol_f32;
  register_op_spec(std::move(s));
}

// One free square matrix per case.
Cases square_cases(std::function<Tensor(std::mt19937_64&, const Shape&)> make) {
  return [make](std::mt19937_64& r) {
    return std::vector<OpCase>{
        {"[4, 4]", {make(r, {4, 4})}},
        {"non-contiguous [5, 5]", {noncontiguous(make(r, {5, 5}))}},
        {"batch [2, 3, 3]", {make(r, {2, 3, 3})}},
        {"1x1", {make(r, {1, 1})}},
        {"zero-size [0, 0]", {make(r, {0, 0})}},
        {"empty batch [0, 3, 3]", {make(r, {0, 3, 3})}},
    };
  };
}

// A square matrix and right-hand sides [.., n, k].
Cases solve_cases(std::function<Tensor(std::mt19937_64&, const Shape&)> make) {
  return [make](std::mt19937_64& r) {
    return std::vector<OpCase>{
        {"[4, 4] x [4, 3]", {make(r, {4, 4}), randn_f64(r, {4, 3})}},
        {"non-contiguous", {noncontiguous(make(r, {5, 5})), noncontiguous(randn_f64(r, {5, 2}))}},
        {"broadcast [3, 3] x [2, 3, 2]", {make(r, {3, 3}), randn_f64(r, {2, 3, 2})}},
        {"broadcast [2, 1, 3, 3] x [3, 3, 1]", {make(r, {2, 1, 3, 3}), randn_f64(r, {3, 3, 1})}},
        {"zero-size [0, 0] x [0, 2]", {make(r, {0, 0}), randn_f64(r, {0, 2})}},
        {"no right-hand sides [3, 3] x [3, 0]", {make(r, {3, 3}), randn_f64(r, {3, 0})}},
    };
  };
}

// General m x n matrices (full rank with probability one).
std::vector<OpCase> rect_cases(std::mt19937_64& r) {
  return {
      {"tall [5, 3]", {randn_f64(r, {5, 3})}},
      {"wide [3, 5]", {randn_f64(r, {3, 5})}},
      {"square [4, 4]", {randn_f64(r, {4, 4})}},
      {"non-contiguous [6, 4]", {noncontiguous(randn_f64(r, {6, 4}))}},
      {"batch [2, 4, 3]", {randn_f64(r, {2, 4, 3})}},
      {"zero-size [0, 3]", {randn_f64(r, {0, 3})}},
      {"zero-size [3, 0]", {randn_f64(r, {3, 0})}},
  };
}

Tensor leading_columns(const Tensor& q, int64_t k) { return q.narrow(-1, 0, k); }
int64_t min_dim(const Tensor& a) { return std::min(a.size(-2), a.size(-1)); }

// Iterative solvers: tight tolerances in f64 so both backends agree to rounding.
double iter_tol(const Tensor& x) { return x.dtype() == DType::f64 ? 1e-13 : 1e-6; }
EigshOptions eig_options(const Tensor& x) {
  EigshOptions o;
  o.tol = x.dtype() == DType::f64 ? 1e-13 : -1.0;
  o.seed = 3;
  return o;
}

std::vector<OpCase> eigsh_cases(std::mt19937_64& r) {
  return {
      {"n=12 (one Krylov space)", {spread_diag(r, {12, 12})}},
      {"n=40 (restarted)", {spread_diag(r, {40, 40})}},
      {"non-contiguous n=10", {noncontiguous(spread_diag(r, {10, 10}))}},
      {"zero-size n=0", {randn_f64(r, {0, 0})}},
  };
}
int64_t eigsh_k(const Tensor& a) { return std::min<int64_t>(3, a.size(0)); }

std::vector<OpCase> svds_cases(std::mt19937_64& r) {
  return {
      {"tall [8, 5]", {randn_f64(r, {8, 5})}},
      {"wide [5, 9]", {randn_f64(r, {5, 9})}},
      {"restarted [30, 40]", {randn_f64(r, {30, 40})}},
      {"non-contiguous [7, 6]", {noncontiguous(randn_f64(r, {7, 6}))}},
      {"zero-size [0, 4]", {randn_f64(r, {0, 4})}},
  };
}
int64_t svds_k(const Tensor& a) { return std::min<int64_t>(3, min_dim(a)); }

const bool registered = [] {
  // eigh: inputs symmetrised; eigenvalues about 1 apart so eigenvector gradients are tame.
  spec(
      "eigh", [](const Inputs& x) { return eigh(sym(x[0])).eigenvalues; },
      square_cases(spread_diag));
  spec(
      "eigh", [](const Inputs& x) { return eigh(sym(x[0])).eigenvectors; },
      square_cases(spread_diag));

  // cholesky of X Xᵀ + n I.
  auto normal = [](std::mt19937_64& r, const Shape& s) { return randn_f64(r, s); };
  spec(
      "cholesky", [](const Inputs& x) { return cholesky(spd(x[0])); }, square_cases(normal));
  spec(
      "cholesky", [](const Inputs& x) { return cholesky(spd(x[0]), /*upper=*/true); },
      square_cases(normal));

  // Triangular solves read one triangle of a general matrix with a diagonal near 1.5.
  auto triangular = [](std::mt19937_64& r, const Shape& s) { return shifted(r, s, 1.5, 0.3); };
  spec(
      "solve_triangular", [](const Inputs& x) { return solve_triangular(x[0], x[1], false); },
      solve_cases(triangular));
  spec(
      "solve_triangular", [](const Inputs& x) { return solve_triangular(x[0], x[1], true); },
      solve_cases(triangular));
  spec(
      "solve_triangular",
      [](const Inputs& x) { return solve_triangular(x[0], x[1], false, true, /*unit=*/true); },
      solve_cases(triangular));
  // left=false: X A = B with B [.., k, n].
  spec(
      "solve_triangular",
      [](const Inputs& x) { return solve_triangular(x[0], mT(x[1]), true, /*left=*/false); },
      solve_cases(triangular));

  // solve and inverse on well-conditioned general matrices.
  auto general = [](std::mt19937_64& r, const Shape& s) { return shifted(r, s, 2.5, 0.6); };
  spec(
      "solve", [](const Inputs& x) { return solve(x[0], x[1]); }, solve_cases(general));
  spec(
      "solve", [](const Inputs& x) { return solve(x[0], x[1].select(-1, 0)); },
      [general](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"vector [4]", {general(r, {4, 4}), randn_f64(r, {4, 1})}},
            {"batch of A, one vector", {general(r, {2, 3, 3}), randn_f64(r, {3, 1})}},
            {"zero-size", {general(r, {0, 0}), randn_f64(r, {0, 1})}},
        };
      });
  spec(
      "inverse", [](const Inputs& x) { return inverse(x[0]); }, square_cases(general));

  // qr and svd: not differentiable. Columns that are not unique (the completion of a complete Q
  // or of full U / Vh) are compared through their projector.
  spec(
      "qr", [](const Inputs& x) { return qr(x[0]).Q; }, rect_cases, false);
  spec(
      "qr", [](const Inputs& x) { return qr(x[0]).R; }, rect_cases, false);
  spec(
      "qr", [](const Inputs& x) { return qr(x[0], false).R; }, rect_cases, false);
  spec(
      "qr", [](const Inputs& x) { return leading_columns(qr(x[0], false).Q, min_dim(x[0])); },
      rect_cases, false);
  spec(
      "qr", [](const Inputs& x) { return projector(qr(x[0], false).Q, min_dim(x[0])); }, rect_cases,
      false);
  spec(
      "svd", [](const Inputs& x) { return svd(x[0]).S; }, rect_cases, false);
  spec(
      "svd", [](const Inputs& x) { return svd(x[0]).U; }, rect_cases, false);
  spec(
      "svd", [](const Inputs& x) { return svd(x[0]).Vh; }, rect_cases, false);
  spec(
      "svd", [](const Inputs& x) { return svd(x[0], true).S; }, rect_cases, false);
  spec(
      "svd", [](const Inputs& x) { return leading_columns(svd(x[0], true).U, min_dim(x[0])); },
      rect_cases, false);
  spec(
      "svd", [](const Inputs& x) { return projector(svd(x[0], true).U, min_dim(x[0])); },
      rect_cases, false);
  spec(
      "svd", [](const Inputs& x) { return projector(mT(svd(x[0], true).Vh), min_dim(x[0])); },
      rect_cases, false);

  // Iterative solvers: the operator is built from engine ops, so the reference run applies it
  // with the reference kernels. Loose f32 tolerances: both runs stop at a residual near 1e-6.
  spec(
      "cg",
      [](const Inputs& x) { return cg(spd(x[0]) * 0.25, x[1], Tensor(), iter_tol(x[1]), 200).x; },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"n=6", {randn_f64(r, {6, 6}), randn_f64(r, {6})}},
            {"n=30", {randn_f64(r, {30, 30}), randn_f64(r, {30})}},
            {"non-contiguous",
             {noncontiguous(randn_f64(r, {8, 8})), noncontiguous(randn_f64(r, {8}))}},
            {"zero-size", {randn_f64(r, {0, 0}), randn_f64(r, {0})}},
        };
      },
      false, 1e-3, 1e-4);
  spec(
      "cg",
      [](const Inputs& x) {
        // A matrix-free operator: x -> 3x - shift(x) - shift⁻¹(x) + x (a shifted path Laplacian).
        auto op = [](const Tensor& v) {
          const int64_t n = v.size(0);
          Tensor out = v * 3.0;
          if (n > 1) {
            Tensor up = zeros_like(v), down = zeros_like(v);
            up.narrow(0, 0, n - 1).copy_(v.narrow(0, 1, n - 1));
            down.narrow(0, 1, n - 1).copy_(v.narrow(0, 0, n - 1));
            out = out - up - down;
          }
          return out;
        };
        return cg(op, x[0], Tensor(), iter_tol(x[0]), 500).x;
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{{"n=50", {randn_f64(r, {50})}}, {"n=1", {randn_f64(r, {1})}}};
      },
      false, 1e-3, 1e-4);

  spec(
      "eigsh_topk",
      [](const Inputs& x) {
        return eigsh_topk(sym(x[0]), eigsh_k(x[0]), eig_options(x[0])).values;
      },
      eigsh_cases, false, 1e-4, 1e-4);
  spec(
      "eigsh_topk",
      [](const Inputs& x) {
        return eigsh_topk(sym(x[0]), eigsh_k(x[0]), eig_options(x[0])).vectors;
      },
      eigsh_cases, false, 1e-3, 1e-3);
  spec(
      "eigsh_topk",
      [](const Inputs& x) {
        EigshOptions o = eig_options(x[0]);
        o.largest_magnitude = true;
        return eigsh_topk(sym(x[0]) - 5.3, eigsh_k(x[0]), o).values;
      },
      eigsh_cases, false, 1e-4, 1e-4);

  spec(
      "svds_topk",
      [](const Inputs& x) { return svds_topk(x[0], svds_k(x[0]), eig_options(x[0])).S; },
      svds_cases, false, 1e-4, 1e-4);
  spec(
      "svds_topk",
      [](const Inputs& x) { return svds_topk(x[0], svds_k(x[0]), eig_options(x[0])).U; },
      svds_cases, false, 1e-3, 1e-3);
  spec(
      "svds_topk",
      [](const Inputs& x) { return svds_topk(x[0], svds_k(x[0]), eig_options(x[0])).Vh; },
      svds_cases, false, 1e-3, 1e-3);
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
