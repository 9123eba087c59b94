// Tasks: a predicate expression turned into a reward signal (spec A13.3) and the per-tick
// rewards of all agents (A12).
//
//   Task t(expr, /*subject=*/{7}, /*assignee=*/{7});                // nmmo's Task
//   double r = t.step(gs);      // (progress - previous progress), +1 on first completion, then 0
//
// The env calls, after every tick and GameState::update:
//   std::vector<double> r = compute_rewards(gs, tasks, current_agents, died_this_tick);
// where current_agents are the players alive or dead this tick (nmmo's env.agents). Tasks are
// evaluated only while one of their assignees is current, and an agent that died this tick gets
// exactly -1, overriding its task rewards (nmmo's _compute_rewards).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "envs/nmmo/tasks/predicates.h"

namespace stackgrad::nmmo {

enum class TaskKind : uint8_t {
  kTask,          // reward = progress delta; 1 on first completion; then 0
  kOngoing,       // reward = progress, every tick, forever
  kHoldDuration,  // progress = consecutive ticks the predicate holds / hold_duration
};
std::string_view task_kind_name(TaskKind k);  // nmmo's class names: Task, OngoingTask, ...
TaskKind task_kind_from_name(std::string_view name);

class Task {
 public:
  Task(PredicateExpr predicate, std::vector<int32_t> subject, std::vector<int32_t> assignee,
       TaskKind kind = TaskKind::kTask, int hold_duration = 0, double reward_multiplier = 1.0,
       std::string spec_name = {});

  // Evaluates the predicate on this tick's state and returns the reward of every assignee
  // (already multiplied by reward_multiplier); updates progress and completion.
  double step(const GameState& gs);
  // Back to the start of an episode.
  void reset();

  const PredicateExpr& predicate() const { return predicate_; }
  const std::vector<int32_t>& subject() const { return subject_; }
  const std::vector<int32_t>& assignee() const { return assignee_; }
  TaskKind kind() const { return kind_; }
  const std::string& spec_name() const { return spec_name_; }
  double progress() const { return progress_; }
  double max_progress() const { return max_progress_; }
  bool completed() const { return completed_tick_ >= 0; }
  int completed_tick() const { return completed_tick_; }  // -1 while not completed
  int positive_reward_count() const { return positive_rewards_; }
  int negative_reward_count() const { return negative_rewards_; }

 private:
  PredicateExpr predicate_;
  std::vector<int32_t> subject_;   // sorted, unique (nmmo's Group)
  std::vector<int32_t> assignee_;  // sorted, unique
  TaskKind kind_;
  int hold_duration_;
  double multiplier_;
  std::string spec_name_;

  double progress_ = 0.0, max_progress_ = 0.0;
  int completed_tick_ = -1;
  int hold_timer_ = 0;
  int positive_rewards_ = 0, negative_rewards_ = 0;
};

// The default task of every agent without a curriculum: OngoingTask(StayAlive), +1 per tick
// alive (A12).
std::vector<Task> default_tasks(std::span<const int32_t> agents);

// Rewards of one tick, indexed by player id - 1 (size: gs.world().players.size()).
std::vector<double> compute_rewards(const GameState& gs, std::span<Task> tasks,
                                    std::span<const int32_t> current_agents,
                                    std::span<const int32_t> died_this_tick);

}  // namespace stackgrad::nmmo
