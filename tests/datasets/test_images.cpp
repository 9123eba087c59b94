// load_image / load_image_folder on PNG files the test writes itself (a minimal encoder over
// zlib: signature, IHDR, one IDAT of unfiltered rows, IEND).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "datasets/images.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
namespace fs = std::filesystem;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

void chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  put_be32(png, static_cast<uint32_t>(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put_be32(png, static_cast<uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))));
}

// 8-bit PNG of c channels (1 grey, 3 RGB, 4 RGBA) from interleaved [h, w, c] pixels.
std::vector<uint8_t> encode_png(int w, int h, int c, const std::vector<uint8_t>& pixels) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  const uint8_t color = c == 1 ? 0 : c == 3 ? 2 : 6;
  ihdr.insert(ihdr.end(), {8, color, 0, 0, 0});
  chunk(png, "IHDR", ihdr);
  std::vector<uint8_t> raw;
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);  // filter: none
    raw.insert(raw.end(), pixels.begin() + y * w * c, pixels.begin() + (y + 1) * w * c);
  }
  uLongf size = compressBound(raw.size());
  std::vector<uint8_t> z(size);
  compress(z.data(), &size, raw.data(), raw.size());
  z.resize(size);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  return png;
}

fs::path temp_dir() {
  fs::path dir = fs::temp_directory_path() / ("sg_images_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST(Images, LoadsRgbPngChannelFirst) {
  // 3 wide, 2 high: pixel (y, x) = (10y + x, 100 + 10y + x, 200 + x).
  std::vector<uint8_t> px;
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      px.insert(px.end(), {uint8_t(10 * y + x), uint8_t(100 + 10 * y + x), uint8_t(200 + x)});
  const std::string path = (temp_dir() / "rgb.png").string();
  write(path, encode_png(3, 2, 3, px));
  sg::Tensor t = sg::data::load_image(path);
  EXPECT_EQ(t.dtype(), sg::DType::u8);
  EXPECT_EQ(t.shape(), (sg::Shape{3, 2, 3}));
  EXPECT_EQ(t.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 2, 10, 11, 12,              // R
                                                          100, 101, 102, 110, 111, 112,     // G
                                                          200, 201, 202, 200, 201, 202}));  // B
  sg::Tensor f = sg::data::load_image(path, 3, sg::DType::f32);
  EXPECT_FLOAT_EQ(f.to_vector<float>()[12], 200.0f / 255.0f);
  // Converted to one grey channel by stb's luma weights: 2 x 3.
  EXPECT_EQ(sg::data::load_image(path, 1).shape(), (sg::Shape{1, 2, 3}));
}

TEST(Images, CorruptFileIsAnError) {
  const std::string path = (temp_dir() / "bad.png").string();
  write(path, {0x89, 'P', 'N', 'G', 1, 2, 3});
  std::string msg = error_of([&] { sg::data::load_image(path); });
  EXPECT_THAT(msg, HasSubstr("load_image: " + path + ": cannot decode image"));
}

TEST(Images, FolderOfClasses) {
  const fs::path root = temp_dir() / "folder";
  fs::remove_all(root);
  // Two classes (sorted: "cat" before "dog"), 2x2 grey images of constant value.
  write(root / "dog" / "b.png", encode_png(2, 2, 1, {30, 30, 30, 30}));
  write(root / "dog" / "a.png", encode_png(2, 2, 1, {20, 20, 20, 20}));
  write(root / "cat" / "x.png", encode_png(2, 2, 1, {10, 10, 10, 10}));
  write(root / "cat" / "notes.txt", {'h', 'i'});
  sg::data::ImageDataset ds = sg::data::load_image_folder(root.string());
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds.num_classes, 2);
  EXPECT_EQ(ds.images.shape(), (sg::Shape{3, 1, 2, 2}));
  EXPECT_EQ(ds.labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1}));
  std::vector<float> v = ds.images.to_vector<float>();
  EXPECT_FLOAT_EQ(v[0], 10.0f / 255.0f);
  EXPECT_FLOAT_EQ(v[4], 20.0f / 255.0f);  // dog/a.png comes before dog/b.png
  EXPECT_FLOAT_EQ(v[8], 30.0f / 255.0f);

  write(root / "dog" / "c.png", encode_png(3, 2, 1, {1, 2, 3, 4, 5, 6}));
  std::string msg = error_of([&] { sg::data::load_image_folder(root.string()); });
  EXPECT_THAT(msg, HasSubstr("c.png is 1 x 2 x 3 (C x H x W)"));
  EXPECT_THAT(msg, HasSubstr("all images must share one size"));
  EXPECT_THAT(error_of([] { sg::data::load_image_folder("/no/such/folder"); }),
              HasSubstr("load_image_folder: /no/such/folder is not a folder"));
}
