// Neural MMO 2.0 configuration: every rule constant of the competition version (nmmo 2.0.x),
// with the presets of nmmo/core/config.py. Section numbers (A2.2, A14, ...) refer to part A of
// ../shared/specs/neural_mmo_and_flatland.md, which names the source file of every value.
//
//   Config c = Config::medium();          // 160x160 map, 128 agents, 128 NPCs, 1024 ticks
//   c.npc_n = 0;                          // any field may be changed before Env is built
//   c.validate();                         // throws stackgrad::Error naming a bad field
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "envs/common/json.h"

namespace stackgrad::nmmo {

struct Config {
  // Episode and agents (A1, A14).
  int horizon = 1024;
  int player_n = 128;
  int player_n_obs = 100;  // rows of the Entity observation
  int vision_radius = 7;   // 15x15 tile window
  int team_size = 8;       // evaluation: 16 teams of 8 (A16)

  // Map (A2.2, A2.3, A2.4). map_size = map_center + 2 * map_border.
  int map_center = 128;
  int map_border = 16;
  int map_n = 1;  // the fractal depends on it (interp = logspace(-2, 0, map_n)[map_id - 1])
  bool terrain_flip_seed = false;  // evaluation maps use negated seeds
  int terrain_frequency = -3;
  int terrain_frequency_offset = 7;
  int terrain_tiles_per_octave = 8;
  double terrain_log_interpolate_min = -2.0;
  double terrain_log_interpolate_max = 0.0;
  double terrain_water = 0.30, terrain_grass = 0.70, terrain_foilage = 0.85;
  int progression_spawn_clusters = 64;
  int progression_spawn_uniforms = 256;

  // Resources: food, water, health (A6).
  int resource_base = 100;
  int resource_depletion_rate = 5;
  int resource_starvation_rate = 10;
  int resource_dehydration_rate = 10;
  double resource_health_regen_threshold = 0.5;
  double resource_health_restore_fraction = 0.1;
  double resource_harvest_restore_fraction = 1.0;
  double resource_damage_reduction = 0.5;
  double resource_resilient_population = 0.0;
  int player_base_health = 100;

  // Tile respawn probabilities per tick once depleted (A2.1).
  double foilage_respawn = 0.025;
  double tree_respawn = 0.105, ore_respawn = 0.10, crystal_respawn = 0.10;
  double herb_respawn = 0.02, fish_respawn = 0.02;

  // Combat (A5.2, A5.3).
  int combat_spawn_immunity = 20;
  int combat_status_duration = 3;
  double combat_weakness_multiplier = 1.5;
  int combat_reach = 3;
  int combat_damage_scale = 15;  // damage = int(mult * offense * 15 / (15 + defense))

  // Progression (A7).
  int progression_base_level = 1;
  int progression_level_max = 10;
  int progression_combat_xp = 3;
  int progression_ammunition_xp = 15;
  int progression_consumable_xp = 30;
  int progression_base_damage = 20, progression_level_damage = 5;
  int progression_base_defense = 0, progression_level_defense = 5;

  // NPCs (A3.2).
  int npc_n = 128;
  int npc_spawn_attempts = 25;
  double npc_spawn_aggressive = 0.80, npc_spawn_neutral = 0.50;
  int npc_level_min = 1, npc_level_max = 10;
  int npc_base_damage = 15, npc_level_damage = 15;
  int npc_base_defense = 0, npc_level_defense = 15;
  int npc_base_health = 100;
  int npc_health_regen = 1;

  // Items (A8).
  int item_inventory_capacity = 12;
  double weapon_drop_prob = 0.025;
  int weapon_base_attack = 15, weapon_level_attack = 15;
  int ammo_base_attack = 15, ammo_level_attack = 15;
  int tool_defense = 30;
  int armour_level_defense = 10;
  int consumable_base_restore = 50, consumable_level_restore = 5;
  int item_attribute_max = 100;  // the datastore clamps item attributes to <= 100

  // Exchange (A9).
  int exchange_base_gold = 1;
  int exchange_listing_duration = 5;
  int market_n_obs = 1024;
  int price_n_obs = 99;

  // nmmo's IMMORTAL debug switch (its speed benchmark uses it): players take no damage, and
  // their Water and Food skills do nothing (no depletion, no drinking or eating).
  bool immortal = false;

  // Optional systems.
  bool communication = false;
  int communication_num_tokens = 50;
  int death_fog_start = -1;      // tick the fog starts; -1: off (the competition default)
  double death_fog_speed = 1.0;  // nmmo 2.0.3: PLAYER_DEATH_FOG_SPEED = 1
  int death_fog_safe_radius = 8;

  int map_size() const { return map_center + 2 * map_border; }
  int vision_diameter() const { return 2 * vision_radius + 1; }

  // Throws stackgrad::Error naming the first field out of range.
  void validate() const;

  // Every field by name as one JSON object, and back: replay files keep the whole configuration
  // this way, and `nmmo --config FILE` reads one. from_json starts from `base` and overrides
  // the fields the object names; an unknown name or a value of the wrong type is an error that
  // names the field and `where`.
  std::string to_json() const;
  static Config from_json(const envs::JsonValue& object, const std::string& where,
                          const Config& base);
  static Config from_json(const envs::JsonValue& object, const std::string& where);

  static Config medium();  // nmmo's Default/Medium: the competition world
  static Config small();   // nmmo's Small preset: 64 agents on a 64x64 map, 128 ticks
};

// Calls f(name, field) for every field of the configuration, in declaration order (to_json,
// from_json). A field added to Config must be added here too: test_nmmo_world checks the count
// against sizeof(Config).
template <class C, class F>
void visit_config_fields(C& c, F&& f) {
  f("horizon", c.horizon);
  f("player_n", c.player_n);
  f("player_n_obs", c.player_n_obs);
  f("vision_radius", c.vision_radius);
  f("team_size", c.team_size);
  f("map_center", c.map_center);
  f("map_border", c.map_border);
  f("map_n", c.map_n);
  f("terrain_flip_seed", c.terrain_flip_seed);
  f("terrain_frequency", c.terrain_frequency);
  f("terrain_frequency_offset", c.terrain_frequency_offset);
  f("terrain_tiles_per_octave", c.terrain_tiles_per_octave);
  f("terrain_log_interpolate_min", c.terrain_log_interpolate_min);
  f("terrain_log_interpolate_max", c.terrain_log_interpolate_max);
  f("terrain_water", c.terrain_water);
  f("terrain_grass", c.terrain_grass);
  f("terrain_foilage", c.terrain_foilage);
  f("progression_spawn_clusters", c.progression_spawn_clusters);
  f("progression_spawn_uniforms", c.progression_spawn_uniforms);
  f("resource_base", c.resource_base);
  f("resource_depletion_rate", c.resource_depletion_rate);
  f("resource_starvation_rate", c.resource_starvation_rate);
  f("resource_dehydration_rate", c.resource_dehydration_rate);
  f("resource_health_regen_threshold", c.resource_health_regen_threshold);
  f("resource_health_restore_fraction", c.resource_health_restore_fraction);
  f("resource_harvest_restore_fraction", c.resource_harvest_restore_fraction);
  f("resource_damage_reduction", c.resource_damage_reduction);
  f("resource_resilient_population", c.resource_resilient_population);
  f("player_base_health", c.player_base_health);
  f("foilage_respawn", c.foilage_respawn);
  f("tree_respawn", c.tree_respawn);
  f("ore_respawn", c.ore_respawn);
  f("crystal_respawn", c.crystal_respawn);
  f("herb_respawn", c.herb_respawn);
  f("fish_respawn", c.fish_respawn);
  f("combat_spawn_immunity", c.combat_spawn_immunity);
  f("combat_status_duration", c.combat_status_duration);
  f("combat_weakness_multiplier", c.combat_weakness_multiplier);
  f("combat_reach", c.combat_reach);
  f("combat_damage_scale", c.combat_damage_scale);
  f("progression_base_level", c.progression_base_level);
  f("progression_level_max", c.progression_level_max);
  f("progression_combat_xp", c.progression_combat_xp);
  f("progression_ammunition_xp", c.progression_ammunition_xp);
  f("progression_consumable_xp", c.progression_consumable_xp);
  f("progression_base_damage", c.progression_base_damage);
  f("progression_level_damage", c.progression_level_damage);
  f("progression_base_defense", c.progression_base_defense);
  f("progression_level_defense", c.progression_level_defense);
  f("npc_n", c.npc_n);
  f("npc_spawn_attempts", c.npc_spawn_attempts);
  f("npc_spawn_aggressive", c.npc_spawn_aggressive);
  f("npc_spawn_neutral", c.npc_spawn_neutral);
  f("npc_level_min", c.npc_level_min);
  f("npc_level_max", c.npc_level_max);
  f("npc_base_damage", c.npc_base_damage);
  f("npc_level_damage", c.npc_level_damage);
  f("npc_base_defense", c.npc_base_defense);
  f("npc_level_defense", c.npc_level_defense);
  f("npc_base_health", c.npc_base_health);
  f("npc_health_regen", c.npc_health_regen);
  f("item_inventory_capacity", c.item_inventory_capacity);
  f("weapon_drop_prob", c.weapon_drop_prob);
  f("weapon_base_attack", c.weapon_base_attack);
  f("weapon_level_attack", c.weapon_level_attack);
  f("ammo_base_attack", c.ammo_base_attack);
  f("ammo_level_attack", c.ammo_level_attack);
  f("tool_defense", c.tool_defense);
  f("armour_level_defense", c.armour_level_defense);
  f("consumable_base_restore", c.consumable_base_restore);
  f("consumable_level_restore", c.consumable_level_restore);
  f("item_attribute_max", c.item_attribute_max);
  f("exchange_base_gold", c.exchange_base_gold);
  f("exchange_listing_duration", c.exchange_listing_duration);
  f("market_n_obs", c.market_n_obs);
  f("price_n_obs", c.price_n_obs);
  f("immortal", c.immortal);
  f("communication", c.communication);
  f("communication_num_tokens", c.communication_num_tokens);
  f("death_fog_start", c.death_fog_start);
  f("death_fog_speed", c.death_fog_speed);
  f("death_fog_safe_radius", c.death_fog_safe_radius);
}
inline constexpr int kNumConfigFields = 82;

}  // namespace stackgrad::nmmo
