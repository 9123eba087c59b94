// The per-train attribute vector (83 floats) and the valid-action mask of the Tree-LSTM
// observation (the `AgentAttrParser` and `AgentsLoader::update` of the solution's C++ feature
// parser, re-written here). TreeObsBuilder (tree_obs.h) fills them for all trains at once.
//
//   uint8_t mask[5];
//   valid_action_mask(env, agent, mask);
//   float attr[kAgentAttrSize];  write_agent_attributes(env, agent, ctx, mask, attr);
//
// Layout (offsets into the 83 floats; T = max_episode_steps, N = trains, H x W the grid):
//    0.. 6  one-hot state (WAITING .. DONE)
//    7..17  one-hot road type: index of the base cell type (grid.h kBaseCellTypes) equal to the
//           current cell under the first rotation (0, 90, 180, 270 degrees) that matches; 0 off
//           the map (also after arrival)
//   18..27  one-hot number of malfunctions so far (see the quirk below; without it, min(n, 9))
//   28..31  one-hot initial direction    32..35  one-hot direction    36..39  one-hot direction
//           at the start of the last step (old_direction; = direction before the first step)
//   40..48  booleans: state == MOVING, deadlocked (deadlock.h), in_malfunction (the state
//           machine's signal of the last step: broken when that step's transition was made),
//           malfunction counter == 0, speed counter at cell entry, at cell exit, state is
//           MALFUNCTION(_OFF_MAP), off the map (WAITING, READY, MALFUNCTION_OFF_MAP), on the map
//           (MOVING, STOPPED, MALFUNCTION)
//   49..64  the 16 transition bits of the current cell, most significant first; 0 off the map
//   65..69  the valid-action mask (below)
//   70..82  scalars: handle / N; step / T; earliest_departure / T; latest_arrival / T;
//           arrival_time / T (-1 / T before arrival); step_before_late = latest_arrival / T -
//           step / T; dist_target / ((H + W) * 8), 8 if unreachable; anticipative_return =
//           min(step_before_late, dist_target term); max_count / 10 (steps per cell - 1);
//           speed; speed_counter / 10; malfunction counter / 10; initial_dist_target like
//           dist_target.
// dist_target: 0 when DONE; from the start cell and initial direction when off the map; from
// the current cell and direction on the map (distance_map.h). float arithmetic throughout, as
// the reference.
//
// Valid actions (mask[a] = 1 if action a may be chosen):
// * MOVING or STOPPED at cell entry: LEFT/FORWARD/RIGHT iff the exit dir-1 / dir / dir+1
//   exists; STOP iff the current cell is a branch (more than 2 transition bits) or exactly one
//   of those exits exists and the cell it leads to is a branch. Between cells: DO_NOTHING only.
//   (Facing into a dead end, before the U-turn, no action is valid: the reference's mask.)
// * READY_TO_DEPART: FORWARD and STOP.  WAITING, MALFUNCTION(_OFF_MAP), DONE: DO_NOTHING only.
//
// Reference quirk kept when `reference_quirks` is set (the default): the number of
// malfunctions and the malfunction counter are read through Python's bool() there, so the
// one-hot at 18..27 is at 0 or 1 and the counter scalar is 0 or 0.1. Set it to false to use the
// real values.
#pragma once

#include <cstdint>

#include "rail_env.h"

namespace stackgrad::flatland {

inline constexpr int kAgentAttrSize = 83;
namespace attr {
inline constexpr int kState = 0, kRoadType = 7, kNumMalfunctions = 18, kInitialDirection = 28,
                     kDirection = 32, kOldDirection = 36, kBooleans = 40, kTransitions = 49,
                     kValidActions = 65, kScalars = 70;
inline constexpr float kDistCoeff = 8.0f;  // dist_target is divided by (H + W) * kDistCoeff
}  // namespace attr

// The reference's road type of a cell (see the layout above).
int road_type(uint16_t cell);
// A branch cell has more than two transition bits (switches, crossings, slips).
inline bool is_branch_cell(uint16_t cell) { return __builtin_popcount(cell) > 2; }

// Distance (moves) from where the train is to its target as defined above; -1 if unreachable.
int dist_target(const RailEnv& env, int agent);
int initial_dist_target(const RailEnv& env, int agent);

void valid_action_mask(const RailEnv& env, int agent, uint8_t mask[kNumActions]);

// What the attributes need beyond the env: history of the last step and the deadlock flag.
struct AgentAttrContext {
  int old_direction = 0;
  bool in_malfunction = false;
  bool deadlocked = false;
  bool reference_quirks = true;
};

void write_agent_attributes(const RailEnv& env, int agent, const AgentAttrContext& ctx,
                            const uint8_t mask[kNumActions], float* out);

}  // namespace stackgrad::flatland
