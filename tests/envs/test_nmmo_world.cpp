// The shared pieces of the Neural MMO world: experience table, configuration checks, lookups.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <vector>

#include "envs/common/json.h"
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

// Every field goes through JSON and back exactly (doubles in their shortest exact form).
TEST(NmmoWorld, ConfigRoundTripsThroughJsonFieldByField) {
  nm::Config changed;
  int count = 0;
  nm::visit_config_fields(changed, [&](const char*, auto& field) {
    ++count;
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, bool>) {
      field = !field;
    } else if constexpr (std::is_same_v<T, int>) {
      field += 7 + count;
    } else {
      field = field * 1.37 + 0.1 / count;
    }
  });
  EXPECT_EQ(count, nm::kNumConfigFields);
  const nm::Config back =
      nm::Config::from_json(stackgrad::envs::parse_json(changed.to_json(), "t"), "t");
  std::vector<std::string> a, b;
  auto collect = [](std::vector<std::string>& out) {
    return [&out](const char* name, const auto& v) {
      out.push_back(std::string(name) + "=" + std::to_string(v));
    };
  };
  nm::visit_config_fields(changed, collect(a));
  nm::visit_config_fields(back, collect(b));
  EXPECT_EQ(a, b);
  EXPECT_EQ(changed.to_json(), back.to_json());
  EXPECT_NE(back.to_json(), nm::Config{}.to_json());
  // A field added to Config must be visited too: this size is that of the visited fields with
  // their padding. Adding a field changes it; then add the field to visit_config_fields.
  EXPECT_EQ(sizeof(nm::Config), 424u) << "a Config field was added or removed: update "
                                         "visit_config_fields and this number";
}

TEST(NmmoWorld, ConfigFromJsonKeepsTheBaseAndNamesBadFields) {
  const nm::Config c = nm::Config::from_json(
      stackgrad::envs::parse_json(R"({"npc_n": 0, "immortal": true})", "f.json"), "f.json",
      nm::Config::small());
  EXPECT_EQ(c.npc_n, 0);
  EXPECT_TRUE(c.immortal);
  EXPECT_EQ(c.map_center, 32);  // from the base
  auto error = [](const char* text) {
    return stackgrad::testing::error_of(
        [&] { nm::Config::from_json(stackgrad::envs::parse_json(text, "f.json"), "f.json"); });
  };
  EXPECT_THAT(error(R"({"npcs": 3})"), ::testing::HasSubstr("unknown configuration field 'npcs'"));
  EXPECT_THAT(error(R"({"npc_n": true})"), ::testing::HasSubstr("f.json.npc_n"));
  EXPECT_THAT(error(R"({"immortal": 1})"), ::testing::HasSubstr("f.json.immortal"));
  EXPECT_THAT(error(R"([1, 2])"), ::testing::HasSubstr("f.json"));
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
