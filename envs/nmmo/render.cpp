#include "render.h"

#include <array>
#include <cstdlib>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

// Pixel rectangle of the map region drawn: the playable square plus a one-tile margin, or all.
struct View {
  int first = 0, tiles = 0, px = 1;
  int x(int col) const { return (col - first) * px; }
  int y(int row) const { return (row - first) * px; }
  bool contains(int row, int col) const {
    return row >= first && col >= first && row < first + tiles && col < first + tiles;
  }
};

void set_pixel(Image& img, int x, int y, Rgb color) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const size_t i = (static_cast<size_t>(y) * img.width + x) * 3;
  img.rgb[i] = color[0], img.rgb[i + 1] = color[1], img.rgb[i + 2] = color[2];
}

// Bresenham between two pixel positions.
void draw_line(Image& img, int x0, int y0, int x1, int y1, Rgb color) {
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  while (true) {
    set_pixel(img, x0, y0, color);
    if (x0 == x1 && y0 == y1) return;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

void draw_disc(Image& img, int cx, int cy, int radius, Rgb color) {
  for (int y = -radius; y <= radius; ++y) {
    for (int x = -radius; x <= radius; ++x) {
      if (x * x + y * y <= radius * radius + radius) set_pixel(img, cx + x, cy + y, color);
    }
  }
}

Rgb blend(Rgb a, Rgb b, double t) {
  Rgb out{};
  for (int k = 0; k < 3; ++k) out[k] = static_cast<uint8_t>(a[k] + (b[k] - a[k]) * t + 0.5);
  return out;
}

}  // namespace

void Tracks::record(const World& world) {
  paths_.resize(world.players.size());
  for (size_t i = 0; i < world.players.size(); ++i) {
    const Entity& p = world.players[i];
    auto& path = paths_[i];
    if (!p.alive) {
      path.clear();
      continue;
    }
    path.emplace_back(p.row, p.col);
    while (static_cast<int>(path.size()) > length_) path.pop_front();
  }
}

const std::deque<std::pair<int16_t, int16_t>>& Tracks::of(int32_t player_id) const {
  static const std::deque<std::pair<int16_t, int16_t>> empty;
  if (player_id < 1 || player_id > static_cast<int32_t>(paths_.size())) return empty;
  return paths_[player_id - 1];
}

Rgb material_color(Material m) {
  static constexpr std::array<Rgb, kNumMaterials> colors = {{
      {0, 0, 0},        // Void
      {64, 120, 214},   // Water
      {128, 184, 96},   // Grass
      {170, 170, 110},  // Scrub
      {44, 124, 52},    // Foilage
      {120, 120, 120},  // Stone
      {150, 110, 100},  // Slag
      {176, 96, 64},    // Ore
      {140, 116, 80},   // Stump
      {24, 86, 40},     // Tree
      {170, 150, 200},  // Fragment
      {150, 90, 220},   // Crystal
      {150, 170, 110},  // Weeds
      {210, 210, 60},   // Herb
      {30, 60, 140},    // Ocean
      {40, 200, 200},   // Fish
  }};
  return colors[static_cast<int>(m)];
}

Rgb team_color(int team) {
  static constexpr std::array<Rgb, 16> colors = {{
      {230, 25, 75},
      {255, 225, 25},
      {0, 130, 200},
      {245, 130, 48},
      {145, 30, 180},
      {70, 240, 240},
      {240, 50, 230},
      {210, 245, 60},
      {250, 190, 212},
      {0, 128, 128},
      {220, 190, 255},
      {170, 110, 40},
      {255, 250, 200},
      {128, 0, 0},
      {170, 255, 195},
      {255, 255, 255},
  }};
  return colors[static_cast<size_t>(team) % colors.size()];
}

Rgb npc_color(NpcType type) {
  switch (type) {
    case NpcType::kPassive:
      return {40, 40, 40};
    case NpcType::kNeutral:
      return {120, 60, 0};
    case NpcType::kHostile:
      return {200, 0, 0};
    case NpcType::kPlayer:
      break;
  }
  return {0, 0, 0};
}

Image render(const World& world, const RenderOptions& options, const Tracks* tracks) {
  SG_CHECK(options.tile_px >= 1, "nmmo::render: tile_px must be >= 1, got ", options.tile_px);
  const Config& cfg = world.config;
  View view;
  view.px = options.tile_px;
  if (options.only_center) {
    view.first = cfg.map_border - 1;
    view.tiles = cfg.map_center + 3;  // the playable square and the ring around it
  } else {
    view.tiles = world.size();
  }
  Image img(view.tiles * view.px, view.tiles * view.px, {0, 0, 0});
  for (int r = view.first; r < view.first + view.tiles; ++r) {
    for (int c = view.first; c < view.first + view.tiles; ++c) {
      if (!world.in_bounds(r, c)) continue;
      img.fill_rect(view.x(c), view.y(r), view.x(c) + view.px, view.y(r) + view.px,
                    material_color(world.material(r, c)));
    }
  }
  const int half = view.px / 2;
  auto team_of = [&](const Entity& p) { return (p.id - 1) / std::max(1, cfg.team_size); };
  if (tracks != nullptr) {
    for (const Entity& p : world.players) {
      const auto& path = tracks->of(p.id);
      const Rgb color = blend(team_color(team_of(p)), {255, 255, 255}, 0.35);
      for (size_t k = 1; k < path.size(); ++k) {
        const auto [r0, c0] = path[k - 1];
        const auto [r1, c1] = path[k];
        if (!view.contains(r0, c0) || !view.contains(r1, c1)) continue;
        draw_line(img, view.x(c0) + half, view.y(r0) + half, view.x(c1) + half, view.y(r1) + half,
                  color);
      }
    }
  }
  // Players a little larger than their tile, outlined, so that they stand out on small tiles.
  const int dot = std::max(1, view.px / 2);
  for (const Entity& n : world.npcs) {
    if (!n.alive || !view.contains(n.row, n.col)) continue;
    const int x = view.x(n.col), y = view.y(n.row);
    const int inset = view.px >= 4 ? 1 : 0;
    img.fill_rect(x + inset, y + inset, x + view.px - inset, y + view.px - inset,
                  npc_color(n.npc_type));
  }
  for (const Entity& p : world.players) {
    if (!p.alive || !view.contains(p.row, p.col)) continue;
    draw_disc(img, view.x(p.col) + half, view.y(p.row) + half, dot + 1, {0, 0, 0});
    draw_disc(img, view.x(p.col) + half, view.y(p.row) + half, dot, team_color(team_of(p)));
  }
  return img;
}

}  // namespace stackgrad::nmmo
