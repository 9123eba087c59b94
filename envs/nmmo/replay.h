// Replay files: everything needed to play an episode again bit for bit, i.e. the configuration,
// the seed, the map id and every tick's actions (the rules are deterministic given these).
// JSON lines: a header line, then one line per tick listing the players whose action was not
// the default one:
//
//   {"format":"nmmo-replay","version":1,"seed":"1","map_id":2,
//    "config":{"horizon":128,"player_n":64,...every field of Config...}}
//   [[5,0,-1,0,0,0,0,0,0,0,0,0,0,-1],[9,2,1,-3,0,0,0,0,0,0,0,0,0,-1]]    (tick 1)
//   ...
// Each entry is [player id, move, attack_style, attack_target, use_item, destroy_item,
// give_item, give_target, give_gold_amount, give_gold_target, sell_item, sell_price, buy_item,
// comm_token]. The configuration is stored field by field (Config::to_json; doubles in their
// shortest exact form), so it round-trips exactly; a field that a later build adds keeps its
// default when an older file is read.
//
//   ReplayWriter out("/tmp/ep.nmmo", world.config, seed, map_id);
//   ... out.write_tick(actions);  after each step
//   Replay r = read_replay("/tmp/ep.nmmo");
//   World w = play_replay(r);     // state_hash(w) == state_hash of the recorded episode
#pragma once

#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

struct Replay {
  Config config;
  uint64_t seed = 0;
  int map_id = 1;
  std::vector<std::vector<AgentAction>> ticks;  // ticks[t][id - 1], config.player_n entries
};

class ReplayWriter {
 public:
  // Throws stackgrad::Error when the file cannot be written.
  ReplayWriter(const std::string& path, const Config& config, uint64_t seed, int map_id);
  ~ReplayWriter();
  void write_tick(std::span<const AgentAction> actions);
  // Flushes; throws stackgrad::Error when writing failed. The destructor closes silently.
  void close();

 private:
  std::string path_;
  std::ofstream out_;
  int ticks_ = 0;
  bool closed_ = false;
};

// Throws stackgrad::Error naming the file and line for a missing file or a malformed line.
Replay read_replay(const std::string& path);

// Resets a world from the replay and steps it through every recorded tick.
World play_replay(const Replay& replay);

// A 64-bit FNV-1a hash of the whole state: tick, map, players, NPCs, items, market, events and
// the world's random stream.
uint64_t state_hash(const World& world);

}  // namespace stackgrad::nmmo
