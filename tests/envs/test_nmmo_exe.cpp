// The nmmo executable's command line: flag and file errors, a Small run with snapshots and a
// replay file, and --play reproducing the recorded episode's state hash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "support/run_program.h"

namespace fs = std::filesystem;

namespace {

const std::string kSmall = "--preset small --horizon 64";

int run_nmmo(const std::string& args, std::string& output) {
  return stackgrad::testing::run_program(STACKGRAD_NMMO_EXE, args, output);
}

std::string hash_in(const std::string& text) {
  static const std::regex re("state hash ([0-9a-f]{16})");
  std::smatch m;
  return std::regex_search(text, m, re) ? m[1].str() : "";
}

TEST(NmmoExecutable, FlagAndFileErrors) {
  std::string out;
  EXPECT_NE(run_nmmo("--policy teleport", out), 0);
  EXPECT_NE(out.find("--policy"), std::string::npos) << out;
  EXPECT_NE(run_nmmo("--episodes 0", out), 0);
  EXPECT_NE(out.find("--episodes"), std::string::npos) << out;
  EXPECT_NE(run_nmmo("--map-size 33 --agents 4", out), 0);  // odd map_center
  EXPECT_NE(out.find("map_center"), std::string::npos) << out;
  EXPECT_EQ(run_nmmo(kSmall + " --episodes 2 --replay /tmp/x.nmmo", out), 1);
  EXPECT_NE(out.find("--episodes 1"), std::string::npos) << out;
  EXPECT_EQ(run_nmmo("--play /nonexistent/ep.nmmo", out), 1);
  EXPECT_NE(out.find("cannot open '/nonexistent/ep.nmmo'"), std::string::npos) << out;
  EXPECT_EQ(run_nmmo(kSmall + " --replay /nonexistent/dir/ep.nmmo", out), 1);
  EXPECT_NE(out.find("cannot write"), std::string::npos) << out;
  EXPECT_EQ(run_nmmo(kSmall + " --tasks /nonexistent/tasks.json", out), 1);
  EXPECT_NE(out.find("/nonexistent/tasks.json"), std::string::npos) << out;
  EXPECT_EQ(run_nmmo("--eval --tasks /tmp/t.json", out), 1);
  EXPECT_NE(out.find("do not give --tasks"), std::string::npos) << out;
  EXPECT_EQ(run_nmmo(kSmall + " --config /nonexistent/c.json", out), 1);
  EXPECT_NE(out.find("cannot open '/nonexistent/c.json'"), std::string::npos) << out;
  EXPECT_EQ(run_nmmo("--help", out), 0);
  for (const char* flag :
       {"--map-size", "--agents", "--npcs", "--horizon", "--policy", "--tasks", "--eval",
        "--episodes", "--seed", "--render", "--replay", "--play", "--threads"}) {
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
  }
}

TEST(NmmoExecutable, ConfigFileSetsFieldsAndFlagsOverrideIt) {
  const fs::path path =
      fs::temp_directory_path() / ("nmmo_cli_config_" + std::to_string(getpid()) + ".json");
  std::ofstream(path) << R"({"npc_n": 0, "horizon": 12, "player_n": 16})";
  std::string out;
  ASSERT_EQ(run_nmmo("--preset small --config " + path.string() + " --agents 8", out), 0) << out;
  EXPECT_NE(out.find("8 players, 0 NPCs, horizon 12"), std::string::npos) << out;
  std::ofstream(path) << R"({"npcs": 0})";
  EXPECT_EQ(run_nmmo("--preset small --config " + path.string(), out), 1);
  EXPECT_NE(out.find("unknown configuration field 'npcs'"), std::string::npos) << out;
  fs::remove(path);
}

TEST(NmmoExecutable, SmallRunWritesSnapshotsAndAReplayThatPlaysBack) {
  const std::string tag = std::to_string(getpid());
  const fs::path dir = fs::temp_directory_path() / ("nmmo_cli_frames_" + tag);
  const fs::path replay = fs::temp_directory_path() / ("nmmo_cli_" + tag + ".nmmo");
  fs::remove_all(dir);
  std::string out;
  ASSERT_EQ(run_nmmo(kSmall + " --policy mixed --seed 3 --render " + dir.string() +
                         " --render-every 32 --tile-px 2 --replay " + replay.string(),
                     out),
            0)
      << out;
  EXPECT_NE(out.find("survival: mean lifetime"), std::string::npos) << out;
  EXPECT_NE(out.find("episode 0 (seed 3"), std::string::npos) << out;
  int frames = 0;
  for (const auto& e : fs::directory_iterator(dir)) frames += e.path().extension() == ".png";
  EXPECT_GE(frames, 2);  // ticks 0, 32 and the last
  const std::string recorded = hash_in(out);
  ASSERT_FALSE(recorded.empty()) << out;
  ASSERT_EQ(run_nmmo("--play " + replay.string(), out), 0) << out;
  EXPECT_EQ(hash_in(out), recorded) << out;

  // Two episodes on two threads print the same per-episode lines as on one.
  std::string one, two;
  ASSERT_EQ(run_nmmo(kSmall + " --policy fighter --episodes 2 --threads 1", one), 0) << one;
  ASSERT_EQ(run_nmmo(kSmall + " --policy fighter --episodes 2 --threads 2", two), 0) << two;
  auto lines_of = [](const std::string& text) {
    std::vector<std::string> lines;
    std::stringstream ss(text);
    for (std::string line; std::getline(ss, line);) {
      if (line.rfind("episode", 0) == 0) lines.push_back(line.substr(0, line.rfind(',')));
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  EXPECT_EQ(lines_of(one).size(), 2u) << one;
  EXPECT_EQ(lines_of(one), lines_of(two));
  fs::remove_all(dir);
  fs::remove(replay);
}

TEST(NmmoExecutable, TaskFileAndEvaluationReportCompletionAndScore) {
  const fs::path tasks =
      fs::temp_directory_path() / ("nmmo_cli_tasks_" + std::to_string(getpid()) + ".json");
  std::ofstream(tasks) << R"({"task_specs": [
    {"predicate": {"fn": "TickGE", "kwargs": {"num_tick": 8}}},
    {"predicate": {"fn": "CountEvent", "kwargs": {"event": "GO_FARTHEST", "N": 64}}}]})";
  std::string out;
  ASSERT_EQ(run_nmmo(kSmall + " --policy forager --tasks " + tasks.string(), out), 0) << out;
  // 64 agents, each with one of the two specs; TickGE(8) is completed by everybody alive at 8.
  EXPECT_NE(out.find("tasks: 64 assigned (2 of 2 specs played)"), std::string::npos) << out;
  EXPECT_NE(out.find("weighted task score"), std::string::npos) << out;  // eval categories
  std::ofstream(tasks) << "{\"task_specs\": [{\"predicate\": {\"fn\": \"Teleport\"}}]}";
  EXPECT_EQ(run_nmmo(kSmall + " --tasks " + tasks.string(), out), 1);
  EXPECT_NE(out.find("Teleport"), std::string::npos) << out;
  fs::remove(tasks);

  // The evaluation protocol, cut to 16 ticks: 128 agents in 16 teams, all 63 tasks played.
  ASSERT_EQ(run_nmmo("--eval --horizon 16 --episodes 1", out), 0) << out;
  EXPECT_NE(out.find("128 players"), std::string::npos) << out;
  EXPECT_NE(out.find("tasks: 128 assigned (63 of 63 specs played)"), std::string::npos) << out;
  EXPECT_NE(out.find("weighted task score"), std::string::npos) << out;
  EXPECT_NE(out.find("survival"), std::string::npos) << out;
}

}  // namespace
