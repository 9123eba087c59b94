// Reference elementwise kernels: one flat loop over C-order indices, math in double for
// floating types (kernels/reference/scalar_math.h).
#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"
#include "kernels/reference/scalar_math.h"

namespace stackgrad::kernels {
namespace {

void ref_copy(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SG_DISPATCH_ALL_AND_HALF(in.dtype, "copy", [&] {
    using Tin = scalar_t;
    SG_DISPATCH_ALL_AND_HALF(out.dtype, "copy", [&] {
      for (int64_t i = 0; i < out.numel; ++i)
        ref_at<scalar_t>(out, i) = static_cast<scalar_t>(ref_at<Tin>(in, i));
    });
  });
}

void ref_fill(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  SG_DISPATCH_ALL_AND_HALF(out.dtype, "fill", [&] {
    for (int64_t i = 0; i < out.numel; ++i) ref_at<scalar_t>(out, i) = static_cast<scalar_t>(c.attrs.alpha);
  });
}

template <typename F>
void ref_unary(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SG_DISPATCH_NUMERIC(in.dtype, "unary", [&] {
    using C = ref_compute_t<scalar_t>;
    for (int64_t i = 0; i < out.numel; ++i)
      ref_at<scalar_t>(out, i) = static_cast<scalar_t>(
          F::template apply<C>(static_cast<C>(ref_at<scalar_t>(in, i)), c.attrs.alpha, c.attrs.beta));
  });
}

template <typename F>
void ref_binary(const KernelCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &out = c.out[0];
  SG_DISPATCH_ALL(a.dtype, "binary", [&] {
    using C = ref_compute_t<scalar_t>;
    for (int64_t i = 0; i < out.numel; ++i) {
      auto r = F::template apply<C>(static_cast<C>(ref_at<scalar_t>(a, i)),
                                    static_cast<C>(ref_at<scalar_t>(b, i)));
      if constexpr (F::kBool) ref_at<bool>(out, i) = r;
      else ref_at<scalar_t>(out, i) = static_cast<scalar_t>(r);
    }
  });
}

template <typename T>
bool truthy(const TensorArg& t, int64_t i) {
  return ref_at<T>(t, i) != T(0);
}

void ref_logical_not(const KernelCall& c) {
  SG_DISPATCH_ALL(c.in[0].dtype, "logical_not", [&] {
    for (int64_t i = 0; i < c.out[0].numel; ++i) ref_at<bool>(c.out[0], i) = !truthy<scalar_t>(c.in[0], i);
  });
}

template <bool kAnd>
void ref_logical_binary(const KernelCall& c) {
  SG_DISPATCH_ALL(c.in[0].dtype, "logical", [&] {
    for (int64_t i = 0; i < c.out[0].numel; ++i) {
      bool x = truthy<scalar_t>(c.in[0], i), y = truthy<scalar_t>(c.in[1], i);
      ref_at<bool>(c.out[0], i) = kAnd ? (x && y) : (x || y);
    }
  });
}

void ref_where(const KernelCall& c) {
  const TensorArg &cond = c.in[0], &a = c.in[1], &b = c.in[2], &out = c.out[0];
  SG_DISPATCH_ALL(a.dtype, "where", [&] {
    for (int64_t i = 0; i < out.numel; ++i)
      ref_at<scalar_t>(out, i) = ref_at<bool>(cond, i) ? ref_at<scalar_t>(a, i) : ref_at<scalar_t>(b, i);
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {

void register_reference_elementwise() {
  using namespace kernels;
  register_kernel(OpId::copy, Backend::reference, ref_copy);
  register_kernel(OpId::fill, Backend::reference, ref_fill);
#define SG_REG_UNARY(name, expr, ints) register_kernel(OpId::name, Backend::reference, ref_unary<Unary_##name>);
  SG_UNARY_MATH(SG_REG_UNARY)
#undef SG_REG_UNARY
#define SG_REG_BINARY(name, expr, b, ints) register_kernel(OpId::name, Backend::reference, ref_binary<Binary_##name>);
  SG_BINARY_MATH(SG_REG_BINARY)
#undef SG_REG_BINARY
  register_kernel(OpId::logical_not, Backend::reference, ref_logical_not);
  register_kernel(OpId::logical_and, Backend::reference, ref_logical_binary<true>);
  register_kernel(OpId::logical_or, Backend::reference, ref_logical_binary<false>);
  register_kernel(OpId::where, Backend::reference, ref_where);
}

}  // namespace stackgrad
