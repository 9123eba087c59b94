// Episode start and the tick loop of Neural MMO 2.0 (spec A3.1, A4): the systems themselves
// are in skills.cpp (A6, A7), combat.cpp (A5) and npc.cpp (A3.2); this file puts them in
// nmmo's order and carries out the players' actions by priority.
#include "realm.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "envs/nmmo/items.h"
#include "envs/nmmo/rules.h"
#include "envs/nmmo/terrain.h"

namespace stackgrad::nmmo {

namespace {

// numpy's shuffle: Fisher-Yates from the back.
template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1], v[static_cast<size_t>(rng.randint(0, static_cast<int64_t>(i)))]);
  }
}

// The 4 * map_center tiles of the ring at Chebyshev distance map_center / 2 from the centre,
// in nmmo's get_edge_tiles order (side by side, so the corner (B, B) appears twice and the
// opposite corner not at all) (A3.1).
std::vector<std::pair<int, int>> edge_tiles(const Config& c) {
  const int low = c.map_border, high = c.map_border + c.map_center;
  std::vector<std::pair<int, int>> tiles;
  tiles.reserve(4 * static_cast<size_t>(c.map_center));
  for (int i = low; i < high; ++i) tiles.emplace_back(low, i);
  for (int i = low; i < high; ++i) tiles.emplace_back(i, high);
  for (int i = high - 1; i >= low; --i) tiles.emplace_back(high, i);
  for (int i = high - 1; i >= low; --i) tiles.emplace_back(i, low);
  return tiles;
}

void spawn_players(World& world) {
  const Config& c = world.config;
  std::vector<std::pair<int, int>> spawns = edge_tiles(c);
  SG_CHECK(c.player_n <= static_cast<int>(spawns.size()), "nmmo::reset: player_n (", c.player_n,
           ") exceeds the ", spawns.size(), " edge tiles of a map_center of ", c.map_center);
  shuffle(spawns, world.rng);

  // Python's round() rounds halves to even, as nearbyint does in the default rounding mode.
  const int num_resilient =
      static_cast<int>(std::nearbyint(c.resource_resilient_population * c.player_n));
  std::vector<char> resilient(c.player_n, 0);
  for (int i = 0; i < num_resilient; ++i) resilient[i] = c.resource_damage_reduction > 0;
  shuffle(resilient, world.rng);

  world.players.assign(c.player_n, Entity{});
  for (int i = 0; i < c.player_n; ++i) {
    Entity& p = world.players[i];
    p.id = i + 1;
    p.npc_type = NpcType::kPlayer;
    p.row = p.spawn_row = static_cast<int16_t>(spawns[i].first);
    p.col = p.spawn_col = static_cast<int16_t>(spawns[i].second);
    p.health = static_cast<int16_t>(c.player_base_health);
    p.food = p.water = static_cast<int16_t>(c.resource_base);
    p.gold = c.exchange_base_gold;
    p.level.fill(static_cast<int16_t>(c.progression_base_level));
    p.resilient = resilient[i] != 0;
  }
}

bool live_item(const World& world, int32_t id) {
  return id > 0 && id <= static_cast<int32_t>(world.items.size()) && world.item(id).alive;
}

// A live player other than `self`, for Give and GiveGold.
Entity* live_player(World& world, int32_t id) {
  if (id <= 0) return nullptr;
  Entity* e = world.entity(id);
  return e != nullptr && e->alive ? e : nullptr;
}

void check_action(const AgentAction& a, int player_id, const Config& c) {
  SG_CHECK(a.move >= -1 && a.move <= 4, "nmmo::step: player ", player_id,
           "'s move must be -1 (none) or a Direction 0..4, got ", static_cast<int>(a.move));
  SG_CHECK(a.attack_style >= -1 && a.attack_style < kNumStyles, "nmmo::step: player ", player_id,
           "'s attack_style must be -1 (none) or a Style 0..2, got ",
           static_cast<int>(a.attack_style));
  SG_CHECK(a.comm_token >= -1 && a.comm_token < c.communication_num_tokens, "nmmo::step: player ",
           player_id, "'s comm_token must be -1 (none) or in [0, ", c.communication_num_tokens,
           "), got ", a.comm_token);
}

// A4 step 5: every action type in priority order; within one, players by id, then NPCs.
void execute_actions(World& world, std::span<const AgentAction> actions,
                     const std::vector<rules::NpcDecision>& npc_actions) {
  std::vector<Entity>& players = world.players;
  const size_t n = players.size();

  // Use (10).
  for (size_t i = 0; i < n; ++i) {
    if (players[i].alive && live_item(world, actions[i].use_item)) {
      use_item(world, players[i], actions[i].use_item);
    }
  }
  // Buy (20), the only priority nmmo shuffles.
  std::vector<int> buyers;
  for (size_t i = 0; i < n; ++i) {
    if (players[i].alive && actions[i].buy_item != 0) buyers.push_back(static_cast<int>(i));
  }
  shuffle(buyers, world.rng);
  for (int i : buyers) {
    if (players[i].alive && live_item(world, actions[i].buy_item)) {
      buy_item(world, players[i], actions[i].buy_item);
    }
  }
  // Give and GiveGold (30): per player in its action dict's order, Give first.
  for (size_t i = 0; i < n; ++i) {
    const AgentAction& a = actions[i];
    if (players[i].alive && live_item(world, a.give_item)) {
      Entity* target = live_player(world, a.give_target);
      if (target != nullptr && target != &players[i]) {
        give_item(world, players[i], *target, a.give_item);
      }
    }
    if (players[i].alive && a.give_gold_amount > 0) {
      Entity* target = live_player(world, a.give_gold_target);
      if (target != nullptr && target != &players[i]) {
        give_gold(world, players[i], *target, a.give_gold_amount);
      }
    }
  }
  // Destroy (40).
  for (size_t i = 0; i < n; ++i) {
    if (players[i].alive && live_item(world, actions[i].destroy_item)) {
      destroy_action(world, players[i], actions[i].destroy_item);
    }
  }
  // Attack (50).
  for (size_t i = 0; i < n; ++i) {
    const AgentAction& a = actions[i];
    if (players[i].alive && a.attack_style >= 0 && a.attack_target != 0) {
      rules::attack(world, players[i], static_cast<Style>(a.attack_style), a.attack_target);
    }
  }
  for (size_t k = 0; k < npc_actions.size(); ++k) {
    const rules::NpcDecision& d = npc_actions[k];
    if (world.npcs[k].alive && d.attack_style >= 0) {
      rules::attack(world, world.npcs[k], static_cast<Style>(d.attack_style), d.attack_target);
    }
  }
  // Move (60).
  for (size_t i = 0; i < n; ++i) {
    if (players[i].alive && actions[i].move >= 0) {
      rules::move_entity(world, players[i], static_cast<Direction>(actions[i].move));
    }
  }
  for (size_t k = 0; k < npc_actions.size(); ++k) {
    if (world.npcs[k].alive && npc_actions[k].move >= 0) {
      rules::move_entity(world, world.npcs[k], static_cast<Direction>(npc_actions[k].move));
    }
  }
  // Sell (70).
  for (size_t i = 0; i < n; ++i) {
    const AgentAction& a = actions[i];
    if (players[i].alive && a.sell_price > 0 && live_item(world, a.sell_item)) {
      sell_item(world, players[i], a.sell_item, a.sell_price);
    }
  }
  // Comm (99).
  if (world.config.communication) {
    for (size_t i = 0; i < n; ++i) {
      if (players[i].alive && actions[i].comm_token >= 0) {
        players[i].message = actions[i].comm_token;
      }
    }
  }
}

// A4 step 6: dead players keep their row with alive = false and lose what is left of their
// inventory (starvation and fog have no looter); dead NPCs leave and queue their spawn danger.
void cull(World& world) {
  for (Entity& p : world.players) {
    if (p.alive) continue;
    while (!p.inventory.empty()) destroy_item(world, p.inventory.back());
  }
  size_t kept = 0;
  for (size_t k = 0; k < world.npcs.size(); ++k) {
    Entity& npc = world.npcs[k];
    if (npc.alive) {
      if (kept != k) world.npcs[kept] = std::move(npc);
      ++kept;
    } else {
      world.npc_respawn_dangers.push_back(danger(world.config, npc.spawn_row, npc.spawn_col));
    }
  }
  world.npcs.resize(kept);
  rules::spawn_npcs(world);
}

}  // namespace

namespace rules {

void move_entity(World& world, Entity& entity, Direction direction) {
  const int d = static_cast<int>(direction);
  const int r = entity.row + kDirRow[d], c = entity.col + kDirCol[d];
  if (!world.in_bounds(r, c) || !is_habitable(world.material(r, c))) return;
  entity.row = static_cast<int16_t>(r);
  entity.col = static_cast<int16_t>(c);
  // A10: progress towards the centre, logged whenever a player beats its own record.
  const Config& cfg = world.config;
  const int half = cfg.map_center / 2, centre = cfg.map_border + half;
  const int progress = half - chebyshev(centre, centre, r, c);
  if (progress > entity.go_farthest) {
    entity.go_farthest = progress;
    if (entity.is_player()) {
      Event e = make_event(world, entity, EventCode::kGoFarthest);
      e.number = progress;
      world.log(e);
    }
  }
}

}  // namespace rules

void reset(World& world, uint64_t seed, int map_id) {
  const Config& c = world.config;
  c.validate();
  SG_CHECK(map_id >= 1 && map_id <= c.map_n, "nmmo::reset: map_id must be in [1, map_n = ", c.map_n,
           "], got ", map_id);
  world.map_id = map_id;
  world.tick = 0;
  world.tiles = cached_terrain(c, map_id);
  world.depleted.clear();
  world.items.clear();
  world.market.clear();
  world.events.clear();
  world.npcs.clear();
  world.next_npc_id = -1;
  world.npc_respawn_dangers.clear();
  // nmmo generates each map once, resources included, and loads the same map at every reset: the
  // resources come from a generator seeded by the map (and the evaluation flip), not the episode.
  world.rng.seed(0x6e6d6d6f00000000ull + 2ull * static_cast<uint64_t>(map_id) +
                 (c.terrain_flip_seed ? 1 : 0));
  place_profession_resources(world);
  world.rng.seed(seed);
  spawn_players(world);
  rules::spawn_npcs(world);
}

void step(World& world, std::span<const AgentAction> actions) {
  const Config& c = world.config;
  SG_CHECK(actions.size() == world.players.size(), "nmmo::step: expected one action per player (",
           world.players.size(), "), got ", actions.size());
  SG_CHECK(world.tiles.size() == static_cast<size_t>(world.size()) * world.size(),
           "nmmo::step: the map has ", world.tiles.size(), " tiles, expected ", world.size(), "^2",
           " (call reset first)");
  for (size_t i = 0; i < actions.size(); ++i) {
    check_action(actions[i], static_cast<int>(i) + 1, c);
  }

  // 1-2. NPCs decide from the positions at the start of the tick.
  thread_local std::vector<rules::NpcDecision> npc_actions;
  rules::decide_npcs(world, npc_actions);
  // 3-4. Updates: resources, automatic harvests, regeneration.
  for (Entity& p : world.players) {
    if (p.alive) rules::update_player(world, p);
  }
  for (Entity& npc : world.npcs) {
    if (npc.alive) rules::update_npc(world, npc);
  }
  // 5. Actions by priority.
  execute_actions(world, actions, npc_actions);
  // 6. Deaths and NPC respawns.
  cull(world);
  // 7. Tiles grow back, market listings expire.
  rules::regrow_tiles(world);
  market_step(world);
  // 8.
  world.tick += 1;
}

}  // namespace stackgrad::nmmo
