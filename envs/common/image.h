// An RGB picture in memory and its PNG writer, shared by the environments' renderers.
//
//   Image img(width, height);               // white
//   img.fill_rect(x0, y0, x1, y1, {255, 0, 0});
//   write_png(img, "/tmp/frame_0001.png");
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace stackgrad::envs {

using Rgb = std::array<uint8_t, 3>;

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel

  Image() = default;
  Image(int w, int h, Rgb background = {255, 255, 255});
  Rgb pixel(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * width + x) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
  // Fills [x0, x1) x [y0, y1), clipped to the picture.
  void fill_rect(int x0, int y0, int x1, int y1, Rgb color);
};

// Throws stackgrad::Error when the file cannot be written.
void write_png(const Image& image, const std::string& path);

}  // namespace stackgrad::envs
