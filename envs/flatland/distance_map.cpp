#include "distance_map.h"

#include "engine/core/error.h"

namespace stackgrad::flatland {

void DistanceMap::compute(const RailGrid& grid, const std::vector<GridPos>& targets) {
  grid_ = grid;
  targets_ = targets;
  rail_id_.assign(grid.size(), -1);
  int num_rail = 0;
  for (int i = 0; i < grid.size(); ++i) {
    if (grid.cells()[i] != 0) rail_id_[i] = num_rail++;
  }
  tables_.clear();
  table_of_.assign(targets.size(), -1);
  std::vector<int32_t> queue;  // (cell index * 4 + orientation)
  queue.reserve(static_cast<size_t>(num_rail) * 4);
  for (size_t t = 0; t < targets.size(); ++t) {
    for (size_t u = 0; u < t; ++u) {
      if (targets[u] == targets[t]) {
        table_of_[t] = table_of_[u];
        break;
      }
    }
    if (table_of_[t] >= 0) continue;
    SG_CHECK(grid.in_bounds(targets[t]), "DistanceMap: target ", t, " at (", targets[t].row, ", ",
             targets[t].col, ") is outside the ", grid.height(), "x", grid.width(), " grid");
    table_of_[t] = static_cast<int32_t>(tables_.size());
    std::vector<int32_t>& dist =
        tables_.emplace_back(static_cast<size_t>(num_rail) * 4, kUnreachable);
    // Every orientation on the target counts as arrived, whether or not the rail there allows
    // it, so the search starts from the target regardless of its cell.
    queue.clear();
    const int target_index = grid.index(targets[t]);
    int32_t target_dist[4] = {0, 0, 0, 0};
    for (int o = 0; o < 4; ++o) queue.push_back(target_index * 4 + o);
    if (rail_id_[target_index] >= 0) {
      for (int o = 0; o < 4; ++o) dist[rail_id_[target_index] * 4 + o] = 0;
    }
    for (size_t head = 0; head < queue.size(); ++head) {
      const int cell = queue[head] / 4;
      const int o = queue[head] % 4;  // the train stands in `cell` facing o ...
      const int32_t d = rail_id_[cell] >= 0 ? dist[rail_id_[cell] * 4 + o] : target_dist[o];
      // ... so it came from the neighbour behind it, leaving that neighbour through exit o.
      const GridPos from = step_towards(grid.pos(cell), (o + 2) % 4);
      if (!grid.in_bounds(from)) continue;
      const int from_index = grid.index(from);
      const int from_rail = rail_id_[from_index];
      if (from_rail < 0) continue;
      const uint16_t from_cell = grid.cells()[from_index];
      for (int a = 0; a < 4; ++a) {
        if (!can_exit(from_cell, a, o)) continue;
        int32_t& slot = dist[from_rail * 4 + a];
        if (slot != kUnreachable) continue;
        slot = d + 1;
        queue.push_back(from_index * 4 + a);
      }
    }
  }
}

int32_t DistanceMap::distance(int target, GridPos p, int orientation) const {
  SG_CHECK(target >= 0 && target < num_targets(), "DistanceMap::distance: target ", target,
           " out of range [0, ", num_targets(), ")");
  if (p == targets_[target]) return 0;
  if (!grid_.in_bounds(p)) return kUnreachable;
  const int rail = rail_id_[grid_.index(p)];
  if (rail < 0) return kUnreachable;
  return tables_[table_of_[target]][rail * 4 + orientation];
}

int DistanceMap::path_length(int target, GridPos p, int orientation) const {
  const int32_t d = distance(target, p, orientation);
  return d == kUnreachable ? 0 : d + 1;
}

std::vector<Waypoint> DistanceMap::shortest_path(int target, GridPos p, int orientation) const {
  std::vector<Waypoint> path;
  if (distance(target, p, orientation) == kUnreachable) return path;
  int o = orientation;
  while (!(p == targets_[target])) {
    path.push_back({p, o});
    const uint16_t cell = grid_.at(p);
    int best_dir = -1;
    int32_t best = kUnreachable;
    auto consider = [&](int exit) {
      if (!can_exit(cell, o, exit)) return;
      const int32_t d = distance(target, step_towards(p, exit), exit);
      if (d < best) {
        best = d;
        best_dir = exit;
      }
    };
    if (is_dead_end(cell)) {
      consider((o + 2) % 4);
    } else {
      for (int turn = -1; turn <= 1; ++turn) consider((o + turn + 4) % 4);
    }
    SG_CHECK(best_dir >= 0, "DistanceMap::shortest_path: no way on from (", p.row, ", ", p.col,
             ") facing ", o);
    p = step_towards(p, best_dir);
    o = best_dir;
  }
  path.push_back({p, o});
  return path;
}

}  // namespace stackgrad::flatland
