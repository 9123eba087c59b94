// Element types. No implicit promotion anywhere: mixing dtypes is an error naming both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/core/error.h"

namespace stackgrad {

enum class DType : uint8_t { f32, f64, i32, i64, u8, boolean };

constexpr int kNumDTypes = 6;

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::boolean: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
    case DType::boolean: return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
constexpr bool is_integral(DType t) { return t == DType::i32 || t == DType::i64 || t == DType::u8; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
template <typename T> constexpr DType dtype_v = dtype_of<T>::value;

}  // namespace stackgrad

// Dispatch on a runtime dtype to a lambda body that uses `scalar_t`.
//   SG_DISPATCH_FLOAT(t, "exp", [&] { kernel<scalar_t>(...); });
#define SG_DTYPE_CASE(enum_value, ctype, ...) \
  case ::stackgrad::DType::enum_value: {      \
    using scalar_t = ctype;                   \
    return __VA_ARGS__();                     \
  }

#define SG_DISPATCH_FLOAT(dtype, opname, ...)                                              \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      SG_DTYPE_CASE(f32, float, __VA_ARGS__)                                               \
      SG_DTYPE_CASE(f64, double, __VA_ARGS__)                                              \
      default:                                                                             \
        ::stackgrad::fail(opname, ": expected a floating dtype (f32, f64), got ",          \
                          ::stackgrad::dtype_name(dtype));                                 \
    }                                                                                      \
  }()

#define SG_DISPATCH_NUMERIC(dtype, opname, ...)                                            \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      SG_DTYPE_CASE(f32, float, __VA_ARGS__)                                               \
      SG_DTYPE_CASE(f64, double, __VA_ARGS__)                                              \
      SG_DTYPE_CASE(i32, int32_t, __VA_ARGS__)                                             \
      SG_DTYPE_CASE(i64, int64_t, __VA_ARGS__)                                             \
      SG_DTYPE_CASE(u8, uint8_t, __VA_ARGS__)                                              \
      default:                                                                             \
        ::stackgrad::fail(opname, ": expected a numeric dtype, got ",                      \
                          ::stackgrad::dtype_name(dtype));                                 \
    }                                                                                      \
  }()

#define SG_DISPATCH_ALL(dtype, opname, ...)                                                \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      SG_DTYPE_CASE(f32, float, __VA_ARGS__)                                               \
      SG_DTYPE_CASE(f64, double, __VA_ARGS__)                                              \
      SG_DTYPE_CASE(i32, int32_t, __VA_ARGS__)                                             \
      SG_DTYPE_CASE(i64, int64_t, __VA_ARGS__)                                             \
      SG_DTYPE_CASE(u8, uint8_t, __VA_ARGS__)                                              \
      SG_DTYPE_CASE(boolean, bool, __VA_ARGS__)                                            \
    }                                                                                      \
    ::stackgrad::fail(opname, ": unknown dtype");                                          \
  }()
