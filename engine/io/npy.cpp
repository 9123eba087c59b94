#include "engine/io/npy.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

#include "engine/core/error.h"

namespace stackgrad::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kHeaderAlign = 64;

struct NpyHeader {
  DType dtype = DType::f32;
  bool big_endian = false;
  std::vector<int64_t> shape;
  size_t data_offset = 0;
};

struct DescrEntry {
  std::string_view type;  // descr without its byte-order character
  DType dtype;
};
constexpr DescrEntry kDescrs[] = {{"f4", DType::f32}, {"f8", DType::f64}, {"i4", DType::i32},
                                  {"i8", DType::i64}, {"u1", DType::u8},  {"b1", DType::boolean},
                                  {"f2", DType::f16}};

std::string_view descr_of(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "<f4";
    case DType::f64:
      return "<f8";
    case DType::i32:
      return "<i4";
    case DType::i64:
      return "<i8";
    case DType::u8:
      return "|u1";
    case DType::boolean:
      return "|b1";
    case DType::f16:
      return "<f2";
    case DType::bf16:
      fail(
          "encode_npy: dtype bf16 has no .npy type code (NumPy has no bfloat16); convert to f32 "
          "first or save as safetensors");
  }
  fail("encode_npy: unknown dtype");
}

// A readable name for a NumPy type string the parser rejects, e.g. "c8" -> "complex64".
std::string numpy_type_name(std::string_view type) {
  if (type.empty()) return "empty type";
  const char kind = type[0];
  const std::string_view size = type.substr(1);
  int bytes = 0;
  for (std::string_view valid : {"1", "2", "4", "8", "16"}) {
    if (size == valid) bytes = std::stoi(std::string(valid));
  }
  const std::string bits = std::to_string(bytes * 8);
  switch (kind) {
    case 'f':
      return bytes > 1 ? "float" + bits : "floating point";
    case 'i':
      return bytes > 0 && bytes < 16 ? "int" + bits : "signed integer";
    case 'u':
      return bytes > 0 && bytes < 16 ? "uint" + bits : "unsigned integer";
    case 'c':
      return bytes > 4 ? "complex" + bits : "complex";
    case 'b':
      return bytes == 1 ? "bool" : "boolean of an unknown size";
    case 'O':
      return "Python objects";
    case 'U':
      return "unicode strings";
    case 'S':
    case 'a':
      return "byte strings";
    case 'V':
      return "raw void records";
    case 'M':
      return "datetime64";
    case 'm':
      return "timedelta64";
    default:
      return "unknown type";
  }
}

// Parses the header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// followed by padding. Only the literal forms NumPy writes are accepted.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false, fortran = false;
    std::string descr;
    skip_space();
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string("a key");
      skip_space();
      expect(':');
      skip_space();
      auto once = [&](bool& seen) {
        if (seen) bad("duplicate key ", printable_quoted(key));
        seen = true;
      };
      if (key == "descr") {
        once(seen_descr);
        if (peek() == '[') reject("structured dtypes (a list descr) are not supported");
        if (peek() == '(') reject("subarray dtypes (a tuple descr) are not supported");
        descr = parse_string("the descr string");
      } else if (key == "fortran_order") {
        once(seen_order);
        fortran = parse_bool();
      } else if (key == "shape") {
        once(seen_shape);
        header.shape = parse_shape();
      } else {
        bad("unexpected key ", printable_quoted(key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') bad("expected ',' or '}'");
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) bad("unexpected bytes after the closing '}'");
    if (!seen_descr) bad("missing key 'descr'");
    if (!seen_order) bad("missing key 'fortran_order'");
    if (!seen_shape) bad("missing key 'shape'");

    resolve_descr(descr, header);
    if (fortran) {
      const auto big_dims =
          std::count_if(header.shape.begin(), header.shape.end(), [](int64_t d) { return d > 1; });
      SG_CHECK(big_dims <= 1, what_,
               ": Fortran order is not supported; save with "
               "np.ascontiguousarray (shape ",
               shape_str(header.shape), ")");
    }
    return header;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && std::strchr(" \t\n\r\f\v", text_[pos_]) != nullptr &&
           text_[pos_] != '\0') {
      ++pos_;
    }
  }

  template <typename... Args>
  [[noreturn]] void bad(const Args&... args) const {
    fail(what_,
         ": the header is not a Python dict literal with keys 'descr', 'fortran_order' "
         "and 'shape': ",
         args..., " at header byte ", pos_);
  }

  template <typename... Args>
  [[noreturn]] void reject(const Args&... args) const {
    fail(what_, ": ", args...);
  }

  void expect(char c) {
    if (peek() != c || pos_ >= text_.size()) bad("expected '", c, "'");
    ++pos_;
  }

  std::string parse_string(const char* role) {
    const char quote = peek();
    if (pos_ >= text_.size() || (quote != '\'' && quote != '"')) bad("expected ", role);
    const size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') bad("escape sequences are not supported in ", role);
      if (text_[pos_] == '\n') bad("unterminated string");
      ++pos_;
    }
    if (pos_ >= text_.size()) bad("unterminated string");
    ++pos_;
    return std::string(text_.substr(start, pos_ - 1 - start));
  }

  bool is_ident(char c) const {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }

  bool parse_bool() {
    for (std::string_view word : {std::string_view("True"), std::string_view("False")}) {
      if (text_.substr(pos_, word.size()) == word &&
          (pos_ + word.size() == text_.size() || !is_ident(text_[pos_ + word.size()]))) {
        pos_ += word.size();
        return word == "True";
      }
    }
    bad("fortran_order must be True or False");
  }

  int64_t parse_dim() {
    if (peek() == '-') reject("negative dimension in the shape");
    if (peek() < '0' || peek() > '9' || pos_ >= text_.size()) bad("expected a dimension");
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int digit = text_[pos_] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) {
        reject("a dimension in the shape does not fit in int64");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long literals: (3L, 4L)
    if (is_ident(peek()) || peek() == '.') bad("dimensions must be integers");
    return value;
  }

  std::vector<int64_t> parse_shape() {
    if (peek() == '[') bad("shape must be a tuple, not a list");
    expect('(');
    std::vector<int64_t> shape;
    skip_space();
    if (peek() == ')') {
      ++pos_;
      return shape;
    }
    for (;;) {
      skip_space();
      shape.push_back(parse_dim());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
        if (peek() == ')') break;
        continue;
      }
      if (peek() == ')') {
        if (shape.size() == 1) bad("shape (n) is an integer, not a tuple; write (n,)");
        break;
      }
      bad("expected ',' or ')' in the shape");
    }
    ++pos_;  // ')'
    return shape;
  }

  void resolve_descr(const std::string& descr, NpyHeader& header) const {
    const std::string_view d = descr;
    const char order = d.empty() ? '\0' : d[0];
    const bool has_order = order == '<' || order == '>' || order == '|' || order == '=';
    const std::string_view type = has_order ? d.substr(1) : d;
    for (const DescrEntry& entry : kDescrs) {
      if (entry.type != type) continue;
      const bool one_byte = dtype_size(entry.dtype) == 1;
      if (one_byte && has_order) {
        header.dtype = entry.dtype;
        return;
      }
      if (order == '<' || order == '>') {
        header.dtype = entry.dtype;
        header.big_endian = order == '>';
        return;
      }
      if (!has_order) break;
      reject("dtype ", printable_quoted(d), " needs byte order '<' or '>'",
             order == '=' ? " (native order '=' is ambiguous in a file)" : "");
    }
    if (!has_order) {
      reject("dtype ", printable_quoted(d), " lacks a byte-order character ('<', '>' or '|')");
    }
    reject("unsupported dtype ", printable_quoted(d), " (", numpy_type_name(type),
           "); supported: '<f4' '<f8' '<f2' '<i4' '<i8' '|u1' '|b1' (and '>' byte order)");
  }

  std::string_view text_;
  const std::string& what_;
  size_t pos_ = 0;
};

NpyHeader parse_preamble_and_header(const uint8_t* bytes, size_t size, const std::string& what) {
  SG_CHECK(size > 0, what, ": empty file, not a .npy file");
  const size_t magic_seen = std::min(size, kMagicSize);
  SG_CHECK(std::memcmp(bytes, kMagic, magic_seen) == 0, what,
           ": not a .npy file (bad magic; expected \\x93NUMPY)");
  SG_CHECK(size >= kMagicSize + 2, what, ": truncated .npy file (", size,
           " bytes, shorter than the magic and version)");
  const int major = bytes[6];
  const int minor = bytes[7];
  SG_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, what,
           ": unsupported .npy format version ", major, ".", minor, " (supported: 1.0, 2.0, 3.0)");
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t preamble = kMagicSize + 2 + length_bytes;
  SG_CHECK(size >= preamble, what, ": truncated header (", size,
           " bytes, shorter than the preamble of ", preamble, ")");
  uint64_t header_length = 0;
  for (size_t i = 0; i < length_bytes; ++i) {
    header_length |= static_cast<uint64_t>(bytes[8 + i]) << (8 * i);
  }
  SG_CHECK(header_length <= size - preamble, what, ": truncated header (it declares ",
           header_length, " bytes but only ", size - preamble, " follow)");

  const std::string_view text(reinterpret_cast<const char*>(bytes + preamble),
                              static_cast<size_t>(header_length));
  NpyHeader header = HeaderParser(text, what).parse();
  header.data_offset = preamble + static_cast<size_t>(header_length);

  const uint64_t needed = checked_nbytes(header.dtype, header.shape, what);
  const uint64_t available = size - header.data_offset;
  SG_CHECK(available >= needed, what, ": data is truncated: shape ", shape_str(header.shape),
           " of ", dtype_name(header.dtype), " needs ", needed, " bytes but only ", available,
           " follow the header");
  SG_CHECK(available == needed, what, ": ", available - needed,
           " trailing bytes after the array data (shape ", shape_str(header.shape), " of ",
           dtype_name(header.dtype), " needs ", needed, " bytes)");
  return header;
}

// Byte-swaps big-endian elements in place and normalizes bools.
RawArray finish(const NpyHeader& header, std::vector<uint8_t> data) {
  const size_t item = dtype_size(header.dtype);
  if (header.big_endian && item > 1) {
    for (size_t i = 0; i + item <= data.size(); i += item) {
      std::reverse(data.begin() + i, data.begin() + i + item);
    }
  }
  if (header.dtype == DType::boolean) normalize_bool_bytes(data);
  return RawArray{header.dtype, header.shape, std::move(data)};
}

}  // namespace

RawArray parse_npy(const uint8_t* bytes, size_t size, const std::string& what) {
  const NpyHeader header = parse_preamble_and_header(bytes, size, what);
  return finish(header, std::vector<uint8_t>(bytes + header.data_offset, bytes + size));
}

std::vector<uint8_t> encode_npy(const RawArray& array) {
  check_raw_array(array, "encode_npy");
  std::string dict = "{'descr': '";
  dict += descr_of(array.dtype);
  dict += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < array.shape.size(); ++i) {
    if (i > 0) dict += ", ";
    dict += std::to_string(array.shape[i]);
  }
  if (array.shape.size() == 1) dict += ",";
  dict += "), }";

  int major = 1;
  size_t preamble = kMagicSize + 2 + 2;
  size_t padded = (preamble + dict.size() + 1 + kHeaderAlign - 1) / kHeaderAlign * kHeaderAlign;
  if (padded - preamble > std::numeric_limits<uint16_t>::max()) {
    major = 2;
    preamble = kMagicSize + 2 + 4;
    padded = (preamble + dict.size() + 1 + kHeaderAlign - 1) / kHeaderAlign * kHeaderAlign;
  }
  const size_t header_length = padded - preamble;
  SG_CHECK(header_length <= std::numeric_limits<uint32_t>::max(), "encode_npy: shape with ",
           array.shape.size(), " dimensions makes the header too long");
  dict.resize(header_length - 1, ' ');
  dict += '\n';

  // Sized once and filled by index (GCC 12 misreads insert-after-reserve as an overflow).
  std::vector<uint8_t> out(padded + array.data.size());
  size_t pos = 0;
  for (size_t i = 0; i < kMagicSize; ++i) out[pos++] = static_cast<uint8_t>(kMagic[i]);
  out[pos++] = static_cast<uint8_t>(major);
  out[pos++] = 0;
  for (size_t i = 0; i < preamble - kMagicSize - 2; ++i) {
    out[pos++] = static_cast<uint8_t>((header_length >> (8 * i)) & 0xff);
  }
  for (char c : dict) out[pos++] = static_cast<uint8_t>(c);
  if (!array.data.empty()) std::memcpy(out.data() + pos, array.data.data(), array.data.size());
  return out;
}

RawArray read_npy(const std::string& path, size_t max_decompressed) {
  const std::string what = "read_npy: " + path;
  std::vector<uint8_t> bytes = read_file_bytes(path, "read_npy");
  const bool gz_name = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gz_name || is_gzip(bytes.data(), bytes.size())) {
    bytes = gunzip(bytes.data(), bytes.size(), max_decompressed, what);
  }
  const NpyHeader header = parse_preamble_and_header(bytes.data(), bytes.size(), what);
  // Drop the header in place rather than copying the data: large files are read only once.
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header.data_offset));
  return finish(header, std::move(bytes));
}

void write_npy(const std::string& path, const RawArray& array, bool gzip) {
  std::vector<uint8_t> bytes = encode_npy(array);
  if (gzip) bytes = gzip_compress(bytes.data(), bytes.size());
  write_file_atomic(path, bytes.data(), bytes.size(), "write_npy");
}

}  // namespace stackgrad::io
