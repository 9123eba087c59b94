// PNG snapshots of a Neural MMO world: one square of `tile_px` pixels per tile coloured by its
// material, players as discs in their team's colour with their recent path as a line, NPCs as
// small squares coloured by type (passive, neutral, hostile).
//
//   Tracks tracks(/*length=*/32);
//   ... after every step: tracks.record(world);
//   envs::write_png(render(world, {.tile_px = 4}, &tracks), "/tmp/nmmo_0100.png");
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "envs/common/image.h"
#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

using envs::Image;
using envs::Rgb;

struct RenderOptions {
  int tile_px = 4;          // pixels per tile (>= 1)
  bool only_center = true;  // crop the Void border
};

// The positions of each alive player over the last `length` recorded ticks.
class Tracks {
 public:
  explicit Tracks(int length = 32) : length_(length) {}
  void record(const World& world);
  // Oldest first; empty for unknown or dead players.
  const std::deque<std::pair<int16_t, int16_t>>& of(int32_t player_id) const;

 private:
  int length_;
  std::vector<std::deque<std::pair<int16_t, int16_t>>> paths_;  // paths_[id - 1]
};

Rgb material_color(Material m);
Rgb team_color(int team);  // 16 distinct hues, repeating
Rgb npc_color(NpcType type);

// Throws stackgrad::Error when tile_px < 1.
Image render(const World& world, const RenderOptions& options = {}, const Tracks* tracks = nullptr);

}  // namespace stackgrad::nmmo
