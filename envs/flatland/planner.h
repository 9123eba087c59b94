// Planner: a prioritised space-time planner that drives every train of a RailEnv.
//
//   Planner planner;
//   planner.reset(env);                        // after env.reset(): plans every train
//   std::vector<int> actions(env.num_agents());
//   while (!env.done()) { planner.act(env, actions); env.step(actions); }
//
// The algorithm
// -------------
// 1. Time is the env's elapsed-step count; "a train is in cell c at time t" means it is there
//    after step t. A train of speed 1/k that enters a cell at time t stays there at least until
//    t + k - 1 and may enter the next cell at t + k (or later: it may wait at the cell's exit).
//    It enters its start cell one step after it becomes READY_TO_DEPART, i.e. at the earliest at
//    max(earliest_departure, 1) + 1, and it leaves the map the moment it enters its target.
// 2. Trains are planned one after the other in a priority order. At the start of an episode
//    four orders are tried (earliest departure, shortest travel time, earliest deadline, least
//    slack) and the one whose plans promise the best total reward is kept; replans keep it, but
//    put trains on the map first, broken ones first of all. Each gets the earliest-arrival path
//    found by A* over (cell, direction, time) states "ready to leave the cell at time t", with
//    moves "wait one more step" and "enter the next cell" (which costs k steps), the heuristic
//    being the distance-map distance times k. A state is allowed only where the reservation table
//    of the trains planned before it is free: one train per (cell, time), and no two trains
//    swapping cells in one step. Off the map a train may wait for free. A found path is then
//    reserved; a train with no path within max_episode_steps (or a search budget) stays off the
//    map (it is tried again after 10, 20, 40, ... steps), or, if it is already on the map, stays
//    where it is.
// 3. Execution: each step, every train gets the action that takes it to its next planned cell
//    when the plan says to enter it (STOP at the cell's exit while the plan says wait). A train
//    that is not where its plan says, or that a malfunction keeps from leaving its cell in time,
//    triggers a replan of all trains from the current state: first every train on the map
//    reserves the cell it cannot leave before its malfunction and its speed allow, then all are
//    planned again in priority order. A train's saved action (flatland executes the first
//    moving action given in a cell) fixes its first move in a replan.
// Collisions are never assumed away: if the world deviates from the plan the env simply blocks
// trains, and the next step's deviation check replans.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "rail_env.h"

namespace stackgrad::flatland {

// One cell of a planned path: the train enters `position` facing `direction` at time `enter`.
// The last entry is the target (the train leaves the map there).
struct PlannedCell {
  GridPos position;
  int direction = kNorth;
  int enter = 0;
};

struct PlannerOptions {
  int max_expansions = 200000;  // A* states expanded per train before giving up
  int retry_every = 10;  // steps before a train left without a path tries again (then doubling)
  // reset() plans with this many ordering rules (earliest departure, shortest travel, earliest
  // deadline, least slack) and keeps the best promised reward.
  int orderings = 4;
};
inline constexpr int kNumOrderings = 4;

struct PlannerStats {
  int replans = 0;          // full replans after a deviation
  int searches = 0;         // A* searches run
  int failed_searches = 0;  // searches that found no path
};

class Planner {
 public:
  explicit Planner(PlannerOptions options = {}) : options_(options) {}

  // Plans every train from the env's current state (call after env.reset()).
  void reset(const RailEnv& env);
  // Checks the last step against the plans (replanning if needed) and writes one action per
  // agent for the next step.
  void act(const RailEnv& env, std::span<int> actions);

  // The current plan of an agent (empty: no path; it waits off the map or stays where it is).
  const std::vector<PlannedCell>& plan(int agent) const { return plans_[agent]; }
  const PlannerStats& stats() const { return stats_; }

 private:
  struct Node {
    int32_t cell;  // grid index, or -1 off the map (before entering the start cell)
    int8_t dir;
    int32_t t;       // time at which the train may leave this cell (or enter its start cell)
    int32_t enter;   // time it entered this cell
    int32_t parent;  // index in nodes_, -1 at the root
  };

  void replan_all(const RailEnv& env);
  std::vector<int> make_rank(const RailEnv& env, int rule) const;
  long long predicted_reward(const RailEnv& env) const;
  bool plan_agent(const RailEnv& env, int agent);
  void reserve_plan(int agent, int first_time);
  void unreserve(const RailEnv& env, int agent);
  void reserve(int cell, int t, int agent) { reservations_[key(cell, t)] = agent; }
  bool free_for(int cell, int t, int agent) const;
  bool swap_conflict(int from, int to, int t, int agent) const;
  bool deviates(const RailEnv& env, int agent) const;
  int expected_cell(int agent, int t) const;  // grid index planned at time t, -1 off the map
  // Earliest time at which a train on the map may leave its cell (malfunction, speed counter).
  int ready_time(const RailEnv& env, int agent) const;
  int index_of(GridPos p) const { return p.row * width_ + p.col; }
  uint64_t key(int cell, int t) const {
    return static_cast<uint64_t>(t) * static_cast<uint64_t>(num_cells_) +
           static_cast<uint64_t>(cell);
  }

  PlannerOptions options_;
  PlannerStats stats_;
  int width_ = 0;
  int num_cells_ = 0;
  int horizon_ = 0;
  int now_ = 0;
  std::vector<std::vector<PlannedCell>> plans_;
  std::vector<int> stuck_until_;  // on-map trains without a path: cell held until this time
  std::vector<uint8_t> needs_plan_;
  std::vector<int> retry_at_, retry_gap_;  // when a train without a path tries next, and the gap
  std::vector<int> rank_;  // planning priority, fixed by the first plan of an episode
  // (time * cells + cell) -> agent holding it.
  std::unordered_map<uint64_t, int> reservations_;
  std::vector<Node> nodes_;  // A* scratch
};

}  // namespace stackgrad::flatland
