// JSON lines: the exact text written, round trips through the reader, and clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "tests/support/error_of.h"
#include "train/jsonl.h"

namespace {

using namespace stackgrad::train;
using stackgrad::testing::error_of;
using ::testing::HasSubstr;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("stackgrad_test_jsonl_" + name)).string();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(MetricsWriter, WritesOneFlushedLinePerCall) {
  const std::string path = temp_path("a/b/metrics.jsonl");  // parents are created
  std::filesystem::remove_all(temp_path("a"));
  {
    MetricsWriter out(path);
    ASSERT_TRUE(out.enabled());
    out.write({{"epoch", 3}, {"loss", 0.41}, {"split", "train"}});
    // Flushed: readable before the writer closes.
    EXPECT_EQ(slurp(path), "{\"epoch\": 3, \"loss\": 0.41, \"split\": \"train\"}\n");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    out.write({{"x", nan},
               {"y", -std::numeric_limits<double>::infinity()},
               {"ok", true},
               {"n", int64_t{-9007199254740993}},
               {"s", "a\"b\\c\nd\x01"},
               {"f", 0.1f}});
  }
  const std::string text = slurp(path);
  EXPECT_THAT(text, HasSubstr("{\"x\": null, \"y\": null, \"ok\": true, \"n\": -9007199254740993, "
                              "\"s\": \"a\\\"b\\\\c\\nd\\u0001\", \"f\": 0.10000000149011612}\n"));
  // Appending keeps the earlier lines.
  { MetricsWriter(path, true).write({{"epoch", 4}}); }
  const auto rows = read_jsonl(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].number("epoch"), 3.0);
  EXPECT_EQ(rows[0].find("split")->as_string(), "train");
  EXPECT_TRUE(std::isnan(rows[1].number("x")));
  EXPECT_TRUE(std::isnan(rows[1].number("absent")));
  EXPECT_EQ(rows[1].find("n")->dump(), "-9007199254740993");  // integers stay exact
  EXPECT_EQ(rows[1].find("s")->as_string(), "a\"b\\c\nd\x01");
  EXPECT_EQ(rows[2].number("epoch"), 4.0);
  EXPECT_THAT(error_of([&] { rows[0].number("split"); }),
              HasSubstr("field \"split\" is the string \"train\", expected a number"));
  std::filesystem::remove_all(temp_path("a"));
}

TEST(MetricsWriter, DoublesRoundTrip) {
  const std::vector<double> values = {0.1, 1.0 / 3.0, 6.02214076e23, -2.5e-308, 1e300, 3.0, -0.0};
  for (double v : values) {
    const std::string text = JsonValue(v).dump();
    const double back = parse_json_object("{\"v\": " + text + "}").number("v");
    EXPECT_EQ(back, v) << text;
  }
}

TEST(MetricsWriter, DisabledAndUnopenable) {
  MetricsWriter off("");
  EXPECT_FALSE(off.enabled());
  off.write({{"a", 1}});  // nothing happens
  EXPECT_THAT(error_of([] { MetricsWriter("/proc/no_such_dir/m.jsonl"); }),
              HasSubstr("MetricsWriter: cannot open '/proc/no_such_dir/m.jsonl' for writing"));
}

TEST(ReadJsonl, ParsesEscapesAndReportsErrors) {
  const auto r =
      parse_json_object(R"( {"a": "\u00e9\ud83d\ude00", "b": -1.5e2, "c": null, "d": false} )");
  ASSERT_EQ(r.fields.size(), 4u);
  EXPECT_EQ(r.find("a")->as_string(), "\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(r.number("b"), -150.0);
  EXPECT_TRUE(r.find("c")->is_null());
  EXPECT_EQ(r.number("d"), 0.0);
  EXPECT_TRUE(parse_json_object("{}").fields.empty());
  EXPECT_THAT(error_of([] { parse_json_object("{\"a\": [1]}", "m.jsonl:7"); }),
              HasSubstr("m.jsonl:7: nested objects and arrays are not supported at byte 6"));
  EXPECT_THAT(error_of([] { parse_json_object("{\"a\": 1", "x"); }),
              HasSubstr("x: invalid JSON: expected ',' or '}' at byte 7"));
  EXPECT_THAT(error_of([] { parse_json_object("{\"a\": 1.2.3}", "x"); }),
              HasSubstr("x: invalid JSON: expected ',' or '}' at byte 9"));

  const std::string path = temp_path("bad.jsonl");
  std::ofstream(path) << "{\"a\": 1}\n\n{\"a\": }\n";
  EXPECT_THAT(error_of([&] { read_jsonl(path); }), HasSubstr("bad.jsonl:3: invalid JSON: unexpected character '}' at byte 6"));
  std::filesystem::remove(path);
  EXPECT_THAT(error_of([] { read_jsonl("/no/such/file.jsonl"); }),
              HasSubstr("read_jsonl: cannot open '/no/such/file.jsonl'"));
}

}  // namespace
