// The pieces of one tick that realm.cpp strings together in nmmo's order (A4), shared by the
// files that implement them: combat.cpp (A5.2, A5.3), skills.cpp (A6, A7), npc.cpp (A3.2).
// Internal to envs/nmmo; the public interface is realm.h.
#pragma once

#include <cstdint>
#include <vector>

#include "envs/nmmo/world.h"

namespace stackgrad::nmmo::rules {

// An event row for `entity` stamped with nmmo's tick (the tick about to end, + 1).
inline Event make_event(const World& world, const Entity& entity, EventCode code) {
  Event e;
  e.ent_id = entity.id;
  e.tick = world.tick + 1;
  e.event = code;
  return e;
}

// ---- Movement (A5.1, A10) ---------------------------------------------------------------------
// Moves one tile unless the target is out of the map or impassible; GO_FARTHEST for players.
void move_entity(World& world, Entity& entity, Direction direction);

// ---- Skills and resources (A6, A7), skills.cpp -------------------------------------------------
// Adds experience and logs a LEVEL_UP event for each level gained.
void add_exp(World& world, Entity& entity, Skill skill, int exp);
// A player's part of the tick's update phase: attacker clearing, item level, history, death fog,
// food/water/health and the automatic harvests (A4 step 3).
void update_player(World& world, Entity& player);
// An NPC's update: the same bookkeeping and health regeneration (A4 step 4).
void update_npc(World& world, Entity& npc);
// Depleted tiles grow back, each with its material's probability (A2.1, A4 step 7).
void regrow_tiles(World& world);

// ---- Combat (A5.2, A5.3), combat.cpp -----------------------------------------------------------
// Carries out an Attack; false when the rules refuse it (self, out of reach, spawn immunity,
// absent or dead target).
bool attack(World& world, Entity& attacker, Style style, int32_t target_id);
// Takes `damage` off the target's health; on a kill logs PLAYER_KILL for the source and hands
// over the loot (players: items.h transfer_loot; NPCs: gold and drop table). `source` may be
// null (starvation, fog).
void receive_damage(World& world, Entity& target, Entity* source, int damage);

// ---- NPCs (A3.2), npc.cpp ----------------------------------------------------------------------
struct NpcDecision {
  int8_t move = -1;  // a Direction, or -1
  int8_t attack_style = -1;
  int32_t attack_target = 0;
};
// One decision per live NPC (world.npcs order), from the positions at the start of the tick.
void decide_npcs(World& world, std::vector<NpcDecision>& decisions);
// One call of nmmo's NPCManager.spawn: up to Config::npc_spawn_attempts tries towards npc_n.
void spawn_npcs(World& world);

}  // namespace stackgrad::nmmo::rules
