// Loop skeletons for the fast CPU kernels: a contiguous path that the compiler vectorises and
// a strided path that walks rows of the innermost dim, both split over parallel_for. All
// arguments of one call share the output's shape (the op layer expands broadcast inputs to
// stride-0 views first).
#pragma once

#include <cstdint>
#include <cstring>

#include "engine/dispatch/kernel.h"
#include "engine/runtime/parallel.h"

namespace stackgrad::kernels {

constexpr int64_t kElementwiseGrain = 32768;

// Offset of the first element of row `row` (rows enumerate all dims but the last, C order).
inline int64_t row_offset(int64_t row, const TensorArg& t) {
  int64_t off = 0;
  for (int d = t.ndim - 2; d >= 0; --d) {
    int64_t n = t.shape[d];
    off += (row % n) * t.strides[d];
    row /= n;
  }
  return off;
}

inline int64_t inner_size(const TensorArg& t) { return t.ndim == 0 ? 1 : t.shape[t.ndim - 1]; }
inline int64_t inner_stride(const TensorArg& t) { return t.ndim == 0 ? 1 : t.strides[t.ndim - 1]; }

// y = f(x) elementwise.
template <typename Tin, typename Tout, typename F>
void map_unary(const TensorArg& in, const TensorArg& out, F f) {
  const Tin* x = in.ptr<Tin>();
  Tout* y = out.ptr<Tout>();
  const int64_t n = out.numel;
  if (n == 0) return;
  if (in.is_contiguous() && out.is_contiguous()) {
    parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) y[i] = f(x[i]);
    });
    return;
  }
  const int64_t inner = inner_size(out), rows = n / inner;
  const int64_t sx = inner_stride(in), sy = inner_stride(out);
  parallel_for(0, rows, std::max<int64_t>(1, kElementwiseGrain / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const Tin* xr = x + row_offset(r, in);
      Tout* yr = y + row_offset(r, out);
      for (int64_t i = 0; i < inner; ++i) yr[i * sy] = f(xr[i * sx]);
    }
  });
}

// y = f(x) elementwise with a vector body on contiguous data: vf maps a vector V of kL values of
// T at a time, and the last partial vector of each chunk goes through vf too (zero-padded), so
// every element sees the same math. Strided tensors take f, one element at a time.
template <typename T, typename V, typename VF, typename F>
void map_unary_vec(const TensorArg& in, const TensorArg& out, VF vf, F f) {
  constexpr int64_t kL = sizeof(V) / sizeof(T);
  const int64_t n = out.numel;
  if (n == 0) return;
  if (!(in.is_contiguous() && out.is_contiguous())) {
    map_unary<T, T>(in, out, f);
    return;
  }
  const T* x = in.ptr<T>();
  T* y = out.ptr<T>();
  parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    int64_t i = lo;
    for (; i + kL <= hi; i += kL) {
      V v;
      std::memcpy(&v, x + i, sizeof(V));
      v = vf(v);
      std::memcpy(y + i, &v, sizeof(V));
    }
    if (i < hi) {
      const auto m = static_cast<size_t>(hi - i) * sizeof(T);
      V v = {};
      std::memcpy(&v, x + i, m);
      v = vf(v);
      std::memcpy(y + i, &v, m);
    }
  });
}

// z = f(x, y) elementwise; fast paths for all-contiguous and for a scalar (all-stride-0) operand.
template <typename Ta, typename Tb, typename Tout, typename F>
void map_binary(const TensorArg& a, const TensorArg& b, const TensorArg& out, F f) {
  const Ta* x = a.ptr<Ta>();
  const Tb* y = b.ptr<Tb>();
  Tout* z = out.ptr<Tout>();
  const int64_t n = out.numel;
  if (n == 0) return;
  auto is_scalar = [](const TensorArg& t) {
    for (int d = 0; d < t.ndim; ++d)
      if (t.shape[d] != 1 && t.strides[d] != 0) return false;
    return true;
  };
  if (out.is_contiguous()) {
    if (a.is_contiguous() && b.is_contiguous()) {
      parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) z[i] = f(x[i], y[i]);
      });
      return;
    }
    if (a.is_contiguous() && is_scalar(b)) {
      const Tb s = *y;
      parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) z[i] = f(x[i], s);
      });
      return;
    }
    if (is_scalar(a) && b.is_contiguous()) {
      const Ta s = *x;
      parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) z[i] = f(s, y[i]);
      });
      return;
    }
  }
  const int64_t inner = inner_size(out), rows = n / inner;
  const int64_t sa = inner_stride(a), sb = inner_stride(b), so = inner_stride(out);
  parallel_for(0, rows, std::max<int64_t>(1, kElementwiseGrain / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const Ta* xr = x + row_offset(r, a);
      const Tb* yr = y + row_offset(r, b);
      Tout* zr = z + row_offset(r, out);
      for (int64_t i = 0; i < inner; ++i) zr[i * so] = f(xr[i * sa], yr[i * sb]);
    }
  });
}

}  // namespace stackgrad::kernels
