#include "rail_env.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace stackgrad::flatland {

const char* state_name(TrainState s) {
  switch (s) {
    case TrainState::kWaiting:
      return "WAITING";
    case TrainState::kReadyToDepart:
      return "READY_TO_DEPART";
    case TrainState::kMalfunctionOffMap:
      return "MALFUNCTION_OFF_MAP";
    case TrainState::kMoving:
      return "MOVING";
    case TrainState::kStopped:
      return "STOPPED";
    case TrainState::kMalfunction:
      return "MALFUNCTION";
    case TrainState::kDone:
      return "DONE";
  }
  return "?";
}

RailEnv::RailEnv(Level level) : level_(std::move(level)) {
  const int n = static_cast<int>(level_.agents.size());
  SG_CHECK(n > 0, "RailEnv: level '", level_.name, "' has no agents");
  SG_CHECK(level_.max_episode_steps > 0, "RailEnv: level '", level_.name,
           "': expected max_episode_steps > 0, got ", level_.max_episode_steps);
  std::vector<GridPos> targets;
  for (int i = 0; i < n; ++i) {
    const AgentSpec& s = level_.agents[i];
    SG_CHECK(grid().in_bounds(s.initial_position) && grid().in_bounds(s.target), "RailEnv: level '",
             level_.name, "': agent ", i, " starts or ends off the grid");
    SG_CHECK(s.initial_direction >= 0 && s.initial_direction < 4, "RailEnv: agent ", i,
             ": initial_direction must be 0..3, got ", s.initial_direction);
    SG_CHECK(s.speed > 0.0 && s.speed <= 1.0, "RailEnv: agent ", i,
             ": speed must be in (0, 1], got ", s.speed);
    targets.push_back(s.target);
  }
  distance_map_.compute(level_.grid, targets);
  // Nodes: every cell, one "off the map" node per agent, and one per agent for a move that
  // would leave the grid (flatland never makes one; the node keeps the check total).
  motion_.reset(grid().size() + 2 * n, n);
  rewards_.assign(n, 0);
  dones_.assign(n, 0);
  intended_.resize(n);
  actions_.resize(n);
  reset_agents();
}

void RailEnv::reset_agents() {
  agents_.clear();
  for (const AgentSpec& s : level_.agents) agents_.push_back(Agent::from_spec(s));
  std::fill(rewards_.begin(), rewards_.end(), 0);
  std::fill(dones_.begin(), dones_.end(), 0);
  elapsed_ = 0;
  done_all_ = false;
  total_reward_ = 0;
}

void RailEnv::reset(uint64_t seed) {
  reset_agents();
  rng_.seed(seed);
  replay_ = false;
  schedule_.clear();
}

void RailEnv::reset(std::vector<MalfunctionEvent> schedule) {
  reset_agents();
  replay_ = true;
  schedule_ = std::move(schedule);
  std::sort(schedule_.begin(), schedule_.end(), [](const auto& a, const auto& b) {
    return a.step != b.step ? a.step < b.step : a.agent < b.agent;
  });
  schedule_pos_ = 0;
}

int RailEnv::draw_malfunction(int agent) {
  if (replay_) {
    while (schedule_pos_ < schedule_.size() && (schedule_[schedule_pos_].step < elapsed_ ||
                                                (schedule_[schedule_pos_].step == elapsed_ &&
                                                 schedule_[schedule_pos_].agent < agent))) {
      ++schedule_pos_;
    }
    if (schedule_pos_ < schedule_.size() && schedule_[schedule_pos_].step == elapsed_ &&
        schedule_[schedule_pos_].agent == agent) {
      return schedule_[schedule_pos_++].duration;
    }
    return 0;
  }
  const MalfunctionParams& p = level_.malfunction;
  if (p.rate <= 0.0) return 0;
  if (rng_.uniform() < 1.0 - std::exp(-p.rate)) {
    return static_cast<int>(rng_.randint(p.min_duration, p.max_duration + 1)) + 1;
  }
  return 0;
}

bool RailEnv::action_required(int agent) const {
  const Agent& a = agents_[agent];
  return a.state == TrainState::kReadyToDepart || (is_on_map(a.state) && a.at_cell_entry());
}

// Where a moving action turns a train facing `direction` in the cell at `position` (flatland's
// check_action): left/right turn by 90 degrees and are impossible on a cell with at most one
// exit; forward follows the only exit if there is one (curves, the U-turn of a dead end), and
// goes straight otherwise.
namespace {
struct Turn {
  int direction;
  int validity;  // 1 valid, 0 invalid, -1 "ask the cell"
};
Turn turn_for(Action action, uint16_t cell, int direction) {
  const int exits = count_exits(cell, direction);
  Turn t{direction, -1};
  if (action == Action::kLeft || action == Action::kRight) {
    t.direction = (direction + (action == Action::kLeft ? 3 : 1)) % 4;
    if (exits <= 1) t.validity = 0;
  } else if (action == Action::kForward && exits == 1) {
    const int mask = exit_mask(cell, direction);
    t.direction = mask & 8 ? kNorth : mask & 4 ? kEast : mask & 2 ? kSouth : kWest;
    t.validity = 1;
  }
  return t;
}
}  // namespace

bool RailEnv::check_valid_action(Action action, GridPos position, int direction) const {
  const uint16_t cell = grid().at(position);
  const Turn t = turn_for(action, cell, direction);
  const GridPos next = step_towards(position, t.direction);
  const bool next_is_rail = grid().in_bounds(next) && grid().at(next) != 0;
  const bool valid = t.validity < 0 ? can_exit(cell, direction, t.direction) : t.validity == 1;
  return next_is_rail && valid;
}

Waypoint RailEnv::apply_action(Action action, GridPos position, int direction) const {
  if (!is_moving(action)) return {position, direction};
  const Turn t = turn_for(action, grid().at(position), direction);
  return {step_towards(position, t.direction), t.direction};
}

Action RailEnv::preprocess_action(int raw_action, const Agent& a, const AgentSpec& spec) const {
  Action action = raw_action >= 0 && raw_action < kNumActions ? static_cast<Action>(raw_action)
                                                              : Action::kDoNothing;
  if (action == Action::kDoNothing) {
    if (a.state == TrainState::kMoving) {
      action = Action::kForward;
    } else if (a.has_saved_action()) {
      action = a.saved_action;
    }
  }
  if (a.state == TrainState::kWaiting) action = Action::kDoNothing;
  // Off the map the train is judged as if standing on its start cell.
  const GridPos pos = a.position.on_map() ? a.position : spec.initial_position;
  const int dir = a.position.on_map() ? a.direction : spec.initial_direction;
  if ((action == Action::kLeft || action == Action::kRight) &&
      !check_valid_action(action, pos, dir)) {
    action = Action::kForward;
  }
  if (is_moving(action) && !check_valid_action(action, pos, dir)) action = Action::kStop;
  return action;
}

TrainState RailEnv::next_state(const Agent& a, const AgentSpec& s, Action action,
                               bool movement_allowed) const {
  const bool in_malfunction = a.malfunction_counter > 0;
  const bool counter_complete = a.malfunction_counter == 0;
  const bool departure_reached = elapsed_ >= s.earliest_departure;
  const bool stop_given = action == Action::kStop;
  const bool valid_move = is_moving(action) && movement_allowed;
  const bool target_reached = a.position == s.target;
  const bool conflict = !movement_allowed && a.at_cell_exit();
  using S = TrainState;
  switch (a.state) {
    case S::kWaiting:
      if (in_malfunction) return S::kMalfunctionOffMap;
      return departure_reached ? S::kReadyToDepart : S::kWaiting;
    case S::kReadyToDepart:
      if (in_malfunction) return S::kMalfunctionOffMap;
      return valid_move ? S::kMoving : S::kReadyToDepart;
    case S::kMalfunctionOffMap:
      if (!counter_complete) return S::kMalfunctionOffMap;
      if (!departure_reached) return S::kWaiting;
      if (valid_move) return S::kMoving;
      return stop_given ? S::kStopped : S::kReadyToDepart;
    case S::kMoving:
      if (in_malfunction) return S::kMalfunction;
      if (target_reached) return S::kDone;
      return stop_given || conflict ? S::kStopped : S::kMoving;
    case S::kStopped:
      if (in_malfunction) return S::kMalfunction;
      return valid_move ? S::kMoving : S::kStopped;
    case S::kMalfunction:
      if (!counter_complete) return S::kMalfunction;
      return valid_move ? S::kMoving : S::kStopped;
    case S::kDone:
      return S::kDone;
  }
  return a.state;
}

int RailEnv::node_of(int agent, GridPos p) const {
  if (!p.on_map()) return grid().size() + agent;
  if (!grid().in_bounds(p)) return grid().size() + num_agents() + agent;
  return grid().index(p);
}

void RailEnv::step(std::span<const int> actions) {
  const int n = num_agents();
  SG_CHECK(static_cast<int>(actions.size()) == n, "RailEnv::step: expected ", n, " actions, got ",
           actions.size());
  SG_CHECK(!done_all_, "RailEnv::step: episode is done (", elapsed_, " of ",
           level_.max_episode_steps, " steps); call reset()");
  ++elapsed_;
  std::fill(rewards_.begin(), rewards_.end(), 0);
  motion_.clear();

  // 1. Every train says where it would go if nothing stood in its way.
  for (int i = 0; i < n; ++i) {
    Agent& a = agents_[i];
    const AgentSpec& s = spec(i);
    a.old_position = a.position;
    const int broken = draw_malfunction(i);
    if (a.malfunction_counter == 0 && broken > 0) {
      a.malfunction_counter = broken;
      ++a.num_malfunctions;
    }
    Action action = preprocess_action(actions[i], a, s);
    if (is_moving(action) && !a.has_saved_action() && a.state != TrainState::kDone) {
      a.saved_action = action;
    }
    const bool may_leave_cell =
        a.at_cell_exit() && a.malfunction_counter == 0 && action != Action::kStop;
    Waypoint target{a.position, a.direction};
    if (a.state == TrainState::kDone) {
      // stays where it is (off the map)
    } else if (!a.position.on_map() && a.has_saved_action()) {
      target = {s.initial_position, s.initial_direction};
    } else if (a.has_saved_action() && may_leave_cell) {
      target = apply_action(a.saved_action, a.position, a.direction);
      action = a.saved_action;
    }
    intended_[i] = target;
    actions_[i] = action;
    motion_.add(i, node_of(i, a.position), node_of(i, target.position));
  }

  // 2. Conflicts: stopped trains, head-on swaps, and several trains wanting the same cell.
  motion_.resolve();

  // 3. State machine and movement, in agent order.
  bool all_done = true;
  for (int i = 0; i < n; ++i) {
    Agent& a = agents_[i];
    const AgentSpec& s = spec(i);
    bool allowed = a.malfunction_counter > 0 ? false : motion_.can_move(i);
    // A stopped slow train may resume inside its cell whatever the others do.
    allowed = allowed || (a.state == TrainState::kStopped && !a.at_cell_exit());
    const TrainState previous = a.state;
    a.state = next_state(a, s, actions_[i], allowed);
    allowed = allowed && a.state != TrainState::kDone;
    if (is_on_map(a.state)) {
      if (is_off_map(previous)) {
        a.position = s.initial_position;
        a.direction = s.initial_direction;
      } else if (allowed && a.at_cell_exit()) {
        a.position = intended_[i].position;
        a.direction = intended_[i].direction;
        if (a.position == s.target) a.state = TrainState::kDone;
      }
    }
    if (a.state == TrainState::kDone && a.arrival_time < 0) {
      a.arrival_time = elapsed_;
      dones_[i] = 1;
      a.position = kOffMap;  // trains leave the map at their target
    }
    all_done = all_done && a.state == TrainState::kDone;
    if (a.state == TrainState::kMoving && a.old_position.on_map()) {
      a.speed_counter = (a.speed_counter + 1) % (a.max_count + 1);
    }
    if (a.malfunction_counter > 0) --a.malfunction_counter;
    if (a.at_cell_entry() && a.position.on_map()) a.saved_action = Action::kDoNothing;
  }

  // 4. End of episode: every train is scored once, and all are done.
  if (all_done || elapsed_ >= level_.max_episode_steps) {
    for (int i = 0; i < n; ++i) {
      rewards_[i] += end_of_episode_reward(i);
      dones_[i] = 1;
    }
    done_all_ = true;
  }
  for (int r : rewards_) total_reward_ += r;
}

int RailEnv::shortest_path_length(int agent) const {
  const Agent& a = agents_[agent];
  const AgentSpec& s = spec(agent);
  if (a.state == TrainState::kDone) return 1;
  const GridPos p = is_off_map(a.state) ? s.initial_position : a.position;
  return distance_map_.path_length(agent, p, a.direction);
}

int RailEnv::end_of_episode_reward(int agent) const {
  const Agent& a = agents_[agent];
  const AgentSpec& s = spec(agent);
  if (a.state == TrainState::kDone) return std::min(s.latest_arrival - a.arrival_time, 0);
  const int travel = static_cast<int>(std::ceil(shortest_path_length(agent) / s.speed));
  if (is_off_map(a.state)) return -travel;        // cancelled: never departed
  return (s.latest_arrival - elapsed_) - travel;  // departed, not arrived: projected delay
}

double RailEnv::normalized_score() const {
  return 1.0 + static_cast<double>(total_reward_) /
                   (static_cast<double>(level_.max_episode_steps) * num_agents());
}

int RailEnv::num_arrived() const {
  int count = 0;
  for (const Agent& a : agents_) count += a.state == TrainState::kDone;
  return count;
}

}  // namespace stackgrad::flatland
