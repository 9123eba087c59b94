#include "train/jsonl.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "engine/core/error.h"

namespace stackgrad::train {

// --- values ----------------------------------------------------------------------------------

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through unchanged
        }
    }
  }
  return out + "\"";
}

// The shortest decimal that reads back as the same double (std::to_chars without a precision).
std::string shortest(double x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

}  // namespace

double JsonValue::as_double() const {
  switch (kind_) {
    case Kind::null:
      return std::numeric_limits<double>::quiet_NaN();
    case Kind::boolean:
    case Kind::integer:
      return static_cast<double>(integer_);
    case Kind::number:
      return number_;
    case Kind::string:
      break;
  }
  fail("JsonValue: expected a number, got the string ", quote(string_));
}

std::string JsonValue::as_string() const { return kind_ == Kind::string ? string_ : dump(); }

std::string JsonValue::dump() const {
  switch (kind_) {
    case Kind::null:
      return "null";
    case Kind::boolean:
      return integer_ ? "true" : "false";
    case Kind::integer:
      return std::to_string(integer_);
    case Kind::number:
      return std::isfinite(number_) ? shortest(number_) : "null";
    case Kind::string:
      return quote(string_);
  }
  return "null";
}

const JsonValue* JsonRecord::find(const std::string& key) const {
  for (const auto& [k, v] : fields)
    if (k == key) return &v;
  return nullptr;
}

double JsonRecord::number(const std::string& key) const {
  const JsonValue* v = find(key);
  if (!v) return std::numeric_limits<double>::quiet_NaN();
  SG_CHECK(!v->is_string(), "JsonRecord: field \"", key, "\" is the string ", v->dump(),
           ", expected a number");
  return v->as_double();
}

std::string JsonRecord::dump() const {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ", ";
    out += quote(fields[i].first) + ": " + fields[i].second.dump();
  }
  return out + "}";
}

// --- writer ----------------------------------------------------------------------------------

MetricsWriter::MetricsWriter(const std::string& path, bool append) : path_(path) {
  if (path.empty()) return;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  SG_CHECK(file_ != nullptr, "MetricsWriter: cannot open '", path,
           "' for writing: ", std::strerror(errno));
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::write(std::initializer_list<JsonField> fields) {
  if (!file_) return;
  write(JsonRecord{std::vector<JsonField>(fields)});
}

void MetricsWriter::write(const JsonRecord& record) {
  if (!file_) return;
  const std::string line = record.dump() + "\n";
  const bool ok =
      std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0;
  SG_CHECK(ok, "MetricsWriter: writing '", path_, "' failed: ", std::strerror(errno));
}

// --- reader ----------------------------------------------------------------------------------

namespace {

// A recursive-descent reader for one flat object.
class Parser {
 public:
  Parser(const std::string& text, const std::string& where) : s_(text), where_(where) {}

  JsonRecord object() {
    JsonRecord record;
    skip_space();
    expect('{');
    skip_space();
    if (peek() == '}') {
      ++i_;
    } else {
      while (true) {
        skip_space();
        std::string key = string();
        skip_space();
        expect(':');
        skip_space();
        record.fields.emplace_back(std::move(key), value());
        skip_space();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}');
        break;
      }
    }
    skip_space();
    if (i_ != s_.size()) error("unexpected text after the object");
    return record;
  }

 private:
  [[noreturn]] void error(const std::string& what) const { fail(where_, ":", i_ + 1, ": ", what); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) error(str_cat("expected '", c, "'", i_ < s_.size() ? "" : " at the end"));
    ++i_;
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(i_, n, word) != 0) return false;
    i_ += n;
    return true;
  }

  JsonValue value() {
    const char c = peek();
    if (c == '"') return JsonValue(string());
    if (literal("null")) return JsonValue();
    if (literal("true")) return JsonValue(true);
    if (literal("false")) return JsonValue(false);
    if (c == '{' || c == '[') error("nested objects and arrays are not supported");
    return number();
  }

  JsonValue number() {
    const size_t start = i_;
    while (i_ < s_.size() && std::strchr("+-0123456789.eE", s_[i_])) ++i_;
    const char* first = s_.data() + start;
    const char* last = s_.data() + i_;
    if (start == i_) error("expected a value");
    const bool integral = std::find_if(first, last, [](char ch) {
                            return ch == '.' || ch == 'e' || ch == 'E';
                          }) == last;
    if (integral) {
      int64_t v = 0;
      const auto r = std::from_chars(first, last, v);
      if (r.ec == std::errc() && r.ptr == last) return JsonValue(v);
    }
    double x = 0;
    const auto r = std::from_chars(first, last, x);
    if (r.ec != std::errc() || r.ptr != last) {
      i_ = start;
      error("malformed number '" + std::string(first, last) + "'");
    }
    return JsonValue(x);
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) error("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      const char e = peek();
      ++i_;
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
        case 'u':
          out += unicode();
          break;
        default:
          --i_;
          error("bad escape in string");
      }
    }
  }

  // \uXXXX (with surrogate pairs) as UTF-8.
  std::string unicode() {
    auto hex4 = [this]() {
      if (i_ + 4 > s_.size()) error("short \\u escape");
      unsigned v = 0;
      const auto r = std::from_chars(s_.data() + i_, s_.data() + i_ + 4, v, 16);
      if (r.ptr != s_.data() + i_ + 4) error("bad \\u escape");
      i_ += 4;
      return v;
    };
    uint32_t cp = hex4();
    if (cp >= 0xD800 && cp < 0xDC00 && literal("\\u"))
      cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4() - 0xDC00);
    std::string out;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
  }

  const std::string& s_;
  std::string where_;
  size_t i_ = 0;
};

}  // namespace

JsonRecord parse_json_object(const std::string& line, const std::string& where) {
  return Parser(line, where).object();
}

std::vector<JsonRecord> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  SG_CHECK(in.good(), "read_jsonl: cannot open '", path, "': ", std::strerror(errno));
  std::vector<JsonRecord> records;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    records.push_back(parse_json_object(line, str_cat(path, ":", n)));
  }
  return records;
}

}  // namespace stackgrad::train
