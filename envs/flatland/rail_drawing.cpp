#include "rail_drawing.h"

#include <algorithm>
#include <cstdlib>

#include "engine/core/error.h"

namespace stackgrad::flatland::drawing {

namespace {
int mirror(int d) { return (d + 2) % 4; }
}  // namespace

uint16_t with_exit(uint16_t cell, int orientation, int direction) {
  return static_cast<uint16_t>(cell | (1u << ((3 - orientation) * 4 + (3 - direction))));
}

int manhattan(GridPos a, GridPos b) { return std::abs(a.row - b.row) + std::abs(a.col - b.col); }

// Direction of a single step from a to b.
int step_direction(GridPos a, GridPos b) {
  if (b.row < a.row) return kNorth;
  if (b.row > a.row) return kSouth;
  if (b.col > a.col) return kEast;
  return kWest;
}

// Main direction from a towards b (the axis with the larger offset; rows win ties).
int direction_to_point(GridPos a, GridPos b) {
  const int dr = a.row - b.row;
  const int dc = a.col - b.col;
  if (dr * dr >= dc * dc) return dr > 0 ? kNorth : kSouth;
  return dc > 0 ? kWest : kEast;
}

// A* over grid cells that ignores rail validity (as the generator asks): unit steps, Manhattan
// distance plus 1 on cells that already hold rail, `forbidden` cells avoided except the ends.
// Ties go to the earliest opened node, like flatland's ordered open set.
std::vector<GridPos> a_star(const RailGrid& grid, GridPos start, GridPos end,
                            const std::vector<uint8_t>& forbidden) {
  struct Node {
    GridPos pos;
    int parent;
    double g, f;
  };
  std::vector<Node> nodes{{start, -1, 0.0, 0.0}};
  std::vector<int> open{0};
  std::vector<uint8_t> closed(grid.size(), 0), in_open(grid.size(), 0);
  in_open[grid.index(start)] = 1;
  static constexpr int kMoves[4][2] = {{0, -1}, {0, 1}, {-1, 0}, {1, 0}};
  while (!open.empty()) {
    size_t best = 0;
    for (size_t k = 1; k < open.size(); ++k) {
      if (nodes[open[k]].f < nodes[open[best]].f) best = k;
    }
    const int current = open[best];
    open.erase(open.begin() + static_cast<long>(best));
    const GridPos pos = nodes[current].pos;
    in_open[grid.index(pos)] = 0;
    closed[grid.index(pos)] = 1;
    if (pos == end) {
      std::vector<GridPos> path;
      for (int k = current; k >= 0; k = nodes[k].parent) path.push_back(nodes[k].pos);
      std::reverse(path.begin(), path.end());
      return path;
    }
    for (const auto& m : kMoves) {
      const GridPos next{pos.row + m[0], pos.col + m[1]};
      if (!grid.in_bounds(next)) continue;
      const int idx = grid.index(next);
      if (forbidden[idx] && !(next == start) && !(next == end)) continue;
      if (closed[idx] || in_open[idx]) continue;
      const double g = nodes[current].g + 1.0;
      const double h = manhattan(next, end) + (grid.cells()[idx] != 0 ? 1.0 : 0.0);
      nodes.push_back({next, current, g, g + h});
      open.push_back(static_cast<int>(nodes.size()) - 1);
      in_open[idx] = 1;
    }
  }
  return {};
}

// Draws rail along an A* path (flatland's connect_rail_in_grid_map without flipped ends): each
// inner cell gets the move through it in both directions, the end cells only if they already
// hold rail.
std::vector<GridPos> connect_rail(RailGrid& grid, GridPos start, GridPos end,
                                  const std::vector<uint8_t>& forbidden) {
  std::vector<GridPos> path = a_star(grid, start, end, forbidden);
  if (path.size() < 2) return {};
  int current_dir = step_direction(path[0], path[1]);
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const GridPos cur = path[i];
    const int new_dir = step_direction(cur, path[i + 1]);
    uint16_t cell = grid.at(cur);
    if (i == 0) {
      if (cell != 0) cell = with_exit(cell, current_dir, new_dir);
    } else {
      cell = with_exit(cell, current_dir, new_dir);
      cell = with_exit(cell, mirror(new_dir), mirror(current_dir));
    }
    grid.set(cur.row, cur.col, cell);
    if (path[i + 1] == path.back()) {
      const uint16_t end_cell = grid.at(path.back());
      if (end_cell != 0) {
        grid.set(path.back().row, path.back().col, with_exit(end_cell, new_dir, new_dir));
      }
    }
    current_dir = new_dir;
  }
  return path;
}

// A straight two-way track from start to end (same row or column), cells in ascending order.
std::vector<GridPos> connect_straight(RailGrid& grid, GridPos start, GridPos end) {
  SG_CHECK(start.row == end.row || start.col == end.col,
           "generate_sparse_rail: no straight line from (", start.row, ", ", start.col, ") to (",
           end.row, ", ", end.col, ")");
  const int dir = direction_to_point(start, end);
  std::vector<GridPos> path;
  if (dir == kNorth || dir == kSouth) {
    for (int r = std::min(start.row, end.row); r <= std::max(start.row, end.row); ++r) {
      path.push_back({r, start.col});
    }
  } else {
    for (int c = std::min(start.col, end.col); c <= std::max(start.col, end.col); ++c) {
      path.push_back({start.row, c});
    }
  }
  for (GridPos p : path) {
    grid.set(p.row, p.col, with_exit(with_exit(grid.at(p), dir, dir), mirror(dir), mirror(dir)));
  }
  return path;
}

// An inner connection point with exactly two rail neighbours becomes the curve between them.
void fix_inner_node(RailGrid& grid, GridPos p) {
  int dirs[4];
  int count = 0;
  for (int d = 0; d < 4; ++d) {
    const GridPos q = step_towards(p, d);
    if (grid.in_bounds(q) && grid.at(q) != 0 && count < 4) dirs[count++] = d;
  }
  if (count != 2) return;
  uint16_t cell = with_exit(0, mirror(dirs[0]), dirs[1]);
  cell = with_exit(cell, mirror(dirs[1]), dirs[0]);
  grid.set(p.row, p.col, cell);
  for (int k = 0; k < 2; ++k) {
    const GridPos q = step_towards(p, dirs[k]);
    grid.set(q.row, q.col, with_exit(grid.at(q), dirs[k], mirror(dirs[k])));
  }
}

// Whether a neighbour of p has a transition leading into p (it exits towards p).
bool has_incoming(const RailGrid& grid, GridPos p, int d) {
  const GridPos q = step_towards(p, d);
  if (!grid.in_bounds(q)) return false;
  for (int o = 0; o < 4; ++o) {
    if (can_exit(grid.at(q), o, mirror(d))) return true;
  }
  return false;
}

// flatland's cell_neighbours_valid(check_this_cell=True).
bool cell_neighbours_valid(const RailGrid& grid, GridPos p) {
  const uint16_t cell = grid.at(p);
  if (!is_valid_cell(cell)) return false;
  for (int d = 0; d < 4; ++d) {
    bool exits_d = false;
    for (int o = 0; o < 4; ++o) exits_d = exits_d || can_exit(cell, o, d);
    if (!exits_d) continue;
    const GridPos q = step_towards(p, d);
    if (!grid.in_bounds(q)) return false;
    if (exit_mask(grid.at(q), d) == 0) return false;
  }
  if (cell == 0) {
    for (int d = 0; d < 4; ++d) {
      if (has_incoming(grid, p, d)) return false;
    }
  }
  return true;
}

// flatland's fix_transitions: re-type a cell from the neighbours that lead into it. With three
// neighbours the switch faces the city's preferred direction `preferred` (-1 outside cities).
void fix_transitions(RailGrid& grid, GridPos p, int preferred, Rng& rng) {
  const uint16_t west_south = rotate_cell(kBaseCellTypes[2], 3);
  const uint16_t east_south = rotate_cell(kBaseCellTypes[10], 1);
  bool in[4];
  int n = 0;
  for (int d = 0; d < 4; ++d) n += in[d] = has_incoming(grid, p, d);
  if (n == 1) {
    const bool was_rail = grid.at(p) != 0;
    grid.set(p.row, p.col, 0);
    if (was_rail) {
      for (int d = 0; d < 4; ++d) {
        if (in[d]) grid.set(p.row, p.col, with_exit(grid.at(p), mirror(d), d));  // dead end
      }
    }
  } else if (n == 2) {
    int a = -1, b = -1;
    for (int d = 0; d < 4; ++d) {
      if (!in[d]) continue;
      (a < 0 ? a : b) = d;
    }
    grid.set(p.row, p.col, with_exit(with_exit(0, mirror(a), b), mirror(b), a));
  } else if (n == 3) {
    int hole = 0;
    while (in[hole]) ++hole;
    uint16_t base;
    const int kind = preferred >= 0 ? (preferred - hole + 3) % 4 : 1;
    if (preferred >= 0 && kind == 0) {
      base = west_south;
    } else if (preferred >= 0 && kind == 2) {
      base = east_south;
    } else {
      base = rng.randint(0, 2) == 0 ? east_south : west_south;
    }
    grid.set(p.row, p.col, rotate_cell(base, hole));
  } else if (n == 4) {
    grid.set(p.row, p.col, rotate_cell(kBaseCellTypes[5], static_cast<int>(rng.randint(0, 2))));
  }
}

}  // namespace stackgrad::flatland::drawing
