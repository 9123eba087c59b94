#include "task.h"

#include <algorithm>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

std::vector<int32_t> as_group(std::vector<int32_t> ids, const char* what) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  SG_CHECK(!ids.empty(), "nmmo Task: the ", what, " must not be empty");
  for (int32_t id : ids)
    SG_CHECK(id > 0, "nmmo Task: ", what, " ids must be players (> 0), got ", id);
  return ids;
}

}  // namespace

std::string_view task_kind_name(TaskKind k) {
  switch (k) {
    case TaskKind::kTask:
      return "Task";
    case TaskKind::kOngoing:
      return "OngoingTask";
    case TaskKind::kHoldDuration:
      return "HoldDurationTask";
  }
  return "Task";
}

TaskKind task_kind_from_name(std::string_view name) {
  for (TaskKind k : {TaskKind::kTask, TaskKind::kOngoing, TaskKind::kHoldDuration}) {
    if (task_kind_name(k) == name) return k;
  }
  fail("nmmo task: unknown task class '", name,
       "' (expected Task, OngoingTask or HoldDurationTask)");
}

Task::Task(PredicateExpr predicate, std::vector<int32_t> subject, std::vector<int32_t> assignee,
           TaskKind kind, int hold_duration, double reward_multiplier, std::string spec_name)
    : predicate_(std::move(predicate)),
      subject_(as_group(std::move(subject), "subject")),
      assignee_(as_group(std::move(assignee), "assignee")),
      kind_(kind),
      hold_duration_(hold_duration),
      multiplier_(reward_multiplier),
      spec_name_(std::move(spec_name)) {
  SG_CHECK(kind != TaskKind::kHoldDuration || hold_duration > 0,
           "nmmo Task: HoldDurationTask needs hold_duration > 0, got ", hold_duration);
}

void Task::reset() {
  progress_ = max_progress_ = 0.0;
  completed_tick_ = -1;
  hold_timer_ = 0;
  positive_rewards_ = negative_rewards_ = 0;
}

double Task::step(const GameState& gs) {
  double reward = 0.0;
  switch (kind_) {
    case TaskKind::kTask:
      if (!completed()) {
        const double p = std::clamp(evaluate(predicate_, gs, subject_), 0.0, 1.0);
        reward = p - progress_;
        progress_ = p;
        if (progress_ >= 1.0) {
          completed_tick_ = gs.tick();
          reward = 1.0;  // the completion bonus replaces the last delta (A13.3)
        }
      }
      break;
    case TaskKind::kOngoing:
      progress_ = std::clamp(evaluate(predicate_, gs, subject_), 0.0, 1.0);
      if (progress_ >= 1.0 && !completed()) completed_tick_ = gs.tick();
      reward = progress_;
      break;
    case TaskKind::kHoldDuration:
      if (!completed()) {
        const double p = std::clamp(evaluate(predicate_, gs, subject_), 0.0, 1.0);
        hold_timer_ = p < 1.0 ? 0 : hold_timer_ + 1;
        const double np = static_cast<double>(hold_timer_) / hold_duration_;
        reward = np - progress_;
        progress_ = np;
        if (progress_ >= 1.0) {
          completed_tick_ = gs.tick();
          reward = 1.0;
        }
      }
      break;
  }
  reward *= multiplier_;
  max_progress_ = std::max(max_progress_, progress_);
  positive_rewards_ += reward > 0;
  negative_rewards_ += reward < 0;
  return reward;
}

std::vector<Task> default_tasks(std::span<const int32_t> agents) {
  std::vector<Task> tasks;
  tasks.reserve(agents.size());
  for (int32_t a : agents) {
    tasks.emplace_back(PredicateExpr::leaf(PredicateId::kStayAlive), std::vector<int32_t>{a},
                       std::vector<int32_t>{a}, TaskKind::kOngoing, 0, 1.0,
                       "OngoingTask_StayAlive_()_reward_to:agent");
  }
  return tasks;
}

std::vector<double> compute_rewards(const GameState& gs, std::span<Task> tasks,
                                    std::span<const int32_t> current_agents,
                                    std::span<const int32_t> died_this_tick) {
  const size_t n = gs.world().players.size();
  std::vector<double> rewards(n, 0.0);
  std::vector<char> current(n + 1, 0);
  for (int32_t a : current_agents) {
    if (a > 0 && static_cast<size_t>(a) <= n) current[a] = 1;
  }
  for (Task& t : tasks) {
    bool any = false;
    for (int32_t a : t.assignee()) any |= static_cast<size_t>(a) <= n && current[a];
    if (!any) continue;
    const double r = t.step(gs);
    for (int32_t a : t.assignee()) {
      if (static_cast<size_t>(a) <= n && current[a]) rewards[a - 1] += r;
    }
  }
  for (int32_t a : died_this_tick) {
    if (a > 0 && static_cast<size_t>(a) <= n) rewards[a - 1] = -1.0;
  }
  return rewards;
}

}  // namespace stackgrad::nmmo
