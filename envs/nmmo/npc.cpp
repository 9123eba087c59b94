// NPCs (spec A3.2): spawning by danger, and the three scripted policies of nmmo/systems/ai —
// Passive meanders, Neutral hunts whoever hit it, Hostile hunts the first entity it sees.
// Hunting steps along nmmo's A* (L1 moves over the whole grid, passability ignored, Chebyshev
// heuristic, 100-pop cutoff with a closest-node fallback); nmmo's path cache is left out, so a
// fresh search may pick another of several equally short first steps.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <tuple>
#include <vector>

#include "envs/nmmo/realm.h"
#include "envs/nmmo/rules.h"

namespace stackgrad::nmmo {

namespace {

constexpr ItemType kArmours[3] = {ItemType::kHat, ItemType::kTop, ItemType::kBottom};
constexpr ItemType kTools[5] = {ItemType::kRod, ItemType::kGloves, ItemType::kPickaxe,
                                ItemType::kAxe, ItemType::kChisel};

// nmmo's move.habitable: from a random start in North, South, West, East (cyclic), the first
// direction whose tile is habitable; North when none is.
int8_t meander(World& world, const Entity& npc) {
  static constexpr Direction kOrder[4] = {Direction::kNorth, Direction::kSouth, Direction::kWest,
                                          Direction::kEast};
  const int start = static_cast<int>(world.rng.randint(0, 4));
  for (int i = 0; i < 4; ++i) {
    const int d = static_cast<int>(kOrder[(start + i) % 4]);
    const int r = npc.row + kDirRow[d], c = npc.col + kDirCol[d];
    if (world.in_bounds(r, c) && is_habitable(world.material(r, c))) return static_cast<int8_t>(d);
  }
  return static_cast<int8_t>(Direction::kNorth);
}

// The first step of nmmo's utils.aStar from (sr, sc) towards (gr, gc), as a row/col delta.
class AStar {
 public:
  std::pair<int, int> first_step(int size, int sr, int sc, int gr, int gc) {
    if (sr == gr && sc == gc) return {0, 0};
    if (++generation_ == 0) {
      std::fill(stamp_.begin(), stamp_.end(), 0u);
      generation_ = 1;
    }
    sr_ = sr;
    sc_ = sc;
    heap_.clear();
    set_cost(sr, sc, 0, -1);
    heap_.emplace_back(0, sr, sc);

    int goal_r = gr, goal_c = gc;
    int closest_r = sr, closest_c = sc;
    int closest_h = std::abs(gr - sr) + std::abs(gc - sc);  // nmmo seeds it with L1
    int closest_f = closest_h;
    int budget = kCutoff;
    constexpr int kAdjR[4] = {-1, 0, 1, 0}, kAdjC[4] = {0, -1, 0, 1};  // utils.adjacentPos
    while (!heap_.empty()) {
      if (--budget <= 0) {
        if (parent_of(goal_r, goal_c) < 0) goal_r = closest_r, goal_c = closest_c;
        break;
      }
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
      const auto [f, r, c] = heap_.back();
      heap_.pop_back();
      if (r == gr && c == gc) break;
      const int base = cost_[index(r, c)];
      for (int k = 0; k < 4; ++k) {
        const int nr = r + kAdjR[k], nc = c + kAdjC[k];
        // nmmo's utils.in_bounds excludes row and column 0.
        if (nr <= 0 || nc <= 0 || nr >= size || nc >= size) continue;
        const int cost = base + 1;
        const int i = index(nr, nc);
        if (stamp_[i] == generation_ && cost >= cost_[i]) continue;
        set_cost(nr, nc, cost, index(r, c));
        const int h = chebyshev(gr, gc, nr, nc);
        const int priority = cost + h;
        if (h < closest_h || (h == closest_h && priority < closest_f)) {
          closest_r = nr, closest_c = nc, closest_h = h, closest_f = priority;
        }
        heap_.emplace_back(priority, nr, nc);
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
      }
    }
    // Walk back to the node whose parent is the start.
    const int start = index(sr, sc);
    while (true) {
      const int p = parent_of(goal_r, goal_c);
      if (p < 0 || p == start) break;
      goal_r = p / kWidth - kRadius + sr;
      goal_c = p % kWidth - kRadius + sc;
    }
    return {goal_r - sr, goal_c - sc};
  }

 private:
  // At most kCutoff pops, so every node touched lies within L1 distance kCutoff of the start.
  static constexpr int kCutoff = 100, kRadius = kCutoff, kWidth = 2 * kRadius + 1;

  int index(int r, int c) const { return (r - sr_ + kRadius) * kWidth + (c - sc_ + kRadius); }
  bool in_window(int r, int c) const {
    return std::abs(r - sr_) <= kRadius && std::abs(c - sc_) <= kRadius;
  }
  int parent_of(int r, int c) const {
    if (!in_window(r, c)) return -1;
    const int i = index(r, c);
    return stamp_[i] == generation_ ? parent_[i] : -1;
  }
  void set_cost(int r, int c, int cost, int parent) {
    const int i = index(r, c);
    stamp_[i] = generation_;
    cost_[i] = cost;
    parent_[i] = parent;
  }

  int sr_ = 0, sc_ = 0;
  uint32_t generation_ = 0;
  std::vector<uint32_t> stamp_ = std::vector<uint32_t>(kWidth * kWidth, 0u);
  std::vector<int32_t> cost_ = std::vector<int32_t>(kWidth * kWidth, 0);
  std::vector<int32_t> parent_ = std::vector<int32_t>(kWidth * kWidth, -1);
  std::vector<std::tuple<int, int, int>> heap_;  // (priority, row, col): Python's tuple order
};

// move.towards: a unit delta becomes its direction, anything else a random one of the five.
int8_t towards(World& world, std::pair<int, int> delta) {
  for (int d = 0; d < 4; ++d) {
    if (kDirRow[d] == delta.first && kDirCol[d] == delta.second) return static_cast<int8_t>(d);
  }
  return static_cast<int8_t>(world.rng.randint(0, 5));
}

// Entities by tile, for the Hostile policy's ring scan (utils.closestTarget). Within a tile
// nmmo keeps arrival order; here players come first by id, then NPCs in spawn order.
class TileIndex {
 public:
  void build(const World& world) {
    const size_t n = static_cast<size_t>(world.size()) * world.size();
    if (head_.size() != n) head_.assign(n, -1);
    entities_.clear();
    for (const Entity& p : world.players) {
      if (p.alive) entities_.push_back(&p);
    }
    for (const Entity& npc : world.npcs) entities_.push_back(&npc);
    next_.assign(entities_.size(), -1);
    size_ = world.size();
    for (int k = static_cast<int>(entities_.size()) - 1; k >= 0; --k) {  // prepend, keep order
      const int t = entities_[k]->row * size_ + entities_[k]->col;
      next_[k] = head_[t];
      head_[t] = k;
    }
    built_ = true;
  }
  void clear() {
    if (!built_) return;
    for (const Entity* e : entities_) head_[e->row * size_ + e->col] = -1;
    built_ = false;
  }
  bool built() const { return built_; }
  // The first live entity other than `self` in the square rings d = 0..radius (nmmo's order).
  int32_t closest(const World& world, const Entity& self, int radius) const {
    const int sr = self.row, sc = self.col;
    for (int d = 0; d <= radius; ++d) {
      for (int r = -d; r <= d; ++r) {
        const int cells[4][2] = {
            {sr + r, sc - d}, {sr + r, sc + d}, {sr - d, sc + r}, {sr + d, sc + r}};
        for (const auto& cell : cells) {
          if (!world.in_bounds(cell[0], cell[1])) continue;
          for (int k = head_[cell[0] * size_ + cell[1]]; k >= 0; k = next_[k]) {
            const Entity* e = entities_[k];
            if (e != &self && e->alive) return e->id;
          }
        }
      }
    }
    return 0;
  }

 private:
  std::vector<int32_t> head_, next_;
  std::vector<const Entity*> entities_;
  int size_ = 0;
  bool built_ = false;
};

// utils.validTarget: present, alive and within the vision radius.
bool valid_target(const World& world, const Entity& npc, int32_t id) {
  if (id == 0) return false;
  const Entity* e = world.entity(id);
  return e != nullptr && e->alive &&
         chebyshev(npc.row, npc.col, e->row, e->col) <= world.config.vision_radius;
}

// behavior.hunt: close in (A* step beyond distance 1, a random step when on the same tile),
// and attack with the NPC's style when in reach.
void hunt(World& world, const Entity& npc, const Entity& target, AStar& astar,
          rules::NpcDecision& out) {
  const int distance = chebyshev(npc.row, npc.col, target.row, target.col);
  if (distance > 1) {
    out.move =
        towards(world, astar.first_step(world.size(), npc.row, npc.col, target.row, target.col));
  } else if (distance == 0) {
    out.move = meander(world, npc);
  }
  if (distance <= world.config.combat_reach) {
    out.attack_style = static_cast<int8_t>(npc.npc_style);
    out.attack_target = target.id;
  }
}

}  // namespace

int32_t spawn_npc(World& world, int row, int col) {
  const Config& c = world.config;
  if (!world.in_bounds(row, col) || !is_habitable(world.material(row, col))) return 0;
  const double dg = danger(c, row, col);
  NpcType type;
  if (dg >= c.npc_spawn_aggressive) {
    type = NpcType::kHostile;
  } else if (dg >= c.npc_spawn_neutral) {
    type = NpcType::kNeutral;
  } else if (dg >= 0.0) {
    type = NpcType::kPassive;
  } else {
    return 0;  // outside the playable square
  }
  Entity npc;
  npc.id = world.next_npc_id--;
  npc.npc_type = type;
  npc.row = npc.spawn_row = static_cast<int16_t>(row);
  npc.col = npc.spawn_col = static_cast<int16_t>(col);
  npc.health = static_cast<int16_t>(c.npc_base_health);
  npc.food = npc.water = static_cast<int16_t>(c.resource_base);
  const int style = static_cast<int>(world.rng.randint(0, 3));
  npc.npc_style = static_cast<Style>(style);
  const int level = static_cast<int>(dg * (c.npc_level_max - c.npc_level_min) + c.npc_level_min);
  npc.level[style] = static_cast<int16_t>(level);
  // nmmo's set_experience_by_level passes the level where an experience is expected, so the
  // style's experience is level_at_exp(level) (1 for every level up to 10). It only makes the
  // style dominant for the weakness test, so the quirk is kept.
  npc.exp[style] = level_for_exp(level, c.progression_level_max);
  npc.gold = level;
  const double lvl = level - world.rng.uniform();
  npc.npc_item_level = static_cast<int16_t>(5 * lvl);
  npc.npc_offense = static_cast<int16_t>(c.npc_base_damage + lvl * c.npc_level_damage);
  npc.npc_defense = static_cast<int16_t>(c.npc_base_defense + lvl * c.npc_level_defense);
  npc.npc_drop_armour = kArmours[world.rng.randint(0, 3)];
  npc.npc_drop_tool = kTools[world.rng.randint(0, 5)];
  world.npcs.push_back(std::move(npc));
  return world.npcs.back().id;
}

namespace rules {

void spawn_npcs(World& world) {
  const Config& c = world.config;
  if (c.npc_n <= 0) return;
  // A queued danger (from the latest dead NPC) puts every attempt of this call on its ring.
  const bool queued = !world.npc_respawn_dangers.empty();
  const double dg = queued ? world.npc_respawn_dangers.back() : 0.0;
  const int b = c.map_border, n = c.map_center, mid = n / 2;
  for (int attempt = 0; attempt < c.npc_spawn_attempts; ++attempt) {
    if (static_cast<int>(world.npcs.size()) >= c.npc_n) break;
    int r, col;
    if (queued) {
      // combat.spawn: a random point of the square ring at this danger.
      const int dist = static_cast<int>(std::lround(dg * n / 2));
      const int max_offset = mid - dist;
      const int offset =
          mid + b +
          (max_offset > 0 ? static_cast<int>(world.rng.randint(-max_offset, max_offset)) : 0);
      const double u = world.rng.uniform();
      if (u < 0.25) {
        r = b + dist, col = offset;
      } else if (u < 0.5) {
        r = b + n - dist - 1, col = offset;
      } else if (u < 0.75) {
        col = b + dist, r = offset;
      } else {
        col = b + n - dist - 1, r = offset;
      }
    } else {
      r = static_cast<int>(world.rng.randint(b, b + n));
      col = static_cast<int>(world.rng.randint(b, b + n));
    }
    spawn_npc(world, r, col);
  }
  if (queued) world.npc_respawn_dangers.pop_back();
}

void decide_npcs(World& world, std::vector<NpcDecision>& decisions) {
  thread_local AStar astar;
  thread_local TileIndex tiles;
  decisions.assign(world.npcs.size(), NpcDecision{});
  const int vision = world.config.vision_radius;
  for (size_t k = 0; k < world.npcs.size(); ++k) {
    Entity& npc = world.npcs[k];
    NpcDecision& out = decisions[k];
    if (!valid_target(world, npc, npc.npc_target_id)) npc.npc_target_id = 0;
    int32_t target = 0;
    if (npc.npc_type == NpcType::kNeutral) {
      if (valid_target(world, npc, npc.attacker_id)) target = npc.npc_target_id = npc.attacker_id;
    } else if (npc.npc_type == NpcType::kHostile) {
      if (npc.npc_target_id == 0) {
        if (!tiles.built()) tiles.build(world);
        npc.npc_target_id = tiles.closest(world, npc, vision);
      }
      target = npc.npc_target_id;
    }
    if (target == 0) {
      out.move = meander(world, npc);
    } else {
      hunt(world, npc, *world.entity(target), astar, out);
    }
  }
  tiles.clear();
}

}  // namespace rules

}  // namespace stackgrad::nmmo
