// The predicates of Neural MMO 2.0's task system (spec A13.1, A13.2): the 27 built-ins, each a
// progress in [0, 1] for a subject group of players, and their combinators (AND = min, OR = max,
// NOT, ADD, SUB, MUL, all clipped). GameState is the per-episode view the predicates read: the
// World of world.h plus an incremental index of the event log, so that evaluating 128 tasks a
// tick costs the new events of that tick, not the whole log.
//
//   GameState gs(world);                    // one per episode
//   ...                                     // after every tick:
//   gs.update();                            // ingests the tick's new events
//   PredicateExpr p = PredicateExpr::leaf(PredicateId::kAttainSkill,
//                                         {.skill = Skill::kMelee, .level = 3, .num_agent = 1});
//   double progress = evaluate(p, gs, std::vector<int32_t>{7});   // player 7's progress
//
// Subject semantics follow nmmo's GameState: dead members vanish from entity, item and
// observation views (their health, gold, position, items, what they see), but the events they
// logged while alive still count.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "envs/nmmo/world.h"

namespace stackgrad::nmmo {

// The built-in predicates, in the order of nmmo/task/base_predicates.py (A13.2).
enum class PredicateId : uint8_t {
  kSuccess,
  kTickGE,
  kCanSeeTile,
  kStayAlive,
  kAllDead,
  kOccupyTile,
  kAllMembersWithinRange,
  kCanSeeAgent,
  kCanSeeGroup,
  kDistanceTraveled,
  kAttainSkill,
  kGainExperience,
  kCountEvent,
  kScoreHit,
  kDefeatEntity,
  kHoardGold,
  kEarnGold,
  kSpendGold,
  kMakeProfit,
  kInventorySpaceGE,
  kOwnItem,
  kEquipItem,
  kFullyArmed,
  kConsumeItem,
  kHarvestItem,
  kListItem,
  kBuyItem,
};
inline constexpr int kNumPredicates = 27;

std::string_view predicate_name(PredicateId id);
// Throws stackgrad::Error naming `name` when it is not one of the 27.
PredicateId predicate_from_name(std::string_view name);
// The keyword arguments of a predicate, in nmmo's order (e.g. AttainSkill: skill, level,
// num_agent). Task-spec files use exactly these names.
std::span<const std::string_view> predicate_kwargs(PredicateId id);

// Arguments of a predicate; each predicate reads only the fields its kwargs name.
struct PredicateArgs {
  int num_tick = 0;                      // TickGE
  Material tile_type = Material::kVoid;  // CanSeeTile
  int row = 0, col = 0;                  // OccupyTile
  int dist = 0;                          // AllMembersWithinRange, DistanceTraveled
  // CanSeeAgent / CanSeeGroup (and StayAlive / AllDead, whose subject it replaces): a relation
  // resolved per team when tasks are made ("left_team", "right_team_leader", ...; A13.4), or
  // explicit player ids.
  std::string target_relation;
  std::vector<int32_t> target;
  Skill skill = Skill::kMelee;  // AttainSkill, GainExperience; the style of ScoreHit
  int level = 0;
  int num_agent = 0;
  int experience = 0;                     // GainExperience
  EventCode event = EventCode::kEatFood;  // CountEvent
  int n = 0;                              // CountEvent, ScoreHit (nmmo's N)
  bool agent_type_npc = false;            // DefeatEntity: 'npc' (true) or 'player'
  int amount = 0;                         // HoardGold, EarnGold, SpendGold, MakeProfit
  int space = 0;                          // InventorySpaceGE
  ItemType item = ItemType::kNone;        // OwnItem, EquipItem, ConsumeItem, ...
  int quantity = 0;

  bool operator==(const PredicateArgs&) const = default;
};

// Throws stackgrad::Error naming the predicate and the argument when an argument is out of
// range (a divisor <= 0, an item of the wrong kind, a relation nmmo does not know, ...).
void validate_args(PredicateId id, const PredicateArgs& args);

// A predicate expression: a built-in predicate, a constant, or a combinator of expressions.
enum class PredicateOp : uint8_t { kLeaf, kConstant, kAnd, kOr, kNot, kAdd, kSub, kMul };
std::string_view predicate_op_name(PredicateOp op);

struct PredicateExpr {
  PredicateOp op = PredicateOp::kLeaf;
  PredicateId id = PredicateId::kSuccess;  // kLeaf
  PredicateArgs args;                      // kLeaf
  double constant = 0.0;                   // kConstant
  std::vector<PredicateExpr> children;     // combinators

  static PredicateExpr leaf(PredicateId id, PredicateArgs args = {});
  static PredicateExpr value(double constant);
  // Checks the arity nmmo allows: NOT one operand, SUB two, the others at least one.
  static PredicateExpr combine(PredicateOp op, std::vector<PredicateExpr> children);

  bool operator==(const PredicateExpr&) const = default;
};

// Number of event codes (A10) and a dense slot for each.
inline constexpr int kNumEventCodes = 16;
int event_slot(EventCode e);  // 0..15; -1 for a code that is not an event
EventCode event_from_slot(int slot);
// Throws stackgrad::Error naming `name` when it is not one of nmmo's event names.
EventCode event_from_name(std::string_view name);

// Per-player aggregates of the event log that the predicates need; kept up to date by
// GameState::update with the events logged since the last call.
struct PlayerEventStats {
  static constexpr int kLevelBins = 17;  // event levels 0..16 (higher ones land in the last bin)
  static constexpr int kItemKinds = 4;   // CONSUME_ITEM, HARVEST_ITEM, LIST_ITEM, BUY_ITEM

  std::array<int32_t, kNumEventCodes> count{};
  std::array<int32_t, kNumStyles> score_hits{};  // SCORE_HIT by style
  int64_t gold_earned = 0;                       // sum of EARN_GOLD gold
  int64_t gold_spent = 0;                        // sum of BUY_ITEM gold
  // PLAYER_KILL by victim kind (0 player, 1 NPC) and victim level.
  std::array<std::array<int32_t, kLevelBins>, 2> kills{};
  // Sum of the `number` column by event kind, item type (0..17) and item level.
  std::array<std::array<std::array<int64_t, kLevelBins>, kLastItemType + 1>, kItemKinds> items{};
};

// Not thread-safe (per-tick caches): one per env, updated and read by the env's thread.
class GameState {
 public:
  explicit GameState(const World& world);

  // Call after every tick (and after building or resetting a world): reads the events added
  // since the last call and drops per-tick caches. A log that shrank (a new episode) is
  // re-read from the start.
  void update();

  const World& world() const { return *world_; }
  int tick() const { return world_->tick; }
  // The player if it is alive (nmmo's entity table keeps only live rows); null otherwise.
  const Entity* alive_player(int32_t id) const;
  const PlayerEventStats& events(int32_t id) const;
  // Bit m set when material m is in the player's vision window (Config::vision_radius);
  // computed once per tick per player. The player must be alive.
  uint32_t seen_materials(const Entity& player) const;
  // Whether entity `target` (player or NPC) is alive and within Chebyshev vision radius. nmmo's
  // Entity observation keeps at most Config::player_n_obs (100) of them; with 128 players and
  // at most 256 NPCs a 15x15 window holding more is not modelled.
  bool sees_entity(const Entity& player, int32_t target) const;

 private:
  const World* world_;
  size_t events_read_ = 0;
  std::vector<PlayerEventStats> stats_;  // stats_[id - 1]
  uint32_t stamp_ = 1;
  mutable std::vector<uint32_t> seen_stamp_;
  mutable std::vector<uint32_t> seen_mask_;
};

// Progress in [0, 1] of one built-in predicate for a subject group of player ids (A13.2).
double evaluate_predicate(PredicateId id, const PredicateArgs& args, const GameState& gs,
                          std::span<const int32_t> subject);
// Progress of an expression; every leaf sees the same subject (AllDead, and StayAlive with a
// target, use the target instead, as nmmo's task_spec does).
double evaluate(const PredicateExpr& expr, const GameState& gs, std::span<const int32_t> subject);

}  // namespace stackgrad::nmmo
