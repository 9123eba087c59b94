// Reductions over one or several dims (keepdim optional), softmax family and scans.
// An empty `dims` list means all dims. Reductions are deterministic: the CPU kernels combine
// partial results in a fixed order that does not depend on the thread count.
#pragma once

#include <optional>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad {

using Dims = std::vector<int64_t>;

// Sum over `dims`; integer sums keep the dtype and wrap on overflow. Not for bool.
Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// sum / n over `dims` (floating only); NaN for an empty reduction.
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// Product over `dims` (1 for an empty reduction). The gradient is the product of the other
// elements, exact when x holds zeros (one zero or several).
Tensor prod(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// Largest / smallest value over `dims` (amax/amin: values only; NaN propagates). The gradient
// is split evenly among the elements equal to the result. Error for an empty reduction.
Tensor max(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// Index (i64) of the largest / smallest value along `dim`, or into the flattened tensor when no
// dim is given (then keepdim gives all dims size 1). First index on ties; a NaN counts as the
// extreme. Not differentiable. Error for an empty reduction.
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
// Variance over `dims`: sum((x - mean)^2) / max(0, n - correction); correction = 1 is the
// unbiased estimate, 0 the population variance. Floating only.
Tensor var(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);
// sqrt(var(x, dims, correction)); the gradient is infinite where std is 0.
Tensor std(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);
// log(sum(exp(x))) over `dims`, computed as m + log(sum(exp(x - m))) with m the maximum, so it
// neither overflows nor underflows; -inf for an empty reduction. Floating only.
Tensor logsumexp(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// The p-norm over `dims` for p = 1, 2 or std::numeric_limits<double>::infinity() (max |x|).
// The 2-norm's gradient at x = 0 is 0. Floating only.
Tensor norm(const Tensor& x, double p = 2.0, const Dims& dims = {}, bool keepdim = false);

// Inclusive prefix sums along `dim`, same shape and dtype as x. Not for bool.
Tensor cumsum(const Tensor& x, int64_t dim);
// exp(x) / sum(exp(x)) along `dim`, and its logarithm, computed stably (the maximum of each line
// is subtracted first). Floating only.
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// Sums `grad` down to `shape`, undoing NumPy broadcasting (used by every broadcasting backward).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Helpers shared by reduction ops: normalised, sorted, de-duplicated dims (all when empty), the
// permutation that moves them last, and the output shape.
struct ReducePlan {
  Dims dims;         // reduced dims, sorted
  Dims permutation;  // kept dims, then reduced dims
  Shape out_shape;   // without keepdim
  Shape keep_shape;  // with size-1 reduced dims
  int64_t reduced_numel = 1;
};
ReducePlan plan_reduction(const char* op, const Tensor& x, const Dims& dims);

}  // namespace stackgrad
