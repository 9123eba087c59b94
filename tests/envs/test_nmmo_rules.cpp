// The rules of a Neural MMO 2.0 tick (spec A3-A7, tick order A4) on small hand-built worlds,
// plus determinism and a smoke run of the Small preset.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "envs/common/rng.h"
#include "envs/nmmo/items.h"
#include "envs/nmmo/realm.h"
#include "envs/nmmo/world.h"
#include "support/error_of.h"

namespace nm = stackgrad::nmmo;
using nm::Material;

namespace {

// A 20x20 world (map_center 16, border 2): Void outside rows/cols [2, 18), Grass inside,
// no NPC spawning. Players are added with add_player.
nm::World grass_world() {
  nm::World w;
  w.config = nm::Config::small();
  w.config.map_center = 16;
  w.config.map_border = 2;
  w.config.player_n = 0;
  w.config.npc_n = 0;
  // add_player and add_npc hand out references: no reallocation may move them.
  w.players.reserve(64);
  w.npcs.reserve(64);
  const int s = w.size();
  w.tiles.assign(static_cast<size_t>(s) * s, Material::kVoid);
  for (int r = 2; r < 18; ++r) {
    for (int c = 2; c < 18; ++c) w.set_material(r, c, Material::kGrass);
  }
  return w;
}

// A fresh player past its spawn immunity (time_alive 100) at (r, c).
nm::Entity& add_player(nm::World& w, int r, int c) {
  nm::Entity p;
  p.id = static_cast<int32_t>(w.players.size()) + 1;
  p.row = p.spawn_row = static_cast<int16_t>(r);
  p.col = p.spawn_col = static_cast<int16_t>(c);
  p.gold = 1;
  p.level.fill(1);
  p.time_alive = 100;
  w.players.push_back(p);
  w.config.player_n = static_cast<int>(w.players.size());
  return w.players.back();
}

// An NPC at (r, c) with the given style level and virtual equipment (A3.2).
nm::Entity& add_npc(nm::World& w, int r, int c, nm::NpcType type, nm::Style style, int level,
                    int offense, int defense) {
  nm::Entity n;
  n.id = w.next_npc_id--;
  n.npc_type = type;
  n.row = n.spawn_row = static_cast<int16_t>(r);
  n.col = n.spawn_col = static_cast<int16_t>(c);
  n.npc_style = style;
  n.level[static_cast<int>(style)] = static_cast<int16_t>(level);
  n.exp[static_cast<int>(style)] = 1;
  n.gold = level;
  n.npc_offense = static_cast<int16_t>(offense);
  n.npc_defense = static_cast<int16_t>(defense);
  w.npcs.push_back(n);
  return w.npcs.back();
}

// Creates an item and puts it straight into the slot it belongs to (bypassing the Use rules).
int32_t equip(nm::World& w, int player_id, nm::ItemType type, int level, int quantity = 1) {
  const int32_t id = nm::create_item(w, type, level, quantity);
  nm::Entity& p = *w.entity(player_id);
  nm::Item& item = w.item(id);
  item.owner_id = p.id;
  item.equipped = true;
  p.inventory.push_back(id);
  switch (nm::equip_slot(type)) {
    case nm::EquipSlot::kHat:
      p.equipment.hat = id;
      break;
    case nm::EquipSlot::kTop:
      p.equipment.top = id;
      break;
    case nm::EquipSlot::kBottom:
      p.equipment.bottom = id;
      break;
    case nm::EquipSlot::kHeld:
      p.equipment.held = id;
      break;
    case nm::EquipSlot::kAmmunition:
      p.equipment.ammunition = id;
      break;
    case nm::EquipSlot::kNone:
      ADD_FAILURE() << "not equipment";
  }
  return id;
}

std::vector<nm::AgentAction> no_actions(const nm::World& w) {
  return std::vector<nm::AgentAction>(w.players.size());
}

nm::AgentAction attack_action(nm::Style style, int32_t target) {
  nm::AgentAction a;
  a.attack_style = static_cast<int8_t>(style);
  a.attack_target = target;
  return a;
}

int count_events(const nm::World& w, nm::EventCode code, int32_t ent_id = 0) {
  return static_cast<int>(std::count_if(w.events.begin(), w.events.end(), [&](const nm::Event& e) {
    return e.event == code && (ent_id == 0 || e.ent_id == ent_id);
  }));
}

const nm::Event* find_event(const nm::World& w, nm::EventCode code, int32_t ent_id) {
  for (const nm::Event& e : w.events) {
    if (e.event == code && e.ent_id == ent_id) return &e;
  }
  return nullptr;
}

// The spec's formula (A5.3) in Python's evaluation order: int(mult * (off * (15 / (15 + def)))).
int spec_damage(int offense, int defense, double mult) {
  return std::max(0, static_cast<int>(mult * (offense * (15.0 / (15 + defense)))));
}

// ---- Combat
// --------------------------------------------------------------------------------------

TEST(NmmoRulesCombat, WorkedExamples) {
  nm::World w = grass_world();
  nm::Entity& a = add_player(w, 5, 5);
  nm::Entity& b = add_player(w, 5, 6);
  // A5.3: fresh vs fresh: offense 20 + 5 = 25, defense 0 + 5 = 5: int(25 * 15 / 20) = 18.
  EXPECT_EQ(nm::combat_damage(w, a, nm::Style::kMelee, b), 18);
  EXPECT_EQ(nm::combat_damage(w, a, nm::Style::kRange, b), 18);
  EXPECT_EQ(nm::combat_damage(w, a, nm::Style::kMage, b), 18);
  // Level 7 vs level 8: offense 55, defense 40; 55 * (15 / 55) is 14.999... in doubles, so 14
  // (exact arithmetic would give 15): the float order of nmmo's formula matters.
  a.level[0] = 7;
  b.level[4] = 8;
  EXPECT_EQ(nm::combat_damage(w, a, nm::Style::kMelee, b), 14);
  // Level 10 melee vs fresh: offense 70, defense 5: int(52.5) = 52.
  a.level[0] = 10;
  b.level[4] = 1;
  EXPECT_EQ(nm::combat_damage(w, a, nm::Style::kMelee, b), 52);
  // ... against three level-3 armour pieces (30 defense each): defense 95: int(70*15/110) = 9.
  for (nm::ItemType t : {nm::ItemType::kHat, nm::ItemType::kTop, nm::ItemType::kBottom}) {
    equip(w, b.id, t, 3);
  }
  EXPECT_EQ(nm::combat_damage(w, a, nm::Style::kMelee, b), 9);
}

TEST(NmmoRulesCombat, NpcExamples) {
  // A3.2/A5.3: a level-1 NPC has offense int(15 + 15 * lvl), lvl in (0, 1]: 15..30 on top of
  // its skill offense 25; against a fresh player (defense 5): 30..41.
  nm::World w = grass_world();
  nm::Entity& p = add_player(w, 5, 5);
  nm::Entity& weak = add_npc(w, 5, 6, nm::NpcType::kHostile, nm::Style::kMelee, 1, 15, 0);
  nm::Entity& strong = add_npc(w, 5, 7, nm::NpcType::kHostile, nm::Style::kMelee, 1, 30, 15);
  EXPECT_EQ(nm::combat_damage(w, weak, nm::Style::kMelee, p), 30);
  EXPECT_EQ(nm::combat_damage(w, strong, nm::Style::kMelee, p), 41);
  // The player against them: defense 5 * 1 (style level) + the NPC's scalar defense. The NPC's
  // experience makes melee its dominant style, so Mage hits it 1.5x.
  // Melee: int(25 * 15 / 35) = 10; Mage: int(1.5 * 10.71...) = 16.
  EXPECT_EQ(nm::combat_damage(w, p, nm::Style::kMelee, strong), 10);
  EXPECT_EQ(nm::combat_damage(w, p, nm::Style::kRange, strong), 10);
  EXPECT_EQ(nm::combat_damage(w, p, nm::Style::kMage, strong), 16);
  EXPECT_EQ(nm::combat_damage(w, p, nm::Style::kMage, weak), spec_damage(25, 5, 1.5));
}

// Every style x attacker style level x defender level x armour level x weapon level, against
// the formula evaluated here from the spec's constants.
TEST(NmmoRulesCombat, DamageTableMatchesTheFormula) {
  const nm::ItemType weapons[3] = {nm::ItemType::kSpear, nm::ItemType::kBow, nm::ItemType::kWand};
  int checked = 0;
  for (int s = 0; s < 3; ++s) {
    for (int armour = 0; armour <= 10; ++armour) {
      for (int weapon = 0; weapon <= 10; ++weapon) {
        nm::World w = grass_world();
        add_player(w, 5, 5);
        add_player(w, 5, 6);
        if (armour > 0) {
          for (nm::ItemType t : {nm::ItemType::kHat, nm::ItemType::kTop, nm::ItemType::kBottom}) {
            equip(w, 2, t, armour);
          }
        }
        if (weapon > 0) equip(w, 1, weapons[s], weapon);
        for (int la = 1; la <= 10; ++la) {
          for (int ld = 1; ld <= 10; ++ld) {
            nm::Entity& a = w.players[0];
            nm::Entity& d = w.players[1];
            a.level[s] = static_cast<int16_t>(la);
            d.level[nm::kNumSkills - 1] = static_cast<int16_t>(ld);  // overall level via Alchemy
            // A8: armour defends 10 per level per piece, weapons attack 15 + 15 per level; the
            // datastore caps both at 100.
            const int equip_def = armour > 0 ? 3 * std::min(10 * armour, 100) : 0;
            const int equip_off = weapon > 0 ? std::min(15 + 15 * weapon, 100) : 0;
            const int offense = 20 + 5 * la + equip_off;
            const int defense = 5 * ld + equip_def;
            const nm::Style style = static_cast<nm::Style>(s);
            ASSERT_EQ(nm::combat_damage(w, a, style, d), spec_damage(offense, defense, 1.0))
                << "style " << s << " attacker " << la << " defender " << ld << " armour " << armour
                << " weapon " << weapon;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 3 * 11 * 11 * 100);
}

TEST(NmmoRulesCombat, WeaknessFollowsTheDominantStyleByExperience) {
  nm::World w = grass_world();
  nm::Entity& a = add_player(w, 5, 5);
  nm::Entity& d = add_player(w, 5, 6);
  auto dmg = [&](nm::Style s) { return nm::combat_damage(w, a, s, d); };
  // All three equal: no weakness.
  EXPECT_EQ(dmg(nm::Style::kMage), 18);
  // Melee dominant: Mage hits int(1.5 * 18.75) = 28.
  d.exp = {10, 0, 0, 500, 0, 0, 0, 0};  // harvest experience does not count
  EXPECT_EQ(dmg(nm::Style::kMage), 28);
  EXPECT_EQ(dmg(nm::Style::kMelee), 18);
  EXPECT_EQ(dmg(nm::Style::kRange), 18);
  // Range dominant: Melee is strong.
  d.exp = {0, 10, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(dmg(nm::Style::kMelee), 28);
  EXPECT_EQ(dmg(nm::Style::kMage), 18);
  // Mage dominant: Range is strong.
  d.exp = {0, 0, 10, 0, 0, 0, 0, 0};
  EXPECT_EQ(dmg(nm::Style::kRange), 28);
  // A tie between melee and range: the first (melee) is dominant.
  d.exp = {5, 5, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(dmg(nm::Style::kMage), 28);
  EXPECT_EQ(dmg(nm::Style::kMelee), 18);
  // Float order again: level-6 mage vs a level-6 melee-dominant target: offense 50, defense 30,
  // 1.5 * (50 * (15 / 45)) = 24.999... -> 24.
  a.level[2] = 6;
  d.level[0] = 6;
  d.exp = {10, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(dmg(nm::Style::kMage), 24);
}

TEST(NmmoRulesCombat, AttackAppliesDamageEventsExperienceAndCombatStatus) {
  nm::World w = grass_world();
  add_player(w, 5, 5);
  add_player(w, 5, 8);  // Chebyshev distance 3: in reach
  w.tick = 7;
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kRange, 2);
  nm::step(w, actions);
  const nm::Entity& a = w.players[0];
  const nm::Entity& b = w.players[1];
  EXPECT_EQ(b.health, 100 - 18 + 0);  // regeneration ran before the attack (health was full)
  EXPECT_EQ(b.damage, 18);
  EXPECT_EQ(b.attacker_id, 1);
  EXPECT_EQ(a.latest_combat_tick, 8);  // tick + 1, for both
  EXPECT_EQ(b.latest_combat_tick, 8);
  EXPECT_EQ(a.exp[1], 3);  // A7: 3 combat experience per attack
  const nm::Event* hit = find_event(w, nm::EventCode::kScoreHit, 1);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->type, 2);  // Range is style 2 in events
  EXPECT_EQ(hit->number, 18);
  EXPECT_EQ(hit->tick, 8);
  // The next tick without damage the target forgets its attacker (cleared in the update).
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[1].attacker_id, 1);  // damage of the previous tick was 18
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[1].attacker_id, 0);
}

TEST(NmmoRulesCombat, ReachSelfAndSpawnImmunity) {
  nm::World w = grass_world();
  add_player(w, 5, 5);
  add_player(w, 8, 8);  // diagonal distance 3
  add_player(w, 5, 9);  // distance 4
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kMelee, 3);
  nm::step(w, actions);
  EXPECT_EQ(w.players[2].health, 100);
  actions[0] = attack_action(nm::Style::kMelee, 1);  // self
  nm::step(w, actions);
  EXPECT_EQ(w.players[0].health, 100);
  EXPECT_EQ(count_events(w, nm::EventCode::kScoreHit), 0);
  actions[0] = attack_action(nm::Style::kMelee, 2);
  nm::step(w, actions);
  EXPECT_EQ(w.players[1].health, 82);

  // A5.2: players cannot hit players younger than 20 ticks. time_alive grows in the update,
  // before actions, so a target at 18 is 19 when hit (refused) and one at 19 is 20 (allowed).
  nm::World v = grass_world();
  add_player(v, 5, 5);
  add_player(v, 5, 6).time_alive = 18;
  auto hit = no_actions(v);
  hit[0] = attack_action(nm::Style::kMelee, 2);
  nm::step(v, hit);
  EXPECT_EQ(v.players[1].health, 100);
  EXPECT_EQ(v.players[1].time_alive, 19);
  nm::step(v, hit);
  EXPECT_EQ(v.players[1].health, 82);
  // NPCs ignore the immunity.
  nm::World u = grass_world();
  add_player(u, 5, 5).time_alive = 0;
  add_npc(u, 5, 6, nm::NpcType::kHostile, nm::Style::kMelee, 1, 15, 0);
  nm::step(u, no_actions(u));
  EXPECT_EQ(u.players[0].health, 100 - 30);
  EXPECT_EQ(u.players[0].attacker_id, -1);
  EXPECT_EQ(count_events(u, nm::EventCode::kScoreHit), 0);  // only players log hits
}

TEST(NmmoRulesCombat, AmmunitionIsFiredByItsOwnStyleOnly) {
  nm::World w = grass_world();
  add_player(w, 5, 5);
  add_player(w, 5, 6);
  const int32_t ammo = equip(w, 1, nm::ItemType::kWhetstone, 1, 2);  // melee attack 30
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kRange, 2);
  nm::step(w, actions);
  EXPECT_EQ(w.item(ammo).quantity, 2);
  EXPECT_EQ(w.players[1].health, 82);
  actions[0] = attack_action(nm::Style::kMelee, 2);
  nm::step(w, actions);
  EXPECT_EQ(w.item(ammo).quantity, 1);
  // The health was 82 + 10 (regenerated) = 92, then int((25 + 30) * 15 / 20) = 41.
  EXPECT_EQ(w.players[1].health, 92 - 41);
}

TEST(NmmoRulesCombat, CombatExperienceRaisesTheLevel) {
  nm::World w = grass_world();
  add_player(w, 5, 5).exp[2] = 87;
  add_player(w, 5, 6);
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kMage, 2);
  nm::step(w, actions);
  EXPECT_EQ(w.players[0].exp[2], 90);
  EXPECT_EQ(w.players[0].level[2], 2);  // A7: 90 experience is level 2
  const nm::Event* up = find_event(w, nm::EventCode::kLevelUp, 1);
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->type, 3);  // Mage
  EXPECT_EQ(up->level, 2);
}

// ---- Kills and loot
// ------------------------------------------------------------------------------

TEST(NmmoRulesKills, PlayerKillHandsOverGoldAndItems) {
  nm::World w = grass_world();
  add_player(w, 5, 5);
  nm::Entity& victim = add_player(w, 5, 6);
  victim.health = 5;
  victim.food = victim.water = 10;  // no regeneration
  victim.gold = 7;
  const int32_t potion = nm::create_item(w, nm::ItemType::kPotion, 2);
  nm::receive_item(w, victim, potion);
  const int32_t hat = nm::create_item(w, nm::ItemType::kHat, 1);
  nm::receive_item(w, victim, hat);
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kMelee, 2);
  actions[1].move = static_cast<int8_t>(nm::Direction::kSouth);  // dead before it can move
  nm::step(w, actions);
  const nm::Entity& killer = w.players[0];
  const nm::Entity& dead = w.players[1];
  EXPECT_FALSE(dead.alive);
  EXPECT_EQ(dead.health, 0);
  EXPECT_EQ(dead.row, 5);
  EXPECT_EQ(dead.killer_id, 1);
  EXPECT_EQ(killer.gold, 8);
  EXPECT_EQ(killer.inventory.size(), 2u);
  EXPECT_TRUE(dead.inventory.empty());
  const nm::Event* kill = find_event(w, nm::EventCode::kPlayerKill, 1);
  ASSERT_NE(kill, nullptr);
  EXPECT_EQ(kill->target_ent, 2);
  EXPECT_EQ(kill->level, 1);
  const nm::Event* gold = find_event(w, nm::EventCode::kEarnGold, 1);
  ASSERT_NE(gold, nullptr);
  EXPECT_EQ(gold->gold, 7);
  EXPECT_EQ(count_events(w, nm::EventCode::kLootItem, 1), 2);
  // Dead players stay dead and are skipped.
  nm::step(w, actions);
  EXPECT_FALSE(w.players[1].alive);
  EXPECT_EQ(w.players[1].row, 5);
}

TEST(NmmoRulesKills, NpcKillGivesGoldAndTheDropTable) {
  nm::World w = grass_world();
  add_player(w, 5, 5);
  nm::Entity& npc = add_npc(w, 5, 6, nm::NpcType::kPassive, nm::Style::kRange, 3, 45, 0);
  npc.health = 5;
  npc.npc_drop_armour = nm::ItemType::kTop;
  npc.npc_drop_tool = nm::ItemType::kAxe;
  const int32_t id = npc.id;
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kMelee, id);
  nm::step(w, actions);
  const nm::Entity& p = w.players[0];
  EXPECT_EQ(p.gold, 1 + 3);  // A9: an NPC's gold is its level
  ASSERT_EQ(p.inventory.size(), 2u);
  EXPECT_EQ(w.item(p.inventory[0]).type, nm::ItemType::kTop);
  EXPECT_EQ(w.item(p.inventory[0]).level, 3);
  EXPECT_EQ(w.item(p.inventory[1]).type, nm::ItemType::kAxe);
  EXPECT_EQ(w.item(p.inventory[1]).level, 3);
  EXPECT_EQ(count_events(w, nm::EventCode::kLootItem, 1), 2);
  const nm::Event* kill = find_event(w, nm::EventCode::kPlayerKill, 1);
  ASSERT_NE(kill, nullptr);
  EXPECT_EQ(kill->target_ent, id);
  EXPECT_EQ(kill->level, 3);
  // Culled; with npc_n = 0 its danger waits in the respawn queue.
  EXPECT_TRUE(w.npcs.empty());
  EXPECT_EQ(w.entity(id), nullptr);
  ASSERT_EQ(w.npc_respawn_dangers.size(), 1u);
  EXPECT_DOUBLE_EQ(w.npc_respawn_dangers[0], nm::danger(w.config, 5, 6));
}

TEST(NmmoRulesKills, DeadNpcRespawnsOnTheRingOfItsDanger) {
  nm::World w = grass_world();
  w.config.npc_n = 1;
  add_player(w, 5, 5);
  nm::Entity& npc = add_npc(w, 5, 6, nm::NpcType::kPassive, nm::Style::kRange, 1, 15, 0);
  npc.health = 1;
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kMelee, -1);
  nm::step(w, actions);
  ASSERT_EQ(w.npcs.size(), 1u);
  const nm::Entity& again = w.npcs[0];
  EXPECT_EQ(again.id, -2);
  EXPECT_DOUBLE_EQ(nm::danger(w.config, again.row, again.col), nm::danger(w.config, 5, 6));
  EXPECT_TRUE(w.npc_respawn_dangers.empty());
}

TEST(NmmoRulesKills, NpcKillerTakesTheGoldAndTheItemsAreDestroyed) {
  nm::World w = grass_world();
  nm::Entity& p = add_player(w, 5, 5);
  p.health = 10;
  p.food = p.water = 10;
  p.gold = 4;
  const int32_t hat = nm::create_item(w, nm::ItemType::kHat, 1);
  nm::receive_item(w, p, hat);
  add_npc(w, 5, 6, nm::NpcType::kHostile, nm::Style::kMelee, 1, 15, 0);
  nm::step(w, no_actions(w));
  EXPECT_FALSE(w.players[0].alive);
  EXPECT_EQ(w.players[0].killer_id, -1);
  EXPECT_EQ(w.npcs[0].gold, 1 + 4);
  EXPECT_FALSE(w.item(hat).alive);
  EXPECT_NE(find_event(w, nm::EventCode::kPlayerKill, -1), nullptr);
}

// ---- Food, water, health (A6)
// --------------------------------------------------------------------

TEST(NmmoRulesResources, StarvationKillsAtTheDerivedTick) {
  // Food and water start at 100 and lose 5 per tick in the skills update, after the health
  // update, so after step k they are 100 - 5k: 0 after step 20. Health regenerates only while
  // both are > 50 (full anyway). Starvation and dehydration (10 each) apply from the step that
  // starts with them at 0: steps 21, 22, ... take 20 health each: 80, 60, 40, 20, 0 -> the
  // player dies in step 25 (world.tick 24 -> 25).
  nm::World w = grass_world();
  add_player(w, 9, 9);
  const auto actions = no_actions(w);
  for (int k = 1; k <= 24; ++k) {
    nm::step(w, actions);
    ASSERT_TRUE(w.players[0].alive) << "step " << k;
    EXPECT_EQ(w.players[0].food, std::max(0, 100 - 5 * k));
    EXPECT_EQ(w.players[0].water, std::max(0, 100 - 5 * k));
  }
  EXPECT_EQ(w.players[0].health, 20);
  EXPECT_EQ(w.players[0].health_restore, -20);
  nm::step(w, actions);
  EXPECT_FALSE(w.players[0].alive);
  EXPECT_EQ(w.players[0].health, 0);
  EXPECT_EQ(w.players[0].killer_id, 0);
  EXPECT_EQ(count_events(w, nm::EventCode::kPlayerKill), 0);

  // Resilient players take int(10 * 0.5) = 5 each: 10 per step from step 21, dead in step 30.
  nm::World r = grass_world();
  add_player(r, 9, 9).resilient = true;
  int died = 0;
  for (int k = 1; k <= 40 && died == 0; ++k) {
    nm::step(r, actions);
    if (!r.players[0].alive) died = k;
  }
  EXPECT_EQ(died, 30);
}

// nmmo's IMMORTAL switch: no depletion (and no drinking or eating), no damage to players;
// NPCs still take damage.
TEST(NmmoRulesResources, ImmortalPlayersNeitherStarveNorTakeDamage) {
  nm::World w = grass_world();
  w.config.immortal = true;
  w.set_material(9, 10, nm::Material::kWater);
  add_player(w, 9, 9);
  add_npc(w, 9, 8, nm::NpcType::kHostile, nm::Style::kMelee, 1, 15, 0);
  auto actions = no_actions(w);
  actions[0].attack_style = static_cast<int8_t>(nm::Style::kMelee);
  actions[0].attack_target = w.npcs[0].id;
  for (int k = 1; k <= 40; ++k) nm::step(w, actions);
  EXPECT_TRUE(w.players[0].alive);
  EXPECT_EQ(w.players[0].health, 100);
  EXPECT_EQ(w.players[0].food, 100);
  EXPECT_EQ(w.players[0].water, 100);
  EXPECT_EQ(count_events(w, nm::EventCode::kDrinkWater), 0);
  EXPECT_GT(count_events(w, nm::EventCode::kScoreHit), 0);
  EXPECT_NE(find_event(w, nm::EventCode::kPlayerKill, 1), nullptr);  // the NPC died
}

TEST(NmmoRulesResources, RegenerationNeedsBothAboveHalf) {
  nm::World w = grass_world();
  nm::Entity& a = add_player(w, 5, 5);
  a.health = 50;
  a.food = a.water = 51;  // > 50: +10
  nm::Entity& b = add_player(w, 9, 9);
  b.health = 50;
  b.food = 50;  // not > 50: nothing
  b.water = 100;
  nm::Entity& c = add_player(w, 13, 13);
  c.health = 95;  // capped at 100
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[0].health, 60);
  EXPECT_EQ(w.players[0].health_restore, 10);
  EXPECT_EQ(w.players[1].health, 50);
  EXPECT_EQ(w.players[2].health, 100);
  EXPECT_EQ(w.players[0].food, 46);
}

TEST(NmmoRulesResources, DrinkingBesideWaterAndEatingFoilage) {
  nm::World w = grass_world();
  w.config.foilage_respawn = 0.0;
  w.set_material(4, 5, Material::kWater);    // north of the first player
  w.set_material(9, 9, Material::kFoilage);  // under the second
  nm::Entity& a = add_player(w, 5, 5);
  a.water = 40;
  a.food = 40;
  nm::Entity& b = add_player(w, 9, 9);
  b.water = 40;
  b.food = 40;
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[0].water, 100);  // 40 - 5 + 100, capped
  EXPECT_EQ(w.players[0].food, 35);
  EXPECT_EQ(w.material(4, 5), Material::kWater);  // water never depletes
  EXPECT_EQ(w.players[1].food, 100);
  EXPECT_EQ(w.players[1].water, 35);
  EXPECT_EQ(w.material(9, 9), Material::kScrub);
  ASSERT_EQ(w.depleted.size(), 1u);
  EXPECT_EQ(w.depleted[0], 9 * w.size() + 9);
  EXPECT_EQ(count_events(w, nm::EventCode::kDrinkWater, 1), 1);
  EXPECT_EQ(count_events(w, nm::EventCode::kEatFood, 2), 1);
  EXPECT_EQ(count_events(w, nm::EventCode::kEatFood, 1), 0);
  // Scrub is not food: the next tick only depletes.
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[1].food, 95);
}

TEST(NmmoRulesResources, DeathFogClosesInFromTheEdge) {
  // A6: from tick `fog`, a player farther than the safe radius from the centre takes
  // max(0, (d - C/2) + speed * (tick - fog + 1)). Centre (10, 10), C/2 = 8; a player at d = 5
  // with speed 1 takes 0, 0, 0, 1, 2, ... in ticks 0, 1, 2, 3, 4, ...
  nm::World w = grass_world();
  w.config.death_fog_start = 0;
  w.config.death_fog_speed = 1.0;
  w.config.death_fog_safe_radius = 2;
  add_player(w, 5, 10);
  add_player(w, 10, 11);  // d = 1: safe
  std::vector<int> health;
  for (int k = 0; k < 6; ++k) {
    for (nm::Entity& p : w.players) p.food = p.water = 10;  // no regeneration
    nm::step(w, no_actions(w));
    health.push_back(w.players[0].health);
  }
  EXPECT_EQ(health, (std::vector<int>{100, 100, 100, 99, 97, 94}));
  EXPECT_EQ(w.players[0].damage, 3);
  EXPECT_EQ(w.players[1].health, 100);
  // A fractional fog damage is rounded up (health is an integer here).
  nm::World v = grass_world();
  v.config.death_fog_start = 0;
  v.config.death_fog_speed = 0.25;
  v.config.death_fog_safe_radius = 2;
  add_player(v, 2, 10).food = 10;  // on the ring: d - C/2 = 0
  v.players[0].water = 10;
  nm::step(v, no_actions(v));
  EXPECT_EQ(v.players[0].health, 99);
  EXPECT_EQ(v.players[0].killer_id, 0);
}

// ---- Harvesting, experience, regrowth (A7, A2.1)
// ---------------------------------------------------

TEST(NmmoRulesHarvest, OreWithAPickaxeDropsAtToolLevelPlusOne) {
  nm::World w = grass_world();
  w.config.ore_respawn = 0.0;
  w.config.weapon_drop_prob = 1.0;  // the Wand always comes too
  w.set_material(5, 5, Material::kOre);
  add_player(w, 5, 5);
  const int32_t pickaxe = equip(w, 1, nm::ItemType::kPickaxe, 3);
  nm::step(w, no_actions(w));
  const nm::Entity& p = w.players[0];
  EXPECT_EQ(w.material(5, 5), Material::kSlag);
  EXPECT_EQ(p.exp[static_cast<int>(nm::Skill::kProspecting)], 15);
  ASSERT_EQ(p.inventory.size(), 3u);
  EXPECT_EQ(p.inventory[0], pickaxe);
  EXPECT_EQ(w.item(p.inventory[1]).type, nm::ItemType::kWhetstone);
  EXPECT_EQ(w.item(p.inventory[1]).level, 4);
  EXPECT_EQ(w.item(p.inventory[2]).type, nm::ItemType::kWand);
  EXPECT_EQ(w.item(p.inventory[2]).level, 4);
  EXPECT_EQ(count_events(w, nm::EventCode::kHarvestItem, 1), 2);
  const nm::Event* e = find_event(w, nm::EventCode::kHarvestItem, 1);
  EXPECT_EQ(e->type, static_cast<int>(nm::ItemType::kWhetstone));
  EXPECT_EQ(e->level, 4);
  // Slag is not ore and ore_respawn is 0: nothing more.
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[0].exp[static_cast<int>(nm::Skill::kProspecting)], 15);
  EXPECT_EQ(w.material(5, 5), Material::kSlag);
}

TEST(NmmoRulesHarvest, WrongToolOrNoneDropsLevelOneAndTheCapIsTen) {
  nm::World w = grass_world();
  w.config.weapon_drop_prob = 0.0;
  w.set_material(5, 5, Material::kTree);
  w.set_material(9, 9, Material::kCrystal);
  add_player(w, 5, 5);
  equip(w, 1, nm::ItemType::kPickaxe, 5);  // not an Axe
  add_player(w, 9, 9);
  equip(w, 2, nm::ItemType::kChisel, 10);
  nm::step(w, no_actions(w));
  ASSERT_EQ(w.players[0].inventory.size(), 2u);
  EXPECT_EQ(w.item(w.players[0].inventory[1]).type, nm::ItemType::kArrow);
  EXPECT_EQ(w.item(w.players[0].inventory[1]).level, 1);
  ASSERT_EQ(w.players[1].inventory.size(), 2u);
  EXPECT_EQ(w.item(w.players[1].inventory[1]).type, nm::ItemType::kRunes);
  EXPECT_EQ(w.item(w.players[1].inventory[1]).level, 10);  // min(1 + 10, 10)
  EXPECT_EQ(w.players[0].exp[static_cast<int>(nm::Skill::kCarving)], 15);
  EXPECT_EQ(w.players[1].exp[static_cast<int>(nm::Skill::kAlchemy)], 15);
}

TEST(NmmoRulesHarvest, FishingDepletesEveryAdjacentFishForOneDrop) {
  nm::World w = grass_world();
  w.config.fish_respawn = 0.0;
  w.set_material(4, 5, Material::kFish);
  w.set_material(5, 6, Material::kFish);
  w.set_material(6, 6, Material::kFish);  // diagonal: not adjacent
  add_player(w, 5, 5);
  equip(w, 1, nm::ItemType::kRod, 9);
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.material(4, 5), Material::kOcean);
  EXPECT_EQ(w.material(5, 6), Material::kOcean);
  EXPECT_EQ(w.material(6, 6), Material::kFish);
  const nm::Entity& p = w.players[0];
  EXPECT_EQ(p.exp[static_cast<int>(nm::Skill::kFishing)], 30);
  ASSERT_EQ(p.inventory.size(), 2u);
  EXPECT_EQ(w.item(p.inventory[1]).type, nm::ItemType::kRation);
  EXPECT_EQ(w.item(p.inventory[1]).level, 10);
  EXPECT_EQ(w.depleted.size(), 2u);
}

TEST(NmmoRulesHarvest, HerbsRegrowAndExperienceLevelsUp) {
  // Herb respawn 1: the herb eaten in a tick's update grows back in the same tick's map step,
  // so one herb yields a potion every tick. 30 experience each: 90 (level 2) after 3 ticks.
  nm::World w = grass_world();
  w.config.herb_respawn = 1.0;
  w.set_material(5, 5, Material::kHerb);
  add_player(w, 5, 5);
  const int herbalism = static_cast<int>(nm::Skill::kHerbalism);
  for (int k = 1; k <= 3; ++k) {
    nm::step(w, no_actions(w));
    EXPECT_EQ(w.material(5, 5), Material::kHerb) << k;
    EXPECT_TRUE(w.depleted.empty()) << k;
    EXPECT_EQ(w.players[0].exp[herbalism], 30 * k);
    EXPECT_EQ(w.players[0].level[herbalism], k < 3 ? 1 : 2);
  }
  EXPECT_EQ(w.players[0].inventory.size(), 3u);
  ASSERT_EQ(count_events(w, nm::EventCode::kLevelUp, 1), 1);
  const nm::Event* up = find_event(w, nm::EventCode::kLevelUp, 1);
  EXPECT_EQ(up->type, 5);  // Herbalism
  EXPECT_EQ(up->level, 2);
  EXPECT_EQ(up->tick, 3);
  // 217 experience is level 3 (A7); 5 more herbs take it to 240.
  for (int k = 0; k < 5; ++k) nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[0].level[herbalism], 3);
  EXPECT_EQ(count_events(w, nm::EventCode::kLevelUp, 1), 2);
}

TEST(NmmoRulesHarvest, FullInventoryStillGainsExperience) {
  nm::World w = grass_world();
  w.set_material(5, 5, Material::kHerb);
  add_player(w, 5, 5);
  for (int k = 0; k < w.config.item_inventory_capacity; ++k) {
    nm::receive_item(w, w.players[0], nm::create_item(w, nm::ItemType::kHat, 1));
  }
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[0].exp[static_cast<int>(nm::Skill::kHerbalism)], 30);
  EXPECT_EQ(static_cast<int>(w.players[0].inventory.size()), w.config.item_inventory_capacity);
  EXPECT_EQ(count_events(w, nm::EventCode::kHarvestItem), 0);
  EXPECT_EQ(w.material(5, 5), Material::kWeeds);
}

TEST(NmmoRulesHarvest, RegrowthFollowsTheProbability) {
  // Foilage respawn 0.025 per depleted tile per tick: of 200 tiles, ~5 per tick at first.
  nm::World w = grass_world();
  w.config.foilage_respawn = 0.025;
  w.rng.seed(3);
  for (int k = 0; k < 200; ++k) {
    const int r = 2 + k / 16, c = 2 + k % 16;
    w.set_material(r, c, Material::kScrub);
    w.depleted.push_back(r * w.size() + c);
  }
  int ticks = 0;
  while (!w.depleted.empty() && ticks < 2000) {
    nm::step(w, {});
    ++ticks;
  }
  EXPECT_TRUE(w.depleted.empty());
  for (int k = 0; k < 200; ++k) EXPECT_EQ(w.material(2 + k / 16, 2 + k % 16), Material::kFoilage);
  // The slowest of 200 geometric(0.025) waits: its median is about 250 ticks.
  EXPECT_GT(ticks, 100);
  EXPECT_LT(ticks, 1000);
}

// ---- Movement (A5.1, A10)
// -------------------------------------------------------------------------

TEST(NmmoRulesMove, ImpassibleAndOutOfMapBlockAndTilesAreShared) {
  nm::World w = grass_world();
  w.set_material(4, 5, Material::kWater);
  w.set_material(6, 5, Material::kStone);
  w.set_material(5, 4, Material::kFish);
  add_player(w, 5, 5);
  w.set_material(0, 0, Material::kGrass);
  add_player(w, 0, 0);  // in the corner of the map
  add_player(w, 2, 3);  // beside the void border
  auto actions = no_actions(w);
  for (nm::Direction d : {nm::Direction::kNorth, nm::Direction::kSouth, nm::Direction::kWest}) {
    actions[0].move = static_cast<int8_t>(d);
    actions[1].move = static_cast<int8_t>(d == nm::Direction::kSouth ? nm::Direction::kNorth : d);
    actions[2].move = static_cast<int8_t>(nm::Direction::kNorth);
    nm::step(w, actions);
    EXPECT_EQ(w.players[0].row, 5);
    EXPECT_EQ(w.players[0].col, 5);
    EXPECT_EQ(w.players[1].row, 0);
    EXPECT_EQ(w.players[1].col, 0);
    EXPECT_EQ(w.players[2].row, 2);
  }
  actions = no_actions(w);
  actions[0].move = static_cast<int8_t>(nm::Direction::kEast);
  nm::step(w, actions);
  EXPECT_EQ(w.players[0].col, 6);
  // Onto an occupied tile: allowed.
  nm::World v = grass_world();
  add_player(v, 5, 5);
  add_player(v, 5, 6);
  auto both = no_actions(v);
  both[0].move = static_cast<int8_t>(nm::Direction::kEast);
  nm::step(v, both);
  EXPECT_EQ(v.players[0].col, 6);
  EXPECT_EQ(v.players[1].col, 6);
}

TEST(NmmoRulesMove, GoFarthestLogsEachNewRecord) {
  // Centre (10, 10), ring distance 8: progress = 8 - Chebyshev(pos, centre).
  nm::World w = grass_world();
  add_player(w, 2, 10);
  auto actions = no_actions(w);
  const auto go = [&](nm::Direction d) {
    actions[0].move = static_cast<int8_t>(d);
    nm::step(w, actions);
  };
  go(nm::Direction::kSouth);  // progress 1: event
  go(nm::Direction::kNorth);  // 0
  go(nm::Direction::kSouth);  // 1 again: no event
  go(nm::Direction::kSouth);  // 2: event
  go(nm::Direction::kStay);
  ASSERT_EQ(count_events(w, nm::EventCode::kGoFarthest, 1), 2);
  std::vector<int> numbers;
  for (const nm::Event& e : w.events) {
    if (e.event == nm::EventCode::kGoFarthest) numbers.push_back(e.number);
  }
  EXPECT_EQ(numbers, (std::vector<int>{1, 2}));
  EXPECT_EQ(w.players[0].go_farthest, 2);
}

// ---- Tick order (A4)
// ------------------------------------------------------------------------------

TEST(NmmoRulesTickOrder, HarvestUsesThePreviousTicksPosition) {
  nm::World w = grass_world();
  w.set_material(5, 6, Material::kFoilage);
  nm::Entity& p = add_player(w, 5, 5);
  p.food = 50;
  auto actions = no_actions(w);
  actions[0].move = static_cast<int8_t>(nm::Direction::kEast);
  nm::step(w, actions);
  EXPECT_EQ(w.players[0].col, 6);
  EXPECT_EQ(w.players[0].food, 45);  // moved onto it after the update
  EXPECT_EQ(w.material(5, 6), Material::kFoilage);
  nm::step(w, no_actions(w));
  EXPECT_EQ(w.players[0].food, 100);
  EXPECT_EQ(w.material(5, 6), Material::kScrub);
}

TEST(NmmoRulesTickOrder, AttacksResolveBeforeMoves) {
  // Attack (50) comes before Move (60): closing in from distance 4 is too late for this tick's
  // attack, while a target at 3 that steps away is still hit.
  nm::World w = grass_world();
  add_player(w, 5, 5);
  add_player(w, 5, 9);
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kMelee, 2);
  actions[0].move = static_cast<int8_t>(nm::Direction::kEast);
  nm::step(w, actions);
  EXPECT_EQ(w.players[1].health, 100);
  EXPECT_EQ(w.players[0].col, 6);

  nm::World v = grass_world();
  add_player(v, 5, 5);
  add_player(v, 5, 8);
  auto flee = no_actions(v);
  flee[0] = attack_action(nm::Style::kMelee, 2);
  flee[1].move = static_cast<int8_t>(nm::Direction::kEast);
  nm::step(v, flee);
  EXPECT_EQ(v.players[1].health, 82);
  EXPECT_EQ(v.players[1].col, 9);
}

TEST(NmmoRulesTickOrder, LowerIdsActFirstWithinAPriority) {
  // Both at 5 health, both attack: player 1 strikes first and player 2, dead, never strikes.
  nm::World w = grass_world();
  add_player(w, 5, 5).health = 5;
  add_player(w, 5, 6).health = 5;
  for (nm::Entity& p : w.players) p.food = p.water = 10;
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kMelee, 2);
  actions[1] = attack_action(nm::Style::kMelee, 1);
  nm::step(w, actions);
  EXPECT_TRUE(w.players[0].alive);
  EXPECT_FALSE(w.players[1].alive);
  EXPECT_EQ(count_events(w, nm::EventCode::kScoreHit), 1);
}

TEST(NmmoRulesTickOrder, UseComesBeforeAttackAndGiftsNeedTheSameTile) {
  // Use (10) equips the spear before Attack (50) in the same tick: melee attack 15 + 15 * 1 = 30
  // on top of 25: int(55 * 15 / 20) = 41.
  nm::World w = grass_world();
  add_player(w, 5, 5);
  add_player(w, 5, 6);
  const int32_t spear = nm::create_item(w, nm::ItemType::kSpear, 1);
  nm::receive_item(w, w.players[0], spear);
  auto actions = no_actions(w);
  actions[0] = attack_action(nm::Style::kMelee, 2);
  actions[0].use_item = spear;
  nm::step(w, actions);
  EXPECT_EQ(w.players[0].equipment.held, spear);
  EXPECT_EQ(w.players[1].health, 100 - 41);

  // GiveGold (30) needs both on one tile: refused at distance 1, done after moving together
  // (Move is 60, so the gift waits for the next tick).
  nm::World v = grass_world();
  add_player(v, 5, 5).gold = 10;
  add_player(v, 5, 6);
  auto give = no_actions(v);
  give[0].give_gold_amount = 3;
  give[0].give_gold_target = 2;
  give[0].move = static_cast<int8_t>(nm::Direction::kEast);
  nm::step(v, give);
  EXPECT_EQ(v.players[0].gold, 10);
  EXPECT_EQ(v.players[0].col, 6);
  give[0].move = -1;
  nm::step(v, give);
  EXPECT_EQ(v.players[0].gold, 7);
  EXPECT_EQ(v.players[1].gold, 4);
}

// ---- NPCs (A3.2)
// ----------------------------------------------------------------------------------

TEST(NmmoRulesNpc, DangerAndTypeLevelGoldEquipmentFromIt) {
  nm::Config medium = nm::Config::medium();
  EXPECT_DOUBLE_EQ(nm::danger(medium, 16, 80), 0.0);
  EXPECT_DOUBLE_EQ(nm::danger(medium, 80, 80), 2.0 * 63 / 128);
  EXPECT_DOUBLE_EQ(nm::danger(medium, 40, 100), 2.0 * 24 / 128);

  // A 36x36 all-grass world, map_center 32, border 2: danger = distance to the edge / 16.
  nm::World w;
  w.config = nm::Config::small();  // NPC levels 1..5
  w.config.map_center = 32;
  w.config.map_border = 2;
  w.tiles.assign(36 * 36, Material::kGrass);
  w.rng.seed(11);
  struct Case {
    int dist;
    nm::NpcType type;
  };
  for (const Case& k : {Case{0, nm::NpcType::kPassive}, Case{7, nm::NpcType::kPassive},
                        Case{8, nm::NpcType::kNeutral}, Case{12, nm::NpcType::kNeutral},
                        Case{13, nm::NpcType::kHostile}, Case{15, nm::NpcType::kHostile}}) {
    for (int trial = 0; trial < 20; ++trial) {
      const int32_t id = nm::spawn_npc(w, 2 + k.dist, 18);
      ASSERT_NE(id, 0);
      const nm::Entity& n = *w.entity(id);
      const double dg = k.dist / 16.0;
      const int level = static_cast<int>(dg * 4 + 1);
      EXPECT_EQ(n.npc_type, k.type) << k.dist;
      const int s = static_cast<int>(n.npc_style);
      EXPECT_EQ(n.level[s], level);
      EXPECT_EQ(n.overall_level(), level);
      EXPECT_EQ(n.exp[s], 1);  // nmmo's level-as-experience quirk
      EXPECT_EQ(n.gold, level);
      // lvl = level - U[0, 1): offense int(15 + 15 lvl), defense int(15 lvl), item level int(5
      // lvl).
      EXPECT_GE(n.npc_offense, 15 + 15 * (level - 1));
      EXPECT_LE(n.npc_offense, 15 + 15 * level);
      EXPECT_GE(n.npc_defense, 15 * (level - 1));
      EXPECT_LE(n.npc_defense, 15 * level);
      EXPECT_GE(n.npc_item_level, 5 * (level - 1));
      EXPECT_LE(n.npc_item_level, 5 * level);
      EXPECT_EQ(n.health, 100);
      const int armour = static_cast<int>(n.npc_drop_armour),
                tool = static_cast<int>(n.npc_drop_tool);
      EXPECT_TRUE(armour >= 2 && armour <= 4) << armour;
      EXPECT_TRUE(tool >= 8 && tool <= 12) << tool;
    }
  }
  w.set_material(10, 10, Material::kWater);
  EXPECT_EQ(nm::spawn_npc(w, 10, 10), 0);
  EXPECT_EQ(nm::spawn_npc(w, 1, 10), 0);  // outside the playable square: negative danger
}

TEST(NmmoRulesNpc, PoliciesAttackAsTheirTypeSays) {
  nm::World w = grass_world();
  add_player(w, 5, 5);
  add_npc(w, 5, 6, nm::NpcType::kPassive, nm::Style::kMelee, 1, 15, 0);
  add_npc(w, 5, 6, nm::NpcType::kNeutral, nm::Style::kMelee, 1, 15, 0);
  w.players[0].food = w.players[0].water = 100;
  // Ten ticks of no provocation: neither attacks (both wander off).
  for (int k = 0; k < 10; ++k) {
    w.players[0].food = w.players[0].water = 100;
    nm::step(w, no_actions(w));
  }
  EXPECT_EQ(w.players[0].health, 100);
  EXPECT_EQ(w.players[0].attacker_id, 0);

  // A neutral NPC hunts whoever hit it: it strikes back on the next tick.
  nm::World v = grass_world();
  add_player(v, 5, 5);
  add_npc(v, 5, 7, nm::NpcType::kNeutral, nm::Style::kRange, 1, 15, 0);
  auto hit = no_actions(v);
  hit[0] = attack_action(nm::Style::kMelee, -1);
  nm::step(v, hit);
  EXPECT_EQ(v.players[0].health, 100);
  EXPECT_EQ(v.npcs[0].attacker_id, 1);
  nm::step(v, no_actions(v));
  EXPECT_EQ(v.players[0].attacker_id, -1);
  EXPECT_EQ(v.players[0].health, 100 - 30);
}

TEST(NmmoRulesNpc, HostileNpcClosesInWithAStarThenAttacks) {
  nm::World w = grass_world();
  add_player(w, 5, 5);
  add_npc(w, 5, 11, nm::NpcType::kHostile, nm::Style::kMelee, 1, 15, 0);  // distance 6
  w.players[0].food = w.players[0].water = 100;
  int first_hit = 0;
  for (int k = 1; k <= 6 && first_hit == 0; ++k) {
    nm::step(w, no_actions(w));
    if (w.players[0].health < 100) first_hit = k;
    if (first_hit == 0) {
      EXPECT_EQ(w.npcs[0].row, 5) << k;
      EXPECT_EQ(w.npcs[0].col, 11 - k) << k;  // straight along the row
    }
  }
  // Distances at decision time: 6, 5, 4, 3 -> it attacks in the 4th tick.
  EXPECT_EQ(first_hit, 4);
  EXPECT_EQ(w.npcs[0].npc_target_id, 1);
}

TEST(NmmoRulesNpc, NpcsRegenerateHealth) {
  nm::World w = grass_world();
  add_npc(w, 9, 9, nm::NpcType::kPassive, nm::Style::kMage, 1, 15, 0).health = 50;
  nm::step(w, {});
  EXPECT_EQ(w.npcs[0].health, 51);
  EXPECT_EQ(w.npcs[0].time_alive, 1);
}

// ---- Episodes
// --------------------------------------------------------------------------------------

// Random moves; with `attacks`, half the players also attack a random entity in reach.
std::vector<nm::AgentAction> random_actions(const nm::World& w, stackgrad::envs::Rng& rng,
                                            bool attacks) {
  std::vector<nm::AgentAction> actions(w.players.size());
  std::vector<int32_t> near;
  for (size_t i = 0; i < actions.size(); ++i) {
    actions[i].move = static_cast<int8_t>(rng.randint(0, 5));
    const nm::Entity& p = w.players[i];
    if (!attacks || !p.alive || rng.uniform() < 0.5) continue;
    near.clear();
    for (const nm::Entity& e : w.players) {
      if (e.alive && e.id != p.id && nm::chebyshev(p.row, p.col, e.row, e.col) <= 3) {
        near.push_back(e.id);
      }
    }
    for (const nm::Entity& e : w.npcs) {
      if (nm::chebyshev(p.row, p.col, e.row, e.col) <= 3) near.push_back(e.id);
    }
    if (near.empty()) continue;
    actions[i].attack_style = static_cast<int8_t>(rng.randint(0, 3));
    actions[i].attack_target = near[rng.randint(0, static_cast<int64_t>(near.size()))];
  }
  return actions;
}

TEST(NmmoRulesEpisode, ResetSpawnsPlayersOnTheEdgeAndNpcs) {
  nm::World w;
  w.config = nm::Config::small();
  w.config.resource_resilient_population = 0.2;
  nm::reset(w, 5, 1);
  const nm::Config& c = w.config;
  EXPECT_EQ(w.tick, 0);
  ASSERT_EQ(static_cast<int>(w.players.size()), c.player_n);
  const int centre = c.map_border + c.map_center / 2;
  int resilient = 0;
  for (const nm::Entity& p : w.players) {
    EXPECT_EQ(nm::chebyshev(p.row, p.col, centre, centre), c.map_center / 2);
    EXPECT_EQ(p.health, 100);
    EXPECT_EQ(p.food, 100);
    EXPECT_EQ(p.gold, 1);
    EXPECT_EQ(p.overall_level(), 1);
    resilient += p.resilient;
  }
  EXPECT_EQ(resilient, 13);  // round(0.2 * 64) = round(12.8)
  EXPECT_GT(w.npcs.size(), 0u);
  EXPECT_LE(static_cast<int>(w.npcs.size()), std::min(c.npc_n, c.npc_spawn_attempts));
  for (const nm::Entity& n : w.npcs) EXPECT_TRUE(nm::is_habitable(w.material(n.row, n.col)));
  EXPECT_NE(stackgrad::testing::error_of([&] { nm::reset(w, 5, 2); }).find("map_id"),
            std::string::npos);
}

TEST(NmmoRulesEpisode, SameSeedSameEpisode) {
  auto run = [](uint64_t seed) {
    nm::World w;
    w.config = nm::Config::small();
    nm::reset(w, seed, 1);
    stackgrad::envs::Rng policy(99);
    for (int t = 0; t < 100; ++t) nm::step(w, random_actions(w, policy, true));
    return w;
  };
  const nm::World a = run(17), b = run(17), c = run(18);
  EXPECT_EQ(a.tiles, b.tiles);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    EXPECT_EQ(a.events[i].ent_id, b.events[i].ent_id);
    EXPECT_EQ(a.events[i].event, b.events[i].event);
    EXPECT_EQ(a.events[i].number, b.events[i].number);
  }
  for (size_t i = 0; i < a.players.size(); ++i) {
    EXPECT_EQ(a.players[i].row, b.players[i].row);
    EXPECT_EQ(a.players[i].col, b.players[i].col);
    EXPECT_EQ(a.players[i].health, b.players[i].health);
    EXPECT_EQ(a.players[i].exp, b.players[i].exp);
  }
  ASSERT_EQ(a.npcs.size(), b.npcs.size());
  for (size_t i = 0; i < a.npcs.size(); ++i) {
    EXPECT_EQ(a.npcs[i].id, b.npcs[i].id);
    EXPECT_EQ(a.npcs[i].row, b.npcs[i].row);
    EXPECT_EQ(a.npcs[i].health, b.npcs[i].health);
  }
  // Another seed: another episode.
  bool differs = a.events.size() != c.events.size() || a.npcs.size() != c.npcs.size();
  for (size_t i = 0; i < a.players.size() && !differs; ++i) {
    differs = a.players[i].row != c.players[i].row || a.players[i].col != c.players[i].col;
  }
  EXPECT_TRUE(differs);
}

// nmmo loads the same pre-generated map (resources included) at every reset; the episode seed
// only moves the players and NPCs.
TEST(NmmoRulesEpisode, AMapKeepsItsResourcesAcrossEpisodes) {
  nm::World a, b, other;
  a.config = b.config = other.config = nm::Config::small();
  a.config.map_n = b.config.map_n = other.config.map_n = 2;
  nm::reset(a, 1, 1);
  nm::reset(b, 2, 1);
  nm::reset(other, 1, 2);
  EXPECT_EQ(a.tiles, b.tiles);
  EXPECT_NE(a.tiles, other.tiles);
  bool players_differ = false;
  for (size_t i = 0; i < a.players.size(); ++i) {
    players_differ |= a.players[i].row != b.players[i].row || a.players[i].col != b.players[i].col;
  }
  EXPECT_TRUE(players_differ);
  // Resources are really there (the fractal alone has no ore).
  EXPECT_GT(std::count(a.tiles.begin(), a.tiles.end(), nm::Material::kOre), 0);
}

TEST(NmmoRulesEpisode, SmallPresetSmokeRunKeepsInvariants) {
  nm::World w;
  w.config = nm::Config::small();
  nm::reset(w, 2024, 1);
  stackgrad::envs::Rng policy(7);
  std::vector<char> was_dead(w.players.size(), 0);
  int max_npcs = 0;
  for (int t = 0; t < 200; ++t) {
    nm::step(w, random_actions(w, policy, t % 2 == 0));
    ASSERT_EQ(w.tick, t + 1);
    for (size_t i = 0; i < w.players.size(); ++i) {
      const nm::Entity& p = w.players[i];
      ASSERT_GE(p.health, 0);
      ASSERT_LE(p.health, 100);
      ASSERT_GE(p.food, 0);
      ASSERT_LE(p.food, 100);
      ASSERT_GE(p.water, 0);
      ASSERT_LE(p.water, 100);
      ASSERT_EQ(p.alive, p.health > 0) << "player " << p.id << " tick " << w.tick;
      if (was_dead[i]) {
        ASSERT_FALSE(p.alive) << "player " << p.id << " came back";
      }
      was_dead[i] = !p.alive;
      if (p.alive) {
        ASSERT_TRUE(nm::is_habitable(w.material(p.row, p.col)));
      } else {
        ASSERT_TRUE(p.inventory.empty());
      }
    }
    ASSERT_LE(static_cast<int>(w.npcs.size()), w.config.npc_n);
    max_npcs = std::max(max_npcs, static_cast<int>(w.npcs.size()));
    for (const nm::Entity& n : w.npcs) {
      ASSERT_TRUE(n.alive);
      ASSERT_GT(n.health, 0);
      ASSERT_LE(n.health, 100);
      ASSERT_TRUE(nm::is_habitable(w.material(n.row, n.col)));
    }
    for (const int32_t idx : w.depleted) {
      ASSERT_NE(nm::respawned_form(w.tiles[idx]), w.tiles[idx]);
    }
  }
  EXPECT_EQ(max_npcs, w.config.npc_n);  // 25 attempts per tick fill the 32 quickly
  EXPECT_GT(count_events(w, nm::EventCode::kScoreHit), 0);
}

TEST(NmmoRulesEpisode, WrongActionCountOrValuesAreNamed) {
  nm::World w;
  w.config = nm::Config::small();
  nm::reset(w, 1, 1);
  std::vector<nm::AgentAction> few(3);
  EXPECT_NE(stackgrad::testing::error_of([&] { nm::step(w, few); }).find("one action per player"),
            std::string::npos);
  auto actions = no_actions(w);
  actions[4].move = 5;
  EXPECT_NE(stackgrad::testing::error_of([&] { nm::step(w, actions); }).find("player 5's move"),
            std::string::npos);
}

// ticks/s of the competition world (Medium: 128 agents moving at random, 128 NPCs) on one
// thread, best of 3 episodes of 1024 ticks (the machine may be shared). With `immortal` the
// agents' food and water are topped up before every tick, so all 128 live the whole episode
// (the NMMO 2.0 paper's benchmark disables mortality); otherwise most starve within ~100 ticks.
double medium_ticks_per_second(bool immortal, int* alive_at_end) {
  double best = 0;
  for (int episode = 0; episode < 3; ++episode) {
    nm::World w;
    w.config = nm::Config::medium();
    nm::reset(w, 1 + episode, 1);
    stackgrad::envs::Rng policy(episode);
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < 1024; ++t) {
      if (immortal) {
        for (nm::Entity& p : w.players) p.food = p.water = 100;
      }
      nm::step(w, random_actions(w, policy, false));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 1024 / seconds);
    *alive_at_end = 0;
    for (const nm::Entity& p : w.players) *alive_at_end += p.alive;
    EXPECT_EQ(w.tick, 1024);
    EXPECT_EQ(static_cast<int>(w.npcs.size()), 128);
  }
  return best;
}

TEST(NmmoRulesSpeed, MediumWorldTicksPerSecond) {
  int alive = 0;
  const double mortal = medium_ticks_per_second(false, &alive);
  std::printf(
      "Medium, 128 agents moving at random, 128 NPCs, one thread: %.0f ticks/s (%d agents "
      "alive after 1024 ticks)\n",
      mortal, alive);
  const double immortal = medium_ticks_per_second(true, &alive);
  std::printf(
      "... with food and water topped up every tick: %.0f ticks/s = %.0f agent steps/s "
      "(%d agents alive after 1024 ticks)\n",
      immortal, immortal * 128, alive);
  EXPECT_EQ(alive, 128);
}

}  // namespace
