// Metrics as JSON lines: one flat JSON object per line, flushed as it is written, so a run that
// stops early keeps every line so far and `tail -f`, pandas (read_json(lines=True)) and
// plot_jsonl can read it.
//
//   train::MetricsWriter out(flags.out);   // an empty path disables it
//   out.write({{"epoch", 3}, {"loss", 0.41}, {"split", "train"}});
//   for (auto& row : train::read_jsonl("metrics.jsonl")) double loss = row.number("loss");
//
// Values are numbers (integers exactly, doubles in the shortest form that reads back to the
// same double), strings, booleans or null; NaN and infinities are written as null.
#pragma once

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace stackgrad::train {

class JsonValue {
 public:
  enum class Kind { null, boolean, integer, number, string };

  JsonValue() = default;  // null
  JsonValue(std::nullptr_t) {}
  JsonValue(bool b) : kind_(Kind::boolean), integer_(b) {}
  template <std::integral T>
  requires(!std::same_as<T, bool>) JsonValue(T i)
      : kind_(Kind::integer), integer_(static_cast<int64_t>(i)) {}
  template <std::floating_point T>
  JsonValue(T x) : kind_(Kind::number), number_(static_cast<double>(x)) {}
  JsonValue(const char* s) : kind_(Kind::string), string_(s) {}
  JsonValue(std::string s) : kind_(Kind::string), string_(std::move(s)) {}

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_number() const { return kind_ == Kind::integer || kind_ == Kind::number; }
  bool is_string() const { return kind_ == Kind::string; }
  // Numbers (and booleans as 0/1) as double; null reads as NaN. Error for a string.
  double as_double() const;
  // The string, or the JSON text of any other value.
  std::string as_string() const;
  // The value as JSON text.
  std::string dump() const;

 private:
  Kind kind_ = Kind::null;
  int64_t integer_ = 0;
  double number_ = 0;
  std::string string_;
};

using JsonField = std::pair<std::string, JsonValue>;

// One line: fields in the order written.
struct JsonRecord {
  std::vector<JsonField> fields;
  // The value of `key`, or nullptr when absent.
  const JsonValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // The number under `key`: NaN when absent or null; error when it is a string.
  double number(const std::string& key) const;
  std::string dump() const;  // the one-line JSON object
};

class MetricsWriter {
 public:
  // Opens `path` for writing (truncating it, or appending with `append`), creating missing
  // parent directories. An empty path gives a disabled writer whose write() does nothing.
  explicit MetricsWriter(const std::string& path = "", bool append = false);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  bool enabled() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }
  // Appends one line holding the fields, in order, and flushes it.
  void write(std::initializer_list<JsonField> fields);
  void write(const JsonRecord& record);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Every line of a JSON-lines file as a flat record (blank lines skipped), parsed by the engine's
// strict reader (engine/io/json_min.h). Nested objects and arrays are not supported; errors name
// the file, the line and the byte offset in it ("m.jsonl:7: ... at byte 6").
std::vector<JsonRecord> read_jsonl(const std::string& path);
// One line of JSON text as a flat record (`where` prefixes error messages).
JsonRecord parse_json_object(const std::string& line, const std::string& where = "json");

}  // namespace stackgrad::train
