// Drawing rail on a grid, the steps flatland's sparse generator is built from: A* paths between
// points, straight tracks, curves at track ends, and re-typing cells whose neighbours disagree.
// Drawing ignores cell validity; fix_transitions makes every cell a valid type afterwards.
//
//   std::vector<GridPos> path = drawing::connect_rail(grid, from, to, forbidden);
//   drawing::connect_straight(grid, {5, 3}, {5, 9});
//   if (!drawing::cell_neighbours_valid(grid, p)) drawing::fix_transitions(grid, p, -1, rng);
#pragma once

#include <cstdint>
#include <vector>

#include "envs/common/rng.h"
#include "grid.h"

namespace stackgrad::flatland::drawing {

using envs::Rng;

uint16_t with_exit(uint16_t cell, int orientation, int direction);
int manhattan(GridPos a, GridPos b);
int step_direction(GridPos a, GridPos b);      // direction of one step from a to b
int direction_to_point(GridPos a, GridPos b);  // main direction from a towards b

// A* over cells (unit steps, Manhattan distance + 1 on cells that hold rail), avoiding
// `forbidden` cells except the ends; ties go to the earliest opened node. Empty if unreachable.
std::vector<GridPos> a_star(const RailGrid& grid, GridPos start, GridPos end,
                            const std::vector<uint8_t>& forbidden);
// Draws rail along the A* path: inner cells both ways, end cells only if they hold rail.
std::vector<GridPos> connect_rail(RailGrid& grid, GridPos start, GridPos end,
                                  const std::vector<uint8_t>& forbidden);
// A straight two-way track (same row or column); returns its cells in ascending order.
std::vector<GridPos> connect_straight(RailGrid& grid, GridPos start, GridPos end);
// A point with exactly two rail neighbours becomes the curve between them.
void fix_inner_node(RailGrid& grid, GridPos p);
// Whether the cell is a valid type, its exits lead into cells a train can leave, and (if empty)
// no neighbour leads into it.
bool cell_neighbours_valid(const RailGrid& grid, GridPos p);
// Re-types a cell from the neighbours that lead into it: dead end, straight or curve, a switch
// facing `preferred` (a city's centre line; -1: random), or a double slip.
void fix_transitions(RailGrid& grid, GridPos p, int preferred, Rng& rng);

}  // namespace stackgrad::flatland::drawing
