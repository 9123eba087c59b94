// The scalar math of every elementwise op, written once. Both the reference loops and the fast
// CPU loops apply these functors; they differ only in how they walk memory.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace stackgrad::kernels {

template <typename T>
inline T sigmoid_of(T x) {
  // Stable for large |x|: never exponentiates a large positive number.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

// X(name, expression in x, a, b, whether integer dtypes are allowed)
// a, b are the op's scalar attributes (alpha, beta).
#define SG_UNARY_MATH(X)                                                                      \
  X(neg, -x, true)                                                                           \
  X(abs, (x < T(0) ? -x : x), true)                                                          \
  X(sign, T((x > T(0)) - (x < T(0))), true)                                                  \
  X(relu, (x > T(0) ? x : T(0)), true)                                                       \
  X(clamp, (x < T(a) ? T(a) : (x > T(b) ? T(b) : x)), true)                                  \
  X(exp, std::exp(x), false)                                                                 \
  X(log, std::log(x), false)                                                                 \
  X(log1p, std::log1p(x), false)                                                             \
  X(sqrt, std::sqrt(x), false)                                                               \
  X(rsqrt, T(1) / std::sqrt(x), false)                                                       \
  X(sin, std::sin(x), false)                                                                 \
  X(cos, std::cos(x), false)                                                                 \
  X(tanh, std::tanh(x), false)                                                               \
  X(erf, std::erf(x), false)                                                                 \
  X(sigmoid, sigmoid_of(x), false)                                                           \
  X(leaky_relu, (x > T(0) ? x : T(a) * x), false)                                            \
  X(elu, (x > T(0) ? x : T(a) * std::expm1(x)), false)                                       \
  X(gelu, T(0.5) * x * (T(1) + std::tanh(T(0.7978845608028654) * (x + T(0.044715) * x * x * x))), \
    false)                                                                                   \
  X(gelu_erf, T(0.5) * x * (T(1) + std::erf(x * T(0.7071067811865476))), false)              \
  X(silu, x * sigmoid_of(x), false)                                                          \
  X(softplus,                                                                                \
    (T(a) * x > T(b) ? x : std::log1p(std::exp(T(a) * x)) / T(a)), false)                   \
  X(pow_scalar, std::pow(x, T(a)), false)

// X(name, expression in x and y, result is bool, integer dtypes allowed)
#define SG_BINARY_MATH(X)                            \
  X(add, x + y, false, true)                        \
  X(sub, x - y, false, true)                        \
  X(mul, x * y, false, true)                        \
  X(div, x / y, false, true)                        \
  X(pow, std::pow(x, y), false, false)              \
  X(maximum, (x > y || x != x ? x : y), false, true) \
  X(minimum, (x < y || x != x ? x : y), false, true) \
  X(eq, x == y, true, true)                         \
  X(ne, x != y, true, true)                         \
  X(lt, x < y, true, true)                          \
  X(le, x <= y, true, true)                         \
  X(gt, x > y, true, true)                          \
  X(ge, x >= y, true, true)

#define SG_DEFINE_UNARY_FUNCTOR(name, expr, ints)              \
  struct Unary_##name {                                        \
    static constexpr bool kIntegers = ints;                    \
    template <typename T>                                      \
    static T apply(T x, double a, double b) {                  \
      return expr;                                             \
    }                                                          \
  };
SG_UNARY_MATH(SG_DEFINE_UNARY_FUNCTOR)
#undef SG_DEFINE_UNARY_FUNCTOR

#define SG_DEFINE_BINARY_FUNCTOR(name, expr, to_bool, ints)                      \
  struct Binary_##name {                                                         \
    static constexpr bool kBool = to_bool;                                       \
    static constexpr bool kIntegers = ints;                                      \
    template <typename T>                                                        \
    static auto apply(T x, T y) {                                                \
      if constexpr (to_bool) return static_cast<bool>(expr);                     \
      else return static_cast<T>(expr);                                          \
    }                                                                            \
  };
SG_BINARY_MATH(SG_DEFINE_BINARY_FUNCTOR)
#undef SG_DEFINE_BINARY_FUNCTOR

}  // namespace stackgrad::kernels
