#include "image.h"

#include <algorithm>

#include "engine/core/error.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace stackgrad::envs {

Image::Image(int w, int h, Rgb background) : width(w), height(h) {
  SG_CHECK(w > 0 && h > 0, "Image: expected a positive size, got ", w, "x", h);
  rgb.resize(static_cast<size_t>(w) * h * 3);
  fill_rect(0, 0, w, h, background);
}

void Image::fill_rect(int x0, int y0, int x1, int y1, Rgb color) {
  for (int y = std::max(0, y0); y < std::min(height, y1); ++y) {
    for (int x = std::max(0, x0); x < std::min(width, x1); ++x) {
      uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = color[0], p[1] = color[1], p[2] = color[2];
    }
  }
}

void write_png(const Image& image, const std::string& path) {
  const int ok =
      stbi_write_png(path.c_str(), image.width, image.height, 3, image.rgb.data(), image.width * 3);
  SG_CHECK(ok != 0, "write_png: cannot write '", path, "'");
}

}  // namespace stackgrad::envs
