// Sparse CSR tensors and the ops on them: construction (validated CSR, COO and edge lists with
// duplicates summed), conversion to and from dense, transpose, SpMM / SpMV / SDDMM with
// autograd, and the graph normalisations used by GCN-style models.
//
// Layout. A CSR tensor is a Tensor with layout() == Layout::sparse_csr, shape() the dense shape
// [rows, cols], and three components: crow (i64 [rows + 1]), col (i64 [nnz], sorted and unique
// within each row) and values ([nnz], f32 or f64), all contiguous and on one device. dtype() is
// the values' dtype; storage() is the values' storage, so device() and the version counter are
// the values'. A CSR tensor has no dense strides (they read as 0); dense-only ops reject it.
//
// Autograd. Gradients flow to the values tensor, never to the pattern. The sparse tensor's
// requires_grad() is copied from its values when it is built, and it decides: ops record the
// values as their differentiable input when it is true, and treat them as constants when it is
// false (so detach() of a CSR tensor works). To learn the values, build the tensor from values
// that require grad; the gradient then accumulates in that tensor (csr_values(A).grad() when the
// values were passed contiguous). Setting requires_grad on csr_values(A) after building has no
// effect: rebuild with csr_with_values.
//
// Pattern construction (validation, COO sorting, self-loop insertion, nonzero detection) runs on
// the host and needs CPU tensors; the numeric work (products, transposes, gathers) runs through
// the kernel table.
#pragma once

#include "engine/core/tensor.h"

namespace stackgrad {

// --- construction ----------------------------------------------------------------------------

// A CSR tensor from its components. Checks crow[0] == 0, crow non-decreasing, crow[rows] == nnz,
// columns in [0, cols) and strictly increasing within each row; errors name the row.
Tensor sparse_csr(const Tensor& crow, const Tensor& col, const Tensor& values, const Shape& shape);
// A CSR tensor from COO triplets (i64 rows and cols, values [E]) in any order: duplicates are
// summed (differentiably in values) and columns sorted within rows.
Tensor sparse_csr_from_coo(const Tensor& rows, const Tensor& cols, const Tensor& values,
                           const Shape& shape);
// The [num_nodes, num_nodes] adjacency of edges src[i] -> dst[i] (i64 [E]). With weights ([E],
// f32/f64) duplicate edges are summed; without, every distinct edge has weight 1 in `dtype`.
// `symmetric` also adds dst -> src for each edge (a self-loop is added once).
Tensor from_edge_list(const Tensor& src, const Tensor& dst, int64_t num_nodes,
                      const Tensor& weights = Tensor(), bool symmetric = false,
                      DType dtype = DType::f32);
// `pattern`'s rows and columns with new values ([nnz], f32/f64); the pattern is shared.
Tensor csr_with_values(const Tensor& pattern, const Tensor& values);

// --- accessors -------------------------------------------------------------------------------

Tensor csr_crow(const Tensor& t);    // i64 [rows + 1]
Tensor csr_col(const Tensor& t);     // i64 [nnz]
Tensor csr_values(const Tensor& t);  // [nnz], with the values' autograd history
int64_t nnz(const Tensor& t);

// --- conversion ------------------------------------------------------------------------------

// The dense [rows, cols] matrix; differentiable in the values.
Tensor to_dense(const Tensor& t);
// CSR of the nonzero entries of a 2-D floating tensor (NaN counts as nonzero). Differentiable in
// x at its nonzeros; entries that are exactly zero get no gradient (they are not in the pattern).
Tensor dense_to_csr(const Tensor& x);
// CSR with `pattern`'s nonzeros holding x's entries there (x dense, same shape as pattern);
// differentiable in x.
Tensor sparse_mask(const Tensor& x, const Tensor& pattern);
// CSR of the transpose [cols, rows]; differentiable in the values (its adjoint is the transpose).
Tensor sparse_transpose(const Tensor& t);

// --- products --------------------------------------------------------------------------------

// C = A X for CSR A [M, K] and dense X [K, N]. Gradients: dX = A^T dC (an spmm with the
// transpose), dvalues[e] = dot(dC[row(e), :], X[col(e), :]) (an sddmm on A's pattern).
Tensor spmm(const Tensor& A, const Tensor& X);
// y = A x for CSR A [M, K] and dense x [K].
Tensor spmv(const Tensor& A, const Tensor& x);
// Sampled dense-dense product: CSR with A's pattern [M, N] and values dot(X[row(e)], Y[col(e)])
// for dense X [M, D] and Y [N, D], i.e. (X Y^T) at A's nonzeros, times A's values when
// `scale_by_values`. Differentiable in X and Y (and in A's values when scaled).
Tensor sddmm(const Tensor& A, const Tensor& X, const Tensor& Y, bool scale_by_values = false);

// --- graph normalisation ---------------------------------------------------------------------
// All are differentiable in the values. Degrees are row sums of A. A degree of zero gives a zero
// scale (its row stays zero, never NaN); sym_normalize also zeroes rows of negative degree.

// A + fill I for square A (fill is added to existing diagonal entries).
Tensor add_self_loops(const Tensor& A, double fill = 1.0);
// D^-1/2 A D^-1/2 for square A, D = diag(row sums of A).
Tensor sym_normalize(const Tensor& A);
// D^-1 A: rows sum to 1.
Tensor row_normalize(const Tensor& A);
// A D^-1 with D = diag(column sums of A): columns sum to 1.
Tensor column_normalize(const Tensor& A);
// The GCN propagation matrix D~^-1/2 (A + I) D~^-1/2, D~ the degrees of A + I.
Tensor gcn_norm(const Tensor& A);
// The random-walk matrix D~^-1 (A + I).
Tensor rw_norm(const Tensor& A);

}  // namespace stackgrad
