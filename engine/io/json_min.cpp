#include "engine/io/json_min.h"

#include <limits>
#include <utility>

#include "engine/core/error.h"
#include "engine/io/raw_array.h"

namespace stackgrad::io {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace

size_t utf8_sequence_length(const unsigned char* b, size_t available) {
  if (available == 0) return 0;
  const unsigned char lead = b[0];
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) lo = 0xa0;  // overlong
    if (lead == 0xed) hi = 0x9f;  // UTF-16 surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) lo = 0x90;  // overlong
    if (lead == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (available < length) return 0;
  if (b[1] < lo || b[1] > hi) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (b[i] < 0x80 || b[i] > 0xbf) return 0;
  }
  return length;
}

bool is_valid_utf8(std::string_view text) {
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_sequence_length(b + i, text.size() - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view text, std::string_view what) {
  SG_CHECK(is_valid_utf8(text), what, ": string ", printable_quoted(text), " is not valid UTF-8");
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

const char* json_kind_name(JsonReader::Kind kind) {
  switch (kind) {
    case JsonReader::Kind::object:
      return "an object";
    case JsonReader::Kind::array:
      return "an array";
    case JsonReader::Kind::string:
      return "a string";
    case JsonReader::Kind::number:
      return "a number";
    case JsonReader::Kind::boolean:
      return "a boolean";
    case JsonReader::Kind::null:
      return "null";
  }
  return "?";
}

JsonReader::JsonReader(std::string_view text, std::string what)
    : text_(text), what_(std::move(what)) {}

void JsonReader::error(std::string_view problem) const {
  fail(what_, ": ", problem, " at byte ", pos_);
}

void JsonReader::skip_space() {
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    ++pos_;
  }
}

JsonReader::Kind JsonReader::peek() {
  skip_space();
  if (pos_ >= text_.size()) error("invalid JSON: unexpected end of input");
  const char c = text_[pos_];
  if (c == '{') return Kind::object;
  if (c == '[') return Kind::array;
  if (c == '"') return Kind::string;
  if (c == '-' || is_digit(c)) return Kind::number;
  if (c == 't' || c == 'f') return Kind::boolean;
  if (c == 'n') return Kind::null;
  error(str_cat("invalid JSON: unexpected character ", printable_quoted(text_.substr(pos_, 1))));
}

void JsonReader::open(bool is_object, char bracket) {
  skip_space();
  if (pos_ >= text_.size() || text_[pos_] != bracket) {
    error(str_cat("expected ", is_object ? "an object" : "an array"));
  }
  if (frames_.size() >= kMaxDepth) error(str_cat("JSON nested deeper than ", kMaxDepth));
  ++pos_;
  frames_.push_back(Frame{is_object, true});
}

void JsonReader::begin_object() { open(true, '{'); }
void JsonReader::begin_array() { open(false, '['); }

// Handles the separator before the next member or element, or the closing bracket.
bool JsonReader::next_in_frame(bool is_object, char close) {
  if (frames_.empty() || frames_.back().is_object != is_object) {
    error(is_object ? "next_key called outside an object" : "next_element called outside an array");
  }
  skip_space();
  Frame& frame = frames_.back();
  if (pos_ < text_.size() && text_[pos_] == close) {
    ++pos_;
    frames_.pop_back();
    return false;
  }
  if (frame.first) {
    frame.first = false;
    return true;
  }
  if (pos_ >= text_.size() || text_[pos_] != ',') {
    error(str_cat("invalid JSON: expected ',' or '", close, "'"));
  }
  ++pos_;
  skip_space();
  if (pos_ < text_.size() && text_[pos_] == close) error("invalid JSON: trailing comma");
  return true;
}

bool JsonReader::next_key(std::string& key) {
  if (!next_in_frame(true, '}')) return false;
  if (peek() != Kind::string) error("invalid JSON: expected a string key");
  key = read_string();
  skip_space();
  if (pos_ >= text_.size() || text_[pos_] != ':') error("invalid JSON: expected ':' after a key");
  ++pos_;
  return true;
}

bool JsonReader::next_element() { return next_in_frame(false, ']'); }

uint32_t JsonReader::read_hex4() {
  if (text_.size() - pos_ < 4) error("invalid JSON: truncated \\u escape");
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = text_[pos_++];
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      error("invalid JSON: bad hex digit in a \\u escape");
    }
    value = value * 16 + digit;
  }
  return value;
}

std::string JsonReader::read_string() {
  if (peek() != Kind::string) error("expected a string");
  ++pos_;
  std::string out;
  for (;;) {
    if (pos_ >= text_.size()) error("invalid JSON: unterminated string");
    const auto c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') {
      ++pos_;
      return out;
    }
    if (c < 0x20) error("invalid JSON: control character inside a string");
    if (c >= 0x80) {
      const auto* b = reinterpret_cast<const unsigned char*>(text_.data()) + pos_;
      const size_t n = utf8_sequence_length(b, text_.size() - pos_);
      if (n == 0) error("invalid UTF-8 inside a string");
      out.append(text_.substr(pos_, n));
      pos_ += n;
      continue;
    }
    if (c != '\\') {
      out += static_cast<char>(c);
      ++pos_;
      continue;
    }
    if (++pos_ >= text_.size()) error("invalid JSON: unterminated escape");
    const char e = text_[pos_++];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = read_hex4();
        if (cp >= 0xdc00 && cp <= 0xdfff) error("invalid JSON: lone low surrogate in \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
          if (text_.substr(pos_, 2) != "\\u")
            error("invalid JSON: lone high surrogate in \\u escape");
          pos_ += 2;
          const uint32_t low = read_hex4();
          if (low < 0xdc00 || low > 0xdfff) {
            error("invalid JSON: high surrogate not followed by a low surrogate");
          }
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        append_utf8(out, cp);
        break;
      }
      default:
        error("invalid JSON: unknown escape in a string");
    }
  }
}

void JsonReader::skip_number() {
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  if (pos_ >= text_.size() || !is_digit(text_[pos_])) error("invalid JSON: bad number");
  if (text_[pos_] == '0') {
    ++pos_;
  } else {
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (pos_ >= text_.size() || !is_digit(text_[pos_])) error("invalid JSON: bad number");
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (pos_ >= text_.size() || !is_digit(text_[pos_])) error("invalid JSON: bad number");
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
  }
}

uint64_t JsonReader::read_uint64(std::string_view field) {
  const Kind kind = peek();
  if (kind != Kind::number) {
    error(str_cat(field, " must be a non-negative integer, not ", json_kind_name(kind)));
  }
  if (text_[pos_] == '-')
    error(str_cat(field, " must be a non-negative integer, got a negative number"));
  const size_t start = pos_;
  uint64_t value = 0;
  bool overflow = false;
  if (text_[pos_] == '0') {
    ++pos_;
  } else {
    while (pos_ < text_.size() && is_digit(text_[pos_])) {
      const uint64_t digit = static_cast<uint64_t>(text_[pos_] - '0');
      if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) overflow = true;
      value = value * 10 + digit;
      ++pos_;
    }
  }
  if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
    pos_ = start;
    error(str_cat(field, " must be an integer, got a floating-point number"));
  }
  if (pos_ < text_.size() && is_digit(text_[pos_])) error("invalid JSON: leading zero in a number");
  if (overflow) {
    pos_ = start;
    error(str_cat(field, " is too large for a 64-bit integer"));
  }
  return value;
}

std::string_view JsonReader::read_number_text() {
  const Kind kind = peek();
  if (kind != Kind::number) error(str_cat("expected a number, got ", json_kind_name(kind)));
  const size_t start = pos_;
  skip_number();
  return text_.substr(start, pos_ - start);
}

void JsonReader::expect_literal(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) error("invalid JSON: unknown literal");
  pos_ += word.size();
}

bool JsonReader::read_bool() {
  if (peek() != Kind::boolean) error("expected true or false");
  if (text_[pos_] == 't') {
    expect_literal("true");
    return true;
  }
  expect_literal("false");
  return false;
}

void JsonReader::read_null() {
  if (peek() != Kind::null) error("expected null");
  expect_literal("null");
}

void JsonReader::skip_value() {
  const size_t base = frames_.size();
  for (;;) {
    switch (peek()) {
      case Kind::object:
        begin_object();
        break;
      case Kind::array:
        begin_array();
        break;
      case Kind::string:
        read_string();
        break;
      case Kind::number:
        skip_number();
        break;
      case Kind::boolean:
        read_bool();
        break;
      case Kind::null:
        read_null();
        break;
    }
    // Move to the next value inside the containers opened here, closing finished ones.
    std::string key;
    for (;;) {
      if (frames_.size() == base) return;
      const bool more = frames_.back().is_object ? next_key(key) : next_element();
      if (more) break;
    }
  }
}

void JsonReader::finish() {
  if (!frames_.empty()) error("invalid JSON: unclosed object or array");
  skip_space();
  if (pos_ != text_.size()) error("invalid JSON: unexpected bytes after the value");
}

}  // namespace stackgrad::io
