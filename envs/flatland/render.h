// Rendering: an RGB picture of a RailEnv (rails, stations, targets and trains), written as PNG.
//
//   Image img = render(env, {.cell_px = 16});
//   write_png(img, "/tmp/frame_0001.png");
//   // img.width == grid width * cell_px; img.pixel(x, y) gives the RGB of one pixel
//
// Each rail cell is a light square with dark track segments from its centre to every side a
// train can pass through; each train's target is a small square in the train's colour, its start
// cell (before departure) an outline in that colour, and a train on the map a filled disc with a
// white mark on the side it faces.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rail_env.h"

namespace stackgrad::flatland {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel
  std::array<uint8_t, 3> pixel(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * width + x) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
};

struct RenderOptions {
  int cell_px = 16;  // pixels per grid cell (at least 4)
};

Image render(const RailEnv& env, const RenderOptions& options = {});
// Throws stackgrad::Error when the file cannot be written.
void write_png(const Image& image, const std::string& path);

// A distinct colour per agent (golden-ratio hues).
std::array<uint8_t, 3> agent_color(int agent);

}  // namespace stackgrad::flatland
