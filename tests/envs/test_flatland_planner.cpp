// The planner on hand-made grids (a single track with a passing siding, a slow train) and on
// exported Round 2 levels: both trains of a head-on pair get home, a plan respects the train's
// speed, and without malfunctions every train arrives exactly when its plan says.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "envs/flatland/level_io.h"
#include "envs/flatland/planner.h"
#include "envs/flatland/policies.h"
#include "envs/flatland/rail_drawing.h"

namespace fl = stackgrad::flatland;
using fl::GridPos;

namespace {

// Adds two-way track along `path` (neighbouring cells); the two end cells become dead ends.
void add_track(fl::RailGrid& grid, const std::vector<GridPos>& path) {
  auto dir = [](GridPos a, GridPos b) { return fl::drawing::step_direction(a, b); };
  for (size_t i = 0; i < path.size(); ++i) {
    uint16_t cell = grid.at(path[i]);
    const int in = i > 0 ? dir(path[i - 1], path[i]) : -1;  // facing on entry
    const int out = i + 1 < path.size() ? dir(path[i], path[i + 1]) : -1;
    if (in >= 0 && out >= 0) {
      cell = fl::drawing::with_exit(cell, in, out);
      cell = fl::drawing::with_exit(cell, (out + 2) % 4, (in + 2) % 4);
    } else if (in >= 0) {
      cell = fl::drawing::with_exit(cell, in, (in + 2) % 4);  // dead end: U-turn
    } else if (out >= 0) {
      cell = fl::drawing::with_exit(cell, (out + 2) % 4, out);
    }
    grid.set(path[i].row, path[i].col, cell);
  }
}

std::vector<GridPos> row_cells(int row, int c0, int c1) {
  std::vector<GridPos> cells;
  for (int c = c0; c <= c1; ++c) cells.push_back({row, c});
  return cells;
}

fl::AgentSpec train(GridPos start, int direction, GridPos target, double speed, int latest) {
  fl::AgentSpec s;
  s.initial_position = start;
  s.initial_direction = direction;
  s.target = target;
  s.speed = speed;
  s.latest_arrival = latest;
  return s;
}

// Row 1 is a line from column 0 to 10 (dead ends at both ends); a siding above it leaves it at
// column 3 and joins it again at column 7: (1,3) (0,3) .. (0,7) (1,7).
fl::Level siding_level(std::vector<fl::AgentSpec> agents) {
  fl::Level level;
  level.name = "siding";
  level.grid = fl::RailGrid(2, 11);
  add_track(level.grid, row_cells(1, 0, 10));
  std::vector<GridPos> siding = {{1, 2}, {1, 3}};
  for (GridPos p : row_cells(0, 3, 7)) siding.push_back(p);
  siding.push_back({1, 7});
  siding.push_back({1, 8});
  // Only the inner transitions of the siding: its first and last steps are the main line's.
  for (size_t i = 1; i + 1 < siding.size(); ++i) {
    add_track(level.grid, {siding[i - 1], siding[i], siding[i + 1]});
  }
  // add_track made (1,2) and (1,8) dead ends again as path ends; restore them as straights.
  level.grid.set(1, 2, level.grid.at(1, 1));
  level.grid.set(1, 8, level.grid.at(1, 1));
  level.agents = std::move(agents);
  level.max_episode_steps = 60;
  return level;
}

int run_planner(fl::RailEnv& env, fl::Planner& planner) {
  std::vector<int> actions(env.num_agents());
  planner.reset(env);
  while (!env.done()) {
    planner.act(env, actions);
    env.step(actions);
  }
  return env.num_arrived();
}

TEST(FlatlandPlanner, HeadOnPairOnSingleTrackPassesAtTheSiding) {
  const fl::Level level = siding_level(
      {train({1, 1}, fl::kEast, {1, 9}, 1.0, 40), train({1, 9}, fl::kWest, {1, 1}, 1.0, 40)});
  // Greedy shortest paths meet head-on and deadlock.
  fl::RailEnv greedy(level);
  greedy.reset(0);
  std::vector<int> actions(2);
  while (!greedy.done()) {
    for (int i = 0; i < 2; ++i) actions[i] = static_cast<int>(fl::shortest_path_action(greedy, i));
    greedy.step(actions);
  }
  EXPECT_EQ(greedy.num_arrived(), 0);

  fl::RailEnv env(level);
  env.reset(0);
  fl::Planner planner;
  EXPECT_EQ(run_planner(env, planner), 2);
  EXPECT_EQ(planner.stats().replans, 0);
  // One of them went through the siding (row 0).
  bool used_siding = false;
  for (int i = 0; i < 2; ++i) {
    for (const fl::PlannedCell& c : planner.plan(i)) used_siding |= c.position.row == 0;
  }
  EXPECT_TRUE(used_siding);
}

TEST(FlatlandPlanner, PlanRespectsSpeedAndIsExecutedOnTime) {
  // A train of speed 1/3 from column 1 to column 9: 8 moves of 3 steps each.
  const fl::Level level = siding_level({train({1, 1}, fl::kEast, {1, 9}, 1.0 / 3.0, 50)});
  fl::RailEnv env(level);
  env.reset(0);
  fl::Planner planner;
  planner.reset(env);
  const std::vector<fl::PlannedCell> plan = planner.plan(0);
  ASSERT_EQ(plan.size(), 9u);
  EXPECT_EQ(plan.front().enter, 2);  // READY after step 1, on the map at step 2
  for (size_t i = 1; i < plan.size(); ++i) EXPECT_GE(plan[i].enter - plan[i - 1].enter, 3);
  EXPECT_EQ(plan.back().enter, 2 + 8 * 3);
  EXPECT_EQ(run_planner(env, planner), 1);
  EXPECT_EQ(env.agents()[0].arrival_time, plan.back().enter);
}

TEST(FlatlandPlanner, Round2LevelsArriveWhenPlannedWithoutMalfunctions) {
  const std::string dir = std::string(STACKGRAD_FLATLAND_FIXTURES) + "/round2";
  for (const char* name : {"Test_0_Level_0", "Test_2_Level_0"}) {
    const std::string path = dir + "/" + name + ".json.gz";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " missing";
    fl::Level level = fl::load_level_file(path).level;
    level.malfunction = {};
    fl::RailEnv env(level);
    env.reset(1);
    fl::Planner planner;
    planner.reset(env);
    std::vector<int> planned(env.num_agents(), -1);
    for (int i = 0; i < env.num_agents(); ++i) {
      if (!planner.plan(i).empty()) planned[i] = planner.plan(i).back().enter;
    }
    run_planner(env, planner);
    EXPECT_EQ(planner.stats().replans, 0) << name;
    for (int i = 0; i < env.num_agents(); ++i) {
      if (planned[i] >= 0) {
        EXPECT_EQ(env.agents()[i].arrival_time, planned[i]) << name << " agent " << i;
      }
    }
  }
}

TEST(FlatlandPlanner, MalfunctionsReplanAndBeatShortestPath) {
  const std::string path =
      std::string(STACKGRAD_FLATLAND_FIXTURES) + "/round2/Test_1_Level_3.json.gz";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " missing";
  fl::Level level = fl::load_level_file(path).level;
  level.malfunction.rate = 1.0 / 50.0;  // many breakdowns
  fl::RailEnv env(level), greedy(level);
  env.reset(3);
  greedy.reset(3);
  fl::Planner planner;
  run_planner(env, planner);
  EXPECT_GT(planner.stats().replans, 0);
  std::vector<int> actions(greedy.num_agents());
  while (!greedy.done()) {
    for (int i = 0; i < greedy.num_agents(); ++i)
      actions[i] = static_cast<int>(fl::shortest_path_action(greedy, i));
    greedy.step(actions);
  }
  EXPECT_GT(env.normalized_score(), greedy.normalized_score());
  EXPECT_GT(env.num_arrived(), greedy.num_arrived());
}

}  // namespace
