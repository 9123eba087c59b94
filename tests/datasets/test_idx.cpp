// IDX parsing (hand-made files, corrupt ones included) and the MNIST / Fashion-MNIST loaders on
// the real files (skipped when the data folder is absent).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "datasets/data_root.h"
#include "datasets/idx.h"
#include "engine/io/gzip.h"
#include "engine/ops/reduce.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

std::string temp_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  auto dir = std::filesystem::temp_directory_path() / ("sg_idx_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return path;
}

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

std::vector<uint8_t> idx_header(uint8_t type, std::vector<uint32_t> dims) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) put_be32(b, d);
  return b;
}

bool have_mnist() {
  try {
    sg::data::find_dataset({"mnist"}, {"train-images-idx3-ubyte.gz"});
    return true;
  } catch (const sg::Error&) {
    return false;
  }
}

}  // namespace

TEST(Idx, ParsesU8AndBigEndianTypes) {
  std::vector<uint8_t> b = idx_header(0x08, {2, 3});
  for (uint8_t v : {0, 1, 2, 253, 254, 255}) b.push_back(v);
  sg::Tensor t = sg::data::load_idx(temp_file("u8.idx", b));
  EXPECT_EQ(t.dtype(), sg::DType::u8);
  EXPECT_EQ(t.shape(), (sg::Shape{2, 3}));
  EXPECT_EQ(t.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 2, 253, 254, 255}));

  std::vector<uint8_t> i = idx_header(0x0C, {2});
  put_be32(i, 7);
  put_be32(i, static_cast<uint32_t>(-5));
  EXPECT_EQ(sg::data::load_idx(temp_file("i32.idx", i)).to_vector<int32_t>(),
            (std::vector<int32_t>{7, -5}));

  std::vector<uint8_t> f = idx_header(0x0D, {1});
  put_be32(f, 0x3FC00000u);  // 1.5f
  EXPECT_EQ(sg::data::load_idx(temp_file("f32.idx", f)).to_vector<float>(),
            (std::vector<float>{1.5f}));

  std::vector<uint8_t> s = idx_header(0x0B, {2});
  for (uint8_t v : {0xFF, 0xFE, 0x01, 0x00}) s.push_back(v);  // -2, 256
  EXPECT_EQ(sg::data::load_idx(temp_file("i16.idx", s)).to_vector<int32_t>(),
            (std::vector<int32_t>{-2, 256}));
}

TEST(Idx, ReadsGzip) {
  std::vector<uint8_t> b = idx_header(0x08, {3});
  b.insert(b.end(), {9, 8, 7});
  std::vector<uint8_t> gz = sg::io::gzip_compress(b.data(), b.size());
  EXPECT_EQ(sg::data::load_idx(temp_file("x.idx.gz", gz)).to_vector<uint8_t>(),
            (std::vector<uint8_t>{9, 8, 7}));
}

TEST(Idx, CorruptFilesGiveClearErrors) {
  std::vector<uint8_t> bad = {0, 0, 0, 0, 0, 0, 0, 0};
  std::string path = temp_file("t10k-images-idx3-ubyte", bad);
  EXPECT_THAT(error_of([&] { sg::data::load_idx(path, 0x803); }),
              HasSubstr("t10k-images-idx3-ubyte: bad magic 0x00000000 (expected 0x00000803)"));
  EXPECT_THAT(error_of([&] { sg::data::load_idx(path); }), HasSubstr("bad magic 0x00000000"));

  std::vector<uint8_t> trunc = idx_header(0x08, {10, 28, 28});
  trunc.resize(trunc.size() + 100);
  EXPECT_THAT(error_of([&] { sg::data::load_idx(temp_file("trunc", trunc)); }),
              HasSubstr("truncated: header says [10, 28, 28] u8 = 7840 bytes of data, the file "
                        "has 100"));

  std::vector<uint8_t> short_header = {0, 0, 8, 3, 0, 0};
  EXPECT_THAT(error_of([&] { sg::data::load_idx(temp_file("short", short_header)); }),
              HasSubstr("truncated header"));

  // 2^31-1 cubed elements: the size overflows before anything is allocated.
  std::vector<uint8_t> huge = idx_header(0x0E, {0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF});
  EXPECT_THAT(error_of([&] { sg::data::load_idx(temp_file("huge", huge)); }), HasSubstr("huge"));
  EXPECT_NE(error_of([&] { sg::data::load_idx(temp_file("huge", huge)); }), "no error");

  std::vector<uint8_t> trailing = idx_header(0x08, {1});
  trailing.insert(trailing.end(), {1, 2});
  EXPECT_THAT(error_of([&] { sg::data::load_idx(temp_file("trail", trailing)); }),
              HasSubstr("1 trailing bytes"));

  EXPECT_THAT(error_of([&] { sg::data::load_idx("/nonexistent/file.idx"); }),
              HasSubstr("/nonexistent/file.idx"));
}

TEST(Mnist, TrainAndTestMatchTheKnownValues) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST not found under the data roots";
  // CPU time rather than wall time: the decode is one thread, and a busy machine stretches wall
  // time without saying anything about the loader.
  const std::clock_t c0 = std::clock();
  sg::data::ImageDataset train = sg::data::load_mnist(sg::data::Split::train);
  const double cpu_seconds = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  // Recorded, not asserted: speed is measured by benchmarks, never by a timed unit test (a
  // sanitizer build or a busy machine would fail it).
  RecordProperty("load_cpu_seconds", std::to_string(cpu_seconds));
  EXPECT_EQ(train.images.shape(), (sg::Shape{60000, 1, 28, 28}));
  EXPECT_EQ(train.images.dtype(), sg::DType::f32);
  EXPECT_EQ(train.labels.dtype(), sg::DType::i64);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(train.class_names[5], "5");
  std::vector<int64_t> labels = train.labels.to_vector<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(labels.begin(), labels.begin() + 5),
            (std::vector<int64_t>{5, 0, 4, 1, 9}));
  // Pixel sum of image 0 is 27525 / 255 (computed with numpy from the raw bytes).
  EXPECT_NEAR(sg::sum(train.images.select(0, 0)).item(), 27525.0 / 255.0, 1e-3);
  EXPECT_NEAR(sg::sum(train.images.select(0, 59999)).item(), 20920.0 / 255.0, 1e-3);
  std::vector<int64_t> counts(10);
  for (int64_t y : labels) ++counts[y];
  EXPECT_EQ(counts[1], 6742);

  sg::data::ImageDataset test = sg::data::load_mnist(sg::data::Split::test);
  EXPECT_EQ(test.images.shape(), (sg::Shape{10000, 1, 28, 28}));
  EXPECT_EQ(test.labels.to_vector<int64_t>()[0], 7);
  EXPECT_NEAR(sg::sum(test.images.select(0, 0)).item(), 18454.0 / 255.0, 1e-3);
}

TEST(Mnist, MissingFolderListsThePathsTried) {
  // The loaders resolve folders with find_dataset; a name no root holds shows the message.
  std::string msg = error_of(
      [] { sg::data::find_dataset({"no-mnist"}, {"t10k-images-idx3-ubyte.gz"}, "/no/such/dir"); });
  EXPECT_THAT(msg, HasSubstr("dataset 'no-mnist' not found"));
  EXPECT_THAT(msg, HasSubstr("/no/such/dir/no-mnist/t10k-images-idx3-ubyte.gz (missing)"));
  EXPECT_THAT(msg, HasSubstr("scripts/get-data.sh"));
}

TEST(FashionMnist, SizesAndClasses) {
  sg::data::ImageDataset test;
  try {
    test = sg::data::load_fashion_mnist(sg::data::Split::test);
  } catch (const sg::Error& e) {
    if (std::string(e.what()).find("not found") != std::string::npos)
      GTEST_SKIP() << "Fashion-MNIST not found (Debian package dataset-fashion-mnist)";
    throw;
  }
  EXPECT_EQ(test.images.shape(), (sg::Shape{10000, 1, 28, 28}));
  EXPECT_EQ(test.class_names[9], "Ankle boot");
  EXPECT_EQ(test.labels.to_vector<int64_t>()[0], 9);
  EXPECT_NEAR(sg::sum(test.images.select(0, 0)).item(), 33456.0 / 255.0, 1e-3);
  EXPECT_EQ(sg::data::load_fashion_mnist(sg::data::Split::train).images.size(0), 60000);
}
