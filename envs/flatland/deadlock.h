// Deadlock detection for the Tree-LSTM observation (feature "deadlocked" of the agent
// attributes): a train on the map is deadlocked when every exit it may take from its cell leads
// into a cell held by a train that is itself deadlocked, directly or through a cycle of trains
// waiting on each other. Once set, a flag stays set until reset(): a deadlocked train never
// moves again under Flatland's rules, and the flag is meant as a persistent penalty signal.
//
//   DeadlockDetector dd;  dd.reset(env.num_agents(), env.grid().size());
//   env.step(actions);  dd.update(env);
//   if (dd.deadlocked(3)) { ... }
//
// The algorithm is that of the Tree-LSTM solution's `deadlock_checker.cpp` (re-written here):
// * only trains in MOVING, STOPPED or MALFUNCTION take part; a cell is "held" by the last such
//   train (by index) standing on it;
// * a depth-first check walks the train's exits (for its direction): a free exit, or one held
//   by a train found able to move, means "not deadlocked"; exits held by deadlocked trains are
//   blocked; an exit held by a train still being checked (a cycle) records a dependency;
// * a train with no exits at all (facing into a dead end before its U-turn) is not deadlocked;
//   a train whose exits are all blocked by deadlocked trains is;
// * dependencies are then resolved to a fixpoint: all dependencies deadlocked -> deadlocked,
//   one of them free -> free; trains left undecided (pure cycles, e.g. a head-on pair or a ring)
//   are deadlocked.
// update() allocates nothing after reset().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "rail_env.h"

namespace stackgrad::flatland {

class DeadlockDetector {
 public:
  // `num_cells` (the grid's size) lets update() start without allocating; 0 sizes it there.
  void reset(int num_agents, int num_cells = 0);
  // Re-examines every active train not yet flagged, with the env's current positions.
  void update(const RailEnv& env);

  bool deadlocked(int agent) const { return flags_[agent] != 0; }
  std::span<const uint8_t> flags() const { return flags_; }

 private:
  enum Check : uint8_t { kUnchecked = 0, kPending = 1, kDecided = 2 };
  void check_blocked(const RailEnv& env, int agent);

  std::vector<uint8_t> flags_;
  std::vector<uint8_t> checked_;
  std::vector<int> holder_;     // per cell: the active train holding it, -1 none
  std::vector<int> touched_;    // cells written in holder_ this update
  std::vector<int> dep_start_;  // dependencies of train i: deps_[dep_start_[i] .. + dep_count_[i]]
  std::vector<int> dep_count_;
  std::vector<int> deps_;  // at most 4 per train
};

}  // namespace stackgrad::flatland
