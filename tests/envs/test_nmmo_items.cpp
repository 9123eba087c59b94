// Items, inventory, equipment, gifts, gold and the market of Neural MMO 2.0 (spec A8, A9, A5.3):
// hand-built worlds with the outcome nmmo 2.0.3 gives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "envs/nmmo/items.h"
#include "support/error_of.h"

namespace nm = stackgrad::nmmo;
using nm::EventCode;
using nm::ItemType;
using nm::Style;

namespace {

// Three fresh players on one tile (ids 1..3, every skill level 1, 1 gold) and one NPC, at tick 10.
nm::World make_world() {
  nm::World w;
  w.tick = 10;
  w.rng.seed(7);
  w.players.resize(3);
  for (int i = 0; i < 3; ++i) {
    nm::Entity& p = w.players[i];
    p.id = i + 1;
    p.row = 40;
    p.col = 50;
    p.level.fill(1);
    p.gold = 1;
  }
  nm::Entity npc;
  npc.id = -1;
  npc.npc_type = nm::NpcType::kHostile;
  npc.row = 40;
  npc.col = 50;
  npc.level.fill(1);
  npc.npc_offense = 52;
  npc.npc_defense = 37;
  npc.npc_item_level = 12;
  w.npcs.push_back(npc);
  return w;
}

int32_t give_new(nm::World& w, nm::Entity& e, ItemType t, int level, int quantity = 1) {
  const int32_t id = nm::create_item(w, t, level, quantity);
  EXPECT_TRUE(nm::receive_item(w, e, id));
  return id;
}

std::vector<nm::Event> events_of(const nm::World& w, EventCode code) {
  std::vector<nm::Event> out;
  for (const nm::Event& e : w.events) {
    if (e.event == code) out.push_back(e);
  }
  return out;
}

bool contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

struct Stats {
  ItemType type;
  int level;
  std::array<int, 3> attack, defense;
  int health_restore, resource_restore;
};

TEST(NmmoItems, StatsFollowTheTableAndClampAtOneHundred) {
  // Spec A8: armour 10L defense; weapons and ammunition 15 + 15L attack in their style; tools 30
  // defense; consumables restore 50 + 5L. Level 10 saturates everything but tools at 100.
  const std::vector<Stats> table = {
      {ItemType::kHat, 1, {0, 0, 0}, {10, 10, 10}, 0, 0},
      {ItemType::kHat, 3, {0, 0, 0}, {30, 30, 30}, 0, 0},
      {ItemType::kHat, 10, {0, 0, 0}, {100, 100, 100}, 0, 0},
      {ItemType::kTop, 1, {0, 0, 0}, {10, 10, 10}, 0, 0},
      {ItemType::kTop, 3, {0, 0, 0}, {30, 30, 30}, 0, 0},
      {ItemType::kTop, 10, {0, 0, 0}, {100, 100, 100}, 0, 0},
      {ItemType::kBottom, 1, {0, 0, 0}, {10, 10, 10}, 0, 0},
      {ItemType::kBottom, 3, {0, 0, 0}, {30, 30, 30}, 0, 0},
      {ItemType::kBottom, 10, {0, 0, 0}, {100, 100, 100}, 0, 0},
      {ItemType::kSpear, 1, {30, 0, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kSpear, 3, {60, 0, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kSpear, 10, {100, 0, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kBow, 1, {0, 30, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kBow, 3, {0, 60, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kBow, 10, {0, 100, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kWand, 1, {0, 0, 30}, {0, 0, 0}, 0, 0},
      {ItemType::kWand, 3, {0, 0, 60}, {0, 0, 0}, 0, 0},
      {ItemType::kWand, 10, {0, 0, 100}, {0, 0, 0}, 0, 0},
      {ItemType::kWhetstone, 1, {30, 0, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kWhetstone, 3, {60, 0, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kWhetstone, 10, {100, 0, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kArrow, 1, {0, 30, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kArrow, 3, {0, 60, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kArrow, 10, {0, 100, 0}, {0, 0, 0}, 0, 0},
      {ItemType::kRunes, 1, {0, 0, 30}, {0, 0, 0}, 0, 0},
      {ItemType::kRunes, 3, {0, 0, 60}, {0, 0, 0}, 0, 0},
      {ItemType::kRunes, 10, {0, 0, 100}, {0, 0, 0}, 0, 0},
      {ItemType::kRation, 1, {0, 0, 0}, {0, 0, 0}, 0, 55},
      {ItemType::kRation, 3, {0, 0, 0}, {0, 0, 0}, 0, 65},
      {ItemType::kRation, 10, {0, 0, 0}, {0, 0, 0}, 0, 100},
      {ItemType::kPotion, 1, {0, 0, 0}, {0, 0, 0}, 55, 0},
      {ItemType::kPotion, 3, {0, 0, 0}, {0, 0, 0}, 65, 0},
      {ItemType::kPotion, 10, {0, 0, 0}, {0, 0, 0}, 100, 0},
  };
  nm::World w = make_world();
  for (const Stats& s : table) {
    const nm::Item& item = w.item(nm::create_item(w, s.type, s.level));
    const std::string what =
        std::string(nm::item_type_name(s.type)) + " L" + std::to_string(s.level);
    EXPECT_EQ(item.type, s.type) << what;
    EXPECT_EQ(item.level, s.level) << what;
    EXPECT_EQ(item.owner_id, 0) << what;
    EXPECT_EQ(item.quantity, 1) << what;
    EXPECT_EQ(item.capacity, 0) << what;
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(item.attack[k], s.attack[k]) << what << " attack " << k;
      EXPECT_EQ(item.defense[k], s.defense[k]) << what << " defense " << k;
    }
    EXPECT_EQ(item.health_restore, s.health_restore) << what;
    EXPECT_EQ(item.resource_restore, s.resource_restore) << what;
  }
  for (ItemType tool :
       {ItemType::kRod, ItemType::kGloves, ItemType::kPickaxe, ItemType::kAxe, ItemType::kChisel}) {
    for (int level : {1, 3, 10}) {
      const nm::Item& item = w.item(nm::create_item(w, tool, level));
      EXPECT_THAT(item.defense, ::testing::ElementsAre(30, 30, 30)) << nm::item_type_name(tool);
      EXPECT_THAT(item.attack, ::testing::ElementsAre(0, 0, 0)) << nm::item_type_name(tool);
    }
  }
  // Weapons saturate from level 6 (15 + 90 = 105); level 5 is still 90.
  EXPECT_EQ(w.item(nm::create_item(w, ItemType::kBow, 5)).attack[1], 90);
  EXPECT_EQ(w.item(nm::create_item(w, ItemType::kBow, 6)).attack[1], 100);
  // Ids are 1, 2, ... in creation order.
  for (size_t i = 0; i < w.items.size(); ++i) EXPECT_EQ(w.items[i].id, static_cast<int>(i) + 1);
  EXPECT_EQ(w.item(nm::create_item(w, ItemType::kArrow, 2, 7)).quantity, 7);
}

TEST(NmmoItems, SlotsAndRequirementsPerType) {
  EXPECT_EQ(nm::equip_slot(ItemType::kHat), nm::EquipSlot::kHat);
  EXPECT_EQ(nm::equip_slot(ItemType::kTop), nm::EquipSlot::kTop);
  EXPECT_EQ(nm::equip_slot(ItemType::kBottom), nm::EquipSlot::kBottom);
  for (int t = 5; t <= 12; ++t) EXPECT_EQ(nm::equip_slot(ItemType(t)), nm::EquipSlot::kHeld) << t;
  for (int t = 13; t <= 15; ++t) {
    EXPECT_EQ(nm::equip_slot(ItemType(t)), nm::EquipSlot::kAmmunition) << t;
    EXPECT_TRUE(nm::is_ammunition(ItemType(t)));
  }
  EXPECT_EQ(nm::equip_slot(ItemType::kRation), nm::EquipSlot::kNone);
  EXPECT_TRUE(nm::is_consumable(ItemType::kPotion));
  EXPECT_FALSE(nm::is_consumable(ItemType::kSpear));
  EXPECT_FALSE(nm::is_ammunition(ItemType::kBow));
  const std::vector<std::pair<ItemType, int>> skills = {
      {ItemType::kHat, -1},   {ItemType::kTop, -1},   {ItemType::kBottom, -1},
      {ItemType::kSpear, 0},  {ItemType::kBow, 1},    {ItemType::kWand, 2},
      {ItemType::kRod, 3},    {ItemType::kGloves, 4}, {ItemType::kPickaxe, 5},
      {ItemType::kAxe, 6},    {ItemType::kChisel, 7}, {ItemType::kWhetstone, 0},
      {ItemType::kArrow, 1},  {ItemType::kRunes, 2},  {ItemType::kRation, -1},
      {ItemType::kPotion, -1}};
  for (auto [type, skill] : skills) EXPECT_EQ(nm::requirement_skill(type), skill) << int(type);
}

TEST(NmmoItems, CreateRejectsBadArguments) {
  nm::World w = make_world();
  using stackgrad::testing::error_of;
  EXPECT_THAT(error_of([&] { nm::create_item(w, ItemType::kNone, 1); }),
              ::testing::HasSubstr("not an item type"));
  EXPECT_THAT(error_of([&] { nm::create_item(w, ItemType::kHat, 100); }),
              ::testing::HasSubstr("level"));
  EXPECT_THAT(error_of([&] { nm::create_item(w, ItemType::kSpear, 1, 2); }),
              ::testing::HasSubstr("only ammunition stacks"));
  EXPECT_THAT(error_of([&] { nm::create_item(w, ItemType::kArrow, 1, 0); }),
              ::testing::HasSubstr("quantity"));
  EXPECT_TRUE(w.items.empty());
}

TEST(NmmoItems, InventoryHoldsTwelveAndLeavesTheThirteenthAlone) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  EXPECT_EQ(nm::free_slots(w, p), 12);
  EXPECT_EQ(nm::free_slots(w, w.npcs[0]), 0);  // NPCs carry no items
  for (int i = 0; i < 12; ++i) give_new(w, p, ItemType::kHat, 1);
  EXPECT_EQ(nm::free_slots(w, p), 0);
  const int32_t extra = nm::create_item(w, ItemType::kRation, 1);
  EXPECT_FALSE(nm::can_receive(w, p, w.item(extra)));
  EXPECT_FALSE(nm::receive_item(w, p, extra));
  EXPECT_EQ(w.item(extra).owner_id, 0);
  EXPECT_TRUE(w.item(extra).alive);
  EXPECT_EQ(p.inventory.size(), 12u);
  EXPECT_EQ(w.item(p.inventory[0]).owner_id, 1);
  // An owned item cannot be received twice.
  EXPECT_THAT(stackgrad::testing::error_of([&] { nm::receive_item(w, w.players[1], 1); }),
              ::testing::HasSubstr("still belongs to entity 1"));
}

TEST(NmmoItems, AmmunitionStacksByTypeAndLevelWithoutASlot) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  const int32_t arrows = give_new(w, p, ItemType::kArrow, 1, 3);
  const int32_t more = nm::create_item(w, ItemType::kArrow, 1, 2);
  EXPECT_TRUE(nm::receive_item(w, p, more));
  EXPECT_EQ(w.item(arrows).quantity, 5);
  EXPECT_FALSE(w.item(more).alive);  // merged away
  EXPECT_EQ(p.inventory, std::vector<int32_t>{arrows});
  give_new(w, p, ItemType::kArrow, 2);  // another level: its own slot
  give_new(w, p, ItemType::kRunes, 1);  // another type: its own slot
  EXPECT_EQ(p.inventory.size(), 3u);
  for (int i = 0; i < 9; ++i) give_new(w, p, ItemType::kTop, 1);
  ASSERT_EQ(nm::free_slots(w, p), 0);
  // Full, yet a matching stack still merges; a new signature does not fit.
  const int32_t third = nm::create_item(w, ItemType::kArrow, 1);
  EXPECT_TRUE(nm::can_receive(w, p, w.item(third)));
  EXPECT_TRUE(nm::receive_item(w, p, third));
  EXPECT_EQ(w.item(arrows).quantity, 6);
  const int32_t whetstone = nm::create_item(w, ItemType::kWhetstone, 1);
  EXPECT_FALSE(nm::can_receive(w, p, w.item(whetstone)));
  EXPECT_FALSE(nm::receive_item(w, p, whetstone));
}

TEST(NmmoItems, UseTogglesEquipmentAndReplacesTheSlot) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  const int32_t spear = give_new(w, p, ItemType::kSpear, 1);
  const int32_t bow = give_new(w, p, ItemType::kBow, 1);
  const int32_t rod = give_new(w, p, ItemType::kRod, 1);
  const int32_t hat = give_new(w, p, ItemType::kHat, 1);
  const int32_t arrows = give_new(w, p, ItemType::kArrow, 1, 4);

  ASSERT_TRUE(nm::use_item(w, p, spear));
  EXPECT_EQ(p.equipment.held, spear);
  EXPECT_TRUE(w.item(spear).equipped);
  EXPECT_EQ(nm::equipment_attack(w, p, Style::kMelee), 30);
  EXPECT_EQ(nm::equipment_attack(w, p, Style::kRange), 0);
  ASSERT_EQ(w.events.size(), 1u);
  const nm::Event e = w.events[0];
  EXPECT_EQ(e.event, EventCode::kEquipItem);
  EXPECT_EQ(e.ent_id, 1);
  EXPECT_EQ(e.tick, 11);  // nmmo stamps tick + 1
  EXPECT_EQ(e.type, 5);
  EXPECT_EQ(e.level, 1);
  EXPECT_EQ(e.number, 1);

  // Held takes one weapon OR one tool: the bow, then the rod, push the previous one out.
  ASSERT_TRUE(nm::use_item(w, p, bow));
  EXPECT_EQ(p.equipment.held, bow);
  EXPECT_FALSE(w.item(spear).equipped);
  ASSERT_TRUE(nm::use_item(w, p, rod));
  EXPECT_EQ(p.equipment.held, rod);
  EXPECT_FALSE(w.item(bow).equipped);
  EXPECT_EQ(nm::equipment_attack(w, p, Style::kRange), 0);
  EXPECT_EQ(nm::equipment_defense(w, p, Style::kMage), 30);

  ASSERT_TRUE(nm::use_item(w, p, hat));
  ASSERT_TRUE(nm::use_item(w, p, arrows));
  EXPECT_EQ(p.equipment.hat, hat);
  EXPECT_EQ(p.equipment.ammunition, arrows);
  EXPECT_EQ(nm::equipment_defense(w, p, Style::kMelee), 40);
  EXPECT_EQ(nm::equipped_id(p, nm::EquipSlot::kHeld), rod);
  EXPECT_EQ(nm::equipped_id(p, nm::EquipSlot::kAmmunition), arrows);
  EXPECT_EQ(nm::equipped_id(p, nm::EquipSlot::kBottom), 0);
  EXPECT_EQ(nm::equipped_id(p, nm::EquipSlot::kNone), 0);
  EXPECT_EQ(nm::equipment_attack(w, p, Style::kRange), 30);
  EXPECT_EQ(w.events.back().number, 4);  // the stack's quantity
  EXPECT_EQ(events_of(w, EventCode::kEquipItem).size(), 5u);

  // A second use takes it off, with no event; the other slots stay.
  ASSERT_TRUE(nm::use_item(w, p, hat));
  EXPECT_EQ(p.equipment.hat, 0);
  EXPECT_FALSE(w.item(hat).equipped);
  EXPECT_EQ(p.equipment.held, rod);
  EXPECT_EQ(events_of(w, EventCode::kEquipItem).size(), 5u);
  EXPECT_EQ(nm::equipment_defense(w, p, Style::kMelee), 30);

  // Items that are not the player's own cannot be used.
  const int32_t other = give_new(w, w.players[1], ItemType::kSpear, 1);
  EXPECT_FALSE(nm::use_item(w, p, other));
  EXPECT_FALSE(nm::use_item(w, p, 0));
  EXPECT_FALSE(nm::use_item(w, p, 9999));
}

TEST(NmmoItems, UseRequiresTheMatchingSkillOrOverallLevel) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  const int32_t spear = give_new(w, p, ItemType::kSpear, 3);
  const int32_t rod = give_new(w, p, ItemType::kRod, 2);
  const int32_t hat = give_new(w, p, ItemType::kHat, 2);
  const int32_t ration = give_new(w, p, ItemType::kRation, 2);
  const int32_t runes = give_new(w, p, ItemType::kRunes, 2);
  p.level[static_cast<int>(nm::Skill::kMelee)] = 2;
  p.level[static_cast<int>(nm::Skill::kRange)] = 2;  // not Mage: runes stay refused
  EXPECT_FALSE(nm::use_item(w, p, spear));           // melee 2 < 3
  EXPECT_FALSE(nm::use_item(w, p, rod));             // fishing 1 < 2
  EXPECT_FALSE(nm::use_item(w, p, runes));           // mage 1 < 2
  EXPECT_TRUE(w.events.empty());
  // Armour and consumables ask for the overall level (max over all 8 skills): melee 2 is enough.
  EXPECT_TRUE(nm::use_item(w, p, hat));
  EXPECT_TRUE(nm::use_item(w, p, ration));
  p.level[static_cast<int>(nm::Skill::kMelee)] = 3;
  p.level[static_cast<int>(nm::Skill::kFishing)] = 2;
  EXPECT_TRUE(nm::use_item(w, p, spear));
  EXPECT_TRUE(nm::use_item(w, p, rod));
  EXPECT_EQ(p.equipment.held, rod);
  EXPECT_EQ(nm::requirement_level(p, ItemType::kChisel), 1);
  EXPECT_EQ(nm::requirement_level(p, ItemType::kPotion), 3);
}

TEST(NmmoItems, ConsumablesRestoreClampAndDisappear) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  p.food = 30;
  p.water = 90;
  p.health = 50;
  const int32_t ration = give_new(w, p, ItemType::kRation, 1);
  const int32_t potion = give_new(w, p, ItemType::kPotion, 1);
  ASSERT_TRUE(nm::use_item(w, p, ration));
  EXPECT_EQ(p.food, 85);    // 30 + 55
  EXPECT_EQ(p.water, 100);  // 90 + 55, clamped to resource_base
  EXPECT_EQ(p.health, 50);
  EXPECT_FALSE(w.item(ration).alive);
  EXPECT_EQ(w.item(ration).owner_id, 0);
  EXPECT_EQ(p.inventory, std::vector<int32_t>{potion});
  ASSERT_TRUE(nm::use_item(w, p, potion));
  EXPECT_EQ(p.health, 100);  // 50 + 55, clamped
  EXPECT_TRUE(p.inventory.empty());
  const auto consumed = events_of(w, EventCode::kConsumeItem);
  ASSERT_EQ(consumed.size(), 2u);
  EXPECT_EQ(consumed[0].type, 16);
  EXPECT_EQ(consumed[1].type, 17);
  EXPECT_EQ(consumed[1].level, 1);
  EXPECT_EQ(consumed[1].number, 1);
  EXPECT_FALSE(nm::use_item(w, p, potion));  // gone

  p.health = 10;
  const int32_t small = give_new(w, p, ItemType::kPotion, 1);
  EXPECT_TRUE(nm::use_item(w, p, small));
  EXPECT_EQ(p.health, 65);
}

TEST(NmmoItems, CombatLastsTheAttackTickAndThreeMore) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  EXPECT_FALSE(nm::in_combat(w, p));  // latest_combat_tick 0: never fought
  p.latest_combat_tick = w.tick + 1;  // what an attack at tick 10 stamps
  for (int t = 10; t <= 13; ++t) {
    w.tick = t;
    EXPECT_TRUE(nm::in_combat(w, p)) << t;
  }
  w.tick = 14;
  EXPECT_FALSE(nm::in_combat(w, p));
}

TEST(NmmoItems, EveryItemActionIsRefusedInCombat) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  nm::Entity& q = w.players[1];
  const int32_t hat = give_new(w, p, ItemType::kHat, 1);
  const int32_t top = give_new(w, p, ItemType::kTop, 1);
  const int32_t wares = give_new(w, q, ItemType::kBottom, 1);
  ASSERT_TRUE(nm::sell_item(w, q, wares, 1));
  p.gold = 10;
  p.latest_combat_tick = w.tick;
  const size_t before = w.events.size();
  EXPECT_FALSE(nm::use_item(w, p, hat));
  EXPECT_FALSE(nm::destroy_action(w, p, hat));
  EXPECT_FALSE(nm::give_item(w, p, q, hat));
  EXPECT_FALSE(nm::give_gold(w, p, q, 1));
  EXPECT_FALSE(nm::sell_item(w, p, top, 3));
  EXPECT_FALSE(nm::buy_item(w, p, wares));
  EXPECT_EQ(w.events.size(), before);
  EXPECT_EQ(p.gold, 10);
  EXPECT_EQ(p.inventory.size(), 2u);
  // Combat over: the same actions go through.
  w.tick += 3;
  EXPECT_TRUE(nm::use_item(w, p, hat));
  EXPECT_TRUE(nm::buy_item(w, p, wares));
  EXPECT_TRUE(nm::give_gold(w, p, q, 1));
}

TEST(NmmoItems, DestroyNeedsAnUnequippedItem) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  const int32_t hat = give_new(w, p, ItemType::kHat, 1);
  const int32_t bow = give_new(w, p, ItemType::kBow, 1);
  ASSERT_TRUE(nm::use_item(w, p, hat));
  EXPECT_FALSE(nm::destroy_action(w, p, hat));
  EXPECT_FALSE(nm::destroy_action(w, w.players[1], bow));  // not the owner
  ASSERT_TRUE(nm::sell_item(w, p, bow, 5));
  ASSERT_TRUE(nm::destroy_action(w, p, bow));  // a listed item may go; it leaves the market
  EXPECT_FALSE(w.item(bow).alive);
  EXPECT_TRUE(w.market.empty());
  EXPECT_EQ(p.inventory, std::vector<int32_t>{hat});
  const auto destroyed = events_of(w, EventCode::kDestroyItem);
  ASSERT_EQ(destroyed.size(), 1u);
  EXPECT_EQ(destroyed[0].ent_id, 1);
  EXPECT_EQ(destroyed[0].type, 0);  // nmmo logs only the count
}

TEST(NmmoItems, GiftsGoToAnotherLivePlayerOnTheSameTile) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  nm::Entity& q = w.players[1];
  nm::Entity& r = w.players[2];
  const int32_t hat = give_new(w, p, ItemType::kHat, 1);
  const int32_t spear = give_new(w, p, ItemType::kSpear, 1);
  const int32_t ration = give_new(w, p, ItemType::kRation, 1);
  const int32_t arrows = give_new(w, p, ItemType::kArrow, 2, 5);
  ASSERT_TRUE(nm::use_item(w, p, spear));
  ASSERT_TRUE(nm::sell_item(w, p, ration, 4));
  const size_t logged = w.events.size();

  EXPECT_FALSE(nm::give_item(w, p, p, hat));          // to self
  EXPECT_FALSE(nm::give_item(w, p, w.npcs[0], hat));  // to an NPC
  EXPECT_FALSE(nm::give_item(w, p, q, spear));        // equipped
  EXPECT_FALSE(nm::give_item(w, p, q, ration));       // listed
  r.row += 1;
  EXPECT_FALSE(nm::give_item(w, p, r, hat));  // a neighbouring tile is not enough
  r.row -= 1;
  r.alive = false;
  EXPECT_FALSE(nm::give_item(w, p, r, hat));
  r.alive = true;
  EXPECT_EQ(w.events.size(), logged);

  ASSERT_TRUE(nm::give_item(w, p, q, hat));
  EXPECT_EQ(w.item(hat).owner_id, 2);
  EXPECT_EQ(q.inventory, std::vector<int32_t>{hat});
  EXPECT_FALSE(contains(p.inventory, hat));
  const nm::Event e = w.events.back();
  EXPECT_EQ(e.event, EventCode::kGiveItem);
  EXPECT_EQ(e.ent_id, 1);
  EXPECT_EQ(e.tick, 11);
  EXPECT_EQ(e.type, 0);  // nmmo logs only the count
  EXPECT_EQ(e.target_ent, 0);

  // A full receiver takes only ammunition that merges into a stack it holds.
  for (int i = 0; i < 11; ++i) give_new(w, q, ItemType::kTop, 1);
  const int32_t q_arrows = nm::create_item(w, ItemType::kArrow, 2);
  ASSERT_EQ(nm::free_slots(w, q), 0);
  const int32_t potion = give_new(w, p, ItemType::kPotion, 1);
  EXPECT_FALSE(nm::give_item(w, p, q, potion));
  EXPECT_FALSE(nm::give_item(w, p, q, arrows));
  nm::destroy_item(w, q.inventory.back());
  ASSERT_TRUE(nm::receive_item(w, q, q_arrows));
  ASSERT_TRUE(nm::give_item(w, p, q, arrows));
  EXPECT_EQ(w.item(q_arrows).quantity, 6);
  EXPECT_FALSE(w.item(arrows).alive);
  EXPECT_EQ(events_of(w, EventCode::kGiveItem).size(), 2u);
}

TEST(NmmoItems, GoldGiftsNeedTheGoldAndTheSameTile) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  nm::Entity& q = w.players[1];
  p.gold = 7;
  EXPECT_FALSE(nm::give_gold(w, p, q, 8));
  EXPECT_FALSE(nm::give_gold(w, p, q, 0));
  EXPECT_FALSE(nm::give_gold(w, p, p, 3));
  EXPECT_FALSE(nm::give_gold(w, p, w.npcs[0], 3));
  q.col += 2;
  EXPECT_FALSE(nm::give_gold(w, p, q, 3));
  q.col -= 2;
  EXPECT_TRUE(w.events.empty());
  ASSERT_TRUE(nm::give_gold(w, p, q, 7));
  EXPECT_EQ(p.gold, 0);
  EXPECT_EQ(q.gold, 8);
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].event, EventCode::kGiveGold);
  EXPECT_EQ(w.events[0].ent_id, 1);
  EXPECT_EQ(w.events[0].gold, 0);  // nmmo logs only the count
}

TEST(NmmoItems, ListingsExpireAfterFiveTicks) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  const int32_t bow = give_new(w, p, ItemType::kBow, 3);
  const int32_t runes = give_new(w, p, ItemType::kRunes, 2, 8);
  const int32_t hat = give_new(w, p, ItemType::kHat, 1);
  ASSERT_TRUE(nm::use_item(w, p, hat));
  EXPECT_FALSE(nm::sell_item(w, p, hat, 5));  // equipped
  EXPECT_FALSE(nm::sell_item(w, p, bow, 0));  // price must be positive
  ASSERT_TRUE(nm::sell_item(w, p, bow, 12));
  EXPECT_FALSE(nm::sell_item(w, p, bow, 15));  // already listed
  EXPECT_FALSE(nm::use_item(w, p, bow));       // a listed item cannot be used
  EXPECT_EQ(w.item(bow).listed_price, 12);
  EXPECT_EQ(w.item(bow).listing_tick, 10);
  EXPECT_EQ(w.item(bow).owner_id, 1);  // it stays in the inventory, holding its slot
  EXPECT_EQ(nm::free_slots(w, p), 9);
  const nm::Event listed = w.events.back();
  EXPECT_EQ(listed.event, EventCode::kListItem);
  EXPECT_EQ(listed.type, 6);
  EXPECT_EQ(listed.level, 3);
  EXPECT_EQ(listed.number, 1);
  EXPECT_EQ(listed.gold, 12);
  w.tick = 12;
  ASSERT_TRUE(nm::sell_item(w, p, runes, 3));
  EXPECT_EQ(w.events.back().number, 8);
  EXPECT_EQ(w.market, (std::vector<int32_t>{bow, runes}));

  w.tick = 15;  // 15 - 10 = 5: not yet
  nm::market_step(w);
  EXPECT_EQ(w.market.size(), 2u);
  w.tick = 16;
  nm::market_step(w);
  EXPECT_EQ(w.market, std::vector<int32_t>{runes});
  EXPECT_EQ(w.item(bow).listed_price, 0);
  EXPECT_EQ(w.item(bow).owner_id, 1);
  w.tick = 18;
  nm::market_step(w);
  EXPECT_TRUE(w.market.empty());
  // Relisting starts a new clock.
  ASSERT_TRUE(nm::sell_item(w, p, bow, 9));
  w.tick = 23;
  nm::market_step(w);
  EXPECT_EQ(w.market, std::vector<int32_t>{bow});
}

TEST(NmmoItems, BuyingMovesTheItemAndTheGold) {
  nm::World w = make_world();
  nm::Entity& seller = w.players[0];
  nm::Entity& buyer = w.players[1];
  seller.row = 3;  // the market needs no shared tile
  const int32_t wand = give_new(w, seller, ItemType::kWand, 2);
  ASSERT_TRUE(nm::sell_item(w, seller, wand, 20));
  buyer.gold = 19;
  EXPECT_FALSE(nm::buy_item(w, buyer, wand));   // too poor
  EXPECT_FALSE(nm::buy_item(w, seller, wand));  // one's own item
  buyer.gold = 25;
  for (int i = 0; i < 12; ++i) give_new(w, buyer, ItemType::kTop, 1);
  EXPECT_FALSE(nm::buy_item(w, buyer, wand));  // no room
  nm::destroy_item(w, buyer.inventory.back());
  const size_t logged = w.events.size();
  ASSERT_TRUE(nm::buy_item(w, buyer, wand));
  EXPECT_EQ(buyer.gold, 5);
  EXPECT_EQ(seller.gold, 21);
  EXPECT_EQ(w.item(wand).owner_id, 2);
  EXPECT_EQ(w.item(wand).listed_price, 0);
  EXPECT_TRUE(contains(buyer.inventory, wand));
  EXPECT_TRUE(seller.inventory.empty());
  EXPECT_TRUE(w.market.empty());
  ASSERT_EQ(w.events.size(), logged + 2);
  const nm::Event bought = w.events[logged], earned = w.events[logged + 1];
  EXPECT_EQ(bought.event, EventCode::kBuyItem);
  EXPECT_EQ(bought.ent_id, 2);
  EXPECT_EQ(bought.type, 7);
  EXPECT_EQ(bought.level, 2);
  EXPECT_EQ(bought.number, 1);
  EXPECT_EQ(bought.gold, 20);
  EXPECT_EQ(earned.event, EventCode::kEarnGold);
  EXPECT_EQ(earned.ent_id, 1);
  EXPECT_EQ(earned.gold, 20);
  // A second buyer finds the listing gone.
  w.players[2].gold = 50;
  EXPECT_FALSE(nm::buy_item(w, w.players[2], wand));
  EXPECT_EQ(w.players[2].gold, 50);
}

TEST(NmmoItems, BoughtAmmunitionMergesIntoAFullBuyersStack) {
  nm::World w = make_world();
  nm::Entity& seller = w.players[0];
  nm::Entity& buyer = w.players[1];
  const int32_t listed = give_new(w, seller, ItemType::kWhetstone, 4, 6);
  ASSERT_TRUE(nm::sell_item(w, seller, listed, 2));
  const int32_t own = give_new(w, buyer, ItemType::kWhetstone, 4, 1);
  for (int i = 0; i < 11; ++i) give_new(w, buyer, ItemType::kTop, 1);
  buyer.gold = 2;
  ASSERT_TRUE(nm::buy_item(w, buyer, listed));
  EXPECT_EQ(w.item(own).quantity, 7);
  EXPECT_FALSE(w.item(listed).alive);
  EXPECT_EQ(buyer.gold, 0);
  EXPECT_EQ(w.events.back().event, EventCode::kEarnGold);
  EXPECT_EQ(w.events[w.events.size() - 2].number, 6);  // the bought stack's quantity
}

TEST(NmmoItems, PlayerKillerLootsGoldAndItems) {
  nm::World w = make_world();
  nm::Entity& victim = w.players[0];
  nm::Entity& killer = w.players[1];
  victim.gold = 9;
  killer.gold = 2;
  const int32_t spear = give_new(w, victim, ItemType::kSpear, 1);
  const int32_t ration = give_new(w, victim, ItemType::kRation, 2);
  const int32_t arrows = give_new(w, victim, ItemType::kArrow, 1, 3);
  ASSERT_TRUE(nm::use_item(w, victim, spear));
  ASSERT_TRUE(nm::sell_item(w, victim, ration, 5));
  const int32_t killer_arrows = give_new(w, killer, ItemType::kArrow, 1, 2);
  const size_t logged = w.events.size();
  victim.alive = false;
  nm::transfer_loot(w, victim, &killer);

  EXPECT_EQ(killer.gold, 11);
  EXPECT_EQ(victim.gold, 0);
  EXPECT_TRUE(victim.inventory.empty());
  EXPECT_EQ(victim.equipment.held, 0);
  EXPECT_TRUE(w.market.empty());
  EXPECT_EQ(w.item(spear).owner_id, 2);
  EXPECT_FALSE(w.item(spear).equipped);
  EXPECT_EQ(w.item(ration).owner_id, 2);
  EXPECT_EQ(w.item(ration).listed_price, 0);
  EXPECT_EQ(w.item(killer_arrows).quantity, 5);  // the victim's arrows merged
  EXPECT_FALSE(w.item(arrows).alive);
  EXPECT_EQ(killer.inventory.size(), 3u);
  ASSERT_EQ(w.events.size(), logged + 3);
  EXPECT_EQ(w.events[logged].event, EventCode::kEarnGold);
  EXPECT_EQ(w.events[logged].ent_id, 2);
  EXPECT_EQ(w.events[logged].gold, 9);
  std::multiset<int> looted;
  for (size_t i = logged + 1; i < w.events.size(); ++i) {
    EXPECT_EQ(w.events[i].event, EventCode::kLootItem);
    EXPECT_EQ(w.events[i].ent_id, 2);
    looted.insert(w.events[i].type * 100 + w.events[i].level);
  }
  // The merged arrows are not logged (nmmo's receive reports a merge as not received).
  EXPECT_EQ(looted, (std::multiset<int>{501, 1602}));
}

TEST(NmmoItems, LootOrderIsRandomAndWhatDoesNotFitIsDestroyed) {
  std::set<int32_t> kept;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    nm::World w = make_world();
    w.rng.seed(seed);
    nm::Entity& victim = w.players[0];
    nm::Entity& killer = w.players[1];
    const int32_t a = give_new(w, victim, ItemType::kHat, 1);
    const int32_t b = give_new(w, victim, ItemType::kTop, 1);
    const int32_t c = give_new(w, victim, ItemType::kBottom, 1);
    for (int i = 0; i < 11; ++i) give_new(w, killer, ItemType::kPotion, 1);
    nm::transfer_loot(w, victim, &killer);
    int alive = 0;
    for (int32_t id : {a, b, c}) {
      if (w.item(id).alive) {
        ++alive;
        kept.insert(id);
        EXPECT_EQ(w.item(id).owner_id, 2);
      }
    }
    EXPECT_EQ(alive, 1) << seed;
    EXPECT_EQ(nm::free_slots(w, killer), 0);
    EXPECT_EQ(events_of(w, EventCode::kLootItem).size(), 1u);
    EXPECT_TRUE(events_of(w, EventCode::kEarnGold).size() == 1u);  // the victim's 1 gold
  }
  EXPECT_EQ(kept.size(), 3u);  // every item was first in some order
}

TEST(NmmoItems, NpcKillerTakesTheGoldAndNobodyGetsTheItems) {
  nm::World w = make_world();
  nm::Entity& victim = w.players[0];
  nm::Entity& npc = w.npcs[0];
  victim.gold = 6;
  const int32_t hat = give_new(w, victim, ItemType::kHat, 2);
  const int32_t bow = give_new(w, victim, ItemType::kBow, 1);
  ASSERT_TRUE(nm::sell_item(w, victim, bow, 3));
  nm::transfer_loot(w, victim, &npc);
  EXPECT_EQ(npc.gold, 6);
  EXPECT_EQ(victim.gold, 0);
  EXPECT_FALSE(w.item(hat).alive);
  EXPECT_FALSE(w.item(bow).alive);
  EXPECT_TRUE(victim.inventory.empty());
  EXPECT_TRUE(w.market.empty());
  EXPECT_TRUE(events_of(w, EventCode::kLootItem).empty());
  const auto earned = events_of(w, EventCode::kEarnGold);
  ASSERT_EQ(earned.size(), 1u);  // nmmo logs it for the NPC as well
  EXPECT_EQ(earned[0].ent_id, -1);

  // Starvation: no killer, the items go and the gold stays.
  nm::Entity& starved = w.players[2];
  starved.gold = 4;
  const int32_t top = give_new(w, starved, ItemType::kTop, 1);
  nm::transfer_loot(w, starved, nullptr);
  EXPECT_FALSE(w.item(top).alive);
  EXPECT_TRUE(starved.inventory.empty());
  EXPECT_EQ(starved.gold, 4);
  EXPECT_EQ(events_of(w, EventCode::kEarnGold).size(), 1u);
}

TEST(NmmoItems, NpcDropsGoToAPlayerWithAFreeSlot) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  const int32_t drop = nm::create_item(w, ItemType::kAxe, 4);
  EXPECT_TRUE(nm::take_drop(w, p, drop));
  EXPECT_EQ(w.item(drop).owner_id, 1);
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].event, EventCode::kLootItem);
  EXPECT_EQ(w.events[0].type, 11);
  EXPECT_EQ(w.events[0].level, 4);
  const int32_t to_npc = nm::create_item(w, ItemType::kHat, 4);
  EXPECT_FALSE(nm::take_drop(w, w.npcs[0], to_npc));
  EXPECT_FALSE(w.item(to_npc).alive);
  for (int i = 0; i < 11; ++i) give_new(w, p, ItemType::kTop, 1);
  const int32_t lost = nm::create_item(w, ItemType::kHat, 4);
  EXPECT_FALSE(nm::take_drop(w, p, lost));
  EXPECT_FALSE(w.item(lost).alive);
  EXPECT_EQ(w.events.size(), 1u);
}

TEST(NmmoItems, HarvestsNeedAFreeSlotEvenToMerge) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  const int32_t arrows = nm::create_item(w, ItemType::kArrow, 2);
  EXPECT_TRUE(nm::take_harvest(w, p, arrows));
  const int32_t again = nm::create_item(w, ItemType::kArrow, 2);
  EXPECT_TRUE(nm::take_harvest(w, p, again));
  EXPECT_EQ(w.item(arrows).quantity, 2);
  const auto harvested = events_of(w, EventCode::kHarvestItem);
  ASSERT_EQ(harvested.size(), 2u);  // logged for the merge too
  EXPECT_EQ(harvested[1].type, 14);
  EXPECT_EQ(harvested[1].level, 2);
  EXPECT_EQ(harvested[1].number, 1);
  for (int i = 0; i < 11; ++i) give_new(w, p, ItemType::kTop, 1);
  const int32_t lost = nm::create_item(w, ItemType::kArrow, 2);
  EXPECT_FALSE(nm::take_harvest(w, p, lost));  // a matching stack, but no free slot
  EXPECT_FALSE(w.item(lost).alive);
  EXPECT_EQ(w.item(arrows).quantity, 2);
  EXPECT_EQ(events_of(w, EventCode::kHarvestItem).size(), 2u);
}

TEST(NmmoItems, ItemLevelSumsEquippedLevels) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  p.level.fill(10);
  const int32_t hat = give_new(w, p, ItemType::kHat, 2);
  const int32_t spear = give_new(w, p, ItemType::kSpear, 3);
  const int32_t arrows = give_new(w, p, ItemType::kArrow, 1, 10);
  give_new(w, p, ItemType::kBottom, 9);  // carried, not worn: does not count
  for (int32_t id : {hat, spear, arrows}) ASSERT_TRUE(nm::use_item(w, p, id));
  EXPECT_EQ(p.item_level, 0);  // refreshed by the entity update, not by the equip
  nm::update_item_level(w, p);
  EXPECT_EQ(p.item_level, 6);
  ASSERT_TRUE(nm::use_item(w, p, spear));
  nm::update_item_level(w, p);
  EXPECT_EQ(p.item_level, 3);
  // nmmo bounds item_level by 5 * npc_level_max = 50.
  p.level.fill(99);
  for (ItemType t : {ItemType::kTop, ItemType::kBottom, ItemType::kAxe}) {
    ASSERT_TRUE(nm::use_item(w, p, give_new(w, p, t, 30)));
  }
  nm::update_item_level(w, p);
  EXPECT_EQ(p.item_level, 50);
  nm::update_item_level(w, w.npcs[0]);
  EXPECT_EQ(w.npcs[0].item_level, 12);
}

TEST(NmmoItems, NpcsFightWithTheirScalarEquipment) {
  nm::World w = make_world();
  for (Style s : {Style::kMelee, Style::kRange, Style::kMage}) {
    EXPECT_EQ(nm::equipment_attack(w, w.npcs[0], s), 52);
    EXPECT_EQ(nm::equipment_defense(w, w.npcs[0], s), 37);
  }
  nm::consume_ammunition(w, w.npcs[0], Style::kMelee);  // nothing to consume, nothing fails
}

TEST(NmmoItems, AnAttackUsesOneUnitOfMatchingAmmunition) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  const int32_t arrows = give_new(w, p, ItemType::kArrow, 1, 2);
  ASSERT_TRUE(nm::use_item(w, p, arrows));
  nm::consume_ammunition(w, p, Style::kMelee);  // arrows add nothing to melee: kept
  nm::consume_ammunition(w, p, Style::kMage);
  EXPECT_EQ(w.item(arrows).quantity, 2);
  nm::consume_ammunition(w, p, Style::kRange);
  EXPECT_EQ(w.item(arrows).quantity, 1);
  EXPECT_EQ(p.equipment.ammunition, arrows);
  nm::consume_ammunition(w, p, Style::kRange);  // the last one: the stack is gone
  EXPECT_FALSE(w.item(arrows).alive);
  EXPECT_EQ(p.equipment.ammunition, 0);
  EXPECT_TRUE(p.inventory.empty());
  EXPECT_EQ(nm::equipment_attack(w, p, Style::kRange), 0);
  nm::consume_ammunition(w, p, Style::kRange);  // nothing equipped: no-op
  // Unequipped ammunition is never used.
  const int32_t runes = give_new(w, p, ItemType::kRunes, 1, 3);
  nm::consume_ammunition(w, p, Style::kMage);
  EXPECT_EQ(w.item(runes).quantity, 3);
}

}  // namespace
