// Flatland 3 timetables: the episode length and each train's departure/arrival window, from the
// shortest-path travel times (flatland-rl 3.0.15 timetable_generator).
//
//   t_i = path_length_i / speed_i;  max_episode_steps = min(int(ceil(1.5 max t) + 0.2 mean t),
//                                                           int(int(8 (W + H + n / cities)) * 3))
//   travel_i = ceil(1.3 t_i + 0.2 mean t);  earliest_i ~ U[0, max(max_steps - end_buffer -
//   travel_i, 1));  latest_i = earliest_i + travel_i
//
//   Timetable tt = make_timetable(grid, specs, path_lengths, n_cities, rng);
#pragma once

#include <vector>

#include "agent.h"
#include "envs/common/rng.h"

namespace stackgrad::flatland {

using envs::Rng;

struct Timetable {
  int max_episode_steps = 0;
  std::vector<int> earliest_departure;
  std::vector<int> latest_arrival;
  std::vector<int> travel_time_max;  // latest_arrival - earliest_departure per agent
};

// The sum numpy computes for a float64 array (pairwise, 8 accumulators per 128-element block);
// reproducing it keeps the timetable's rounding identical to flatland's.
double numpy_sum(const std::vector<double>& values);

// `path_lengths[i]` is the number of cells on agent i's shortest path from its start (0 when it
// cannot reach its target). Departure times are drawn from `rng`.
Timetable make_timetable(int height, int width, const std::vector<AgentSpec>& agents,
                         const std::vector<int>& path_lengths, int n_cities, Rng& rng);

}  // namespace stackgrad::flatland
