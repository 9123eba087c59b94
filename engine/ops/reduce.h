// Reductions over one or several dims (keepdim optional), softmax family and scans.
// An empty `dims` list means all dims.
#pragma once

#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad {

using Dims = std::vector<int64_t>;

Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);

// Sums `grad` down to `shape`, undoing NumPy broadcasting (used by every broadcasting backward).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Helpers shared by reduction ops: normalised, sorted, de-duplicated dims (all when empty), the
// permutation that moves them last, and the output shape.
struct ReducePlan {
  Dims dims;           // reduced dims, sorted
  Dims permutation;    // kept dims, then reduced dims
  Shape out_shape;     // without keepdim
  Shape keep_shape;    // with size-1 reduced dims
  int64_t reduced_numel = 1;
};
ReducePlan plan_reduction(const char* op, const Tensor& x, const Dims& dims);

}  // namespace stackgrad
