// RawArray: an n-d array as plain bytes, the common currency of the file parsers in engine/io.
// The parsers work on untrusted bytes only; Tensor wrappers live a layer above.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/dtype.h"

namespace stackgrad::io {

// Elements in C (row-major) order, little-endian, exactly numel * dtype_size(dtype) bytes.
// Bool elements are always 0 or 1 after parsing (other byte values would be undefined
// behaviour once read as C++ bool).
struct RawArray {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;  // () is a scalar with one element
  std::vector<uint8_t> data;

  bool operator==(const RawArray&) const = default;
};

// Product of the dims. Throws Error starting with `what` on a negative dim or int64 overflow.
int64_t checked_numel(const std::vector<int64_t>& shape, std::string_view what);

// numel * dtype_size as a byte count, with the same checks plus overflow of the multiplication.
uint64_t checked_nbytes(DType dtype, const std::vector<int64_t>& shape, std::string_view what);

// Throws unless data.size() matches the shape and dtype.
void check_raw_array(const RawArray& array, std::string_view what);

// Maps every nonzero byte to 1: the parsers apply it to bool arrays read from files.
void normalize_bool_bytes(std::vector<uint8_t>& data);

// "[2, 3]" (and "[]" for a scalar), for messages.
std::string shape_str(const std::vector<int64_t>& shape);

// 'text' in single quotes with non-printable bytes as \xNN, cut after 64 bytes: safe to put
// bytes from an untrusted file into an error message.
std::string printable_quoted(std::string_view text);

// Reads a whole file. Throws Error naming `op` and the path when it cannot.
std::vector<uint8_t> read_file_bytes(const std::string& path, std::string_view op);

// Writes bytes to a temporary file in the same folder, flushes it and renames it over `path`,
// so a failure (missing folder, full disk) never leaves a half-written file behind.
void write_file_atomic(const std::string& path, const uint8_t* bytes, size_t size,
                       std::string_view op);

}  // namespace stackgrad::io
