// BatchEnv: stepping K envs together (threads, flat buffers, auto-reset) gives exactly what
// stepping each env alone gives, step by step, whatever the thread count.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "envs/flatland/batch_env.h"
#include "envs/flatland/level_io.h"
#include "envs/common/rng.h"

namespace fl = stackgrad::flatland;

namespace {

// Round 2 levels of three sizes (the same level twice), with frequent short malfunctions.
const std::vector<fl::Level>& fixture_levels() {
  static const std::vector<fl::Level> levels = [] {
    const std::string dir = std::string(STACKGRAD_FLATLAND_FIXTURES) + "/round2/";
    std::vector<fl::Level> out;
    for (const char* name : {"Test_0_Level_0", "Test_1_Level_3", "Test_2_Level_1", "Test_0_Level_4",
                             "Test_0_Level_0"}) {
      fl::Level level = fl::load_level_file(dir + name + ".json.gz").level;
      level.malfunction = {.rate = 0.02, .min_duration = 2, .max_duration = 6};
      out.push_back(std::move(level));
    }
    return out;
  }();
  return levels;
}

// Random actions for every agent of every env, `steps` times.
std::vector<std::vector<int>> random_actions(int total_agents, int steps, uint64_t seed) {
  fl::Rng rng(seed);
  std::vector<std::vector<int>> out(steps, std::vector<int>(total_agents));
  for (auto& row : out) {
    for (int& a : row) a = static_cast<int>(rng.randint(0, 5));
  }
  return out;
}

void expect_batch_equals_alone(int threads) {
  const std::vector<fl::Level>& levels = fixture_levels();
  const int K = static_cast<int>(levels.size()), steps = 700;
  const uint64_t seed = 11;
  fl::BatchEnv batch(levels, {.num_threads = threads, .auto_reset = true});
  batch.reset(seed);
  std::vector<fl::RailEnv> alone;
  for (int k = 0; k < K; ++k) {
    alone.emplace_back(levels[k]);
    alone.back().reset(seed + k);
  }
  std::vector<int> episodes(K, 0);
  const auto actions = random_actions(batch.total_agents(), steps, 5);
  int finished = 0;
  for (int t = 0; t < steps; ++t) {
    batch.step(actions[t]);
    for (int k = 0; k < K; ++k) {
      fl::RailEnv& e = alone[k];
      const int base = batch.offset(k), n = e.num_agents();
      e.step(std::span<const int>(actions[t]).subspan(base, n));
      for (int j = 0; j < n; ++j) {
        ASSERT_EQ(batch.rewards()[base + j], e.rewards()[j]) << "t " << t << " env " << k;
        ASSERT_EQ(batch.dones()[base + j], e.dones()[j]) << "t " << t << " env " << k;
      }
      ASSERT_EQ(batch.episode_done()[k], e.done()) << "t " << t << " env " << k;
      if (e.done()) {
        ++finished;
        ASSERT_EQ(batch.last_score()[k], e.normalized_score());
        ASSERT_EQ(batch.last_arrived()[k], e.num_arrived());
        e.reset(seed + k + static_cast<uint64_t>(K) * ++episodes[k]);
      }
      const int width = e.grid().width();
      for (int j = 0; j < n; ++j) {
        const fl::Agent& a = e.agents()[j];
        const int pos = a.position.on_map() ? a.position.row * width + a.position.col : -1;
        ASSERT_EQ(batch.positions()[base + j], pos) << "t " << t << " env " << k << " agent " << j;
        ASSERT_EQ(batch.directions()[base + j], a.direction);
        ASSERT_EQ(batch.states()[base + j], static_cast<uint8_t>(a.state));
        ASSERT_EQ(batch.action_required()[base + j], e.action_required(j));
      }
    }
  }
  EXPECT_GT(finished, K);  // several episodes ended and were reset
}

TEST(FlatlandBatch, BatchedEqualsAloneOneThread) { expect_batch_equals_alone(1); }
TEST(FlatlandBatch, BatchedEqualsAloneTwoThreads) { expect_batch_equals_alone(2); }

TEST(FlatlandBatch, WithoutAutoResetFinishedEnvsStay) {
  std::vector<fl::Level> levels(fixture_levels().begin(), fixture_levels().begin() + 2);
  fl::BatchEnv batch(levels, {.num_threads = 2, .auto_reset = false});
  batch.reset(3);
  std::vector<int> stop(batch.total_agents(), 4);  // nobody departs: both run to max steps
  const int longest = std::max(batch.env(0).max_episode_steps(), batch.env(1).max_episode_steps());
  for (int t = 0; t < longest + 5; ++t) batch.step(stop);
  EXPECT_TRUE(batch.env(0).done());
  EXPECT_TRUE(batch.env(1).done());
  EXPECT_EQ(batch.episodes()[0], 1);
  EXPECT_EQ(batch.episodes()[1], 1);
  EXPECT_LT(batch.last_score()[0], 1.0);  // every train cancelled
  EXPECT_EQ(batch.env(0).elapsed_steps(), batch.env(0).max_episode_steps());
}

// A RailEnv moved (here by a growing vector) keeps a working distance map: it used to point into
// the moved-from env's grid.
TEST(FlatlandBatch, MovedRailEnvKeepsItsDistanceMap) {
  const fl::Level& level = fixture_levels()[2];
  const fl::RailEnv reference(level);
  std::vector<fl::RailEnv> envs;
  for (int i = 0; i < 9; ++i) envs.emplace_back(level);  // reallocates several times
  const fl::AgentSpec& s = level.agents[0];
  for (const fl::RailEnv& e : envs) {
    EXPECT_EQ(e.distance_map().distance(0, s.initial_position, s.initial_direction),
              reference.distance_map().distance(0, s.initial_position, s.initial_direction));
    EXPECT_EQ(
        e.distance_map().shortest_path(0, s.initial_position, s.initial_direction).size(),
        reference.distance_map().shortest_path(0, s.initial_position, s.initial_direction).size());
  }
}

TEST(FlatlandBatch, WrongActionCountIsAnError) {
  fl::BatchEnv batch(fixture_levels(), {});
  batch.reset(1);
  std::vector<int> actions(batch.total_agents() - 1, 0);
  EXPECT_THROW(batch.step(actions), std::exception);
}

}  // namespace
