// A small JSON reader that builds a value tree: enough for level files (numbers are doubles,
// so integers are exact up to 2^53). Arrays of numbers, the bulk of a recorded episode, are
// stored as plain doubles. Errors name the input and the byte offset.
//
//   JsonValue v = parse_json(text, "level.json");
//   int h = v.at("height").as_int("height");
//   for (const JsonValue& a : v.at("agents").as_array()) { ... }
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stackgrad::envs {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool has(const std::string& key) const;
  // Lookups and conversions throw stackgrad::Error naming `what` when the value is missing or
  // of another kind (as_int also when the number is not an integer).
  const JsonValue& at(const std::string& key) const;
  const std::vector<JsonValue>& as_array(std::string_view what = "value") const;
  double as_double(std::string_view what = "value") const;
  long long as_int(std::string_view what = "value") const;
  bool as_bool(std::string_view what = "value") const;
  const std::string& as_string(std::string_view what = "value") const;
  // An array of integers, flattened.
  std::vector<int> as_int_vector(std::string_view what = "value") const;
  // The members of an object in file order (for readers that reject unknown keys).
  const std::vector<std::pair<std::string, JsonValue>>& as_object(
      std::string_view what = "value") const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  std::vector<double> numbers_;           // an array whose elements are all numbers
  mutable std::vector<JsonValue> array_;  // other arrays (numeric ones expanded on request)
  std::vector<std::pair<std::string, JsonValue>> object_;
};

JsonValue parse_json(std::string_view text, const std::string& what);

}  // namespace stackgrad::envs
