// Step-for-step replay of episodes recorded with flatland-rl 3.0.15
// (tools/export_flatland_levels.py): every exported level is loaded, every recorded action
// sequence is replayed (with the recorded malfunction schedule), and every agent's position,
// direction, state, reward, done flag and malfunction counter must match at every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "envs/flatland/level_io.h"
#include "envs/flatland/policies.h"
#include "envs/flatland/rail_env.h"
#include "envs/flatland/timetable.h"
#include "support/fixture_path.h"

namespace fl = stackgrad::flatland;
using fl::GridPos;

namespace {

std::filesystem::path fixture_dir() {
  const char* env = std::getenv("STACKGRAD_SOURCE_DIR");
  if (env != nullptr && *env != '\0') return stackgrad::testing::fixture_path("flatland");
  return STACKGRAD_FLATLAND_FIXTURES;  // set by CMake: discovery runs without the variable
}

std::vector<std::string> level_names() {
  std::vector<std::string> names;
  const std::filesystem::path dir = fixture_dir();
  if (!std::filesystem::exists(dir)) return names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    const std::string suffix = ".json.gz";
    if (file.size() > suffix.size() && file.ends_with(suffix)) {
      names.push_back(file.substr(0, file.size() - suffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Each level file is parsed once and shared by the tests that use it.
const fl::LevelFile& load(const std::string& name) {
  static std::map<std::string, fl::LevelFile> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    it = cache
             .emplace(name, fl::load_level_file(
                                stackgrad::testing::fixture_path("flatland/" + name + ".json.gz")))
             .first;
  }
  return it->second;
}

// Replays one episode; returns "" when every step matches, else the first difference.
std::string replay(const fl::LevelFile& file, const fl::RecordedEpisode& ep, int* steps_checked) {
  fl::RailEnv env(file.level);
  env.reset(ep.malfunction_schedule);
  const int n = env.num_agents();
  const int w = env.grid().width();
  for (int t = 0; t < ep.num_steps; ++t) {
    if (env.done()) return "C++ episode ended before step " + std::to_string(t + 1);
    const int* actions = &ep.actions[static_cast<size_t>(t) * n];
    env.step(std::span<const int>(actions, n));
    for (int i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(t) * n + i;
      const fl::Agent& a = env.agents()[i];
      const int pos = a.position.on_map() ? a.position.row * w + a.position.col : -1;
      const struct {
        const char* field;
        int expected, got;
      } checks[] = {
          {"position", ep.position[k], pos},
          {"direction", ep.direction[k], a.direction},
          {"state", ep.state[k], static_cast<int>(a.state)},
          {"reward", ep.reward[k], env.rewards()[i]},
          {"done", ep.done[k], env.dones()[i]},
          {"malfunction", ep.malfunction[k], a.malfunction_counter},
      };
      for (const auto& c : checks) {
        if (c.expected == c.got) continue;
        std::ostringstream os;
        os << "step " << t + 1 << " agent " << i << ": " << c.field << " expected " << c.expected
           << ", got " << c.got << " (state " << fl::state_name(a.state) << ", action "
           << actions[i] << ")";
        return os.str();
      }
    }
    ++*steps_checked;
  }
  if (!env.done()) return "C++ episode not done after the recorded last step";
  return "";
}

class FlatlandReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(FlatlandReplay, EveryStepMatchesFlatland3015) {
  const fl::LevelFile& file = load(GetParam());
  ASSERT_FALSE(file.episodes.empty());
  for (const fl::RecordedEpisode& ep : file.episodes) {
    int steps = 0;
    EXPECT_EQ(replay(file, ep, &steps), "") << file.level.name << " / " << ep.policy;
    EXPECT_EQ(steps, ep.num_steps) << file.level.name << " / " << ep.policy;
  }
}

TEST_P(FlatlandReplay, DistanceMapAndTimetableMatch) {
  const fl::LevelFile& file = load(GetParam());
  fl::RailEnv env(file.level);
  std::vector<int> lengths;
  for (int i = 0; i < env.num_agents(); ++i) {
    lengths.push_back(env.shortest_path_length(i));
    EXPECT_EQ(lengths.back(), file.shortest_path_lengths[i]) << "agent " << i;
    // The waypoint list agrees with the length and ends on the target.
    const auto path = env.distance_map().shortest_path(i, env.spec(i).initial_position,
                                                       env.spec(i).initial_direction);
    ASSERT_EQ(static_cast<int>(path.size()), lengths.back()) << "agent " << i;
    if (!path.empty()) {
      EXPECT_EQ(path.back().position, env.spec(i).target);
    }
  }
  // Departures are random, but the episode length and every travel window are not.
  fl::Rng rng(0);
  const fl::Timetable tt = fl::make_timetable(file.level.grid.height(), file.level.grid.width(),
                                              file.level.agents, lengths, file.level.n_cities, rng);
  EXPECT_EQ(tt.max_episode_steps, file.level.max_episode_steps);
  for (int i = 0; i < env.num_agents(); ++i) {
    EXPECT_EQ(tt.travel_time_max[i],
              file.level.agents[i].latest_arrival - file.level.agents[i].earliest_departure)
        << "agent " << i;
  }
}

// Properties of flatland's generated rail that the C++ rules rely on: every cell is a valid
// type, every exit leads onto the grid into a cell the train can leave again, and every train
// can reach its target from its start.
TEST_P(FlatlandReplay, GeneratedRailIsConsistent) {
  const fl::LevelFile& file = load(GetParam());
  const fl::RailGrid& grid = file.level.grid;
  for (int r = 0; r < grid.height(); ++r) {
    for (int c = 0; c < grid.width(); ++c) {
      const uint16_t cell = grid.at(r, c);
      ASSERT_TRUE(fl::is_valid_cell(cell)) << "cell (" << r << ", " << c << ") = " << cell;
      for (int o = 0; o < 4; ++o) {
        for (int d = 0; d < 4; ++d) {
          if (!fl::can_exit(cell, o, d)) continue;
          const GridPos next = fl::step_towards({r, c}, d);
          ASSERT_TRUE(grid.in_bounds(next)) << "(" << r << ", " << c << ") exits the grid";
          EXPECT_GT(fl::count_exits(grid.at(next), d), 0)
              << "(" << r << ", " << c << ") facing " << o << " exits " << d << " into a dead stop";
        }
      }
    }
  }
  fl::RailEnv env(file.level);
  for (int i = 0; i < env.num_agents(); ++i) EXPECT_GT(env.shortest_path_length(i), 0);
}

// The recorded shortest-path actions were chosen in Python from flatland's distance map; the C++
// policy must choose the same ones in the same states.
TEST_P(FlatlandReplay, ShortestPathPolicyChoosesTheRecordedActions) {
  const fl::LevelFile& file = load(GetParam());
  int compared = 0;
  for (const fl::RecordedEpisode& ep : file.episodes) {
    if (ep.policy != "shortest" && ep.policy != "shortest_mf") continue;
    fl::RailEnv env(file.level);
    env.reset(ep.malfunction_schedule);
    const int n = env.num_agents();
    for (int t = 0; t < ep.num_steps; ++t) {
      const int* actions = &ep.actions[static_cast<size_t>(t) * n];
      for (int i = 0; i < n; ++i) {
        ASSERT_EQ(static_cast<int>(fl::shortest_path_action(env, i)), actions[i])
            << ep.policy << " step " << t + 1 << " agent " << i;
        ++compared;
      }
      env.step(std::span<const int>(actions, n));
    }
  }
  EXPECT_GT(compared, 0);
}

INSTANTIATE_TEST_SUITE_P(Levels, FlatlandReplay, ::testing::ValuesIn(level_names()),
                         [](const auto& info) { return info.param; });

TEST(FlatlandReplayFixtures, AtLeastTwentyLevelsOfSeveralSizes) {
  const std::vector<std::string> names = level_names();
  ASSERT_GE(names.size(), 20u);
  std::vector<std::pair<int, int>> sizes;
  for (const std::string& name : names) {
    const fl::LevelFile& f = load(name);
    sizes.emplace_back(f.level.grid.height(), f.level.grid.width());
  }
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  EXPECT_GE(sizes.size(), 4u);
}

}  // namespace
