// Error messages of the sparse family: each check names the op, the argument and what was wrong
// (for a bad CSR pattern, the row).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/stackgrad.h"

namespace sg = stackgrad;
using sg::DType;
using sg::Tensor;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

Tensor idx(std::vector<int64_t> v) { return sg::from_vector(v); }
Tensor f64(std::vector<double> v) { return sg::from_vector(v); }

template <typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const sg::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// [[1, 0, 2], [0, 0, 3]]
Tensor small() { return sg::sparse_csr(idx({0, 2, 3}), idx({0, 2, 2}), f64({1, 2, 3}), {2, 3}); }

TEST(SparseErrors, CsrPatternChecksNameTheRow) {
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({1, 2, 3}), idx({0, 1, 2}), f64({1, 2, 3}), {2, 3});
              }),
              HasSubstr("sparse_csr: crow[0] must be 0, got 1"));
  EXPECT_THAT(
      message_of([] {
        sg::sparse_csr(idx({0, 2, 1, 3}), idx({0, 1, 2}), f64({1, 2, 3}), {3, 3});
      }),
      AllOf(HasSubstr("sparse_csr: row 1:"), HasSubstr("crow[2] = 1 is less than crow[1] = 2")));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1, 2}), idx({0, 1, 2}), f64({1, 2, 3}), {2, 3});
              }),
              HasSubstr("sparse_csr: crow[2] = 2 must equal nnz = 3"));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1, 4}), idx({0, 1, 2}), f64({1, 2, 3}), {2, 3});
              }),
              AllOf(HasSubstr("row 1"), HasSubstr("past the end of col (nnz = 3)")));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1, 3}), idx({0, 1, 3}), f64({1, 2, 3}), {2, 3});
              }),
              HasSubstr("sparse_csr: row 1: column 3 (entry 2) is out of range for 3 columns"));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1, 3}), idx({0, 2, 1}), f64({1, 2, 3}), {2, 3});
              }),
              AllOf(HasSubstr("sparse_csr: row 1: columns must be sorted and unique, got 2 then 1"),
                    HasSubstr("sparse_csr_from_coo")));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 0, 2}), idx({1, 1}), f64({1, 2}), {2, 3});
              }),
              HasSubstr("row 1: columns must be sorted and unique, got 1 then 1"));
}

TEST(SparseErrors, CsrComponentChecks) {
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1}).to(DType::i32), idx({0}), f64({1}), {1, 1});
              }),
              AllOf(HasSubstr("sparse_csr: expected 'crow' to be i64 [2], got i32[2]"),
                    HasSubstr(".to(DType::i64)")));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1}), idx({0}), f64({1}), {2, 1});
              }),
              HasSubstr("expected 'crow' to be i64 [3], got i64[2]"));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1}), idx({0}), f64({1, 2}), {1, 1});
              }),
              HasSubstr("expected 'values' to be f32 or f64 [1], got f64[2]"));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1}), idx({0}), idx({1}), {1, 1});
              }),
              HasSubstr("expected 'values' to be f32 or f64 [1], got i64[1]"));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr(idx({0, 1}), idx({0}), f64({1}), {1});
              }),
              HasSubstr("sparse_csr: expected a 2-D shape [rows, cols], got [1]"));
  EXPECT_THAT(message_of([] {
                sg::csr_with_values(small(), f64({1, 2}));
              }),
              HasSubstr("csr_with_values: expected 'values' to be f32 or f64 [3], got f64[2]"));
}

TEST(SparseErrors, CooAndEdgeListChecks) {
  EXPECT_THAT(message_of([] {
                sg::sparse_csr_from_coo(idx({0, 2}), idx({0, 1}), f64({1, 2}), {2, 2});
              }),
              HasSubstr("sparse_csr_from_coo: entry 1: row 2 is out of range for 2 rows"));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr_from_coo(idx({0, 1}), idx({0, -1}), f64({1, 2}), {2, 2});
              }),
              HasSubstr("sparse_csr_from_coo: entry 1: column -1 is out of range for 2 columns"));
  EXPECT_THAT(message_of([] {
                sg::sparse_csr_from_coo(idx({0, 1}), idx({0}), f64({1, 2}), {2, 2});
              }),
              HasSubstr("sparse_csr_from_coo: expected 'cols' to be i64 [2], got i64[1]"));
  EXPECT_THAT(message_of([] {
                sg::from_edge_list(idx({0, 3}), idx({1, 0}), 3);
              }),
              HasSubstr("from_edge_list: edge 1 (3 -> 0) is out of range for 3 nodes"));
  EXPECT_THAT(message_of([] {
                sg::from_edge_list(idx({0}), idx({1}), 2, f64({1, 2}));
              }),
              HasSubstr("from_edge_list: expected 'weights' to be f32 or f64 [1], got f64[2]"));
  EXPECT_THAT(message_of([] { sg::from_edge_list(idx({}), idx({}), -1); }),
              HasSubstr("from_edge_list: num_nodes must be non-negative, got -1"));
}

TEST(SparseErrors, ProductChecks) {
  Tensor x = sg::zeros({3, 2}, DType::f64);
  EXPECT_THAT(message_of([&] { sg::spmm(x, x); }),
              HasSubstr("spmm: argument 'A' must be a sparse CSR tensor, got f64[3, 2] on cpu"));
  EXPECT_THAT(message_of([] {
                sg::spmm(small(), sg::zeros({2, 2}, DType::f64));
              }),
              HasSubstr("spmm: expected X of shape [3, N] for A f64[2, 3] sparse_csr on cpu, got "
                        "f64[2, 2] on cpu"));
  EXPECT_THAT(message_of([] {
                sg::spmm(small(), sg::zeros({3, 2}));
              }),
              AllOf(HasSubstr("spmm: dtype mismatch"), HasSubstr("f32[3, 2]")));
  EXPECT_THAT(message_of([] {
                sg::spmv(small(), sg::zeros({3, 1}, DType::f64));
              }),
              HasSubstr("spmv: expected x of shape [3] for A f64[2, 3] sparse_csr on cpu"));
  EXPECT_THAT(message_of([] { sg::spmm(small(), small()); }),
              HasSubstr("spmm: argument 'X' is a sparse CSR tensor"));
  EXPECT_THAT(message_of([] {
                sg::sddmm(small(), sg::zeros({2, 4}, DType::f64), sg::zeros({3, 5}, DType::f64));
              }),
              HasSubstr("sddmm: expected X [2, D] and Y [3, D]"));
  EXPECT_THAT(message_of([] {
                sg::sddmm(small(), sg::zeros({2, 4}), sg::zeros({3, 4}), true);
              }),
              HasSubstr("sddmm: dtype mismatch"));
  EXPECT_THAT(message_of([] {
                sg::sddmm(small(), sg::zeros({2}), sg::zeros({3, 4}));
              }),
              HasSubstr("sddmm: expected 'X' to be a 2-D f32 or f64 tensor, got f32[2]"));
}

TEST(SparseErrors, ConversionAndNormalisationChecks) {
  EXPECT_THAT(message_of([] {
                sg::to_dense(sg::zeros({2, 2}));
              }),
              HasSubstr("to_dense: argument 't' must be a sparse CSR tensor"));
  EXPECT_THAT(message_of([] {
                sg::sparse_mask(sg::zeros({3, 2}, DType::f64), small());
              }),
              HasSubstr("sparse_mask: x f64[3, 2] on cpu and pattern f64[2, 3] sparse_csr on cpu "
                        "differ in shape"));
  EXPECT_THAT(
      message_of([] {
        sg::dense_to_csr(sg::zeros({2, 2, 2}));
      }),
      HasSubstr("dense_to_csr: expected 'x' to be a 2-D f32 or f64 tensor, got f32[2, 2, 2]"));
  EXPECT_THAT(message_of([] {
                sg::dense_to_csr(sg::zeros({2, 2}, DType::i64));
              }),
              HasSubstr("dense_to_csr: expected 'x' to be a 2-D f32 or f64 tensor, got i64[2, 2]"));
  EXPECT_THAT(
      message_of([] { sg::add_self_loops(small()); }),
      HasSubstr("add_self_loops: expected a square matrix, got f64[2, 3] sparse_csr on cpu"));
  EXPECT_THAT(message_of([] { sg::sym_normalize(small()); }),
              HasSubstr("sym_normalize: expected a square matrix"));
  EXPECT_THAT(message_of([] { sg::gcn_norm(small()); }),
              HasSubstr("gcn_norm: expected a square matrix"));
  EXPECT_THAT(message_of([] {
                sg::rw_norm(sg::zeros({2, 2}));
              }),
              HasSubstr("rw_norm: argument 'A' must be a sparse CSR tensor"));
  EXPECT_THAT(message_of([] {
                sg::nnz(sg::zeros({2, 2}));
              }),
              HasSubstr("nnz: argument 't' must be a sparse CSR tensor"));
}

TEST(SparseErrors, RequiresGradOnTheSparseTensorButNotItsValues) {
  Tensor A = small();
  A.requires_grad_(true);
  EXPECT_THAT(message_of([&] {
                sg::spmm(A, sg::ones({3, 1}, DType::f64));
              }),
              HasSubstr("spmm: the sparse tensor f64[2, 3] sparse_csr on cpu requires grad but its "
                        "values do not"));
}

TEST(SparseErrors, DenseOpsNameTheSparseArgument) {
  EXPECT_THAT(message_of([] { sg::add(small(), small()); }),
              HasSubstr("add: argument 'a' is a sparse CSR tensor; this op needs a dense one"));
}

}  // namespace
