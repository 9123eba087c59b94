// Matrix products: bmm (the kernel), mm, matmul (NumPy semantics) and dot. Floating dtypes
// only (f32, f64); both operands share dtype and device. Any strides are read directly, so
// transposed views and broadcast operands are multiplied without copies.
//
// On a GPU, f32 products are exact f32 unless set_allow_tf32(true) (engine/runtime/math_mode.h,
// included here) lets them use TF32 tensor cores.
#pragma once

#include "engine/core/tensor.h"
#include "engine/runtime/math_mode.h"

namespace stackgrad {

// Batched product of 3-D tensors: a [B, M, K] x b [B, K, N] -> [B, M, N] (same B, no
// broadcasting; use matmul for that).
Tensor bmm(const Tensor& a, const Tensor& b);

// Product of 2-D tensors: a [M, K] x b [K, N] -> [M, N].
Tensor mm(const Tensor& a, const Tensor& b);

// numpy.matmul: 1-D x 1-D is a dot product (0-dim result); a 1-D first operand is a row vector
// and a 1-D second operand a column vector, their added dim removed from the result; N-D
// operands are stacks of matrices in the last two dims whose batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

// Inner product of two 1-D tensors of equal length, as a 0-dim tensor.
Tensor dot(const Tensor& a, const Tensor& b);

}  // namespace stackgrad
