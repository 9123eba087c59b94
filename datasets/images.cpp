#include "datasets/images.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <memory>

#include "engine/io/raw_array.h"

// The decoder's implementation is compiled here and nowhere else.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace stackgrad::data {

Tensor decode_image(const uint8_t* bytes, size_t size, const std::string& what, int channels,
                    DType dtype) {
  SG_CHECK(channels >= 0 && channels <= 4, what, ": channels must be 0..4, got ", channels);
  SG_CHECK(dtype == DType::u8 || dtype == DType::f32, what, ": dtype must be u8 or f32, got ",
           dtype_name(dtype));
  SG_CHECK(size <= static_cast<size_t>(INT32_MAX), what, ": ", size, " bytes is too large");
  int w = 0, h = 0, file_channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes, static_cast<int>(size), &w, &h, &file_channels, channels),
      stbi_image_free);
  SG_CHECK(pixels != nullptr, what, ": cannot decode image (", stbi_failure_reason(), ")");
  const int64_t c = channels ? channels : file_channels;
  // stb gives interleaved [H, W, C]; tensors are channel-first [C, H, W].
  Tensor out = empty({c, h, w}, dtype);
  const int64_t hw = int64_t{h} * w;
  const stbi_uc* src = pixels.get();
  if (dtype == DType::u8) {
    uint8_t* dst = out.data_ptr<uint8_t>();
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t ch = 0; ch < c; ++ch) dst[ch * hw + p] = src[p * c + ch];
  } else {
    float* dst = out.data_ptr<float>();
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t ch = 0; ch < c; ++ch)
        dst[ch * hw + p] = static_cast<float>(src[p * c + ch]) / 255.0f;
  }
  return out;
}

Tensor load_image(const std::string& path, int channels, DType dtype) {
  const std::vector<uint8_t> bytes = io::read_file_bytes(path, "load_image");
  return decode_image(bytes.data(), bytes.size(), "load_image: " + path, channels, dtype);
}

namespace {

bool is_image_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<std::filesystem::path> sorted_entries(const std::filesystem::path& dir, bool dirs) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (dirs ? e.is_directory() : (e.is_regular_file() && is_image_file(e.path())))
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

ImageDataset load_image_folder(const std::string& root, int channels) {
  namespace fs = std::filesystem;
  SG_CHECK(fs::is_directory(root), "load_image_folder: ", root, " is not a folder");
  ImageDataset ds;
  std::vector<Tensor> images;
  std::vector<int64_t> labels;
  std::string first;  // the image that fixed the size, for the error message
  for (const fs::path& class_dir : sorted_entries(root, /*dirs=*/true)) {
    const auto label = static_cast<int64_t>(ds.class_names.size());
    ds.class_names.push_back(class_dir.filename().string());
    for (const fs::path& file : sorted_entries(class_dir, /*dirs=*/false)) {
      Tensor img = load_image(file.string(), channels, DType::f32);
      if (images.empty()) {
        first = file.string();
        channels = static_cast<int>(img.size(0));
      } else {
        SG_CHECK(img.shape() == images.front().shape(), "load_image_folder: ", file.string(),
                 " is ", img.size(0), " x ", img.size(1), " x ", img.size(2), " (C x H x W) but ",
                 first, " is ", images.front().size(0), " x ", images.front().size(1), " x ",
                 images.front().size(2), "; all images must share one size");
      }
      images.push_back(img);
      labels.push_back(label);
    }
  }
  SG_CHECK(!images.empty(),
           "load_image_folder: no images (.png/.jpg/.jpeg/.bmp) in class "
           "subfolders of ",
           root);
  ds.num_classes = static_cast<int64_t>(ds.class_names.size());
  const Shape& s = images.front().shape();
  ds.images = empty({static_cast<int64_t>(images.size()), s[0], s[1], s[2]}, DType::f32);
  const int64_t per = images.front().numel();
  for (size_t i = 0; i < images.size(); ++i)
    std::memcpy(ds.images.data_ptr<float>() + i * per, images[i].data_ptr<float>(),
                sizeof(float) * per);
  ds.labels = from_vector(labels);
  return ds;
}

}  // namespace stackgrad::data
