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
#include "engine/io/json_min.h"

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

// One flat object, read with the engine's strict JSON reader (engine/io/json_min.h).
JsonRecord parse_json_object(const std::string& line, const std::string& where) {
  io::JsonReader reader(line, where);
  JsonRecord record;
  reader.begin_object();
  std::string key;
  while (reader.next_key(key)) {
    switch (reader.peek()) {
      case io::JsonReader::Kind::string:
        record.fields.emplace_back(key, JsonValue(reader.read_string()));
        break;
      case io::JsonReader::Kind::boolean:
        record.fields.emplace_back(key, JsonValue(reader.read_bool()));
        break;
      case io::JsonReader::Kind::null:
        reader.read_null();
        record.fields.emplace_back(key, JsonValue());
        break;
      case io::JsonReader::Kind::number: {
        const std::string_view text = reader.read_number_text();
        const char* first = text.data();
        const char* last = first + text.size();
        int64_t i = 0;
        double x = 0;
        const bool integral = text.find_first_of(".eE") == std::string_view::npos;
        if (integral && std::from_chars(first, last, i).ec == std::errc())
          record.fields.emplace_back(key, JsonValue(i));
        else if (std::from_chars(first, last, x).ec == std::errc())
          record.fields.emplace_back(key, JsonValue(x));
        else
          reader.error(str_cat("number '", text, "' is out of range"));
        break;
      }
      default:
        reader.error("nested objects and arrays are not supported");
    }
  }
  reader.finish();
  return record;
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
