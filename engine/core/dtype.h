// Element types. No implicit promotion anywhere: mixing dtypes is an error naming both
// (promote_types says what an explicit conversion should aim for).
//
// bf16 and f16 are storage types (engine/core/half.h): tensors of them can be created, filled,
// copied, cast with to(dtype), moved between devices, printed and saved; math on them is not
// implemented, and every other op rejects them with "<op>: dtype bf16 not supported"
// (docs/dtypes.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/core/error.h"
#include "engine/core/half.h"

namespace stackgrad {

enum class DType : uint8_t { f32, f64, i32, i64, u8, boolean, bf16, f16 };

constexpr int kNumDTypes = 8;

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::boolean: return 1;
    case DType::bf16: return 2;
    case DType::f16: return 2;
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
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
  }
  return "?";
}

// The dtype named by dtype_name (also "float32", "float64", "int32", "int64", "uint8",
// "bfloat16", "float16", "half" as in PyTorch), or nullopt.
constexpr std::optional<DType> dtype_from_name(std::string_view s) {
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto t = static_cast<DType>(i);
    if (s == dtype_name(t)) return t;
  }
  constexpr struct {
    std::string_view name;
    DType dtype;
  } kAliases[] = {{"float32", DType::f32},  {"float64", DType::f64}, {"int32", DType::i32},
                  {"int64", DType::i64},    {"uint8", DType::u8},    {"bfloat16", DType::bf16},
                  {"float16", DType::f16},  {"half", DType::f16}};
  for (const auto& a : kAliases)
    if (s == a.name) return a.dtype;
  return std::nullopt;
}

constexpr bool is_half(DType t) { return t == DType::bf16 || t == DType::f16; }
constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64 || is_half(t); }
constexpr bool is_integral(DType t) { return t == DType::i32 || t == DType::i64 || t == DType::u8; }

// The dtype a kernel computes and accumulates in for inputs of dtype t: f32 for the half types
// (loaded as half, computed in f32, stored as half), t itself otherwise. Ops that keep
// statistics beside their output (attention's log-sum-exp) store them in this dtype.
constexpr DType accumulation_dtype(DType t) { return is_half(t) ? DType::f32 : t; }

// The dtype PyTorch's type promotion gives for an operation on a and b: bool < integers <
// floating; among integers the wider (u8 with i32 -> i32); among floats the wider, except that
// bf16 with f16 -> f32 (neither holds the other); a half type with any integer stays half.
// stackgrad never applies it implicitly: convert with to(promote_types(a, b)).
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::boolean) return b;
  if (b == DType::boolean) return a;
  if (is_floating(a) != is_floating(b)) return is_floating(a) ? a : b;
  if (is_half(a) && is_half(b)) return DType::f32;
  if (is_floating(a)) {  // two floats, at most one half: the wider one
    if (a == DType::f64 || b == DType::f64) return DType::f64;
    return DType::f32;
  }
  // Two different integer types: u8 < i32 < i64.
  if (a == DType::i64 || b == DType::i64) return DType::i64;
  return DType::i32;
}

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<Float16> { static constexpr DType value = DType::f16; };
template <typename T> constexpr DType dtype_v = dtype_of<T>::value;
// The C++ type of accumulation_dtype(dtype_v<T>): float for BFloat16 and Float16, T otherwise.
template <typename T>
using accumulation_t =
    std::conditional_t<std::is_same_v<T, BFloat16> || std::is_same_v<T, Float16>, float, T>;

}  // namespace stackgrad

namespace stackgrad {
// What a dispatch without a half kernel does with bf16 and f16 (run_kernel rejects them before
// any kernel except copy and fill runs; this is the kernels' own guard).
[[noreturn]] inline void fail_half_unsupported(std::string_view op, DType t) {
  fail(op, ": dtype ", dtype_name(t), " not supported (bf16 and f16 are storage types: convert "
       "with .to(DType::f32) first)");
}
}  // namespace stackgrad

// Dispatch on a runtime dtype to a lambda body that uses `scalar_t`.
//   SG_DISPATCH_FLOAT(t, "exp", [&] { kernel<scalar_t>(...); });
// The FLOAT, NUMERIC and ALL forms reject bf16 and f16 with "<op>: dtype bf16 not supported";
// SG_DISPATCH_ALL_AND_HALF adds them (scalar_t = BFloat16, Float16) for kernels that only move
// and convert values (copy, fill); SG_DISPATCH_FLOAT_AND_HALF is f32, f64, bf16 and f16, for the
// kernels that compute on half inputs in f32 (attention).
#define SG_DTYPE_CASE(enum_value, ctype, ...) \
  case ::stackgrad::DType::enum_value: {      \
    using scalar_t = ctype;                   \
    return __VA_ARGS__();                     \
  }

#define SG_DTYPE_HALF_UNSUPPORTED(dtype, opname) \
  case ::stackgrad::DType::bf16:                 \
  case ::stackgrad::DType::f16:                  \
    ::stackgrad::fail_half_unsupported(opname, dtype);

#define SG_DISPATCH_FLOAT(dtype, opname, ...)                                              \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      SG_DTYPE_CASE(f32, float, __VA_ARGS__)                                               \
      SG_DTYPE_CASE(f64, double, __VA_ARGS__)                                              \
      SG_DTYPE_HALF_UNSUPPORTED(dtype, opname)                                             \
      default:                                                                             \
        ::stackgrad::fail(opname, ": expected a floating dtype (f32, f64), got ",          \
                          ::stackgrad::dtype_name(dtype));                                 \
    }                                                                                      \
  }()

#define SG_DISPATCH_FLOAT_AND_HALF(dtype, opname, ...)                                     \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      SG_DTYPE_CASE(f32, float, __VA_ARGS__)                                               \
      SG_DTYPE_CASE(f64, double, __VA_ARGS__)                                              \
      SG_DTYPE_CASE(bf16, ::stackgrad::BFloat16, __VA_ARGS__)                              \
      SG_DTYPE_CASE(f16, ::stackgrad::Float16, __VA_ARGS__)                                \
      default:                                                                             \
        ::stackgrad::fail(opname, ": expected a floating dtype (f32, f64, bf16, f16), got ",\
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
      SG_DTYPE_HALF_UNSUPPORTED(dtype, opname)                                             \
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
      SG_DTYPE_HALF_UNSUPPORTED(dtype, opname)                                             \
    }                                                                                      \
    ::stackgrad::fail(opname, ": unknown dtype");                                          \
  }()

#define SG_DISPATCH_ALL_AND_HALF(dtype, opname, ...)                                       \
  [&] {                                                                                    \
    switch (dtype) {                                                                       \
      SG_DTYPE_CASE(f32, float, __VA_ARGS__)                                               \
      SG_DTYPE_CASE(f64, double, __VA_ARGS__)                                              \
      SG_DTYPE_CASE(i32, int32_t, __VA_ARGS__)                                             \
      SG_DTYPE_CASE(i64, int64_t, __VA_ARGS__)                                             \
      SG_DTYPE_CASE(u8, uint8_t, __VA_ARGS__)                                              \
      SG_DTYPE_CASE(boolean, bool, __VA_ARGS__)                                            \
      SG_DTYPE_CASE(bf16, ::stackgrad::BFloat16, __VA_ARGS__)                              \
      SG_DTYPE_CASE(f16, ::stackgrad::Float16, __VA_ARGS__)                                \
    }                                                                                      \
    ::stackgrad::fail(opname, ": unknown dtype");                                          \
  }()
