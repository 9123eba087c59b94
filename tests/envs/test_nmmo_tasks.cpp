// The task system of Neural MMO 2.0 (spec A12, A13): the 27 predicates on hand-built worlds,
// combinators, task rewards, the task-spec JSON format, sampling, the baseline curriculum, the
// 63 evaluation tasks and their weighted score, and the task encoding.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "envs/nmmo/tasks/curriculum.h"
#include "envs/nmmo/tasks/predicates.h"
#include "envs/nmmo/tasks/task.h"
#include "envs/nmmo/tasks/task_encoding.h"
#include "envs/nmmo/tasks/task_spec.h"
#include "support/error_of.h"

namespace nm = stackgrad::nmmo;
using nm::PredicateArgs;
using nm::PredicateExpr;
using nm::PredicateId;
using stackgrad::testing::error_of;
using ::testing::HasSubstr;

namespace {

// A 160x160 grass world with `n` players standing at (40 + 2i, 40), level 1 in every skill.
nm::World make_world(int n) {
  nm::World w;
  w.config = nm::Config::medium();
  w.tiles.assign(static_cast<size_t>(w.size()) * w.size(), nm::Material::kGrass);
  for (int i = 0; i < n; ++i) {
    nm::Entity p;
    p.id = i + 1;
    p.row = p.spawn_row = static_cast<int16_t>(40 + 2 * i);
    p.col = p.spawn_col = 40;
    p.level.fill(1);
    p.gold = 1;
    w.players.push_back(p);
  }
  return w;
}

void kill(nm::World& w, int32_t id) {
  w.players[id - 1].alive = false;
  w.players[id - 1].health = 0;
}

int32_t give_item(nm::World& w, int32_t owner, nm::ItemType type, int level, int quantity = 1,
                  bool equipped = false) {
  nm::Item it;
  it.id = static_cast<int32_t>(w.items.size()) + 1;
  it.type = type;
  it.owner_id = owner;
  it.level = static_cast<int16_t>(level);
  it.quantity = static_cast<int16_t>(quantity);
  it.equipped = equipped;
  w.items.push_back(it);
  w.players[owner - 1].inventory.push_back(it.id);
  return it.id;
}

void log_event(nm::World& w, int32_t ent, nm::EventCode code, int type = 0, int level = 0,
               int number = 0, int gold = 0, int target = 0) {
  nm::Event e;
  e.ent_id = ent;
  e.tick = w.tick + 1;
  e.event = code;
  e.type = static_cast<int16_t>(type);
  e.level = static_cast<int16_t>(level);
  e.number = number;
  e.gold = gold;
  e.target_ent = target;
  w.log(e);
}

double eval(const nm::World& w, PredicateId id, PredicateArgs args, std::vector<int32_t> subject) {
  nm::GameState gs(w);
  return nm::evaluate(PredicateExpr::leaf(id, std::move(args)), gs, subject);
}

constexpr int skill(nm::Skill s) { return static_cast<int>(s); }

// ---- predicates -----------------------------------------------------------------------------

TEST(NmmoPredicates, TwentySevenNamedPredicates) {
  std::set<std::string_view> names;
  for (int i = 0; i < nm::kNumPredicates; ++i) {
    const auto id = static_cast<PredicateId>(i);
    names.insert(nm::predicate_name(id));
    EXPECT_EQ(nm::predicate_from_name(nm::predicate_name(id)), id);
  }
  EXPECT_EQ(names.size(), 27u);
  EXPECT_THAT(nm::predicate_kwargs(PredicateId::kAttainSkill),
              ::testing::ElementsAre("skill", "level", "num_agent"));
  EXPECT_THAT(error_of([] { nm::predicate_from_name("Fly"); }), HasSubstr("'Fly'"));
}

TEST(NmmoPredicates, SuccessAndTickGE) {
  nm::World w = make_world(1);
  EXPECT_EQ(eval(w, PredicateId::kSuccess, {}, {1}), 1.0);
  w.tick = 256;
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kTickGE, {.num_tick = 1024}, {1}), 0.25);
  w.tick = 2000;
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kTickGE, {.num_tick = 1024}, {1}), 1.0);
  kill(w, 1);  // the tick does not depend on the subject
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kTickGE, {.num_tick = 1024}, {1}), 1.0);
}

TEST(NmmoPredicates, CanSeeTileUsesTheVisionWindowOfLiveMembers) {
  nm::World w = make_world(2);                      // player 1 at (40,40), player 2 at (42,40)
  w.set_material(40, 47, nm::Material::kOre);       // 7 columns from player 1: in the 15x15 window
  w.set_material(40 - 8, 40, nm::Material::kHerb);  // 8 rows up: outside for both
  const PredicateArgs ore{.tile_type = nm::Material::kOre};
  const PredicateArgs herb{.tile_type = nm::Material::kHerb};
  EXPECT_EQ(eval(w, PredicateId::kCanSeeTile, ore, {1}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kCanSeeTile, herb, {1, 2}), 0.0);
  w.set_material(40 + 2 + 7, 33, nm::Material::kHerb);  // corner of player 2's window
  EXPECT_EQ(eval(w, PredicateId::kCanSeeTile, herb, {1}), 0.0);
  EXPECT_EQ(eval(w, PredicateId::kCanSeeTile, herb, {1, 2}), 1.0);
  kill(w, 2);  // a dead member sees nothing
  EXPECT_EQ(eval(w, PredicateId::kCanSeeTile, herb, {1, 2}), 0.0);
  EXPECT_EQ(eval(w, PredicateId::kCanSeeTile, {.tile_type = nm::Material::kGrass}, {2}), 0.0);
}

TEST(NmmoPredicates, StayAliveAndAllDead) {
  nm::World w = make_world(4);
  EXPECT_EQ(eval(w, PredicateId::kStayAlive, {}, {1, 2, 3, 4}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kAllDead, {}, {1, 2, 3, 4}), 0.0);
  kill(w, 2);
  kill(w, 3);
  EXPECT_EQ(eval(w, PredicateId::kStayAlive, {}, {1, 2, 3, 4}), 0.0);
  EXPECT_EQ(eval(w, PredicateId::kStayAlive, {}, {1, 4}), 1.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kAllDead, {}, {1, 2, 3, 4}), 0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kAllDead, {}, {2, 3}), 1.0);
  // With a target, the target is the subject (nmmo's task_spec).
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kAllDead, {.target = {2, 3}}, {1}), 1.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kStayAlive, {.target = {1, 4}}, {2}), 1.0);
}

TEST(NmmoPredicates, OccupyTile) {
  nm::World w = make_world(2);
  const PredicateArgs center{.row = 80, .col = 80};
  EXPECT_EQ(eval(w, PredicateId::kOccupyTile, center, {1, 2}), 0.0);
  w.players[1].row = 80;
  w.players[1].col = 80;
  EXPECT_EQ(eval(w, PredicateId::kOccupyTile, center, {1, 2}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kOccupyTile, center, {1}), 0.0);
  kill(w, 2);
  EXPECT_EQ(eval(w, PredicateId::kOccupyTile, center, {1, 2}), 0.0);
}

TEST(NmmoPredicates, AllMembersWithinRange) {
  nm::World w = make_world(3);  // rows 40, 42, 44; col 40
  // One member, or members on one tile: zero spread gives 1 whatever dist is.
  EXPECT_EQ(eval(w, PredicateId::kAllMembersWithinRange, {.dist = 0}, {1}), 1.0);
  w.players[1].row = 40;
  EXPECT_EQ(eval(w, PredicateId::kAllMembersWithinRange, {.dist = 0}, {1, 2}), 1.0);
  // Spread = max(row range, col range) = max(4, 8) = 8.
  w.players[2].col = 48;
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kAllMembersWithinRange, {.dist = 2}, {1, 2, 3}), 0.25);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kAllMembersWithinRange, {.dist = 8}, {1, 2, 3}), 1.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kAllMembersWithinRange, {.dist = 20}, {1, 2, 3}), 1.0);
  kill(w, 3);  // the far member is gone: spread 0 again
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kAllMembersWithinRange, {.dist = 2}, {1, 2, 3}), 1.0);
  kill(w, 1);
  kill(w, 2);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kAllMembersWithinRange, {.dist = 2}, {1, 2, 3}), 0.0);
}

TEST(NmmoPredicates, CanSeeAgentAndGroup) {
  nm::World w = make_world(3);
  w.players[1].row = 47;  // player 2: Chebyshev 7 from player 1
  w.players[2].row = 48;  // player 3: 8
  nm::Entity npc;
  npc.id = -1;
  npc.npc_type = nm::NpcType::kPassive;
  npc.row = 33;
  npc.col = 33;  // Chebyshev 7
  w.npcs.push_back(npc);
  EXPECT_EQ(eval(w, PredicateId::kCanSeeAgent, {.target = {2}}, {1}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kCanSeeAgent, {.target = {3}}, {1}), 0.0);
  EXPECT_EQ(eval(w, PredicateId::kCanSeeAgent, {.target = {-1}}, {1}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kCanSeeGroup, {.target = {3, 2}}, {1}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kCanSeeGroup, {.target = {3}}, {1}), 0.0);
  kill(w, 2);  // dead entities leave the observation
  EXPECT_EQ(eval(w, PredicateId::kCanSeeGroup, {.target = {3, 2}}, {1}), 0.0);
  kill(w, 1);  // and a dead member sees nothing
  EXPECT_EQ(eval(w, PredicateId::kCanSeeAgent, {.target = {-1}}, {1}), 0.0);
  // An unresolved relation is an error, not a silent 0.
  EXPECT_THAT(
      error_of([&] { eval(w, PredicateId::kCanSeeAgent, {.target_relation = "left_team"}, {1}); }),
      HasSubstr("not resolved"));
}

TEST(NmmoPredicates, DistanceTraveledSumsLiveMembers) {
  nm::World w = make_world(2);
  w.players[0].row += 3;
  w.players[0].col -= 5;  // Chebyshev 5
  w.players[1].row += 10;
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDistanceTraveled, {.dist = 30}, {1, 2}), 0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDistanceTraveled, {.dist = 10}, {1, 2}), 1.0);
  kill(w, 2);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDistanceTraveled, {.dist = 10}, {1, 2}), 0.5);
  kill(w, 1);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDistanceTraveled, {.dist = 10}, {1, 2}), 0.0);
}

TEST(NmmoPredicates, AttainSkill) {
  nm::World w = make_world(2);
  const nm::Skill fishing = nm::Skill::kFishing;
  // level <= 1 is done from the start (progress 1 even with nobody above level 1).
  EXPECT_EQ(eval(w, PredicateId::kAttainSkill, {.skill = fishing, .level = 1, .num_agent = 1}, {1}),
            1.0);
  EXPECT_EQ(eval(w, PredicateId::kAttainSkill, {.skill = fishing, .level = 0, .num_agent = 5}, {1}),
            1.0);
  EXPECT_EQ(eval(w, PredicateId::kAttainSkill, {.skill = fishing, .level = 3, .num_agent = 1}, {1}),
            0.0);
  w.players[0].level[skill(fishing)] = 2;
  EXPECT_DOUBLE_EQ(
      eval(w, PredicateId::kAttainSkill, {.skill = fishing, .level = 3, .num_agent = 1}, {1}), 0.5);
  EXPECT_DOUBLE_EQ(
      eval(w, PredicateId::kAttainSkill, {.skill = fishing, .level = 10, .num_agent = 1}, {1}),
      1.0 / 9);
  // Group: sum of (level - 1) over members / (num_agent * (level - 1)).
  w.players[1].level[skill(fishing)] = 4;
  EXPECT_DOUBLE_EQ(
      eval(w, PredicateId::kAttainSkill, {.skill = fishing, .level = 3, .num_agent = 2}, {1, 2}),
      1.0);
  EXPECT_DOUBLE_EQ(
      eval(w, PredicateId::kAttainSkill, {.skill = fishing, .level = 5, .num_agent = 2}, {1, 2}),
      0.5);
  kill(w, 2);
  EXPECT_DOUBLE_EQ(
      eval(w, PredicateId::kAttainSkill, {.skill = fishing, .level = 5, .num_agent = 2}, {1, 2}),
      0.125);
  // Other skills do not count.
  EXPECT_EQ(eval(w, PredicateId::kAttainSkill,
                 {.skill = nm::Skill::kMelee, .level = 3, .num_agent = 1}, {1}),
            0.0);
}

TEST(NmmoPredicates, GainExperience) {
  nm::World w = make_world(2);
  w.players[0].exp[skill(nm::Skill::kCarving)] = 30;
  w.players[1].exp[skill(nm::Skill::kCarving)] = 45;
  const PredicateArgs a{.skill = nm::Skill::kCarving, .num_agent = 1, .experience = 100};
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kGainExperience, a, {1}), 0.3);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kGainExperience, a, {1, 2}), 0.75);
  PredicateArgs two = a;
  two.num_agent = 2;
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kGainExperience, two, {1, 2}), 0.375);
  kill(w, 1);  // experience is an entity attribute: it vanishes with the member
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kGainExperience, a, {1, 2}), 0.45);
}

TEST(NmmoPredicates, CountEventAndScoreHitIncludeDeadMembers) {
  nm::World w = make_world(3);
  for (int i = 0; i < 3; ++i) log_event(w, 1, nm::EventCode::kEatFood);
  log_event(w, 2, nm::EventCode::kEatFood);
  log_event(w, 3, nm::EventCode::kDrinkWater);
  log_event(w, -4, nm::EventCode::kEatFood);  // NPC events never count
  log_event(w, 1, nm::EventCode::kScoreHit, /*style*/ 1, 0, /*damage*/ 18);
  log_event(w, 1, nm::EventCode::kScoreHit, 2);
  log_event(w, 2, nm::EventCode::kScoreHit, 2);
  const PredicateArgs eat{.event = nm::EventCode::kEatFood, .n = 8};
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kCountEvent, eat, {1}), 3.0 / 8);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kCountEvent, eat, {1, 2, 3}), 0.5);
  kill(w, 1);  // the events of a dead member still count (nmmo's event log)
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kCountEvent, eat, {1, 2, 3}), 0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kScoreHit, {.skill = nm::Skill::kRange, .n = 4}, {1, 2}),
                   0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kScoreHit, {.skill = nm::Skill::kMelee, .n = 4}, {1, 2}),
                   0.25);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kScoreHit, {.skill = nm::Skill::kMage, .n = 1}, {1, 2}),
                   0.0);
}

TEST(NmmoPredicates, DefeatEntityByKindAndLevel) {
  nm::World w = make_world(2);
  log_event(w, 1, nm::EventCode::kPlayerKill, 0, /*level*/ 1, 0, 0, /*target*/ -3);
  log_event(w, 1, nm::EventCode::kPlayerKill, 0, 4, 0, 0, -5);
  log_event(w, 2, nm::EventCode::kPlayerKill, 0, 3, 0, 0, -6);
  log_event(w, 1, nm::EventCode::kPlayerKill, 0, 2, 0, 0, 2);  // a player victim
  auto npc = [](int level, int num) {
    return PredicateArgs{.level = level, .num_agent = num, .agent_type_npc = true};
  };
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDefeatEntity, npc(1, 20), {1, 2}), 3.0 / 20);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDefeatEntity, npc(3, 4), {1, 2}), 0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDefeatEntity, npc(3, 4), {1}), 0.25);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDefeatEntity, npc(5, 4), {1, 2}), 0.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDefeatEntity, {.level = 1, .num_agent = 1}, {1}), 1.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDefeatEntity, {.level = 3, .num_agent = 1}, {1}), 0.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kDefeatEntity, npc(9, 0), {2}), 1.0);  // num_agent 0
}

TEST(NmmoPredicates, GoldPredicates) {
  nm::World w = make_world(2);
  w.players[0].gold = 30;
  w.players[1].gold = 20;
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kHoardGold, {.amount = 100}, {1, 2}), 0.5);
  log_event(w, 1, nm::EventCode::kEarnGold, 0, 0, 0, /*gold*/ 12);
  log_event(w, 2, nm::EventCode::kEarnGold, 0, 0, 0, 8);
  log_event(w, 1, nm::EventCode::kBuyItem, 16, 1, 1, /*gold*/ 5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kEarnGold, {.amount = 40}, {1, 2}), 0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kSpendGold, {.amount = 10}, {1, 2}), 0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kMakeProfit, {.amount = 30}, {1, 2}), 0.5);
  log_event(w, 1, nm::EventCode::kBuyItem, 16, 1, 1, 50);  // a loss clips to 0
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kMakeProfit, {.amount = 30}, {1, 2}), 0.0);
  kill(w, 2);  // gold held vanishes with the member, gold earned stays
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kHoardGold, {.amount = 100}, {1, 2}), 0.3);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kEarnGold, {.amount = 40}, {1, 2}), 0.5);
}

TEST(NmmoPredicates, InventoryAndItemsOfLiveMembers) {
  nm::World w = make_world(2);
  for (int i = 0; i < 9; ++i) give_item(w, 1, nm::ItemType::kRation, 1);  // 3 free slots
  EXPECT_EQ(eval(w, PredicateId::kInventorySpaceGE, {.space = 3}, {1, 2}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kInventorySpaceGE, {.space = 4}, {1, 2}), 0.0);
  EXPECT_EQ(eval(w, PredicateId::kInventorySpaceGE, {.space = 4}, {2}), 1.0);

  give_item(w, 2, nm::ItemType::kArrow, 3, /*quantity*/ 7);
  give_item(w, 2, nm::ItemType::kArrow, 1, 5);
  const int32_t spent = give_item(w, 2, nm::ItemType::kArrow, 4, 100);
  w.item(spent).alive = false;  // a destroyed item is not owned
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kOwnItem,
                        {.level = 2, .item = nm::ItemType::kArrow, .quantity = 14}, {1, 2}),
                   0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kOwnItem,
                        {.level = 1, .item = nm::ItemType::kArrow, .quantity = 12}, {1, 2}),
                   1.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kOwnItem,
                        {.level = 1, .item = nm::ItemType::kRation, .quantity = 18}, {1, 2}),
                   0.5);
  kill(w, 1);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kOwnItem,
                        {.level = 1, .item = nm::ItemType::kRation, .quantity = 18}, {1, 2}),
                   0.0);
}

TEST(NmmoPredicates, EquipItemAndFullyArmed) {
  nm::World w = make_world(2);
  give_item(w, 1, nm::ItemType::kSpear, 3, 1, /*equipped*/ true);
  give_item(w, 1, nm::ItemType::kHat, 3, 1, true);
  give_item(w, 1, nm::ItemType::kTop, 3, 1, true);
  give_item(w, 1, nm::ItemType::kBottom, 2, 1, true);
  give_item(w, 1, nm::ItemType::kWhetstone, 5, 10, true);
  give_item(w, 2, nm::ItemType::kSpear, 5, 1, /*equipped*/ false);
  const PredicateArgs spear3{.level = 3, .num_agent = 1, .item = nm::ItemType::kSpear};
  EXPECT_EQ(eval(w, PredicateId::kEquipItem, spear3, {1}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kEquipItem, spear3, {2}), 0.0);  // owned, not equipped
  PredicateArgs spear3x2 = spear3;
  spear3x2.num_agent = 2;
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kEquipItem, spear3x2, {1, 2}), 0.5);
  spear3x2.num_agent = 0;
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kEquipItem, spear3x2, {2}), 1.0);

  const PredicateArgs melee1{.skill = nm::Skill::kMelee, .level = 1, .num_agent = 1};
  const PredicateArgs melee3{.skill = nm::Skill::kMelee, .level = 3, .num_agent = 1};
  const PredicateArgs range1{.skill = nm::Skill::kRange, .level = 1, .num_agent = 1};
  EXPECT_EQ(eval(w, PredicateId::kFullyArmed, melee1, {1}), 1.0);
  EXPECT_EQ(eval(w, PredicateId::kFullyArmed, melee3, {1}), 0.0);  // bottom is level 2
  EXPECT_EQ(eval(w, PredicateId::kFullyArmed, range1, {1}), 0.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kFullyArmed,
                        {.skill = nm::Skill::kMelee, .level = 1, .num_agent = 2}, {1, 2}),
                   0.5);
}

TEST(NmmoPredicates, ItemEventPredicatesSumQuantitiesAtLevel) {
  nm::World w = make_world(2);
  const int arrow = static_cast<int>(nm::ItemType::kArrow);
  log_event(w, 1, nm::EventCode::kHarvestItem, arrow, /*level*/ 1, /*number*/ 4);
  log_event(w, 1, nm::EventCode::kHarvestItem, arrow, 3, 6);
  log_event(w, 2, nm::EventCode::kHarvestItem, arrow, 5, 2);
  log_event(w, 2, nm::EventCode::kHarvestItem, static_cast<int>(nm::ItemType::kRunes), 5, 9);
  log_event(w, 1, nm::EventCode::kConsumeItem, static_cast<int>(nm::ItemType::kPotion), 2, 1);
  log_event(w, 1, nm::EventCode::kListItem, arrow, 3, 5, 10);
  log_event(w, 2, nm::EventCode::kBuyItem, arrow, 3, 5, 10);
  auto args = [](nm::ItemType t, int level, int q) {
    return PredicateArgs{.level = level, .item = t, .quantity = q};
  };
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kHarvestItem, args(nm::ItemType::kArrow, 1, 20), {1, 2}),
                   0.6);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kHarvestItem, args(nm::ItemType::kArrow, 3, 16), {1, 2}),
                   0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kHarvestItem, args(nm::ItemType::kArrow, 3, 16), {1}),
                   6.0 / 16);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kHarvestItem, args(nm::ItemType::kArrow, 6, 1), {1, 2}),
                   0.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kConsumeItem, args(nm::ItemType::kPotion, 1, 2), {1}), 0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kConsumeItem, args(nm::ItemType::kPotion, 3, 2), {1}), 0.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kListItem, args(nm::ItemType::kArrow, 1, 10), {1, 2}), 0.5);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kBuyItem, args(nm::ItemType::kArrow, 1, 10), {1}), 0.0);
  EXPECT_DOUBLE_EQ(eval(w, PredicateId::kBuyItem, args(nm::ItemType::kArrow, 1, 10), {2}), 0.5);
}

TEST(NmmoPredicates, ArgumentsAreChecked) {
  EXPECT_THAT(error_of([] { PredicateExpr::leaf(PredicateId::kTickGE, {.num_tick = 0}); }),
              HasSubstr("TickGE: num_tick must be > 0"));
  EXPECT_THAT(error_of([] { PredicateExpr::leaf(PredicateId::kOwnItem, {.quantity = 1}); }),
              HasSubstr("OwnItem: item"));
  EXPECT_THAT(error_of([] {
                PredicateExpr::leaf(PredicateId::kScoreHit, {.skill = nm::Skill::kFishing, .n = 1});
              }),
              HasSubstr("combat_style"));
  EXPECT_THAT(error_of([] {
                PredicateExpr::leaf(PredicateId::kCanSeeGroup, {.target_relation = "everyone"});
              }),
              HasSubstr("'everyone'"));
  EXPECT_THAT(
      error_of([] { PredicateExpr::combine(nm::PredicateOp::kSub, {PredicateExpr::value(1)}); }),
      HasSubstr("SUB takes 2"));
}

// ---- combinators --------------------------------------------------------------------------

TEST(NmmoPredicates, CombinatorsMinMaxNotAndClippedArithmetic) {
  nm::World w = make_world(1);
  w.tick = 30;
  nm::GameState gs(w);
  const std::vector<int32_t> s = {1};
  auto tick = [](int n) { return PredicateExpr::leaf(PredicateId::kTickGE, {.num_tick = n}); };
  auto c = [](double v) { return PredicateExpr::value(v); };
  using Op = nm::PredicateOp;
  auto ev = [&](Op op, std::vector<PredicateExpr> ch) {
    return nm::evaluate(PredicateExpr::combine(op, std::move(ch)), gs, s);
  };
  // TickGE(60) = 0.5, TickGE(120) = 0.25, TickGE(10) = 1.
  EXPECT_DOUBLE_EQ(ev(Op::kAnd, {tick(60), tick(120), tick(10)}), 0.25);
  EXPECT_DOUBLE_EQ(ev(Op::kOr, {tick(60), tick(120)}), 0.5);
  EXPECT_DOUBLE_EQ(ev(Op::kNot, {tick(120)}), 0.75);
  EXPECT_DOUBLE_EQ(ev(Op::kAdd, {tick(60), tick(120)}), 0.75);
  EXPECT_DOUBLE_EQ(ev(Op::kAdd, {tick(60), tick(10)}), 1.0);  // clipped
  EXPECT_DOUBLE_EQ(ev(Op::kSub, {tick(60), tick(120)}), 0.25);
  EXPECT_DOUBLE_EQ(ev(Op::kSub, {tick(120), tick(60)}), 0.0);  // clipped at 0
  EXPECT_DOUBLE_EQ(ev(Op::kMul, {tick(60), tick(120)}), 0.125);
  EXPECT_DOUBLE_EQ(ev(Op::kMul, {c(3.0), tick(60)}), 1.0);  // clipped
  // PracticeSkillWithTool's shape: 0.3 * a + 0.7 * b.
  EXPECT_DOUBLE_EQ(ev(Op::kAdd, {PredicateExpr::combine(Op::kMul, {c(0.3), tick(10)}),
                                 PredicateExpr::combine(Op::kMul, {c(0.7), tick(120)})}),
                   0.3 + 0.7 * 0.25);
  // Nested: NOT(AND(a, OR(b, c))).
  EXPECT_DOUBLE_EQ(
      ev(Op::kNot,
         {PredicateExpr::combine(
             Op::kAnd, {tick(60), PredicateExpr::combine(Op::kOr, {tick(120), tick(240)})})}),
      0.75);
}

// ---- tasks and rewards ----------------------------------------------------------------------

TEST(NmmoTasks, TaskRewardIsProgressDeltaThenBonusThenNothing) {
  nm::World w = make_world(1);
  nm::GameState gs(w);
  nm::Task t(
      PredicateExpr::leaf(PredicateId::kCountEvent, {.event = nm::EventCode::kEatFood, .n = 4}),
      {1}, {1}, nm::TaskKind::kTask, 0, /*multiplier*/ 2.0);
  auto tick_with = [&](int eats) {
    for (int i = 0; i < eats; ++i) log_event(w, 1, nm::EventCode::kEatFood);
    ++w.tick;
    gs.update();
    return t.step(gs);
  };
  EXPECT_DOUBLE_EQ(tick_with(0), 0.0);
  EXPECT_DOUBLE_EQ(tick_with(1), 2 * 0.25);
  EXPECT_DOUBLE_EQ(tick_with(2), 2 * 0.5);
  EXPECT_DOUBLE_EQ(t.progress(), 0.75);
  EXPECT_FALSE(t.completed());
  EXPECT_DOUBLE_EQ(tick_with(1), 2 * 1.0);  // completion: 1 * multiplier, not the 0.25 delta
  EXPECT_TRUE(t.completed());
  EXPECT_EQ(t.completed_tick(), 4);
  EXPECT_DOUBLE_EQ(tick_with(3), 0.0);
  EXPECT_DOUBLE_EQ(t.max_progress(), 1.0);
  EXPECT_EQ(t.positive_reward_count(), 3);

  // Progress going down gives a negative reward.
  nm::World w2 = make_world(1);
  w2.players[0].gold = 50;
  nm::GameState gs2(w2);
  nm::Task hoard(PredicateExpr::leaf(PredicateId::kHoardGold, {.amount = 100}), {1}, {1});
  EXPECT_DOUBLE_EQ(hoard.step(gs2), 0.5);
  w2.players[0].gold = 20;
  gs2.update();
  EXPECT_DOUBLE_EQ(hoard.step(gs2), -0.3);
  EXPECT_DOUBLE_EQ(hoard.max_progress(), 0.5);
  EXPECT_EQ(hoard.negative_reward_count(), 1);
  hoard.reset();
  EXPECT_DOUBLE_EQ(hoard.max_progress(), 0.0);
  EXPECT_DOUBLE_EQ(hoard.step(gs2), 0.2);
}

TEST(NmmoTasks, OngoingTaskPaysProgressEveryTick) {
  nm::World w = make_world(1);
  w.tick = 5;
  nm::GameState gs(w);
  nm::Task t(PredicateExpr::leaf(PredicateId::kTickGE, {.num_tick = 10}), {1}, {1},
             nm::TaskKind::kOngoing);
  EXPECT_DOUBLE_EQ(t.step(gs), 0.5);
  EXPECT_DOUBLE_EQ(t.step(gs), 0.5);
  w.tick = 10;
  EXPECT_DOUBLE_EQ(t.step(gs), 1.0);
  EXPECT_TRUE(t.completed());
  EXPECT_EQ(t.completed_tick(), 10);
  w.tick = 11;
  EXPECT_DOUBLE_EQ(t.step(gs), 1.0);  // never stops
  EXPECT_EQ(t.completed_tick(), 10);
}

TEST(NmmoTasks, HoldDurationCountsConsecutiveTicks) {
  nm::World w = make_world(1);
  nm::GameState gs(w);
  nm::Task t(PredicateExpr::leaf(PredicateId::kOccupyTile, {.row = 40, .col = 40}), {1}, {1},
             nm::TaskKind::kHoldDuration, /*hold*/ 4);
  auto at = [&](int col) {
    w.players[0].col = static_cast<int16_t>(col);
    ++w.tick;
    return t.step(gs);
  };
  EXPECT_DOUBLE_EQ(at(40), 0.25);
  EXPECT_DOUBLE_EQ(at(40), 0.25);
  EXPECT_DOUBLE_EQ(at(41), -0.5);  // the hold breaks: progress back to 0
  EXPECT_DOUBLE_EQ(at(40), 0.25);
  EXPECT_DOUBLE_EQ(at(40), 0.25);
  EXPECT_DOUBLE_EQ(at(40), 0.25);
  EXPECT_FALSE(t.completed());
  EXPECT_DOUBLE_EQ(at(40), 1.0);  // fourth consecutive tick: the completion bonus
  EXPECT_TRUE(t.completed());
  EXPECT_EQ(t.completed_tick(), 7);
  EXPECT_DOUBLE_EQ(at(41), 0.0);
  EXPECT_THAT(error_of([] {
                nm::Task(PredicateExpr::leaf(PredicateId::kSuccess), {1}, {1},
                         nm::TaskKind::kHoldDuration, 0);
              }),
              HasSubstr("hold_duration"));
}

TEST(NmmoTasks, RewardsOfATickWithDefaultTasksAndDeath) {
  nm::World w = make_world(3);
  std::vector<nm::Task> tasks = nm::default_tasks(std::vector<int32_t>{1, 2, 3});
  // A CountEvent task of player 1 on top of its StayAlive.
  tasks.emplace_back(
      PredicateExpr::leaf(PredicateId::kCountEvent, {.event = nm::EventCode::kDrinkWater, .n = 2}),
      std::vector<int32_t>{1}, std::vector<int32_t>{1});
  log_event(w, 1, nm::EventCode::kDrinkWater);
  kill(w, 2);  // player 2 died this tick; player 3 died earlier
  kill(w, 3);
  ++w.tick;
  nm::GameState gs(w);
  std::vector<double> r =
      nm::compute_rewards(gs, tasks, std::vector<int32_t>{1, 2}, std::vector<int32_t>{2});
  EXPECT_DOUBLE_EQ(r[0], 1.0 + 0.5);
  EXPECT_DOUBLE_EQ(r[1], -1.0);  // overrides StayAlive's 0
  EXPECT_DOUBLE_EQ(r[2], 0.0);
  EXPECT_DOUBLE_EQ(tasks[1].progress(), 0.0);  // evaluated in its death tick
  EXPECT_DOUBLE_EQ(tasks[2].progress(), 0.0);
  EXPECT_DOUBLE_EQ(tasks[2].max_progress(), 0.0);
  EXPECT_EQ(tasks[2].positive_reward_count(), 0);  // not current: never stepped
}

// ---- task specs -----------------------------------------------------------------------------

std::string spec_error(const std::string& json) {
  return error_of([&] { nm::read_task_specs(json, "test.json"); });
}

TEST(NmmoTaskSpecs, ParseErrorsNameTheField) {
  EXPECT_THAT(
      spec_error(R"({"task_specs": [{"predicate": {"fn": "TickGE", "kwargs": {"num_tick": 10}}},
      {"predicate": {"fn": "AttainSkill", "kwargs": {"skill": "Melee", "level": 2.5, "num_agent": 1}}}]})"),
      HasSubstr("task_specs[1].predicate.kwargs.level: expected an integer"));
  EXPECT_THAT(
      spec_error(
          R"([{"predicate": {"fn": "AttainSkill", "kwargs": {"skill": "Cooking", "level": 2, "num_agent": 1}}}])"),
      HasSubstr("task_specs[0].predicate.kwargs.skill: unknown skill 'Cooking'"));
  EXPECT_THAT(
      spec_error(
          R"([{"predicate": {"fn": "AttainSkill", "kwargs": {"skill": "Melee", "level": 2}}}])"),
      HasSubstr("task_specs[0].predicate.kwargs.num_agent: missing argument of AttainSkill"));
  EXPECT_THAT(
      spec_error(R"([{"predicate": {"fn": "TickGE", "kwargs": {"num_tick": 5, "tick": 5}}}])"),
      HasSubstr("task_specs[0].predicate.kwargs.tick: not an argument of TickGE"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"fn": "TickGO", "kwargs": {}}}])"),
              HasSubstr("task_specs[0].predicate.fn: unknown predicate 'TickGO'"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"fn": "TickGE", "kwargs": {"num_tick": 0}}}])"),
              HasSubstr("task_specs[0].predicate.kwargs: nmmo task: TickGE: num_tick must be > 0"));
  EXPECT_THAT(
      spec_error(R"([{"predicate": {"fn": "CountEvent", "kwargs": {"event": "EAT", "N": 1}}}])"),
      HasSubstr("task_specs[0].predicate.kwargs.event: unknown event 'EAT'"));
  EXPECT_THAT(
      spec_error(
          R"([{"predicate": {"fn": "OwnItem", "kwargs": {"item": "Sword", "level": 1, "quantity": 1}}}])"),
      HasSubstr("kwargs.item: unknown item 'Sword'"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"op": "XOR", "args": [1, 2]}}])"),
              HasSubstr("task_specs[0].predicate.op: unknown combinator 'XOR'"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"op": "NOT", "args": [{"fn": "Success"}, 1]}}])"),
              HasSubstr("task_specs[0].predicate.args: nmmo task: NOT takes 1 operand"));
  EXPECT_THAT(
      spec_error(
          R"([{"predicate": {"op": "AND", "args": [{"fn": "Success"}, {"fn": "TickGE", "kwargs": {"num_tick": "x"}}]}}])"),
      HasSubstr("task_specs[0].predicate.args[1].kwargs.num_tick: expected a number"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"fn": "Success"}, "task_cls": "LongTask"}])"),
              HasSubstr("task_specs[0].task_cls: unknown task class 'LongTask'"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"fn": "Success"}, "task_cls": "HoldDurationTask"}])"),
              HasSubstr("task_specs[0].task_kwargs.hold_duration"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"fn": "Success"}, "reward_to": "world"}])"),
              HasSubstr("task_specs[0].reward_to: must be 'agent' or 'team'"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"fn": "Success"}, "sampling_weight": -1}])"),
              HasSubstr("task_specs[0].sampling_weight"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"fn": "Success"}, "weight": 1}])"),
              HasSubstr("task_specs[0]: unknown field 'weight'"));
  EXPECT_THAT(spec_error(R"([{"task_cls": "Task"}])"),
              HasSubstr("task_specs[0]: missing field 'predicate'"));
  EXPECT_THAT(spec_error(R"([{"predicate": {"fn": "CanSeeAgent", "kwargs": {"target": "left"}}}])"),
              HasSubstr("task_specs[0].predicate.kwargs: nmmo task: CanSeeAgent: target must be"));
}

TEST(NmmoTaskSpecs, ParsesEveryFieldAndWritesItBack) {
  const std::string text = R"({"task_specs": [
    {"name": "Hold", "predicate": {"op": "SUB", "args": [{"fn": "OccupyTile", "kwargs": {"row": 80, "col": 81}}, 0.25]},
     "task_cls": "HoldDurationTask", "task_kwargs": {"hold_duration": 10, "reward_multiplier": 0.5},
     "reward_to": "team", "sampling_weight": 2.5, "tags": ["a", "b"]},
    {"predicate": {"fn": "CanSeeGroup", "kwargs": {"target": [3, 4]}}},
    {"predicate": {"fn": "DefeatEntity", "kwargs": {"agent_type": "npc", "level": 3, "num_agent": 20}}}]})";
  const std::vector<nm::TaskSpec> specs = nm::read_task_specs(text, "t.json");
  ASSERT_EQ(specs.size(), 3u);
  const nm::TaskSpec& s = specs[0];
  EXPECT_EQ(s.name, "Hold");
  EXPECT_EQ(s.task_cls, nm::TaskKind::kHoldDuration);
  EXPECT_EQ(s.hold_duration, 10);
  EXPECT_DOUBLE_EQ(s.reward_multiplier, 0.5);
  EXPECT_TRUE(s.reward_to_team);
  EXPECT_DOUBLE_EQ(s.sampling_weight, 2.5);
  EXPECT_THAT(s.tags, ::testing::ElementsAre("a", "b"));
  ASSERT_EQ(s.predicate.op, nm::PredicateOp::kSub);
  EXPECT_EQ(s.predicate.children[0].args.col, 81);
  EXPECT_DOUBLE_EQ(s.predicate.children[1].constant, 0.25);
  EXPECT_THAT(specs[1].predicate.args.target, ::testing::ElementsAre(3, 4));
  EXPECT_TRUE(specs[2].predicate.args.agent_type_npc);
  EXPECT_EQ(nm::spec_name(specs[2]),
            "Task_DefeatEntity_(agent_type:npc_level:3_num_agent:20)_reward_to:agent");
  EXPECT_EQ(nm::read_task_specs(nm::write_task_specs(specs), "again"), specs);
}

TEST(NmmoTaskSpecs, CurriculumAndEvalSetRoundTripThroughJson) {
  const std::vector<nm::TaskSpec> train = nm::baseline_curriculum();
  EXPECT_EQ(nm::read_task_specs(nm::write_task_specs(train), "train"), train);
  const std::vector<nm::TaskSpec> eval = nm::eval_tasks();
  const std::string text = nm::write_task_specs(eval);
  EXPECT_EQ(nm::read_task_specs(text, "eval"), eval);
  // The committed file is the writer's output (regenerate with STACKGRAD_WRITE_EVAL_TASKS=1).
  std::string path = STACKGRAD_NMMO_FIXTURES;  // <source>/tests/fixtures/nmmo
  path = path.substr(0, path.size() - std::string_view("tests/fixtures/nmmo").size()) +
         "envs/nmmo/tasks/eval_tasks.json";
  if (std::getenv("STACKGRAD_WRITE_EVAL_TASKS") != nullptr) nm::write_task_specs_file(path, eval);
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_EQ(file.str(), text);
  EXPECT_EQ(nm::read_task_specs_file(path), eval);
}

TEST(NmmoTaskSpecs, SamplingFrequenciesFollowWeights) {
  std::vector<nm::TaskSpec> specs(5);
  const std::array<double, 5> weights = {1, 2, 0, 3, 4};
  for (size_t i = 0; i < 5; ++i) specs[i].sampling_weight = weights[i];
  stackgrad::envs::Rng rng(7);
  const int draws = 200000;
  std::array<int, 5> counts{};
  for (int k : nm::sample_specs(specs, draws, rng)) ++counts[k];
  EXPECT_EQ(counts[2], 0);
  double chi2 = 0;
  for (size_t i = 0; i < 5; ++i) {
    if (weights[i] == 0) continue;
    const double expected = draws * weights[i] / 10.0;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  EXPECT_LT(chi2, 16.27);  // chi-square, 3 degrees of freedom, p = 0.001

  // The baseline curriculum: frequency of the weight-100 family (EAT_FOOD/DRINK_WATER, 18
  // specs of the 8993 total weight).
  const std::vector<nm::TaskSpec> train = nm::baseline_curriculum();
  int essentials = 0;
  const int n = 100000;
  for (int k : nm::sample_specs(train, n, rng)) essentials += train[k].sampling_weight == 100;
  const double p = 1800.0 / 8993.0;
  EXPECT_NEAR(essentials, n * p, 4 * std::sqrt(n * p * (1 - p)));

  std::vector<nm::TaskSpec> zero(2);
  zero[0].sampling_weight = zero[1].sampling_weight = 0;
  EXPECT_THAT(error_of([&] { nm::sample_specs(zero, 1, rng); }), HasSubstr("no spec"));
  zero[1].sampling_weight = -2;
  EXPECT_THAT(error_of([&] { nm::sample_specs(zero, 1, rng); }), HasSubstr("spec 1"));
}

TEST(NmmoTaskSpecs, AgentTasksResolveTeamTargets) {
  nm::TaskSpec see_left;
  see_left.predicate =
      PredicateExpr::leaf(PredicateId::kCanSeeAgent, {.target_relation = "left_team_leader"});
  nm::TaskSpec see_right;
  see_right.predicate =
      PredicateExpr::leaf(PredicateId::kCanSeeGroup, {.target_relation = "right_team"});
  const std::vector<nm::TaskSpec> specs = {see_left, see_right};
  const std::vector<int32_t> agents = {1, 2, 3};
  std::vector<nm::Task> tasks = nm::make_agent_tasks(specs, std::vector<int>{0, 1, 0}, agents);
  ASSERT_EQ(tasks.size(), 3u);
  // Single-agent teams in agent order: left = next agent, right = previous (wrapping).
  EXPECT_THAT(tasks[0].predicate().args.target, ::testing::ElementsAre(2));
  EXPECT_THAT(tasks[1].predicate().args.target, ::testing::ElementsAre(1));
  EXPECT_THAT(tasks[2].predicate().args.target, ::testing::ElementsAre(1));
  EXPECT_THAT(tasks[0].assignee(), ::testing::ElementsAre(1));
  // Team rewards: one task per team, subject = the team.
  nm::TaskSpec team = see_left;
  team.reward_to_team = true;
  const std::vector<std::vector<int32_t>> teams = {{1, 2}, {3, 4}};
  const std::vector<nm::TaskSpec> team_specs = {team};
  std::vector<nm::Task> t2 = nm::make_tasks(team_specs, std::vector<int>{0, 0}, teams);
  ASSERT_EQ(t2.size(), 2u);
  EXPECT_THAT(t2[0].subject(), ::testing::ElementsAre(1, 2));
  EXPECT_THAT(t2[0].predicate().args.target, ::testing::ElementsAre(3));
  EXPECT_THAT(t2[1].predicate().args.target, ::testing::ElementsAre(1));
}

// ---- curriculum, evaluation set, score ------------------------------------------------------

TEST(NmmoCurriculum, BaselineCurriculumHas1297Specs) {
  const std::vector<nm::TaskSpec> c = nm::baseline_curriculum();
  EXPECT_EQ(c.size(), 1297u);
  std::map<std::string_view, int> per_predicate;
  double total_weight = 0;
  std::set<std::string> names;
  for (const nm::TaskSpec& s : c) {
    total_weight += s.sampling_weight;
    names.insert(nm::spec_name(s));
    if (s.predicate.op == nm::PredicateOp::kLeaf)
      ++per_predicate[nm::predicate_name(s.predicate.id)];
  }
  EXPECT_EQ(names.size(), c.size());  // no duplicate spec
  EXPECT_EQ(per_predicate["CountEvent"], 18 + 99 + 27);
  EXPECT_EQ(per_predicate["CanSeeTile"], 7);
  EXPECT_EQ(per_predicate["AttainSkill"], 8 * 7);
  EXPECT_EQ(per_predicate["TickGE"], 7);
  EXPECT_EQ(per_predicate["ScoreHit"], 33);
  EXPECT_EQ(per_predicate["OwnItem"], 16 * 14);  // 14 = (level, quantity) pairs after pruning
  EXPECT_EQ(per_predicate["EquipItem"], 14 * 8);
  EXPECT_EQ(per_predicate["ConsumeItem"], 2 * 14);
  EXPECT_EQ(per_predicate["HarvestItem"], 8 * 14);
  EXPECT_EQ(per_predicate["ListItem"], 16 * 14);
  EXPECT_EQ(per_predicate["BuyItem"], 16 * 14);
  EXPECT_EQ(
      c.size() -
          [&] {
            int n = 0;
            for (auto& [k, v] : per_predicate) n += v;
            return n;
          }(),
      8u * 7 + 3 * 7);  // PracticeSkillWithTool and PracticeInventoryManagement
  EXPECT_DOUBLE_EQ(total_weight, 8993.0);
  // AttainSkill weights: 10 * (6 - level) below level 6, else 5.
  for (const nm::TaskSpec& s : c) {
    if (s.predicate.op == nm::PredicateOp::kLeaf && s.predicate.id == PredicateId::kAttainSkill) {
      const int level = s.predicate.args.level;
      EXPECT_EQ(s.sampling_weight, level < 6 ? 10 * (6 - level) : 5) << level;
    }
  }
}

TEST(NmmoCurriculum, PracticeSkillWithToolMixesEquipAndExperience) {
  const std::vector<nm::TaskSpec> c = nm::baseline_curriculum();
  const auto it = std::find_if(c.begin(), c.end(), [](const nm::TaskSpec& s) {
    return s.name == "PracticeSkillWithTool_(skill:Fishing_exp:100)";
  });
  ASSERT_NE(it, c.end());
  EXPECT_EQ(it->sampling_weight, 50);
  nm::World w = make_world(1);
  give_item(w, 1, nm::ItemType::kRod, 1, 1, /*equipped*/ true);
  w.players[0].exp[skill(nm::Skill::kFishing)] = 50;
  nm::GameState gs(w);
  EXPECT_DOUBLE_EQ(nm::evaluate(it->predicate, gs, std::vector<int32_t>{1}), 0.3 + 0.7 * 0.5);
}

TEST(NmmoCurriculum, SixtyThreeEvalTasksInSixCategories) {
  const std::vector<nm::TaskSpec> eval = nm::eval_tasks();
  ASSERT_EQ(eval.size(), 63u);
  std::array<int, nm::kNumEvalCategories> counts{};
  for (const nm::TaskSpec& s : eval) {
    const nm::EvalCategory c = nm::eval_category(s);
    ++counts[static_cast<size_t>(c)];
    EXPECT_THAT(s.tags, ::testing::ElementsAre("eval", nm::eval_category_name(c)));
  }
  EXPECT_THAT(counts, ::testing::ElementsAre(1, 3, 2, 8, 44, 5));
  std::set<std::string> names;
  for (const nm::TaskSpec& s : eval) names.insert(nm::spec_name(s));
  EXPECT_EQ(names.size(), 63u);
  EXPECT_EQ(nm::spec_name(eval[0]), "Task_TickGE_(num_tick:1024)_reward_to:agent");
  EXPECT_EQ(nm::spec_name(eval[2]),
            "Task_DefeatEntity_(agent_type:npc_level:1_num_agent:20)_reward_to:agent");
  EXPECT_EQ(nm::spec_name(eval[62]), "Task_MakeProfit_(amount:100)_reward_to:agent");
}

TEST(NmmoCurriculum, WeightedScoreOfHandMadeTables) {
  const std::vector<nm::TaskSpec> eval = nm::eval_tasks();
  std::vector<std::vector<double>> progress(63);
  EXPECT_DOUBLE_EQ(nm::eval_weighted_score(progress), 0.0);  // nobody had any task
  for (auto& p : progress) p = {1.0, 1.0};
  EXPECT_NEAR(nm::eval_weighted_score(progress), 100.0, 1e-9);
  for (auto& p : progress) p = {0.0};
  progress[0] = {1.0, 0.5};  // survival: mean 0.75 of 100/6
  EXPECT_NEAR(nm::eval_weighted_score(progress), 100.0 / 6 * 0.75, 1e-12);
  progress[0] = {0.0};
  for (size_t i = 0; i < 63; ++i) {  // every skill task at 0.5: half the skill category
    if (nm::eval_category(eval[i]) == nm::EvalCategory::kSkill) progress[i] = {0.5, 0.25, 0.75};
  }
  EXPECT_NEAR(nm::eval_weighted_score(progress), 100.0 / 12, 1e-12);
  for (auto& p : progress) p = {0.0};
  progress[20] = {1.0};  // one of the 44 item tasks
  ASSERT_EQ(nm::eval_category(eval[20]), nm::EvalCategory::kItem);
  EXPECT_NEAR(nm::eval_weighted_score(progress), 100.0 / (6 * 44), 1e-12);
  // Category sizes come from the specs given: with only two market tasks each is worth 100/12.
  const std::vector<nm::TaskSpec> two = {eval[60], eval[61]};
  const std::vector<std::vector<double>> p2 = {{1.0}, {0.0, 1.0}};
  EXPECT_NEAR(nm::eval_weighted_score(two, p2), 100.0 / 12 * 1.5, 1e-12);
  progress[20] = {1.5};
  EXPECT_THAT(error_of([&] { nm::eval_weighted_score(progress); }), HasSubstr("outside [0, 1]"));
  progress.pop_back();
  EXPECT_THAT(error_of([&] { nm::eval_weighted_score(progress); }), HasSubstr("62 progress lists"));
}

// ---- encoding -------------------------------------------------------------------------------

TEST(NmmoTaskEncoding, LayoutAndDistinctness) {
  const std::vector<nm::TaskSpec> train = nm::baseline_curriculum();
  std::set<std::vector<float>> distinct;
  for (const nm::TaskSpec& s : train) {
    const nm::TaskEncoding e = nm::encode_task(s);
    distinct.insert(std::vector<float>(e.begin(), e.end()));
  }
  // All distinct except left/right mirror pairs (CanSeeAgent leaders, CanSeeGroup teams).
  EXPECT_EQ(distinct.size(), train.size() - 2);
  for (const nm::TaskSpec& s : nm::eval_tasks()) {
    const nm::TaskEncoding e = nm::encode_task(s);
    distinct.insert(std::vector<float>(e.begin(), e.end()));
  }

  const auto it = std::find_if(train.begin(), train.end(), [](const nm::TaskSpec& s) {
    return s.name == "PracticeSkillWithTool_(skill:Carving_exp:700)";
  });
  ASSERT_NE(it, train.end());
  const nm::TaskEncoding e = nm::encode_task(*it);
  EXPECT_EQ(e[4], 1.0f);  // root ADD
  EXPECT_EQ(e[7], 1.0f);  // class Task
  const float* leaf0 = e.data() + nm::kTaskEncodingLeafOffset;
  const float* leaf1 = leaf0 + nm::kTaskEncodingLeafDim;
  EXPECT_EQ(leaf0[static_cast<int>(PredicateId::kEquipItem)], 1.0f);
  EXPECT_FLOAT_EQ(leaf0[27], 0.3f);
  EXPECT_FLOAT_EQ(leaf0[28], 0.1f);  // level 1
  EXPECT_EQ(leaf1[static_cast<int>(PredicateId::kGainExperience)], 1.0f);
  EXPECT_FLOAT_EQ(leaf1[27], 0.7f);
  EXPECT_FLOAT_EQ(leaf1[29], static_cast<float>(std::log2(701.0) / std::log2(1025.0)));
  EXPECT_EQ(e[nm::kTaskEncodingItemOffset + static_cast<int>(nm::ItemType::kAxe) - 2], 1.0f);
  EXPECT_EQ(e[nm::kTaskEncodingSkillOffset + skill(nm::Skill::kCarving)], 1.0f);
  float ones = 0;
  for (float v : e) ones += v == 1.0f;
  EXPECT_EQ(ones, 6);  // ADD, Task, two predicate one-hots, the item and the skill

  nm::TaskSpec neg;
  neg.predicate = PredicateExpr::combine(
      nm::PredicateOp::kNot,
      {PredicateExpr::leaf(PredicateId::kCanSeeTile, {.tile_type = nm::Material::kStone})});
  const nm::TaskEncoding n = nm::encode_task(neg);
  EXPECT_EQ(n[3], 1.0f);
  EXPECT_EQ(n[nm::kTaskEncodingLeafOffset + 27], -1.0f);
  EXPECT_EQ(n[nm::kTaskEncodingTileOffset + 7], 1.0f);  // "other" material
}

// ---- incremental index: same answers as a fresh read of the log, and its speed ------------

TEST(NmmoTaskSpeed, IncrementalEventIndexMatchesAFreshReadAndIsFast) {
  nm::World w = make_world(128);
  stackgrad::envs::Rng rng(3);
  for (auto& p : w.players) {
    p.row = static_cast<int16_t>(17 + rng.randint(0, 127));
    p.col = static_cast<int16_t>(17 + rng.randint(0, 127));
    for (int i = 0; i < 4; ++i)
      give_item(w, p.id, static_cast<nm::ItemType>(rng.randint(2, 18)), 1 + rng.randint(0, 5), 1,
                rng.uniform() < 0.5);
  }
  for (int i = 0; i < 2000; ++i)
    w.set_material(17 + rng.randint(0, 127), 17 + rng.randint(0, 127),
                   static_cast<nm::Material>(rng.randint(0, 16)));
  const std::vector<nm::TaskSpec> train = nm::baseline_curriculum();
  const std::vector<nm::TaskSpec> eval = nm::eval_tasks();
  std::vector<int32_t> agents(128);
  for (int i = 0; i < 128; ++i) agents[i] = i + 1;
  std::vector<nm::Task> tasks =
      nm::make_agent_tasks(train, nm::sample_specs(train, 128, rng), agents);
  std::vector<int> all_eval(63);
  for (int i = 0; i < 63; ++i) all_eval[i] = i;
  for (nm::Task& t : nm::make_agent_tasks(
           eval, all_eval, std::vector<int32_t>(agents.begin(), agents.begin() + 63))) {
    tasks.push_back(std::move(t));
  }
  constexpr std::array<nm::EventCode, 8> codes = {
      nm::EventCode::kEatFood,    nm::EventCode::kDrinkWater,  nm::EventCode::kScoreHit,
      nm::EventCode::kPlayerKill, nm::EventCode::kHarvestItem, nm::EventCode::kEarnGold,
      nm::EventCode::kBuyItem,    nm::EventCode::kListItem};
  nm::GameState gs(w);
  double seconds = 0;
  const int ticks = 1024;
  for (int t = 0; t < ticks; ++t) {
    for (int k = 0; k < 40; ++k) {  // 40 events a tick: ~41k by the end of the episode
      const nm::EventCode c = codes[rng.randint(0, 8)];
      const int type =
          c == nm::EventCode::kScoreHit ? 1 + rng.randint(0, 3) : 2 + rng.randint(0, 16);
      log_event(w, 1 + rng.randint(0, 128), c, type, 1 + rng.randint(0, 10), 1 + rng.randint(0, 3),
                rng.randint(0, 20), rng.uniform() < 0.5 ? -1 : 5);
    }
    auto& p = w.players[rng.randint(0, 128)];
    p.row = static_cast<int16_t>(std::clamp<int64_t>(p.row + rng.randint(-1, 2), 17, 143));
    p.level[rng.randint(0, 8)] = static_cast<int16_t>(1 + rng.randint(0, 10));
    if (t == 500) kill(w, 5);
    ++w.tick;
    const auto start = std::chrono::steady_clock::now();
    gs.update();
    double checksum = 0;
    for (nm::Task& task : tasks) checksum += task.step(gs);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (t % 256 == 255) {  // a fresh state reading the whole log gives the same progress
      nm::GameState fresh(w);
      for (const nm::Task& task : tasks) {
        EXPECT_DOUBLE_EQ(nm::evaluate(task.predicate(), fresh, task.subject()),
                         nm::evaluate(task.predicate(), gs, task.subject()))
            << task.spec_name();
        if (task.kind() == nm::TaskKind::kTask && !task.completed()) {
          EXPECT_DOUBLE_EQ(nm::evaluate(task.predicate(), fresh, task.subject()), task.progress())
              << task.spec_name();
        }
      }
    }
    (void)checksum;
  }
  // What a tick would cost without the index: reading the whole log again.
  const auto start = std::chrono::steady_clock::now();
  nm::GameState fresh(w);
  for (const nm::Task& task : tasks) nm::evaluate(task.predicate(), fresh, task.subject());
  const double reread =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "[ timing ] %zu tasks (128 curriculum + 63 eval), %zu events: %.1f us per tick "
      "(incremental); %.1f us for one tick reading the whole log\n",
      tasks.size(), w.events.size(), 1e6 * seconds / ticks, 1e6 * reread);
  EXPECT_EQ(w.events.size(), 40u * ticks);
}

}  // namespace
