// Trains: their fixed description (AgentSpec: start, target, speed, timetable) and their state
// during an episode (Agent), plus the action and train-state enums of Flatland 3.
//
//   AgentSpec spec{.initial_position = {3, 4}, .initial_direction = kEast, .target = {3, 9}};
//   Agent a = Agent::from_spec(spec);         // WAITING, off the map
//   bool ready = a.state == TrainState::kReadyToDepart;
#pragma once

#include <cstdint>

#include "grid.h"

namespace stackgrad::flatland {

enum class Action : uint8_t { kDoNothing = 0, kLeft = 1, kForward = 2, kRight = 3, kStop = 4 };
inline constexpr int kNumActions = 5;
inline bool is_moving(Action a) {
  return a == Action::kLeft || a == Action::kForward || a == Action::kRight;
}

// The 7 states of Flatland 3's train state machine. The first three are off the map.
enum class TrainState : uint8_t {
  kWaiting = 0,
  kReadyToDepart = 1,
  kMalfunctionOffMap = 2,
  kMoving = 3,
  kStopped = 4,
  kMalfunction = 5,
  kDone = 6,
};
inline bool is_off_map(TrainState s) { return static_cast<int>(s) <= 2; }
inline bool is_on_map(TrainState s) {
  return s >= TrainState::kMoving && s <= TrainState::kMalfunction;
}
const char* state_name(TrainState s);

struct AgentSpec {
  GridPos initial_position;
  int initial_direction = kNorth;
  GridPos target;
  double speed = 1.0;  // 1, 1/2, 1/3 or 1/4: a train needs int(1/speed) steps per cell
  int earliest_departure = 0;
  int latest_arrival = 0;
};

struct Agent {
  GridPos position;      // kOffMap before departure and after arrival
  GridPos old_position;  // position at the start of the current step
  int direction = kNorth;
  TrainState state = TrainState::kWaiting;
  // Steps spent in the current cell: 0 on entry, max_count when the train may leave.
  int speed_counter = 0;
  int max_count = 0;
  Action saved_action = Action::kDoNothing;  // kDoNothing: none saved
  int malfunction_counter = 0;               // steps still broken; > 0 means in malfunction
  int num_malfunctions = 0;
  int arrival_time = -1;  // elapsed steps when it reached its target, -1 before

  bool at_cell_entry() const { return speed_counter == 0; }
  bool at_cell_exit() const { return speed_counter == max_count; }
  bool has_saved_action() const { return saved_action != Action::kDoNothing; }

  static Agent from_spec(const AgentSpec& spec) {
    Agent a;
    a.direction = spec.initial_direction;
    // Flatland computes int(1/speed) - 1 in double precision; 1/3 stored as 0.333.. gives 2.
    a.max_count = static_cast<int>(1.0 / spec.speed) - 1;
    return a;
  }
};

}  // namespace stackgrad::flatland
