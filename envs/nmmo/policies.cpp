#include "policies.h"

#include <algorithm>
#include <string>

#include "engine/core/error.h"
#include "envs/nmmo/items.h"
#include "envs/nmmo/realm.h"

namespace stackgrad::nmmo {

namespace {

constexpr std::array<std::string_view, kNumPolicyKinds> kPolicyNames = {
    "idle", "random_move", "random", "forager_rule", "forager", "fighter", "trader"};

constexpr int kStay = static_cast<int>(Direction::kStay);

bool in_window(const Entity& self, int r, int c, int radius) {
  return chebyshev(self.row, self.col, r, c) <= radius;
}

// ---- The protocol's rules -------------------------------------------------------------------

// A direction drawn uniformly among the mask's North, South, East, West; Stay if none (S2).
int random_direction(Rng& rng, const std::array<bool, 5>& mask) {
  std::array<int, 4> valid{};
  int n = 0;
  for (int d = 0; d < 4; ++d) {
    if (mask[d]) valid[n++] = d;
  }
  return n == 0 ? kStay : valid[rng.randint(0, n)];
}

// A habitable tile of the window with a Water tile among its 4 neighbours that are also in the
// window (the observation shows nothing beyond it).
bool drinkable_from(const World& w, const Entity& self, int r, int c) {
  const int radius = w.config.vision_radius;
  for (int d = 0; d < 4; ++d) {
    const int nr = r + kDirRow[d], nc = c + kDirCol[d];
    if (in_window(self, nr, nc, radius) && w.in_bounds(nr, nc) &&
        w.material(nr, nc) == Material::kWater) {
      return true;
    }
  }
  return false;
}

// The forager rule of the cross-check protocol: towards the nearest water (if water <= food) or
// food tile of the window, else a random direction.
int forage_direction(const World& w, const Entity& self, Rng& rng) {
  const int d = forager_rule_step(w, self);
  return d >= 0 ? d : random_direction(rng, move_mask(w, self));
}

// ---- Items (A8, A9) -------------------------------------------------------------------------

enum class Role { kForager, kFighter, kTrader };

bool usable(const Entity& self, const Item& item) {
  return item.alive && item.level <= requirement_level(self, item.type) && !item.equipped &&
         item.listed_price == 0;
}

bool is_weapon(ItemType t) {
  return t == ItemType::kSpear || t == ItemType::kBow || t == ItemType::kWand;
}
bool is_tool(ItemType t) {
  return t == ItemType::kRod || t == ItemType::kGloves || t == ItemType::kPickaxe ||
         t == ItemType::kAxe || t == ItemType::kChisel;
}
bool is_armour(ItemType t) {
  return t == ItemType::kHat || t == ItemType::kTop || t == ItemType::kBottom;
}

int max_attack(const Item& item) {
  return *std::max_element(item.attack.begin(), item.attack.end());
}

// How much `role` values having `item` in its slot (0: not worth equipping). Weapons count for
// fighters only, tools (which raise harvest drop levels) for the others; ammunition costs
// nothing to wear, so everybody equips its best stack.
int equip_value(Role role, const Item& item) {
  if (is_armour(item.type)) return 1 + item.defense[0];
  if (is_ammunition(item.type)) return 1 + max_attack(item);
  if (is_weapon(item.type)) return role == Role::kFighter ? 1 + max_attack(item) : 0;
  if (is_tool(item.type)) return role == Role::kFighter ? 1 : 1 + item.level;
  return 0;
}

// An item to use this tick: a consumable when low, else the best equipment upgrade. 0: none.
int32_t item_to_use(const World& w, const Entity& self, Role role) {
  int32_t best = 0;
  int best_gain = 0;
  for (int32_t id : self.inventory) {
    const Item& item = w.item(id);
    if (!usable(self, item)) continue;
    if (item.type == ItemType::kRation && (self.food < 50 || self.water < 50)) return id;
    if (item.type == ItemType::kPotion && self.health < 60) return id;
    const EquipSlot slot = equip_slot(item.type);
    if (slot == EquipSlot::kNone) continue;
    const int value = equip_value(role, item);
    const int32_t current = equipped_id(self, slot);
    const int gain = value - (current != 0 ? equip_value(role, w.item(current)) : 0);
    if (value > 0 && gain > best_gain) best = id, best_gain = gain;
  }
  return best;
}

// When the inventory is full, the least useful item that is neither equipped nor listed.
int32_t item_to_destroy(const World& w, const Entity& self, Role role) {
  if (free_slots(w, self) > 0) return 0;
  int32_t worst = 0;
  int worst_value = 1 << 30;
  for (int32_t id : self.inventory) {
    const Item& item = w.item(id);
    if (item.equipped || item.listed_price > 0) continue;
    const int value = is_consumable(item.type) ? 1000 + item.level : equip_value(role, item);
    if (value < worst_value) worst = id, worst_value = value;
  }
  return worst;
}

// Asking price: the item's level in gold. Players start with 1 gold (A9), so level-1 items
// must cost 1 for a market to start.
int price_of(const Item& item) { return std::clamp<int>(item.level, 1, 99); }

// An item the trader does not need: weapons, equipment no better than what it wears, and every
// consumable beyond the first of its type (the first is kept for when it runs low).
int32_t item_to_sell(const World& w, const Entity& self) {
  std::array<bool, kLastItemType + 1> kept{};
  for (int32_t id : self.inventory) {
    const Item& item = w.item(id);
    if (item.equipped || item.listed_price > 0 || !item.alive) continue;
    if (is_consumable(item.type)) {
      if (!kept[static_cast<int>(item.type)]) {
        kept[static_cast<int>(item.type)] = true;
        continue;
      }
      return id;
    }
    const int32_t current = equipped_id(self, equip_slot(item.type));
    const bool worse = current != 0 && equip_value(Role::kTrader, w.item(current)) >=
                                           equip_value(Role::kTrader, item);
    if (is_weapon(item.type) || worse) return id;
  }
  return 0;
}

// The cheapest affordable listing that `role` would use now: a ration or potion when low and
// without one (traders), equipment upgrades it can wear.
int32_t item_to_buy(const World& w, const Entity& self, Role role) {
  if (free_slots(w, self) == 0) return 0;
  auto has = [&](ItemType type) {
    return std::any_of(self.inventory.begin(), self.inventory.end(),
                       [&](int32_t id) { return w.item(id).type == type; });
  };
  const bool has_ration = has(ItemType::kRation), has_potion = has(ItemType::kPotion);
  int32_t best = 0;
  int best_price = 1 << 30;
  for (int32_t id : w.market) {
    const Item& item = w.item(id);
    if (!item.alive || item.owner_id == self.id || item.listed_price > self.gold) continue;
    bool useful = false;
    if (item.type == ItemType::kRation) {
      useful = role == Role::kTrader && !has_ration && std::min(self.food, self.water) < 70;
    } else if (item.type == ItemType::kPotion) {
      useful = role == Role::kTrader && !has_potion && self.health < 60;
    } else if (equip_slot(item.type) != EquipSlot::kNone) {
      const int level = requirement_level(self, item.type);
      const int32_t current = equipped_id(self, equip_slot(item.type));
      useful = item.level <= level &&
               equip_value(role, item) > (current ? equip_value(role, w.item(current)) : 0);
    }
    if (useful && item.listed_price < best_price) best = id, best_price = item.listed_price;
  }
  return best;
}

// ---- Movement -------------------------------------------------------------------------------

// A tile that harvesting pays on: a profession resource to stand on, or a habitable tile next to
// Fish (A7).
bool harvestable_at(const World& w, const Entity& self, int r, int c) {
  switch (w.material(r, c)) {
    case Material::kOre:
    case Material::kTree:
    case Material::kCrystal:
    case Material::kHerb:
      return true;
    default:
      break;
  }
  for (int d = 0; d < 4; ++d) {
    const int nr = r + kDirRow[d], nc = c + kDirCol[d];
    if (in_window(self, nr, nc, w.config.vision_radius) && w.in_bounds(nr, nc) &&
        w.material(nr, nc) == Material::kFish) {
      return true;
    }
  }
  return false;
}

// A heading kept for a few ticks, so that wandering covers ground instead of jittering.
class Wander {
 public:
  int next(Rng& rng, const std::array<bool, 5>& mask) {
    if (heading_ < 0 || !mask[heading_] || rng.uniform() < 0.1) {
      heading_ = random_direction(rng, mask);
      if (heading_ == kStay) heading_ = -1;
    }
    return heading_ < 0 ? kStay : heading_;
  }

 private:
  int heading_ = -1;
};

// ---- The policies ---------------------------------------------------------------------------

class IdlePolicy final : public Policy {
 public:
  using Policy::Policy;
  PolicyKind kind() const override { return PolicyKind::kIdle; }
  AgentAction act(const World&, const Entity&) override { return {}; }
};

class RandomPolicy final : public Policy {
 public:
  RandomPolicy(uint64_t seed, bool attack) : Policy(seed), attack_(attack) {}
  PolicyKind kind() const override {
    return attack_ ? PolicyKind::kRandom : PolicyKind::kRandomMove;
  }
  AgentAction act(const World& w, const Entity& self) override {
    AgentAction a;
    a.move = static_cast<int8_t>(random_direction(rng_, move_mask(w, self)));
    if (attack_) {
      const std::vector<int32_t> targets = attack_mask_targets(w, self);
      if (!targets.empty()) {
        a.attack_target = targets[rng_.randint(0, static_cast<int64_t>(targets.size()))];
        a.attack_style = static_cast<int8_t>(rng_.randint(0, kNumStyles));
      }
    }
    return a;
  }

 private:
  bool attack_;
};

class ForagerRulePolicy final : public Policy {
 public:
  using Policy::Policy;
  PolicyKind kind() const override { return PolicyKind::kForagerRule; }
  AgentAction act(const World& w, const Entity& self) override {
    AgentAction a;
    a.move = static_cast<int8_t>(forage_direction(w, self, rng_));
    return a;
  }
};

// Forager and trader: eat and drink below `kFed`, otherwise walk to harvestable tiles (and wander
// when none is in sight); use what they get. The trader also sells and buys.
class GathererPolicy final : public Policy {
 public:
  GathererPolicy(uint64_t seed, Role role) : Policy(seed), role_(role) {}
  PolicyKind kind() const override {
    return role_ == Role::kTrader ? PolicyKind::kTrader : PolicyKind::kForager;
  }
  AgentAction act(const World& w, const Entity& self) override {
    static constexpr int kFed = 60;
    AgentAction a;
    int d = -1;
    if (std::min(self.food, self.water) < kFed) {
      d = forage_direction(w, self, rng_);
    } else {
      d = step_towards(w, self, [&](int r, int c) { return harvestable_at(w, self, r, c); });
      if (d < 0) d = wander_.next(rng_, move_mask(w, self));
    }
    a.move = static_cast<int8_t>(d);
    if (in_combat(w, self)) return a;  // item and market actions would be refused (A5.2)
    a.use_item = item_to_use(w, self, role_);
    if (a.use_item == 0) a.destroy_item = item_to_destroy(w, self, role_);
    if (role_ == Role::kTrader) {
      a.buy_item = item_to_buy(w, self, role_);
      if (const int32_t sell = item_to_sell(w, self); sell != 0 && sell != a.destroy_item) {
        a.sell_item = sell;
        a.sell_price = price_of(w.item(sell));
      }
    }
    return a;
  }

 private:
  Role role_;
  Wander wander_;
};

// Attacks the entity in reach it kills in the fewest hits, with the style that hurts most; seeks
// visible NPCs no stronger than itself (and players who attacked it) when healthy and fed;
// forages when low.
class FighterPolicy final : public Policy {
 public:
  using Policy::Policy;
  PolicyKind kind() const override { return PolicyKind::kFighter; }

  AgentAction act(const World& w, const Entity& self) override {
    AgentAction a;
    const int immunity = w.config.combat_spawn_immunity;
    // NPCs are prey; players only when they attacked it or are much weaker (a fighter that
    // attacks every player it meets empties the map of everybody, itself included).
    auto attackable = [&](const Entity& e) {
      if (e.id == self.id) return false;
      if (e.is_npc()) return true;
      if (e.time_alive < immunity || self.time_alive < immunity) return false;
      return e.id == self.attacker_id || 2 * e.health < self.health;
    };
    // Attack: fewest hits to kill, then the most damage.
    double best_hits = 1e9;
    for (int32_t id : attack_mask_targets(w, self)) {
      const Entity& e = *w.entity(id);
      if (!attackable(e)) continue;
      for (int s = 0; s < kNumStyles; ++s) {
        const int dmg = combat_damage(w, self, static_cast<Style>(s), e);
        const double hits = dmg > 0 ? double(e.health) / dmg : 1e6 + e.health;
        if (hits < best_hits) {
          best_hits = hits;
          a.attack_target = id;
          a.attack_style = static_cast<int8_t>(s);
        }
      }
    }
    // Move: forage when low; stay while something is in reach; else close in on the weakest
    // visible prey no stronger than itself.
    int d = -1;
    if (std::min(self.food, self.water) < 40 || self.health < 40) {
      d = forage_direction(w, self, rng_);
    } else if (a.attack_target != 0) {
      d = kStay;
    } else {
      const int my_level = std::max({self.level[0], self.level[1], self.level[2]});
      int32_t prey = 0;
      int prey_score = 1 << 30;
      for (int32_t id : visible_entities(w, self)) {
        const Entity& e = *w.entity(id);
        if (!attackable(e)) continue;
        const int level = std::max({e.level[0], e.level[1], e.level[2]});
        if (e.is_npc() ? level > my_level : e.id != self.attacker_id) continue;
        const int score = chebyshev(self.row, self.col, e.row, e.col) + 4 * level;
        if (score < prey_score) prey = id, prey_score = score;
      }
      if (prey != 0) {
        const Entity& e = *w.entity(prey);
        d = step_towards(w, self, [&](int r, int c) {
          return chebyshev(r, c, e.row, e.col) <= std::min(2, w.config.combat_reach);
        });
      }
      if (d < 0) d = wander_.next(rng_, move_mask(w, self));
    }
    a.move = static_cast<int8_t>(d);
    if (in_combat(w, self)) return a;
    a.use_item = item_to_use(w, self, Role::kFighter);
    if (a.use_item == 0) a.destroy_item = item_to_destroy(w, self, Role::kFighter);
    a.buy_item = item_to_buy(w, self, Role::kFighter);
    return a;
  }

 private:
  Wander wander_;
};

}  // namespace

std::string_view policy_name(PolicyKind kind) { return kPolicyNames[static_cast<int>(kind)]; }

PolicyKind parse_policy(std::string_view name) {
  for (int k = 0; k < kNumPolicyKinds; ++k) {
    if (kPolicyNames[k] == name) return static_cast<PolicyKind>(k);
  }
  fail("nmmo: unknown policy '", std::string(name),
       "' (expected idle, random_move, random, forager_rule, forager, fighter or trader)");
}

uint64_t policy_seed(uint64_t episode_seed, int player_id) {
  // splitmix64 of the pair, so that neighbouring seeds and ids give unrelated streams.
  uint64_t z = episode_seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(player_id) + 0x5851f42d;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int forager_rule_step(const World& w, const Entity& self) {
  if (self.water <= self.food) {
    return step_towards(w, self, [&](int r, int c) { return drinkable_from(w, self, r, c); });
  }
  return step_towards(w, self,
                      [&](int r, int c) { return w.material(r, c) == Material::kFoilage; });
}

std::array<bool, 5> move_mask(const World& world, const Entity& self) {
  std::array<bool, 5> mask{};
  for (int d = 0; d < 5; ++d) {
    const int r = self.row + kDirRow[d], c = self.col + kDirCol[d];
    mask[d] = world.in_bounds(r, c) && is_habitable(world.material(r, c));
  }
  return mask;
}

std::vector<int32_t> visible_entities(const World& world, const Entity& self) {
  const int radius = world.config.vision_radius;
  std::vector<int32_t> ids;
  for (const Entity& p : world.players) {
    if (p.alive && in_window(self, p.row, p.col, radius)) ids.push_back(p.id);
  }
  for (const Entity& n : world.npcs) {
    if (n.alive && in_window(self, n.row, n.col, radius)) ids.push_back(n.id);
  }
  return ids;
}

std::vector<int32_t> attack_mask_targets(const World& world, const Entity& self) {
  const bool immune = self.time_alive < world.config.combat_spawn_immunity;
  std::vector<int32_t> ids;
  for (int32_t id : visible_entities(world, self)) {
    const Entity& e = *world.entity(id);
    if (id == self.id || (immune && e.is_player())) continue;
    if (chebyshev(self.row, self.col, e.row, e.col) <= world.config.combat_reach) ids.push_back(id);
  }
  return ids;
}

std::unique_ptr<Policy> make_policy(PolicyKind kind, uint64_t seed) {
  switch (kind) {
    case PolicyKind::kIdle:
      return std::make_unique<IdlePolicy>(seed);
    case PolicyKind::kRandomMove:
      return std::make_unique<RandomPolicy>(seed, false);
    case PolicyKind::kRandom:
      return std::make_unique<RandomPolicy>(seed, true);
    case PolicyKind::kForagerRule:
      return std::make_unique<ForagerRulePolicy>(seed);
    case PolicyKind::kForager:
      return std::make_unique<GathererPolicy>(seed, Role::kForager);
    case PolicyKind::kFighter:
      return std::make_unique<FighterPolicy>(seed);
    case PolicyKind::kTrader:
      return std::make_unique<GathererPolicy>(seed, Role::kTrader);
  }
  fail("nmmo: make_policy: bad policy kind ", static_cast<int>(kind));
}

namespace detail {

int bfs_first_step(const World& world, const Entity& self,
                   bool (*is_target)(const void* ctx, int row, int col), const void* ctx) {
  if (is_target(ctx, self.row, self.col)) return kStay;
  const int radius = world.config.vision_radius, side = 2 * radius + 1;
  const int r0 = self.row - radius, c0 = self.col - radius;
  // first[cell]: the first step of the path to it; -2 = not reached yet.
  thread_local std::vector<int8_t> first;
  thread_local std::vector<int> queue;
  first.assign(static_cast<size_t>(side) * side, -2);
  queue.clear();
  const int start = radius * side + radius;
  first[start] = kStay;
  queue.push_back(start);
  for (size_t head = 0; head < queue.size(); ++head) {
    const int cell = queue[head];
    const int r = cell / side, c = cell % side;
    for (int d = 0; d < 4; ++d) {
      const int nr = r + kDirRow[d], nc = c + kDirCol[d];
      if (nr < 0 || nc < 0 || nr >= side || nc >= side) continue;
      const int next = nr * side + nc;
      if (first[next] != -2) continue;
      const int wr = r0 + nr, wc = c0 + nc;
      if (!world.in_bounds(wr, wc) || !is_habitable(world.material(wr, wc))) continue;
      first[next] = static_cast<int8_t>(cell == start ? d : first[cell]);
      if (is_target(ctx, wr, wc)) return first[next];
      queue.push_back(next);
    }
  }
  return -1;
}

}  // namespace detail

}  // namespace stackgrad::nmmo
