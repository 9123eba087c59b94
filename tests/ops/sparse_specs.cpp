// OpSpecs of the sparse family.
//
// The harness casts and perturbs only dense inputs, so a case passes the sparsity pattern as a
// CSR tensor (which it leaves alone) and, where the values are differentiated, the values as a
// dense [nnz] input; the spec's fn rebuilds the CSR with csr_with_values. Where only the dense
// operand is differentiated, fn casts the pattern's own values to the operand's dtype.
#include <gtest/gtest.h>

#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Rng = std::mt19937_64;

// A random CSR pattern with standard normal f64 values: each entry is present with probability
// `density`, rows in `empty` have none and rows in `full` have every column.
Tensor random_csr(Rng& r, int64_t rows, int64_t cols, double density,
                  const std::vector<int64_t>& empty = {}, const std::vector<int64_t>& full = {}) {
  std::bernoulli_distribution keep(density);
  std::normal_distribution<double> normal;
  std::vector<int64_t> crow{0}, col;
  std::vector<double> val;
  auto in = [](const std::vector<int64_t>& v, int64_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      if (in(empty, i) || !(in(full, i) || keep(r))) continue;
      col.push_back(j);
      val.push_back(normal(r));
    }
    crow.push_back(static_cast<int64_t>(col.size()));
  }
  return sparse_csr(from_vector(crow), from_vector(col), from_vector(val), {rows, cols});
}

// A power-law-like pattern: a few hub rows hold most nonzeros.
Tensor skewed_csr(Rng& r, int64_t rows, int64_t cols) {
  return random_csr(r, rows, cols, 0.03, {1, 2, rows / 2}, {0, rows / 3, rows - 1});
}

// The pattern with its values cast to `dtype` (pattern-only operands in forward tests).
Tensor with_dtype(const Tensor& A, DType dtype) {
  return csr_with_values(A, csr_values(A).to(dtype));
}

Tensor values_for(Rng& r, const Tensor& P) { return randn_f64(r, {nnz(P)}); }
Tensor positive_values_for(Rng& r, const Tensor& P) { return uniform_f64(r, {nnz(P)}, 0.5, 2.0); }

// The CSR shapes every family of cases covers: empty rows, a zero-nnz matrix, a 1x1, a hub-heavy
// pattern and a matrix without rows.
struct Pattern {
  std::string label;
  Tensor P;
};

std::vector<Pattern> patterns(Rng& r, bool square) {
  std::vector<Pattern> v;
  if (square) {
    v.push_back({"random [6, 6]", random_csr(r, 6, 6, 0.4, {2})});
    v.push_back({"empty rows [5, 5]", random_csr(r, 5, 5, 0.5, {0, 3, 4})});
    v.push_back({"a full row [4, 4]", random_csr(r, 4, 4, 0.3, {}, {1})});
    v.push_back({"skewed [24, 24]", skewed_csr(r, 24, 24)});
  } else {
    v.push_back({"random [5, 7]", random_csr(r, 5, 7, 0.4, {2})});
    v.push_back({"empty rows [6, 4]", random_csr(r, 6, 4, 0.5, {0, 3, 5})});
    v.push_back({"skewed [30, 20]", skewed_csr(r, 30, 20)});
  }
  v.push_back({"1x1", random_csr(r, 1, 1, 1.0)});
  v.push_back({"zero nnz", random_csr(r, 3, square ? 3 : 4, 0.0)});
  if (!square) v.push_back({"no rows [0, 3]", random_csr(r, 0, 3, 0.5)});
  return v;
}

// --- spmm / spmv -------------------------------------------------------------------------------

std::vector<OpCase> spmm_value_cases(Rng& r) {
  std::vector<OpCase> cases;
  for (auto& [label, P] : patterns(r, false))
    cases.push_back({label, {P, values_for(r, P), randn_f64(r, {P.size(1), 3})}});
  Tensor P = random_csr(r, 4, 6, 0.5, {1});
  cases.push_back({"non-contiguous X and values",
                   {P, noncontiguous(values_for(r, P)), noncontiguous(randn_f64(r, {6, 4}))}});
  cases.push_back({"wide N = 300 (two tiles)", {P, values_for(r, P), randn_f64(r, {6, 300})}});
  // f32: register tiles of 64 and 16 columns and a tail of 3; f64: 32 (twice), 16 and 3.
  cases.push_back(
      {"N = 83 (register tiles and a tail)", {P, values_for(r, P), randn_f64(r, {6, 83})}});
  cases.push_back({"N = 1", {P, values_for(r, P), randn_f64(r, {6, 1})}});
  cases.push_back({"zero-size N = 0", {P, values_for(r, P), randn_f64(r, {6, 0})}});
  return cases;
}

std::vector<OpCase> spmm_dense_cases(Rng& r) {
  std::vector<OpCase> cases;
  for (auto& [label, P] : patterns(r, false))
    cases.push_back({label, {P, randn_f64(r, {P.size(1), 2})}});
  cases.push_back({"K = 0 [3, 0] x [0, 2]", {random_csr(r, 3, 0, 0.5), randn_f64(r, {0, 2})}});
  return cases;
}

// Sizes where the CPU kernels split the work over several parts (forward only).
std::vector<OpCase> spmm_large_cases(Rng& r) {
  Tensor P = skewed_csr(r, 700, 500);
  return {{"skewed [700, 500] x [500, 64]", {P, randn_f64(r, {500, 64})}},
          {"skewed, non-contiguous X", {P, noncontiguous(randn_f64(r, {500, 48}))}},
          {"skewed, N = 1", {P, randn_f64(r, {500, 1})}},
          // Cora-like rows (about 4 nonzeros): f32 sums stay within the tolerance.
          {"sparse [60, 40] x [40, 1433] (22 tiles of 64, then 16, 8, 1)",
           {random_csr(r, 60, 40, 0.1), randn_f64(r, {40, 1433})}}};
}

// A hub row of 1100 nonzeros among rows of about 11: long enough (>= 1024, > 32x the average)
// for the merge-path version on the GPU, which splits the hub over several parts.
std::vector<OpCase> spmm_hub_cases(Rng& r) {
  Tensor P = random_csr(r, 200, 1100, 0.01, {3}, {57});
  return {{"hub row [200, 1100] x [1100, 40]", {P, randn_f64(r, {1100, 40})}},
          {"hub row, non-contiguous X, N = 5", {P, noncontiguous(randn_f64(r, {1100, 5}))}},
          {"hub row, N = 256", {P, randn_f64(r, {1100, 256})}}};
}

std::vector<OpCase> spmv_cases(Rng& r) {
  std::vector<OpCase> cases;
  for (auto& [label, P] : patterns(r, false))
    cases.push_back({label, {P, values_for(r, P), randn_f64(r, {P.size(1)})}});
  Tensor P = random_csr(r, 5, 8, 0.4);
  cases.push_back({"non-contiguous x", {P, values_for(r, P), noncontiguous(randn_f64(r, {8}))}});
  return cases;
}

// --- sddmm -------------------------------------------------------------------------------------

std::vector<OpCase> sddmm_scaled_cases(Rng& r) {
  std::vector<OpCase> cases;
  for (auto& [label, P] : patterns(r, false))
    cases.push_back(
        {label, {P, values_for(r, P), randn_f64(r, {P.size(0), 3}), randn_f64(r, {P.size(1), 3})}});
  Tensor P = random_csr(r, 5, 6, 0.5);
  cases.push_back({"D = 19 (lanes and tail)",
                   {P, values_for(r, P), randn_f64(r, {5, 19}), randn_f64(r, {6, 19})}});
  cases.push_back({"non-contiguous",
                   {P, noncontiguous(values_for(r, P)), noncontiguous(randn_f64(r, {5, 4})),
                    noncontiguous(randn_f64(r, {6, 4}))}});
  return cases;
}

std::vector<OpCase> sddmm_pattern_cases(Rng& r) {
  std::vector<OpCase> cases;
  for (auto& [label, P] : patterns(r, false))
    cases.push_back({label, {P, randn_f64(r, {P.size(0), 4}), randn_f64(r, {P.size(1), 4})}});
  Tensor P = random_csr(r, 3, 4, 0.6);
  cases.push_back({"zero-size D = 0", {P, randn_f64(r, {3, 0}), randn_f64(r, {4, 0})}});
  return cases;
}

std::vector<OpCase> sddmm_large_cases(Rng& r) {
  Tensor P = skewed_csr(r, 700, 500);
  return {{"skewed [700, 500], D = 32", {P, randn_f64(r, {700, 32}), randn_f64(r, {500, 32})}},
          {"skewed, non-contiguous",
           {P, noncontiguous(randn_f64(r, {700, 16})), noncontiguous(randn_f64(r, {500, 16}))}}};
}

// --- values of one CSR
// ----------------------------------------------------------------------------

std::vector<OpCase> pattern_value_cases(Rng& r, bool square, bool positive) {
  std::vector<OpCase> cases;
  for (auto& [label, P] : patterns(r, square))
    cases.push_back({label, {P, positive ? positive_values_for(r, P) : values_for(r, P)}});
  Tensor P = random_csr(r, square ? 5 : 4, square ? 5 : 7, 0.5);
  Tensor v = positive ? positive_values_for(r, P) : values_for(r, P);
  cases.push_back({"non-contiguous values", {P, noncontiguous(v)}});
  return cases;
}

std::vector<OpCase> transpose_large_cases(Rng& r) {
  Tensor P = random_csr(r, 400, 300, 0.6, {7}, {0});  // enough nonzeros for a parallel sort
  return {{"[400, 300], 72k nonzeros", {P, values_for(r, P)}}};
}

std::vector<OpCase> mask_cases(Rng& r) {
  std::vector<OpCase> cases;
  for (auto& [label, P] : patterns(r, false))
    cases.push_back({label, {P, randn_f64(r, P.shape())}});
  Tensor P = random_csr(r, 5, 6, 0.5);
  cases.push_back({"non-contiguous x", {P, noncontiguous(randn_f64(r, {5, 6}))}});
  return cases;
}

// --- construction
// ----------------------------------------------------------------------------------

std::vector<OpCase> coo_cases(Rng& r) {
  auto idx = [](std::vector<int64_t> v) { return from_vector(v); };
  auto shape = [&](int64_t a, int64_t b) { return idx({a, b}); };
  return {
      {"unsorted with duplicates [4, 5]",
       {idx({3, 0, 1, 3, 0, 2, 0, 3}), idx({1, 4, 2, 1, 0, 2, 4, 0}), randn_f64(r, {8}),
        shape(4, 5)}},
      {"1x1, three copies", {idx({0, 0, 0}), idx({0, 0, 0}), randn_f64(r, {3}), shape(1, 1)}},
      {"non-contiguous values",
       {idx({1, 1, 0}), idx({2, 0, 1}), noncontiguous(randn_f64(r, {3})), shape(2, 3)}},
      {"no entries [3, 2]", {idx({}), idx({}), randn_f64(r, {0}), shape(3, 2)}},
  };
}

Tensor from_coo_fn(const Inputs& x) {
  auto s = x[3].to_vector<int64_t>();
  return to_dense(sparse_csr_from_coo(x[0], x[1], x[2], {s[0], s[1]}));
}

// Dense matrices with exact zeros; the zeros come from a constant 0/1 mask so that perturbing x
// never moves them off zero (the pattern gets no gradient).
std::vector<OpCase> dense_to_csr_cases(Rng& r) {
  auto mask = [&](const Shape& s) { return randint_t(r, s, 0, 2, DType::f64); };
  return {
      {"half zeros [5, 6]", {randn_f64(r, {5, 6}), mask({5, 6})}},
      {"all zeros [3, 4]", {randn_f64(r, {3, 4}), zeros({3, 4}, DType::f64)}},
      {"1x1", {randn_f64(r, {1, 1}), ones({1, 1}, DType::f64)}},
      {"non-contiguous", {noncontiguous(randn_f64(r, {4, 5})), noncontiguous(mask({4, 5}))}},
      {"zero-size [0, 3]", {randn_f64(r, {0, 3}), mask({0, 3})}},
  };
}

// --- registration
// ----------------------------------------------------------------------------------

void spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
          std::function<std::vector<OpCase>(Rng&)> cases, bool differentiable = true,
          std::vector<int> grad_inputs = {}) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  s.grad_inputs = std::move(grad_inputs);
  register_op_spec(std::move(s));
}

// CSR from the pattern input 0 and the values input 1.
Tensor A_of(const Inputs& x) { return csr_with_values(x[0], x[1]); }

const bool registered = [] {
  spec(
      "spmm", [](const Inputs& x) { return spmm(A_of(x), x[2]); }, spmm_value_cases);
  spec(
      "spmm", [](const Inputs& x) { return spmm(with_dtype(x[0], x[1].dtype()), x[1]); },
      spmm_dense_cases);
  spec(
      "spmm", [](const Inputs& x) { return spmm(with_dtype(x[0], x[1].dtype()), x[1]); },
      spmm_large_cases, false);
  {
    // f32 sums of 1100 products in another order: a looser absolute tolerance near zero.
    OpSpec s;
    s.op = "spmm";
    s.fn = [](const Inputs& x) { return spmm(with_dtype(x[0], x[1].dtype()), x[1]); };
    s.cases = spmm_hub_cases;
    s.differentiable = false;
    s.atol_f32 = 1e-4;
    register_op_spec(std::move(s));
  }
  spec(
      "spmv", [](const Inputs& x) { return spmv(A_of(x), x[2]); }, spmv_cases);

  spec(
      "sddmm", [](const Inputs& x) { return csr_values(sddmm(A_of(x), x[2], x[3], true)); },
      sddmm_scaled_cases);
  spec(
      "sddmm", [](const Inputs& x) { return csr_values(sddmm(x[0], x[1], x[2])); },
      sddmm_pattern_cases);
  spec(
      "sddmm", [](const Inputs& x) { return csr_values(sddmm(x[0], x[1], x[2])); },
      sddmm_large_cases, false);

  auto on_values = [](Tensor (*op)(const Tensor&)) {
    return [op](const Inputs& x) { return to_dense(op(A_of(x))); };
  };
  auto values_cases = [](bool square, bool positive) {
    return [square, positive](Rng& r) { return pattern_value_cases(r, square, positive); };
  };
  spec("sparse_transpose", on_values(sparse_transpose), values_cases(false, false));
  spec("sparse_transpose", on_values(sparse_transpose), transpose_large_cases, false);
  spec(
      "to_dense", [](const Inputs& x) { return to_dense(A_of(x)); }, values_cases(false, false));
  spec(
      "sparse_mask", [](const Inputs& x) { return csr_values(sparse_mask(x[1], x[0])); },
      mask_cases);

  spec("sparse_csr_from_coo", from_coo_fn, coo_cases);
  spec("dense_to_csr", [](const Inputs& x) { return to_dense(dense_to_csr(x[0] * x[1])); },
       dense_to_csr_cases, true, {0});

  spec(
      "add_self_loops", [](const Inputs& x) { return to_dense(add_self_loops(A_of(x), 1.5)); },
      values_cases(true, false));
  spec("sym_normalize", on_values(sym_normalize), values_cases(true, true));
  spec("row_normalize", on_values(row_normalize), values_cases(false, true));
  spec("column_normalize", on_values(column_normalize), values_cases(false, true));
  spec("gcn_norm", on_values(gcn_norm), values_cases(true, true));
  spec("rw_norm", on_values(rw_norm), values_cases(true, true));
  return true;
}();

// spmm's backward reuses a cached transpose of the pattern and of the last values: it must
// follow in-place writes to the values and new values on a shared pattern.
TEST(SpmmBackward, CachedTransposeFollowsTheValues) {
  Rng r(11);
  Tensor A = with_dtype(skewed_csr(r, 30, 20), DType::f64);
  Tensor X = randn_f64(r, {20, 5}).requires_grad_(), G = randn_f64(r, {30, 5});
  auto grad_of_x = [&](const Tensor& M) {
    X.zero_grad();
    spmm(M, X).backward(G);
    return X.grad();
  };
  auto expected = [&](const Tensor& M) { return matmul(to_dense(M).t(), G); };
  EXPECT_TRUE(allclose(grad_of_x(A), expected(A), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(grad_of_x(A), expected(A), 1e-12, 1e-12));  // from the cache
  {
    NoGradGuard no_grad;
    csr_values(A).mul_(3.0);
  }
  EXPECT_TRUE(allclose(grad_of_x(A), expected(A), 1e-12, 1e-12));
  Tensor B = csr_with_values(A, randn_f64(r, {nnz(A)}));
  EXPECT_TRUE(allclose(grad_of_x(B), expected(B), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(grad_of_x(A), expected(A), 1e-12, 1e-12));
}

}  // namespace
}  // namespace stackgrad::testing
