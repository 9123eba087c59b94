#include "replay.h"

#include <cstring>
#include <sstream>
#include <type_traits>

#include "engine/core/error.h"
#include "envs/common/json.h"
#include "envs/nmmo/realm.h"

namespace stackgrad::nmmo {

namespace {

static_assert(std::is_trivially_copyable_v<Config>, "the replay stores Config as raw bytes");

constexpr int kFieldsPerAction = 14;

std::array<int32_t, kFieldsPerAction - 1> fields_of(const AgentAction& a) {
  return {a.move,       a.attack_style, a.attack_target,    a.use_item,         a.destroy_item,
          a.give_item,  a.give_target,  a.give_gold_amount, a.give_gold_target, a.sell_item,
          a.sell_price, a.buy_item,     a.comm_token};
}

AgentAction action_of(const std::vector<int>& f) {
  AgentAction a;
  a.move = static_cast<int8_t>(f[1]);
  a.attack_style = static_cast<int8_t>(f[2]);
  a.attack_target = f[3];
  a.use_item = f[4];
  a.destroy_item = f[5];
  a.give_item = f[6];
  a.give_target = f[7];
  a.give_gold_amount = f[8];
  a.give_gold_target = f[9];
  a.sell_item = f[10];
  a.sell_price = f[11];
  a.buy_item = f[12];
  a.comm_token = static_cast<int16_t>(f[13]);
  return a;
}

// FNV-1a over the bytes of integral values, fed one by one (not whole structs: padding).
struct Hasher {
  uint64_t h = 1469598103934665603ull;
  template <class T>
  void add(T value) {
    static_assert(std::is_integral_v<T> || std::is_enum_v<T>);
    const auto v = static_cast<uint64_t>(static_cast<int64_t>(value));
    for (int k = 0; k < 8; ++k) {
      h ^= (v >> (8 * k)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  template <class T, size_t N>
  void add(const std::array<T, N>& values) {
    for (const T& v : values) add(v);
  }
};

void hash_entity(Hasher& h, const Entity& e) {
  h.add(e.id), h.add(e.npc_type), h.add(e.alive), h.add(e.row), h.add(e.col);
  h.add(e.spawn_row), h.add(e.spawn_col), h.add(e.health), h.add(e.food), h.add(e.water);
  h.add(e.gold), h.add(e.time_alive), h.add(e.damage), h.add(e.item_level);
  h.add(e.attacker_id), h.add(e.latest_combat_tick), h.add(e.message);
  h.add(e.level), h.add(e.exp);
  h.add(e.inventory.size());
  for (int32_t id : e.inventory) h.add(id);
  const Equipment& q = e.equipment;
  h.add(q.hat), h.add(q.top), h.add(q.bottom), h.add(q.held), h.add(q.ammunition);
  h.add(e.resilient), h.add(e.health_restore), h.add(e.go_farthest), h.add(e.killer_id);
  h.add(e.npc_style), h.add(e.npc_offense), h.add(e.npc_defense), h.add(e.npc_item_level);
  h.add(e.npc_target_id);
}

}  // namespace

ReplayWriter::ReplayWriter(const std::string& path, const Config& config, uint64_t seed, int map_id)
    : path_(path), out_(path) {
  SG_CHECK(out_.good(), "nmmo replay: cannot write '", path, "'");
  out_ << "{\"format\":\"nmmo-replay\",\"version\":1,\"seed\":\"" << seed
       << "\",\"map_id\":" << map_id << ",\"config\":" << config.to_json() << "}\n";
}

ReplayWriter::~ReplayWriter() {
  if (!closed_) out_.close();
}

void ReplayWriter::write_tick(std::span<const AgentAction> actions) {
  static const auto kDefault = fields_of(AgentAction{});
  out_ << '[';
  bool first = true;
  for (size_t i = 0; i < actions.size(); ++i) {
    const auto f = fields_of(actions[i]);
    if (f == kDefault) continue;
    out_ << (first ? "" : ",") << '[' << i + 1;
    for (int32_t v : f) out_ << ',' << v;
    out_ << ']';
    first = false;
  }
  out_ << "]\n";
  ++ticks_;
}

void ReplayWriter::close() {
  if (closed_) return;
  closed_ = true;
  out_.close();
  SG_CHECK(!out_.fail(), "nmmo replay: writing '", path_, "' failed");
}

Replay read_replay(const std::string& path) {
  std::ifstream in(path);
  SG_CHECK(in.good(), "nmmo replay: cannot open '", path, "'");
  std::string line;
  SG_CHECK(static_cast<bool>(std::getline(in, line)), "nmmo replay: '", path, "' is empty");
  const envs::JsonValue header = envs::parse_json(line, path + " line 1");
  SG_CHECK(header.has("format") && header.at("format").as_string("format") == "nmmo-replay",
           "nmmo replay: '", path, "' is not an nmmo replay (no \"format\":\"nmmo-replay\")");
  SG_CHECK(header.at("version").as_int("version") == 1, "nmmo replay: '", path,
           "': unsupported version ", header.at("version").as_int("version"));
  Replay r;
  const std::string& seed = header.at("seed").as_string("seed");
  try {
    size_t used = 0;
    r.seed = std::stoull(seed, &used);
    SG_CHECK(used == seed.size(), "");
  } catch (const std::exception&) {
    fail("nmmo replay: '", path, "': bad seed '", seed, "'");
  }
  r.map_id = static_cast<int>(header.at("map_id").as_int("map_id"));
  // Fields the file does not name keep their defaults, so older replays stay readable.
  r.config = Config::from_json(header.at("config"), path + ": config");
  r.config.validate();
  SG_CHECK(r.map_id >= 1 && r.map_id <= r.config.map_n, "nmmo replay: '", path, "': map id ",
           r.map_id, " outside [1, ", r.config.map_n, "]");

  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const std::string where = path + " line " + std::to_string(line_no);
    const envs::JsonValue tick = envs::parse_json(line, where);
    std::vector<AgentAction> actions(r.config.player_n);
    for (const envs::JsonValue& entry : tick.as_array(where)) {
      const std::vector<int> f = entry.as_int_vector(where);
      SG_CHECK(static_cast<int>(f.size()) == kFieldsPerAction, "nmmo replay: ", where,
               ": an action has ", f.size(), " numbers, expected ", kFieldsPerAction);
      SG_CHECK(f[0] >= 1 && f[0] <= r.config.player_n, "nmmo replay: ", where, ": player id ", f[0],
               " outside [1, ", r.config.player_n, "]");
      actions[f[0] - 1] = action_of(f);
    }
    r.ticks.push_back(std::move(actions));
  }
  SG_CHECK(static_cast<int>(r.ticks.size()) <= r.config.horizon, "nmmo replay: '", path, "' has ",
           r.ticks.size(), " ticks, more than the horizon ", r.config.horizon);
  return r;
}

World play_replay(const Replay& replay) {
  World world;
  world.config = replay.config;
  reset(world, replay.seed, replay.map_id);
  for (const auto& actions : replay.ticks) step(world, actions);
  return world;
}

uint64_t state_hash(const World& world) {
  Hasher h;
  h.add(world.tick), h.add(world.map_id);
  h.add(world.tiles.size());
  for (Material m : world.tiles) h.add(m);
  for (int32_t i : world.depleted) h.add(i);
  for (const Entity& p : world.players) hash_entity(h, p);
  h.add(world.npcs.size());
  for (const Entity& n : world.npcs) hash_entity(h, n);
  h.add(world.next_npc_id);
  for (double d : world.npc_respawn_dangers) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    h.add(bits);
  }
  h.add(world.items.size());
  for (const Item& it : world.items) {
    h.add(it.id), h.add(it.type), h.add(it.owner_id), h.add(it.level), h.add(it.capacity);
    h.add(it.quantity), h.add(it.attack), h.add(it.defense), h.add(it.health_restore);
    h.add(it.resource_restore), h.add(it.equipped), h.add(it.listed_price);
    h.add(it.listing_tick), h.add(it.alive);
  }
  for (int32_t id : world.market) h.add(id);
  h.add(world.events.size());
  for (const Event& e : world.events) {
    h.add(e.ent_id), h.add(e.tick), h.add(e.event), h.add(e.type), h.add(e.level);
    h.add(e.number), h.add(e.gold), h.add(e.target_ent);
  }
  Rng rng = world.rng;  // the stream's position, without disturbing it
  for (int k = 0; k < 4; ++k) h.add(rng.next());
  return h.h;
}

}  // namespace stackgrad::nmmo
