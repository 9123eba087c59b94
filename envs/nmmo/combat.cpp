// Combat (spec A5.2, A5.3): the damage formula with nmmo's float order and int truncation, the
// attack checks (self, reach, spawn immunity), and what a kill hands over.
#include <algorithm>

#include "envs/nmmo/items.h"
#include "envs/nmmo/realm.h"
#include "envs/nmmo/rules.h"

namespace stackgrad::nmmo {

namespace {

// The style each style is weak to: Melee loses to Mage, Range to Melee, Mage to Range.
constexpr Style kWeakness[kNumStyles] = {Style::kMage, Style::kMelee, Style::kRange};

// 1.5 when the attacker's style is the weakness of the target's dominant style: the first
// style with the most experience, none when all three are equal (combat.damage_multiplier).
double weakness_multiplier(const Config& c, Style style, const Entity& target) {
  const auto& exp = target.exp;
  const int hi = std::max({exp[0], exp[1], exp[2]}), lo = std::min({exp[0], exp[1], exp[2]});
  if (hi == lo) return 1.0;
  const int dominant = exp[0] == hi ? 0 : exp[1] == hi ? 1 : 2;
  return kWeakness[dominant] == style ? c.combat_weakness_multiplier : 1.0;
}

// The level a kill is reported with and an NPC's drops are made at (Entity.attack_level).
int attack_level(const Entity& e) { return std::max({e.level[0], e.level[1], e.level[2]}); }

// An NPC's death (NPC.receive_damage): its gold to the killer, then its drop table, to a player
// killer with a free inventory slot.
void npc_death_drops(World& world, Entity& npc, Entity* killer) {
  if (killer != nullptr && npc.gold > 0) {
    killer->gold += npc.gold;
    Event e = rules::make_event(world, *killer, EventCode::kEarnGold);
    e.gold = npc.gold;
    world.log(e);
    npc.gold = 0;
  }
  const int level = attack_level(npc);
  for (ItemType type : {npc.npc_drop_armour, npc.npc_drop_tool}) {
    if (type == ItemType::kNone) continue;
    world.rng.uniform();  // nmmo's Drop.roll draws even at probability 1
    // To a player killer with a free slot (LOOT_ITEM), else destroyed.
    if (killer != nullptr) take_drop(world, *killer, create_item(world, type, level));
  }
}

}  // namespace

double danger(const Config& config, int row, int col) {
  const int b = config.map_border, n = config.map_center;
  const int dist = std::min(std::min(row - b, b + n - row - 1), std::min(col - b, b + n - col - 1));
  return 2.0 * dist / n;
}

int combat_damage(const World& world, const Entity& attacker, Style style, const Entity& target) {
  const Config& c = world.config;
  const int s = static_cast<int>(style);
  const int skill_offense =
      c.progression_base_damage + c.progression_level_damage * attacker.level[s];
  // Players: the highest of all 8 skills; NPCs only have their combat levels (the rest are 0).
  const int skill_defense =
      c.progression_base_defense + c.progression_level_defense * target.overall_level();
  // NPCs: their scalar offense and defense, the same for every style (A3.2).
  const int equip_offense = equipment_attack(world, attacker, style);
  const int equip_defense = equipment_defense(world, target, style);
  const int offense = skill_offense + equip_offense, defense = skill_defense + equip_defense;
  const double multiplier = weakness_multiplier(c, style, target);
  const double scale =
      static_cast<double>(c.combat_damage_scale) / (c.combat_damage_scale + defense);
  // nmmo: int(multiplier * (offense * (15 / (15 + defense)))), truncated towards zero.
  const int damage = static_cast<int>(multiplier * (offense * scale));
  return std::max(damage, 0);
}

namespace rules {

bool attack(World& world, Entity& attacker, Style style, int32_t target_id) {
  const Config& c = world.config;
  Entity* target = world.entity(target_id);
  // nmmo does not check that the target is alive: a second hit on an entity killed earlier in
  // the same tick logged a second kill and rolled an NPC's drop table again. Refused here.
  if (target == nullptr || !target->alive) return false;
  if (attacker.is_player() && target->is_player() && target->time_alive < c.combat_spawn_immunity) {
    return false;
  }
  if (target->id == attacker.id) return false;
  if (chebyshev(attacker.row, attacker.col, target->row, target->col) > c.combat_reach) {
    return false;
  }
  target->attacker_id = attacker.id;
  const int damage = combat_damage(world, attacker, style, *target);
  if (attacker.is_player()) {
    // Fired after it counted for this hit (A5.3).
    consume_ammunition(world, attacker, style);
    Event e = make_event(world, attacker, EventCode::kScoreHit);
    e.type = static_cast<int16_t>(static_cast<int>(style) + 1);
    e.number = damage;
    world.log(e);
    add_exp(world, attacker, static_cast<Skill>(style), c.progression_combat_xp);
  }
  receive_damage(world, *target, &attacker, damage);
  attacker.latest_combat_tick = target->latest_combat_tick = world.tick + 1;
  return true;
}

void receive_damage(World& world, Entity& target, Entity* source, int damage) {
  if (world.config.immortal && target.is_player()) return;
  target.damage = static_cast<int16_t>(damage);
  target.health = static_cast<int16_t>(std::max(target.health - damage, 0));
  if (target.health > 0 || !target.alive) return;
  target.alive = false;
  target.killer_id = source != nullptr ? source->id : 0;
  if (source != nullptr) {
    Event e = make_event(world, *source, EventCode::kPlayerKill);
    e.target_ent = target.id;
    e.level = static_cast<int16_t>(attack_level(target));
    world.log(e);
  }
  if (target.is_player()) {
    transfer_loot(world, target, source);
  } else {
    npc_death_drops(world, target, source);
  }
}

}  // namespace rules

}  // namespace stackgrad::nmmo
