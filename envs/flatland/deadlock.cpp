#include "deadlock.h"

namespace stackgrad::flatland {

namespace {
bool is_active(TrainState s) {
  return s == TrainState::kMoving || s == TrainState::kStopped || s == TrainState::kMalfunction;
}
}  // namespace

void DeadlockDetector::reset(int num_agents, int num_cells) {
  flags_.assign(num_agents, 0);
  checked_.assign(num_agents, kUnchecked);
  dep_start_.resize(num_agents);
  for (int i = 0; i < num_agents; ++i) dep_start_[i] = 4 * i;
  dep_count_.assign(num_agents, 0);
  deps_.assign(4 * num_agents, -1);
  holder_.assign(num_cells, -1);
  touched_.clear();
  touched_.reserve(num_agents);
}

void DeadlockDetector::check_blocked(const RailEnv& env, int agent) {
  const Agent& a = env.agents()[agent];
  const RailGrid& grid = env.grid();
  const uint16_t cell = grid.at(a.position);
  checked_[agent] = kPending;
  for (int d = 0; d < 4; ++d) {
    if (!can_exit(cell, a.direction, d)) continue;
    const GridPos next = step_towards(a.position, d);
    const int other = grid.in_bounds(next) ? holder_[grid.index(next)] : -1;
    if (other < 0) {  // the way is free
      checked_[agent] = kDecided;
      return;
    }
    if (flags_[other]) continue;  // blocked for good
    if (checked_[other] == kUnchecked) check_blocked(env, other);
    if (checked_[other] == kDecided && !flags_[other]) {  // it may move away
      checked_[agent] = kDecided;
      return;
    }
    deps_[dep_start_[agent] + dep_count_[agent]++] = other;  // waits on a train in a cycle
  }
  if (dep_count_[agent] == 0) {
    checked_[agent] = kDecided;
    // No exit at all (facing into a dead end) is not a deadlock; all exits blocked for good is.
    if (count_exits(cell, a.direction) > 0) flags_[agent] = 1;
  }
}

void DeadlockDetector::update(const RailEnv& env) {
  const int n = env.num_agents();
  const auto& agents = env.agents();
  if (holder_.size() != static_cast<size_t>(env.grid().size()))
    holder_.assign(env.grid().size(), -1);
  for (int c : touched_) holder_[c] = -1;
  touched_.clear();
  for (int i = 0; i < n; ++i) {
    if (!is_active(agents[i].state)) continue;
    const int c = env.grid().index(agents[i].position);
    holder_[c] = i;  // the last train on a cell holds it, as the reference's map assignment
    touched_.push_back(c);
  }
  std::fill(checked_.begin(), checked_.end(), kUnchecked);
  std::fill(dep_count_.begin(), dep_count_.end(), 0);
  for (int i = 0; i < n; ++i) {
    if (is_active(agents[i].state) && !flags_[i] && checked_[i] == kUnchecked)
      check_blocked(env, i);
  }
  // Resolve the dependencies of trains still pending (their exits lead into cycles).
  bool changed = true;
  while (changed) {
    changed = false;
    for (int i = 0; i < n; ++i) {
      if (checked_[i] != kPending) continue;
      int blocked = 0;
      for (int k = 0; k < dep_count_[i]; ++k) {
        const int other = deps_[dep_start_[i] + k];
        if (checked_[other] != kDecided) continue;
        if (flags_[other]) {
          ++blocked;
        } else {
          checked_[i] = kDecided;
          changed = true;
        }
      }
      if (blocked == dep_count_[i]) {
        checked_[i] = kDecided;
        flags_[i] = 1;
        changed = true;
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    if (checked_[i] == kPending) {  // a cycle nobody can leave
      flags_[i] = 1;
      checked_[i] = kDecided;
    }
  }
}

}  // namespace stackgrad::flatland
