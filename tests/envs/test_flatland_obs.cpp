// The Tree-LSTM observation (envs/flatland/tree_obs.h, agent_attr.h, deadlock.h) on hand-made
// tiny grids, with expected values worked out by hand, and on a real fixture level (ranges, no
// NaN). Distances are normalised by max_episode_steps T, counts by the number of trains N.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "envs/flatland/level_io.h"
#include "envs/flatland/policies.h"
#include "envs/flatland/rail_env.h"
#include "envs/flatland/tree_obs.h"

namespace fl = stackgrad::flatland;
using fl::GridPos;
using fl::TrainState;

namespace {

constexpr int kT = 50;  // max_episode_steps of the hand-made levels
const uint16_t kStraightNS = fl::kBaseCellTypes[1];
const uint16_t kStraightEW = fl::rotate_cell(kStraightNS, 1);

// A dead end whose open side is `open` (a train facing reverse(open) turns back through it).
uint16_t dead_end(int open) {
  for (int r = 0; r < 4; ++r) {
    const uint16_t c = fl::rotate_cell(fl::kBaseCellTypes[7], r);
    if (fl::can_exit(c, (open + 2) % 4, open)) return c;
  }
  return 0;
}
// A curve joining the cell edges e1 and e2.
uint16_t curve(int e1, int e2) {
  for (int base : {8, 9}) {
    for (int r = 0; r < 4; ++r) {
      const uint16_t c = fl::rotate_cell(fl::kBaseCellTypes[base], r);
      if (fl::can_exit(c, (e1 + 2) % 4, e2) && fl::can_exit(c, (e2 + 2) % 4, e1)) return c;
    }
  }
  return 0;
}

fl::AgentSpec train(GridPos start, int direction, GridPos target, double speed = 1.0,
                    int earliest = 0) {
  fl::AgentSpec s;
  s.initial_position = start;
  s.initial_direction = direction;
  s.target = target;
  s.speed = speed;
  s.earliest_departure = earliest;
  s.latest_arrival = 40;
  return s;
}

fl::Level line_level(int length, std::vector<fl::AgentSpec> agents) {
  fl::Level level;
  level.name = "line";
  level.grid = fl::RailGrid(1, length, std::vector<uint16_t>(length, kStraightEW));
  level.agents = std::move(agents);
  level.max_episode_steps = kT;
  return level;
}

// Rows 0-3, column 1 a vertical track: (0,1) dead end (open south), (1,1) simple switch (a
// train heading north may go on north or turn west), (2,1) straight, (3,1) dead end (open
// north); (1,0) a dead end open to the east, reached by the switch's western branch.
fl::Level switch_level(std::vector<fl::AgentSpec> agents) {
  fl::Level level;
  level.name = "switch";
  level.grid = fl::RailGrid(4, 3, std::vector<uint16_t>(12, 0));
  level.grid.set(0, 1, dead_end(fl::kSouth));
  level.grid.set(1, 1, fl::kBaseCellTypes[2]);
  level.grid.set(2, 1, kStraightNS);
  level.grid.set(3, 1, dead_end(fl::kNorth));
  level.grid.set(1, 0, dead_end(fl::kEast));
  level.agents = std::move(agents);
  level.max_episode_steps = kT;
  return level;
}

const float* node(const fl::TreeObsBuilder& obs, int agent, int idx) {
  return &obs.forest()[(static_cast<size_t>(agent) * obs.config().max_nodes + idx) *
                       fl::kNodeFeatures];
}
std::vector<float> features(const fl::TreeObsBuilder& obs, int agent, int idx) {
  const float* f = node(obs, agent, idx);
  return {f, f + fl::kNodeFeatures};
}
std::vector<int> adjacency_row(const fl::TreeObsBuilder& obs, int agent, int row) {
  const int32_t* a =
      &obs.adjacency()[(static_cast<size_t>(agent) * (obs.config().max_nodes - 1) + row) * 3];
  return {a[0], a[1], a[2]};
}
std::vector<int> mask(const fl::TreeObsBuilder& obs, int agent) {
  const uint8_t* m = &obs.valid_actions()[static_cast<size_t>(agent) * 5];
  return {m[0], m[1], m[2], m[3], m[4]};
}
const float* attributes(const fl::TreeObsBuilder& obs, int agent) {
  return &obs.agent_attr()[static_cast<size_t>(agent) * fl::kAgentAttrSize];
}

const std::vector<float> kNull(12, -1.0f);

// Two steps: READY_TO_DEPART after the first, on the start cell after the second.
void depart(fl::RailEnv& env, std::vector<int> actions) {
  env.step(actions);
  env.step(actions);
}
float d(float cells) { return cells / kT; }

TEST(FlatlandObs, RootAndStraightTrackToTarget) {
  fl::RailEnv env(line_level(6, {train({0, 0}, fl::kEast, {0, 5})}));
  env.reset();
  fl::TreeObsBuilder obs(env);
  obs.build(env);
  // Root: [0 x 6, dist_target, 0, 0, malfunctions, speed, 0].
  EXPECT_EQ(features(obs, 0, 0), (std::vector<float>{0, 0, 0, 0, 0, 0, d(5), 0, 0, 0, 1, 0}));
  // Only "straight on" exists: left and right are null, straight runs 5 cells to the target.
  EXPECT_EQ(features(obs, 0, 1), kNull);
  EXPECT_EQ(features(obs, 0, 2),
            (std::vector<float>{d(5), -1, -1, -1, -1, d(5), 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(features(obs, 0, 3), kNull);
  // The target node's three null children, then padding.
  for (int i = 4; i <= 6; ++i) EXPECT_EQ(features(obs, 0, i), kNull);
  EXPECT_EQ(adjacency_row(obs, 0, 0), (std::vector<int>{0, 1, -1}));
  EXPECT_EQ(adjacency_row(obs, 0, 1), (std::vector<int>{0, 2, 0}));
  EXPECT_EQ(adjacency_row(obs, 0, 2), (std::vector<int>{0, 3, 1}));
  EXPECT_EQ(adjacency_row(obs, 0, 3), (std::vector<int>{2, 4, -1}));
  EXPECT_EQ(adjacency_row(obs, 0, 5), (std::vector<int>{2, 6, 1}));
  for (int r = 6; r < 30; ++r) EXPECT_EQ(adjacency_row(obs, 0, r), (std::vector<int>{-2, -2, -2}));
  // Heights: root 2, node 2 is 1, the rest leaves; padding -2.
  const std::vector<int> order(obs.node_order().begin(), obs.node_order().end());
  std::vector<int> want(31, -2);
  for (int i = 0; i <= 6; ++i) want[i] = 0;
  want[0] = 2;
  want[2] = 1;
  EXPECT_EQ(order, want);
  const std::vector<int> edges(obs.edge_order().begin(), obs.edge_order().end());
  std::vector<int> want_edges(30, -2);
  for (int r = 0; r < 3; ++r) want_edges[r] = 2;
  for (int r = 3; r < 6; ++r) want_edges[r] = 1;
  EXPECT_EQ(edges, want_edges);
}

TEST(FlatlandObs, SwitchDeadEndsAndFifoNumbering) {
  // Waiting at (2,1) facing north, target (3,1) behind it.
  fl::RailEnv env(switch_level({train({2, 1}, fl::kNorth, {3, 1})}));
  env.reset();
  fl::TreeObsBuilder obs(env);
  obs.build(env);
  // Root: dist from (2,1) north: up 2, turn back at the dead end, down 3 to (3,1) = 5 moves.
  EXPECT_FLOAT_EQ(node(obs, 0, 0)[6], d(5));
  // Node 2: the switch one cell ahead, 4 moves from the target.
  EXPECT_EQ(features(obs, 0, 1), kNull);
  EXPECT_EQ(features(obs, 0, 2),
            (std::vector<float>{-1, -1, -1, -1, -1, d(1), d(4), 0, 0, 0, 1, 0}));
  EXPECT_EQ(features(obs, 0, 3), kNull);
  // The switch's children: left (west dead end), straight (north dead end), right null.
  EXPECT_EQ(adjacency_row(obs, 0, 3), (std::vector<int>{2, 4, -1}));
  EXPECT_EQ(adjacency_row(obs, 0, 4), (std::vector<int>{2, 5, 0}));
  EXPECT_EQ(adjacency_row(obs, 0, 5), (std::vector<int>{2, 6, 1}));
  EXPECT_EQ(features(obs, 0, 4),
            (std::vector<float>{-1, -1, -1, -1, -1, d(2), d(3), 0, 0, 0, 1, 0}));
  EXPECT_EQ(features(obs, 0, 5),
            (std::vector<float>{-1, -1, -1, -1, -1, d(2), d(3), 0, 0, 0, 1, 0}));
  EXPECT_EQ(features(obs, 0, 6), kNull);
  // A dead end reverses its children: only "straight" exists and leads back. Node 4's are 7-9,
  // node 5's 10-12 (FIFO; null nodes have no children).
  for (int parent : {4, 5}) {
    const int first = parent == 4 ? 7 : 10;
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(adjacency_row(obs, 0, first - 1 + k), (std::vector<int>{parent, first + k, k - 1}));
    }
    EXPECT_EQ(features(obs, 0, first), kNull);
    EXPECT_EQ(features(obs, 0, first + 2), kNull);
    // Back through the switch, which cannot be left but southwards from this side (unusable
    // at 3 cells), on to the target at 5.
    EXPECT_EQ(features(obs, 0, first + 1),
              (std::vector<float>{d(5), -1, -1, -1, d(3), d(5), 0, 0, 0, 0, 1, 0}));
  }
  // Target nodes 8 and 11 have null children 13-15 and 16-18; then padding.
  EXPECT_EQ(adjacency_row(obs, 0, 12), (std::vector<int>{8, 13, -1}));
  EXPECT_EQ(adjacency_row(obs, 0, 17), (std::vector<int>{11, 18, 1}));
  EXPECT_EQ(adjacency_row(obs, 0, 18), (std::vector<int>{-2, -2, -2}));
  for (int i = 13; i < 31; ++i) EXPECT_EQ(features(obs, 0, i), kNull);
  // Heights and edge orders on this known tree.
  std::vector<int> want(31, -2);
  for (int i = 0; i <= 18; ++i) want[i] = 0;
  want[0] = 4, want[2] = 3, want[4] = want[5] = 2, want[8] = want[11] = 1;
  EXPECT_EQ(std::vector<int>(obs.node_order().begin(), obs.node_order().end()), want);
  const std::vector<int> want_edges = {4, 4, 4, 3,  3,  3,  2,  2,  2,  2,  2,  2,  1,  1,  1,
                                       1, 1, 1, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2};
  EXPECT_EQ(std::vector<int>(obs.edge_order().begin(), obs.edge_order().end()), want_edges);
}

TEST(FlatlandObs, SiblingTriplesOnAFullTree) {
  // On the fixture level every tree has 31 nodes whose rows come in triples (parent, 3k+1..3k+3,
  // turns -1, 0, +1) with non-decreasing parents.
  fl::LevelFile f =
      fl::load_level_file(std::string(STACKGRAD_FLATLAND_FIXTURES) + "/r2t0_s1.json.gz");
  fl::RailEnv env(f.level);
  env.reset(uint64_t{1});
  fl::TreeObsBuilder obs(env);
  obs.build(env);
  for (int a = 0; a < env.num_agents(); ++a) {
    int last_parent = 0;
    for (int r = 0; r < 30; ++r) {
      const std::vector<int> row = adjacency_row(obs, a, r);
      if (row[0] == -2) continue;
      EXPECT_EQ(row[1], r + 1);
      EXPECT_EQ(row[2], r % 3 - 1);
      EXPECT_EQ(adjacency_row(obs, a, r - r % 3)[0], row[0]);  // same parent within a triple
      EXPECT_GE(row[0], last_parent);
      EXPECT_LT(row[0], row[1]);
      last_parent = row[0];
    }
  }
}

TEST(FlatlandObs, OtherTrainsAheadAndPotentialConflict) {
  // Train 0 at (0,1) heading east to (0,7). Step 1 puts both trains on the map.
  for (int other_direction : {fl::kEast, fl::kWest}) {
    const GridPos other_target = other_direction == fl::kEast ? GridPos{0, 7} : GridPos{0, 0};
    fl::RailEnv env(line_level(
        8, {train({0, 1}, fl::kEast, {0, 7}), train({0, 5}, other_direction, other_target, 0.5)}));
    env.reset();
    fl::TreeObsBuilder obs(env);
    depart(env, {2, 2});
    obs.build(env);
    ASSERT_EQ(env.agents()[1].position, (GridPos{0, 5}));
    const float* f = node(obs, 0, 2);  // straight on, to the target 6 cells away
    EXPECT_FLOAT_EQ(f[0], d(6));
    EXPECT_FLOAT_EQ(f[2], d(4));  // train 1 is 4 cells ahead
    if (other_direction == fl::kEast) {
      EXPECT_FLOAT_EQ(f[7], 0.5f);  // 1 of 2 trains, same direction
      EXPECT_FLOAT_EQ(f[8], 0.0f);
      EXPECT_FLOAT_EQ(f[10], 0.5f);  // its speed
      EXPECT_FLOAT_EQ(f[3], -1.0f);  // it goes our way: no conflict
    } else {
      EXPECT_FLOAT_EQ(f[7], 0.0f);
      EXPECT_FLOAT_EQ(f[8], 0.5f);
      EXPECT_FLOAT_EQ(f[10], 1.0f);
      // Train 1 (2 steps per cell) is predicted at (0,4) at t = 1, 2 and at (0,3) at t = 3, 4.
      // Train 0 reaches (0,3) (2 cells) at t = 2: (0,3) holds train 1 at t + 1 = 3, heading
      // west -> a potential conflict 2 cells ahead. ((0,2) at t = 1: nobody at t = 0..2.)
      EXPECT_FLOAT_EQ(f[3], d(2));
    }
  }
}

TEST(FlatlandObs, PotentialConflictAtThePredictedTime) {
  // Both speed 1: train 1 from (0,5) westwards is at (0,3) at t = 2, as train 0 is.
  fl::RailEnv env(
      line_level(8, {train({0, 1}, fl::kEast, {0, 7}), train({0, 5}, fl::kWest, {0, 0})}));
  env.reset();
  fl::TreeObsBuilder obs(env);
  depart(env, {2, 2});
  obs.build(env);
  EXPECT_FLOAT_EQ(node(obs, 0, 2)[3], d(2));
  EXPECT_FLOAT_EQ(node(obs, 1, 2)[3], d(2));  // and symmetrically
}

TEST(FlatlandObs, AgentAttributeLayout) {
  fl::Level level = switch_level(
      {train({2, 1}, fl::kNorth, {3, 1}, 0.5, 0), train({3, 1}, fl::kNorth, {1, 0}, 1.0, 5)});
  fl::RailEnv env(level);
  env.reset();
  fl::TreeObsBuilder obs(env);
  depart(env, {2, 0});  // train 0 departs onto (2,1); train 1 waits (departs at 5)
  obs.build(env);
  const float* a = attributes(obs, 0);
  std::vector<float> want(83, 0.0f);
  want[fl::attr::kState + 3] = 1;     // MOVING
  want[fl::attr::kRoadType + 1] = 1;  // straight
  want[fl::attr::kNumMalfunctions + 0] = 1;
  want[fl::attr::kInitialDirection + fl::kNorth] = 1;
  want[fl::attr::kDirection + fl::kNorth] = 1;
  want[fl::attr::kOldDirection + fl::kNorth] = 1;
  float* b = &want[fl::attr::kBooleans];
  b[0] = 1;  // moving
  b[3] = 1;  // malfunction counter complete
  b[4] = 1;  // at cell entry (counter 0 of max 1)
  b[8] = 1;  // on the map
  for (int bit = 0; bit < 16; ++bit)
    want[fl::attr::kTransitions + bit] = (kStraightNS >> (15 - bit)) & 1;
  want[fl::attr::kValidActions + 2] = 1;  // forward
  want[fl::attr::kValidActions + 4] = 1;  // stop: the next cell is a switch
  const float t = static_cast<float>(kT);
  float* s = &want[fl::attr::kScalars];
  s[0] = 0.0f / 2;               // handle / N
  s[1] = 2 / t;                  // step
  s[2] = 0 / t;                  // earliest departure
  s[3] = 40 / t;                 // latest arrival
  s[4] = -1 / t;                 // not arrived
  s[5] = 40 / t - 2 / t;         // steps before late
  s[6] = 5.0f / ((4 + 3) * 8);   // dist_target (5 moves, as above) / ((H + W) * 8)
  s[7] = std::min(s[5], s[6]);   // anticipative return
  s[8] = 1 / 10.0f;              // max_count 1 (speed 1/2)
  s[9] = 0.5f;                   // speed
  s[10] = 0;                     // speed counter
  s[11] = 0;                     // malfunction counter
  s[12] = 5.0f / ((4 + 3) * 8);  // initial dist_target
  for (int k = 0; k < 83; ++k) EXPECT_FLOAT_EQ(a[k], want[k]) << "attribute " << k;

  // Train 1 is waiting off the map: state one-hot at 0, road type 0, no transitions.
  const float* w = attributes(obs, 1);
  EXPECT_EQ(w[fl::attr::kState + 0], 1);
  EXPECT_EQ(w[fl::attr::kRoadType + 0], 1);
  EXPECT_EQ(w[fl::attr::kBooleans + 7], 1);  // off the map
  for (int bit = 0; bit < 16; ++bit) EXPECT_EQ(w[fl::attr::kTransitions + bit], 0);
  EXPECT_FLOAT_EQ(w[fl::attr::kScalars + 0], 0.5f);
  EXPECT_FLOAT_EQ(w[fl::attr::kScalars + 2], 5 / t);
  // Each one-hot group sums to 1.
  for (int agent = 0; agent < 2; ++agent) {
    const float* x = attributes(obs, agent);
    for (auto [start, len] : {std::pair{0, 7}, {7, 11}, {18, 10}, {28, 4}, {32, 4}, {36, 4}}) {
      float sum = 0;
      for (int k = 0; k < len; ++k) sum += x[start + k];
      EXPECT_EQ(sum, 1.0f);
    }
  }
  EXPECT_EQ(fl::road_type(fl::rotate_cell(fl::kBaseCellTypes[4], 3)), 4);
}

TEST(FlatlandObs, ValidActionMasks) {
  // Train 0 (speed 1) from (2,1) north to (1,0); train 1 (speed 1/2) from (2,1) at step 3.
  fl::Level level =
      switch_level({train({2, 1}, fl::kNorth, {1, 0}), train({2, 1}, fl::kNorth, {0, 1}, 0.5, 3)});
  fl::RailEnv env(level);
  env.reset();
  fl::TreeObsBuilder obs(env);
  obs.build(env);
  EXPECT_EQ(mask(obs, 0), (std::vector<int>{1, 0, 0, 0, 0}));  // waiting
  env.step(std::vector<int>{2, 0});
  obs.build(env);
  EXPECT_EQ(env.agents()[0].state, TrainState::kReadyToDepart);
  EXPECT_EQ(mask(obs, 0), (std::vector<int>{0, 0, 1, 0, 1}));
  EXPECT_EQ(mask(obs, 1), (std::vector<int>{1, 0, 0, 0, 0}));
  env.step(std::vector<int>{2, 0});
  obs.build(env);
  // On (2,1) at cell entry: only forward, and stop before the switch.
  EXPECT_EQ(env.agents()[0].state, TrainState::kMoving);
  EXPECT_EQ(mask(obs, 0), (std::vector<int>{0, 0, 1, 0, 1}));
  env.step(std::vector<int>{2, 0});
  obs.build(env);
  // On the switch facing north: left (west) and forward, stop on a branch.
  EXPECT_EQ(env.agents()[0].position, (GridPos{1, 1}));
  EXPECT_EQ(mask(obs, 0), (std::vector<int>{0, 1, 1, 0, 1}));
  EXPECT_EQ(env.agents()[1].state, TrainState::kReadyToDepart);
  env.step(std::vector<int>{1, 2});  // train 0 turns west into (1,0) = its target; 1 departs
  obs.build(env);
  EXPECT_EQ(env.agents()[0].state, TrainState::kDone);
  EXPECT_EQ(mask(obs, 0), (std::vector<int>{1, 0, 0, 0, 0}));
  EXPECT_EQ(env.agents()[1].state, TrainState::kMoving);
  EXPECT_EQ(mask(obs, 1), (std::vector<int>{0, 0, 1, 0, 1}));
  env.step(std::vector<int>{0, 2});  // half way through its first cell: no decision
  obs.build(env);
  EXPECT_EQ(env.agents()[1].speed_counter, 1);
  EXPECT_EQ(mask(obs, 1), (std::vector<int>{1, 0, 0, 0, 0}));

  // Broken on the map (a malfunction of 3 steps drawn at step 3).
  fl::RailEnv env2(switch_level({train({2, 1}, fl::kNorth, {1, 0})}));
  env2.reset(std::vector<fl::MalfunctionEvent>{{3, 0, 3}});
  fl::TreeObsBuilder obs2(env2);
  for (int step = 0; step < 3; ++step) {
    obs2.build(env2);
    env2.step(std::vector<int>{2});
  }
  obs2.build(env2);
  EXPECT_EQ(env2.agents()[0].state, TrainState::kMalfunction);
  EXPECT_EQ(mask(obs2, 0), (std::vector<int>{1, 0, 0, 0, 0}));
  const float* a = attributes(obs2, 0);
  EXPECT_EQ(a[fl::attr::kBooleans + 2], 1);  // in_malfunction
  EXPECT_EQ(a[fl::attr::kBooleans + 3], 0);  // counter not complete
  EXPECT_EQ(a[fl::attr::kBooleans + 6], 1);  // malfunction state
  EXPECT_EQ(a[fl::attr::kNumMalfunctions + 1], 1);
  // The counter (3 - 1 = 2 left) reads as 0/1 with the reference quirk: 1 / 10.
  EXPECT_EQ(env2.agents()[0].malfunction_counter, 2);
  EXPECT_FLOAT_EQ(a[fl::attr::kScalars + 11], 0.1f);
  EXPECT_FLOAT_EQ(node(obs2, 0, 0)[9], 1.0f);  // root: num_malfunctions (as 0/1) / N
  fl::TreeObsBuilder exact(env2, {.reference_quirks = false});
  exact.build(env2);
  EXPECT_FLOAT_EQ(attributes(exact, 0)[fl::attr::kScalars + 11], 0.2f);
}

TEST(FlatlandObs, DeadlockHeadOnPairAndPersistence) {
  fl::RailEnv env(
      line_level(6, {train({0, 1}, fl::kEast, {0, 5}), train({0, 2}, fl::kWest, {0, 0})}));
  env.reset();
  fl::TreeObsBuilder obs(env);
  obs.build(env);
  EXPECT_FALSE(obs.deadlocks().deadlocked(0));  // off the map: not considered
  env.step(std::vector<int>{2, 2});
  for (int step = 0; step < 5; ++step) {
    env.step(std::vector<int>{2, 2});
    obs.build(env);
    EXPECT_TRUE(obs.deadlocks().deadlocked(0));
    EXPECT_TRUE(obs.deadlocks().deadlocked(1));
    EXPECT_EQ(attributes(obs, 1)[fl::attr::kBooleans + 1], 1);
  }
  obs.reset(env);
  EXPECT_FALSE(obs.deadlocks().deadlocked(0));
}

TEST(FlatlandObs, DeadlockChainBehindAFreeTrain) {
  fl::RailEnv env(line_level(8, {train({0, 1}, fl::kEast, {0, 7}), train({0, 2}, fl::kEast, {0, 7}),
                                 train({0, 3}, fl::kEast, {0, 7})}));
  env.reset();
  fl::DeadlockDetector dd;
  dd.reset(3);
  depart(env, {2, 2, 2});
  dd.update(env);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(dd.deadlocked(i)) << i;
}

TEST(FlatlandObs, DeadlockRing) {
  // A 2x2 ring of curves run clockwise: (0,0) -> (0,1) -> (1,1) -> (1,0) -> (0,0).
  fl::Level level;
  level.name = "ring";
  level.grid = fl::RailGrid(2, 2);
  level.grid.set(0, 0, curve(fl::kEast, fl::kSouth));
  level.grid.set(0, 1, curve(fl::kWest, fl::kSouth));
  level.grid.set(1, 1, curve(fl::kNorth, fl::kWest));
  level.grid.set(1, 0, curve(fl::kNorth, fl::kEast));
  level.max_episode_steps = kT;
  const std::vector<fl::AgentSpec> full = {
      train({0, 0}, fl::kNorth, {1, 0}), train({0, 1}, fl::kEast, {0, 0}),
      train({1, 1}, fl::kSouth, {0, 1}), train({1, 0}, fl::kWest, {1, 1})};
  for (int trains : {4, 3}) {
    level.agents.assign(full.begin(), full.begin() + trains);
    fl::RailEnv env(level);
    env.reset();
    fl::DeadlockDetector dd;
    dd.reset(trains);
    depart(env, std::vector<int>(trains, 2));
    dd.update(env);
    for (int i = 0; i < trains; ++i) {
      ASSERT_TRUE(fl::is_on_map(env.agents()[i].state));
      // A full ring can never move; with one gap the train before it can, and so the others.
      EXPECT_EQ(dd.deadlocked(i), trains == 4) << trains << " trains, train " << i;
    }
  }
}

TEST(FlatlandObs, FixtureEpisodeStaysInRange) {
  fl::LevelFile f =
      fl::load_level_file(std::string(STACKGRAD_FLATLAND_FIXTURES) + "/r2t0_s1.json.gz");
  const fl::RecordedEpisode& ep = f.episodes[3];  // shortest path + 25% random, malfunctions
  for (bool quirks : {true, false}) {
    fl::RailEnv env(f.level);
    env.reset(ep.malfunction_schedule);
    fl::TreeObsBuilder obs(env, {.reference_quirks = quirks});
    const int n = env.num_agents();
    float max_distance = 0;
    int conflicts = 0, agents_seen = 0, other_targets = 0;
    for (int step = 0; step <= ep.num_steps; ++step) {
      obs.build(env);
      for (float v : obs.forest()) ASSERT_TRUE(std::isfinite(v));
      for (float v : obs.agent_attr()) ASSERT_TRUE(std::isfinite(v));
      for (int a = 0; a < n; ++a) {
        for (int i = 0; i < 31; ++i) {
          const float* x = node(obs, a, i);
          for (int k = 0; k < 7; ++k) {
            ASSERT_TRUE(x[k] == -1.0f || x[k] >= 0.0f) << k;
            max_distance = std::max(max_distance, x[k]);
          }
          for (int k : {7, 8, 9, 11}) {
            // Without the quirks feature 9 is a real malfunction counter (up to 50) / N.
            const float high = k == 9 && !quirks ? 51.0f : 1.0f;
            ASSERT_TRUE(x[k] == -1.0f || (x[k] >= 0.0f && x[k] <= high)) << k;
          }
          ASSERT_TRUE(x[10] == -1.0f || (x[10] > 0.0f && x[10] <= 1.0f));
          conflicts += i > 0 && x[3] >= 0;
          other_targets += i > 0 && x[1] >= 0;
          agents_seen += i > 0 && x[2] >= 0;
        }
        const float* at = attributes(obs, a);
        for (int k = 0; k < 70; ++k) ASSERT_TRUE(at[k] == 0.0f || at[k] == 1.0f) << k;
        const int node_order0 = obs.node_order()[static_cast<size_t>(a) * 31];
        ASSERT_GE(node_order0, 1);
        ASSERT_LE(node_order0, 30);
      }
      if (step == ep.num_steps) break;
      env.step(std::span<const int>(&ep.actions[static_cast<size_t>(step) * n], n));
    }
    EXPECT_LT(max_distance, 2.0f);
    EXPECT_GT(conflicts, 0);
    EXPECT_GT(agents_seen, 0);
    // Feature 1 (another train's target) is only filled without the reference quirks.
    if (quirks)
      EXPECT_EQ(other_targets, 0);
    else
      EXPECT_GT(other_targets, 0);
    std::printf("[ info ] quirks %d: %d steps, largest normalised distance %.3f\n", quirks,
                ep.num_steps, max_distance);
  }
}

// Per-step cost on a Round 2 test-4 level (80 trains); run with --gtest_also_run_disabled_tests.
TEST(FlatlandObs, DISABLED_TimingRound2Test4) {
  fl::LevelFile f =
      fl::load_level_file(std::string(STACKGRAD_FLATLAND_FIXTURES) + "/r2t4_s1.json.gz");
  const fl::RecordedEpisode& ep = f.episodes[2];  // shortest path with malfunctions
  fl::RailEnv env(f.level);
  env.reset(ep.malfunction_schedule);
  fl::TreeObsBuilder obs(env);
  const int n = env.num_agents();
  double build_s = 0, step_s = 0;
  for (int step = 0; step < ep.num_steps; ++step) {
    auto t0 = std::chrono::steady_clock::now();
    obs.build(env);
    auto t1 = std::chrono::steady_clock::now();
    env.step(std::span<const int>(&ep.actions[static_cast<size_t>(step) * n], n));
    auto t2 = std::chrono::steady_clock::now();
    build_s += std::chrono::duration<double>(t1 - t0).count();
    step_s += std::chrono::duration<double>(t2 - t1).count();
  }
  std::printf("[ info ] %s: %d trains, %d steps: observation %.3f ms/step, env step %.3f ms/step\n",
              f.level.name.c_str(), n, ep.num_steps, 1e3 * build_s / ep.num_steps,
              1e3 * step_s / ep.num_steps);
}

}  // namespace

// Writes the observations of a recorded episode, every step, for comparison with the
// solution's own feature parser (tools/compare_flatland_obs.py runs it):
//   FLOBS_LEVEL=level.json.gz FLOBS_EPISODE=3 FLOBS_OUT=obs.bin test_flatland_obs
//     --gtest_also_run_disabled_tests --gtest_filter='*DumpEpisode*'
// Per step: agent_attr, forest (float32), adjacency, node_order, edge_order (int32), valid (uint8).
TEST(FlatlandObs, DISABLED_DumpEpisode) {
  const char* level_path = std::getenv("FLOBS_LEVEL");
  const char* episode = std::getenv("FLOBS_EPISODE");
  const char* out_path = std::getenv("FLOBS_OUT");
  if (level_path == nullptr || episode == nullptr || out_path == nullptr)
    GTEST_SKIP() << "set FLOBS_*";
  fl::LevelFile f = fl::load_level_file(level_path);
  const fl::RecordedEpisode& ep = f.episodes.at(std::stoi(episode));
  fl::RailEnv env(f.level);
  env.reset(ep.malfunction_schedule);
  fl::TreeObsBuilder obs(env);
  const int n = env.num_agents();
  std::FILE* out = std::fopen(out_path, "wb");
  ASSERT_NE(out, nullptr);
  auto write = [&](auto span) { std::fwrite(span.data(), sizeof(span[0]), span.size(), out); };
  for (int step = 0; step <= ep.num_steps; ++step) {
    obs.build(env);
    write(obs.agent_attr());
    write(obs.forest());
    write(obs.adjacency());
    write(obs.node_order());
    write(obs.edge_order());
    write(obs.valid_actions());
    if (step == ep.num_steps) break;
    env.step(std::span<const int>(&ep.actions[static_cast<size_t>(step) * n], n));
  }
  std::fclose(out);
}
