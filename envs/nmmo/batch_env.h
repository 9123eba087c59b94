// BatchEnv: K Neural MMO Envs stepped together, in parallel, with every per-agent output in one
// flat preallocated buffer (agent j of env k at index offset(k) + j; observations likewise,
// each key one buffer for all K * player_n agents).
//
//   BatchEnv batch(/*num_envs=*/4, options, {.num_threads = 2});
//   batch.reset(/*seed=*/1);                  // env k gets seed 1 + k
//   std::vector<int32_t> actions(batch.total_agents() * kNumActionArgs);
//   batch.step(actions);                      // observations(), rewards(), dones(), ...
//
// Threads: an envs::TaskPool (envs/common/task_pool.h says why not OpenMP). Each env writes only
// its own slice of the buffers, so the results do not depend on the number of threads: batched
// stepping equals stepping each env alone, bit for bit.
//
// Auto-reset: when an env's episode ends, episode_done(k) is set, its length and mean agent
// lifetime are kept (last_length, last_mean_lifetime), and it is reset at once with its next
// seed (seed + k + K * episode); rewards(), dones(), active() and infos() still hold the final
// step's values, while the observations already describe the new episode (as vectorised gym
// environments do). Without auto-reset a finished env is left alone by step().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "envs/common/task_pool.h"
#include "envs/nmmo/env.h"

namespace stackgrad::nmmo {

struct BatchOptions {
  int num_threads = 1;  // threads including the caller; 0: hardware concurrency
  bool auto_reset = true;
};

class BatchEnv {
 public:
  BatchEnv(int num_envs, const EnvOptions& options, BatchOptions batch = {});
  ~BatchEnv();

  // Resets env k with seed + k (its map drawn from that seed).
  void reset(uint64_t seed);
  // Flat actions of every agent of every env: total_agents() * kNumActionArgs ints.
  void step(std::span<const int32_t> flat_actions);
  // Or resolved actions, one per agent (the only form when observations are off).
  void step(std::span<const AgentAction> actions);

  int num_envs() const { return static_cast<int>(envs_.size()); }
  int agents_per_env() const { return agents_; }
  int total_agents() const { return agents_ * num_envs(); }
  int offset(int env) const { return env * agents_; }
  Env& env(int k) { return *envs_[k]; }
  const Env& env(int k) const { return *envs_[k]; }
  const ObsLayout& layout() const { return envs_[0]->observer().layout(); }

  // Every agent's observation (empty spans when observations are off).
  const ObsBuffers& observations() const { return obs_; }
  // Per agent (total_agents() values each).
  std::span<const float> rewards() const { return reward_; }
  std::span<const uint8_t> dones() const { return done_; }
  std::span<const uint8_t> active() const { return active_; }
  std::span<const AgentTaskInfo> infos() const { return info_; }
  // Per env.
  std::span<const uint8_t> episode_done() const { return episode_done_; }  // ended this step
  std::span<const int32_t> episodes() const { return episode_; }  // episodes finished so far
  std::span<const int32_t> last_length() const { return last_length_; }
  std::span<const double> last_mean_lifetime() const { return last_mean_lifetime_; }

 private:
  template <typename Action>
  void step_all(std::span<const Action> actions, int per_agent);
  template <typename Action>
  void step_env(int k, std::span<const Action> actions);

  std::unique_ptr<envs::TaskPool> pool_;  // null with one thread
  BatchOptions options_;
  int agents_ = 0;
  std::vector<std::unique_ptr<Env>> envs_;
  uint64_t seed_ = 0;
  bool started_ = false;

  ObsStorage obs_storage_;
  ObsBuffers obs_;
  std::vector<float> reward_;
  std::vector<uint8_t> done_, active_;
  std::vector<AgentTaskInfo> info_;
  std::vector<uint8_t> episode_done_;
  std::vector<int32_t> episode_, last_length_;
  std::vector<double> last_mean_lifetime_;
};

}  // namespace stackgrad::nmmo
