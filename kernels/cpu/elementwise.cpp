// Fast CPU elementwise kernels: the loop skeletons of kernels/cpu/loops.h around the shared
// scalar math, computed in the tensor's own type. exp, sigmoid, tanh and silu on contiguous f32
// and f64 tensors take a vector path instead (kernels/cpu/vec_math.h): std::exp and std::tanh
// are scalar libm calls that keep the loop scalar.
#include <algorithm>

#include "engine/dispatch/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/reference/scalar_math.h"

namespace stackgrad::kernels {
namespace {

void cpu_copy(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SG_DISPATCH_ALL_AND_HALF(in.dtype, "copy", [&] {
    using Tin = scalar_t;
    SG_DISPATCH_ALL_AND_HALF(out.dtype, "copy", [&] {
      map_unary<Tin, scalar_t>(in, out, [](Tin x) { return static_cast<scalar_t>(x); });
    });
  });
}

void cpu_fill(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  SG_DISPATCH_ALL_AND_HALF(out.dtype, "fill", [&] {
    // The source is the value itself, seen through zero strides: the output's (uninitialised)
    // contents are never read.
    const scalar_t v = static_cast<scalar_t>(c.attrs.alpha);
    TensorArg src = out;
    src.data = const_cast<scalar_t*>(&v);
    for (int d = 0; d < src.ndim; ++d) src.strides[d] = 0;
    if (out.is_contiguous()) {
      scalar_t* y = out.ptr<scalar_t>();
      parallel_for(0, out.numel, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        std::fill(y + lo, y + hi, v);
      });
    } else {
      map_unary<scalar_t, scalar_t>(src, out, [](scalar_t x) { return x; });
    }
  });
}

// The vector form of a unary functor, where one exists: kHas and apply(V) for V = F8 and D4.
template <typename F>
struct VecUnary {
  static constexpr bool kHas = false;
};
#define SG_VEC_UNARY(name, fn)                   \
  template <>                                    \
  struct VecUnary<Unary_##name> {                \
    static constexpr bool kHas = true;           \
    template <typename V>                        \
    static V apply(V x) {                        \
      return vec::fn(x);                         \
    }                                            \
  };
SG_VEC_UNARY(exp, exp)
SG_VEC_UNARY(sigmoid, sigmoid)
SG_VEC_UNARY(tanh, tanh)
SG_VEC_UNARY(silu, silu)
#undef SG_VEC_UNARY

template <typename F>
void cpu_unary(const KernelCall& c) {
  const double a = c.attrs.alpha, b = c.attrs.beta;
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "unary", [&] {
    auto f = [a, b](scalar_t x) { return F::template apply<scalar_t>(x, a, b); };
    if constexpr (VecUnary<F>::kHas && std::is_floating_point_v<scalar_t>) {
      using V = vec::Vec<scalar_t>;
      map_unary_vec<scalar_t, V>(c.in[0], c.out[0], [](V v) { return VecUnary<F>::apply(v); }, f);
    } else {
      map_unary<scalar_t, scalar_t>(c.in[0], c.out[0], f);
    }
  });
}

template <typename F>
void cpu_binary(const KernelCall& c) {
  SG_DISPATCH_ALL(c.in[0].dtype, "binary", [&] {
    using R = std::conditional_t<F::kBool, bool, scalar_t>;
    map_binary<scalar_t, scalar_t, R>(c.in[0], c.in[1], c.out[0],
                                      [](scalar_t x, scalar_t y) { return static_cast<R>(F::apply(x, y)); });
  });
}

void cpu_logical_not(const KernelCall& c) {
  SG_DISPATCH_ALL(c.in[0].dtype, "logical_not", [&] {
    map_unary<scalar_t, bool>(c.in[0], c.out[0], [](scalar_t x) { return x == scalar_t(0); });
  });
}

template <bool kAnd>
void cpu_logical_binary(const KernelCall& c) {
  SG_DISPATCH_ALL(c.in[0].dtype, "logical", [&] {
    map_binary<scalar_t, scalar_t, bool>(c.in[0], c.in[1], c.out[0], [](scalar_t x, scalar_t y) {
      return kAnd ? (x != scalar_t(0) && y != scalar_t(0)) : (x != scalar_t(0) || y != scalar_t(0));
    });
  });
}

// where(cond, a, b): blends a and b, then applies the condition row by row.
void cpu_where(const KernelCall& c) {
  const TensorArg &cond = c.in[0], &a = c.in[1], &b = c.in[2], &out = c.out[0];
  SG_DISPATCH_ALL(a.dtype, "where", [&] {
    const bool* m = cond.ptr<bool>();
    const scalar_t* x = a.ptr<scalar_t>();
    const scalar_t* y = b.ptr<scalar_t>();
    scalar_t* z = out.ptr<scalar_t>();
    if (out.numel == 0) return;
    const int64_t inner = inner_size(out), rows = out.numel / inner;
    const int64_t sm = inner_stride(cond), sa = inner_stride(a), sb = inner_stride(b), so = inner_stride(out);
    parallel_for(0, rows, std::max<int64_t>(1, kElementwiseGrain / inner), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const bool* mr = m + row_offset(r, cond);
        const scalar_t* xr = x + row_offset(r, a);
        const scalar_t* yr = y + row_offset(r, b);
        scalar_t* zr = z + row_offset(r, out);
        for (int64_t i = 0; i < inner; ++i) zr[i * so] = mr[i * sm] ? xr[i * sa] : yr[i * sb];
      }
    });
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {

void register_cpu_elementwise() {
  using namespace kernels;
  register_kernel(OpId::copy, Backend::cpu, cpu_copy);
  register_kernel(OpId::fill, Backend::cpu, cpu_fill);
#define SG_REG_UNARY(name, expr, ints) register_kernel(OpId::name, Backend::cpu, cpu_unary<Unary_##name>);
  SG_UNARY_MATH(SG_REG_UNARY)
#undef SG_REG_UNARY
#define SG_REG_BINARY(name, expr, b, ints) register_kernel(OpId::name, Backend::cpu, cpu_binary<Binary_##name>);
  SG_BINARY_MATH(SG_REG_BINARY)
#undef SG_REG_BINARY
  register_kernel(OpId::logical_not, Backend::cpu, cpu_logical_not);
  register_kernel(OpId::logical_and, Backend::cpu, cpu_logical_binary<true>);
  register_kernel(OpId::logical_or, Backend::cpu, cpu_logical_binary<false>);
  register_kernel(OpId::where, Backend::cpu, cpu_where);
}

}  // namespace stackgrad
