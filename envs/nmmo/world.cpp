#include "world.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

// nmmo's default_exp_threshold: each level costs round(90 * sqrt(l)) more than the last.
std::array<int, 16> exp_table() {
  std::array<int, 16> t{};
  for (int l = 1; l < 16; ++l) t[l] = t[l - 1] + static_cast<int>(std::lround(90 * std::sqrt(l)));
  return t;
}

}  // namespace

int exp_to_reach_level(int level) {
  static const std::array<int, 16> table = exp_table();
  SG_CHECK(level >= 1 && level <= 16, "exp_to_reach_level: level must be in [1, 16], got ", level);
  return table[level - 1];
}

int level_for_exp(int exp, int level_max) {
  int level = 1;
  while (level < level_max && exp >= exp_to_reach_level(level + 1)) ++level;
  return level;
}

int Entity::overall_level() const { return *std::max_element(level.begin(), level.end()); }

Entity* World::entity(int32_t id) {
  if (id > 0) return id <= static_cast<int32_t>(players.size()) ? &players[id - 1] : nullptr;
  if (id < 0) {
    for (Entity& npc : npcs) {
      if (npc.id == id) return &npc;
    }
  }
  return nullptr;
}

const Entity* World::entity(int32_t id) const { return const_cast<World*>(this)->entity(id); }

std::string_view item_type_name(ItemType t) {
  static constexpr std::array<std::string_view, 18> names = {
      "None",   "None",    "Hat", "Top",    "Bottom",    "Spear", "Bow",   "Wand",   "Rod",
      "Gloves", "Pickaxe", "Axe", "Chisel", "Whetstone", "Arrow", "Runes", "Ration", "Potion"};
  const int i = static_cast<int>(t);
  return i >= 0 && i < 18 ? names[i] : "None";
}

std::string_view event_name(EventCode e) {
  switch (e) {
    case EventCode::kEatFood:
      return "EAT_FOOD";
    case EventCode::kDrinkWater:
      return "DRINK_WATER";
    case EventCode::kGoFarthest:
      return "GO_FARTHEST";
    case EventCode::kScoreHit:
      return "SCORE_HIT";
    case EventCode::kPlayerKill:
      return "PLAYER_KILL";
    case EventCode::kConsumeItem:
      return "CONSUME_ITEM";
    case EventCode::kGiveItem:
      return "GIVE_ITEM";
    case EventCode::kDestroyItem:
      return "DESTROY_ITEM";
    case EventCode::kHarvestItem:
      return "HARVEST_ITEM";
    case EventCode::kEquipItem:
      return "EQUIP_ITEM";
    case EventCode::kLootItem:
      return "LOOT_ITEM";
    case EventCode::kGiveGold:
      return "GIVE_GOLD";
    case EventCode::kListItem:
      return "LIST_ITEM";
    case EventCode::kEarnGold:
      return "EARN_GOLD";
    case EventCode::kBuyItem:
      return "BUY_ITEM";
    case EventCode::kLevelUp:
      return "LEVEL_UP";
  }
  return "UNKNOWN";
}

}  // namespace stackgrad::nmmo
