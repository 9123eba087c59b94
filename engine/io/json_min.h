// A small, strict JSON (RFC 8259) pull reader for untrusted headers, and a string writer.
//
// There is no value tree: the caller walks the document (begin_object / next_key / read_...),
// so memory stays proportional to what the caller keeps. Nesting is limited to kMaxDepth and
// skip_value() is iterative, so "[[[[..." cannot overflow the stack. Strings must be valid
// UTF-8; escapes include \uXXXX with surrogate pairs (lone surrogates are rejected). Numbers
// follow the JSON grammar; read_uint64 accepts only non-negative integers and says why not.
// Every error is a stackgrad::Error "<what>: <problem> at byte N".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stackgrad::io {

class JsonReader {
 public:
  enum class Kind { object, array, string, number, boolean, null };
  static constexpr size_t kMaxDepth = 64;

  JsonReader(std::string_view text, std::string what);

  // Kind of the next value (after whitespace); throws at the end of input or on a bad byte.
  Kind peek();

  // Objects: begin_object(), then while (next_key(key)) { read the value }.
  void begin_object();
  bool next_key(std::string& key);  // false once the closing '}' is consumed

  // Arrays: begin_array(), then while (next_element()) { read the value }.
  void begin_array();
  bool next_element();  // false once the closing ']' is consumed

  std::string read_string();
  uint64_t read_uint64(std::string_view field);  // `field` names the value in messages
  // Any JSON number, validated, as its text (the caller converts: integer or double).
  std::string_view read_number_text();
  bool read_bool();
  void read_null();
  void skip_value();  // validates and discards one whole value

  // Throws unless only whitespace remains and every container was closed.
  void finish();

  [[noreturn]] void error(std::string_view problem) const;

 private:
  struct Frame {
    bool is_object;
    bool first;
  };
  void skip_space();
  void open(bool is_object, char bracket);
  bool next_in_frame(bool is_object, char close);
  void expect_literal(std::string_view word);
  void skip_number();
  uint32_t read_hex4();

  std::string_view text_;
  std::string what_;
  size_t pos_ = 0;
  std::vector<Frame> frames_;
};

const char* json_kind_name(JsonReader::Kind kind);

// Length of the well-formed UTF-8 sequence starting at bytes[0] (1 to 4), or 0 when it is
// malformed, overlong, a surrogate or beyond U+10FFFF.
size_t utf8_sequence_length(const unsigned char* bytes, size_t available);
bool is_valid_utf8(std::string_view text);

// Appends `text` as a quoted JSON string. Throws Error naming `what` unless text is UTF-8.
void append_json_string(std::string& out, std::string_view text, std::string_view what);

}  // namespace stackgrad::io
