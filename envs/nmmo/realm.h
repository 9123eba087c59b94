// The rules of one Neural MMO world, tick by tick (spec A3-A7): spawning, the NPC AI, movement,
// food, water and health, harvesting and tile regrowth, skills and experience, combat and death,
// in nmmo's tick order (A4). Items, equipment and the market are in items.h.
//
//   World w;  w.config = Config::medium();
//   reset(w, /*seed=*/1, /*map_id=*/1);
//   std::vector<AgentAction> actions(w.config.player_n);
//   actions[0].move = static_cast<int8_t>(Direction::kNorth);
//   step(w, actions);                         // w.tick == 1
#pragma once

#include <cstdint>
#include <span>

#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

// Starts an episode: the map (cached fractal + profession resources from `seed`), players on
// the edge ring, one NPC spawn call, tick 0, empty item table, market and event log.
void reset(World& world, uint64_t seed, int map_id);

// One tick in nmmo's order (A4). `actions` has one entry per player (index id - 1); entries of
// dead players are ignored. Throws stackgrad::Error on a wrong number of actions.
void step(World& world, std::span<const AgentAction> actions);

// Danger of a position: 0 on the edge of the playable square, about 1 at the centre (A3.2).
double danger(const Config& config, int row, int col);

// Damage an attack would deal, without side effects (A5.3).
int combat_damage(const World& world, const Entity& attacker, Style style, const Entity& target);

// Tries to spawn one NPC at (row, col) as nmmo's NPC.spawn does (A3.2): refused (returns 0) on
// an impassible tile; otherwise type, level, style, gold, equipment and drop table follow from
// the danger of the tile and world.rng. Returns the new NPC's id. Ignores Config::npc_n.
int32_t spawn_npc(World& world, int row, int col);

}  // namespace stackgrad::nmmo
