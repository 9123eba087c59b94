#include "sparse_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>

#include "distance_map.h"
#include "engine/core/error.h"
#include "rail_drawing.h"
#include "timetable.h"

namespace stackgrad::flatland {

namespace {

using drawing::direction_to_point;
using drawing::manhattan;
int mirror(int d) { return (d + 2) % 4; }

std::vector<GridPos> random_city_positions(int num_cities, int radius, int width, int height,
                                           Rng& rng) {
  std::vector<GridPos> cities;
  const int pad = radius + 1;
  std::vector<uint8_t> allowed(static_cast<size_t>(width) * height, 0);
  for (int r = pad; r < height - pad; ++r) {
    for (int c = pad; c < width - pad; ++c) allowed[r * width + c] = 1;
  }
  std::vector<int> candidates;
  for (int k = 0; k < num_cities; ++k) {
    candidates.clear();
    for (int i = 0; i < width * height; ++i) {
      if (allowed[i]) candidates.push_back(i);
    }
    if (candidates.empty()) break;
    const int pick = candidates[rng.randint(0, static_cast<int64_t>(candidates.size()))];
    const int row = pick / width, col = pick % width;
    for (int r = std::max(0, row - 2 * pad); r <= std::min(height - 1, row + 2 * pad); ++r) {
      for (int c = std::max(0, col - 2 * pad); c <= std::min(width - 1, col + 2 * pad); ++c) {
        allowed[r * width + c] = 0;
      }
    }
    cities.push_back({row, col});
  }
  return cities;
}

std::vector<GridPos> even_city_positions(int num_cities, int radius, int width, int height) {
  const double aspect = static_cast<double>(height) / width;
  const int size = 2 * (radius + 1);
  const int max_rows = (height - 2) / size;
  const int max_cols = (width - 2) / size;
  const int per_row =
      std::min(static_cast<int>(std::ceil(std::sqrt(num_cities * aspect))), max_rows);
  const int per_col =
      std::min(static_cast<int>(std::ceil(static_cast<double>(num_cities) / per_row)), max_cols);
  const int count = std::min(num_cities, per_row * per_col);
  auto linspace = [](int lo, int hi, int n, int i) {
    return n == 1 ? lo : static_cast<int>(lo + (hi - lo) * static_cast<double>(i) / (n - 1));
  };
  std::vector<GridPos> cities;
  for (int k = 0; k < count; ++k) {
    cities.push_back({linspace(radius + 2, height - (radius + 2), per_row, k % per_row),
                      linspace(radius + 2, width - (radius + 2), per_col, k / per_row)});
  }
  return cities;
}

// Cities in order of Manhattan distance from `from` (stable: index breaks ties).
std::vector<int> by_distance(const std::vector<GridPos>& cities, int from) {
  std::vector<int> order(cities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return manhattan(cities[from], cities[a]) < manhattan(cities[from], cities[b]);
  });
  return order;
}

}  // namespace

SparseRail generate_sparse_rail(const SparseRailParams& params, Rng& rng) {
  const int W = params.width, H = params.height;
  const int pairs = std::max(1, params.max_rail_pairs_in_city);
  const int rails_between = std::min(params.max_rails_between_cities, 2 * pairs);
  const int radius = pairs + 2;  // ceil(2 * pairs / 2) + padding 2
  const int feasible = std::min(params.max_num_cities,
                                ((H - 2) / (2 * (radius + 1))) * ((W - 2) / (2 * (radius + 1))));
  SG_CHECK(feasible >= 2, "generate_sparse_rail: cannot fit 2 cities of radius ", radius, " in ", W,
           "x", H);
  SparseRail out;
  out.grid = RailGrid(H, W);
  RailGrid& grid = out.grid;
  out.city_positions = params.grid_mode ? even_city_positions(feasible, radius, W, H)
                                        : random_city_positions(feasible, radius, W, H, rng);
  if (out.city_positions.size() < 2)
    out.city_positions = even_city_positions(feasible, radius, W, H);
  const std::vector<GridPos>& cities = out.city_positions;
  const int n = static_cast<int>(cities.size());

  // Connection points on the two sides of each city facing its nearest neighbour.
  std::vector<int> vector_field(grid.size(), -1);
  std::vector<uint8_t> in_city(grid.size(), 0);
  std::vector<GridPos> city_cells;
  using Sides = std::vector<std::vector<GridPos>>;  // [direction][point]
  std::vector<Sides> inner(n, Sides(4)), outer(n, Sides(4));
  for (int c = 0; c < n; ++c) {
    const GridPos center = cities[c];
    const int orientation = params.grid_mode
                                ? static_cast<int>(rng.randint(0, 4))
                                : direction_to_point(center, cities[by_distance(cities, c)[1]]);
    out.city_orientations.push_back(orientation);
    for (int r = center.row - radius; r <= center.row + radius; ++r) {
      for (int col = center.col - radius; col <= center.col + radius; ++col) {
        const GridPos p{r, col};
        city_cells.push_back(p);
        if (!grid.in_bounds(p)) continue;
        in_city[grid.index(p)] = 1;
        // Switches in the city point towards its centre line (flatland's align_cell_to_city).
        vector_field[grid.index(p)] = orientation % 2 == 0
                                          ? 2 * std::clamp(r - center.row, 0, 1)
                                          : 2 * std::clamp(center.col - col, 0, 1) + 1;
      }
    }
    const int points = static_cast<int>(rng.randint(1, pairs + 1)) * 2;
    const int out_rails = static_cast<int>(rng.randint(1, std::min(rails_between, points) + 1));
    const int start_idx = (points - out_rails) / 2;
    for (int side : {orientation, mirror(orientation)}) {
      for (int k = 0; k < points; ++k) {
        const int slot = k - start_idx;
        const int offset = k - points / 2;
        const int inner_offset = std::abs(offset) + std::clamp(offset, 0, 1) + 1;
        GridPos in_p, out_p;
        switch (side) {
          case kNorth:
            in_p = {center.row - radius + inner_offset, center.col + slot};
            out_p = {center.row - radius, center.col + slot};
            break;
          case kEast:
            in_p = {center.row + slot, center.col + radius - inner_offset};
            out_p = {center.row + slot, center.col + radius};
            break;
          case kSouth:
            in_p = {center.row + radius - inner_offset, center.col + slot};
            out_p = {center.row + radius, center.col + slot};
            break;
          default:
            in_p = {center.row + slot, center.col - radius + inner_offset};
            out_p = {center.row + slot, center.col - radius};
            break;
        }
        inner[c][side].push_back(in_p);
        if (k >= start_idx && k < start_idx + out_rails) outer[c][side].push_back(out_p);
      }
    }
  }

  // Rails between cities: every outer point to the nearest outer point of the closest city in
  // its direction (or the next direction round).
  std::vector<GridPos> inter_city;
  for (int c = 0; c < n; ++c) {
    int closest[4] = {-1, -1, -1, -1};
    const std::vector<int> order = by_distance(cities, c);
    for (size_t k = 1; k < order.size(); ++k) {
      const int d = direction_to_point(cities[c], cities[order[k]]);
      if (closest[d] < 0) closest[d] = order[k];
    }
    for (int out_dir = 0; out_dir < 4; ++out_dir) {
      int neighbour = -1;
      for (int turn : {0, 3, 1, 2}) {
        neighbour = closest[(out_dir + turn) % 4];
        if (neighbour >= 0) break;
      }
      for (GridPos from : outer[c][out_dir]) {
        int best = std::numeric_limits<int>::max();
        GridPos to;
        for (int d = 0; d < 4; ++d) {
          for (GridPos p : outer[neighbour][d]) {
            if (manhattan(from, p) < best) {
              best = manhattan(from, p);
              to = p;
            }
          }
        }
        const std::vector<GridPos> line = drawing::connect_rail(grid, from, to, in_city);
        inter_city.insert(inter_city.end(), line.begin(), line.end());
      }
    }
  }

  // Inner cities: parallel tracks, their ends joined, and the outer points linked in.
  for (int c = 0; c < n; ++c) {
    int side = 0;
    while (inner[c][side].empty()) ++side;
    const int opposite = mirror(side);
    const int points = static_cast<int>(inner[c][side].size());
    const int out_rails = static_cast<int>(outer[c][side].size());
    const int start_idx = (points - out_rails) / 2;
    std::vector<GridPos> stations;
    for (int t = 0; t < points; ++t) {
      const std::vector<GridPos> track =
          drawing::connect_straight(grid, inner[c][side][t], inner[c][opposite][t]);
      stations.push_back(track[track.size() / 2]);
    }
    for (int t = 0; t < points; ++t) {
      drawing::fix_inner_node(grid, inner[c][side][t]);
      drawing::fix_inner_node(grid, inner[c][opposite][t]);
      if (t >= start_idx && t < start_idx + out_rails) {
        drawing::connect_straight(grid, inner[c][side][t], outer[c][side][t - start_idx]);
        drawing::connect_straight(grid, inner[c][opposite][t], outer[c][opposite][t - start_idx]);
      }
    }
    out.train_stations.push_back(std::move(stations));
  }

  // Re-type every drawn cell whose neighbourhood is inconsistent (checked first, then fixed).
  std::vector<std::pair<GridPos, int>> to_fix;
  auto check = [&](GridPos p) {
    if (grid.in_bounds(p) && !drawing::cell_neighbours_valid(grid, p)) {
      to_fix.push_back({p, vector_field[grid.index(p)]});
    }
  };
  for (GridPos p : city_cells) check(p);
  for (GridPos p : inter_city) check(p);
  for (const auto& [p, preferred] : to_fix) drawing::fix_transitions(grid, p, preferred, rng);
  return out;
}

std::vector<std::pair<double, double>> default_speed_ratios() {
  return {{1.0, 0.25}, {1.0 / 2.0, 0.25}, {1.0 / 3.0, 0.25}, {1.0 / 4.0, 0.25}};
}

std::vector<AgentSpec> generate_sparse_line(const SparseRail& rail, int num_agents,
                                            const std::vector<std::pair<double, double>>& speeds,
                                            Rng& rng) {
  const int n_cities = static_cast<int>(rail.city_positions.size());
  SG_CHECK(n_cities >= 2, "generate_sparse_line: expected at least 2 cities, got ", n_cities);
  SG_CHECK(num_agents > 0, "generate_sparse_line: expected num_agents > 0, got ", num_agents);
  std::vector<AgentSpec> agents;
  std::vector<int> start_city;
  std::vector<GridPos> targets;
  int city1 = 0, city2 = 1;
  for (int i = 0; i < num_agents; ++i) {
    if (i % 2 == 0) {
      city1 = static_cast<int>(rng.randint(0, n_cities));
      city2 = static_cast<int>(rng.randint(0, n_cities - 1));
      if (city2 >= city1) ++city2;
    }
    const int from = i % 2 == 0 ? city1 : city2;
    const int to = i % 2 == 0 ? city2 : city1;
    const auto& from_stations = rail.train_stations[from];
    const auto& to_stations = rail.train_stations[to];
    AgentSpec s;
    s.initial_position = from_stations[2 * rng.randint(0, 10) % from_stations.size()];
    s.target = to_stations[(2 * rng.randint(0, 10) + 1) % to_stations.size()];
    agents.push_back(s);
    start_city.push_back(from);
  }
  // Orientation: the city's own or its opposite, among those from which the target is reachable.
  for (AgentSpec& s : agents) targets.push_back(s.target);
  DistanceMap dm;
  dm.compute(rail.grid, targets);
  for (int i = 0; i < num_agents; ++i) {
    const int o = rail.city_orientations[start_city[i]];
    int feasible[2];
    int count = 0;
    for (int cand : {o, mirror(o)}) {
      if (dm.distance(i, agents[i].initial_position, cand) != DistanceMap::kUnreachable) {
        feasible[count++] = cand;
      }
    }
    agents[i].initial_direction = count > 0 ? feasible[rng.randint(0, count)] : 0;
  }
  double total = 0.0;
  for (const auto& [speed, p] : speeds) total += p;
  for (AgentSpec& s : agents) {
    double u = rng.uniform() * total;
    s.speed = speeds.back().first;
    for (const auto& [speed, p] : speeds) {
      if (u < p) {
        s.speed = speed;
        break;
      }
      u -= p;
    }
  }
  return agents;
}

Level make_sparse_level(const SparseRail& rail, int num_agents, Rng& rng,
                        const std::vector<std::pair<double, double>>& speeds) {
  Level level;
  level.name = "sparse";
  level.grid = rail.grid;
  level.agents = generate_sparse_line(rail, num_agents, speeds, rng);
  level.n_cities = static_cast<int>(rail.city_positions.size());
  std::vector<GridPos> targets;
  for (const AgentSpec& s : level.agents) targets.push_back(s.target);
  DistanceMap dm;
  dm.compute(rail.grid, targets);
  std::vector<int> lengths;
  for (int i = 0; i < num_agents; ++i) {
    lengths.push_back(
        dm.path_length(i, level.agents[i].initial_position, level.agents[i].initial_direction));
  }
  const Timetable tt = make_timetable(rail.grid.height(), rail.grid.width(), level.agents, lengths,
                                      level.n_cities, rng);
  level.max_episode_steps = tt.max_episode_steps;
  for (int i = 0; i < num_agents; ++i) {
    level.agents[i].earliest_departure = tt.earliest_departure[i];
    level.agents[i].latest_arrival = tt.latest_arrival[i];
  }
  return level;
}

Level generate_sparse_level(const SparseRailParams& params, int num_agents, Rng& rng,
                            const std::vector<std::pair<double, double>>& speeds) {
  const SparseRail rail = generate_sparse_rail(params, rng);
  return make_sparse_level(rail, num_agents, rng, speeds);
}

}  // namespace stackgrad::flatland
