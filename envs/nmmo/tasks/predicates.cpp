#include "predicates.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

using std::string_view_literals::operator""sv;

struct PredicateInfo {
  PredicateId id;
  std::string_view name;
  std::vector<std::string_view> kwargs;
};

const std::vector<PredicateInfo>& predicate_table() {
  static const std::vector<PredicateInfo> table = {
      {PredicateId::kSuccess, "Success", {}},
      {PredicateId::kTickGE, "TickGE", {"num_tick"}},
      {PredicateId::kCanSeeTile, "CanSeeTile", {"tile_type"}},
      {PredicateId::kStayAlive, "StayAlive", {"target"}},
      {PredicateId::kAllDead, "AllDead", {"target"}},
      {PredicateId::kOccupyTile, "OccupyTile", {"row", "col"}},
      {PredicateId::kAllMembersWithinRange, "AllMembersWithinRange", {"dist"}},
      {PredicateId::kCanSeeAgent, "CanSeeAgent", {"target"}},
      {PredicateId::kCanSeeGroup, "CanSeeGroup", {"target"}},
      {PredicateId::kDistanceTraveled, "DistanceTraveled", {"dist"}},
      {PredicateId::kAttainSkill, "AttainSkill", {"skill", "level", "num_agent"}},
      {PredicateId::kGainExperience, "GainExperience", {"skill", "experience", "num_agent"}},
      {PredicateId::kCountEvent, "CountEvent", {"event", "N"}},
      {PredicateId::kScoreHit, "ScoreHit", {"combat_style", "N"}},
      {PredicateId::kDefeatEntity, "DefeatEntity", {"agent_type", "level", "num_agent"}},
      {PredicateId::kHoardGold, "HoardGold", {"amount"}},
      {PredicateId::kEarnGold, "EarnGold", {"amount"}},
      {PredicateId::kSpendGold, "SpendGold", {"amount"}},
      {PredicateId::kMakeProfit, "MakeProfit", {"amount"}},
      {PredicateId::kInventorySpaceGE, "InventorySpaceGE", {"space"}},
      {PredicateId::kOwnItem, "OwnItem", {"item", "level", "quantity"}},
      {PredicateId::kEquipItem, "EquipItem", {"item", "level", "num_agent"}},
      {PredicateId::kFullyArmed, "FullyArmed", {"combat_style", "level", "num_agent"}},
      {PredicateId::kConsumeItem, "ConsumeItem", {"item", "level", "quantity"}},
      {PredicateId::kHarvestItem, "HarvestItem", {"item", "level", "quantity"}},
      {PredicateId::kListItem, "ListItem", {"item", "level", "quantity"}},
      {PredicateId::kBuyItem, "BuyItem", {"item", "level", "quantity"}},
  };
  return table;
}

constexpr std::array<EventCode, kNumEventCodes> kEventCodes = {
    EventCode::kEatFood,   EventCode::kDrinkWater,  EventCode::kGoFarthest,
    EventCode::kScoreHit,  EventCode::kPlayerKill,  EventCode::kConsumeItem,
    EventCode::kGiveItem,  EventCode::kDestroyItem, EventCode::kHarvestItem,
    EventCode::kEquipItem, EventCode::kLootItem,    EventCode::kGiveGold,
    EventCode::kListItem,  EventCode::kEarnGold,    EventCode::kBuyItem,
    EventCode::kLevelUp};

constexpr std::array<std::string_view, 6> kTargetRelations = {"left_team",      "left_team_leader",
                                                              "right_team",     "right_team_leader",
                                                              "my_team_leader", "all_foes"};

double norm(double x) { return std::clamp(x, 0.0, 1.0); }

int level_bin(int level) { return std::clamp(level, 0, PlayerEventStats::kLevelBins - 1); }

// Sum of bins >= level (a level above the last bin matches nothing, below 0 everything).
template <typename T>
int64_t at_least(const std::array<T, PlayerEventStats::kLevelBins>& bins, int level) {
  if (level >= PlayerEventStats::kLevelBins) return 0;
  int64_t s = 0;
  for (int l = std::max(level, 0); l < PlayerEventStats::kLevelBins; ++l) s += bins[l];
  return s;
}

int item_kind(EventCode e) {
  switch (e) {
    case EventCode::kConsumeItem:
      return 0;
    case EventCode::kHarvestItem:
      return 1;
    case EventCode::kListItem:
      return 2;
    case EventCode::kBuyItem:
      return 3;
    default:
      return -1;
  }
}

bool is_item_type(ItemType t) {
  const int i = static_cast<int>(t);
  return i >= kFirstItemType && i <= kLastItemType;
}

// The weapon and ammunition of each combat style (FullyArmed).
constexpr std::array<ItemType, kNumStyles> kStyleWeapon = {ItemType::kSpear, ItemType::kBow,
                                                           ItemType::kWand};
constexpr std::array<ItemType, kNumStyles> kStyleAmmo = {ItemType::kWhetstone, ItemType::kArrow,
                                                         ItemType::kRunes};

}  // namespace

std::string_view predicate_name(PredicateId id) {
  return predicate_table()[static_cast<size_t>(id)].name;
}

PredicateId predicate_from_name(std::string_view name) {
  for (const PredicateInfo& p : predicate_table()) {
    if (p.name == name) return p.id;
  }
  fail("nmmo task: unknown predicate '", name, "'");
}

std::span<const std::string_view> predicate_kwargs(PredicateId id) {
  return predicate_table()[static_cast<size_t>(id)].kwargs;
}

std::string_view predicate_op_name(PredicateOp op) {
  constexpr std::array<std::string_view, 8> names = {"leaf", "constant", "AND", "OR",
                                                     "NOT",  "ADD",      "SUB", "MUL"};
  return names[static_cast<size_t>(op)];
}

int event_slot(EventCode e) {
  for (int i = 0; i < kNumEventCodes; ++i) {
    if (kEventCodes[i] == e) return i;
  }
  return -1;
}

EventCode event_from_slot(int slot) { return kEventCodes[static_cast<size_t>(slot)]; }

EventCode event_from_name(std::string_view name) {
  for (EventCode e : kEventCodes) {
    if (event_name(e) == name) return e;
  }
  fail("nmmo task: unknown event '", name, "'");
}

void validate_args(PredicateId id, const PredicateArgs& a) {
  const std::string_view p = predicate_name(id);
  auto positive = [&](int v, std::string_view field) {
    SG_CHECK(v > 0, "nmmo task: ", p, ": ", field, " must be > 0 (it divides the progress), got ",
             v);
  };
  auto non_negative = [&](int v, std::string_view field) {
    SG_CHECK(v >= 0, "nmmo task: ", p, ": ", field, " must be >= 0, got ", v);
  };
  auto item = [&] {
    SG_CHECK(is_item_type(a.item), "nmmo task: ", p,
             ": item must be one of the 16 item types, got ", static_cast<int>(a.item));
  };
  auto combat_style = [&] {
    SG_CHECK(static_cast<int>(a.skill) < kNumStyles, "nmmo task: ", p,
             ": combat_style must be Melee, Range or Mage, got ",
             kSkillNames[static_cast<int>(a.skill)]);
  };
  auto target = [&](bool required) {
    if (!a.target_relation.empty()) {
      SG_CHECK(std::find(kTargetRelations.begin(), kTargetRelations.end(), a.target_relation) !=
                   kTargetRelations.end(),
               "nmmo task: ", p,
               ": target must be one of left_team, left_team_leader, right_team, ",
               "right_team_leader, my_team_leader, all_foes or player ids, got '",
               a.target_relation, "'");
    } else if (required) {
      SG_CHECK(!a.target.empty(), "nmmo task: ", p, ": target is required");
    }
    for (int32_t t : a.target) SG_CHECK(t != 0, "nmmo task: ", p, ": target id 0 is not an entity");
  };
  switch (id) {
    case PredicateId::kSuccess:
    case PredicateId::kCanSeeTile:
    case PredicateId::kOccupyTile:
      break;
    case PredicateId::kStayAlive:
    case PredicateId::kAllDead:
      target(false);
      break;
    case PredicateId::kTickGE:
      positive(a.num_tick, "num_tick");
      break;
    case PredicateId::kAllMembersWithinRange:
      non_negative(a.dist, "dist");
      break;
    case PredicateId::kCanSeeAgent:
    case PredicateId::kCanSeeGroup:
      target(true);
      break;
    case PredicateId::kDistanceTraveled:
      positive(a.dist, "dist");
      break;
    case PredicateId::kAttainSkill:
      if (a.level > 1) positive(a.num_agent, "num_agent");
      break;
    case PredicateId::kGainExperience:
      positive(a.experience, "experience");
      positive(a.num_agent, "num_agent");
      break;
    case PredicateId::kCountEvent:
      positive(a.n, "N");
      break;
    case PredicateId::kScoreHit:
      combat_style();
      positive(a.n, "N");
      break;
    case PredicateId::kDefeatEntity:
      non_negative(a.num_agent, "num_agent");
      break;
    case PredicateId::kHoardGold:
    case PredicateId::kEarnGold:
    case PredicateId::kSpendGold:
    case PredicateId::kMakeProfit:
      positive(a.amount, "amount");
      break;
    case PredicateId::kInventorySpaceGE:
      non_negative(a.space, "space");
      break;
    case PredicateId::kEquipItem:
      item();
      non_negative(a.num_agent, "num_agent");
      break;
    case PredicateId::kFullyArmed:
      combat_style();
      non_negative(a.num_agent, "num_agent");
      break;
    case PredicateId::kOwnItem:
    case PredicateId::kConsumeItem:
    case PredicateId::kHarvestItem:
    case PredicateId::kListItem:
    case PredicateId::kBuyItem:
      item();
      positive(a.quantity, "quantity");
      break;
  }
}

PredicateExpr PredicateExpr::leaf(PredicateId id, PredicateArgs args) {
  validate_args(id, args);
  PredicateExpr e;
  e.op = PredicateOp::kLeaf;
  e.id = id;
  e.args = std::move(args);
  return e;
}

PredicateExpr PredicateExpr::value(double constant) {
  SG_CHECK(std::isfinite(constant), "nmmo task: a constant operand must be finite, got ", constant);
  PredicateExpr e;
  e.op = PredicateOp::kConstant;
  e.constant = constant;
  return e;
}

PredicateExpr PredicateExpr::combine(PredicateOp op, std::vector<PredicateExpr> children) {
  SG_CHECK(op != PredicateOp::kLeaf && op != PredicateOp::kConstant,
           "nmmo task: combine needs a combinator, got ", predicate_op_name(op));
  if (op == PredicateOp::kNot) {
    SG_CHECK(children.size() == 1, "nmmo task: NOT takes 1 operand, got ", children.size());
  } else if (op == PredicateOp::kSub) {
    SG_CHECK(children.size() == 2, "nmmo task: SUB takes 2 operands, got ", children.size());
  } else {
    SG_CHECK(!children.empty(), "nmmo task: ", predicate_op_name(op), " needs an operand");
  }
  PredicateExpr e;
  e.op = op;
  e.children = std::move(children);
  return e;
}

// ---- GameState ----------------------------------------------------------------------------

GameState::GameState(const World& world) : world_(&world) { update(); }

void GameState::update() {
  const std::vector<Event>& log = world_->events;
  if (log.size() < events_read_) {  // a new episode: read the log again
    events_read_ = 0;
    stats_.clear();
  }
  if (stats_.size() < world_->players.size()) stats_.resize(world_->players.size());
  for (; events_read_ < log.size(); ++events_read_) {
    const Event& e = log[events_read_];
    const int slot = event_slot(e.event);
    if (e.ent_id <= 0 || slot < 0) continue;  // only players' events matter for tasks (A10)
    if (static_cast<size_t>(e.ent_id) > stats_.size()) stats_.resize(e.ent_id);
    PlayerEventStats& s = stats_[e.ent_id - 1];
    ++s.count[slot];
    switch (e.event) {
      case EventCode::kScoreHit:
        if (e.type >= 1 && e.type <= kNumStyles) ++s.score_hits[e.type - 1];
        break;
      case EventCode::kPlayerKill:
        if (e.target_ent != 0) ++s.kills[e.target_ent < 0 ? 1 : 0][level_bin(e.level)];
        break;
      case EventCode::kEarnGold:
        s.gold_earned += e.gold;
        break;
      default:
        break;
    }
    if (e.event == EventCode::kBuyItem) s.gold_spent += e.gold;
    const int kind = item_kind(e.event);
    if (kind >= 0 && e.type >= 0 && e.type <= kLastItemType) {
      s.items[kind][e.type][level_bin(e.level)] += e.number;
    }
  }
  ++stamp_;
}

const Entity* GameState::alive_player(int32_t id) const {
  if (id <= 0 || static_cast<size_t>(id) > world_->players.size()) return nullptr;
  const Entity& p = world_->players[id - 1];
  return p.alive ? &p : nullptr;
}

const PlayerEventStats& GameState::events(int32_t id) const {
  static const PlayerEventStats kNone{};
  if (id <= 0 || static_cast<size_t>(id) > stats_.size()) return kNone;
  return stats_[id - 1];
}

uint32_t GameState::seen_materials(const Entity& player) const {
  const size_t i = static_cast<size_t>(player.id) - 1;
  if (seen_stamp_.size() <= i) {
    seen_stamp_.resize(world_->players.size() > i ? world_->players.size() : i + 1, 0);
    seen_mask_.resize(seen_stamp_.size(), 0);
  }
  if (seen_stamp_[i] == stamp_) return seen_mask_[i];
  const World& w = *world_;
  const int radius = w.config.vision_radius, size = w.size();
  const int r0 = std::max(player.row - radius, 0), r1 = std::min(player.row + radius, size - 1);
  const int c0 = std::max(player.col - radius, 0), c1 = std::min(player.col + radius, size - 1);
  uint32_t mask = 0;
  if (!w.tiles.empty()) {
    for (int r = r0; r <= r1; ++r) {
      const Material* row = &w.tiles[static_cast<size_t>(r) * size];
      for (int c = c0; c <= c1; ++c) mask |= 1u << static_cast<int>(row[c]);
    }
  }
  seen_stamp_[i] = stamp_;
  seen_mask_[i] = mask;
  return mask;
}

bool GameState::sees_entity(const Entity& player, int32_t target) const {
  const Entity* t = target > 0 ? alive_player(target) : world_->entity(target);
  if (t == nullptr || !t->alive) return false;
  return chebyshev(player.row, player.col, t->row, t->col) <= world_->config.vision_radius;
}

// ---- Evaluation ---------------------------------------------------------------------------

namespace {

// Sum over the subject's live items of f(item) (nmmo's subject.item view).
template <typename F>
void for_each_item(const GameState& gs, const Entity& p, F&& f) {
  const World& w = gs.world();
  for (int32_t id : p.inventory) {
    if (id <= 0 || static_cast<size_t>(id) > w.items.size()) continue;
    const Item& it = w.item(id);
    if (it.alive) f(it);
  }
}

double fully_armed(const GameState& gs, std::span<const int32_t> subject, const PredicateArgs& a) {
  const int style = static_cast<int>(a.skill);
  const std::array<ItemType, 5> wanted = {ItemType::kHat, ItemType::kTop, ItemType::kBottom,
                                          kStyleWeapon[style], kStyleAmmo[style]};
  int armed = 0;
  for (int32_t id : subject) {
    const Entity* p = gs.alive_player(id);
    if (p == nullptr) continue;
    int pieces = 0;
    for_each_item(gs, *p, [&](const Item& it) {
      if (it.equipped && it.level >= a.level &&
          std::find(wanted.begin(), wanted.end(), it.type) != wanted.end()) {
        ++pieces;
      }
    });
    if (pieces >= static_cast<int>(wanted.size())) ++armed;
  }
  return a.num_agent > 0 ? norm(static_cast<double>(armed) / a.num_agent) : 1.0;
}

}  // namespace

double evaluate_predicate(PredicateId id, const PredicateArgs& a, const GameState& gs,
                          std::span<const int32_t> subject) {
  SG_CHECK(!subject.empty(), "nmmo task: ", predicate_name(id), ": the subject group is empty");
  // Live members, in subject order (nmmo's entity view).
  std::array<const Entity*, 64> small{};
  std::vector<const Entity*> large;
  std::span<const Entity*> alive;
  {
    const Entity** out = small.data();
    if (subject.size() > small.size()) {
      large.resize(subject.size());
      out = large.data();
    }
    size_t n = 0;
    for (int32_t m : subject) {
      if (const Entity* p = gs.alive_player(m)) out[n++] = p;
    }
    alive = std::span<const Entity*>(out, n);
  }
  const double size = static_cast<double>(subject.size());
  auto sum_events = [&](auto&& f) {
    double s = 0;
    for (int32_t m : subject) s += static_cast<double>(f(gs.events(m)));
    return s;
  };
  auto target_ids = [&]() -> std::span<const int32_t> {
    SG_CHECK(a.target_relation.empty() || !a.target.empty(), "nmmo task: ", predicate_name(id),
             ": target '", a.target_relation,
             "' was not resolved to player ids (make tasks through make_tasks)");
    return a.target;
  };

  switch (id) {
    case PredicateId::kSuccess:
      return 1.0;
    case PredicateId::kTickGE:
      return norm(static_cast<double>(gs.tick()) / a.num_tick);
    case PredicateId::kCanSeeTile:
      for (const Entity* p : alive) {
        if (gs.seen_materials(*p) & (1u << static_cast<int>(a.tile_type))) return 1.0;
      }
      return 0.0;
    case PredicateId::kStayAlive: {
      size_t n = 0;
      for (const Entity* p : alive) n += p->health > 0;
      return n == subject.size() ? 1.0 : 0.0;
    }
    case PredicateId::kAllDead: {
      size_t n = 0;
      for (const Entity* p : alive) n += p->health != 0;
      return norm(1.0 - static_cast<double>(n) / size);
    }
    case PredicateId::kOccupyTile:
      for (const Entity* p : alive) {
        if (p->row == a.row && p->col == a.col) return 1.0;
      }
      return 0.0;
    case PredicateId::kAllMembersWithinRange: {
      if (alive.empty()) return 0.0;  // nmmo raises on the empty view; nobody is in range
      int rmin = alive[0]->row, rmax = rmin, cmin = alive[0]->col, cmax = cmin;
      for (const Entity* p : alive) {
        rmin = std::min<int>(rmin, p->row), rmax = std::max<int>(rmax, p->row);
        cmin = std::min<int>(cmin, p->col), cmax = std::max<int>(cmax, p->col);
      }
      const int spread = std::max(rmax - rmin, cmax - cmin);
      return spread <= 0 ? 1.0 : norm(static_cast<double>(a.dist) / spread);
    }
    case PredicateId::kCanSeeAgent:
    case PredicateId::kCanSeeGroup:
      for (int32_t t : target_ids()) {
        for (const Entity* p : alive) {
          if (gs.sees_entity(*p, t)) return 1.0;
        }
      }
      return 0.0;
    case PredicateId::kDistanceTraveled: {
      if (alive.empty()) return 0.0;
      double d = 0;
      for (const Entity* p : alive) d += chebyshev(p->row, p->col, p->spawn_row, p->spawn_col);
      return norm(d / a.dist);
    }
    case PredicateId::kAttainSkill: {
      if (a.level <= 1) return 1.0;
      double s = 0;
      for (const Entity* p : alive) s += p->level[static_cast<int>(a.skill)] - 1;
      return norm(s / (static_cast<double>(a.num_agent) * (a.level - 1)));
    }
    case PredicateId::kGainExperience: {
      double s = 0;
      for (const Entity* p : alive) s += p->exp[static_cast<int>(a.skill)];
      return norm(s / (static_cast<double>(a.experience) * a.num_agent));
    }
    case PredicateId::kCountEvent: {
      const int slot = event_slot(a.event);
      return norm(sum_events([&](const PlayerEventStats& s) { return s.count[slot]; }) / a.n);
    }
    case PredicateId::kScoreHit: {
      const int style = static_cast<int>(a.skill);
      return norm(sum_events([&](const PlayerEventStats& s) { return s.score_hits[style]; }) / a.n);
    }
    case PredicateId::kDefeatEntity: {
      if (a.num_agent <= 0) return 1.0;
      const int kind = a.agent_type_npc ? 1 : 0;
      return norm(
          sum_events([&](const PlayerEventStats& s) { return at_least(s.kills[kind], a.level); }) /
          a.num_agent);
    }
    case PredicateId::kHoardGold: {
      double g = 0;
      for (const Entity* p : alive) g += p->gold;
      return norm(g / a.amount);
    }
    case PredicateId::kEarnGold:
      return norm(sum_events([](const PlayerEventStats& s) { return s.gold_earned; }) / a.amount);
    case PredicateId::kSpendGold:
      return norm(sum_events([](const PlayerEventStats& s) { return s.gold_spent; }) / a.amount);
    case PredicateId::kMakeProfit:
      return norm(
          sum_events([](const PlayerEventStats& s) { return s.gold_earned - s.gold_spent; }) /
          a.amount);
    case PredicateId::kInventorySpaceGE: {
      const int capacity = gs.world().config.item_inventory_capacity;
      for (const Entity* p : alive) {
        if (capacity - static_cast<int>(p->inventory.size()) < a.space) return 0.0;
      }
      return 1.0;
    }
    case PredicateId::kOwnItem: {
      double q = 0;
      for (const Entity* p : alive) {
        for_each_item(gs, *p, [&](const Item& it) {
          if (it.type == a.item && it.level >= a.level) q += it.quantity;
        });
      }
      return norm(q / a.quantity);
    }
    case PredicateId::kEquipItem: {
      if (a.num_agent <= 0) return 1.0;
      double n = 0;
      for (const Entity* p : alive) {
        for_each_item(gs, *p, [&](const Item& it) {
          if (it.type == a.item && it.level >= a.level && it.equipped) n += 1;
        });
      }
      return norm(n / a.num_agent);
    }
    case PredicateId::kFullyArmed:
      return fully_armed(gs, subject, a);
    case PredicateId::kConsumeItem:
    case PredicateId::kHarvestItem:
    case PredicateId::kListItem:
    case PredicateId::kBuyItem: {
      constexpr std::array<EventCode, 4> kinds = {EventCode::kConsumeItem, EventCode::kHarvestItem,
                                                  EventCode::kListItem, EventCode::kBuyItem};
      const int kind =
          item_kind(kinds[static_cast<int>(id) - static_cast<int>(PredicateId::kConsumeItem)]);
      const int type = static_cast<int>(a.item);
      return norm(sum_events([&](const PlayerEventStats& s) {
                    return at_least(s.items[kind][type], a.level);
                  }) /
                  a.quantity);
    }
  }
  return 0.0;
}

double evaluate(const PredicateExpr& e, const GameState& gs, std::span<const int32_t> subject) {
  switch (e.op) {
    case PredicateOp::kLeaf: {
      const bool target_subject =
          (e.id == PredicateId::kAllDead || e.id == PredicateId::kStayAlive) &&
          !e.args.target.empty();
      return evaluate_predicate(e.id, e.args, gs,
                                target_subject ? std::span<const int32_t>(e.args.target) : subject);
    }
    case PredicateOp::kConstant:
      return e.constant;  // nmmo wraps a number as a constant function, unclipped
    case PredicateOp::kAnd: {
      double v = 1.0;
      for (const PredicateExpr& c : e.children) v = std::min(v, evaluate(c, gs, subject));
      return norm(v);
    }
    case PredicateOp::kOr: {
      double v = -INFINITY;
      for (const PredicateExpr& c : e.children) v = std::max(v, evaluate(c, gs, subject));
      return norm(v);
    }
    case PredicateOp::kNot:
      return norm(1.0 - evaluate(e.children[0], gs, subject));
    case PredicateOp::kAdd: {
      double v = 0.0;
      for (const PredicateExpr& c : e.children) v += evaluate(c, gs, subject);
      return norm(v);
    }
    case PredicateOp::kSub:
      return norm(evaluate(e.children[0], gs, subject) - evaluate(e.children[1], gs, subject));
    case PredicateOp::kMul: {
      double v = 1.0;
      for (const PredicateExpr& c : e.children) v *= evaluate(c, gs, subject);
      return norm(v);
    }
  }
  return 0.0;
}

}  // namespace stackgrad::nmmo
