// The built-in policies on hand-built worlds: the masks they read (A11), the cross-check
// protocol's forager rule (BFS order, ties, walls, the window's edge), the random agents'
// draws, and what the scripted agents choose.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "envs/common/json.h"
#include "envs/nmmo/evaluation.h"
#include "envs/nmmo/observation.h"
#include "envs/nmmo/policies.h"
#include "support/error_of.h"

namespace nm = stackgrad::nmmo;
using nm::Direction;
using nm::Material;

namespace {

constexpr int kN = static_cast<int>(Direction::kNorth), kS = static_cast<int>(Direction::kSouth),
              kE = static_cast<int>(Direction::kEast), kW = static_cast<int>(Direction::kWest),
              kStay = static_cast<int>(Direction::kStay);

// A 64x64 world of Grass with `players` players at (30, 30), fed and no longer spawn-immune.
nm::World grass_world(int players = 1) {
  nm::World w;
  w.config = nm::Config::small();
  w.config.player_n = players;
  const int n = w.size();
  w.tiles.assign(static_cast<size_t>(n) * n, Material::kGrass);
  for (int i = 0; i < players; ++i) {
    nm::Entity p;
    p.id = i + 1;
    p.row = p.col = 30;
    p.level.fill(1);
    p.time_alive = 50;
    p.gold = 1;
    w.players.push_back(p);
  }
  return w;
}

nm::Entity& add_npc(nm::World& w, int row, int col) {
  nm::Entity e;
  e.id = w.next_npc_id--;
  e.npc_type = nm::NpcType::kPassive;
  e.row = static_cast<int16_t>(row);
  e.col = static_cast<int16_t>(col);
  e.level.fill(1);
  w.npcs.push_back(e);
  return w.npcs.back();
}

int32_t add_item(nm::World& w, nm::Entity& owner, nm::ItemType type, int level) {
  nm::Item it;
  it.id = static_cast<int32_t>(w.items.size()) + 1;
  it.type = type;
  it.level = static_cast<int16_t>(level);
  it.owner_id = owner.id;
  if (type == nm::ItemType::kSpear) it.attack[0] = static_cast<int16_t>(15 + 15 * level);
  if (type == nm::ItemType::kHat)
    it.defense = {int16_t(10 * level), int16_t(10 * level), int16_t(10 * level)};
  w.items.push_back(it);
  owner.inventory.push_back(it.id);
  return it.id;
}

int forager_move(const nm::World& w, uint64_t seed = 1) {
  auto p = nm::make_policy(nm::PolicyKind::kForagerRule, seed);
  return p->act(w, w.players[0]).move;
}

TEST(NmmoPolicies, NamesRoundTripAndUnknownOnesAreErrors) {
  for (int k = 0; k < nm::kNumPolicyKinds; ++k) {
    const auto kind = static_cast<nm::PolicyKind>(k);
    EXPECT_EQ(nm::parse_policy(nm::policy_name(kind)), kind);
    EXPECT_EQ(nm::make_policy(kind, 1)->kind(), kind);
  }
  EXPECT_THAT(stackgrad::testing::error_of([] { nm::parse_policy("teleporter"); }),
              ::testing::HasSubstr("teleporter"));
}

TEST(NmmoPolicies, MoveMaskIsHabitabilityOfTheNeighbours) {
  nm::World w = grass_world();
  w.set_material(29, 30, Material::kStone);
  w.set_material(30, 31, Material::kWater);
  w.set_material(31, 30, Material::kTree);  // habitable: harvested by standing on it
  const auto mask = nm::move_mask(w, w.players[0]);
  EXPECT_FALSE(mask[kN]);
  EXPECT_TRUE(mask[kS]);
  EXPECT_FALSE(mask[kE]);
  EXPECT_TRUE(mask[kW]);
  EXPECT_TRUE(mask[kStay]);
}

TEST(NmmoPolicies, ForagerRuleStaysWhereItCanDrinkOrEat) {
  nm::World w = grass_world();
  w.players[0].water = 40, w.players[0].food = 60;
  w.set_material(30, 29, Material::kWater);  // west neighbour
  EXPECT_EQ(forager_move(w), kStay);
  w.players[0].water = 60, w.players[0].food = 40;  // now food is the need
  w.set_material(30, 30, Material::kFoilage);
  EXPECT_EQ(forager_move(w), kStay);
}

TEST(NmmoPolicies, ForagerRuleTiesGoToTheFirstTargetInBfsOrder) {
  nm::World w = grass_world();
  w.players[0].water = 50, w.players[0].food = 50;  // equal: water is the need
  // Drinkable tiles 3 east (30, 33) and 3 west (30, 27); the BFS (N, S, E, W) reaches EEE
  // before WWW. Food 2 north is closer but not needed.
  w.set_material(30, 34, Material::kWater);
  w.set_material(30, 26, Material::kWater);
  w.set_material(28, 30, Material::kFoilage);
  EXPECT_EQ(forager_move(w), kE);
  w.players[0].food = 45;  // food is the need now
  EXPECT_EQ(forager_move(w), kN);
}

TEST(NmmoPolicies, ForagerRuleWalksAroundWalls) {
  nm::World w = grass_world();
  w.players[0].water = 10;
  w.set_material(30, 34, Material::kWater);  // drink from (30, 33)
  // A wall east of the player from row 25 to 31: 7 steps around its south end, 15 around its
  // north end.
  for (int r = 25; r <= 31; ++r) w.set_material(r, 31, Material::kStone);
  EXPECT_EQ(forager_move(w), kS);
  for (int c = 25; c <= 31; ++c) w.set_material(32, c, Material::kStone);  // closed below too
  w.set_material(30, 29, Material::kStone);                                // and to the west
  // Now the north way is the shorter (row 24 is inside the window, rows 23..37).
  EXPECT_EQ(forager_move(w), kN);
  // Closed in within the window (the ways around would leave it): random moves.
  for (int c = 23; c <= 31; ++c) {
    w.set_material(24, c, Material::kStone);
    w.set_material(32, c, Material::kStone);
  }
  const auto p = nm::make_policy(nm::PolicyKind::kForagerRule, 2);
  std::set<int> moves;
  for (int t = 0; t < 40; ++t) moves.insert(p->act(w, w.players[0]).move);
  EXPECT_GE(moves.size(), 2u);
}

TEST(NmmoPolicies, ForagerRuleIgnoresWaterOutsideTheWindowAndThenMovesRandomly) {
  nm::World w = grass_world();
  w.players[0].water = 10;
  // (30, 37) is the window's east edge; its water neighbour (30, 38) is outside the window.
  w.set_material(30, 38, Material::kWater);
  const auto p = nm::make_policy(nm::PolicyKind::kForagerRule, 7);
  std::set<int> moves;
  for (int t = 0; t < 40; ++t) moves.insert(p->act(w, w.players[0]).move);
  EXPECT_EQ(moves, (std::set<int>{kN, kS, kE, kW}));  // random: no target seen
  w.set_material(30, 37, Material::kWater);           // now (30, 36) is a target inside the window
  EXPECT_EQ(forager_move(w), kE);
}

// 256 decisions of nmmo 2.0.3's forager rule (tests/fixtures/nmmo/forager_cases.json, taken
// from S4 observations by tools/nmmo_reference_stats.py): the 15x15 window as hex material ids,
// the agent's food and water, and the move (-1: no reachable target).
TEST(NmmoPolicies, ForagerRuleMatchesNmmoDecisionByDecision) {
  const std::string path = std::string(STACKGRAD_NMMO_FIXTURES) + "/forager_cases.json";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "missing " << path;
  std::stringstream text;
  text << in.rdbuf();
  const auto root = stackgrad::envs::parse_json(text.str(), path);
  int cases = 0, random = 0;
  for (const auto& c : root.at("cases").as_array("cases")) {
    nm::World w = grass_world();
    const std::string& tiles = c.at("tiles").as_string("tiles");
    ASSERT_EQ(tiles.size(), 225u);
    for (int k = 0; k < 225; ++k) {
      const int m = std::stoi(tiles.substr(k, 1), nullptr, 16);
      w.set_material(23 + k / 15, 23 + k % 15, static_cast<Material>(m));
    }
    w.players[0].food = static_cast<int16_t>(c.at("food").as_int("food"));
    w.players[0].water = static_cast<int16_t>(c.at("water").as_int("water"));
    const int expected = static_cast<int>(c.at("move").as_int("move"));
    EXPECT_EQ(nm::forager_rule_step(w, w.players[0]), expected)
        << "case " << cases << ": " << tiles;
    random += expected < 0;
    ++cases;
  }
  EXPECT_EQ(cases, 256);
  EXPECT_GT(random, 0);  // the fixture has cases without a reachable target
}

// The masks the policies compute from the World are the observation's (observation.h): over 40
// ticks of S3 (random moves and attacks among 128 players and 128 NPCs), for every living player.
TEST(NmmoPolicies, MasksAgreeWithTheObservation) {
  nm::Config c = nm::Config::medium();
  c.map_n = 4;
  nm::Episode ep(c, 3, 3, std::vector<nm::PolicyKind>(c.player_n, nm::PolicyKind::kRandom));
  nm::ObservationWriter obs(c, 0);
  nm::ObsStorage storage(obs.layout(), c.player_n);
  obs.bind(storage.view());
  const nm::ObsLayout& l = obs.layout();
  int attack_rows = 0;
  for (int t = 0; t < 40; ++t) {
    ep.step();
    const nm::World& w = ep.world();
    obs.write(w, {});
    for (const nm::Entity& p : w.players) {
      if (!p.alive) continue;
      const int8_t* mask =
          storage.action_mask.data() + static_cast<size_t>(p.id - 1) * l.mask_size();
      const auto moves = nm::move_mask(w, p);
      for (int d = 0; d < 5; ++d) {
        EXPECT_EQ(mask[l.offset(nm::ActionArg::kMoveDirection) + d] != 0, moves[d]) << p.id;
      }
      std::set<int32_t> from_obs;
      const auto ids = obs.entity_ids(p.id - 1);
      for (size_t row = 0; row < ids.size(); ++row) {
        if (mask[l.offset(nm::ActionArg::kAttackTarget) + row]) from_obs.insert(ids[row]);
      }
      const auto ours = nm::attack_mask_targets(w, p);
      EXPECT_EQ(from_obs, std::set<int32_t>(ours.begin(), ours.end()))
          << p.id << " tick " << w.tick;
      attack_rows += static_cast<int>(ours.size());
    }
  }
  EXPECT_GT(attack_rows, 100);  // the comparison saw targets
}

TEST(NmmoPolicies, RandomMoveDrawsUniformlyAmongOpenDirections) {
  nm::World w = grass_world();
  w.set_material(29, 30, Material::kStone);
  const auto p = nm::make_policy(nm::PolicyKind::kRandomMove, 3);
  std::map<int, int> counts;
  const int draws = 6000;
  for (int t = 0; t < draws; ++t) {
    const nm::AgentAction a = p->act(w, w.players[0]);
    ++counts[a.move];
    EXPECT_EQ(a.attack_target, 0);
  }
  EXPECT_EQ(counts.count(kN), 0u);
  for (int d : {kS, kE, kW}) EXPECT_NEAR(counts[d], draws / 3.0, 150) << d;
  // Boxed in: Stay.
  for (int d : {kS, kE, kW})
    w.set_material(30 + nm::kDirRow[d], 30 + nm::kDirCol[d], Material::kVoid);
  EXPECT_EQ(p->act(w, w.players[0]).move, kStay);
}

TEST(NmmoPolicies, AttackMaskFollowsReachSelfAndSpawnImmunity) {
  nm::World w = grass_world(3);
  w.players[1].row = 31;                           // player 2 at distance 1
  w.players[2].row = 30, w.players[2].col = 34;    // player 3 at distance 4
  const int32_t near_npc = add_npc(w, 33, 27).id;  // distance 3
  add_npc(w, 30, 38);                              // distance 8: not even visible
  EXPECT_EQ(nm::visible_entities(w, w.players[0]), (std::vector<int32_t>{1, 2, 3, near_npc}));
  EXPECT_EQ(nm::attack_mask_targets(w, w.players[0]), (std::vector<int32_t>{2, near_npc}));
  w.players[0].time_alive = 19;  // still immune itself: players are masked out
  EXPECT_EQ(nm::attack_mask_targets(w, w.players[0]), (std::vector<int32_t>{near_npc}));
  w.players[0].time_alive = 20;
  w.players[1].time_alive = 3;  // an immune target stays in nmmo's mask (the attack fails)
  EXPECT_EQ(nm::attack_mask_targets(w, w.players[0]), (std::vector<int32_t>{2, near_npc}));
}

TEST(NmmoPolicies, RandomAgentAttacksAMaskedTargetWithAUniformStyle) {
  nm::World w = grass_world(2);
  w.players[1].row = 31;
  const int32_t npc = add_npc(w, 32, 32).id;
  const auto p = nm::make_policy(nm::PolicyKind::kRandom, 5);
  std::map<int32_t, int> targets;
  std::map<int, int> styles;
  for (int t = 0; t < 3000; ++t) {
    const nm::AgentAction a = p->act(w, w.players[0]);
    ++targets[a.attack_target];
    ++styles[a.attack_style];
  }
  EXPECT_EQ(targets.size(), 2u);
  EXPECT_NEAR(targets[2], 1500, 120);
  EXPECT_NEAR(targets[npc], 1500, 120);
  for (int s = 0; s < 3; ++s) EXPECT_NEAR(styles[s], 1000, 100) << s;
  w.npcs.clear();
  w.players[1].row = 35;  // nothing in reach: no attack
  EXPECT_EQ(p->act(w, w.players[0]).attack_target, 0);
  EXPECT_EQ(p->act(w, w.players[0]).attack_style, -1);
}

TEST(NmmoPolicies, SameSeedSameActionsOtherSeedOtherActions) {
  nm::World w = grass_world();
  auto a = nm::make_policy(nm::PolicyKind::kRandomMove, nm::policy_seed(1, 1));
  auto b = nm::make_policy(nm::PolicyKind::kRandomMove, nm::policy_seed(1, 1));
  auto c = nm::make_policy(nm::PolicyKind::kRandomMove, nm::policy_seed(1, 2));
  int differ = 0;
  for (int t = 0; t < 50; ++t) {
    const int ma = a->act(w, w.players[0]).move;
    EXPECT_EQ(ma, b->act(w, w.players[0]).move);
    differ += ma != c->act(w, w.players[0]).move;
  }
  EXPECT_GT(differ, 10);
  EXPECT_NE(nm::policy_seed(1, 2), nm::policy_seed(2, 1));
}

TEST(NmmoPolicies, FighterAttacksNpcsInReachAndClosesInOnVisibleOnes) {
  nm::World w = grass_world(2);
  w.players[1].row = 31;
  w.players[1].time_alive = 5;  // spawn-immune: not worth attacking
  const int32_t npc = add_npc(w, 30, 33).id;
  auto fighter = nm::make_policy(nm::PolicyKind::kFighter, 1);
  nm::AgentAction a = fighter->act(w, w.players[0]);
  EXPECT_EQ(a.attack_target, npc);
  EXPECT_GE(a.attack_style, 0);
  EXPECT_EQ(a.move, kStay);
  w.npcs.back().col = 36;  // visible, out of reach: walk east towards it, no attack
  a = fighter->act(w, w.players[0]);
  EXPECT_EQ(a.attack_target, 0);
  EXPECT_EQ(a.move, kE);
  w.players[0].water = 20;  // thirsty: drinks first
  w.set_material(26, 30, Material::kWater);
  EXPECT_EQ(fighter->act(w, w.players[0]).move, kN);
}

TEST(NmmoPolicies, ScriptedAgentsUseTheirItems) {
  nm::World w = grass_world();
  nm::Entity& p = w.players[0];
  const int32_t hat = add_item(w, p, nm::ItemType::kHat, 1);
  const int32_t spear = add_item(w, p, nm::ItemType::kSpear, 1);
  const int32_t ration = add_item(w, p, nm::ItemType::kRation, 1);
  auto forager = nm::make_policy(nm::PolicyKind::kForager, 1);
  auto fighter = nm::make_policy(nm::PolicyKind::kFighter, 1);
  auto trader = nm::make_policy(nm::PolicyKind::kTrader, 1);
  EXPECT_EQ(forager->act(w, p).use_item, hat);    // armour; a spear is no use to a forager
  EXPECT_EQ(fighter->act(w, p).use_item, spear);  // the weapon is the bigger gain
  const nm::AgentAction t = trader->act(w, p);
  EXPECT_EQ(t.sell_item, spear);
  EXPECT_EQ(t.sell_price, 1);  // the level
  p.food = 30;                 // low: eat before anything else
  EXPECT_EQ(forager->act(w, p).use_item, ration);
  p.food = 100;
  w.item(hat).equipped = true, p.equipment.hat = hat;
  w.item(spear).listed_price = 1;  // listed: neither used nor listed again
  const int32_t arrows = add_item(w, p, nm::ItemType::kArrow, 1);
  w.item(arrows).attack[1] = 30;
  const int32_t second_ration = add_item(w, p, nm::ItemType::kRation, 1);
  EXPECT_EQ(forager->act(w, p).use_item, arrows);         // ammunition is worn by everybody
  EXPECT_EQ(trader->act(w, p).sell_item, second_ration);  // one ration is kept
  p.latest_combat_tick = w.tick + 1;  // in combat: item actions would be refused
  EXPECT_EQ(forager->act(w, p).use_item, 0);
}

TEST(NmmoPolicies, TraderBuysTheCheapestUsefulListing) {
  nm::World w = grass_world(3);
  nm::Entity& buyer = w.players[0];
  buyer.gold = 5;
  const int32_t dear = add_item(w, w.players[1], nm::ItemType::kHat, 1);
  const int32_t cheap = add_item(w, w.players[2], nm::ItemType::kHat, 1);
  const int32_t too_dear = add_item(w, w.players[2], nm::ItemType::kTop, 1);
  w.item(dear).listed_price = 4;
  w.item(cheap).listed_price = 2;
  w.item(too_dear).listed_price = 9;
  w.market = {dear, cheap, too_dear};
  auto trader = nm::make_policy(nm::PolicyKind::kTrader, 1);
  EXPECT_EQ(trader->act(w, buyer).buy_item, cheap);
  buyer.gold = 1;
  EXPECT_EQ(trader->act(w, buyer).buy_item, 0);
}

}  // namespace
