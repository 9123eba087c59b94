// Distances to targets over the rail, per (cell, orientation), and the shortest paths they give.
//
// dist(target, cell, o) = the number of moves a train standing in `cell` facing `o` needs to
// reach `target` (0 on the target whatever the orientation); kUnreachable if it cannot. It is a
// breadth-first search backwards from each distinct target, as flatland-rl's DistanceMap.
//
//   DistanceMap dm;  dm.compute(grid, {target_a, target_b});
//   int d = dm.distance(0, {3, 4}, kEast);
//   int len = dm.path_length(0, {3, 4}, kEast);   // cells on the path incl. start and target
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "grid.h"

namespace stackgrad::flatland {

struct Waypoint {
  GridPos position;
  int direction = kNorth;
};

class DistanceMap {
 public:
  static constexpr int32_t kUnreachable = std::numeric_limits<int32_t>::max();

  // Distances for every target (duplicates are computed once). Only rail cells are stored.
  void compute(const RailGrid& grid, const std::vector<GridPos>& targets);

  int num_targets() const { return static_cast<int>(targets_.size()); }
  int32_t distance(int target, GridPos p, int orientation) const;
  // Number of waypoints of flatland's shortest path (start and target included), or 0 when the
  // target cannot be reached: distance + 1.
  int path_length(int target, GridPos p, int orientation) const;
  // The path itself: from (p, orientation) take, among the legal moves in the order left,
  // forward, right (the U-turn at a dead end), the first whose next state is closest.
  // Empty when the target cannot be reached.
  std::vector<Waypoint> shortest_path(int target, GridPos p, int orientation) const;

 private:
  RailGrid grid_;  // a copy, so that a copied or moved RailEnv keeps a valid distance map
  std::vector<GridPos> targets_;
  std::vector<int32_t> rail_id_;   // per cell: index among rail cells, -1 for empty cells
  std::vector<int32_t> table_of_;  // per target: which distance table it uses
  std::vector<std::vector<int32_t>> tables_;  // per distinct target: [rail cell][orientation]
};

}  // namespace stackgrad::flatland
