// Level files: a Flatland level (grid, trains, timetable, malfunction settings) and, optionally,
// recorded episodes to replay, stored as JSON (gzip-compressed or plain).
//
// Format "flatland3-level/1" (tools/export_flatland_levels.py writes it):
//   {"name", "height", "width", "grid": [H*W uint16, row-major], "max_episode_steps",
//    "n_cities", "malfunction": {"rate", "min_duration", "max_duration"},
//    "agents": [{"initial_position": [r, c], "initial_direction", "target": [r, c], "speed",
//                "earliest_departure", "latest_arrival", "shortest_path_length"}],
//    "episodes": [{"policy", "malfunction_schedule": [[step, agent, duration]],
//                  "steps": [{"actions", "pos" (r*W+c or -1), "dir", "state", "reward", "done",
//                             "malfunction"}: one value per agent each]}]}
//
//   LevelFile f = load_level_file("tests/fixtures/flatland/r2t0_s1.json.gz");
//   RailEnv env(f.level);
//   env.reset(f.episodes[0].malfunction_schedule);
#pragma once

#include <string>
#include <vector>

#include "rail_env.h"

namespace stackgrad::flatland {

// One episode as flatland-rl played it: per step, the actions given and the outcome. Each
// per-step field is flattened [step * n_agents + agent].
struct RecordedEpisode {
  std::string policy;
  std::vector<MalfunctionEvent> malfunction_schedule;
  int num_steps = 0;
  std::vector<int> actions, position, direction, state, reward, done, malfunction;
};

struct LevelFile {
  Level level;
  std::vector<int> shortest_path_lengths;  // per agent from its start, as flatland computed them
  std::vector<RecordedEpisode> episodes;
};

// Reads a .json or .json.gz level file; throws stackgrad::Error naming the file and the field.
LevelFile load_level_file(const std::string& path);
LevelFile parse_level_file(const std::string& text, const std::string& what);

// Writes a level (no episodes) in the same format; gzip-compressed when `path` ends in ".gz".
std::string level_to_json(const Level& level);
void save_level_file(const std::string& path, const Level& level);

}  // namespace stackgrad::flatland
