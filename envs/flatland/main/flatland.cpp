// flatland: plays Flatland 3 levels with a built-in policy and reports arrivals and the
// challenge's normalised score per episode.
//
//   ./build/flatland --level tests/fixtures/flatland/round2/Test_0_Level_0.json.gz --policy planner
//   ./build/flatland --levels tests/fixtures/flatland/round2 --policy planner --malfunctions on
//   ./build/flatland --generate --width 30 --height 30 --agents 7 --cities 2 --seed 1
//       --render /tmp/frames --render-every 10   (one command)
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "envs/flatland/level_io.h"
#include "envs/flatland/planner.h"
#include "envs/flatland/policies.h"
#include "envs/flatland/render.h"
#include "envs/flatland/sparse_generator.h"

namespace fl = stackgrad::flatland;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string level, levels_dir, policy = "planner", render_dir, out;
  bool generate = false;
  int width = 30, height = 30, agents = 7, cities = 2;
  int episodes = 1, render_every = 1, cell_px = 16, orderings = fl::kNumOrderings;
  uint64_t seed = 1;
  std::string malfunctions = "on";
  std::string tests;  // --levels: only these test numbers, e.g. "0-4" or "0,2"
};

struct EpisodeResult {
  int arrived = 0, agents = 0, steps = 0, replans = 0;
  double score = 0.0, seconds = 0.0;
};

// One episode of `policy` on `level`; malfunctions from the level's parameters when on.
EpisodeResult play(const fl::Level& level, const Options& o, uint64_t seed,
                   const std::string& tag) {
  fl::Level copy = level;
  if (o.malfunctions == "off") copy.malfunction = {};
  fl::RailEnv env(std::move(copy));
  env.reset(seed);
  fl::Planner planner({.orderings = o.orderings});
  fl::Rng rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<int> actions(env.num_agents(), 0);
  const auto t0 = std::chrono::steady_clock::now();
  if (o.policy == "planner") planner.reset(env);
  auto snapshot = [&] {
    if (o.render_dir.empty() || env.elapsed_steps() % o.render_every != 0) return;
    char name[64];
    std::snprintf(name, sizeof name, "%s_%05d.png", tag.c_str(), env.elapsed_steps());
    fl::write_png(fl::render(env, {.cell_px = o.cell_px}),
                  (fs::path(o.render_dir) / name).string());
  };
  snapshot();
  while (!env.done()) {
    if (o.policy == "planner") {
      planner.act(env, actions);
    } else if (o.policy == "shortest") {
      for (int i = 0; i < env.num_agents(); ++i) actions[i] = int(fl::shortest_path_action(env, i));
    } else {
      for (int& a : actions) a = static_cast<int>(rng.randint(0, fl::kNumActions));
    }
    env.step(actions);
    snapshot();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {env.num_arrived(),       env.num_agents(),       env.elapsed_steps(),
          planner.stats().replans, env.normalized_score(), seconds};
}

// "Test_3_Level_7.json.gz" -> 3; -1 when the name does not say.
int test_of(const std::string& file) {
  static const std::regex re(R"(Test_(\d+)_)");
  std::smatch m;
  return std::regex_search(file, m, re) ? std::stoi(m[1]) : -1;
}

// "0-4" or "0,2,5-7" -> wanted[test]; empty text -> empty (every test).
std::vector<bool> parse_tests(const std::string& text) {
  std::vector<bool> wanted;
  if (text.empty()) return wanted;
  static const std::regex re(R"((\d+)(?:-(\d+))?)");
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    std::smatch m;
    SG_CHECK(std::regex_match(part, m, re), "--tests: expected e.g. 0-4 or 0,2,5, got '", text,
             "'");
    const int lo = std::stoi(m[1]), hi = m[2].matched ? std::stoi(m[2]) : lo;
    SG_CHECK(lo <= hi && hi < 1000, "--tests: bad range '", part, "'");
    if (static_cast<int>(wanted.size()) <= hi) wanted.resize(hi + 1, false);
    for (int t = lo; t <= hi; ++t) wanted[t] = true;
    start = comma + 1;
  }
  return wanted;
}

int run(const Options& o) {
  SG_CHECK(o.policy == "planner" || o.policy == "shortest" || o.policy == "random",
           "--policy must be planner, shortest or random, got '", o.policy, "'");
  SG_CHECK(o.malfunctions == "on" || o.malfunctions == "off",
           "--malfunctions must be on or off, got '", o.malfunctions, "'");
  const int sources = !o.level.empty() + !o.levels_dir.empty() + o.generate;
  SG_CHECK(sources == 1, "give exactly one of --level FILE, --levels DIR, --generate (got ",
           sources, ")");
  if (!o.render_dir.empty()) fs::create_directories(o.render_dir);
  std::unique_ptr<std::ofstream> out;
  if (!o.out.empty()) {
    out = std::make_unique<std::ofstream>(o.out);
    SG_CHECK(out->good(), "--out: cannot write '", o.out, "'");
  }
  std::vector<std::pair<std::string, fl::Level>> levels;
  if (o.generate) {
    fl::Rng rng(o.seed);
    fl::Level level = fl::generate_sparse_level(
        {.width = o.width, .height = o.height, .max_num_cities = o.cities}, o.agents, rng);
    level.name = "generated_s" + std::to_string(o.seed);
    levels.emplace_back(level.name, std::move(level));
  } else if (!o.level.empty()) {
    levels.emplace_back(fs::path(o.level).filename().string(), fl::load_level_file(o.level).level);
  } else {
    SG_CHECK(fs::is_directory(o.levels_dir), "--levels: '", o.levels_dir, "' is not a directory");
    std::vector<std::string> files;
    const std::vector<bool> wanted = parse_tests(o.tests);
    for (const auto& e : fs::directory_iterator(o.levels_dir)) {
      const std::string name = e.path().filename().string();
      if (!name.ends_with(".json") && !name.ends_with(".json.gz")) continue;
      const int test = test_of(name);
      if (!wanted.empty() && (test < 0 || test >= static_cast<int>(wanted.size()) || !wanted[test]))
        continue;
      files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    SG_CHECK(!files.empty(), "--levels: no .json or .json.gz files in '", o.levels_dir, "'");
    for (const auto& f : files)
      levels.emplace_back(fs::path(f).filename().string(), fl::load_level_file(f).level);
  }

  struct Sum {
    double score = 0, arrived = 0, seconds = 0;
    int n = 0;
  };
  std::map<int, Sum> per_test;
  std::printf("%-28s %3s %7s %8s %6s %8s %7s\n", "level", "ep", "arrived", "score", "steps",
              "seconds", "replans");
  for (const auto& [name, level] : levels) {
    for (int ep = 0; ep < o.episodes; ++ep) {
      const uint64_t seed = o.seed + ep;
      std::string tag = name.substr(0, name.find('.')) + "_ep" + std::to_string(ep);
      const EpisodeResult r = play(level, o, seed, tag);
      std::printf("%-28s %3d %3d/%-3d %8.4f %6d %8.3f %7d\n", name.c_str(), ep, r.arrived, r.agents,
                  r.score, r.steps, r.seconds, r.replans);
      std::fflush(stdout);  // long runs: show progress when redirected
      if (out) {
        *out << "{\"level\":\"" << name << "\",\"episode\":" << ep << ",\"seed\":" << seed
             << ",\"policy\":\"" << o.policy << "\",\"malfunctions\":\"" << o.malfunctions
             << "\",\"agents\":" << r.agents << ",\"arrived\":" << r.arrived
             << ",\"normalized_score\":" << r.score << ",\"steps\":" << r.steps
             << ",\"seconds\":" << r.seconds << ",\"replans\":" << r.replans << "}\n";
      }
      Sum& s = per_test[test_of(name)];
      s.score += r.score;
      s.arrived += double(r.arrived) / r.agents;
      s.seconds += r.seconds;
      ++s.n;
    }
  }
  if (!o.levels_dir.empty()) {
    std::printf(
        "\n| test | episodes | mean normalised score | arrival %% | seconds "
        "|\n|---|---|---|---|---|\n");
    for (const auto& [test, s] : per_test) {
      std::printf("| %s | %d | %.3f | %.1f | %.2f |\n",
                  test < 0 ? "other" : std::to_string(test).c_str(), s.n, s.score / s.n,
                  100.0 * s.arrived / s.n, s.seconds);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("flatland: play Flatland 3 levels with a planner or a simple policy", "flatland");
  app.add_option("--level", o.level, "a level file (.json or .json.gz)");
  app.add_option("--levels", o.levels_dir,
                 "run every level file in this directory; per-test table");
  app.add_option("--tests", o.tests, "--levels: only Test_<t>_ files with t in e.g. 0-4 or 0,2,5");
  app.add_flag("--generate", o.generate, "generate a level with the sparse generator");
  app.add_option("--width", o.width, "--generate: grid width")->check(CLI::Range(8, 1000));
  app.add_option("--height", o.height, "--generate: grid height")->check(CLI::Range(8, 1000));
  app.add_option("--agents", o.agents, "--generate: trains")->check(CLI::Range(1, 10000));
  app.add_option("--cities", o.cities, "--generate: cities at most")->check(CLI::Range(2, 1000));
  app.add_option("--policy", o.policy, "planner, shortest or random")
      ->check(CLI::IsMember({"planner", "shortest", "random"}))
      ->capture_default_str();
  app.add_option("--episodes", o.episodes, "episodes per level")->check(CLI::Range(1, 100000));
  app.add_option("--seed", o.seed, "seed of the generator, malfunctions and random policy")
      ->capture_default_str();
  app.add_option("--malfunctions", o.malfunctions,
                 "on: the level's malfunction parameters; off: none")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--render", o.render_dir, "write PNG snapshots into this directory");
  app.add_option("--render-every", o.render_every, "steps between snapshots")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--cell-px", o.cell_px, "pixels per grid cell in snapshots")
      ->check(CLI::Range(4, 64));
  app.add_option("--orderings", o.orderings, "planner: priority orders tried at the start (1-4)")
      ->check(CLI::Range(1, fl::kNumOrderings))
      ->capture_default_str();
  app.add_option("--out", o.out, "metrics JSON lines, one per episode");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flatland: error: %s\n", e.what());
    return 1;
  }
}
