#include "planner.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>
#include <queue>
#include <unordered_set>

namespace stackgrad::flatland {

namespace {

// Steps a train needs per cell: int(1/speed), as flatland counts it.
int steps_per_cell(const Agent& a) { return a.max_count + 1; }

// The moving action that takes a train at (position, direction) to `next`, or kStop if none.
Action action_towards(const RailEnv& env, GridPos position, int direction,
                      const PlannedCell& next) {
  for (Action action : {Action::kForward, Action::kLeft, Action::kRight}) {
    if (!env.check_valid_action(action, position, direction)) continue;
    const Waypoint w = env.apply_action(action, position, direction);
    if (w.position == next.position && w.direction == next.direction) return action;
  }
  return Action::kStop;
}

}  // namespace

bool Planner::free_for(int cell, int t, int agent) const {
  const auto it = reservations_.find(key(cell, t));
  return it == reservations_.end() || it->second == agent;
}

// Entering `to` at time t from `from`: a train X that is in `to` at t - 1 and in `from` at t
// would swap places with us, which flatland treats as a deadlock.
bool Planner::swap_conflict(int from, int to, int t, int agent) const {
  const auto before = reservations_.find(key(to, t - 1));
  if (before == reservations_.end() || before->second == agent) return false;
  const auto after = reservations_.find(key(from, t));
  return after != reservations_.end() && after->second == before->second;
}

int Planner::ready_time(const RailEnv& env, int agent) const {
  const Agent& a = env.agents()[agent];
  // A train whose malfunction ends inside a cell (not at its exit) first goes to STOPPED: one
  // more step before its speed counter runs again.
  const bool restart = a.state == TrainState::kMalfunction && !a.at_cell_exit();
  return now_ + a.malfunction_counter + (a.max_count - a.speed_counter) + restart;
}

bool Planner::plan_agent(const RailEnv& env, int agent) {
  ++stats_.searches;
  std::vector<PlannedCell>& plan = plans_[agent];
  plan.clear();
  const Agent& a = env.agents()[agent];
  const AgentSpec& s = env.spec(agent);
  if (a.state == TrainState::kDone) return true;
  const RailGrid& grid = env.grid();
  const DistanceMap& dm = env.distance_map();
  const int k = steps_per_cell(a);
  const int target = grid.index(s.target);
  const int start = grid.index(s.initial_position);

  // Root: off the map, the train may enter its start cell at root.t + 1; on the map it may
  // leave its cell at root.t, with its saved action (if any) fixing that first move.
  Node root;
  const bool on_map = a.position.on_map();
  if (on_map) {
    root = {grid.index(a.position), static_cast<int8_t>(a.direction), ready_time(env, agent), now_,
            -1};
  } else {
    const int ready = std::max({now_, s.earliest_departure, 1, now_ + a.malfunction_counter});
    root = {-1, static_cast<int8_t>(s.initial_direction), ready, -1, -1};
  }
  // A lower bound on the arrival time from a node (distance-map moves, k steps per cell).
  auto bound = [&](const Node& n) -> int64_t {
    const GridPos p = n.cell < 0 ? s.initial_position : grid.pos(n.cell);
    const int32_t d = dm.distance(agent, p, n.dir);
    if (d == DistanceMap::kUnreachable) return INT64_MAX;
    return n.cell < 0 ? int64_t{n.t} + 1 + int64_t{d} * k : int64_t{n.t} + 1 + int64_t{d - 1} * k;
  };
  auto state_key = [&](const Node& n) {
    return (static_cast<uint64_t>(n.t) * (num_cells_ + 1) + (n.cell < 0 ? num_cells_ : n.cell)) *
               4 +
           n.dir;
  };

  struct Entry {
    int64_t f;
    int32_t t;
    int32_t node;
    bool operator<(const Entry& o) const { return f != o.f ? f > o.f : t < o.t; }  // min f, max t
  };
  std::priority_queue<Entry> open;
  std::unordered_set<uint64_t> seen;
  nodes_.clear();
  auto push = [&](const Node& n) {
    const int64_t f = bound(n);
    if (f > horizon_) return;
    if (!seen.insert(state_key(n)).second) return;
    nodes_.push_back(n);
    open.push({f, n.t, static_cast<int32_t>(nodes_.size() - 1)});
  };
  // Whether `cell` is free for this train from t0 to t1 inclusive.
  auto free_span = [&](int cell, int t0, int t1) {
    for (int t = t0; t <= t1; ++t) {
      if (!free_for(cell, t, agent)) return false;
    }
    return true;
  };
  push(root);

  int goal_parent = -1;
  int goal_dir = 0;
  int expansions = 0;
  while (!open.empty() && expansions < options_.max_expansions) {
    const int id = open.top().node;
    open.pop();
    ++expansions;
    const Node n = nodes_[id];
    // Wait one more step (off the map waiting is free).
    if (n.cell < 0 || free_for(n.cell, n.t + 1, agent)) push({n.cell, n.dir, n.t + 1, n.enter, id});
    if (n.cell < 0) {
      if (free_span(start, n.t + 1, n.t + k)) push({start, n.dir, n.t + k, n.t + 1, id});
      continue;
    }
    const GridPos p = grid.pos(n.cell);
    const bool first_move = on_map && n.cell == root.cell && n.enter == root.enter;
    for (Action action : {Action::kForward, Action::kLeft, Action::kRight}) {
      if (first_move && a.has_saved_action() && action != a.saved_action) continue;
      if (!env.check_valid_action(action, p, n.dir)) continue;
      const Waypoint w = env.apply_action(action, p, n.dir);
      const int next = grid.index(w.position);
      const int t_in = n.t + 1;
      if (swap_conflict(n.cell, next, t_in, agent)) continue;
      if (next == target) {
        if (free_for(next, t_in, agent) && t_in <= horizon_) {
          goal_parent = id;
          goal_dir = w.direction;
          break;
        }
        continue;
      }
      if (free_span(next, t_in, t_in + k - 1)) {
        push({next, static_cast<int8_t>(w.direction), t_in + k - 1, t_in, id});
      }
    }
    if (goal_parent >= 0) break;
  }
  if (goal_parent < 0) {
    ++stats_.failed_searches;
    return false;
  }
  // Walk back; every node whose entry time differs from its parent's is a new cell.
  for (int id = goal_parent; id >= 0; id = nodes_[id].parent) {
    const Node& n = nodes_[id];
    const int parent = n.parent;
    if (n.cell >= 0 &&
        (parent < 0 || nodes_[parent].enter != n.enter || nodes_[parent].cell != n.cell)) {
      plan.push_back({grid.pos(n.cell), n.dir, n.enter});
    }
  }
  std::reverse(plan.begin(), plan.end());
  plan.push_back({s.target, goal_dir, nodes_[goal_parent].t + 1});
  return true;
}

void Planner::reserve_plan(int agent, int first_time) {
  const std::vector<PlannedCell>& plan = plans_[agent];
  for (size_t i = 0; i + 1 < plan.size(); ++i) {
    const int cell = index_of(plan[i].position);
    for (int t = std::max(plan[i].enter, first_time); t < plan[i + 1].enter; ++t)
      reserve(cell, t, agent);
  }
  if (!plan.empty()) reserve(index_of(plan.back().position), plan.back().enter, agent);
}

int Planner::expected_cell(int agent, int t) const {
  const std::vector<PlannedCell>& plan = plans_[agent];
  int cell = -1;
  for (size_t i = 0; i + 1 < plan.size() && plan[i].enter <= t; ++i)
    cell = index_of(plan[i].position);
  return plan.empty() || plan.back().enter <= t ? -1 : cell;
}

bool Planner::deviates(const RailEnv& env, int agent) const {
  const Agent& a = env.agents()[agent];
  const std::vector<PlannedCell>& plan = plans_[agent];
  if (a.state == TrainState::kDone || plan.empty()) return false;
  const int actual = a.position.on_map() ? index_of(a.position) : -1;
  if (actual != expected_cell(agent, now_)) return true;
  if (!a.position.on_map()) return now_ + a.malfunction_counter + 1 > plan.front().enter;
  // The next planned entry must still be reachable given the malfunction and speed counter.
  for (const PlannedCell& c : plan) {
    if (c.enter > now_) return ready_time(env, agent) + 1 > c.enter;
  }
  return false;
}

void Planner::replan_all(const RailEnv& env) {
  const int n = env.num_agents();
  reservations_.clear();
  std::fill(needs_plan_.begin(), needs_plan_.end(), 0);
  // Trains on the map hold their cell until they can leave it, whatever the others do.
  std::vector<int> order;
  for (int i = 0; i < n; ++i) {
    const Agent& a = env.agents()[i];
    plans_[i].clear();
    if (a.state == TrainState::kDone) continue;
    order.push_back(i);
    if (!a.position.on_map()) continue;
    for (int t = now_; t <= ready_time(env, i); ++t) reserve(index_of(a.position), t, i);
  }
  // A train off the map that has a saved action (a departure that was blocked) claims its
  // start cell at every step in flatland 3.0.15, whatever it is told: it goes first with them.
  auto committed = [&](int i) {
    const Agent& a = env.agents()[i];
    return a.position.on_map() || a.has_saved_action();
  };
  // Replans keep the ranks chosen by reset(), except that committed trains go first, broken
  // ones before the others (they cannot yield to anybody).
  if (static_cast<int>(rank_.size()) != n) rank_ = make_rank(env, 0);
  auto broken = [&](int i) { return env.agents()[i].malfunction_counter > 0; };
  std::sort(order.begin(), order.end(), [&](int x, int y) {
    if (committed(x) != committed(y)) return committed(x);
    if (broken(x) != broken(y)) return broken(x);
    return rank_[x] < rank_[y];
  });
  // Plan in order. A committed train that finds no path holds its cell; trains planned earlier
  // through that cell lose their plans and are planned again (and the holder gets a new try
  // after them), a few rounds at most.
  std::deque<int> queue(order.begin(), order.end());
  std::vector<int> tries(n, 0);
  while (!queue.empty()) {
    const int i = queue.front();
    queue.pop_front();
    ++tries[i];
    if (plan_agent(env, i)) {
      needs_plan_[i] = 0;
      reserve_plan(i, now_);
    } else if (committed(i)) {
      const Agent& a = env.agents()[i];
      const int cell = index_of(a.position.on_map() ? a.position : env.spec(i).initial_position);
      std::vector<int> displaced;
      for (int t = now_; t <= horizon_; ++t) {
        auto [it, inserted] = reservations_.try_emplace(key(cell, t), i);
        if (!inserted && it->second != i) {
          if (std::find(displaced.begin(), displaced.end(), it->second) == displaced.end()) {
            displaced.push_back(it->second);
          }
          it->second = i;
        }
      }
      for (int j : displaced) {
        unreserve(env, j);
        if (tries[j] < 3) queue.push_back(j);
      }
      if (!displaced.empty() && tries[i] < 3) queue.push_back(i);
    } else {
      needs_plan_[i] = 1;
      retry_gap_[i] = options_.retry_every;
      retry_at_[i] = now_ + retry_gap_[i];
    }
  }
}

// Drops an agent's plan and its reservations, keeping the cell it cannot leave yet.
void Planner::unreserve(const RailEnv& env, int agent) {
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    it = it->second == agent ? reservations_.erase(it) : std::next(it);
  }
  plans_[agent].clear();
  const Agent& a = env.agents()[agent];
  if (a.position.on_map()) {
    for (int t = now_; t <= ready_time(env, agent); ++t)
      reservations_.try_emplace(key(index_of(a.position), t), agent);
  }
}

void Planner::reset(const RailEnv& env) {
  const int n = env.num_agents();
  width_ = env.grid().width();
  num_cells_ = env.grid().size();
  horizon_ = env.max_episode_steps();
  now_ = env.elapsed_steps();
  stats_ = {};
  plans_.assign(n, {});
  needs_plan_.assign(n, 0);
  retry_at_.assign(n, 0);
  retry_gap_.assign(n, options_.retry_every);
  // Plan with each ordering rule and keep the one whose plans promise the best total reward.
  long long best = 0;
  std::vector<std::vector<PlannedCell>> best_plans;
  std::unordered_map<uint64_t, int> best_reservations;
  std::vector<uint8_t> best_needs;
  std::vector<int> best_rank;
  const int rules = std::max(1, std::min(options_.orderings, kNumOrderings));
  for (int rule = 0; rule < rules; ++rule) {
    rank_ = make_rank(env, rule);
    replan_all(env);
    const long long reward = predicted_reward(env);
    if (rule == 0 || reward > best) {
      best = reward;
      best_plans = plans_;
      best_reservations = reservations_;
      best_needs = needs_plan_;
      best_rank = rank_;
    }
  }
  plans_ = std::move(best_plans);
  reservations_ = std::move(best_reservations);
  needs_plan_ = std::move(best_needs);
  rank_ = std::move(best_rank);
}

std::vector<int> Planner::make_rank(const RailEnv& env, int rule) const {
  const int n = env.num_agents();
  auto travel = [&](int i) {
    return env.distance_map().path_length(i, env.spec(i).initial_position,
                                          env.spec(i).initial_direction) *
           (env.agents()[i].max_count + 1);
  };
  auto slack = [&](int i) {
    return env.spec(i).latest_arrival - env.spec(i).earliest_departure - travel(i);
  };
  std::vector<long long> primary(n), secondary(n);
  for (int i = 0; i < n; ++i) {
    switch (rule) {
      case 1:  // shortest travel first
        primary[i] = travel(i), secondary[i] = env.spec(i).earliest_departure;
        break;
      case 2:  // earliest deadline first
        primary[i] = env.spec(i).latest_arrival, secondary[i] = travel(i);
        break;
      case 3:  // least slack first
        primary[i] = slack(i), secondary[i] = env.spec(i).earliest_departure;
        break;
      default:  // earliest departure first
        primary[i] = env.spec(i).earliest_departure, secondary[i] = travel(i);
    }
  }
  std::vector<int> by(n);
  std::iota(by.begin(), by.end(), 0);
  std::stable_sort(by.begin(), by.end(), [&](int x, int y) {
    return primary[x] != primary[y] ? primary[x] < primary[y] : secondary[x] < secondary[y];
  });
  std::vector<int> rank(n);
  for (int r = 0; r < n; ++r) rank[by[r]] = r;
  return rank;
}

// The end-of-episode reward the plans promise: lateness of planned arrivals, and the
// cancellation penalty of trains without a plan.
long long Planner::predicted_reward(const RailEnv& env) const {
  long long total = 0;
  for (int i = 0; i < env.num_agents(); ++i) {
    const AgentSpec& s = env.spec(i);
    if (env.agents()[i].state == TrainState::kDone) continue;
    if (!plans_[i].empty()) {
      total += std::min(s.latest_arrival - plans_[i].back().enter, 0);
    } else {
      total -= static_cast<long long>(std::ceil(env.shortest_path_length(i) / s.speed));
    }
  }
  return total;
}

void Planner::act(const RailEnv& env, std::span<int> actions) {
  const int n = env.num_agents();
  if (static_cast<int>(plans_.size()) != n || horizon_ != env.max_episode_steps() ||
      env.elapsed_steps() < now_) {
    reset(env);  // a different env, or a new episode
  }
  now_ = env.elapsed_steps();
  bool deviation = false;
  for (int i = 0; i < n && !deviation; ++i) {
    deviation = deviates(env, i);
  }
  if (deviation) {
    ++stats_.replans;
    replan_all(env);
  } else if (options_.retry_every > 0) {
    // Trains left without a path try again, at doubling intervals (a failed search can cost
    // the whole expansion budget on a large level).
    for (int i = 0; i < n; ++i) {
      if (!needs_plan_[i] || env.agents()[i].position.on_map() || now_ < retry_at_[i]) continue;
      if (plan_agent(env, i)) {
        needs_plan_[i] = 0;
        reserve_plan(i, now_);
      } else {
        retry_gap_[i] *= 2;
        retry_at_[i] = now_ + retry_gap_[i];
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    const Agent& a = env.agents()[i];
    const AgentSpec& s = env.spec(i);
    const std::vector<PlannedCell>& plan = plans_[i];
    Action action = Action::kStop;
    if (a.state == TrainState::kWaiting || a.state == TrainState::kDone) {
      action = Action::kDoNothing;
    } else if (plan.size() < 2) {
      action = Action::kStop;  // no path: wait off the map, or hold the cell
    } else if (!a.position.on_map()) {
      // Depart when the plan enters the start cell at the next step.
      if (now_ + 1 >= plan[0].enter) {
        action = action_towards(env, s.initial_position, s.initial_direction, plan[1]);
        if (action == Action::kStop) action = Action::kForward;
      }
    } else {
      size_t at = 0;
      while (at + 1 < plan.size() && plan[at + 1].enter <= now_) ++at;
      const PlannedCell& next = plan[std::min(at + 1, plan.size() - 1)];
      const Action move = action_towards(env, a.position, a.direction, next);
      // Moving inside the cell runs the speed counter; at the exit, wait for the planned time.
      action = a.at_cell_exit() && now_ + 1 < next.enter ? Action::kStop : move;
    }
    actions[i] = static_cast<int>(action);
  }
}

}  // namespace stackgrad::flatland
