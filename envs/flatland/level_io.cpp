#include "level_io.h"

#include <zlib.h>

#include <cstdio>
#include <cstdlib>

#include "engine/core/error.h"
#include "envs/common/json.h"

namespace stackgrad::flatland {

using envs::JsonValue;
using envs::parse_json;

namespace {

std::string read_maybe_gzipped(const std::string& path) {
  // gzread passes plain files through unchanged, so one reader serves both.
  gzFile f = gzopen(path.c_str(), "rb");
  SG_CHECK(f != nullptr, "load_level_file: cannot open ", path);
  std::string text;
  char buf[1 << 16];
  int got;
  while ((got = gzread(f, buf, sizeof buf)) > 0) text.append(buf, got);
  int errnum = 0;
  const char* msg = gzerror(f, &errnum);
  const std::string message = msg ? msg : "";
  gzclose(f);
  SG_CHECK(got == 0 && errnum == Z_OK, "load_level_file: ", path, ": read error: ", message);
  return text;
}

GridPos read_pos(const JsonValue& v, const std::string& what) {
  const std::vector<int> rc = v.as_int_vector(what);
  SG_CHECK(rc.size() == 2, what, ": expected [row, col], got ", rc.size(), " values");
  return {rc[0], rc[1]};
}

// Per-step arrays must have one value per agent.
void append_row(std::vector<int>& out, const JsonValue& step, const char* key, int n,
                const std::string& what) {
  const std::vector<int> row = step.at(key).as_int_vector(key);
  SG_CHECK(static_cast<int>(row.size()) == n, what, ": '", key, "' has ", row.size(),
           " values, expected ", n);
  out.insert(out.end(), row.begin(), row.end());
}

}  // namespace

LevelFile parse_level_file(const std::string& text, const std::string& what) {
  const JsonValue doc = parse_json(text, what);
  LevelFile out;
  Level& level = out.level;
  level.name = doc.has("name") ? doc.at("name").as_string("name") : what;
  const int h = static_cast<int>(doc.at("height").as_int("height"));
  const int w = static_cast<int>(doc.at("width").as_int("width"));
  std::vector<uint16_t> cells;
  for (int v : doc.at("grid").as_int_vector("grid")) {
    SG_CHECK(v >= 0 && v <= 0xFFFF, what, ": grid value ", v, " is not a 16-bit cell");
    cells.push_back(static_cast<uint16_t>(v));
  }
  SG_CHECK(static_cast<int>(cells.size()) == h * w, what, ": grid has ", cells.size(),
           " cells, expected ", h, "x", w, " = ", h * w);
  level.grid = RailGrid(h, w, std::move(cells));
  level.max_episode_steps =
      static_cast<int>(doc.at("max_episode_steps").as_int("max_episode_steps"));
  if (doc.has("n_cities") && !doc.at("n_cities").is_null()) {
    level.n_cities = static_cast<int>(doc.at("n_cities").as_int("n_cities"));
  }
  if (doc.has("malfunction")) {
    const JsonValue& m = doc.at("malfunction");
    level.malfunction.rate = m.at("rate").as_double("malfunction.rate");
    level.malfunction.min_duration = static_cast<int>(m.at("min_duration").as_int("min_duration"));
    level.malfunction.max_duration = static_cast<int>(m.at("max_duration").as_int("max_duration"));
  }
  for (const JsonValue& a : doc.at("agents").as_array("agents")) {
    AgentSpec s;
    s.initial_position = read_pos(a.at("initial_position"), what + ": initial_position");
    s.initial_direction = static_cast<int>(a.at("initial_direction").as_int("initial_direction"));
    s.target = read_pos(a.at("target"), what + ": target");
    s.speed = a.at("speed").as_double("speed");
    s.earliest_departure =
        static_cast<int>(a.at("earliest_departure").as_int("earliest_departure"));
    s.latest_arrival = static_cast<int>(a.at("latest_arrival").as_int("latest_arrival"));
    level.agents.push_back(s);
    out.shortest_path_lengths.push_back(
        a.has("shortest_path_length")
            ? static_cast<int>(a.at("shortest_path_length").as_int("shortest_path_length"))
            : -1);
  }
  const int n = static_cast<int>(level.agents.size());
  if (!doc.has("episodes")) return out;
  for (const JsonValue& e : doc.at("episodes").as_array("episodes")) {
    RecordedEpisode ep;
    ep.policy = e.at("policy").as_string("policy");
    for (const JsonValue& m : e.at("malfunction_schedule").as_array("malfunction_schedule")) {
      const std::vector<int> v = m.as_int_vector("malfunction_schedule");
      SG_CHECK(v.size() == 3, what, ": malfunction_schedule entries are [step, agent, duration]");
      ep.malfunction_schedule.push_back({v[0], v[1], v[2]});
    }
    const std::string where = what + ": episode '" + ep.policy + "'";
    for (const JsonValue& s : e.at("steps").as_array("steps")) {
      append_row(ep.actions, s, "actions", n, where);
      append_row(ep.position, s, "pos", n, where);
      append_row(ep.direction, s, "dir", n, where);
      append_row(ep.state, s, "state", n, where);
      append_row(ep.reward, s, "reward", n, where);
      append_row(ep.done, s, "done", n, where);
      append_row(ep.malfunction, s, "malfunction", n, where);
      ++ep.num_steps;
    }
    out.episodes.push_back(std::move(ep));
  }
  return out;
}

LevelFile load_level_file(const std::string& path) {
  return parse_level_file(read_maybe_gzipped(path), path);
}

namespace {
// Shortest text that reads back to the same double (what Python's repr writes).
std::string number_text(double d) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}
}  // namespace

std::string level_to_json(const Level& level) {
  std::string out = "{\"format\":\"flatland3-level/1\",\"name\":\"";
  for (char c : level.name) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out += "\",\"height\":" + std::to_string(level.grid.height()) +
         ",\"width\":" + std::to_string(level.grid.width()) + ",\"grid\":[";
  for (size_t i = 0; i < level.grid.cells().size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(level.grid.cells()[i]);
  }
  out += "],\"max_episode_steps\":" + std::to_string(level.max_episode_steps) +
         ",\"n_cities\":" + std::to_string(level.n_cities) +
         ",\"malfunction\":{\"rate\":" + number_text(level.malfunction.rate) +
         ",\"min_duration\":" + std::to_string(level.malfunction.min_duration) +
         ",\"max_duration\":" + std::to_string(level.malfunction.max_duration) + "},\"agents\":[";
  for (size_t i = 0; i < level.agents.size(); ++i) {
    const AgentSpec& a = level.agents[i];
    if (i > 0) out.push_back(',');
    out += "{\"initial_position\":[" + std::to_string(a.initial_position.row) + "," +
           std::to_string(a.initial_position.col) +
           "],\"initial_direction\":" + std::to_string(a.initial_direction) + ",\"target\":[" +
           std::to_string(a.target.row) + "," + std::to_string(a.target.col) +
           "],\"speed\":" + number_text(a.speed) +
           ",\"earliest_departure\":" + std::to_string(a.earliest_departure) +
           ",\"latest_arrival\":" + std::to_string(a.latest_arrival) + "}";
  }
  out += "]}\n";
  return out;
}

void save_level_file(const std::string& path, const Level& level) {
  const std::string text = level_to_json(level);
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb9");
    SG_CHECK(f != nullptr, "save_level_file: cannot open ", path);
    const int written = gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    const int closed = gzclose(f);
    SG_CHECK(written == static_cast<int>(text.size()) && closed == Z_OK, "save_level_file: ", path,
             ": write error");
    return;
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  SG_CHECK(f != nullptr, "save_level_file: cannot open ", path);
  const size_t written = std::fwrite(text.data(), 1, text.size(), f);
  const int closed = std::fclose(f);
  SG_CHECK(written == text.size() && closed == 0, "save_level_file: ", path, ": write error");
}

}  // namespace stackgrad::flatland
