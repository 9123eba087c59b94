// Loop skeletons for the fast CPU kernels: a contiguous path that the compiler vectorises and
// a strided path that walks rows of the innermost dim, both split over parallel_for. All
// arguments of one call share the output's shape (the op layer expands broadcast inputs to
// stride-0 views first).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "engine/dispatch/kernel.h"
#include "engine/runtime/parallel.h"

namespace stackgrad::kernels {

constexpr int64_t kElementwiseGrain = 32768;

// Outputs of at least kStreamBytes (the last-level cache of the development machine) cannot stay
// in cache for the next op anyway, so the contiguous paths write them with non-temporal stores:
// a plain store first reads the line it writes (read-for-ownership), a third of an add's
// traffic. Each chunk computes kStreamTile bytes at a time into an L1-resident tile with the
// same code as the cached path (so the bits are the same) and streams the tile out.
constexpr int64_t kStreamBytes = int64_t{32} << 20;
constexpr int64_t kStreamTile = 8192;

// body(lo, hi, dst) computes outputs [lo, hi) into dst[0, hi - lo). Runs it over [lo, hi) of y,
// through tiles streamed to y where `stream` is set and the target has AVX.
template <typename T, typename Body>
void write_chunk(T* y, int64_t lo, int64_t hi, bool stream, Body body) {
#if defined(__AVX__)
  if (stream) {
    constexpr int64_t kTile = kStreamTile / static_cast<int64_t>(sizeof(T));
    alignas(32) T tile[kTile];
    int64_t i = lo;
    const int64_t head = std::min<int64_t>(
        hi - lo, ((32 - reinterpret_cast<uintptr_t>(y + lo) % 32) % 32) / sizeof(T));
    if (head > 0) body(i, i + head, y + i);  // up to the first 32-byte boundary of y
    i += head;
    if (reinterpret_cast<uintptr_t>(y + i) % 32 == 0) {
      for (; i + kTile <= hi; i += kTile) {
        body(i, i + kTile, tile);
        for (size_t b = 0; b < sizeof(tile); b += 32)
          _mm256_stream_si256(reinterpret_cast<__m256i*>(reinterpret_cast<char*>(y + i) + b),
                              _mm256_load_si256(reinterpret_cast<const __m256i*>(
                                  reinterpret_cast<const char*>(tile) + b)));
      }
      _mm_sfence();  // this thread's streamed lines are visible before the join
    }
    if (i < hi) body(i, hi, y + i);
    return;
  }
#endif
  (void)stream;
  body(lo, hi, y + lo);
}

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
  parallel_for(0, rows, std::max<int64_t>(1, kElementwiseGrain / inner),
               [&](int64_t lo, int64_t hi) {
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
  const bool stream = n * static_cast<int64_t>(sizeof(T)) >= kStreamBytes;
  // Two vectors a step: vf is a long dependency chain (exp's polynomial), and two independent
  // chains keep the FMA units busy while loads are in flight.
  auto body = [&](int64_t lo, int64_t hi, T* dst) {
    int64_t i = lo;
    for (; i + 2 * kL <= hi; i += 2 * kL) {
      V a, b;
      std::memcpy(&a, x + i, sizeof(V));
      std::memcpy(&b, x + i + kL, sizeof(V));
      a = vf(a);
      b = vf(b);
      std::memcpy(dst + (i - lo), &a, sizeof(V));
      std::memcpy(dst + (i - lo) + kL, &b, sizeof(V));
    }
    for (; i + kL <= hi; i += kL) {
      V v;
      std::memcpy(&v, x + i, sizeof(V));
      v = vf(v);
      std::memcpy(dst + (i - lo), &v, sizeof(V));
    }
    if (i < hi) {
      const auto m = static_cast<size_t>(hi - i) * sizeof(T);
      V v = {};
      std::memcpy(&v, x + i, m);
      v = vf(v);
      std::memcpy(dst + (i - lo), &v, m);
    }
  };
  parallel_for(0, n, kElementwiseGrain,
               [&](int64_t lo, int64_t hi) { write_chunk(y, lo, hi, stream, body); });
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
      const bool stream = n * static_cast<int64_t>(sizeof(Tout)) >= kStreamBytes;
      parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        write_chunk(z, lo, hi, stream, [&](int64_t l, int64_t h, Tout* dst) {
          for (int64_t i = l; i < h; ++i) dst[i - l] = f(x[i], y[i]);
        });
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
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / inner);
  if (sa == 1 && sb == 1 && so == 1) {
    // Rows are contiguous in every operand (a broadcast row or column block): unit-stride loops
    // the compiler vectorises without runtime stride checks, streamed when the output is large.
    const bool stream =
        out.is_contiguous() && n * static_cast<int64_t>(sizeof(Tout)) >= kStreamBytes;
    parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const Ta* xr = x + row_offset(r, a);
        const Tb* yr = y + row_offset(r, b);
        write_chunk(z + row_offset(r, out), 0, inner, stream, [&](int64_t l, int64_t h, Tout* dst) {
          for (int64_t i = l; i < h; ++i) dst[i - l] = f(xr[i], yr[i]);
        });
      }
    });
    return;
  }
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const Ta* xr = x + row_offset(r, a);
      const Tb* yr = y + row_offset(r, b);
      Tout* zr = z + row_offset(r, out);
      for (int64_t i = 0; i < inner; ++i) zr[i * so] = f(xr[i * sa], yr[i * sb]);
    }
  });
}

}  // namespace stackgrad::kernels
