// Flatland 3 rules on hand-made tiny grids: transitions, action preprocessing, conflict
// resolution (priority by index, queues, head-on deadlocks), speeds, malfunction timing,
// rewards, distances and level-file errors. Expected values are worked out by hand from
// flatland-rl 3.0.15's rules (see envs/flatland/README.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "envs/flatland/grid.h"
#include "envs/common/json.h"
#include "envs/flatland/level_io.h"
#include "envs/flatland/motion_check.h"
#include "envs/flatland/rail_env.h"
#include "envs/flatland/timetable.h"
#include "support/error_of.h"

namespace fl = stackgrad::flatland;
using fl::Action;
using fl::GridPos;
using fl::TrainState;
using ::testing::HasSubstr;

namespace {

const uint16_t kStraightNS = fl::kBaseCellTypes[1];
const uint16_t kStraightEW = fl::rotate_cell(kStraightNS, 1);

// A straight east-west track along row 0, `length` cells long.
fl::Level line_level(int length, std::vector<fl::AgentSpec> agents, int max_steps = 50) {
  fl::Level level;
  level.name = "line";
  level.grid = fl::RailGrid(1, length, std::vector<uint16_t>(length, kStraightEW));
  level.agents = std::move(agents);
  level.max_episode_steps = max_steps;
  return level;
}

fl::AgentSpec train(GridPos start, int direction, GridPos target, double speed = 1.0,
                    int earliest = 0, int latest = 100) {
  fl::AgentSpec s;
  s.initial_position = start;
  s.initial_direction = direction;
  s.target = target;
  s.speed = speed;
  s.earliest_departure = earliest;
  s.latest_arrival = latest;
  return s;
}

void step(fl::RailEnv& env, std::vector<int> actions) { env.step(actions); }

TEST(FlatlandGrid, CellTypesRotationsAndDeadEnds) {
  // The simple switch turned a quarter clockwise (flatland: rotate_transition(.., 90) = 3089).
  EXPECT_EQ(fl::rotate_cell(fl::kBaseCellTypes[2], 1), 3089);
  EXPECT_EQ(fl::rotate_cell(fl::kBaseCellTypes[2], 4), fl::kBaseCellTypes[2]);
  int valid = 0;
  for (int c = 0; c < 65536; ++c) valid += fl::is_valid_cell(static_cast<uint16_t>(c));
  EXPECT_EQ(valid, 30);  // 29 rail cells and the empty cell
  EXPECT_TRUE(fl::is_dead_end(fl::kBaseCellTypes[7]));
  EXPECT_FALSE(fl::is_dead_end(kStraightNS));
  // A train facing north on a vertical straight may only go on north.
  EXPECT_EQ(fl::exit_mask(kStraightNS, fl::kNorth), 0b1000);
  EXPECT_TRUE(fl::can_exit(kStraightEW, fl::kWest, fl::kWest));
  EXPECT_FALSE(fl::can_exit(kStraightEW, fl::kWest, fl::kEast));
}

TEST(FlatlandRules, InvalidTurnsBecomeForwardAndImpossibleMovesStop) {
  // Row 0: straight E-W; (0,2) a Y switch for a train coming from the west: exits north/south.
  fl::Level level = line_level(3, {train({0, 0}, fl::kEast, {0, 2})});
  level.grid = fl::RailGrid(3, 3, std::vector<uint16_t>(9, 0));
  level.grid.set(1, 0, kStraightEW);
  level.grid.set(1, 1, kStraightEW);
  level.grid.set(1, 2, fl::rotate_cell(fl::kBaseCellTypes[6], 1));  // Y: E-facing -> N or S
  level.grid.set(0, 2, kStraightNS);
  level.grid.set(2, 2, kStraightNS);
  level.agents = {train({1, 0}, fl::kEast, {1, 2})};
  fl::RailEnv env(level);
  fl::Agent a = env.agents()[0];
  const fl::AgentSpec& s = env.spec(0);
  a.state = TrainState::kMoving;
  a.position = {1, 1};
  a.direction = fl::kEast;
  EXPECT_EQ(env.preprocess_action(1, a, s), Action::kForward);  // no left on a straight
  EXPECT_EQ(env.preprocess_action(0, a, s), Action::kForward);  // moving: nothing = forward
  EXPECT_EQ(env.preprocess_action(9, a, s), Action::kForward);  // out of range = nothing
  a.position = {1, 2};
  EXPECT_EQ(env.preprocess_action(1, a, s), Action::kLeft);   // the Y's north branch
  EXPECT_EQ(env.preprocess_action(3, a, s), Action::kRight);  // the Y's south branch
  EXPECT_EQ(env.preprocess_action(2, a, s), Action::kStop);   // no straight on a Y
  EXPECT_EQ(env.apply_action(Action::kLeft, {1, 2}, fl::kEast).position, (GridPos{0, 2}));
  // Waiting trains do nothing whatever they are told; off the map the start cell is judged.
  fl::Agent waiting = fl::Agent::from_spec(s);
  EXPECT_EQ(env.preprocess_action(2, waiting, s), Action::kDoNothing);
  waiting.state = TrainState::kReadyToDepart;
  EXPECT_EQ(env.preprocess_action(3, waiting, s), Action::kForward);
  // Facing the grid edge there is nowhere to go.
  a.position = {1, 0};
  a.direction = fl::kWest;
  EXPECT_EQ(env.preprocess_action(2, a, s), Action::kStop);
}

TEST(FlatlandRules, DepartureTakesTwoStepsAndSpeedSetsStepsPerCell) {
  fl::RailEnv env(line_level(8, {train({0, 0}, fl::kEast, {0, 7}, 0.5, /*earliest=*/2)}));
  env.reset(0);
  step(env, {2});  // elapsed 1 < earliest departure 2: still waiting
  EXPECT_EQ(env.agents()[0].state, TrainState::kWaiting);
  step(env, {2});
  EXPECT_EQ(env.agents()[0].state, TrainState::kReadyToDepart);
  EXPECT_FALSE(env.agents()[0].position.on_map());
  EXPECT_TRUE(env.action_required(0));
  step(env, {2});  // enters its start cell
  EXPECT_EQ(env.agents()[0].state, TrainState::kMoving);
  EXPECT_EQ(env.agents()[0].position, (GridPos{0, 0}));
  // Half speed: two steps per cell.
  std::vector<int> cols;
  for (int t = 0; t < 6; ++t) {
    step(env, {2});
    cols.push_back(env.agents()[0].position.col);
  }
  EXPECT_EQ(cols, (std::vector<int>{0, 1, 1, 2, 2, 3}));
}

TEST(FlatlandRules, LowestIndexWinsTheCellThenHeadOnDeadlock) {
  for (bool east_first : {true, false}) {
    fl::AgentSpec east = train({0, 1}, fl::kEast, {0, 6});
    fl::AgentSpec west = train({0, 3}, fl::kWest, {0, 0});
    fl::RailEnv env(line_level(7, east_first ? std::vector{east, west} : std::vector{west, east}));
    env.reset(0);
    step(env, {2, 2});
    step(env, {2, 2});  // both on the map
    step(env, {2, 2});  // both want (0,2): agent 0 gets it
    const fl::Agent& a0 = env.agents()[0];
    const fl::Agent& a1 = env.agents()[1];
    EXPECT_EQ(a0.position, (GridPos{0, 2}));
    EXPECT_EQ(a0.state, TrainState::kMoving);
    EXPECT_EQ(a1.position, east_first ? (GridPos{0, 3}) : (GridPos{0, 1}));
    EXPECT_EQ(a1.state, TrainState::kStopped);
    for (int t = 0; t < 5; ++t) step(env, {2, 2});  // now they face each other: stuck forever
    EXPECT_EQ(a0.position, (GridPos{0, 2}));
    EXPECT_EQ(a1.position, east_first ? (GridPos{0, 3}) : (GridPos{0, 1}));
    EXPECT_EQ(a0.state, TrainState::kStopped);
    EXPECT_EQ(a1.state, TrainState::kStopped);
  }
}

TEST(FlatlandRules, QueueBehindStoppedTrainThenCloseFollowing) {
  for (bool leader_first : {true, false}) {
    fl::AgentSpec leader = train({0, 2}, fl::kEast, {0, 7});
    fl::AgentSpec follower = train({0, 1}, fl::kEast, {0, 7});
    fl::RailEnv env(line_level(
        8, leader_first ? std::vector{leader, follower} : std::vector{follower, leader}));
    const int L = leader_first ? 0 : 1;
    const int F = 1 - L;
    env.reset(0);
    step(env, {2, 2});
    step(env, {2, 2});
    std::vector<int> act(2, 2);
    act[L] = 4;  // the leader stops: the follower may not enter its cell
    step(env, act);
    EXPECT_EQ(env.agents()[L].state, TrainState::kStopped);
    EXPECT_EQ(env.agents()[F].state, TrainState::kStopped);
    EXPECT_EQ(env.agents()[F].position, (GridPos{0, 1}));
    step(env, {2, 2});  // both go: the follower enters the cell the leader leaves
    EXPECT_EQ(env.agents()[L].position, (GridPos{0, 3}));
    EXPECT_EQ(env.agents()[F].position, (GridPos{0, 2}));
    EXPECT_EQ(env.agents()[F].state, TrainState::kMoving);
  }
}

TEST(FlatlandRules, MalfunctionStopsTrainForItsDrawnSteps) {
  fl::RailEnv env(line_level(10, {train({0, 0}, fl::kEast, {0, 9})}));
  // Drawn at step 4: 3 broken steps (flatland draws randint(min, max + 1) + 1).
  env.reset(std::vector<fl::MalfunctionEvent>{{4, 0, 3}});
  std::vector<int> cols;
  std::vector<TrainState> states;
  for (int t = 0; t < 8; ++t) {
    step(env, {2});
    cols.push_back(env.agents()[0].position.col);
    states.push_back(env.agents()[0].state);
  }
  // Step 2 enters (0,0), 3 moves to (0,1), 4-6 broken, 7 resumes.
  EXPECT_EQ(cols, (std::vector<int>{-1, 0, 1, 1, 1, 1, 2, 3}));
  EXPECT_EQ(states[3], TrainState::kMalfunction);
  EXPECT_EQ(states[5], TrainState::kMalfunction);
  EXPECT_EQ(states[6], TrainState::kMoving);
  EXPECT_EQ(env.agents()[0].num_malfunctions, 1);
}

TEST(FlatlandRules, MalfunctionOffMapDelaysDeparture) {
  fl::RailEnv env(line_level(10, {train({0, 0}, fl::kEast, {0, 9})}));
  env.reset(std::vector<fl::MalfunctionEvent>{{1, 0, 2}, {2, 0, 5}});  // second: already broken
  step(env, {2});
  EXPECT_EQ(env.agents()[0].state, TrainState::kMalfunctionOffMap);
  step(env, {2});
  EXPECT_EQ(env.agents()[0].state, TrainState::kMalfunctionOffMap);
  step(env, {2});  // repaired: departure time reached and a move given: on the map at once
  EXPECT_EQ(env.agents()[0].state, TrainState::kMoving);
  EXPECT_EQ(env.agents()[0].position, (GridPos{0, 0}));
  EXPECT_EQ(env.agents()[0].num_malfunctions, 1);
}

TEST(FlatlandRules, RandomMalfunctionsAreSeeded) {
  fl::Level level = line_level(10, {train({0, 0}, fl::kEast, {0, 9})}, 200);
  level.malfunction = {0.2, 2, 4};
  auto run = [&](uint64_t seed) {
    fl::RailEnv env(level);
    env.reset(seed);
    std::vector<int> counters;
    while (!env.done()) {
      step(env, {4});  // never departs; trains off the map break down too
      counters.push_back(env.agents()[0].malfunction_counter);
    }
    return counters;
  };
  const std::vector<int> a = run(3);
  EXPECT_EQ(a, run(3));
  EXPECT_NE(a, run(4));
  int longest = 0, current = 0;
  for (int c : a) longest = std::max(longest, current = c > 0 ? current + 1 : 0);
  // Broken for U[2, 4] + 1 steps; the counter reads d - 1 .. 1 after those steps, then 0.
  EXPECT_GE(longest, 2);
  EXPECT_LE(longest, 4);
}

TEST(FlatlandRules, RewardsOnTimeLateCancelledAndUnderway) {
  // Arrives at step 5 (ready 1, enters 2, then one cell per step to (0,4)).
  {
    fl::RailEnv env(line_level(5, {train({0, 1}, fl::kEast, {0, 4}, 1.0, 0, /*latest=*/3)}));
    env.reset(0);
    for (int t = 0; t < 4; ++t) step(env, {2});
    EXPECT_FALSE(env.done());
    step(env, {2});
    EXPECT_TRUE(env.done());
    EXPECT_EQ(env.agents()[0].arrival_time, 5);
    EXPECT_FALSE(env.agents()[0].position.on_map());  // removed at its target
    EXPECT_EQ(env.rewards()[0], -2);                  // min(3 - 5, 0)
  }
  {
    fl::RailEnv env(line_level(5, {train({0, 1}, fl::kEast, {0, 4}, 1.0, 0, /*latest=*/10)}));
    env.reset(0);
    for (int t = 0; t < 5; ++t) step(env, {2});
    EXPECT_EQ(env.rewards()[0], 0);
    EXPECT_DOUBLE_EQ(env.normalized_score(), 1.0);
  }
  // Two trains, 3 steps: agent 0 never departs (half speed, path of 4 cells: -ceil(4 / 0.5));
  // agent 1 is at (0,2) with 3 cells to go: (latest 7 - 3) - 3.
  {
    fl::RailEnv env(line_level(5,
                               {train({0, 1}, fl::kEast, {0, 4}, 0.5, 10, 20),
                                train({0, 1}, fl::kEast, {0, 4}, 1.0, 0, 7)},
                               /*max_steps=*/3));
    env.reset(0);
    step(env, {2, 2});
    step(env, {2, 2});
    EXPECT_EQ(env.rewards()[0], 0);
    step(env, {2, 2});
    ASSERT_TRUE(env.done());
    EXPECT_EQ(env.agents()[1].position, (GridPos{0, 2}));
    EXPECT_EQ(env.rewards()[0], -8);
    EXPECT_EQ(env.rewards()[1], 1);
    EXPECT_EQ(env.dones()[0], 1);
    EXPECT_DOUBLE_EQ(env.normalized_score(), 1.0 + (-8 + 1) / (3.0 * 2));
    EXPECT_THAT(stackgrad::testing::error_of([&] {
                  step(env, {2, 2});
                }),
                HasSubstr("RailEnv::step: episode is done"));
  }
}

TEST(FlatlandMotionCheck, ChainsStopsSwapsAndRings) {
  // Nodes are numbered freely here; agents are added in index order.
  fl::MotionCheck mc;
  mc.reset(64, 16);
  mc.clear();
  // Chain 0 -> 1 -> 2 into a train that stays put (3): all blocked.
  mc.add(0, 1, 2);
  mc.add(1, 2, 3);
  mc.add(2, 3, 4);
  mc.add(3, 4, 4);
  // Chain 4 -> 5 into a free cell: both move.
  mc.add(4, 10, 11);
  mc.add(5, 11, 12);
  // Swap 6 <-> 7 and a train 8 queueing behind it: all blocked.
  mc.add(6, 20, 21);
  mc.add(7, 21, 20);
  mc.add(8, 22, 21);
  // Three trains for one free cell 30: the lowest (9) wins.
  mc.add(9, 31, 30);
  mc.add(10, 32, 30);
  mc.add(11, 33, 30);
  // A ring 12 -> 13 -> 14 -> 15 -> 12 moves as a whole.
  mc.add(12, 40, 41);
  mc.add(13, 41, 42);
  mc.add(14, 42, 43);
  mc.add(15, 43, 40);
  mc.resolve();
  const std::vector<bool> expected = {false, false, false, false, true, true, false, false,
                                      false, true,  false, false, true, true, true,  true};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(mc.can_move(i), expected[i]) << "agent " << i;
}

TEST(FlatlandMotionCheck, LosingAConflictBlocksTheChainBehind) {
  fl::MotionCheck mc;
  mc.reset(16, 4);
  mc.clear();
  mc.add(0, 5, 6);  // wins cell 6
  mc.add(1, 7, 6);  // loses ...
  mc.add(2, 8, 7);  // ... and so does the train behind it
  mc.add(3, 9, 10);
  mc.resolve();
  EXPECT_TRUE(mc.can_move(0));
  EXPECT_FALSE(mc.can_move(1));
  EXPECT_FALSE(mc.can_move(2));
  EXPECT_TRUE(mc.can_move(3));
  // Buffers are reused from step to step.
  mc.clear();
  mc.add(0, 5, 5);
  mc.add(1, 7, 6);
  mc.add(2, 8, 7);
  mc.add(3, 9, 10);
  mc.resolve();
  EXPECT_FALSE(mc.can_move(0));
  EXPECT_TRUE(mc.can_move(1));
  EXPECT_TRUE(mc.can_move(2));
}

TEST(FlatlandMotionCheck, TwoTrainsOnOneCellFollowTheFirstOnesMove) {
  fl::MotionCheck mc;
  mc.reset(16, 3);
  auto run = [&](int to0, int to1) {
    mc.clear();
    mc.add(0, 5, to0);
    mc.add(1, 5, to1);
    mc.add(2, 8, 6);
    mc.resolve();
    return std::vector<bool>{mc.can_move(0), mc.can_move(1), mc.can_move(2)};
  };
  // Cell 5 holds agents 0 and 1 (its agent is 1, which beats agent 2's cell for cell 6).
  EXPECT_EQ(run(6, 7), (std::vector<bool>{true, true, false}));
  // Either train staying put makes cell 5 a stop: both wait, and agent 2 gets cell 6.
  EXPECT_EQ(run(5, 7), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(run(7, 5), (std::vector<bool>{false, false, true}));
}

TEST(FlatlandDistanceMap, DistancesAndUTurnAtDeadEnd) {
  // Row 0: dead end at (0,0) (a train facing west there turns back east), straight to (0,4).
  fl::RailGrid grid(1, 5, std::vector<uint16_t>(5, kStraightEW));
  grid.set(0, 0, fl::rotate_cell(fl::kBaseCellTypes[7], 3));  // dead end: facing W -> exit E
  fl::DistanceMap dm;
  dm.compute(grid, {GridPos{0, 4}});
  EXPECT_EQ(dm.distance(0, {0, 1}, fl::kEast), 3);
  // Facing west from (0,2): to (0,1), (0,0), turn back, then 4 cells east.
  EXPECT_EQ(dm.distance(0, {0, 2}, fl::kWest), 6);
  EXPECT_EQ(dm.path_length(0, {0, 2}, fl::kWest), 7);
  EXPECT_EQ(dm.distance(0, {0, 2}, fl::kNorth), fl::DistanceMap::kUnreachable);
  EXPECT_EQ(dm.path_length(0, {0, 2}, fl::kNorth), 0);
  const auto path = dm.shortest_path(0, {0, 2}, fl::kWest);
  ASSERT_EQ(path.size(), 7u);
  EXPECT_EQ(path[2].position, (GridPos{0, 0}));
  EXPECT_EQ(path[3].direction, fl::kEast);
}

TEST(FlatlandTimetable, EpisodeLengthAndWindows) {
  // Two trains, paths of 10 and 20 cells at speeds 1 and 1/2: times 10 and 40, mean 25.
  std::vector<fl::AgentSpec> specs = {train({0, 0}, 1, {0, 9}, 1.0), train({0, 0}, 1, {0, 9}, 0.5)};
  fl::Rng rng(1);
  const fl::Timetable tt = fl::make_timetable(30, 30, specs, {10, 20}, 2, rng);
  EXPECT_EQ(tt.max_episode_steps, 65);                        // int(ceil(40 * 1.5) + 0.2 * 25)
  EXPECT_EQ(tt.travel_time_max, (std::vector<int>{18, 57}));  // ceil(1.3 t + 5)
  const int latest_arrival_max = 65 - 3;
  for (int i = 0; i < 2; ++i) {
    EXPECT_GE(tt.earliest_departure[i], 0);
    EXPECT_LT(tt.earliest_departure[i], std::max(latest_arrival_max - tt.travel_time_max[i], 1));
    EXPECT_EQ(tt.latest_arrival[i], tt.earliest_departure[i] + tt.travel_time_max[i]);
  }
  // numpy's pairwise sum differs from a running sum beyond 8 values.
  std::vector<double> v(20);
  for (int i = 0; i < 20; ++i) v[i] = 1.0 / (i + 3);
  double running = 0;
  for (double x : v) running += x;
  EXPECT_EQ(fl::numpy_sum(v), 0x1.186c918ea9d00p+1);  // np.sum of the same array
  EXPECT_EQ(running, 0x1.186c918ea9cffp+1);
}

TEST(FlatlandJson, NumericAndMixedArraysAndErrors) {
  const stackgrad::envs::JsonValue v =
      stackgrad::envs::parse_json(R"({"a": [1, -2, 3e2], "b": [1, "x", [2]], "c": 2.5, "a": [7]})", "t.json");
  EXPECT_EQ(v.at("a").as_int_vector("a"), (std::vector<int>{7}));  // the last repeated key wins
  ASSERT_EQ(v.at("b").as_array("b").size(), 3u);
  EXPECT_EQ(v.at("b").as_array("b")[1].as_string("b[1]"), "x");
  EXPECT_EQ(v.at("b").as_array("b")[2].as_int_vector("b[2]"), (std::vector<int>{2}));
  EXPECT_THAT(stackgrad::testing::error_of([&] { v.at("c").as_int("c"); }),
              HasSubstr("json: c: expected an integer, got 2.5"));
  EXPECT_THAT(stackgrad::testing::error_of([&] { v.at("b").as_int_vector("b"); }),
              HasSubstr("json: b: expected a number, got string"));
  EXPECT_THAT(stackgrad::testing::error_of([&] { v.at("d"); }), HasSubstr("missing key 'd'"));
  EXPECT_THAT(stackgrad::testing::error_of([] { stackgrad::envs::parse_json("[1, 2", "u.json"); }),
              HasSubstr("u.json: unexpected end of input at byte 5"));
}

TEST(FlatlandLevelIo, ParsesALevelAndNamesBadFields) {
  const std::string text = R"({"name": "tiny", "height": 1, "width": 3,
      "grid": [1025, 1025, 1025], "max_episode_steps": 9, "n_cities": 2,
      "malfunction": {"rate": 0.5, "min_duration": 1, "max_duration": 2},
      "agents": [{"initial_position": [0, 0], "initial_direction": 1, "target": [0, 2],
                  "speed": 0.3333333333333333, "earliest_departure": 0, "latest_arrival": 9}]})";
  const fl::LevelFile f = fl::parse_level_file(text, "tiny.json");
  EXPECT_EQ(f.level.grid.at(0, 1), kStraightEW);
  EXPECT_EQ(f.level.agents[0].speed, 1.0 / 3.0);
  EXPECT_EQ(fl::Agent::from_spec(f.level.agents[0]).max_count, 2);
  EXPECT_EQ(f.level.malfunction.max_duration, 2);
  EXPECT_TRUE(f.episodes.empty());
  std::string bad = text;
  bad.replace(bad.find("[1025, 1025, 1025]"), 18, "[1025, 1025]");
  EXPECT_THAT(stackgrad::testing::error_of([&] { fl::parse_level_file(bad, "tiny.json"); }),
              HasSubstr("tiny.json: grid has 2 cells, expected 1x3 = 3"));
  EXPECT_THAT(stackgrad::testing::error_of([&] { fl::parse_level_file("{\"height\": 1,", "x"); }),
              HasSubstr("x: unexpected end of input"));
  EXPECT_THAT(stackgrad::testing::error_of([] { fl::load_level_file("/nonexistent.json.gz"); }),
              HasSubstr("cannot open /nonexistent.json.gz"));
}

}  // namespace
