// Flatland's city-based sparse rail generator and its line generator (which station each train
// starts from and goes to), following flatland-rl 3.0.15's sparse_rail_generator and
// sparse_line_generator. The random draws are this library's, not numpy's: levels follow the
// same construction, not the same bits.
//
//   Rng rng(7);
//   SparseRail rail = generate_sparse_rail({.width = 30, .height = 30, .max_num_cities = 2}, rng);
//   Level level = generate_sparse_level({.width = 30, .height = 30, .max_num_cities = 2}, 7, rng);
#pragma once

#include <utility>
#include <vector>

#include "envs/common/rng.h"
#include "rail_env.h"

namespace stackgrad::flatland {

using envs::Rng;

struct SparseRailParams {
  int width = 30;
  int height = 30;
  int max_num_cities = 2;
  int max_rails_between_cities = 2;
  int max_rail_pairs_in_city = 2;
  bool grid_mode = false;  // cities on an even grid instead of at random
};

struct SparseRail {
  RailGrid grid;
  std::vector<GridPos> city_positions;
  std::vector<int> city_orientations;                // direction towards the nearest other city
  std::vector<std::vector<GridPos>> train_stations;  // per city, one per parallel track
};

// Cities (squares of radius 2 * pairs / 2 + 2) placed apart, joined by A* rails between their
// connection points, filled with parallel tracks, then every drawn cell re-typed to a valid cell.
// Throws stackgrad::Error when fewer than 2 cities fit.
SparseRail generate_sparse_rail(const SparseRailParams& params, Rng& rng);

// The challenge's speed mix: 1, 1/2, 1/3, 1/4 with probability 1/4 each.
std::vector<std::pair<double, double>> default_speed_ratios();

// Trains in pairs between two random cities (the second of a pair goes the other way), facing a
// direction from which the target can be reached when there is one. The timetable fields are
// left at 0.
std::vector<AgentSpec> generate_sparse_line(const SparseRail& rail, int num_agents,
                                            const std::vector<std::pair<double, double>>& speeds,
                                            Rng& rng);

// Trains and timetable on a given rail: a level ready for RailEnv.
Level make_sparse_level(
    const SparseRail& rail, int num_agents, Rng& rng,
    const std::vector<std::pair<double, double>>& speeds = default_speed_ratios());

// generate_sparse_rail, then make_sparse_level.
Level generate_sparse_level(
    const SparseRailParams& params, int num_agents, Rng& rng,
    const std::vector<std::pair<double, double>>& speeds = default_speed_ratios());

}  // namespace stackgrad::flatland
