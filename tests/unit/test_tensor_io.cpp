// Tensor-level file I/O: round trips through .npy, .npy.gz and safetensors, and clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "engine/io/tensor_io.h"
#include "engine/stackgrad.h"

namespace stackgrad {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TensorIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("stackgrad_io_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(TensorIo, NpyRoundTripsEveryDtypeAndNonContiguousInput) {
  Generator g(1);
  Tensor base = randn({3, 4}, g, DType::f64);
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean}) {
    Tensor t = (base * 10.0).to(dt).t();  // non-contiguous on purpose
    save_npy(path("a.npy"), t);
    Tensor back = load_npy(path("a.npy"));
    EXPECT_EQ(back.dtype(), dt);
    EXPECT_EQ(back.shape(), (Shape{4, 3}));
    EXPECT_TRUE(equal(back, t)) << dtype_name(dt);
  }
}

TEST_F(TensorIo, GzipRoundTrip) {
  Tensor t = arange(1000).reshape({10, 100});
  save_npy(path("b.npy.gz"), t);
  EXPECT_TRUE(equal(load_npy(path("b.npy.gz")), t));
  EXPECT_LT(fs::file_size(path("b.npy.gz")), 8000u);  // compressed
}

TEST_F(TensorIo, SafetensorsRoundTripWithMetadata) {
  NamedTensors in = {{"w", ones({2, 3})}, {"b", arange(4)}, {"s", scalar_tensor(2.0, DType::f64)}};
  save_safetensors(path("m.safetensors"), in, {{"format", "pt"}});
  std::map<std::string, std::string> meta;
  NamedTensors out = load_safetensors(path("m.safetensors"), &meta);
  ASSERT_EQ(out.size(), 3u);
  for (const auto& [name, t] : in) EXPECT_TRUE(equal(out.at(name), t)) << name;
  EXPECT_EQ(meta.at("format"), "pt");
}

TEST_F(TensorIo, MissingFileNamesThePath) {
  try {
    load_npy(path("missing.npy"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.npy"));
  }
}

TEST_F(TensorIo, WriteIntoMissingFolderFailsCleanly) {
  EXPECT_THROW(save_npy(path("no/such/dir/x.npy"), ones({2})), Error);
  EXPECT_FALSE(fs::exists(path("no")));
}

TEST_F(TensorIo, RejectsSparseInput) {
  // Only dense tensors can be saved.
  Tensor undefined;
  EXPECT_THROW(save_npy(path("u.npy"), undefined), Error);
}

}  // namespace
}  // namespace stackgrad
