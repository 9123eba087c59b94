// What a kernel sees: raw pointers, dtypes, shapes and strides (in elements), and attributes.
// Kernels never see a Tensor; this header is the whole contract between engine/ and kernels/.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/dtype.h"
#include "engine/core/shape.h"

namespace stackgrad {

struct TensorArg {
  void* data = nullptr;  // first element (offset already applied)
  DType dtype = DType::f32;
  int ndim = 0;
  int64_t numel = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  template <typename T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
  bool is_contiguous() const {
    if (numel == 0) return true;
    int64_t expected = 1;
    for (int d = ndim - 1; d >= 0; --d) {
      if (shape[d] != 1 && strides[d] != expected) return false;
      expected *= shape[d];
    }
    return true;
  }
};

// Attributes of one call. Each op documents which fields it reads.
struct OpAttrs {
  double alpha = 0.0, beta = 0.0;  // scalar parameters (slopes, bounds, exponents, probabilities)
  int64_t dim = 0, k = 0;          // a dimension, a count
  int64_t mode = 0;                // an op-specific enum (e.g. padding mode, reduction)
  bool flag = false;               // an op-specific switch (e.g. keepdim, descending, upper)
  bool flag2 = false;
  uint64_t seed = 0, offset = 0;   // Philox key and counter offset
  std::vector<int64_t> ints;       // op-specific integer lists (dims, paddings)
};

struct KernelCall {
  std::span<const TensorArg> in;
  std::span<const TensorArg> out;
  const OpAttrs& attrs;
};

using KernelFn = void (*)(const KernelCall&);

}  // namespace stackgrad
