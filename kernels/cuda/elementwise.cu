// CUDA elementwise kernels: copy (with dtype cast), fill, the unary and binary math of
// kernels/reference/scalar_math.h, logical ops and where. The math is the same X-macro list as
// the reference and CPU kernels, instantiated as device functors here; like the CPU kernels
// (and unlike the reference, which uses double) it computes in the tensor's own type. The loops
// are kernels/cuda/loops.cuh: vectorised when every operand is contiguous and aligned, strided
// (broadcast inputs have stride 0) otherwise.
//
// Limits: integer division by zero is undefined (as on the CPU); unary math marked "no
// integers" in scalar_math.h is not instantiated for integer dtypes and fails with the op's
// name instead.
#include <type_traits>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/reference/scalar_math.h"

namespace stackgrad::kernels::gpu {
namespace {

// Same expression as the host sigmoid_of (scalar_math.h); found first by the functors below.
template <typename T>
__device__ __forceinline__ T sigmoid_of(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

#define SG_CUDA_UNARY_FUNCTOR(name, expr, ints)                   \
  struct Unary_##name {                                           \
    static constexpr bool kIntegers = ints;                       \
    template <typename T>                                         \
    __device__ __forceinline__ static T apply(T x, double a, double b) { \
      return expr;                                                \
    }                                                             \
  };
SG_UNARY_MATH(SG_CUDA_UNARY_FUNCTOR)
#undef SG_CUDA_UNARY_FUNCTOR

#define SG_CUDA_BINARY_FUNCTOR(name, expr, to_bool, ints)      \
  struct Binary_##name {                                       \
    static constexpr bool kBool = to_bool;                     \
    static constexpr bool kIntegers = ints;                    \
    template <typename T>                                      \
    __device__ __forceinline__ static auto apply(T x, T y) {   \
      if constexpr (to_bool) return static_cast<bool>(expr);   \
      else return static_cast<T>(expr);                        \
    }                                                          \
  };
SG_BINARY_MATH(SG_CUDA_BINARY_FUNCTOR)
#undef SG_CUDA_BINARY_FUNCTOR

// --- bodies (see loops.cuh): out is operand 0 ---------------------------------------------------

template <typename Tin, typename Tout>
struct CopyBody {
  static constexpr bool kHasPack = true;
  const Tin* x;
  Tout* y;
  __device__ void linear(int64_t i) const { y[i] = static_cast<Tout>(x[i]); }
  __device__ void strided(const int64_t* o) const { y[o[0]] = static_cast<Tout>(x[o[1]]); }
  __device__ void pack(int64_t v) const {
    Pack<Tin, kVec> a = load_pack(x, v);
    Pack<Tout, kVec> r;
#pragma unroll
    for (int j = 0; j < kVec; ++j) r.v[j] = static_cast<Tout>(a.v[j]);
    store_pack(y, v, r);
  }
};

template <typename T>
struct FillBody {
  static constexpr bool kHasPack = true;
  T value;
  T* y;
  __device__ void linear(int64_t i) const { y[i] = value; }
  __device__ void strided(const int64_t* o) const { y[o[0]] = value; }
  __device__ void pack(int64_t v) const {
    Pack<T, kVec> r;
#pragma unroll
    for (int j = 0; j < kVec; ++j) r.v[j] = value;
    store_pack(y, v, r);
  }
};

template <typename F, typename T>
struct UnaryBody {
  static constexpr bool kHasPack = true;
  const T* x;
  T* y;
  double a, b;
  __device__ T f(T v) const { return F::template apply<T>(v, a, b); }
  __device__ void linear(int64_t i) const { y[i] = f(x[i]); }
  __device__ void strided(const int64_t* o) const { y[o[0]] = f(x[o[1]]); }
  __device__ void pack(int64_t v) const {
    Pack<T, kVec> p = load_pack(x, v);
#pragma unroll
    for (int j = 0; j < kVec; ++j) p.v[j] = f(p.v[j]);
    store_pack(y, v, p);
  }
};

// R is bool for comparisons, T otherwise. Op(x, y) -> R; used for the math and logical ops.
template <typename Op, typename T, typename R>
struct BinaryBody {
  static constexpr bool kHasPack = true;
  const T* x;
  const T* y;
  R* z;
  __device__ void linear(int64_t i) const { z[i] = Op::apply(x[i], y[i]); }
  __device__ void strided(const int64_t* o) const { z[o[0]] = Op::apply(x[o[1]], y[o[2]]); }
  __device__ void pack(int64_t v) const {
    Pack<T, kVec> p = load_pack(x, v), q = load_pack(y, v);
    Pack<R, kVec> r;
#pragma unroll
    for (int j = 0; j < kVec; ++j) r.v[j] = Op::apply(p.v[j], q.v[j]);
    store_pack(z, v, r);
  }
};

template <typename F>
struct MathOp {
  template <typename T>
  __device__ static auto apply(T x, T y) {
    using R = std::conditional_t<F::kBool, bool, T>;
    return static_cast<R>(F::apply(x, y));
  }
};

template <bool kAnd>
struct LogicalOp {
  template <typename T>
  __device__ static bool apply(T x, T y) {
    return kAnd ? (x != T(0) && y != T(0)) : (x != T(0) || y != T(0));
  }
};

template <typename T>
struct LogicalNotBody {
  static constexpr bool kHasPack = true;
  const T* x;
  bool* y;
  __device__ void linear(int64_t i) const { y[i] = x[i] == T(0); }
  __device__ void strided(const int64_t* o) const { y[o[0]] = x[o[1]] == T(0); }
  __device__ void pack(int64_t v) const {
    Pack<T, kVec> p = load_pack(x, v);
    Pack<bool, kVec> r;
#pragma unroll
    for (int j = 0; j < kVec; ++j) r.v[j] = p.v[j] == T(0);
    store_pack(y, v, r);
  }
};

template <typename T>
struct WhereBody {
  static constexpr bool kHasPack = true;
  const bool* m;
  const T* x;
  const T* y;
  T* z;
  __device__ void linear(int64_t i) const { z[i] = m[i] ? x[i] : y[i]; }
  __device__ void strided(const int64_t* o) const { z[o[0]] = m[o[1]] ? x[o[2]] : y[o[3]]; }
  __device__ void pack(int64_t v) const {
    Pack<bool, kVec> c = load_pack(m, v);
    Pack<T, kVec> p = load_pack(x, v), q = load_pack(y, v), r;
#pragma unroll
    for (int j = 0; j < kVec; ++j) r.v[j] = c.v[j] ? p.v[j] : q.v[j];
    store_pack(z, v, r);
  }
};

// --- kernels ------------------------------------------------------------------------------------

void cuda_copy(const KernelCall& c) { copy_strided(c.in[0], c.out[0]); }

void cuda_fill(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  SG_DISPATCH_ALL_AND_HALF(out.dtype, "fill", [&] {
    run_map<1>("fill", {&out},
               FillBody<scalar_t>{static_cast<scalar_t>(c.attrs.alpha), out.ptr<scalar_t>()});
  });
}

template <typename F>
void cuda_unary(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SG_DISPATCH_NUMERIC(in.dtype, "unary", [&] {
    if constexpr (F::kIntegers || std::is_floating_point_v<scalar_t>) {
      run_map<2>("unary", {&out, &in},
                 UnaryBody<F, scalar_t>{in.ptr<scalar_t>(), out.ptr<scalar_t>(), c.attrs.alpha,
                                        c.attrs.beta});
    } else {
      fail("unary: this op takes a floating dtype on cuda, got ", dtype_name(in.dtype));
    }
  });
}

template <typename F>
void cuda_binary(const KernelCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &out = c.out[0];
  SG_DISPATCH_ALL(a.dtype, "binary", [&] {
    if constexpr (F::kIntegers || std::is_floating_point_v<scalar_t>) {
      using R = std::conditional_t<F::kBool, bool, scalar_t>;
      run_map<3>("binary", {&out, &a, &b},
                 BinaryBody<MathOp<F>, scalar_t, R>{a.ptr<scalar_t>(), b.ptr<scalar_t>(),
                                                    out.ptr<R>()});
    } else {
      fail("binary: this op takes a floating dtype on cuda, got ", dtype_name(a.dtype));
    }
  });
}

void cuda_logical_not(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SG_DISPATCH_ALL(in.dtype, "logical_not", [&] {
    run_map<2>("logical_not", {&out, &in}, LogicalNotBody<scalar_t>{in.ptr<scalar_t>(), out.ptr<bool>()});
  });
}

template <bool kAnd>
void cuda_logical_binary(const KernelCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &out = c.out[0];
  SG_DISPATCH_ALL(a.dtype, "logical", [&] {
    run_map<3>("logical", {&out, &a, &b},
               BinaryBody<LogicalOp<kAnd>, scalar_t, bool>{a.ptr<scalar_t>(), b.ptr<scalar_t>(),
                                                           out.ptr<bool>()});
  });
}

void cuda_where(const KernelCall& c) {
  const TensorArg &cond = c.in[0], &a = c.in[1], &b = c.in[2], &out = c.out[0];
  SG_DISPATCH_ALL(a.dtype, "where", [&] {
    run_map<4>("where", {&out, &cond, &a, &b},
               WhereBody<scalar_t>{cond.ptr<bool>(), a.ptr<scalar_t>(), b.ptr<scalar_t>(),
                                   out.ptr<scalar_t>()});
  });
}

}  // namespace

// Every pair of dtypes, half types included: the bf16/f16 conversions are the bit-exact ones of
// engine/core/half.h, so a GPU cast gives the CPU's bits.
void copy_strided(const TensorArg& in, const TensorArg& out) {
  SG_DISPATCH_ALL_AND_HALF(in.dtype, "copy", [&] {
    using Tin = scalar_t;
    SG_DISPATCH_ALL_AND_HALF(out.dtype, "copy", [&] {
      run_map<2>("copy", {&out, &in}, CopyBody<Tin, scalar_t>{in.ptr<Tin>(), out.ptr<scalar_t>()});
    });
  });
}

}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_elementwise() {
  using namespace kernels::gpu;
  register_kernel(OpId::copy, Backend::cuda, cuda_copy);
  register_kernel(OpId::fill, Backend::cuda, cuda_fill);
#define SG_REG_UNARY(name, expr, ints) register_kernel(OpId::name, Backend::cuda, cuda_unary<Unary_##name>);
  SG_UNARY_MATH(SG_REG_UNARY)
#undef SG_REG_UNARY
#define SG_REG_BINARY(name, expr, b, ints) register_kernel(OpId::name, Backend::cuda, cuda_binary<Binary_##name>);
  SG_BINARY_MATH(SG_REG_BINARY)
#undef SG_REG_BINARY
  register_kernel(OpId::logical_not, Backend::cuda, cuda_logical_not);
  register_kernel(OpId::logical_and, Backend::cuda, cuda_logical_binary<true>);
  register_kernel(OpId::logical_or, Backend::cuda, cuda_logical_binary<false>);
  register_kernel(OpId::where, Backend::cuda, cuda_where);
}

}  // namespace stackgrad
