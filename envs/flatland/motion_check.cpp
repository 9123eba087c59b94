#include "motion_check.h"

#include <limits>

#include "engine/core/error.h"

namespace stackgrad::flatland {

namespace {
constexpr int32_t kNoClaim = std::numeric_limits<int32_t>::max();
}

void MotionCheck::reset(int num_nodes, int num_agents) {
  first_agent_.assign(num_nodes, -1);
  last_agent_.assign(num_nodes, -1);
  best_claim_.assign(num_nodes, kNoClaim);
  rev_head_.assign(num_nodes, -1);
  blocked_.assign(num_nodes, 0);
  from_.assign(num_agents, -1);
  to_.assign(num_agents, -1);
  next_at_node_.assign(num_agents, -1);
  rev_next_.assign(num_agents, -1);
  moves_.assign(num_agents, 0);
  stack_.clear();
  stack_.reserve(2 * static_cast<size_t>(num_agents));
  count_ = 0;
}

void MotionCheck::clear() {
  for (int i = 0; i < count_; ++i) {
    first_agent_[from_[i]] = last_agent_[from_[i]] = -1;
    best_claim_[to_[i]] = kNoClaim;
    rev_head_[to_[i]] = -1;
    blocked_[from_[i]] = blocked_[to_[i]] = 0;
  }
  count_ = 0;
}

void MotionCheck::add(int agent, int from_node, int to_node) {
  SG_CHECK(agent == count_, "MotionCheck::add: agents must be added in index order, expected ",
           count_, ", got ", agent);
  const int num_nodes = static_cast<int>(first_agent_.size());
  SG_CHECK(from_node >= 0 && from_node < num_nodes && to_node >= 0 && to_node < num_nodes,
           "MotionCheck::add: node out of range for agent ", agent, ": ", from_node, " -> ",
           to_node, " (", num_nodes, " nodes)");
  from_[agent] = from_node;
  to_[agent] = to_node;
  next_at_node_[agent] = -1;
  if (first_agent_[from_node] < 0) {
    first_agent_[from_node] = agent;
  } else {
    next_at_node_[last_agent_[from_node]] = agent;
  }
  last_agent_[from_node] = agent;
  ++count_;
}

void MotionCheck::block(int node) {
  if (blocked_[node]) return;
  blocked_[node] = 1;
  stack_.push_back(node);
}

void MotionCheck::resolve() {
  const int n = count_;
  // Incoming moves per cell, and the lowest claimant (by the agent recorded on its cell).
  for (int i = 0; i < n; ++i) {
    if (from_[i] == to_[i]) continue;
    rev_next_[i] = rev_head_[to_[i]];
    rev_head_[to_[i]] = i;
    const int32_t claim = last_agent_[from_[i]];
    if (claim < best_claim_[to_[i]]) best_claim_[to_[i]] = claim;
  }
  // Seeds: cells of trains that stay put, both cells of a head-on swap, and every cell that
  // lost a claim.
  stack_.clear();
  for (int i = 0; i < n; ++i) {
    const int from = from_[i];
    const int to = to_[i];
    if (from == to) {
      block(from);
      continue;
    }
    for (int j = first_agent_[to]; j >= 0; j = next_at_node_[j]) {
      if (to_[j] == from) {
        block(from);
        block(to);
      }
    }
    if (last_agent_[from] != best_claim_[to]) block(from);
  }
  // Everything whose wanted moves lead into a blocked cell is blocked too.
  while (!stack_.empty()) {
    const int node = stack_.back();
    stack_.pop_back();
    for (int e = rev_head_[node]; e >= 0; e = rev_next_[e]) block(from_[e]);
  }
  for (int i = 0; i < n; ++i) {
    const int from = from_[i];
    moves_[i] = !blocked_[from] && to_[first_agent_[from]] != from;
  }
}

}  // namespace stackgrad::flatland
