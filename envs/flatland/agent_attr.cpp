#include "agent_attr.h"

#include <algorithm>

namespace stackgrad::flatland {

int road_type(uint16_t cell) {
  for (int r = 0; r < 4; ++r) {
    const uint16_t rotated = rotate_cell(cell, r);
    for (int t = 0; t < 11; ++t) {
      if (kBaseCellTypes[t] == rotated) return t;
    }
  }
  return 0;
}

namespace {
int distance_or_minus_one(const RailEnv& env, int agent, GridPos p, int direction) {
  const int32_t d = env.distance_map().distance(agent, p, direction);
  return d == DistanceMap::kUnreachable ? -1 : d;
}
}  // namespace

int initial_dist_target(const RailEnv& env, int agent) {
  const AgentSpec& s = env.spec(agent);
  return distance_or_minus_one(env, agent, s.initial_position, s.initial_direction);
}

int dist_target(const RailEnv& env, int agent) {
  const Agent& a = env.agents()[agent];
  if (a.state == TrainState::kDone) return 0;
  if (is_off_map(a.state)) return initial_dist_target(env, agent);
  return distance_or_minus_one(env, agent, a.position, a.direction);
}

void valid_action_mask(const RailEnv& env, int agent, uint8_t mask[kNumActions]) {
  const Agent& a = env.agents()[agent];
  std::fill(mask, mask + kNumActions, 0);
  switch (a.state) {
    case TrainState::kMoving:
    case TrainState::kStopped: {
      if (!a.at_cell_entry()) {
        mask[0] = 1;
        return;
      }
      const RailGrid& grid = env.grid();
      const uint16_t cell = grid.at(a.position);
      int next_cells = 0;
      bool next_is_branch = false;
      for (int action = 1; action <= 3; ++action) {
        const int d = (a.direction + action - 2 + 4) % 4;
        if (!can_exit(cell, a.direction, d)) continue;
        mask[action] = 1;
        ++next_cells;
        const GridPos next = step_towards(a.position, d);
        if (grid.in_bounds(next) && is_branch_cell(grid.at(next))) next_is_branch = true;
      }
      // Stopping only makes sense on a branch or just before entering one.
      if (is_branch_cell(cell) || (next_cells == 1 && next_is_branch)) mask[4] = 1;
      return;
    }
    case TrainState::kReadyToDepart:
      mask[2] = mask[4] = 1;
      return;
    default:  // waiting, broken, arrived
      mask[0] = 1;
  }
}

void write_agent_attributes(const RailEnv& env, int agent, const AgentAttrContext& ctx,
                            const uint8_t mask[kNumActions], float* out) {
  const Agent& a = env.agents()[agent];
  const AgentSpec& s = env.spec(agent);
  std::fill(out, out + kAgentAttrSize, 0.0f);
  const bool on_map = a.position.on_map();
  const uint16_t cell = on_map ? env.grid().at(a.position) : 0;

  out[attr::kState + static_cast<int>(a.state)] = 1;
  out[attr::kRoadType + (on_map ? road_type(cell) : 0)] = 1;
  const int num_malfunctions =
      ctx.reference_quirks ? (a.num_malfunctions > 0) : std::min(a.num_malfunctions, 9);
  out[attr::kNumMalfunctions + num_malfunctions] = 1;
  out[attr::kInitialDirection + s.initial_direction] = 1;
  out[attr::kDirection + a.direction] = 1;
  out[attr::kOldDirection + ctx.old_direction] = 1;

  float* b = out + attr::kBooleans;
  b[0] = a.state == TrainState::kMoving;
  b[1] = ctx.deadlocked;
  b[2] = ctx.in_malfunction;
  b[3] = a.malfunction_counter == 0;
  b[4] = a.at_cell_entry();
  b[5] = a.at_cell_exit();
  b[6] = a.state == TrainState::kMalfunction || a.state == TrainState::kMalfunctionOffMap;
  b[7] = is_off_map(a.state);
  b[8] = is_on_map(a.state);

  for (int bit = 0; bit < 16; ++bit) out[attr::kTransitions + bit] = (cell >> (15 - bit)) & 1;
  for (int k = 0; k < kNumActions; ++k) out[attr::kValidActions + k] = mask[k];

  // Scalars, in float as the reference computes them.
  const float n = static_cast<float>(env.num_agents());
  const float t_max = static_cast<float>(env.max_episode_steps());
  const float max_dist =
      static_cast<float>(env.grid().height() + env.grid().width()) * attr::kDistCoeff;
  auto dist_term = [&](int d) {
    return d < 0 ? attr::kDistCoeff : static_cast<float>(d) / max_dist;
  };
  float* sc = out + attr::kScalars;
  const float step = static_cast<float>(env.elapsed_steps()) / t_max;
  const float latest = static_cast<float>(s.latest_arrival) / t_max;
  sc[0] = static_cast<float>(agent) / n;
  sc[1] = step;
  sc[2] = static_cast<float>(s.earliest_departure) / t_max;
  sc[3] = latest;
  sc[4] = static_cast<float>(a.arrival_time) / t_max;  // -1 / T before arrival
  sc[5] = latest - step;
  sc[6] = dist_term(dist_target(env, agent));
  sc[7] = std::min(sc[5], sc[6]);
  sc[8] = static_cast<float>(a.max_count) / 10.0f;
  sc[9] = static_cast<float>(s.speed);
  sc[10] = static_cast<float>(a.speed_counter) / 10.0f;
  const int counter = ctx.reference_quirks ? (a.malfunction_counter > 0) : a.malfunction_counter;
  sc[11] = static_cast<float>(counter) / 10.0f;
  sc[12] = dist_term(initial_dist_target(env, agent));
}

}  // namespace stackgrad::flatland
