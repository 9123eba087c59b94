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

  static Config medium();  // nmmo's Default/Medium: the competition world
  static Config small();   // nmmo's Small preset: 64 agents on a 64x64 map, 128 ticks
};

}  // namespace stackgrad::nmmo
