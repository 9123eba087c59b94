// RailEnv: one Flatland 3 episode on a fixed level, stepped with the rules of flatland-rl 3.0.15
// (action preprocessing, saved actions, speed counters, malfunctions, conflict resolution, the
// 7-state train state machine, and the end-of-episode rewards).
//
//   RailEnv env(level);                       // grid, trains, timetable, malfunction settings
//   env.reset(/*seed=*/7);
//   while (!env.done()) env.step(actions);    // one int action per agent (0..4)
//   double score = env.normalized_score();
//
// Per-step work uses buffers sized at reset; step() does not allocate.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "agent.h"
#include "distance_map.h"
#include "envs/common/rng.h"
#include "grid.h"
#include "motion_check.h"

namespace stackgrad::flatland {

using envs::Rng;

struct MalfunctionParams {
  double rate = 0.0;  // per agent and step, a malfunction starts with probability 1 - exp(-rate)
  int min_duration = 0;
  int max_duration = 0;  // broken for U[min, max] + 1 steps (the step it starts counts)
};

// A recorded malfunction draw: at `step` (1-based elapsed steps), `agent` drew `duration` broken
// steps. As with a random draw it only takes effect if the agent is not already broken.
struct MalfunctionEvent {
  int step = 0;
  int agent = 0;
  int duration = 0;
};

struct Level {
  std::string name;
  RailGrid grid;
  std::vector<AgentSpec> agents;
  int max_episode_steps = 0;
  int n_cities = 2;
  MalfunctionParams malfunction;
};

class RailEnv {
 public:
  explicit RailEnv(Level level);

  // Puts every train back to WAITING off the map. Malfunctions are drawn from the level's
  // parameters with `seed`; the second form replays a recorded schedule instead.
  void reset(uint64_t seed = 0);
  void reset(std::vector<MalfunctionEvent> schedule);

  // Advances one step. `actions` holds one value per agent; values outside 0..4 mean DO_NOTHING.
  void step(std::span<const int> actions);

  const Level& level() const { return level_; }
  const RailGrid& grid() const { return level_.grid; }
  const DistanceMap& distance_map() const { return distance_map_; }
  int num_agents() const { return static_cast<int>(agents_.size()); }
  const std::vector<Agent>& agents() const { return agents_; }
  const AgentSpec& spec(int agent) const { return level_.agents[agent]; }
  int elapsed_steps() const { return elapsed_; }
  int max_episode_steps() const { return level_.max_episode_steps; }

  std::span<const int> rewards() const { return rewards_; }  // of the last step
  std::span<const uint8_t> dones() const { return dones_; }
  bool done() const { return done_all_; }
  // Whether the agent's policy is asked for an action (ready to depart, or entering a cell).
  bool action_required(int agent) const;

  // Cells on the agent's shortest path from where it is now (start when off the map).
  int shortest_path_length(int agent) const;
  // Sum of all rewards so far, and the challenge's 1 + sum / (max_episode_steps * n_agents).
  long long total_reward() const { return total_reward_; }
  double normalized_score() const;
  int num_arrived() const;

  // The preprocessed action flatland would act on (public for tests and policies).
  Action preprocess_action(int raw_action, const Agent& agent, const AgentSpec& spec) const;
  // Whether a moving action is legal from (position, direction), and where it leads.
  bool check_valid_action(Action action, GridPos position, int direction) const;
  Waypoint apply_action(Action action, GridPos position, int direction) const;

 private:
  void reset_agents();
  int draw_malfunction(int agent);
  TrainState next_state(const Agent& a, const AgentSpec& s, Action action,
                        bool movement_allowed) const;
  int end_of_episode_reward(int agent) const;
  int node_of(int agent, GridPos p) const;

  Level level_;
  DistanceMap distance_map_;
  std::vector<Agent> agents_;
  std::vector<int> rewards_;
  std::vector<uint8_t> dones_;
  int elapsed_ = 0;
  bool done_all_ = false;
  long long total_reward_ = 0;

  // Malfunction source: a random stream, or a recorded schedule sorted by (step, agent).
  Rng rng_;
  bool replay_ = false;
  std::vector<MalfunctionEvent> schedule_;
  size_t schedule_pos_ = 0;

  // Per-step scratch.
  MotionCheck motion_;
  std::vector<Waypoint> intended_;
  std::vector<Action> actions_;
};

}  // namespace stackgrad::flatland
