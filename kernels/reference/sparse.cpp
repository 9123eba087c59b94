// Reference kernels of the sparse family: plain loops over rows and their nonzeros, math in
// double. CSR arguments arrive as (crow i64 [rows + 1], col i64 [nnz], values [nnz]), contiguous;
// dense arguments may have any strides; [nnz] outputs are contiguous (the op layer allocates them).
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Element (i, j) of a 2-D strided argument.
template <typename T>
T& at2(const TensorArg& t, int64_t i, int64_t j) {
  return t.ptr<T>()[i * t.strides[0] + j * t.strides[1]];
}

int64_t rows_of(const TensorArg& crow) { return crow.numel - 1; }

// in: crow, col, values [nnz], X [K, N]; out: C [M, N] = A X.
void ref_spmm(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2], &x = c.in[3], &out = c.out[0];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  const int64_t n = out.shape[1];
  SG_DISPATCH_FLOAT(val.dtype, "spmm", [&] {
    const scalar_t* v = val.ptr<scalar_t>();
    for (int64_t i = 0; i < rows_of(crow); ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t e = rp[i]; e < rp[i + 1]; ++e)
          acc += static_cast<double>(v[e]) * static_cast<double>(at2<scalar_t>(x, ci[e], j));
        at2<scalar_t>(out, i, j) = static_cast<scalar_t>(acc);
      }
  });
}

// in: crow, col, X [M, D], Y [N, D] (, values if flag); out: [nnz], w[e] dot(X[row], Y[col]).
void ref_sddmm(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &x = c.in[2], &y = c.in[3], &out = c.out[0];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  const int64_t d = x.shape[1];
  SG_DISPATCH_FLOAT(x.dtype, "sddmm", [&] {
    const scalar_t* w = c.attrs.flag ? c.in[4].ptr<scalar_t>() : nullptr;
    scalar_t* o = out.ptr<scalar_t>();
    for (int64_t i = 0; i < rows_of(crow); ++i)
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) {
        double acc = 0;
        for (int64_t k = 0; k < d; ++k)
          acc += static_cast<double>(at2<scalar_t>(x, i, k)) *
                 static_cast<double>(at2<scalar_t>(y, ci[e], k));
        if (w) acc *= static_cast<double>(w[e]);
        o[e] = static_cast<scalar_t>(acc);
      }
  });
}

// in: crow, col, values; out: crow_t [cols + 1], col_t [nnz], values_t [nnz]. Counting sort by
// column; walking rows in order keeps each output row's columns (the input rows) sorted.
void ref_sparse_transpose(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  int64_t* rp_t = c.out[0].ptr<int64_t>();
  int64_t* ci_t = c.out[1].ptr<int64_t>();
  const int64_t cols = c.out[0].numel - 1;
  for (int64_t j = 0; j <= cols; ++j) rp_t[j] = 0;
  for (int64_t e = 0; e < col.numel; ++e) ++rp_t[ci[e] + 1];
  for (int64_t j = 0; j < cols; ++j) rp_t[j + 1] += rp_t[j];
  std::vector<int64_t> next(rp_t, rp_t + cols);
  SG_DISPATCH_FLOAT(val.dtype, "sparse_transpose", [&] {
    const scalar_t* v = val.ptr<scalar_t>();
    scalar_t* v_t = c.out[2].ptr<scalar_t>();
    for (int64_t i = 0; i < rows_of(crow); ++i)
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) {
        const int64_t p = next[ci[e]]++;
        ci_t[p] = i;
        v_t[p] = v[e];
      }
  });
}

// in: crow, col, values; out: dense [M, K].
void ref_to_dense(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2], &out = c.out[0];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  SG_DISPATCH_FLOAT(val.dtype, "to_dense", [&] {
    const scalar_t* v = val.ptr<scalar_t>();
    for (int64_t i = 0; i < out.shape[0]; ++i)
      for (int64_t j = 0; j < out.shape[1]; ++j) at2<scalar_t>(out, i, j) = 0;
    for (int64_t i = 0; i < rows_of(crow); ++i)
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) at2<scalar_t>(out, i, ci[e]) = v[e];
  });
}

// in: crow, col, x [M, K]; out: [nnz], x at the nonzeros.
void ref_sparse_mask(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &x = c.in[2], &out = c.out[0];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  SG_DISPATCH_FLOAT(x.dtype, "sparse_mask", [&] {
    scalar_t* o = out.ptr<scalar_t>();
    for (int64_t i = 0; i < rows_of(crow); ++i)
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) o[e] = at2<scalar_t>(x, i, ci[e]);
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_sparse() {
  using namespace kernels;
  register_kernel(OpId::spmm, Backend::reference, ref_spmm);
  register_kernel(OpId::sddmm, Backend::reference, ref_sddmm);
  register_kernel(OpId::sparse_transpose, Backend::reference, ref_sparse_transpose);
  register_kernel(OpId::to_dense, Backend::reference, ref_to_dense);
  register_kernel(OpId::sparse_mask, Backend::reference, ref_sparse_mask);
}
}  // namespace stackgrad
