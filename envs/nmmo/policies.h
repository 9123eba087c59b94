// Built-in policies for Neural MMO 2.0 players: the random and forager agents of the
// cross-check protocol against nmmo 2.0.3 (their rules are fixed; tests compare statistics of
// whole episodes with the Python environment's), and three scripted agents for evaluation
// (forager, fighter, trader). Section numbers refer to part A of
// ../shared/specs/neural_mmo_and_flatland.md.
//
// Policies read the World directly but decide only from what nmmo's observation would give the
// player (A11): its own state, its inventory, the market, and the tiles and entities of its
// 15x15 window. Each policy owns its random stream, so an episode is a function of its seed.
//
//   auto p = make_policy(PolicyKind::kFighter, policy_seed(/*episode seed=*/1, /*player=*/5));
//   AgentAction a = p->act(world, world.players[4]);
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

enum class PolicyKind : uint8_t {
  kIdle,         // no action at all (protocol S1)
  kRandomMove,   // a uniformly drawn passable direction (protocol S2)
  kRandom,       // kRandomMove plus a random attack when the mask allows one (protocol S3)
  kForagerRule,  // the protocol's forager rule, exactly (S4)
  kForager,      // kForagerRule, harvesting when fed, and using the items it gets
  kFighter,      // hunts NPCs and players, equips weapons, ammunition and armour
  kTrader,       // harvests, lists items on the market, buys useful ones
};
inline constexpr int kNumPolicyKinds = 7;

std::string_view policy_name(PolicyKind kind);
// "idle", "random_move", "random", "forager_rule", "forager", "fighter", "trader"; throws
// stackgrad::Error naming the text otherwise.
PolicyKind parse_policy(std::string_view name);

// A seed for player `player_id`'s policy stream in the episode seeded `episode_seed`.
uint64_t policy_seed(uint64_t episode_seed, int player_id);

// ---- What the observation gives (A11) ---------------------------------------------------------

// Move.Direction mask, indexed by Direction (North, South, East, West, Stay): whether the tile
// in that direction is habitable.
std::array<bool, 5> move_mask(const World& world, const Entity& self);

// Ids of the entities of the Entity observation: alive players and NPCs within
// Config::vision_radius (Chebyshev) of `self`, self included; players first (by id), then NPCs
// in spawn order. nmmo lists at most player_n_obs of them in datastore order, a cap that is
// not applied here (it is reached only with more than 100 entities in one window).
std::vector<int32_t> visible_entities(const World& world, const Entity& self);

// The rows of the Attack.Target mask (nmmo 2.0.3 observation.py): visible entities within
// Config::combat_reach, not self, and no players while self is younger than the spawn immunity.
// As in nmmo, players who are themselves still immune are not masked (the attack then fails).
std::vector<int32_t> attack_mask_targets(const World& world, const Entity& self);

// The deterministic part of the cross-check protocol's forager rule: the first step towards the
// nearest drinkable tile (when water <= food) or Foilage tile of the window, kStay on one, -1
// when none is reachable (the rule then moves at random, as kRandomMove).
int forager_rule_step(const World& world, const Entity& self);

// The first step from `self` towards the nearest tile of the window (BFS over habitable tiles,
// neighbours in the order North, South, East, West; entities ignored) for which
// is_target(row, col) holds. kStay when self stands on a target; -1 when none is reachable.
template <class Pred>
int step_towards(const World& world, const Entity& self, Pred is_target);

// ---- Policies ---------------------------------------------------------------------------------

class Policy {
 public:
  explicit Policy(uint64_t seed) : rng_(seed) {}
  virtual ~Policy() = default;
  virtual PolicyKind kind() const = 0;
  // The action of `self` (an alive player of `world`) for the coming tick.
  virtual AgentAction act(const World& world, const Entity& self) = 0;

 protected:
  Rng rng_;
};

std::unique_ptr<Policy> make_policy(PolicyKind kind, uint64_t seed);

// ---- Implementation of the template -----------------------------------------------------------

namespace detail {
// BFS over the window; `is_target(row, col)` is called on each reached tile in BFS order.
int bfs_first_step(const World& world, const Entity& self,
                   bool (*is_target)(const void* ctx, int row, int col), const void* ctx);
}  // namespace detail

template <class Pred>
int step_towards(const World& world, const Entity& self, Pred is_target) {
  return detail::bfs_first_step(
      world, self,
      [](const void* ctx, int r, int c) { return (*static_cast<const Pred*>(ctx))(r, c); },
      &is_target);
}

}  // namespace stackgrad::nmmo
