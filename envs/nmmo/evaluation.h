// Running Neural MMO episodes with the built-in policies, and what is measured on them: each
// player's lifetime and killer, the alive NPC count per tick, and (when tasks are given) task
// progress. Used by the `nmmo` executable and by the cross-check against nmmo 2.0.3.
//
//   Episode ep(config, /*seed=*/1, /*map_id=*/1, std::vector<PolicyKind>(128,
//   PolicyKind::kForager)); while (!ep.done()) ep.step(); double mean = ep.mean_lifetime();
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "envs/nmmo/policies.h"
#include "envs/nmmo/tasks/task.h"
#include "envs/nmmo/tasks/task_spec.h"
#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

// The policy of each player for `--policy NAME`: one kind for everybody, or for "mixed" the
// evaluation's teams (Config::team_size consecutive ids per team) cycling through forager,
// fighter, trader and random.
std::vector<PolicyKind> policies_for(const std::string& name, const Config& config);

// The evaluation's assignment of tasks: specs (k + episode * player_n) % n_specs for
// k = 0..player_n-1, so that every task is played about equally often, shuffled among the
// players with `rng` (in turn, they would follow the team order and give one policy's teams the
// same tasks in every episode).
std::vector<int> eval_task_picks(int n_specs, int player_n, int episode, Rng& rng);

class Episode {
 public:
  // Resets the world (realm.h reset) and makes one policy per player, seeded from `seed`.
  Episode(const Config& config, uint64_t seed, int map_id, std::vector<PolicyKind> policies);

  Episode(const Episode&) = delete;  // the task state points into world_
  Episode& operator=(const Episode&) = delete;

  // Tasks evaluated after every step as nmmo's env does (while an assignee is alive or died
  // this tick); without a call, none.
  void set_tasks(std::vector<Task> tasks);
  const std::vector<Task>& tasks() const { return tasks_; }

  // Over when the horizon is reached or every player is dead.
  bool done() const;
  // One tick: the alive players' policies decide, then the world steps. Returns the actions
  // (default entries for dead players).
  const std::vector<AgentAction>& step();
  // One tick with given actions (replays).
  void step(std::span<const AgentAction> actions);

  const World& world() const { return world_; }
  uint64_t seed() const { return seed_; }
  const std::vector<PolicyKind>& policies() const { return kinds_; }

  // Ticks each player was alive: the tick of the step it died in (nmmo's time_alive at death),
  // or the current tick while it lives.
  int lifetime(int32_t player_id) const;
  double mean_lifetime() const;
  int alive_players() const;
  // Mean over the steps taken of the number of alive NPCs after each step.
  double mean_alive_npcs() const;

 private:
  void record_after_step();

  World world_;
  uint64_t seed_;
  std::vector<PolicyKind> kinds_;
  std::vector<std::unique_ptr<Policy>> policies_;
  std::vector<AgentAction> actions_;
  std::vector<int> death_tick_;  // 0 while alive
  std::unique_ptr<GameState> game_state_;
  std::vector<Task> tasks_;
  double npc_sum_ = 0.0;
};

}  // namespace stackgrad::nmmo
