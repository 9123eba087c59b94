// The shared pieces of the Neural MMO world: experience table, configuration checks, lookups.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envs/nmmo/config.h"
#include "envs/nmmo/world.h"
#include "support/error_of.h"

namespace nm = stackgrad::nmmo;

namespace {

TEST(NmmoWorld, ExperienceThresholdsAreNmmos) {
  // Spec A7: cumulative round(90 * sqrt(l)).
  const int expected[10] = {0, 90, 217, 373, 553, 754, 974, 1212, 1467, 1737};
  for (int l = 1; l <= 10; ++l) EXPECT_EQ(nm::exp_to_reach_level(l), expected[l - 1]) << l;
  EXPECT_EQ(nm::level_for_exp(0), 1);
  EXPECT_EQ(nm::level_for_exp(89), 1);
  EXPECT_EQ(nm::level_for_exp(90), 2);
  EXPECT_EQ(nm::level_for_exp(1736), 9);
  EXPECT_EQ(nm::level_for_exp(1737), 10);
  EXPECT_EQ(nm::level_for_exp(100000), 10);
  EXPECT_EQ(nm::level_for_exp(100000, 5), 5);
}

TEST(NmmoWorld, PresetsAreValidAndBadFieldsAreNamed) {
  nm::Config::medium().validate();
  nm::Config::small().validate();
  EXPECT_EQ(nm::Config::medium().map_size(), 160);
  EXPECT_EQ(nm::Config::small().map_size(), 64);
  nm::Config c;
  c.npc_n = -1;
  EXPECT_THAT(stackgrad::testing::error_of([&] { c.validate(); }), ::testing::HasSubstr("npc_n"));
  c = nm::Config{};
  c.foilage_respawn = 1.5;
  EXPECT_THAT(stackgrad::testing::error_of([&] { c.validate(); }),
              ::testing::HasSubstr("probability"));
}

TEST(NmmoWorld, EntityLookupFindsPlayersAndLiveNpcs) {
  nm::World w;
  w.players.resize(3);
  for (int i = 0; i < 3; ++i) w.players[i].id = i + 1;
  w.npcs.resize(2);
  w.npcs[0].id = -1;
  w.npcs[1].id = -4;
  EXPECT_EQ(w.entity(2), &w.players[1]);
  EXPECT_EQ(w.entity(-4), &w.npcs[1]);
  EXPECT_EQ(w.entity(-2), nullptr);
  EXPECT_EQ(w.entity(4), nullptr);
  EXPECT_EQ(w.entity(0), nullptr);
}

}  // namespace
