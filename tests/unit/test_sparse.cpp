// Sparse CSR semantics: construction from COO and edge lists, normalisations against their dense
// formulas, transposes, products against dense arithmetic (values and gradients), the autograd
// contract of the values, and thread-count independence of the CPU kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "engine/runtime/cuda_context.h"
#include "engine/stackgrad.h"

namespace sg = stackgrad;
using sg::DType;
using sg::Tensor;

namespace {

Tensor idx(std::vector<int64_t> v) { return sg::from_vector(v); }
Tensor f64(std::vector<double> v, sg::Shape s) { return sg::from_vector(v, s); }
Tensor f64(std::vector<double> v) { return sg::from_vector(v); }

// Dense A X by broadcasting: sum_k A[i, k] X[k, j].
Tensor dense_matmul(const Tensor& a, const Tensor& x) {
  return sg::sum(a.unsqueeze(2) * x.unsqueeze(0), {1});
}

// 1/d (or 1/sqrt d) where d > 0, else 0: the dense statement of the normalisations.
Tensor dense_inverse(const Tensor& d, bool sqrt) {
  Tensor safe = sg::where(d > 0.0, d, sg::scalar_like(1.0, d));
  Tensor inv = sqrt ? sg::rsqrt(safe) : 1.0 / safe;
  return sg::where(d > 0.0, inv, sg::scalar_like(0.0, d));
}

// A random CSR with standard normal values; rows in `empty` get no nonzeros.
Tensor random_csr(std::mt19937_64& r, int64_t rows, int64_t cols, double density,
                  std::vector<int64_t> empty = {}, DType dtype = DType::f64) {
  std::bernoulli_distribution keep(density);
  std::normal_distribution<double> normal;
  std::vector<int64_t> crow{0}, col;
  std::vector<double> val;
  for (int64_t i = 0; i < rows; ++i) {
    bool skip = std::find(empty.begin(), empty.end(), i) != empty.end();
    for (int64_t j = 0; j < cols && !skip; ++j)
      if (keep(r)) {
        col.push_back(j);
        val.push_back(normal(r));
      }
    crow.push_back(static_cast<int64_t>(col.size()));
  }
  return sg::sparse_csr(idx(crow), idx(col), sg::from_vector(val).to(dtype), {rows, cols});
}

// The small test graph: 0-1, 1-2, 2-0, 2-3, and node 4 isolated.
Tensor small_graph() {
  return sg::from_edge_list(idx({0, 1, 2, 2}), idx({1, 2, 0, 3}), 5, Tensor(), true, DType::f64);
}

void expect_close(const Tensor& a, const Tensor& b, double tol = 1e-12) {
  EXPECT_TRUE(sg::allclose(a, b, tol, tol)) << "got\n" << a << "\nexpected\n" << b;
}

// --- layout ----------------------------------------------------------------------------------

TEST(SparseCsr, LayoutDtypeDeviceAndDescribe) {
  Tensor A =
      sg::sparse_csr(idx({0, 1, 1, 3}), idx({2, 0, 3}), sg::from_vector<float>({1, 2, 3}), {3, 4});
  EXPECT_TRUE(A.is_sparse());
  EXPECT_EQ(A.dtype(), DType::f32);
  EXPECT_TRUE(A.device().is_cpu());
  EXPECT_EQ(A.shape(), (sg::Shape{3, 4}));
  EXPECT_EQ(sg::nnz(A), 3);
  EXPECT_EQ(sg::describe(A), "f32[3, 4] sparse_csr on cpu");
  EXPECT_EQ(A.storage(), sg::csr_values(A).storage());
  EXPECT_EQ(sg::csr_crow(A).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 3}));
  expect_close(sg::to_dense(A),
               sg::from_vector<float>({0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 3}, {3, 4}));
}

// to(Device) moves row pointers, columns and values together, differentiably in the values.
// Without a GPU the move must fail the way a dense one does.
TEST(SparseCsr, ToDeviceMovesAllComponents) {
  std::mt19937_64 r(3);
  Tensor P = random_csr(r, 6, 5, 0.4, {2});
  Tensor v = sg::csr_values(P).detach().clone().requires_grad_();
  Tensor A = sg::csr_with_values(P, v);
  EXPECT_TRUE(A.to(sg::Device::cpu()).is_sparse());
  if (!sg::cuda_available()) {
    try {
      A.to(sg::Device::cuda(0));
      ADD_FAILURE() << "no error without a GPU";
    } catch (const sg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("cuda:0 requested but"), std::string::npos) << e.what();
    }
    return;
  }
  Tensor B = A.to(sg::Device::cuda(0));
  EXPECT_TRUE(B.is_sparse());
  EXPECT_TRUE(B.requires_grad());
  EXPECT_TRUE(sg::csr_crow(B).device().is_cuda());
  EXPECT_TRUE(sg::csr_col(B).device().is_cuda());
  EXPECT_TRUE(sg::csr_values(B).device().is_cuda());
  EXPECT_EQ(sg::csr_col(B).to_vector<int64_t>(), sg::csr_col(A).to_vector<int64_t>());
  Tensor back = B.to(sg::Device::cpu());
  expect_close(sg::to_dense(back), sg::to_dense(A));
  sg::Generator gen(1);
  Tensor w = sg::randn({6, 5}, gen, DType::f64);
  sg::sum(sg::to_dense(B) * w.to(sg::Device::cuda(0))).backward();
  expect_close(v.grad(), sg::csr_values(sg::sparse_mask(w, P)));
}

TEST(SparseCsr, DenseOpsRejectSparseInputs) {
  Tensor A = small_graph();
  EXPECT_THROW(sg::exp(A), sg::Error);
  EXPECT_THROW(sg::sum(A), sg::Error);
  EXPECT_THROW(A.contiguous(), sg::Error);
}

// --- construction ----------------------------------------------------------------------------

TEST(SparseCsr, CooSumsDuplicatesAndSortsColumns) {
  Tensor A = sg::sparse_csr_from_coo(idx({2, 0, 2, 1, 0, 2}), idx({1, 3, 1, 0, 3, 0}),
                                     f64({1, 2, 3, 4, 5, 6}), {3, 4});
  EXPECT_EQ(sg::csr_crow(A).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 4}));
  EXPECT_EQ(sg::csr_col(A).to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 0, 1}));
  EXPECT_EQ(sg::csr_values(A).to_vector<double>(), (std::vector<double>{7, 4, 6, 4}));
}

TEST(SparseCsr, CooValuesAreDifferentiable) {
  Tensor v = f64({1, 2, 3, 4}).requires_grad_();
  Tensor A = sg::sparse_csr_from_coo(idx({1, 0, 1, 1}), idx({2, 0, 2, 1}), v, {2, 3});
  EXPECT_TRUE(A.requires_grad());
  Tensor w = f64({10, 20, 30, 40, 50, 60}, {2, 3});
  sg::sum(sg::to_dense(A) * w).backward();
  // Each COO entry receives the weight of the position it was summed into.
  EXPECT_EQ(v.grad().to_vector<double>(), (std::vector<double>{60, 10, 60, 50}));
}

TEST(SparseCsr, SymmetricEdgeListIsBinaryWithoutWeights) {
  // (0, 1) listed twice and also as (1, 0); a self-loop at 2; node 3 isolated.
  Tensor A =
      sg::from_edge_list(idx({0, 0, 1, 2, 2}), idx({1, 1, 0, 2, 1}), 4, Tensor(), true, DType::f64);
  Tensor expected = f64({0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0}, {4, 4});
  expect_close(sg::to_dense(A), expected);
  expect_close(sg::to_dense(sg::sparse_transpose(A)), expected);
}

TEST(SparseCsr, WeightedEdgeListSumsDuplicatesAndMirrors) {
  Tensor w = f64({1, 2, 4, 8}).requires_grad_();
  // 0->1 twice, 1->0 once, self-loop 2->2 (mirrored once only).
  Tensor A = sg::from_edge_list(idx({0, 0, 1, 2}), idx({1, 1, 0, 2}), 3, w, true);
  EXPECT_EQ(A.dtype(), DType::f64);
  expect_close(sg::to_dense(A), f64({0, 7, 0, 7, 0, 0, 0, 0, 8}, {3, 3}));
  Tensor directed = sg::from_edge_list(idx({0, 0, 1, 2}), idx({1, 1, 0, 2}), 3, w);
  expect_close(sg::to_dense(directed), f64({0, 3, 0, 4, 0, 0, 0, 0, 8}, {3, 3}));
  sg::sum(sg::to_dense(A)).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{2, 2, 2, 1}));
}

TEST(SparseCsr, DenseToCsrKeepsNonzerosIncludingNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = f64({0, 1.5, 0, nan, 0, 0, -0.0, 2}, {2, 4});
  Tensor A = sg::dense_to_csr(x);
  EXPECT_EQ(sg::csr_crow(A).to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(sg::csr_col(A).to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 3}));
  expect_close(sg::to_dense(A), x);  // allclose treats NaNs as equal
}

TEST(SparseCsr, AddSelfLoopsSumsOntoExistingDiagonal) {
  // Row 0 has its diagonal, row 1 lacks it, row 2 is empty.
  Tensor A = sg::sparse_csr(idx({0, 2, 4, 4}), idx({0, 2, 0, 2}), f64({1, 2, 3, 4}), {3, 3});
  Tensor L = sg::add_self_loops(A, 0.5);
  EXPECT_EQ(sg::csr_col(L).to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 0, 1, 2, 2}));
  expect_close(sg::to_dense(L), sg::to_dense(A) + sg::eye(3, -1, DType::f64) * 0.5);
}

// --- normalisations against dense formulas -----------------------------------------------------

TEST(SparseCsr, GcnNormMatchesDenseFormula) {
  Tensor A = small_graph();
  Tensor At = sg::to_dense(A) + sg::eye(5, -1, DType::f64);
  Tensor dinv = dense_inverse(sg::sum(At, {1}), true);
  Tensor expected = dinv.unsqueeze(1) * At * dinv.unsqueeze(0);
  expect_close(sg::to_dense(sg::gcn_norm(A)), expected);
}

TEST(SparseCsr, RwNormMatchesDenseFormula) {
  Tensor A = small_graph();
  Tensor At = sg::to_dense(A) + sg::eye(5, -1, DType::f64);
  Tensor expected = dense_inverse(sg::sum(At, {1}), false).unsqueeze(1) * At;
  expect_close(sg::to_dense(sg::rw_norm(A)), expected);
}

TEST(SparseCsr, NormalisationsLeaveZeroDegreeRowsZero) {
  std::mt19937_64 r(3);
  Tensor P = random_csr(r, 6, 6, 0.5, {1, 4});
  Tensor A = sg::csr_with_values(P, sg::abs(sg::csr_values(P)) + 0.1);  // positive degrees
  Tensor D = sg::to_dense(A);
  Tensor drow = sg::sum(D, {1}), dcol = sg::sum(D, {0});
  Tensor s = dense_inverse(drow, true);
  expect_close(sg::to_dense(sg::sym_normalize(A)), s.unsqueeze(1) * D * s.unsqueeze(0));
  expect_close(sg::to_dense(sg::row_normalize(A)), dense_inverse(drow, false).unsqueeze(1) * D);
  expect_close(sg::to_dense(sg::column_normalize(A)), D * dense_inverse(dcol, false).unsqueeze(0));
  for (double x : sg::to_dense(sg::sym_normalize(A)).to_vector<double>())
    EXPECT_FALSE(std::isnan(x));
}

TEST(SparseCsr, GcnNormGradientHasNoNaNWithIsolatedNodes) {
  Tensor w = sg::ones({8}, DType::f64).requires_grad_();
  // Nodes 4 and 5 are isolated: their rows of A are empty.
  Tensor A = sg::from_edge_list(idx({0, 1, 2, 3, 0, 1, 2, 3}), idx({1, 2, 3, 0, 2, 3, 0, 1}), 6, w);
  Tensor x = sg::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {6, 2});
  sg::sum(sg::spmm(sg::sym_normalize(A), x)).backward();
  for (double g : w.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
}

// --- transpose and products ----------------------------------------------------------------------

TEST(SparseCsr, TransposeTwiceIsTheIdentity) {
  std::mt19937_64 r(1);
  Tensor A = random_csr(r, 9, 5, 0.4, {0, 4, 8});
  Tensor At = sg::sparse_transpose(A);
  EXPECT_EQ(At.shape(), (sg::Shape{5, 9}));
  expect_close(sg::to_dense(At), sg::to_dense(A).t(), 0.0);
  Tensor Att = sg::sparse_transpose(At);
  EXPECT_EQ(sg::csr_crow(Att).to_vector<int64_t>(), sg::csr_crow(A).to_vector<int64_t>());
  EXPECT_EQ(sg::csr_col(Att).to_vector<int64_t>(), sg::csr_col(A).to_vector<int64_t>());
  EXPECT_EQ(sg::csr_values(Att).to_vector<double>(), sg::csr_values(A).to_vector<double>());
}

TEST(SparseCsr, SpmmMatchesDenseProductAndGradients) {
  std::mt19937_64 r(2);
  Tensor P = random_csr(r, 7, 5, 0.4, {3});
  Tensor v1 = sg::csr_values(P).clone().requires_grad_();
  Tensor v2 = sg::csr_values(P).clone().requires_grad_();
  Tensor x1 = sg::randn({5, 4}, sg::default_generator(), DType::f64).requires_grad_();
  Tensor x2 = x1.detach().clone().requires_grad_();
  Tensor w = sg::randn({7, 4}, sg::default_generator(), DType::f64);
  Tensor y = sg::spmm(sg::csr_with_values(P, v1), x1);
  Tensor yd = dense_matmul(sg::to_dense(sg::csr_with_values(P, v2)), x2);
  expect_close(y, yd);
  sg::sum(y * w).backward();
  sg::sum(yd * w).backward();
  expect_close(x1.grad(), x2.grad());
  expect_close(v1.grad(), v2.grad());
}

TEST(SparseCsr, SpmvAndSddmmMatchDenseFormulas) {
  std::mt19937_64 r(4);
  Tensor A = random_csr(r, 6, 4, 0.5, {2});
  Tensor x = sg::randn({4}, sg::default_generator(), DType::f64);
  expect_close(sg::spmv(A, x), sg::sum(sg::to_dense(A) * x.unsqueeze(0), {1}));
  Tensor X = sg::randn({6, 3}, sg::default_generator(), DType::f64);
  Tensor Y = sg::randn({4, 3}, sg::default_generator(), DType::f64);
  Tensor XYt = dense_matmul(X, Y.t());
  Tensor mask = sg::to_dense(sg::csr_with_values(A, sg::ones({sg::nnz(A)}, DType::f64)));
  expect_close(sg::to_dense(sg::sddmm(A, X, Y)), XYt * mask);
  expect_close(sg::to_dense(sg::sddmm(A, X, Y, true)), XYt * sg::to_dense(A));
}

// --- the autograd contract of the values ---------------------------------------------------------

TEST(SparseCsr, GradientAccumulatesIntoTheValuesTensor) {
  Tensor v = f64({1, 2, 3}).requires_grad_();
  Tensor A = sg::sparse_csr(idx({0, 2, 3}), idx({0, 1, 1}), v, {2, 2});
  EXPECT_TRUE(A.requires_grad());
  EXPECT_TRUE(sg::csr_values(A).same(v));
  Tensor x = f64({1, 10, 100, 1000}, {2, 2});
  sg::sum(sg::spmm(A, x)).backward();
  // dvalues[e] = sum_j x[col(e), j].
  EXPECT_EQ(v.grad().to_vector<double>(), (std::vector<double>{11, 1100, 1100}));
}

TEST(SparseCsr, DetachedSparseTensorRecordsNothing) {
  Tensor v = f64({1, 2, 3}).requires_grad_();
  Tensor A = sg::sparse_csr(idx({0, 2, 3}), idx({0, 1, 1}), v, {2, 2}).detach();
  EXPECT_FALSE(A.requires_grad());
  EXPECT_FALSE(sg::spmm(A, f64({1, 2, 3, 4}, {2, 2})).requires_grad());
}

TEST(SparseCsr, NonContiguousValuesKeepTheirHistory) {
  Tensor base = f64({1, 0, 2, 0, 3, 0}).requires_grad_();
  Tensor v = base.slice(0, 0, 6, 2);
  Tensor A = sg::sparse_csr(idx({0, 1, 3}), idx({1, 0, 1}), v, {2, 2});
  sg::sum(sg::to_dense(A) * f64({1, 2, 3, 4}, {2, 2})).backward();
  EXPECT_EQ(base.grad().to_vector<double>(), (std::vector<double>{2, 0, 3, 0, 4, 0}));
}

TEST(SparseCsr, DenseToCsrGradientIsTheGradientAtTheNonzeros) {
  Tensor x = f64({0, 2, 3, 0}, {2, 2}).requires_grad_();
  sg::sum(sg::to_dense(sg::dense_to_csr(x)) * f64({5, 6, 7, 8}, {2, 2})).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 6, 7, 0}));
}

// --- CPU kernels: balanced partitions, same bits for any thread count
// -------------------------------

TEST(SparseCsr, CpuKernelsGiveTheSameBitsForAnyThreadCount) {
  std::mt19937_64 r(5);
  // A hub-heavy matrix large enough for several parts.
  std::vector<int64_t> src, dst;
  for (int64_t i = 0; i < 100000; ++i) {
    src.push_back(i % 7 == 0 ? 0 : static_cast<int64_t>(r() % 2000));
    dst.push_back(static_cast<int64_t>(r() % 2000));
  }
  Tensor w = sg::rand({100000}, sg::default_generator(), DType::f32);
  Tensor A = sg::from_edge_list(idx(src), idx(dst), 2000, w);
  Tensor X = sg::randn({2000, 40}, sg::default_generator(), DType::f32);
  auto run = [&] {
    return std::vector<Tensor>{sg::spmm(A, X), sg::csr_values(sg::sddmm(A, X, X, true)),
                               sg::to_dense(sg::sparse_transpose(A)), sg::spmv(A, X.select(1, 3))};
  };
  const int threads = sg::num_threads();
  sg::set_num_threads(1);
  auto one = run();
  for (int t : {3, 8}) {
    sg::set_num_threads(t);
    auto many = run();
    for (size_t i = 0; i < one.size(); ++i)
      EXPECT_TRUE(sg::equal(one[i], many[i])) << "output " << i << " with " << t << " threads";
  }
  sg::set_num_threads(threads);
  sg::ReferenceKernels reference;
  auto ref = run();
  for (size_t i = 0; i < one.size(); ++i)
    EXPECT_TRUE(sg::allclose(one[i], ref[i], 1e-4, 1e-4)) << "output " << i;
}

}  // namespace
