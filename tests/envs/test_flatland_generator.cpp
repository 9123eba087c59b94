// The C++ sparse rail + line generator, checked by properties (its random draws differ from
// flatland-rl's, so levels are not compared cell by cell): every cell is a valid rail type,
// every exit leads to a cell a train can leave again, every train can reach its target, the
// timetable is consistent, and a seed always gives the same level.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "envs/common/json.h"
#include "envs/flatland/level_io.h"
#include "envs/flatland/policies.h"
#include "envs/flatland/sparse_generator.h"
#include "support/error_of.h"

namespace fl = stackgrad::flatland;
using fl::GridPos;

namespace {

struct Row {
  int agents, width, height, cities;
};
// Flatland 3 Round 2 tests 0-5 and 8 (spec B7).
const Row kRows[] = {{7, 30, 30, 2},  {10, 30, 30, 2}, {20, 30, 30, 3}, {50, 30, 35, 3},
                     {80, 35, 30, 5}, {80, 45, 35, 7}, {80, 60, 60, 17}};

TEST(FlatlandGenerator, LevelsAreConsistentAndEveryTargetReachable) {
  int levels = 0, unreachable = 0, trains = 0;
  for (const Row& row : kRows) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      fl::Rng rng(seed);
      const fl::Level level = fl::generate_sparse_level(
          {.width = row.width, .height = row.height, .max_num_cities = row.cities}, row.agents,
          rng);
      ++levels;
      const fl::RailGrid& g = level.grid;
      ASSERT_EQ(g.height(), row.height);
      ASSERT_EQ(g.width(), row.width);
      int rail_cells = 0;
      for (int r = 0; r < g.height(); ++r) {
        for (int c = 0; c < g.width(); ++c) {
          const uint16_t cell = g.at(r, c);
          rail_cells += cell != 0;
          ASSERT_TRUE(fl::is_valid_cell(cell))
              << "seed " << seed << " cell (" << r << ", " << c << ") = " << cell;
          for (int o = 0; o < 4; ++o) {
            for (int d = 0; d < 4; ++d) {
              if (!fl::can_exit(cell, o, d)) continue;
              const GridPos next = fl::step_towards({r, c}, d);
              ASSERT_TRUE(g.in_bounds(next));
              EXPECT_GT(fl::count_exits(g.at(next), d), 0)
                  << row.width << "x" << row.height << " seed " << seed << ": (" << r << ", " << c
                  << ") exits " << d << " into a cell it cannot leave";
            }
          }
        }
      }
      EXPECT_GT(rail_cells, 0);
      fl::RailEnv env(level);
      ASSERT_EQ(env.num_agents(), row.agents);
      for (int i = 0; i < env.num_agents(); ++i) {
        const fl::AgentSpec& s = env.spec(i);
        ++trains;
        EXPECT_NE(g.at(s.initial_position), 0);
        EXPECT_NE(g.at(s.target), 0);
        unreachable += env.shortest_path_length(i) == 0;
        EXPECT_LE(0, s.earliest_departure);
        EXPECT_LT(s.earliest_departure, s.latest_arrival);
        EXPECT_LE(s.latest_arrival, env.max_episode_steps());
      }
    }
  }
  EXPECT_EQ(levels, 21);
  EXPECT_EQ(unreachable, 0) << "of " << trains << " trains";
}

TEST(FlatlandGenerator, SameSeedSameLevelAndShortestPathsArrive) {
  auto make = [](uint64_t seed) {
    fl::Rng rng(seed);
    return fl::generate_sparse_level({.width = 30, .height = 30, .max_num_cities = 2}, 7, rng);
  };
  const fl::Level a = make(5);
  EXPECT_EQ(a.grid.cells(), make(5).grid.cells());
  EXPECT_NE(a.grid.cells(), make(6).grid.cells());
  // A single train on its shortest path arrives in time (its window is 1.3x its travel time).
  fl::Level solo = a;
  solo.agents.resize(1);
  solo.agents[0].earliest_departure = 0;
  fl::RailEnv env(solo);
  env.reset(0);
  std::vector<int> actions(1);
  while (!env.done()) {
    actions[0] = static_cast<int>(fl::shortest_path_action(env, 0));
    env.step(actions);
  }
  EXPECT_EQ(env.num_arrived(), 1);
}

// The same statistics over 20 seeds per Round 2 row as flatland-rl 3.0.15's generators give
// (tests/fixtures/flatland/generator_stats.json, tools/flatland_generator_stats.py): the port
// builds the same kind of network and timetable, not just a valid one.
TEST(FlatlandGenerator, StatisticsMatchFlatland3015) {
  const char* env = std::getenv("STACKGRAD_SOURCE_DIR");
  const std::string dir = env != nullptr && *env != '\0'
                              ? std::string(env) + "/tests/fixtures/flatland"
                              : std::string(STACKGRAD_FLATLAND_FIXTURES);
  std::ifstream in(dir + "/generator_stats.json");
  ASSERT_TRUE(in.good()) << dir;
  std::stringstream text;
  text << in.rdbuf();
  const stackgrad::envs::JsonValue rows = stackgrad::envs::parse_json(text.str(), "generator_stats.json");
  for (const stackgrad::envs::JsonValue& row : rows.as_array()) {
    const int w = static_cast<int>(row.at("width").as_int());
    const int h = static_cast<int>(row.at("height").as_int());
    const int c = static_cast<int>(row.at("max_num_cities").as_int());
    const int agents = static_cast<int>(row.at("agents").as_int());
    const int seeds = static_cast<int>(row.at("seeds").as_int());
    double cities = 0, rail = 0, switches = 0, dead_ends = 0, stations = 0, steps = 0, length = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
      fl::Rng rng(seed);
      const fl::SparseRail r =
          fl::generate_sparse_rail({.width = w, .height = h, .max_num_cities = c}, rng);
      const fl::Level level = fl::make_sparse_level(r, agents, rng);
      steps += level.max_episode_steps;
      fl::RailEnv env(level);
      for (int i = 0; i < agents; ++i) length += env.shortest_path_length(i) / double(agents);
      cities += r.city_positions.size();
      for (uint16_t v : r.grid.cells()) {
        const int bits = __builtin_popcount(v);
        rail += v != 0;
        switches += bits > 2;
        dead_ends += bits == 1;
      }
      for (const auto& s : r.train_stations) stations += s.size();
    }
    const std::string where = std::to_string(w) + "x" + std::to_string(h);
    auto near = [&](double ours, const char* key, double tolerance = 0.15) {
      const double theirs = row.at(key).as_double();
      EXPECT_NEAR(ours / seeds, theirs, tolerance * theirs + 0.5) << where << " " << key;
    };
    near(cities, "cities");
    near(rail, "rail_cells");
    near(switches, "switch_cells");
    near(dead_ends, "dead_ends");
    near(stations, "stations");
    // The episode length follows the slowest train's longest path: a maximum, so noisier.
    near(steps, "max_episode_steps", 0.25);
    near(length, "path_length");
  }
}

// Random play with random malfunctions on generated levels keeps the env's invariants: on-map
// states have a position and off-map states none, rewards come only at the end, and the end
// marks every train done.
TEST(FlatlandGenerator, RandomEpisodesKeepInvariants) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    fl::Rng rng(seed);
    fl::Level level =
        fl::generate_sparse_level({.width = 30, .height = 30, .max_num_cities = 3}, 20, rng);
    level.malfunction = {0.02, 2, 6};
    fl::RailEnv env(level);
    env.reset(seed);
    std::vector<int> actions(env.num_agents());
    int malfunctions = 0;
    while (!env.done()) {
      for (int& a : actions) a = static_cast<int>(rng.randint(0, 5));
      env.step(actions);
      for (int i = 0; i < env.num_agents(); ++i) {
        const fl::Agent& a = env.agents()[i];
        ASSERT_EQ(fl::is_on_map(a.state), a.position.on_map())
            << "step " << env.elapsed_steps() << " agent " << i;
        if (!env.done()) {
          ASSERT_EQ(env.rewards()[i], 0);
        }
        malfunctions += a.malfunction_counter > 0;
      }
    }
    EXPECT_EQ(env.elapsed_steps(), env.max_episode_steps());
    for (int i = 0; i < env.num_agents(); ++i) EXPECT_EQ(env.dones()[i], 1);
    EXPECT_GT(malfunctions, 0);
    EXPECT_LE(env.normalized_score(), 1.0);
  }
}

TEST(FlatlandGenerator, GeneratedLevelsSaveAndLoadUnchanged) {
  fl::Rng rng(11);
  fl::Level level =
      fl::generate_sparse_level({.width = 35, .height = 30, .max_num_cities = 5}, 13, rng);
  level.name = "gen \"35x30\"";
  level.malfunction = {1.0 / 7200, 20, 50};
  const std::string path = ::testing::TempDir() + "flatland_generated.json.gz";
  fl::save_level_file(path, level);
  const fl::LevelFile back = fl::load_level_file(path);
  EXPECT_EQ(back.level.name, level.name);
  EXPECT_EQ(back.level.grid.cells(), level.grid.cells());
  EXPECT_EQ(back.level.max_episode_steps, level.max_episode_steps);
  EXPECT_EQ(back.level.n_cities, level.n_cities);
  EXPECT_EQ(back.level.malfunction.rate, level.malfunction.rate);
  ASSERT_EQ(back.level.agents.size(), level.agents.size());
  for (size_t i = 0; i < level.agents.size(); ++i) {
    const fl::AgentSpec& a = level.agents[i];
    const fl::AgentSpec& b = back.level.agents[i];
    EXPECT_EQ(a.initial_position, b.initial_position);
    EXPECT_EQ(a.initial_direction, b.initial_direction);
    EXPECT_EQ(a.target, b.target);
    EXPECT_EQ(a.speed, b.speed);  // exact: 1/3 survives the round trip
    EXPECT_EQ(a.earliest_departure, b.earliest_departure);
    EXPECT_EQ(a.latest_arrival, b.latest_arrival);
  }
  std::remove(path.c_str());
}

TEST(FlatlandGenerator, TooSmallForTwoCities) {
  fl::Rng rng(1);
  EXPECT_THAT(stackgrad::testing::error_of([&] {
                fl::generate_sparse_rail({.width = 20, .height = 20, .max_num_cities = 3}, rng);
              }),
              ::testing::HasSubstr("cannot fit 2 cities of radius 4 in 20x20"));
}

}  // namespace
