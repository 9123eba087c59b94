#include "engine/io/safetensors.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>
#include <string_view>

#include "engine/core/error.h"
#include "engine/io/json_min.h"

namespace stackgrad::io {
namespace {

constexpr std::string_view kMetadataKey = "__metadata__";

struct DTypeName {
  std::string_view name;
  DType dtype;
};
constexpr DTypeName kDTypeNames[] = {
    {"F32", DType::f32}, {"F64", DType::f64},      {"I32", DType::i32},   {"I64", DType::i64},
    {"U8", DType::u8},   {"BOOL", DType::boolean}, {"BF16", DType::bf16}, {"F16", DType::f16}};
// Defined by the format but without a stackgrad dtype.
constexpr std::string_view kUnsupportedNames[] = {
    "I8",      "I16",     "U16",     "U32",     "U64", "C64", "F8_E4M3",
    "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "E8M0"};
constexpr const char* kSupportedList = "supported: F32, F64, I32, I64, U8, BOOL, BF16, F16";

std::string_view name_of(DType dtype) {
  for (const DTypeName& entry : kDTypeNames) {
    if (entry.dtype == dtype) return entry.name;
  }
  fail("safetensors: unknown dtype");
}

// One header entry as read, before the buffer checks.
struct Entry {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

DType parse_dtype(const std::string& text, const std::string& where) {
  for (const DTypeName& entry : kDTypeNames) {
    if (entry.name == text) return entry.dtype;
  }
  for (std::string_view name : kUnsupportedNames) {
    SG_CHECK(name != text, where, ": unsupported dtype ", printable_quoted(text), " (",
             kSupportedList, ")");
  }
  fail(where, ": unknown dtype ", printable_quoted(text), " (", kSupportedList, ")");
}

Entry parse_entry(JsonReader& json, std::string name, const std::string& what) {
  Entry entry;
  entry.name = std::move(name);
  const std::string where = str_cat(what, ": tensor ", printable_quoted(entry.name));
  // Messages raised by the JSON reader get the tensor name and the header byte position.
  const std::string label = str_cat("tensor ", printable_quoted(entry.name));
  const std::string dim_label = label + ": a shape dimension";
  const std::string offset_label = label + ": a data offset";
  auto expect_kind = [&](JsonReader::Kind expected, const char* thing) {
    const auto got = json.peek();
    if (got != expected) {
      json.error(str_cat(label, thing, " must be ", json_kind_name(expected), ", not ",
                         json_kind_name(got)));
    }
  };
  expect_kind(JsonReader::Kind::object, "");
  bool seen_dtype = false, seen_shape = false, seen_offsets = false;
  std::string field;
  json.begin_object();
  while (json.next_key(field)) {
    auto once = [&](bool& seen) {
      SG_CHECK(!seen, where, ": duplicate field ", printable_quoted(field));
      seen = true;
    };
    if (field == "dtype") {
      once(seen_dtype);
      expect_kind(JsonReader::Kind::string, ": dtype");
      entry.dtype = parse_dtype(json.read_string(), where);
    } else if (field == "shape") {
      once(seen_shape);
      expect_kind(JsonReader::Kind::array, ": shape");
      json.begin_array();
      while (json.next_element()) {
        const uint64_t dim = json.read_uint64(dim_label);
        SG_CHECK(dim <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), where,
                 ": shape dimension ", dim, " does not fit in int64");
        entry.shape.push_back(static_cast<int64_t>(dim));
      }
    } else if (field == "data_offsets") {
      once(seen_offsets);
      expect_kind(JsonReader::Kind::array, ": data_offsets");
      json.begin_array();
      uint64_t offsets[2] = {0, 0};
      size_t count = 0;
      while (json.next_element()) {
        const uint64_t value = json.read_uint64(offset_label);
        if (count < 2) offsets[count] = value;
        ++count;
      }
      SG_CHECK(count == 2, where, ": data_offsets must hold exactly 2 integers, got ", count);
      entry.begin = offsets[0];
      entry.end = offsets[1];
    } else {
      fail(where, ": unexpected field ", printable_quoted(field),
           " (expected dtype, shape, data_offsets)");
    }
  }
  SG_CHECK(seen_dtype, where, ": missing field 'dtype'");
  SG_CHECK(seen_shape, where, ": missing field 'shape'");
  SG_CHECK(seen_offsets, where, ": missing field 'data_offsets'");
  return entry;
}

void parse_metadata(JsonReader& json, std::map<std::string, std::string>& metadata,
                    const std::string& what) {
  if (json.peek() == JsonReader::Kind::null) {  // written by some tools for "no metadata"
    json.read_null();
    return;
  }
  if (json.peek() != JsonReader::Kind::object) json.error("__metadata__ must be an object");
  json.begin_object();
  std::string key;
  while (json.next_key(key)) {
    const auto kind = json.peek();
    if (kind != JsonReader::Kind::string) {
      json.error(str_cat("__metadata__ value of ", printable_quoted(key), " must be a string, not ",
                         json_kind_name(kind)));
    }
    const bool inserted = metadata.emplace(key, json.read_string()).second;
    SG_CHECK(inserted, what, ": duplicate __metadata__ key ", printable_quoted(key));
  }
}

}  // namespace

SafetensorsFile parse_safetensors(const uint8_t* bytes, size_t size, const std::string& what) {
  SG_CHECK(size >= 8, what, ": truncated safetensors file (", size,
           " bytes, shorter than the 8-byte header length)");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  SG_CHECK(header_size <= kMaxSafetensorsHeader, what, ": header length ", header_size,
           " exceeds the limit of ", kMaxSafetensorsHeader, " bytes");
  SG_CHECK(header_size <= size - 8, what, ": header length ", header_size, " exceeds the ",
           size - 8, " bytes that follow it (truncated file?)");
  const std::string_view header(reinterpret_cast<const char*>(bytes + 8),
                                static_cast<size_t>(header_size));
  const uint8_t* buffer = bytes + 8 + header_size;
  const uint64_t buffer_size = size - 8 - header_size;

  SafetensorsFile file;
  std::vector<Entry> entries;
  std::set<std::string> names;
  bool seen_metadata = false;
  JsonReader json(header, what + ": header");
  if (json.peek() != JsonReader::Kind::object) json.error("the header must be a JSON object");
  json.begin_object();
  std::string key;
  while (json.next_key(key)) {
    if (key == kMetadataKey) {
      SG_CHECK(!seen_metadata, what, ": duplicate __metadata__");
      seen_metadata = true;
      parse_metadata(json, file.metadata, what);
      continue;
    }
    SG_CHECK(names.insert(key).second, what, ": duplicate tensor name ", printable_quoted(key));
    entries.push_back(parse_entry(json, key, what));
  }
  json.finish();

  for (const Entry& e : entries) {
    const std::string where = str_cat(what, ": tensor ", printable_quoted(e.name));
    const uint64_t nbytes = checked_nbytes(e.dtype, e.shape, where);
    SG_CHECK(e.begin <= e.end, where, ": data_offsets [", e.begin, ", ", e.end,
             "] end before they begin");
    SG_CHECK(e.end <= buffer_size, where, ": data_offsets [", e.begin, ", ", e.end,
             "] run past the data buffer of ", buffer_size, " bytes");
    SG_CHECK(e.end - e.begin == nbytes, where, ": data_offsets [", e.begin, ", ", e.end, "] hold ",
             e.end - e.begin, " bytes but shape ", shape_str(e.shape), " of ", name_of(e.dtype),
             " needs ", nbytes);
  }

  // The tensors must tile the buffer: sorted by offset, each starts where the previous ended.
  std::vector<size_t> order(entries.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return entries[a].begin != entries[b].begin ? entries[a].begin < entries[b].begin
                                                : entries[a].end < entries[b].end;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (size_t index : order) {
    const Entry& e = entries[index];
    if (e.begin < covered) {
      fail(what, ": tensors ", printable_quoted(previous->name), " and ", printable_quoted(e.name),
           " overlap in the data buffer");
    }
    SG_CHECK(e.begin == covered, what, ": ", e.begin - covered,
             " bytes of the data buffer before tensor ", printable_quoted(e.name),
             " belong to no tensor (the buffer must be fully covered, as in the reference "
             "implementation)");
    covered = e.end;
    previous = &e;
  }
  SG_CHECK(covered == buffer_size, what, ": ", buffer_size - covered,
           " trailing bytes after the last tensor's data (the buffer must be fully covered, as "
           "in the reference implementation)");

  file.tensors.reserve(entries.size());
  for (size_t index : order) {
    Entry& e = entries[index];
    RawArray array{e.dtype, std::move(e.shape),
                   std::vector<uint8_t>(buffer + e.begin, buffer + e.end)};
    if (array.dtype == DType::boolean) normalize_bool_bytes(array.data);
    file.tensors.emplace_back(std::move(e.name), std::move(array));
  }
  return file;
}

std::vector<uint8_t> encode_safetensors(const SafetensorsFile& file) {
  constexpr std::string_view op = "encode_safetensors";
  std::string header = "{";
  bool need_comma = false;
  if (!file.metadata.empty()) {
    append_json_string(header, kMetadataKey, op);
    header += ":{";
    for (const auto& [key, value] : file.metadata) {
      if (need_comma) header += ',';
      append_json_string(header, key, op);
      header += ':';
      append_json_string(header, value, op);
      need_comma = true;
    }
    header += '}';
    need_comma = true;
  }
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const auto& [name, array] : file.tensors) {
    const std::string where = str_cat(op, ": tensor ", printable_quoted(name));
    SG_CHECK(name != kMetadataKey, op, ": '__metadata__' is reserved and cannot name a tensor");
    SG_CHECK(names.insert(name).second, op, ": duplicate tensor name ", printable_quoted(name));
    check_raw_array(array, where);
    if (need_comma) header += ',';
    need_comma = true;
    append_json_string(header, name, op);
    header += str_cat(":{\"dtype\":\"", name_of(array.dtype), "\",\"shape\":[");
    for (size_t i = 0; i < array.shape.size(); ++i) {
      if (i > 0) header += ',';
      header += std::to_string(array.shape[i]);
    }
    header += str_cat("],\"data_offsets\":[", offset, ",", offset + array.data.size(), "]}");
    offset += array.data.size();
  }
  header += '}';
  header.resize((header.size() + 7) / 8 * 8, ' ');
  SG_CHECK(header.size() <= kMaxSafetensorsHeader, op, ": header of ", header.size(),
           " bytes exceeds the limit of ", kMaxSafetensorsHeader);

  std::vector<uint8_t> out;
  out.reserve(8 + header.size() + offset);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& entry : file.tensors) {
    out.insert(out.end(), entry.second.data.begin(), entry.second.data.end());
  }
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path, "read_safetensors");
  return parse_safetensors(bytes.data(), bytes.size(), "read_safetensors: " + path);
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  const std::vector<uint8_t> bytes = encode_safetensors(file);
  write_file_atomic(path, bytes.data(), bytes.size(), "write_safetensors");
}

}  // namespace stackgrad::io
