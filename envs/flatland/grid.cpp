#include "grid.h"

#include "engine/core/error.h"

namespace stackgrad::flatland {

uint16_t rotate_cell(uint16_t cell, int quarter_turns) {
  const int r = ((quarter_turns % 4) + 4) % 4;
  uint16_t out = 0;
  // Turning the cell clockwise by r turns an orientation o into o + r and an exit d into d + r.
  for (int o = 0; o < 4; ++o) {
    for (int d = 0; d < 4; ++d) {
      if (!can_exit(cell, o, d)) continue;
      const int o2 = (o + r) % 4;
      const int d2 = (d + r) % 4;
      out |= static_cast<uint16_t>(1u << ((3 - o2) * 4 + (3 - d2)));
    }
  }
  return out;
}

bool is_valid_cell(uint16_t cell) {
  // 30 values out of 65536: a table built once (rail generators ask for every cell they draw).
  static const std::vector<bool> valid = [] {
    std::vector<bool> table(65536, false);
    for (uint16_t base : kBaseCellTypes) {
      for (int r = 0; r < 4; ++r) table[rotate_cell(base, r)] = true;
    }
    return table;
  }();
  return valid[cell];
}

RailGrid::RailGrid(int height, int width, std::vector<uint16_t> cells)
    : height_(height), width_(width), cells_(std::move(cells)) {
  SG_CHECK(height > 0 && width > 0, "RailGrid: expected a positive size, got ", height, "x", width);
  SG_CHECK(cells_.size() == static_cast<size_t>(height) * width, "RailGrid: expected ",
           height * width, " cells for ", height, "x", width, ", got ", cells_.size());
}

}  // namespace stackgrad::flatland
