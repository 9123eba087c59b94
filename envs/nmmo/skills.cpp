// The update phase of a tick (spec A4 steps 3-4): food, water and health (A6), the automatic
// harvests and their experience (A7), NPC regeneration, and the regrowth of depleted tiles
// (A2.1). Harvests read the position from the end of the previous tick: no one has moved yet.
#include <algorithm>
#include <array>
#include <cmath>

#include "envs/nmmo/items.h"
#include "envs/nmmo/rules.h"

namespace stackgrad::nmmo::rules {

namespace {

// What one harvest of a resource tile yields (nmmo/lib/material.py): the skill it trains, the
// tool whose level sets the drop level, and the drop table (a probability per item; nmmo draws
// once per entry even when the probability is 1).
struct Profession {
  Material material;
  Skill skill;
  ItemType tool;
  ItemType drop;
  ItemType weapon;  // dropped with Config::weapon_drop_prob; kNone for consumables
  bool consumable;  // Fishing and Herbalism: consumable experience, else ammunition experience
};

constexpr std::array<Profession, 5> kProfessions = {{
    {Material::kFish, Skill::kFishing, ItemType::kRod, ItemType::kRation, ItemType::kNone, true},
    {Material::kHerb, Skill::kHerbalism, ItemType::kGloves, ItemType::kPotion, ItemType::kNone,
     true},
    {Material::kOre, Skill::kProspecting, ItemType::kPickaxe, ItemType::kWhetstone, ItemType::kWand,
     false},
    {Material::kTree, Skill::kCarving, ItemType::kAxe, ItemType::kArrow, ItemType::kSpear, false},
    {Material::kCrystal, Skill::kAlchemy, ItemType::kChisel, ItemType::kRunes, ItemType::kBow,
     false},
}};

// nmmo's harvest_adjacent order: North, South, West, East.
constexpr std::array<int, 4> kAdjRow = {-1, 1, 0, 0};
constexpr std::array<int, 4> kAdjCol = {0, 0, -1, 1};

void deplete(World& world, int r, int c) {
  world.set_material(r, c, depleted_form(world.material(r, c)));
  world.depleted.push_back(r * world.size() + c);
}

// The drops of one harvest and its experience (HarvestSkill.process_drops): items only while
// the inventory has a free slot; experience always.
void process_drops(World& world, Entity& player, const Profession& prof) {
  const Config& c = world.config;
  int level = 1;
  if (player.equipment.held != 0 && world.item(player.equipment.held).type == prof.tool) {
    level = std::min(1 + world.item(player.equipment.held).level, c.progression_level_max);
  }
  const ItemType drops[2] = {prof.drop, prof.weapon};
  const double probs[2] = {1.0, c.weapon_drop_prob};
  for (int k = 0; k < 2; ++k) {
    if (drops[k] == ItemType::kNone || !(world.rng.uniform() < probs[k])) continue;
    // Kept (HARVEST_ITEM) only with a free slot, else destroyed, as in nmmo.
    take_harvest(world, player, create_item(world, drops[k], level));
  }
  add_exp(world, player, prof.skill,
          prof.consumable ? c.progression_consumable_xp : c.progression_ammunition_xp);
}

bool neighbour_is(const World& world, int r, int c, Material m) {
  for (int k = 0; k < 4; ++k) {
    const int rr = r + kAdjRow[k], cc = c + kAdjCol[k];
    if (world.in_bounds(rr, cc) && world.material(rr, cc) == m) return true;
  }
  return false;
}

void harvest(World& world, Entity& player, const Profession& prof) {
  const int r = player.row, c = player.col;
  if (prof.material == Material::kFish) {
    // Every fish among the 4-neighbours is depleted; the drops and experience come once.
    bool any = false;
    for (int k = 0; k < 4; ++k) {
      const int rr = r + kAdjRow[k], cc = c + kAdjCol[k];
      if (world.in_bounds(rr, cc) && world.material(rr, cc) == Material::kFish) {
        deplete(world, rr, cc);
        any = true;
      }
    }
    if (any) process_drops(world, player, prof);
  } else if (world.material(r, c) == prof.material) {
    deplete(world, r, c);
    process_drops(world, player, prof);
  }
}

void kill_by_resources(Entity& player) {
  if (player.health > 0) return;
  player.health = 0;
  player.alive = false;
  player.killer_id = 0;
}

// A6 steps 1-2 (Resources.update): regeneration above the threshold, then starvation and
// dehydration damage; health_restore is the net change.
void update_resources(const Config& c, Entity& p) {
  const double threshold = c.resource_health_regen_threshold * c.resource_base;
  const int before = p.health;
  int health = p.health;
  if (p.food > threshold && p.water > threshold) {
    health +=
        static_cast<int>(std::floor(c.player_base_health * c.resource_health_restore_fraction));
    health = std::min(health, c.player_base_health);
  }
  const double reduction = p.resilient ? c.resource_damage_reduction : 1.0;
  if (p.food == 0) health -= static_cast<int>(c.resource_starvation_rate * reduction);
  if (p.water == 0) health -= static_cast<int>(c.resource_dehydration_rate * reduction);
  p.health = static_cast<int16_t>(std::max(health, 0));
  p.health_restore = static_cast<int16_t>(p.health - before);
  kill_by_resources(p);
}

// The Water and Food skills (A6 step 3): both deplete every tick and refill from water beside
// the player (never depleted) or from the foilage under it (depleted to scrub).
void drink_and_eat(World& world, Entity& p) {
  const Config& c = world.config;
  if (c.immortal) return;
  const int restore =
      static_cast<int>(std::floor(c.resource_base * c.resource_harvest_restore_fraction));
  p.water = static_cast<int16_t>(std::max(p.water - c.resource_depletion_rate, 0));
  if (neighbour_is(world, p.row, p.col, Material::kWater)) {
    p.water = static_cast<int16_t>(std::min(p.water + restore, c.resource_base));
    world.log(make_event(world, p, EventCode::kDrinkWater));
  }
  p.food = static_cast<int16_t>(std::max(p.food - c.resource_depletion_rate, 0));
  if (world.material(p.row, p.col) == Material::kFoilage) {
    deplete(world, p.row, p.col);
    p.food = static_cast<int16_t>(std::min(p.food + restore, c.resource_base));
    world.log(make_event(world, p, EventCode::kEatFood));
  }
}

// Death fog (A6; off unless Config::death_fog_start >= 0). nmmo keeps fractional health; here
// health is an integer, so a fractional fog damage is rounded up.
void death_fog(World& world, Entity& p) {
  const Config& c = world.config;
  if (c.death_fog_start < 0 || world.tick < c.death_fog_start) return;
  const int centre = c.map_border + c.map_center / 2;
  const int dist = chebyshev(p.row, p.col, centre, centre);
  if (dist <= c.death_fog_safe_radius) return;
  const double dmg = std::max(
      0.0, (dist - c.map_center / 2) + c.death_fog_speed * (world.tick - c.death_fog_start + 1));
  receive_damage(world, p, nullptr, static_cast<int>(std::ceil(dmg)));
}

double respawn_probability(const Config& c, Material resource) {
  switch (resource) {
    case Material::kFoilage:
      return c.foilage_respawn;
    case Material::kOre:
      return c.ore_respawn;
    case Material::kTree:
      return c.tree_respawn;
    case Material::kCrystal:
      return c.crystal_respawn;
    case Material::kHerb:
      return c.herb_respawn;
    case Material::kFish:
      return c.fish_respawn;
    default:
      return 0.0;
  }
}

}  // namespace

void add_exp(World& world, Entity& entity, Skill skill, int exp) {
  const int s = static_cast<int>(skill);
  entity.exp[s] += exp;
  const int level = level_for_exp(entity.exp[s], world.config.progression_level_max);
  if (level > entity.level[s]) {
    entity.level[s] = static_cast<int16_t>(level);
    Event e = make_event(world, entity, EventCode::kLevelUp);
    e.type = static_cast<int16_t>(skill_event_id(skill));
    e.level = static_cast<int16_t>(level);
    world.log(e);
  }
}

void update_player(World& world, Entity& p) {
  // Entity.update: the attacker is forgotten after a tick without damage; history.
  if (p.damage == 0) p.attacker_id = 0;
  update_item_level(world, p);
  p.damage = 0;
  p.time_alive += 1;
  death_fog(world, p);
  if (!p.alive) return;
  update_resources(world.config, p);
  // Skills in nmmo's order: melee, range and mage do nothing here; the five professions; water,
  // food. A player who starved this tick still harvests (nmmo does not check again).
  for (const Profession& prof : kProfessions) harvest(world, p, prof);
  drink_and_eat(world, p);
}

void update_npc(World& world, Entity& npc) {
  if (npc.damage == 0) npc.attacker_id = 0;
  update_item_level(world, npc);
  npc.damage = 0;
  npc.time_alive += 1;
  npc.health = static_cast<int16_t>(
      std::min(npc.health + world.config.npc_health_regen, world.config.npc_base_health));
}

void regrow_tiles(World& world) {
  const Config& c = world.config;
  size_t kept = 0;
  for (const int32_t idx : world.depleted) {
    const Material now = world.tiles[idx];
    const Material resource = respawned_form(now);
    if (resource == now) continue;  // not depleted any more (set by hand): forget it
    // nmmo's Tile.step: stays depleted when random() > respawn.
    if (world.rng.uniform() > respawn_probability(c, resource)) {
      world.depleted[kept++] = idx;
    } else {
      world.tiles[idx] = resource;
    }
  }
  world.depleted.resize(kept);
}

}  // namespace stackgrad::nmmo::rules
