// Index helpers for the reference kernels: plain, obviously correct, no cleverness.
#pragma once

#include <cstdint>

#include "engine/dispatch/kernel.h"

namespace stackgrad::kernels {

// Element offset (from t.data) of the i-th element of t in C order.
inline int64_t ref_offset(int64_t i, const TensorArg& t) {
  int64_t off = 0;
  for (int d = t.ndim - 1; d >= 0; --d) {
    int64_t n = t.shape[d];
    off += (i % n) * t.strides[d];
    i /= n;
  }
  return off;
}

// The i-th element of t in C order.
template <typename T>
inline T& ref_at(const TensorArg& t, int64_t i) {
  return t.ptr<T>()[ref_offset(i, t)];
}

// Element offset of the index-th matrix of a batched [..., M, N] argument (batch dims in C order;
// stride-0 batch dims from broadcasting work too).
inline int64_t batch_offset(int64_t index, const TensorArg& t) {
  int64_t off = 0;
  for (int d = t.ndim - 3; d >= 0; --d) {
    off += (index % t.shape[d]) * t.strides[d];
    index /= t.shape[d];
  }
  return off;
}

// The type reference kernels compute in: double for floating types, the type itself otherwise.
template <typename T>
using ref_compute_t = std::conditional_t<std::is_floating_point_v<T>, double, T>;

}  // namespace stackgrad::kernels
