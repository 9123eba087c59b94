#include "json.h"

#include <cmath>
#include <cstdlib>

#include "engine/core/error.h"

namespace stackgrad::envs {

namespace {
const char* kind_name(JsonValue::Kind k) {
  switch (k) {
    case JsonValue::Kind::kNull:
      return "null";
    case JsonValue::Kind::kBool:
      return "bool";
    case JsonValue::Kind::kNumber:
      return "number";
    case JsonValue::Kind::kString:
      return "string";
    case JsonValue::Kind::kArray:
      return "array";
    case JsonValue::Kind::kObject:
      return "object";
  }
  return "?";
}
}  // namespace

class JsonParser {
 public:
  JsonParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  JsonValue parse_document() {
    JsonValue v = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void error(std::string_view problem) const {
    fail(what_, ": ", problem, " at byte ", pos_);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  char peek() {
    skip_space();
    if (pos_ >= text_.size()) error("unexpected end of input");
    return text_[pos_];
  }
  void expect(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) error("invalid literal");
    pos_ += word.size();
  }

  JsonValue parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting deeper than 64");
    JsonValue v;
    const char c = peek();
    if (c == '{') {
      v.kind_ = JsonValue::Kind::kObject;
      ++pos_;
      if (peek() == '}') {
        ++pos_;
        return v;
      }
      while (true) {
        if (peek() != '"') error("expected a string key");
        std::string key = parse_string();
        if (peek() != ':') error("expected ':'");
        ++pos_;
        JsonValue value = parse_value(depth + 1);
        bool replaced = false;  // a repeated key keeps its last value
        for (auto& [k, old] : v.object_) {
          if (k == key) {
            old = std::move(value);
            replaced = true;
            break;
          }
        }
        if (!replaced) v.object_.emplace_back(std::move(key), std::move(value));
        const char sep = peek();
        ++pos_;
        if (sep == '}') break;
        if (sep != ',') error("expected ',' or '}'");
      }
    } else if (c == '[') {
      v.kind_ = JsonValue::Kind::kArray;
      ++pos_;
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      while (true) {
        const char first = peek();
        if (v.array_.empty() && (first == '-' || (first >= '0' && first <= '9'))) {
          v.numbers_.push_back(parse_number());
        } else {
          if (!v.numbers_.empty()) {  // a mixed array: keep the numbers as values
            for (double d : v.numbers_) v.array_.push_back(number_value(d));
            v.numbers_.clear();
          }
          v.array_.push_back(parse_value(depth + 1));
        }
        const char sep = peek();
        ++pos_;
        if (sep == ']') break;
        if (sep != ',') error("expected ',' or ']'");
      }
    } else if (c == '"') {
      v.kind_ = JsonValue::Kind::kString;
      v.string_ = parse_string();
    } else if (c == 't') {
      expect("true");
      v.kind_ = JsonValue::Kind::kBool;
      v.bool_ = true;
    } else if (c == 'f') {
      expect("false");
      v.kind_ = JsonValue::Kind::kBool;
    } else if (c == 'n') {
      expect("null");
    } else {
      v.kind_ = JsonValue::Kind::kNumber;
      v.number_ = parse_number();
    }
    return v;
  }

  static JsonValue number_value(double d) {
    JsonValue v;
    v.kind_ = JsonValue::Kind::kNumber;
    v.number_ = d;
    return v;
  }

  double parse_number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    if (!digits()) error("invalid number");
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) error("invalid number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digits()) error("invalid number");
    }
    // strtod rounds correctly, so Python's shortest repr of a double reads back exactly.
    const std::string token(text_.substr(start, pos_ - start));
    return std::strtod(token.c_str(), nullptr);
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) error("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) error("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          // Level files are ASCII; other code points are kept as UTF-8 of the BMP value.
          if (pos_ + 4 > text_.size()) error("short \\u escape");
          const unsigned code = std::stoul(std::string(text_.substr(pos_, 4)), nullptr, 16);
          pos_ += 4;
          if (code < 0x80) {
            out.push_back(static_cast<char>(code));
          } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
          } else {
            out.push_back(static_cast<char>(0xE0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
          }
          break;
        }
        default:
          error("invalid escape");
      }
    }
  }

  std::string_view text_;
  const std::string& what_;
  size_t pos_ = 0;
};

JsonValue parse_json(std::string_view text, const std::string& what) {
  return JsonParser(text, what).parse_document();
}

bool JsonValue::has(const std::string& key) const {
  if (kind_ != Kind::kObject) return false;
  for (const auto& [k, v] : object_) {
    if (k == key) return true;
  }
  return false;
}

const JsonValue& JsonValue::at(const std::string& key) const {
  SG_CHECK(kind_ == Kind::kObject, "json: expected an object holding '", key, "', got ",
           kind_name(kind_));
  for (const auto& [k, v] : object_) {
    if (k == key) return v;
  }
  fail("json: missing key '", key, "'");
}

const std::vector<std::pair<std::string, JsonValue>>& JsonValue::as_object(
    std::string_view what) const {
  SG_CHECK(kind_ == Kind::kObject, "json: ", what, ": expected an object, got ", kind_name(kind_));
  return object_;
}

const std::vector<JsonValue>& JsonValue::as_array(std::string_view what) const {
  SG_CHECK(kind_ == Kind::kArray, "json: ", what, ": expected an array, got ", kind_name(kind_));
  if (array_.empty() && !numbers_.empty()) {
    for (double d : numbers_) {
      JsonValue v;
      v.kind_ = Kind::kNumber;
      v.number_ = d;
      array_.push_back(v);
    }
  }
  return array_;
}

double JsonValue::as_double(std::string_view what) const {
  SG_CHECK(kind_ == Kind::kNumber, "json: ", what, ": expected a number, got ", kind_name(kind_));
  return number_;
}

long long JsonValue::as_int(std::string_view what) const {
  const double d = as_double(what);
  SG_CHECK(std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0, "json: ", what,
           ": expected an integer, got ", d);
  return static_cast<long long>(d);
}

bool JsonValue::as_bool(std::string_view what) const {
  SG_CHECK(kind_ == Kind::kBool, "json: ", what, ": expected a bool, got ", kind_name(kind_));
  return bool_;
}

const std::string& JsonValue::as_string(std::string_view what) const {
  SG_CHECK(kind_ == Kind::kString, "json: ", what, ": expected a string, got ", kind_name(kind_));
  return string_;
}

std::vector<int> JsonValue::as_int_vector(std::string_view what) const {
  SG_CHECK(kind_ == Kind::kArray, "json: ", what, ": expected an array, got ", kind_name(kind_));
  std::vector<int> out;
  if (!array_.empty()) {  // a mixed array: every element must still be an integer
    for (const JsonValue& v : array_) out.push_back(static_cast<int>(v.as_int(what)));
    return out;
  }
  out.reserve(numbers_.size());
  for (double d : numbers_) {
    SG_CHECK(std::trunc(d) == d && std::fabs(d) <= 2147483647.0, "json: ", what,
             ": expected an integer, got ", d);
    out.push_back(static_cast<int>(d));
  }
  return out;
}

}  // namespace stackgrad::envs
