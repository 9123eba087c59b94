// CSV parsing (with its error messages) and the UCI tables on the real files (skipped when
// absent).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "datasets/csv.h"
#include "datasets/data_root.h"
#include "engine/io/gzip.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("sg_csv_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

bool have_uci() {
  try {
    sg::data::find_dataset({"uci"}, {"iris.csv"});
    return true;
  } catch (const sg::Error&) {
    return false;
  }
}

}  // namespace

TEST(Csv, ParsesNumbersHeaderAndCrlf) {
  std::vector<std::string> names;
  sg::Tensor t = sg::data::read_csv(temp_file("a.csv", "x, y\r\n1,2.5\r\n\r\n-3e2, nan\r\n"),
                                    {.header = true}, &names);
  EXPECT_EQ(names, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t.dtype(), sg::DType::f64);
  ASSERT_EQ(t.shape(), (sg::Shape{2, 2}));
  std::vector<double> v = t.to_vector<double>();
  EXPECT_EQ(v[0], 1.0);
  EXPECT_EQ(v[1], 2.5);
  EXPECT_EQ(v[2], -300.0);
  EXPECT_TRUE(std::isnan(v[3]));

  sg::Tensor semi =
      sg::data::parse_csv("# comment\n1;2;3\n", "text", {.delimiter = ';', .skip_rows = 1});
  EXPECT_EQ(semi.to_vector<double>(), (std::vector<double>{1, 2, 3}));
}

TEST(Csv, ReadsGzip) {
  std::string text = "1,2\n3,4\n";
  std::vector<uint8_t> gz =
      sg::io::gzip_compress(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  std::string path = temp_file("b.csv.gz", std::string(gz.begin(), gz.end()));
  EXPECT_EQ(sg::data::read_csv(path).to_vector<double>(), (std::vector<double>{1, 2, 3, 4}));
}

TEST(Csv, ErrorsNameFileLineAndColumn) {
  std::string path = temp_file("bad.csv", "1,2\n3,abc\n");
  EXPECT_THAT(error_of([&] { sg::data::read_csv(path); }),
              HasSubstr("read_csv: " + path + ": line 2, column 2: 'abc' is not a number"));
  EXPECT_THAT(error_of([] { sg::data::parse_csv("1,2\n3\n", "t.csv"); }),
              HasSubstr("t.csv: line 2: 1 columns, expected 2"));
  EXPECT_THAT(error_of([] { sg::data::parse_csv("1,2x\n", "t.csv"); }),
              HasSubstr("line 1, column 2: '2x' is not a number"));
  EXPECT_THAT(error_of([] { sg::data::parse_csv("1,\n", "t.csv"); }),
              HasSubstr("line 1, column 2: '' is not a number"));
  EXPECT_THAT(error_of([] { sg::data::read_csv("/no/such.csv"); }), HasSubstr("/no/such.csv"));
}

TEST(Uci, IrisAndFriends) {
  if (!have_uci()) GTEST_SKIP() << "uci/ not found under the data roots";
  sg::data::TableDataset iris = sg::data::load_uci("iris");
  EXPECT_EQ(iris.features.shape(), (sg::Shape{150, 4}));
  EXPECT_EQ(iris.features.dtype(), sg::DType::f64);
  EXPECT_EQ(iris.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  std::vector<double> x = iris.features.to_vector<double>();
  EXPECT_EQ(std::vector<double>(x.begin(), x.begin() + 4),
            (std::vector<double>{5.1, 3.5, 1.4, 0.2}));
  std::vector<int64_t> y = iris.labels.to_vector<int64_t>(), counts(3);
  for (int64_t c : y) ++counts[c];
  EXPECT_EQ(counts, (std::vector<int64_t>{50, 50, 50}));

  sg::data::TableDataset wine = sg::data::load_uci("wine");
  EXPECT_EQ(wine.features.shape(), (sg::Shape{178, 13}));
  sg::data::TableDataset bc = sg::data::load_uci("breast_cancer");
  EXPECT_EQ(bc.features.shape(), (sg::Shape{569, 30}));
  EXPECT_EQ(bc.class_names[0], "malignant");
  sg::data::TableDataset digits = sg::data::load_uci("digits");
  EXPECT_EQ(digits.features.shape(), (sg::Shape{1797, 64}));
  EXPECT_EQ(digits.num_classes(), 10);
  EXPECT_EQ(digits.labels.to_vector<int64_t>()[0], 0);

  EXPECT_THAT(error_of([] { sg::data::load_uci("titanic"); }),
              HasSubstr("load_uci: unknown dataset 'titanic'"));
}

TEST(Csv, StandardizeColumns) {
  sg::Tensor x = sg::from_vector<double>({1, 5, 3, 5}, {2, 2});
  EXPECT_EQ(sg::data::standardize(x).to_vector<double>(), (std::vector<double>{-1, 0, 1, 0}));
}
