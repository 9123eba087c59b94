#include "config.h"

#include <charconv>
#include <type_traits>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

void check_probability(double p, const char* name) {
  SG_CHECK(p >= 0.0 && p <= 1.0, "nmmo::Config: ", name, " must be a probability in [0, 1], got ",
           p);
}

}  // namespace

void Config::validate() const {
  SG_CHECK(horizon >= 1, "nmmo::Config: horizon must be >= 1, got ", horizon);
  SG_CHECK(player_n >= 1 && player_n <= 4096, "nmmo::Config: player_n must be in [1, 4096], got ",
           player_n);
  SG_CHECK(player_n_obs >= 1, "nmmo::Config: player_n_obs must be >= 1, got ", player_n_obs);
  SG_CHECK(vision_radius >= 1, "nmmo::Config: vision_radius must be >= 1, got ", vision_radius);
  SG_CHECK(team_size >= 1, "nmmo::Config: team_size must be >= 1, got ", team_size);
  SG_CHECK(map_center >= 16 && map_center % 2 == 0,
           "nmmo::Config: map_center must be even and >= 16, got ", map_center);
  SG_CHECK(map_border >= 2, "nmmo::Config: map_border must be >= 2, got ", map_border);
  SG_CHECK(map_n >= 1, "nmmo::Config: map_n must be >= 1, got ", map_n);
  SG_CHECK(terrain_tiles_per_octave >= 1 && map_center / terrain_tiles_per_octave >= 1,
           "nmmo::Config: terrain_tiles_per_octave must be in [1, map_center], got ",
           terrain_tiles_per_octave);
  SG_CHECK(npc_n >= 0, "nmmo::Config: npc_n must be >= 0, got ", npc_n);
  SG_CHECK(npc_level_min >= 1 && npc_level_max >= npc_level_min,
           "nmmo::Config: expected 1 <= npc_level_min <= npc_level_max, got ", npc_level_min,
           " and ", npc_level_max);
  SG_CHECK(progression_level_max >= 1 && progression_level_max <= 16,
           "nmmo::Config: progression_level_max must be in [1, 16], got ", progression_level_max);
  SG_CHECK(item_inventory_capacity >= 1, "nmmo::Config: item_inventory_capacity must be >= 1, got ",
           item_inventory_capacity);
  SG_CHECK(market_n_obs >= 1 && price_n_obs >= 1,
           "nmmo::Config: market_n_obs and price_n_obs must be >= 1, got ", market_n_obs, " and ",
           price_n_obs);
  SG_CHECK(resource_base >= 1, "nmmo::Config: resource_base must be >= 1, got ", resource_base);
  check_probability(resource_resilient_population, "resource_resilient_population");
  check_probability(weapon_drop_prob, "weapon_drop_prob");
  for (double p :
       {foilage_respawn, tree_respawn, ore_respawn, crystal_respawn, herb_respawn, fish_respawn}) {
    check_probability(p, "a tile respawn probability");
  }
}

std::string Config::to_json() const {
  std::string out = "{";
  visit_config_fields(*this, [&](const char* name, const auto& value) {
    if (out.size() > 1) out += ",";
    out += "\"";
    out += name;
    out += "\":";
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, bool>) {
      out += value ? "true" : "false";
    } else {
      char buf[32];  // shortest form that reads back to the same value
      const auto r = std::to_chars(buf, buf + sizeof buf, value);
      out.append(buf, r.ptr);
    }
  });
  return out + "}";
}

Config Config::from_json(const envs::JsonValue& object, const std::string& where,
                         const Config& base) {
  Config c = base;
  for (const auto& [key, value] : object.as_object(where)) {
    bool found = false;
    visit_config_fields(c, [&](const char* name, auto& field) {
      if (found || key != name) return;
      found = true;
      const std::string what = where + "." + key;
      using T = std::decay_t<decltype(field)>;
      if constexpr (std::is_same_v<T, bool>) {
        field = value.as_bool(what);
      } else if constexpr (std::is_same_v<T, int>) {
        const long long v = value.as_int(what);
        SG_CHECK(v >= INT32_MIN && v <= INT32_MAX, what, ": ", v, " does not fit an int");
        field = static_cast<int>(v);
      } else {
        field = value.as_double(what);
      }
    });
    SG_CHECK(found, where, ": unknown configuration field '", key, "'");
  }
  return c;
}

Config Config::from_json(const envs::JsonValue& object, const std::string& where) {
  return from_json(object, where, Config{});
}

Config Config::medium() { return Config{}; }

Config Config::small() {
  Config c;
  c.player_n = 64;
  c.map_center = 32;
  c.npc_n = 32;
  c.npc_level_max = 5;
  c.progression_spawn_clusters = 4;
  c.progression_spawn_uniforms = 16;
  c.horizon = 128;
  c.terrain_log_interpolate_min = 0.0;
  return c;
}

}  // namespace stackgrad::nmmo
