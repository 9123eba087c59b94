// safetensors files (https://github.com/huggingface/safetensors), read from untrusted bytes.
//
// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the byte
// buffer that follows the header) plus an optional "__metadata__" object of string values,
// then the byte buffer.
//
// Accepted dtypes: F32 F64 I32 I64 U8 BOOL BF16 F16. Rejected with a stackgrad::Error that starts with
// `what` (the file name) and names the problem:
//   - N larger than the file or than 100,000,000 bytes (the reference implementation's limit);
//   - a header that is not strict JSON or not UTF-8, a top level that is not an object,
//     duplicate tensor names or duplicate fields, unknown fields in a tensor entry,
//     non-string metadata values;
//   - other dtypes: known ones (I8, U16, F8_E4M3, ...) as unsupported, anything else as unknown;
//   - shapes and offsets that are not non-negative integers, shape products that overflow,
//     end < begin, offsets past the buffer, end - begin != numel * itemsize;
//   - overlapping tensors, holes between tensors and bytes after the last tensor: as in the
//     reference implementation, the tensors must cover the byte buffer exactly.
// Bool elements are normalized to 0/1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/raw_array.h"

namespace stackgrad::io {

struct SafetensorsFile {
  // In the order of their data in the file (by data_offsets; zero-size tensors that share an
  // offset keep their header order). encode_safetensors lays data out in this vector's order.
  std::vector<std::pair<std::string, RawArray>> tensors;
  std::map<std::string, std::string> metadata;

  bool operator==(const SafetensorsFile&) const = default;
};

// Largest header accepted, as in the reference implementation.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

SafetensorsFile parse_safetensors(const uint8_t* bytes, size_t size, const std::string& what);

// Header padded with spaces to a multiple of 8 bytes; "__metadata__" first, omitted if empty.
// Throws on duplicate or reserved names, names that are not UTF-8 and inconsistent arrays.
std::vector<uint8_t> encode_safetensors(const SafetensorsFile& file);

SafetensorsFile read_safetensors(const std::string& path);

// Writes atomically (temporary file in the same folder, then rename).
void write_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace stackgrad::io
