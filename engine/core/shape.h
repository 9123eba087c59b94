// Shapes and strides (in elements), and the rules that relate them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stackgrad {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

// Kernels receive fixed-size shape arrays; this bounds the rank of every tensor.
constexpr int kMaxDims = 10;

std::string shape_str(const Shape& s);  // "[2, 3]"
int64_t numel_of(const Shape& s);       // checked against int64 overflow
Strides contiguous_strides(const Shape& s);
// Normalises a possibly negative dim into [0, ndim); `op` names the caller in the error.
int64_t normalize_dim(const char* op, int64_t dim, int64_t ndim);
// NumPy broadcasting of two shapes; error names the op and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// Checks a user-given shape: non-negative sizes, at most kMaxDims.
void check_shape(const char* op, const Shape& s);

}  // namespace stackgrad
