// BatchEnv: K RailEnvs stepped together, in parallel, with every per-agent output in one flat
// preallocated buffer (agent j of env k at index offset(k) + j).
//
//   BatchEnv batch(levels, {.num_threads = 2, .auto_reset = true});
//   batch.reset(/*seed=*/1);                       // env k gets seed 1 + k
//   std::vector<int> actions(batch.total_agents(), 2);
//   batch.step(actions);                          // positions(), rewards(), dones(), ...
//
// Threads: an envs::TaskPool (envs/common/task_pool.h says why not OpenMP). Each env writes only
// its own slice of the buffers, so the results do not depend on the number of threads: batched
// stepping equals stepping each env alone, bit for bit.
//
// Auto-reset: when an env's episode ends, episode_done(k) is set, its score and arrivals are
// kept (last_score, last_arrived), and the env is reset at once with its next seed (seed + k +
// K * episode); rewards() and dones() still hold the final step's values, while positions,
// directions, states and action_required already describe the new episode (as vectorised
// gym environments do). Without auto-reset a finished env is left alone by step().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "envs/common/task_pool.h"
#include "rail_env.h"

namespace stackgrad::flatland {

struct BatchOptions {
  int num_threads = 1;  // worker threads including the caller; 0: hardware concurrency
  bool auto_reset = true;
};

class BatchEnv {
 public:
  BatchEnv(const std::vector<Level>& levels, BatchOptions options = {});
  ~BatchEnv();

  // Resets env k with seed + k (malfunctions drawn from each level's parameters).
  void reset(uint64_t seed);
  // One action per agent of every env, flat in the same layout as the outputs.
  void step(std::span<const int> actions);

  int num_envs() const { return static_cast<int>(envs_.size()); }
  int total_agents() const { return offsets_.back(); }
  int offset(int env) const { return offsets_[env]; }
  int num_agents(int env) const { return offsets_[env + 1] - offsets_[env]; }
  RailEnv& env(int k) { return envs_[k]; }
  const RailEnv& env(int k) const { return envs_[k]; }

  // Per agent (total_agents() values each).
  std::span<const int32_t> positions() const { return position_; }  // row * width + col, -1 off map
  std::span<const int8_t> directions() const { return direction_; }
  std::span<const uint8_t> states() const { return state_; }  // TrainState values
  std::span<const int32_t> rewards() const { return reward_; }
  std::span<const uint8_t> dones() const { return done_; }
  std::span<const uint8_t> action_required() const { return action_required_; }
  // Per env.
  std::span<const uint8_t> episode_done() const { return episode_done_; }  // ended this step
  std::span<const double> last_score() const { return last_score_; }       // of its last episode
  std::span<const int32_t> last_arrived() const { return last_arrived_; }
  std::span<const int32_t> episodes() const { return episode_; }  // episodes finished so far

 private:
  void write_state(int k);  // positions, directions, states, action_required of env k
  void step_env(int k, std::span<const int> actions);
  std::unique_ptr<envs::TaskPool> pool_;  // null with one thread

  BatchOptions options_;
  std::vector<RailEnv> envs_;
  std::vector<int> offsets_;  // K + 1 prefix sums of agent counts
  uint64_t seed_ = 0;
  std::vector<int32_t> position_, reward_;
  std::vector<int8_t> direction_;
  std::vector<uint8_t> state_, done_, action_required_;
  std::vector<uint8_t> episode_done_;
  std::vector<double> last_score_;
  std::vector<int32_t> last_arrived_, episode_;
};

}  // namespace stackgrad::flatland
