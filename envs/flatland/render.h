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

#include "envs/common/image.h"
#include "rail_env.h"

namespace stackgrad::flatland {

using envs::Image;
using envs::write_png;

struct RenderOptions {
  int cell_px = 16;  // pixels per grid cell (at least 4)
};

Image render(const RailEnv& env, const RenderOptions& options = {});

// A distinct colour per agent (golden-ratio hues).
std::array<uint8_t, 3> agent_color(int agent);

}  // namespace stackgrad::flatland
