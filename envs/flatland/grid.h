// The Flatland rail grid: a height x width array of 16-bit cells, each saying which exits a
// train may take for each direction it can face inside the cell.
//
// Bits: four 4-bit blocks, one per orientation o (N, E, S, W from the most significant block);
// inside a block the bits are the allowed exit directions N, E, S, W (MSB first). A train that
// leaves a cell through exit d enters the neighbour facing d.
//
//   RailGrid grid(30, 30);
//   grid.set(5, 7, kStraightNS);
//   if (can_exit(grid.at(5, 7), kNorth, kNorth)) { ... }
#pragma once

#include <cstdint>
#include <vector>

namespace stackgrad::flatland {

enum Direction : int { kNorth = 0, kEast = 1, kSouth = 2, kWest = 3 };

inline constexpr int kRowDelta[4] = {-1, 0, 1, 0};
inline constexpr int kColDelta[4] = {0, 1, 0, -1};

// A cell on the grid; row -1 means "not on the map" (a train that has not departed or arrived).
struct GridPos {
  int32_t row = -1;
  int32_t col = -1;
  bool on_map() const { return row >= 0; }
  friend bool operator==(const GridPos&, const GridPos&) = default;
};
inline constexpr GridPos kOffMap{};

inline GridPos step_towards(GridPos p, int direction) {
  return {p.row + kRowDelta[direction], p.col + kColDelta[direction]};
}

// The 4-bit exit mask (N, E, S, W from bit 3 to bit 0) for a train facing `orientation`.
inline int exit_mask(uint16_t cell, int orientation) {
  return (cell >> ((3 - orientation) * 4)) & 0xF;
}
inline bool can_exit(uint16_t cell, int orientation, int direction) {
  return (cell >> ((3 - orientation) * 4 + (3 - direction))) & 1;
}
inline int count_exits(uint16_t cell, int orientation) {
  return __builtin_popcount(static_cast<unsigned>(exit_mask(cell, orientation)));
}
// A dead end has exactly one transition in total (the U-turn).
inline bool is_dead_end(uint16_t cell) { return __builtin_popcount(cell) == 1; }

// The 11 base cell types (one orientation each); with their 90-degree rotations and the empty
// cell they make the 30 distinct cells a valid Flatland rail may contain.
inline constexpr uint16_t kBaseCellTypes[11] = {
    0b0000000000000000,  // empty
    0b1000000000100000,  // straight
    0b1001001000100000,  // simple switch
    0b1000010000100001,  // diamond crossing
    0b1001011000100001,  // single slip switch
    0b1100110000110011,  // double slip switch
    0b0101001000000010,  // symmetrical (Y) switch
    0b0010000000000000,  // dead end
    0b0100000000000010,  // right turn
    0b0001001000000000,  // left turn
    0b1100000000100010,  // mirrored simple switch
};

// Rotates a cell clockwise by `quarter_turns` * 90 degrees.
uint16_t rotate_cell(uint16_t cell, int quarter_turns);
// True when `cell` is empty or a rotation of one of the base types.
bool is_valid_cell(uint16_t cell);

class RailGrid {
 public:
  RailGrid() = default;
  RailGrid(int height, int width) : height_(height), width_(width), cells_(height * width, 0) {}
  RailGrid(int height, int width, std::vector<uint16_t> cells);

  int height() const { return height_; }
  int width() const { return width_; }
  int size() const { return height_ * width_; }
  bool in_bounds(GridPos p) const {
    return p.row >= 0 && p.col >= 0 && p.row < height_ && p.col < width_;
  }
  int index(GridPos p) const { return p.row * width_ + p.col; }
  GridPos pos(int index) const { return {index / width_, index % width_}; }

  uint16_t at(GridPos p) const { return cells_[index(p)]; }
  uint16_t at(int row, int col) const { return cells_[row * width_ + col]; }
  void set(int row, int col, uint16_t cell) { cells_[row * width_ + col] = cell; }
  const std::vector<uint16_t>& cells() const { return cells_; }

 private:
  int height_ = 0;
  int width_ = 0;
  std::vector<uint16_t> cells_;
};

}  // namespace stackgrad::flatland
