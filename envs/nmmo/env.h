// Env: one Neural MMO 2.0 episode as a reinforcement-learning environment (spec A1, A11, A12):
// the world and its rules (realm.h), one task per agent (tasks/), rewards, dones, infos and the
// observations of every agent after each step.
//
//   EnvOptions o;                           // Medium world, everyone OngoingTask(StayAlive)
//   o.task_specs = baseline_curriculum();   // or: each agent samples a spec at every reset
//   Env env(o);
//   env.reset(/*seed=*/1);                  // map drawn from the seed unless given
//   std::vector<int32_t> actions(env.num_agents() * kNumActionArgs, ...);
//   env.step(actions);                      // rewards(), dones(), observations(), ...
//
// All per-agent outputs have player_n entries (agent i is player i + 1), also for the dead:
// nmmo returns entries only for live agents and those that died this tick (its env.agents),
// which is active() here. An agent that died earlier keeps done = 1 and reward 0 and gets
// nmmo's dummy observation. Once episode_done(), reset() must come before the next step().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "envs/nmmo/config.h"
#include "envs/nmmo/observation.h"
#include "envs/nmmo/tasks/task.h"
#include "envs/nmmo/tasks/task_encoding.h"
#include "envs/nmmo/tasks/task_spec.h"
#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

struct EnvOptions {
  Config config = Config::medium();
  // Sampled per agent at every reset, by sampling_weight (A13.4); empty: every agent gets
  // OngoingTask(StayAlive), +1 per tick alive (A12).
  std::vector<TaskSpec> task_specs;
  // The baseline's early stop: the episode ends once at most this many players are alive
  // (baseline training uses 8; 0 turns it off, as in the competition's evaluation).
  int early_stop_agents = 0;
  // Off: no observations are written (for measuring the rules alone); step() then takes
  // AgentActions only, since flat actions are resolved through the observation's rows.
  bool observations = true;
};

// What an agent's task says after a step (nmmo's infos[agent]['task'], first task).
struct AgentTaskInfo {
  float progress = 0.0f;
  float max_progress = 0.0f;
  uint8_t completed = 0;
  int32_t lifetime = 0;  // ticks alive: the tick it died at, or the current tick while alive
};

class Env {
 public:
  explicit Env(EnvOptions options = {});
  ~Env();
  Env(Env&&) noexcept;
  Env& operator=(Env&&) noexcept;

  // Writes observations into `buffers` (player_n agents) instead of the env's own storage,
  // from the next reset on; BatchEnv points every env at its slice of one buffer.
  void bind_observations(const ObsBuffers& buffers);

  // A new episode: map `map_id` (1..map_n; 0 draws it from the seed as nmmo's realm does),
  // tasks sampled with the seed, observations written.
  void reset(uint64_t seed, int map_id = 0);
  // One tick. Flat actions: player_n * kNumActionArgs ints in ActionArg order, resolved
  // against the current observation (ObservationWriter::decode says how). Throws
  // stackgrad::Error on wrong sizes, out-of-range ints or a finished episode.
  void step(std::span<const int32_t> flat_actions);
  void step(std::span<const AgentAction> actions);

  const Config& config() const { return options_.config; }
  const EnvOptions& options() const { return options_; }
  int num_agents() const { return options_.config.player_n; }
  const World& world() const { return *world_; }
  // For scripted scenarios and tests; the observations describe the world as of the last
  // reset or step until refresh_observations().
  World& mutable_world() { return *world_; }
  void refresh_observations();

  const ObservationWriter& observer() const { return writer_; }
  const ObsBuffers& observations() const { return obs_; }
  int task_dim() const { return kTaskEncodingDim; }
  std::span<const float> task_encodings() const { return task_encoding_; }  // [n, task_dim]

  // Per agent, after the last step (zeros after reset).
  std::span<const float> rewards() const { return reward_; }
  std::span<const uint8_t> dones() const { return done_; }
  std::span<const uint8_t> active() const { return active_; }  // alive before the step
  std::span<const AgentTaskInfo> infos() const { return info_; }
  // The spec each agent got at reset (index into options().task_specs; -1: the default).
  std::span<const int32_t> task_spec_index() const { return spec_index_; }
  const std::vector<Task>& tasks() const { return tasks_; }

  int tick() const;
  int num_alive() const { return num_alive_; }
  bool episode_done() const { return episode_done_; }

 private:
  void assign_tasks(uint64_t seed);
  void update_infos();
  void write_observations();

  EnvOptions options_;
  std::unique_ptr<World> world_;
  std::unique_ptr<GameState> game_state_;
  std::vector<Task> tasks_;
  std::vector<int32_t> agent_task_;  // first task of each agent, -1 if none
  std::vector<int32_t> spec_index_;
  std::vector<float> task_encoding_;

  ObservationWriter writer_;
  std::unique_ptr<ObsStorage> own_obs_;
  ObsBuffers obs_;
  bool external_obs_ = false;

  std::vector<AgentAction> actions_;  // decoded flat actions
  std::vector<int32_t> current_ids_, died_ids_;
  std::vector<float> reward_;
  std::vector<uint8_t> done_, active_;
  std::vector<AgentTaskInfo> info_;
  int num_alive_ = 0;
  bool started_ = false, episode_done_ = false;
};

}  // namespace stackgrad::nmmo
