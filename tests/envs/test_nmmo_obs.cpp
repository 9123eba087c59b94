// Observations and action masks (spec A11) on hand-built worlds, and the decoding of the
// flattened action (A5.1) back to entity and item ids.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "envs/common/rng.h"
#include "envs/nmmo/observation.h"
#include "support/error_of.h"

namespace nm = stackgrad::nmmo;
using nm::ActionArg;
using ::testing::HasSubstr;

namespace {

// A 64x64 map (interior 32x32 of Grass inside a Void border of 16), small tables so that
// truncation is easy to reach.
nm::Config test_config() {
  nm::Config c;
  c.map_center = 32;
  c.map_border = 16;
  c.player_n = 4;
  c.npc_n = 0;
  c.player_n_obs = 6;
  c.market_n_obs = 5;
  return c;
}

nm::Entity make_entity(int32_t id, int row, int col) {
  nm::Entity e;
  e.id = id;
  e.npc_type = id > 0 ? nm::NpcType::kPlayer : nm::NpcType::kHostile;
  e.row = e.spawn_row = static_cast<int16_t>(row);
  e.col = e.spawn_col = static_cast<int16_t>(col);
  e.level.fill(1);
  e.gold = 1;
  e.time_alive = 50;  // past spawn immunity unless a test says otherwise
  return e;
}

nm::World make_world(const nm::Config& c = test_config()) {
  nm::World w;
  w.config = c;
  const int n = c.map_size();
  w.tiles.assign(static_cast<size_t>(n) * n, nm::Material::kVoid);
  for (int r = c.map_border; r < c.map_border + c.map_center; ++r) {
    for (int col = c.map_border; col < c.map_border + c.map_center; ++col) {
      w.set_material(r, col, nm::Material::kGrass);
    }
  }
  // Players 1..4 spread over the interior, far from each other.
  const int pos[4][2] = {{20, 20}, {20, 40}, {40, 20}, {40, 40}};
  for (int i = 0; i < c.player_n; ++i)
    w.players.push_back(make_entity(i + 1, pos[i][0], pos[i][1]));
  w.tick = 30;
  return w;
}

// A new item owned by `owner` (0: nobody), appended to its inventory.
int32_t add_item(nm::World& w, nm::ItemType type, int level, int32_t owner) {
  nm::Item item;
  item.id = static_cast<int32_t>(w.items.size()) + 1;
  item.type = type;
  item.level = static_cast<int16_t>(level);
  item.owner_id = owner;
  w.items.push_back(item);
  if (owner > 0) w.players[owner - 1].inventory.push_back(item.id);
  return item.id;
}

// The writer, its storage and the zero task encoding of one world.
struct Obs {
  explicit Obs(const nm::Config& c, int task_dim = 0)
      : writer(c, task_dim),
        storage(writer.layout(), c.player_n),
        task(static_cast<size_t>(c.player_n) * task_dim, 0.0f) {
    writer.bind(storage.view());
  }
  void write(const nm::World& w) { writer.write(w, task); }

  const nm::ObsLayout& L() const { return writer.layout(); }
  int16_t tile(int agent, int row, int col) const {
    return storage.tile[(static_cast<size_t>(agent) * L().tile_rows + row) * nm::kTileCols + col];
  }
  int16_t entity(int agent, int row, int col) const {
    return storage
        .entity[(static_cast<size_t>(agent) * L().entity_rows + row) * nm::kEntityCols + col];
  }
  int16_t inventory(int agent, int row, int col) const {
    return storage
        .inventory[(static_cast<size_t>(agent) * L().inventory_rows + row) * nm::kItemCols + col];
  }
  int16_t market(int agent, int row, int col) const {
    return storage
        .market[(static_cast<size_t>(agent) * L().market_rows + row) * nm::kItemCols + col];
  }
  std::vector<int> mask(int agent, ActionArg a) const {
    const int8_t* m =
        storage.action_mask.data() + static_cast<size_t>(agent) * L().mask_size() + L().offset(a);
    return std::vector<int>(m, m + L().size(a));
  }
  std::vector<int> entity_id_column(int agent) const {
    std::vector<int> ids;
    for (int r = 0; r < L().entity_rows; ++r) ids.push_back(entity(agent, r, nm::kEntId));
    return ids;
  }

  nm::ObservationWriter writer;
  nm::ObsStorage storage;
  std::vector<float> task;
};

// A mask of `size` with ones at `ones`.
std::vector<int> ones_at(int size, std::initializer_list<int> ones) {
  std::vector<int> m(size, 0);
  for (int i : ones) m[i] = 1;
  return m;
}

// 12 ints selecting nothing: every object selection at its no-op, Stay, lowest price.
std::vector<int32_t> noop_args(const nm::ObsLayout& L) {
  std::vector<int32_t> a(nm::kNumActionArgs, 0);
  for (int k = 0; k < nm::kNumActionArgs; ++k) a[k] = L.arg_size[k] - 1;
  a[static_cast<int>(ActionArg::kAttackStyle)] = 0;
  a[static_cast<int>(ActionArg::kGiveGoldPrice)] = 0;
  a[static_cast<int>(ActionArg::kSellPrice)] = 0;
  return a;
}

TEST(NmmoObs, LayoutOfTheMediumConfigIsTheBaselines) {
  const nm::ObsLayout L(nm::Config::medium(), 4096);
  // A5.1's flattened MultiDiscrete.
  const std::array<int, 12> nvec = {3, 101, 1025, 13, 13, 101, 99, 101, 5, 13, 99, 13};
  EXPECT_EQ(L.arg_size, nvec);
  EXPECT_EQ(L.mask_size(), 1586);
  EXPECT_EQ(L.offset(ActionArg::kMoveDirection), 3 + 101 + 1025 + 13 + 13 + 101 + 99 + 101);
  EXPECT_EQ(L.tile_rows, 225);
  EXPECT_EQ(L.entity_rows, 100);
  EXPECT_EQ(L.inventory_rows, 12);
  EXPECT_EQ(L.market_rows, 1024);
  EXPECT_EQ(nm::action_arg_name(ActionArg::kGiveGoldTarget), "GiveGold.Target");
}

TEST(NmmoObs, TileWindowAtTheCornerOfThePlayableSquare) {
  nm::World w = make_world();
  w.players[0].row = 16;  // top-left corner of the interior: 7 Void rows and columns in view
  w.players[0].col = 16;
  w.set_material(17, 18, nm::Material::kWater);
  Obs obs(w.config);
  obs.write(w);
  // Row-major 15x15, absolute coordinates: entry 0 is (9, 9), the agent's own tile is 112.
  EXPECT_EQ(obs.tile(0, 0, 0), 9);
  EXPECT_EQ(obs.tile(0, 0, 1), 9);
  EXPECT_EQ(obs.tile(0, 0, 2), 0);  // Void
  EXPECT_EQ(obs.tile(0, 1, 1), 10);
  EXPECT_EQ(obs.tile(0, 15, 0), 10);
  EXPECT_EQ(obs.tile(0, 112, 0), 16);
  EXPECT_EQ(obs.tile(0, 112, 1), 16);
  EXPECT_EQ(obs.tile(0, 112, 2), static_cast<int>(nm::Material::kGrass));
  EXPECT_EQ(obs.tile(0, 111, 2), 0);  // (16, 15) is border
  EXPECT_EQ(obs.tile(0, 97, 2), 0);   // (15, 16) too
  const int water = (17 - 9) * 15 + (18 - 9);
  EXPECT_EQ(obs.tile(0, water, 0), 17);
  EXPECT_EQ(obs.tile(0, water, 1), 18);
  EXPECT_EQ(obs.tile(0, water, 2), static_cast<int>(nm::Material::kWater));
  EXPECT_EQ(obs.tile(0, 224, 0), 23);
  EXPECT_EQ(obs.tile(0, 224, 1), 23);
  int grass = 0;
  for (int t = 0; t < 225; ++t)
    grass += obs.tile(0, t, 2) == static_cast<int>(nm::Material::kGrass);
  EXPECT_EQ(grass, 8 * 8 - 1);  // rows and cols 16..23, less the water
  // Move: North and West lead into the Void border; East and South and Stay are open.
  EXPECT_EQ(obs.mask(0, ActionArg::kMoveDirection), std::vector<int>({0, 1, 1, 0, 1}));
}

TEST(NmmoObs, TileWindowBeyondTheMapReadsVoid) {
  nm::World w = make_world();
  w.players[0].row = 0;  // only reachable in a hand-built world
  w.players[0].col = 3;
  w.set_material(0, 4, nm::Material::kGrass);
  Obs obs(w.config);
  obs.write(w);
  EXPECT_EQ(obs.tile(0, 0, 0), -7);
  EXPECT_EQ(obs.tile(0, 0, 1), -4);
  EXPECT_EQ(obs.tile(0, 0, 2), 0);
  EXPECT_EQ(obs.tile(0, 113, 0), 0);
  EXPECT_EQ(obs.tile(0, 113, 1), 4);
  EXPECT_EQ(obs.tile(0, 113, 2), static_cast<int>(nm::Material::kGrass));
  EXPECT_EQ(obs.mask(0, ActionArg::kMoveDirection), std::vector<int>({0, 0, 1, 0, 0}));
}

TEST(NmmoObs, EntityRowsHoldTheVisibleEntitiesInDatastoreOrder) {
  nm::World w = make_world();
  // Around player 2 at (20, 40): player 1 far away, NPCs at distances 7 (seen) and 8 (not).
  w.npcs.push_back(make_entity(-3, 27, 40));
  w.npcs.push_back(make_entity(-1, 20, 48));
  w.npcs.push_back(make_entity(-2, 13, 33));
  w.players[3].row = 21;  // player 4 next to player 2
  w.players[3].col = 41;
  w.players[2].alive = false;  // player 3 is dead: nobody sees it
  w.players[2].row = 20;
  w.players[2].col = 40;
  nm::Entity& p2 = w.players[1];
  p2.damage = 7;
  p2.time_alive = 12;
  p2.item_level = 3;
  p2.attacker_id = -3;
  p2.latest_combat_tick = 29;
  p2.gold = 40000;  // beyond int16: clamped as nmmo's datastore does
  p2.health = 61;
  p2.food = 42;
  p2.water = 33;
  p2.level[static_cast<int>(nm::Skill::kRange)] = 4;
  p2.exp[static_cast<int>(nm::Skill::kRange)] = 380;
  p2.level[static_cast<int>(nm::Skill::kAlchemy)] = 2;
  p2.exp[static_cast<int>(nm::Skill::kAlchemy)] = 95;
  Obs obs(w.config);
  obs.write(w);
  // Players by id, then NPCs in spawn order; self included.
  EXPECT_THAT(obs.entity_id_column(1), ::testing::ElementsAre(2, 4, -3, -2, 0, 0));
  EXPECT_THAT(obs.writer.entity_ids(1), ::testing::ElementsAre(2, 4, -3, -2));
  const int expected[nm::kEntityCols] = {2,     0,  20, 40, 7, 12, 0, 3,   -3, 29, 0,
                                         32767, 61, 42, 33, 1, 0,  4, 380, 1,  0,  1,
                                         0,     1,  0,  1,  0, 1,  0, 2,   95};
  for (int col = 0; col < nm::kEntityCols; ++col) {
    EXPECT_EQ(obs.entity(1, 0, col), expected[col]) << "column " << col;
  }
  EXPECT_EQ(obs.entity(1, 2, nm::kEntNpcType), static_cast<int>(nm::NpcType::kHostile));
  EXPECT_EQ(obs.entity(1, 2, nm::kEntRow), 27);
  // Player 1 at (20, 20) sees only itself.
  EXPECT_THAT(obs.entity_id_column(0), ::testing::ElementsAre(1, 0, 0, 0, 0, 0));

  // Next tick: the NPCs leave; the rows they filled are zero again.
  w.npcs.clear();
  obs.write(w);
  EXPECT_THAT(obs.entity_id_column(1), ::testing::ElementsAre(2, 4, 0, 0, 0, 0));
  for (int col = 0; col < nm::kEntityCols; ++col) EXPECT_EQ(obs.entity(1, 2, col), 0);
}

TEST(NmmoObs, EntityRowsStopAtPlayerNObs) {
  nm::World w = make_world();
  for (int k = 1; k <= 8; ++k) w.npcs.push_back(make_entity(-k, 20, 20 + (k % 3)));
  Obs obs(w.config);
  obs.write(w);
  EXPECT_THAT(obs.entity_id_column(0), ::testing::ElementsAre(1, -1, -2, -3, -4, -5));
}

// The writer scans only the grid cells a window touches; a brute-force scan of every entity
// must give the same rows, in the same order, for crowds that straddle cell borders.
TEST(NmmoObs, EntityRowsMatchABruteForceScan) {
  nm::Config c = test_config();
  c.player_n = 4;
  c.player_n_obs = 12;
  stackgrad::envs::Rng rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    nm::World w = make_world(c);
    for (nm::Entity& p : w.players) {
      p.row = static_cast<int16_t>(rng.randint(16, 48));
      p.col = static_cast<int16_t>(rng.randint(16, 48));
    }
    for (int k = 1; k <= 60; ++k) {
      w.npcs.push_back(make_entity(-k, static_cast<int>(rng.randint(16, 48)),
                                   static_cast<int>(rng.randint(16, 48))));
    }
    Obs obs(c);
    obs.write(w);
    for (int a = 0; a < c.player_n; ++a) {
      std::vector<int32_t> expected;
      auto visit = [&](const nm::Entity& e) {
        if (static_cast<int>(expected.size()) < c.player_n_obs &&
            nm::chebyshev(e.row, e.col, w.players[a].row, w.players[a].col) <= c.vision_radius) {
          expected.push_back(e.id);
        }
      };
      for (const nm::Entity& p : w.players) visit(p);
      for (const nm::Entity& n : w.npcs) visit(n);
      const std::span<const int32_t> got = obs.writer.entity_ids(a);
      ASSERT_EQ(std::vector<int32_t>(got.begin(), got.end()), expected)
          << "trial " << trial << " agent " << a;
    }
  }
}

TEST(NmmoObs, InventoryAndMarketRowsCarryTheItemColumns) {
  nm::World w = make_world();
  const int32_t spear = add_item(w, nm::ItemType::kSpear, 2, 1);
  nm::Item& s = w.item(spear);
  s.attack = {45, 0, 0};
  s.equipped = true;
  const int32_t arrows = add_item(w, nm::ItemType::kArrow, 3, 1);
  w.item(arrows).quantity = 7;
  w.item(arrows).attack = {0, 60, 0};
  const int32_t hat = add_item(w, nm::ItemType::kHat, 1, 2);
  w.item(hat).defense = {10, 10, 10};
  w.item(hat).listed_price = 9;
  w.market.push_back(hat);
  Obs obs(w.config);
  obs.write(w);
  const int spear_row[nm::kItemCols] = {1, 5, 1, 2, 0, 1, 45, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  for (int c = 0; c < nm::kItemCols; ++c) EXPECT_EQ(obs.inventory(0, 0, c), spear_row[c]) << c;
  EXPECT_EQ(obs.inventory(0, 1, nm::kItemId), arrows);
  EXPECT_EQ(obs.inventory(0, 1, nm::kItemQuantity), 7);
  EXPECT_EQ(obs.inventory(0, 1, nm::kItemRangeAttack), 60);
  EXPECT_EQ(obs.inventory(0, 2, nm::kItemId), 0);
  EXPECT_THAT(obs.writer.inventory_ids(0), ::testing::ElementsAre(spear, arrows));
  // Everyone sees the listing, its owner included.
  for (int a = 0; a < 4; ++a) {
    EXPECT_EQ(obs.market(a, 0, nm::kItemId), hat);
    EXPECT_EQ(obs.market(a, 0, nm::kItemOwnerId), 2);
    EXPECT_EQ(obs.market(a, 0, nm::kItemMageDefense), 10);
    EXPECT_EQ(obs.market(a, 0, nm::kItemListedPrice), 9);
    EXPECT_EQ(obs.market(a, 1, nm::kItemId), 0);
  }
  // The spear is given away and the listing expires: their rows clear.
  w.players[0].inventory.erase(w.players[0].inventory.begin());
  w.market.clear();
  w.item(hat).listed_price = 0;
  obs.write(w);
  EXPECT_EQ(obs.inventory(0, 0, nm::kItemId), arrows);
  for (int c = 0; c < nm::kItemCols; ++c) {
    EXPECT_EQ(obs.inventory(0, 1, c), 0);
    EXPECT_EQ(obs.market(3, 0, c), 0);
  }
}

TEST(NmmoObs, MoveMaskFollowsHabitability) {
  nm::World w = make_world();
  w.set_material(19, 20, nm::Material::kWater);  // north of player 1
  w.set_material(21, 20, nm::Material::kStone);  // south
  w.set_material(20, 21, nm::Material::kTree);   // east: habitable resource
  w.set_material(20, 19, nm::Material::kFish);   // west
  Obs obs(w.config);
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kMoveDirection), std::vector<int>({0, 0, 1, 0, 1}));
  EXPECT_EQ(obs.mask(1, ActionArg::kMoveDirection), std::vector<int>({1, 1, 1, 1, 1}));
}

TEST(NmmoObs, AttackMaskReachSelfAndSpawnImmunity) {
  nm::World w = make_world();
  // Around player 1 at (20, 20): player 2 at distance 3, an NPC at 2, an NPC at 4.
  w.players[1].row = 23;
  w.players[1].col = 18;
  w.npcs.push_back(make_entity(-1, 22, 21));
  w.npcs.push_back(make_entity(-2, 16, 20));
  Obs obs(w.config);
  obs.write(w);
  ASSERT_THAT(obs.writer.entity_ids(0), ::testing::ElementsAre(1, 2, -1, -2));
  // A valid target masks the no-op out (nmmo makes agents attack).
  EXPECT_EQ(obs.mask(0, ActionArg::kAttackTarget), ones_at(7, {1, 2}));
  EXPECT_EQ(obs.mask(0, ActionArg::kAttackStyle), std::vector<int>({1, 1, 1}));

  // Under its own spawn immunity the agent may attack NPCs only.
  w.players[0].time_alive = 19;
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kAttackTarget), ones_at(7, {2}));
  // Nothing in reach: only the no-op.
  w.npcs[0].row = 30;
  obs.write(w);
  ASSERT_THAT(obs.writer.entity_ids(0), ::testing::ElementsAre(1, 2, -2));
  EXPECT_EQ(obs.mask(0, ActionArg::kAttackTarget), ones_at(7, {6}));
  w.players[0].time_alive = 20;  // immunity over: player 2 is a target again
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kAttackTarget), ones_at(7, {1}));
}

TEST(NmmoObs, ItemMasksFollowEquippedListedAndLevel) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  p.level[static_cast<int>(nm::Skill::kMelee)] = 3;
  p.level[static_cast<int>(nm::Skill::kFishing)] = 5;
  const int32_t spear3 = add_item(w, nm::ItemType::kSpear, 3, 1);    // melee 3: usable
  const int32_t bow2 = add_item(w, nm::ItemType::kBow, 2, 1);        // range 1: not usable
  const int32_t hat5 = add_item(w, nm::ItemType::kHat, 5, 1);        // overall 5 (fishing)
  const int32_t potion6 = add_item(w, nm::ItemType::kPotion, 6, 1);  // overall 5: not usable
  const int32_t rod1 = add_item(w, nm::ItemType::kRod, 1, 1);
  w.item(spear3).equipped = true;  // equipped: Use toggles it off; cannot give, sell, destroy
  w.item(rod1).listed_price = 4;   // listed: cannot use, give, sell; can destroy
  (void)bow2;
  (void)hat5;
  (void)potion6;
  Obs obs(w.config);
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kUseItem), ones_at(13, {0, 2, 12}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveItem), ones_at(13, {1, 2, 3, 12}));
  EXPECT_EQ(obs.mask(0, ActionArg::kSellItem), ones_at(13, {1, 2, 3, 12}));
  EXPECT_EQ(obs.mask(0, ActionArg::kDestroyItem), ones_at(13, {1, 2, 3, 4, 12}));
  EXPECT_EQ(obs.mask(0, ActionArg::kSellPrice), std::vector<int>(99, 1));
  // An empty inventory: only the no-ops.
  EXPECT_EQ(obs.mask(1, ActionArg::kUseItem), ones_at(13, {12}));
  EXPECT_EQ(obs.mask(1, ActionArg::kDestroyItem), ones_at(13, {12}));
}

TEST(NmmoObs, CombatDisablesItemGoldAndMarketActions) {
  nm::World w = make_world();
  add_item(w, nm::ItemType::kRation, 1, 1);
  w.players[1].row = 20;  // player 2 on player 1's tile
  w.players[1].col = 20;
  const int32_t listed = add_item(w, nm::ItemType::kTop, 1, 3);
  w.item(listed).listed_price = 1;
  w.market.push_back(listed);
  w.players[0].latest_combat_tick = w.tick - 2;  // attacked 2 ticks ago: still in combat (3)
  Obs obs(w.config);
  obs.write(w);
  for (ActionArg a :
       {ActionArg::kUseItem, ActionArg::kGiveItem, ActionArg::kSellItem, ActionArg::kDestroyItem}) {
    EXPECT_EQ(obs.mask(0, a), ones_at(13, {12})) << nm::action_arg_name(a);
  }
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveTarget), ones_at(7, {6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldTarget), ones_at(7, {6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldPrice), ones_at(99, {0}));
  EXPECT_EQ(obs.mask(0, ActionArg::kBuyMarketItem), ones_at(6, {5}));
  // Moving and attacking stay open.
  EXPECT_EQ(obs.mask(0, ActionArg::kMoveDirection), std::vector<int>({1, 1, 1, 1, 1}));
  EXPECT_EQ(obs.mask(0, ActionArg::kAttackTarget), ones_at(7, {1}));

  // Three ticks later combat is over.
  w.tick += 1;
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kUseItem), ones_at(13, {0, 12}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveTarget), ones_at(7, {1, 6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldTarget), ones_at(7, {1, 6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldPrice), ones_at(99, {0}));  // 1 gold
  EXPECT_EQ(obs.mask(0, ActionArg::kBuyMarketItem), ones_at(6, {0, 5}));
}

TEST(NmmoObs, GiveTargetsAreOtherPlayersOnTheSameTile) {
  nm::World w = make_world();
  w.players[1].row = 20;  // on player 1's tile
  w.players[1].col = 20;
  w.players[2].row = 20;  // next to it
  w.players[2].col = 21;
  w.npcs.push_back(make_entity(-1, 20, 20));  // an NPC on the tile: never a gift target
  w.players[0].gold = 5;
  Obs obs(w.config);
  obs.write(w);
  ASSERT_THAT(obs.writer.entity_ids(0), ::testing::ElementsAre(1, 2, 3, -1));
  // Nothing to give yet: only the no-op; gold can go to player 2.
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveTarget), ones_at(7, {6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldTarget), ones_at(7, {1, 6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldPrice), ones_at(99, {0, 1, 2, 3, 4}));
  add_item(w, nm::ItemType::kRation, 1, 1);
  w.players[0].gold = 0;
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveTarget), ones_at(7, {1, 6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldTarget), ones_at(7, {6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldPrice), ones_at(99, {0}));
  w.players[0].gold = 500;  // more gold than prices: every amount
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldPrice), std::vector<int>(99, 1));
}

TEST(NmmoObs, BuyMaskAffordableOthersAndAmmunitionWhenFull) {
  nm::World w = make_world();
  nm::Entity& p = w.players[0];
  p.gold = 10;
  auto list = [&](nm::ItemType type, int level, int32_t owner, int price) {
    const int32_t id = add_item(w, type, level, owner);
    w.item(id).listed_price = static_cast<int16_t>(price);
    w.market.push_back(id);
    return id;
  };
  list(nm::ItemType::kHat, 1, 2, 10);    // affordable
  list(nm::ItemType::kHat, 1, 2, 11);    // too expensive
  list(nm::ItemType::kArrow, 2, 3, 3);   // ammunition
  list(nm::ItemType::kRation, 1, 1, 1);  // own listing
  list(nm::ItemType::kArrow, 1, 4, 3);   // ammunition of another level
  Obs obs(w.config);
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kBuyMarketItem), ones_at(6, {0, 2, 4, 5}));
  // A full inventory holding level-2 arrows: only the listing that stacks onto them.
  add_item(w, nm::ItemType::kArrow, 2, 1);
  while (static_cast<int>(p.inventory.size()) < w.config.item_inventory_capacity) {
    add_item(w, nm::ItemType::kGloves, 1, 1);
  }
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kBuyMarketItem), ones_at(6, {2, 5}));
  // Without matching ammunition nothing can be bought.
  w.item(p.inventory[1]).type = nm::ItemType::kRunes;
  obs.write(w);
  EXPECT_EQ(obs.mask(0, ActionArg::kBuyMarketItem), ones_at(6, {5}));
}

TEST(NmmoObs, DeadAgentsGetZerosAndOnlyNoOps) {
  nm::World w = make_world();
  add_item(w, nm::ItemType::kRation, 1, 1);
  const int32_t hat = add_item(w, nm::ItemType::kHat, 1, 2);
  w.item(hat).listed_price = 2;
  w.market.push_back(hat);
  Obs obs(w.config, /*task_dim=*/3);
  for (int i = 0; i < 12; ++i) obs.task[i] = 1.0f + i;
  obs.write(w);
  EXPECT_EQ(obs.storage.task[4], 5.0f);
  EXPECT_NE(obs.tile(0, 0, 0), 0);

  w.players[0].alive = false;
  w.tick = 31;
  obs.write(w);
  EXPECT_EQ(obs.storage.current_tick[0], 31);
  EXPECT_EQ(obs.storage.agent_id[0], 1);
  const nm::ObsLayout& L = obs.L();
  for (int k = 0; k < L.tile_size(); ++k) ASSERT_EQ(obs.storage.tile[k], 0) << k;
  for (int k = 0; k < L.entity_size(); ++k) ASSERT_EQ(obs.storage.entity[k], 0) << k;
  for (int k = 0; k < L.inventory_size(); ++k) ASSERT_EQ(obs.storage.inventory[k], 0) << k;
  for (int k = 0; k < L.market_size(); ++k) ASSERT_EQ(obs.storage.market[k], 0) << k;
  for (int k = 0; k < 3; ++k) EXPECT_EQ(obs.storage.task[k], 0.0f);
  EXPECT_EQ(obs.storage.task[3], 4.0f);  // player 2's encoding
  EXPECT_EQ(obs.mask(0, ActionArg::kMoveDirection), ones_at(5, {4}));
  EXPECT_EQ(obs.mask(0, ActionArg::kAttackStyle), std::vector<int>({1, 1, 1}));
  EXPECT_EQ(obs.mask(0, ActionArg::kAttackTarget), ones_at(7, {6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kBuyMarketItem), ones_at(6, {5}));
  EXPECT_EQ(obs.mask(0, ActionArg::kUseItem), ones_at(13, {12}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveItem), ones_at(13, {12}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveTarget), ones_at(7, {6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldPrice), ones_at(99, {0}));
  EXPECT_EQ(obs.mask(0, ActionArg::kGiveGoldTarget), ones_at(7, {6}));
  EXPECT_EQ(obs.mask(0, ActionArg::kSellItem), ones_at(13, {12}));
  EXPECT_EQ(obs.mask(0, ActionArg::kSellPrice), std::vector<int>(99, 1));
  EXPECT_EQ(obs.mask(0, ActionArg::kDestroyItem), ones_at(13, {12}));
  // Its actions resolve to nothing but the move.
  const nm::AgentAction a = obs.writer.decode_agent(0, std::vector<int32_t>(12, 0));
  EXPECT_EQ(a.attack_target, 0);
  EXPECT_EQ(a.use_item, 0);
  EXPECT_EQ(a.buy_item, 0);
}

TEST(NmmoObs, DecodeResolvesRowsToIds) {
  nm::World w = make_world();
  w.players[1].row = 20;  // player 2 on player 1's tile, an NPC in reach
  w.players[1].col = 20;
  w.npcs.push_back(make_entity(-5, 21, 22));
  const int32_t a = add_item(w, nm::ItemType::kRation, 1, 1);
  const int32_t b = add_item(w, nm::ItemType::kSpear, 1, 1);
  const int32_t listed = add_item(w, nm::ItemType::kPotion, 1, 3);
  w.item(listed).listed_price = 3;
  w.market.push_back(listed);
  Obs obs(w.config);
  obs.write(w);
  ASSERT_THAT(obs.writer.entity_ids(0), ::testing::ElementsAre(1, 2, -5));

  std::vector<int32_t> args = noop_args(obs.L());
  auto set = [&](ActionArg arg, int v) { args[static_cast<int>(arg)] = v; };
  nm::AgentAction none = obs.writer.decode_agent(0, args);
  EXPECT_EQ(none.move, static_cast<int>(nm::Direction::kStay));
  EXPECT_EQ(none.attack_style, -1);
  EXPECT_EQ(none.attack_target, 0);
  EXPECT_EQ(none.use_item + none.destroy_item + none.give_item + none.give_target, 0);
  EXPECT_EQ(none.give_gold_target + none.give_gold_amount + none.sell_item + none.buy_item, 0);

  set(ActionArg::kAttackStyle, 2);
  set(ActionArg::kAttackTarget, 2);
  set(ActionArg::kBuyMarketItem, 0);
  set(ActionArg::kDestroyItem, 1);
  set(ActionArg::kGiveItem, 0);
  set(ActionArg::kGiveTarget, 1);
  set(ActionArg::kGiveGoldPrice, 4);
  set(ActionArg::kGiveGoldTarget, 1);
  set(ActionArg::kMoveDirection, 2);
  set(ActionArg::kSellItem, 1);
  set(ActionArg::kSellPrice, 98);
  set(ActionArg::kUseItem, 0);
  const nm::AgentAction act = obs.writer.decode_agent(0, args);
  EXPECT_EQ(act.attack_style, static_cast<int>(nm::Style::kMage));
  EXPECT_EQ(act.attack_target, -5);
  EXPECT_EQ(act.buy_item, listed);
  EXPECT_EQ(act.destroy_item, b);
  EXPECT_EQ(act.give_item, a);
  EXPECT_EQ(act.give_target, 2);
  EXPECT_EQ(act.give_gold_amount, 5);
  EXPECT_EQ(act.give_gold_target, 2);
  EXPECT_EQ(act.move, static_cast<int>(nm::Direction::kEast));
  EXPECT_EQ(act.sell_item, b);
  EXPECT_EQ(act.sell_price, 99);
  EXPECT_EQ(act.use_item, a);

  // Rows past the filled ones drop the action; Give needs both of its arguments.
  set(ActionArg::kAttackTarget, 3);
  set(ActionArg::kGiveTarget, 5);
  set(ActionArg::kUseItem, 2);
  set(ActionArg::kBuyMarketItem, 1);
  const nm::AgentAction dropped = obs.writer.decode_agent(0, args);
  EXPECT_EQ(dropped.attack_target, 0);
  EXPECT_EQ(dropped.attack_style, -1);
  EXPECT_EQ(dropped.give_item, 0);
  EXPECT_EQ(dropped.give_target, 0);
  EXPECT_EQ(dropped.use_item, 0);
  EXPECT_EQ(dropped.buy_item, 0);
  EXPECT_EQ(dropped.sell_item, b);  // unaffected

  // Every valid row of every mask round-trips to the object in that row of the observation.
  const std::vector<int> attack = obs.mask(0, ActionArg::kAttackTarget);
  for (int r = 0; r < 6; ++r) {
    if (!attack[r]) continue;
    args = noop_args(obs.L());
    set(ActionArg::kAttackTarget, r);
    EXPECT_EQ(obs.writer.decode_agent(0, args).attack_target, obs.entity(0, r, nm::kEntId));
  }
}

TEST(NmmoObs, DecodeRejectsOutOfRangeValuesNamingAgentArgumentAndValue) {
  nm::World w = make_world();
  Obs obs(w.config);
  obs.write(w);
  std::vector<int32_t> flat;
  for (int i = 0; i < 4; ++i) {
    const std::vector<int32_t> a = noop_args(obs.L());
    flat.insert(flat.end(), a.begin(), a.end());
  }
  std::vector<nm::AgentAction> out(4);
  obs.writer.decode(flat, out);
  EXPECT_EQ(out[3].move, static_cast<int>(nm::Direction::kStay));

  flat[2 * 12 + static_cast<int>(ActionArg::kAttackTarget)] = 7;  // size 7: 0..6
  EXPECT_THAT(
      stackgrad::testing::error_of([&] { obs.writer.decode(flat, out); }),
      ::testing::AllOf(HasSubstr("agent 2"), HasSubstr("Attack.Target = 7"), HasSubstr("[0, 7)")));
  flat[2 * 12 + static_cast<int>(ActionArg::kAttackTarget)] = 6;
  flat[12 + static_cast<int>(ActionArg::kSellPrice)] = -1;
  EXPECT_THAT(stackgrad::testing::error_of([&] { obs.writer.decode(flat, out); }),
              ::testing::AllOf(HasSubstr("agent 1"), HasSubstr("Sell.Price = -1")));
  flat[12 + static_cast<int>(ActionArg::kSellPrice)] = 0;
  flat[static_cast<int>(ActionArg::kMoveDirection)] = 5;
  EXPECT_THAT(stackgrad::testing::error_of([&] { obs.writer.decode(flat, out); }),
              HasSubstr("Move.Direction = 5"));
  flat.pop_back();
  EXPECT_THAT(stackgrad::testing::error_of([&] { obs.writer.decode(flat, out); }),
              HasSubstr("expected 4 x 12"));
}

TEST(NmmoObs, BuffersAreCheckedAndSliceIntoABatch) {
  nm::World w = make_world();
  nm::ObservationWriter writer(w.config, 2);
  nm::ObsStorage wrong(writer.layout(), 3);
  EXPECT_THAT(stackgrad::testing::error_of([&] { writer.bind(wrong.view()); }),
              HasSubstr("expected player_n = 4"));
  // Two envs' observations in one buffer: each writer fills its own half.
  nm::ObsStorage both(writer.layout(), 8);
  nm::ObservationWriter second(w.config, 2);
  writer.bind(both.view().slice(writer.layout(), 0, 4));
  second.bind(both.view().slice(writer.layout(), 4, 4));
  nm::World other = w;
  other.players[0].row = 33;
  std::vector<float> task(8, 0.5f);
  writer.write(w, task);
  second.write(other, task);
  EXPECT_EQ(both.agent_id[4], 1);
  EXPECT_EQ(both.entity[0 * writer.layout().entity_size() + nm::kEntRow], 20);
  EXPECT_EQ(both.entity[4 * writer.layout().entity_size() + nm::kEntRow], 33);
  EXPECT_THAT(stackgrad::testing::error_of([&] { writer.write(w, std::vector<float>(7)); }),
              HasSubstr("task values"));
}

}  // namespace
