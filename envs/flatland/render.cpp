#include "render.h"

#include <cmath>

#include "engine/core/error.h"

namespace stackgrad::flatland {

using envs::Rgb;

namespace {

constexpr Rgb kBackground{255, 255, 255};
constexpr Rgb kRailCell{232, 232, 232};
constexpr Rgb kTrack{70, 70, 70};
constexpr Rgb kWhite{255, 255, 255};

// Sides a train can pass through: every exit, and the side it enters by when facing o.
int connected_sides(uint16_t cell) {
  int sides = 0;
  for (int o = 0; o < 4; ++o) {
    const int exits = exit_mask(cell, o);
    if (exits == 0) continue;
    sides |= 1 << ((o + 2) % 4);
    for (int d = 0; d < 4; ++d) {
      if (exits & (8 >> d)) sides |= 1 << d;
    }
  }
  return sides;
}

}  // namespace

std::array<uint8_t, 3> agent_color(int agent) {
  const double h = std::fmod(agent * 0.618033988749895, 1.0) * 6.0;
  const double s = 0.75, v = 0.9;
  const int i = static_cast<int>(h);
  const double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (i % 6) {
    case 1:
      r = q, g = v, b = p;
      break;
    case 2:
      r = p, g = v, b = t;
      break;
    case 3:
      r = p, g = q, b = v;
      break;
    case 4:
      r = t, g = p, b = v;
      break;
    case 5:
      r = v, g = p, b = q;
      break;
    default:
      break;
  }
  return {static_cast<uint8_t>(r * 255), static_cast<uint8_t>(g * 255),
          static_cast<uint8_t>(b * 255)};
}

Image render(const RailEnv& env, const RenderOptions& options) {
  const int px = options.cell_px;
  SG_CHECK(px >= 4, "render: cell_px must be at least 4, got ", px);
  const RailGrid& grid = env.grid();
  Image img(grid.width() * px, grid.height() * px, kBackground);
  const int half = px / 2, track = std::max(1, px / 8);
  for (int r = 0; r < grid.height(); ++r) {
    for (int c = 0; c < grid.width(); ++c) {
      const uint16_t cell = grid.at(r, c);
      if (cell == 0) continue;
      const int x = c * px, y = r * px, cx = x + half, cy = y + half;
      img.fill_rect(x, y, x + px, y + px, kRailCell);
      const int sides = connected_sides(cell);
      if (sides & 1) img.fill_rect(cx - track, y, cx + track, cy + track, kTrack);       // north
      if (sides & 2) img.fill_rect(cx - track, cy - track, x + px, cy + track, kTrack);  // east
      if (sides & 4) img.fill_rect(cx - track, cy - track, cx + track, y + px, kTrack);  // south
      if (sides & 8) img.fill_rect(x, cy - track, cx + track, cy + track, kTrack);       // west
    }
  }
  const int q = std::max(1, px / 4);
  for (int i = 0; i < env.num_agents(); ++i) {
    const AgentSpec& s = env.spec(i);
    const Agent& a = env.agents()[i];
    const Rgb color = agent_color(i);
    if (a.state != TrainState::kDone) {  // target: a small square
      const int x = s.target.col * px, y = s.target.row * px;
      img.fill_rect(x + q, y + q, x + px - q, y + px - q, color);
      img.fill_rect(x + q + 1, y + q + 1, x + px - q - 1, y + px - q - 1, kWhite);
      img.fill_rect(x + half - 1, y + half - 1, x + half + 1, y + half + 1, color);
    }
    if (is_off_map(a.state)) {  // waiting at its start: an outline
      const int x = s.initial_position.col * px, y = s.initial_position.row * px;
      img.fill_rect(x, y, x + px, y + 1, color);
      img.fill_rect(x, y + px - 1, x + px, y + px, color);
      img.fill_rect(x, y, x + 1, y + px, color);
      img.fill_rect(x + px - 1, y, x + px, y + px, color);
    }
  }
  for (int i = 0; i < env.num_agents(); ++i) {  // trains on the map: discs, marked where they face
    const Agent& a = env.agents()[i];
    if (!a.position.on_map()) continue;
    const Rgb color = agent_color(i);
    const int x = a.position.col * px, y = a.position.row * px;
    const double radius = px * 0.42;
    for (int dy = 0; dy < px; ++dy) {
      for (int dx = 0; dx < px; ++dx) {
        const double ex = dx + 0.5 - px / 2.0, ey = dy + 0.5 - px / 2.0;
        if (ex * ex + ey * ey <= radius * radius)
          img.fill_rect(x + dx, y + dy, x + dx + 1, y + dy + 1, color);
      }
    }
    const int mx = x + half + kColDelta[a.direction] * (px / 4),
              my = y + half + kRowDelta[a.direction] * (px / 4);
    img.fill_rect(mx - track, my - track, mx + track + 1, my + track + 1, kWhite);
  }
  return img;
}

}  // namespace stackgrad::flatland
