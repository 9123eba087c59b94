// The state of one Neural MMO world: the tile map, players and NPCs, items, the market and the
// event log. Plain structs that the systems (realm.h, items.h, tasks/) read and write; section
// numbers refer to part A of ../shared/specs/neural_mmo_and_flatland.md.
//
// Ids follow nmmo: players are 1..player_n (players[id - 1]), NPCs are -1, -2, ... in spawn
// order (never reused within an episode), items are 1, 2, ... in creation order (items[id - 1];
// a destroyed item keeps its slot with alive = false). Id 0 means "none" everywhere.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "envs/common/rng.h"
#include "envs/nmmo/config.h"
#include "envs/nmmo/material.h"

namespace stackgrad::nmmo {

using envs::Rng;

// ---- Skills (A7) ------------------------------------------------------------------------------
enum class Skill : uint8_t {
  kMelee = 0,
  kRange = 1,
  kMage = 2,
  kFishing = 3,
  kHerbalism = 4,
  kProspecting = 5,
  kCarving = 6,
  kAlchemy = 7,
};
inline constexpr int kNumSkills = 8;
// nmmo's skill ids in events and task arguments are 1-based: Melee 1 ... Alchemy 8.
constexpr int skill_event_id(Skill s) { return static_cast<int>(s) + 1; }
constexpr std::array<std::string_view, kNumSkills> kSkillNames = {
    "Melee", "Range", "Mage", "Fishing", "Herbalism", "Prospecting", "Carving", "Alchemy"};

// Combat styles are the first three skills.
enum class Style : uint8_t { kMelee = 0, kRange = 1, kMage = 2 };
inline constexpr int kNumStyles = 3;

// Cumulative experience to reach level l (l = 1..10): [0, 90, 217, ..., 1737] (A7).
int exp_to_reach_level(int level);
// Level for an amount of experience, capped at Config::progression_level_max.
int level_for_exp(int exp, int level_max = 10);

// ---- Items (A8) -------------------------------------------------------------------------------
enum class ItemType : uint8_t {
  kNone = 0,
  kHat = 2,
  kTop = 3,
  kBottom = 4,
  kSpear = 5,
  kBow = 6,
  kWand = 7,
  kRod = 8,
  kGloves = 9,
  kPickaxe = 10,
  kAxe = 11,
  kChisel = 12,
  kWhetstone = 13,
  kArrow = 14,
  kRunes = 15,
  kRation = 16,
  kPotion = 17,
};
inline constexpr int kFirstItemType = 2, kLastItemType = 17;  // 16 types
std::string_view item_type_name(ItemType t);

enum class EquipSlot : uint8_t { kNone, kHat, kTop, kBottom, kHeld, kAmmunition };

struct Item {
  int32_t id = 0;
  ItemType type = ItemType::kNone;
  int32_t owner_id = 0;  // entity id; 0 when nobody owns it
  int16_t level = 0;
  int16_t capacity = 0;
  int16_t quantity = 1;                       // ammunition stacks; 1 otherwise
  std::array<int16_t, kNumStyles> attack{};   // melee, range, mage attack bonus
  std::array<int16_t, kNumStyles> defense{};  // melee, range, mage defense bonus
  int16_t health_restore = 0;
  int16_t resource_restore = 0;
  bool equipped = false;
  int16_t listed_price = 0;  // > 0 while listed on the market
  int32_t listing_tick = 0;  // tick the listing was made
  bool alive = true;
};

// ---- Entities (A3) ----------------------------------------------------------------------------
enum class NpcType : uint8_t { kPlayer = 0, kPassive = 1, kNeutral = 2, kHostile = 3 };

struct Equipment {  // item ids, 0 when the slot is empty
  int32_t hat = 0, top = 0, bottom = 0, held = 0, ammunition = 0;
};

struct Entity {
  int32_t id = 0;  // > 0 player, < 0 NPC
  NpcType npc_type = NpcType::kPlayer;
  bool alive = true;
  int16_t row = 0, col = 0;
  int16_t spawn_row = 0, spawn_col = 0;
  int16_t health = 100, food = 100, water = 100;
  int32_t gold = 0;
  int32_t time_alive = 0;
  int16_t damage = 0;  // damage received during the last tick
  int16_t item_level = 0;
  int32_t attacker_id = 0;
  int32_t latest_combat_tick = 0;
  int16_t message = 0;
  std::array<int16_t, kNumSkills> level{};  // 1..10
  std::array<int32_t, kNumSkills> exp{};
  // Players: item ids in the order received (at most Config::item_inventory_capacity).
  std::vector<int32_t> inventory;
  Equipment equipment;
  bool resilient = false;      // takes Config::resource_damage_reduction of starvation damage
  int16_t health_restore = 0;  // net health change from food and water this tick (A6)
  int32_t go_farthest = 0;     // best 64 - Chebyshev(pos, center) so far (A10)
  int32_t killer_id = 0;       // who dealt the killing blow (0: starvation, dehydration, fog)
  // NPCs: the fixed combat numbers of their virtual equipment (A3.2), style and AI target.
  Style npc_style = Style::kMelee;
  int16_t npc_offense = 0, npc_defense = 0, npc_item_level = 0;
  int32_t npc_target_id = 0;
  // NPCs: the drop table drawn at spawn (A3.2), created at the NPC's level when it is killed.
  ItemType npc_drop_armour = ItemType::kNone, npc_drop_tool = ItemType::kNone;

  bool is_player() const { return id > 0; }
  bool is_npc() const { return id < 0; }
  int overall_level() const;  // max over skills (the use requirement of armour, consumables)
};

// ---- Events (A10) -----------------------------------------------------------------------------
enum class EventCode : uint8_t {
  kEatFood = 1,
  kDrinkWater = 2,
  kGoFarthest = 3,
  kScoreHit = 11,
  kPlayerKill = 12,
  kConsumeItem = 21,
  kGiveItem = 22,
  kDestroyItem = 23,
  kHarvestItem = 24,
  kEquipItem = 25,
  kLootItem = 26,
  kGiveGold = 31,
  kListItem = 32,
  kEarnGold = 33,
  kBuyItem = 34,
  kLevelUp = 41,
};
std::string_view event_name(EventCode e);

// One row of the event log. Column meanings depend on the event, as in nmmo: type is the
// combat style, item type or skill id; number is the damage, quantity or distance; gold the price.
struct Event {
  int32_t ent_id = 0;
  int32_t tick = 0;  // nmmo records tick + 1
  EventCode event = EventCode::kEatFood;
  int16_t type = 0;
  int16_t level = 0;
  int32_t number = 0;
  int32_t gold = 0;
  int32_t target_ent = 0;
};

// ---- Actions (A5) -----------------------------------------------------------------------------
enum class Direction : int8_t { kNorth = 0, kSouth = 1, kEast = 2, kWest = 3, kStay = 4 };
inline constexpr std::array<int, 5> kDirRow = {-1, 1, 0, 0, 0};
inline constexpr std::array<int, 5> kDirCol = {0, 0, 1, -1, 0};

// One player's decisions for a tick, already resolved from observation rows to ids (the
// observation layer does that). A field left at its default means "no such action".
struct AgentAction {
  int8_t move = -1;           // a Direction, or -1
  int8_t attack_style = -1;   // a Style, or -1
  int32_t attack_target = 0;  // entity id
  int32_t use_item = 0;       // item ids
  int32_t destroy_item = 0;
  int32_t give_item = 0, give_target = 0;
  int32_t give_gold_amount = 0, give_gold_target = 0;
  int32_t sell_item = 0, sell_price = 0;
  int32_t buy_item = 0;
  int16_t comm_token = -1;
};

// ---- The world --------------------------------------------------------------------------------
struct World {
  Config config;
  int map_id = 1;
  int tick = 0;
  Rng rng;

  // The map: materials row-major (map_size x map_size); `depleted` tiles wait to grow back.
  std::vector<Material> tiles;
  std::vector<int32_t> depleted;  // flat indices of depleted tiles, in depletion order

  std::vector<Entity> players;  // players[id - 1]; dead ones stay with alive = false
  std::vector<Entity> npcs;     // alive NPCs in spawn order
  int32_t next_npc_id = -1;
  std::vector<double> npc_respawn_dangers;  // dangers of dead NPCs, queued for respawn (A3.2)

  std::vector<Item> items;      // items[id - 1]
  std::vector<int32_t> market;  // listed item ids, in listing order
  std::vector<Event> events;    // the whole episode

  int size() const { return config.map_size(); }
  bool in_bounds(int r, int c) const { return r >= 0 && c >= 0 && r < size() && c < size(); }
  Material material(int r, int c) const { return tiles[static_cast<size_t>(r) * size() + c]; }
  void set_material(int r, int c, Material m) { tiles[static_cast<size_t>(r) * size() + c] = m; }

  Entity* entity(int32_t id);  // player or alive NPC; null when absent
  const Entity* entity(int32_t id) const;
  Item& item(int32_t id) { return items[static_cast<size_t>(id) - 1]; }
  const Item& item(int32_t id) const { return items[static_cast<size_t>(id) - 1]; }

  void log(const Event& e) { events.push_back(e); }
};

constexpr int chebyshev(int r0, int c0, int r1, int c1) {
  const int dr = r0 > r1 ? r0 - r1 : r1 - r0, dc = c0 > c1 ? c0 - c1 : c1 - c0;
  return dr > dc ? dr : dc;
}

}  // namespace stackgrad::nmmo
