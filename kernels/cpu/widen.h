// Half inputs for an f32 CPU kernel: run_widened(c, kernel) calls `kernel` with every bf16 and
// f16 argument of `c` replaced by an f32 copy, then rounds the f32 results back into the half
// outputs (to nearest, ties to even, once). Arguments of other dtypes pass through untouched.
//
// This is "load half, compute in f32, store half" for kernels with no half code of their own.
// The copies keep broadcast (stride-0) dims broadcast, so an expanded [B, H, Lq, Lk] mask costs
// only the memory of the tensor it was expanded from; every other dim is laid out contiguously.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/dtype.h"
#include "engine/dispatch/kernel.h"

namespace stackgrad::kernels {

namespace widen_detail {

// Calls f(src_offset, dst_offset) for every element of `src` outside its broadcast dims, with
// `dst` the compact f32 layout made by compact().
template <typename F>
void for_each_element(const TensorArg& src, const TensorArg& dst, F&& f) {
  if (src.numel == 0) return;
  int64_t idx[kMaxDims] = {};
  int64_t so = 0, d_o = 0;
  while (true) {
    f(so, d_o);
    int d = src.ndim - 1;
    for (; d >= 0; --d) {
      if (dst.strides[d] == 0) continue;  // broadcast: visited once
      if (++idx[d] < src.shape[d]) {
        so += src.strides[d];
        d_o += dst.strides[d];
        break;
      }
      so -= (src.shape[d] - 1) * src.strides[d];
      d_o -= (src.shape[d] - 1) * dst.strides[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// `a` as f32 in `buf`: the same shape, stride 0 where `a` broadcasts, contiguous elsewhere.
inline TensorArg compact(const TensorArg& a, std::vector<float>& buf) {
  TensorArg w = a;
  w.dtype = DType::f32;
  int64_t n = 1;
  for (int d = a.ndim - 1; d >= 0; --d) {
    if (a.strides[d] == 0 && a.shape[d] > 1) {
      w.strides[d] = 0;
    } else {
      w.strides[d] = n;
      n *= a.shape[d];
    }
  }
  buf.assign(a.numel == 0 ? 0 : static_cast<size_t>(n), 0.0f);
  w.data = buf.data();
  return w;
}

template <typename H>
void widen(const TensorArg& src, const TensorArg& dst) {
  const H* s = src.ptr<H>();
  float* o = dst.ptr<float>();
  for_each_element(src, dst, [&](int64_t so, int64_t d_o) { o[d_o] = static_cast<float>(s[so]); });
}

template <typename H>
void narrow(const TensorArg& src, const TensorArg& dst) {
  H* o = dst.ptr<H>();
  const float* s = src.ptr<float>();
  for_each_element(dst, src, [&](int64_t d_o, int64_t so) { o[d_o] = H(s[so]); });
}

}  // namespace widen_detail

template <typename Kernel>
void run_widened(const KernelCall& c, Kernel&& kernel) {
  using namespace widen_detail;
  std::vector<std::vector<float>> buffers(c.in.size() + c.out.size());
  std::vector<TensorArg> in(c.in.begin(), c.in.end()), out(c.out.begin(), c.out.end());
  size_t next = 0;
  for (TensorArg& a : in) {
    if (!is_half(a.dtype) || a.data == nullptr) continue;
    const TensorArg w = compact(a, buffers[next++]);
    if (a.dtype == DType::bf16) widen<BFloat16>(a, w);
    else widen<Float16>(a, w);
    a = w;
  }
  for (TensorArg& a : out)
    if (is_half(a.dtype)) a = compact(a, buffers[next++]);
  kernel(KernelCall{in, out, c.attrs});
  for (size_t i = 0; i < out.size(); ++i) {
    const TensorArg& o = c.out[i];
    if (o.dtype == DType::bf16) narrow<BFloat16>(out[i], o);
    if (o.dtype == DType::f16) narrow<Float16>(out[i], o);
  }
}

}  // namespace stackgrad::kernels
