// The CPU GEMM as a raw-pointer routine, for kernels that build on it (bmm, conv, attention
// tiles, LSTM gates). Operands are strided matrices (strides in elements, any sign, stride 0
// allowed for broadcast), so transposed views need no copy.
//
// Threading: gemm() splits its C tiles over parallel_for; called from inside a parallel_for
// (a conv kernel parallel over images, say) it runs serially on the calling thread.
// Determinism: every C element sums its K products in the same order whatever the thread count.
#pragma once

#include <cstdint>
#include <span>

namespace stackgrad::kernels {

// C[M, N] (+)= A[M, K] · B[K, N].
template <typename T>
struct GemmProblem {
  int64_t M, N, K;
  const T* a;
  int64_t a_rs, a_cs;
  const T* b;
  int64_t b_rs, b_cs;
  T* c;
  int64_t c_rs, c_cs;
};

// C = A·B, or C += A·B when `accumulate`. Defined for float and double.
template <typename T>
void gemm(const GemmProblem<T>& p, bool accumulate = false);

// Many problems of the same M, N, K (a batch), tiles of all of them shared out together.
template <typename T>
void gemm_batched(std::span<const GemmProblem<T>> problems, bool accumulate = false);

}  // namespace stackgrad::kernels
