#include "motion_check.h"

#include "engine/core/error.h"

namespace stackgrad::flatland {

void MotionCheck::reset(int num_nodes, int num_agents) {
  occupant_.assign(num_nodes, -1);
  claimant_.assign(num_nodes, -1);
  from_.assign(num_agents, -1);
  to_.assign(num_agents, -1);
  next_.assign(num_agents, -1);
  seed_blocked_.assign(num_agents, 0);
  mark_.assign(num_agents, kUnknown);
  moves_.assign(num_agents, 0);
  path_.clear();
  path_.reserve(num_agents);
  count_ = 0;
}

void MotionCheck::clear() {
  for (int i = 0; i < count_; ++i) {
    occupant_[from_[i]] = -1;
    claimant_[to_[i]] = -1;
  }
  count_ = 0;
}

void MotionCheck::add(int agent, int from_node, int to_node) {
  SG_CHECK(agent == count_, "MotionCheck::add: agents must be added in index order, expected ",
           count_, ", got ", agent);
  SG_CHECK(from_node >= 0 && from_node < static_cast<int>(occupant_.size()) && to_node >= 0 &&
               to_node < static_cast<int>(occupant_.size()),
           "MotionCheck::add: node out of range for agent ", agent, ": ", from_node, " -> ",
           to_node, " (", occupant_.size(), " nodes)");
  from_[agent] = from_node;
  to_[agent] = to_node;
  occupant_[from_node] = agent;
  ++count_;
}

void MotionCheck::resolve() {
  const int n = count_;
  // Seeds: trains that stay put, and every claimant of a cell but the lowest index.
  for (int i = 0; i < n; ++i) {
    mark_[i] = kUnknown;
    seed_blocked_[i] = from_[i] == to_[i];
    if (seed_blocked_[i]) continue;
    if (claimant_[to_[i]] < 0) {
      claimant_[to_[i]] = i;
    } else {
      seed_blocked_[i] = 1;  // agents arrive in index order, so the first claimant is the lowest
    }
  }
  for (int i = 0; i < n; ++i) next_[i] = from_[i] == to_[i] ? i : occupant_[to_[i]];
  // Head-on swaps are deadlocks.
  for (int i = 0; i < n; ++i) {
    const int j = next_[i];
    if (j >= 0 && j != i && next_[j] == i) seed_blocked_[i] = seed_blocked_[j] = 1;
  }
  // A train is blocked when the chain of trains ahead of it reaches a seed. The wanted-move
  // graph has at most one edge out of every agent, so each walk is a path that ends in a free
  // cell, a known agent, or a ring of trains that all move.
  for (int i = 0; i < n; ++i) {
    if (mark_[i] != kUnknown) continue;
    path_.clear();
    int j = i;
    Mark outcome = kFree;
    while (true) {
      if (seed_blocked_[j]) {
        outcome = kBlocked;
        break;
      }
      if (mark_[j] == kFree || mark_[j] == kBlocked) {
        outcome = static_cast<Mark>(mark_[j]);
        break;
      }
      if (mark_[j] == kVisiting) {  // a ring without seeds
        outcome = kFree;
        break;
      }
      mark_[j] = kVisiting;
      path_.push_back(j);
      if (next_[j] < 0) {  // the wanted cell is free
        outcome = kFree;
        break;
      }
      j = next_[j];
    }
    for (int k : path_) mark_[k] = outcome;
    if (seed_blocked_[j] && mark_[j] == kUnknown) mark_[j] = kBlocked;
  }
  for (int i = 0; i < n; ++i) {
    if (mark_[i] == kUnknown) mark_[i] = seed_blocked_[i] ? kBlocked : kFree;
    moves_[i] = mark_[i] == kFree && from_[i] != to_[i];
  }
}

}  // namespace stackgrad::flatland
