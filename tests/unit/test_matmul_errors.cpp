// The matmul family: error messages name the op and both shapes; NumPy result shapes; values
// on a hand-computed product; the packed kernel is bit-for-bit independent of the thread count
// and of the operands' layout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using ::testing::HasSubstr;

namespace {

using ::stackgrad::testing::error_of;

sg::Tensor randn(std::mt19937_64& rng, const sg::Shape& shape, sg::DType dtype = sg::DType::f32) {
  std::normal_distribution<double> dist;
  std::vector<double> v(sg::numel_of(shape));
  for (auto& x : v) x = dist(rng);
  return sg::from_vector(v, shape, sg::DType::f64).to(dtype);
}

sg::Tensor z(const sg::Shape& s, sg::DType t = sg::DType::f32) { return sg::zeros(s, t); }

TEST(MatmulErrors, InnerSizesNameBothShapes) {
  EXPECT_EQ(error_of([] {
              sg::matmul(z({2, 3}), z({4, 5}));
            }),
            "matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)");
  // 1-D operands are reported as the caller passed them, not with their added dim.
  EXPECT_EQ(error_of([] {
              sg::matmul(z({3}), z({4, 5}));
            }),
            "matmul: shapes [3] and [4, 5] cannot be multiplied (3 != 4)");
  EXPECT_EQ(error_of([] {
              sg::matmul(z({2, 3, 4}), z({5}));
            }),
            "matmul: shapes [2, 3, 4] and [5] cannot be multiplied (4 != 5)");
  EXPECT_EQ(error_of([] { sg::matmul(z({3}), z({4})); }),
            "matmul: shapes [3] and [4] cannot be multiplied (3 != 4)");
  EXPECT_EQ(error_of([] {
              sg::matmul(z({2, 3, 4}), z({3, 5}));
            }),
            "matmul: shapes [2, 3, 4] and [3, 5] cannot be multiplied (4 != 3)");
  EXPECT_EQ(error_of([] {
              sg::mm(z({2, 3}), z({2, 3}));
            }),
            "mm: shapes [2, 3] and [2, 3] cannot be multiplied (3 != 2)");
  EXPECT_EQ(error_of([] {
              sg::bmm(z({2, 3, 4}), z({2, 5, 6}));
            }),
            "bmm: shapes [2, 3, 4] and [2, 5, 6] cannot be multiplied (4 != 5)");
}

TEST(MatmulErrors, BatchDimsThatDoNotBroadcast) {
  EXPECT_THAT(
      error_of([] {
        sg::matmul(z({2, 3, 4}), z({3, 4, 5}));
      }),
      HasSubstr("matmul: batch dims of [2, 3, 4] and [3, 4, 5] cannot be broadcast (2 vs 3"));
  EXPECT_THAT(error_of([] {
                sg::bmm(z({2, 3, 4}), z({3, 4, 5}));
              }),
              HasSubstr("bmm: batch sizes differ, got [2, 3, 4] and [3, 4, 5]"));
}

TEST(MatmulErrors, Ranks) {
  EXPECT_THAT(error_of([] { sg::matmul(z({}), z({3})); }),
              HasSubstr("matmul: both operands need at least 1 dim, got f32[] on cpu"));
  EXPECT_THAT(error_of([] {
                sg::bmm(z({3, 4}), z({2, 4, 5}));
              }),
              HasSubstr("bmm: expected 3-D tensors [B, M, K] and [B, K, N], got f32[3, 4]"));
  EXPECT_THAT(error_of([] {
                sg::mm(z({2, 3, 4}), z({4, 5}));
              }),
              HasSubstr("mm: expected 2-D tensors [M, K] and [K, N], got f32[2, 3, 4]"));
  EXPECT_THAT(error_of([] {
                sg::dot(z({2, 3}), z({3}));
              }),
              HasSubstr("dot: expected 1-D tensors, got f32[2, 3]"));
  EXPECT_EQ(error_of([] { sg::dot(z({3}), z({4})); }),
            "dot: shapes [3] and [4] cannot be multiplied (3 != 4)");
}

TEST(MatmulErrors, Dtypes) {
  EXPECT_THAT(error_of([] {
                sg::matmul(z({2, 2}, sg::DType::i64), z({2, 2}, sg::DType::i64));
              }),
              HasSubstr("integer matrix products are not supported"));
  EXPECT_THAT(error_of([] {
                sg::bmm(z({1, 2, 2}, sg::DType::i32), z({1, 2, 2}, sg::DType::i32));
              }),
              HasSubstr("bmm: expected floating tensors (f32 or f64), got i32[1, 2, 2]"));
  EXPECT_THAT(error_of([] {
                sg::mm(z({2, 2}), z({2, 2}, sg::DType::f64));
              }),
              HasSubstr("mm: dtype mismatch, got f32[2, 2] on cpu and f64[2, 2] on cpu"));
  EXPECT_THAT(error_of([] {
                sg::matmul(z({2, 2}), sg::Tensor());
              }),
              HasSubstr("matmul: argument 'b' is an undefined tensor"));
}

TEST(Matmul, HandComputedProduct) {
  // [[1, 2], [3, 4]] · [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
  sg::Tensor a = sg::from_vector<float>({1, 2, 3, 4}, {2, 2});
  sg::Tensor b = sg::from_vector<float>({5, 6, 7, 8}, {2, 2});
  EXPECT_EQ(sg::matmul(a, b).to_vector<float>(), (std::vector<float>{19, 22, 43, 50}));
  // Aᵀ · B through a transposed view: [[1, 3], [2, 4]] · B = [[26, 30], [38, 44]]
  EXPECT_EQ(sg::mm(a.t(), b).to_vector<float>(), (std::vector<float>{26, 30, 38, 44}));
  // 1 * 5 + 2 * 7 = 19, through every 1-D form.
  sg::Tensor u = sg::from_vector<double>({1, 2}), v = sg::from_vector<double>({5, 7});
  EXPECT_EQ(sg::dot(u, v).item(), 19.0);
  EXPECT_EQ(sg::matmul(u, v).item(), 19.0);
}

TEST(Matmul, NumpyResultShapes) {
  auto shape_of = [](const sg::Shape& a, const sg::Shape& b) {
    return sg::shape_str(sg::matmul(z(a), z(b)).shape());
  };
  EXPECT_EQ(shape_of({4}, {4}), "[]");
  EXPECT_EQ(shape_of({3, 4}, {4}), "[3]");
  EXPECT_EQ(shape_of({4}, {4, 5}), "[5]");
  EXPECT_EQ(shape_of({2, 3, 4}, {4}), "[2, 3]");
  EXPECT_EQ(shape_of({4}, {2, 4, 5}), "[2, 5]");
  EXPECT_EQ(shape_of({2, 1, 3, 4}, {5, 4, 6}), "[2, 5, 3, 6]");
  EXPECT_EQ(shape_of({0, 3, 4}, {4, 5}), "[0, 3, 5]");
  // K = 0: a sum of nothing.
  EXPECT_EQ(sg::matmul(z({2, 0}), z({0, 3})).to_vector<float>(), std::vector<float>(6, 0.f));
}

TEST(Matmul, BroadcastGradientsSumOverTheBatch) {
  std::mt19937_64 rng(3);
  sg::Tensor a = randn(rng, {3, 4}, sg::DType::f64).requires_grad_();
  sg::Tensor b = randn(rng, {2, 4, 5}, sg::DType::f64).requires_grad_();
  sg::sum(sg::matmul(a, b)).backward();
  // d/da sum(a b_i) = sum_i 1 b_iᵀ: the same as the product with the batch-summed b.
  sg::Tensor expected = sg::mm(sg::ones({3, 5}, sg::DType::f64), sg::sum(b.detach(), {0}).t());
  EXPECT_TRUE(sg::allclose(a.grad(), expected, 1e-12, 1e-12));
  EXPECT_EQ(sg::shape_str(b.grad().shape()), "[2, 4, 5]");
}

TEST(Matmul, SameBitsForAnyThreadCountAndLayout) {
  std::mt19937_64 rng(5);
  // Crosses the cache blocks (MC 72, KC 256, NC 256) so that tasks split M, N and K slices.
  sg::Tensor a = randn(rng, {300, 600}), b = randn(rng, {600, 290});
  const int threads = sg::num_threads();
  sg::set_num_threads(1);
  sg::Tensor one = sg::mm(a, b);
  sg::Tensor batched1 = sg::matmul(a.view({2, 150, 600}), b);
  sg::set_num_threads(3);
  sg::Tensor three = sg::mm(a, b);
  sg::Tensor batched3 = sg::matmul(a.view({2, 150, 600}), b);
  sg::set_num_threads(threads);
  EXPECT_TRUE(sg::equal(one, three));
  EXPECT_TRUE(sg::equal(batched1, batched3));
  // Packing reads strides, so a transposed view packs to the same panels as its copy.
  sg::Tensor at = a.t().contiguous().t();
  EXPECT_TRUE(sg::equal(sg::mm(at, b), one));
  // A stride-0 (broadcast) row block multiplies like its materialised copy.
  sg::Tensor row = a.narrow(0, 0, 1).expand({7, 600});
  EXPECT_TRUE(sg::equal(sg::mm(row, b), sg::mm(row.contiguous(), b)));
}

// Matrix-vector products read the matrix by rows (a dot product per row) or, when it is stored
// by columns (a transposed view; a row vector times a row-major matrix), by column slices over
// blocks of 256 rows. Both layouts agree with the reference kernels and give the same bits for
// any thread count; 600 rows make two full blocks and a partial one.
TEST(Matmul, MatrixVectorByRowsAndByColumns) {
  std::mt19937_64 rng(9);
  for (sg::DType dtype : {sg::DType::f32, sg::DType::f64}) {
    sg::Tensor a = randn(rng, {700, 600}, dtype), v = randn(rng, {700}, dtype), w = randn(rng, {600, 1}, dtype);
    const double tol = dtype == sg::DType::f32 ? 1e-4 : 1e-11;
    const int threads = sg::num_threads();
    std::vector<sg::Tensor> by_thread_count;
    for (int t : {1, 2, 3}) {
      sg::set_num_threads(t);
      by_thread_count.push_back(sg::matmul(a.t(), v));  // by columns: aᵀ is a column-major view
    }
    sg::set_num_threads(threads);
    EXPECT_TRUE(sg::equal(by_thread_count[0], by_thread_count[1]));
    EXPECT_TRUE(sg::equal(by_thread_count[0], by_thread_count[2]));
    sg::Tensor by_rows = sg::matmul(a.t().contiguous(), v);
    sg::Tensor reference, reference_row;
    {
      sg::ReferenceKernels guard;
      reference = sg::matmul(a.t().contiguous(), v);
      reference_row = sg::matmul(v.unsqueeze(0), a);
    }
    EXPECT_TRUE(sg::allclose(by_thread_count[0], reference, tol, tol));
    EXPECT_TRUE(sg::allclose(by_rows, reference, tol, tol));
    // A row vector times a row-major matrix is the column-stored transposed problem.
    EXPECT_TRUE(sg::allclose(sg::matmul(v.unsqueeze(0), a), reference_row, tol, tol));
    // The batched form with a column-major matrix and a strided vector.
    sg::Tensor batch = sg::stack({a.t(), a.t()}, 0);  // contiguous copy: rows again
    sg::Tensor cols = a.t().unsqueeze(0).expand({2, 600, 700});
    EXPECT_TRUE(sg::allclose(sg::matmul(cols, v.unsqueeze(1)), sg::matmul(batch, v.unsqueeze(1)), tol, tol));
    EXPECT_TRUE(sg::allclose(sg::matmul(a, w), [&] {
      sg::ReferenceKernels guard;
      return sg::matmul(a, w);
    }(), tol, tol));
  }
}

}  // namespace
