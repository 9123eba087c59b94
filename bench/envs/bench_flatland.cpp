// bench_flatland: steps per second of the C++ Flatland env on given level files, with random or
// greedy shortest-path actions (malfunctions from each level's parameters). Only env.step() is
// timed, as in bench/peers/flatland_python_bench.py, which runs this and flatland-rl 3.0.15
// interleaved and prints the ratios.
//
//   ./build/bench_flatland --policy random --seconds 1
//   tests/fixtures/flatland/round2/Test_4_Level_0.json.gz
//   ./build/bench_flatland --batch 16 --threads 2 --seconds 1 LEVEL...   (BatchEnv, random actions)
// Prints one JSON line: env_steps, agent_steps, seconds, env_steps_per_s, agent_steps_per_s.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "envs/flatland/batch_env.h"
#include "envs/flatland/level_io.h"
#include "envs/flatland/policies.h"

namespace fl = stackgrad::flatland;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::vector<std::string> files;
  std::string policy = "random";
  double seconds = 1.0;
  int batch = 0, threads = 1;
  uint64_t seed = 1;
  CLI::App app("bench_flatland: env steps per second of the C++ Flatland env", "bench_flatland");
  app.add_option("levels", files, "level files")->required();
  app.add_option("--policy", policy, "random or shortest")
      ->check(CLI::IsMember({"random", "shortest"}));
  app.add_option("--seconds", seconds, "stepping time per level (at least one episode)");
  app.add_option("--batch", batch, "step a BatchEnv of this many copies of each level instead");
  app.add_option("--threads", threads, "BatchEnv threads");
  app.add_option("--seed", seed, "seed of malfunctions and random actions");
  CLI11_PARSE(app, argc, argv);

  long long env_steps = 0, agent_steps = 0;
  double timed = 0.0;
  fl::Rng rng(seed);
  for (const std::string& file : files) {
    const fl::Level level = fl::load_level_file(file).level;
    if (batch > 0) {
      fl::BatchEnv envs(std::vector<fl::Level>(batch, level), {.num_threads = threads});
      envs.reset(seed);
      std::vector<int> actions(envs.total_agents());
      double spent = 0.0;
      while (spent < seconds) {
        for (int& a : actions) a = static_cast<int>(rng.randint(0, 5));
        const auto t0 = Clock::now();
        envs.step(actions);
        spent += std::chrono::duration<double>(Clock::now() - t0).count();
        env_steps += batch;
        agent_steps += envs.total_agents();
      }
      timed += spent;
      continue;
    }
    fl::RailEnv env(level);
    std::vector<int> actions(env.num_agents());
    double spent = 0.0;
    for (uint64_t episode = 0; episode == 0 || spent < seconds; ++episode) {
      env.reset(seed + episode);
      while (!env.done()) {
        for (int i = 0; i < env.num_agents(); ++i) {
          actions[i] = policy == "random" ? static_cast<int>(rng.randint(0, 5))
                                          : static_cast<int>(fl::shortest_path_action(env, i));
        }
        const auto t0 = Clock::now();
        env.step(actions);
        spent += std::chrono::duration<double>(Clock::now() - t0).count();
        ++env_steps;
        agent_steps += env.num_agents();
      }
    }
    timed += spent;
  }
  std::printf(
      "{\"policy\":\"%s\",\"batch\":%d,\"threads\":%d,\"env_steps\":%lld,\"agent_steps\":%lld,"
      "\"seconds\":%.6f,\"env_steps_per_s\":%.1f,\"agent_steps_per_s\":%.1f}\n",
      batch > 0 ? "random" : policy.c_str(), batch, threads, env_steps, agent_steps, timed,
      env_steps / timed, agent_steps / timed);
  return 0;
}
