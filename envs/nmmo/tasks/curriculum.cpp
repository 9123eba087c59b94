#include "curriculum.h"

#include <string>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

namespace {

using P = PredicateId;

TaskSpec spec(PredicateId id, PredicateArgs args, double weight = 1.0) {
  TaskSpec s;
  s.predicate = PredicateExpr::leaf(id, std::move(args));
  s.sampling_weight = weight;
  return s;
}

TaskSpec count_event(EventCode e, int n, double weight = 1.0) {
  return spec(P::kCountEvent, {.event = e, .n = n}, weight);
}

constexpr std::array<int, 11> kEventNumberGoal = {1, 2, 3, 5, 7, 9, 12, 15, 20, 30, 50};
constexpr std::array<int, 7> kStayAliveGoal = {50, 100, 150, 200, 300, 500, 700};  // = EXP_GOAL
constexpr std::array<int, 5> kItemNumGoal = {1, 2, 3, 4, 5};

// nmmo's constraint lists (nmmo/task/constraint.py), in their order.
constexpr std::array<Skill, 8> kSkills = {Skill::kMelee,   Skill::kMage,      Skill::kRange,
                                          Skill::kFishing, Skill::kHerbalism, Skill::kProspecting,
                                          Skill::kAlchemy, Skill::kCarving};
constexpr std::array<Skill, 3> kCombatStyles = {Skill::kMelee, Skill::kMage, Skill::kRange};
constexpr std::array<ItemType, 3> kArmour = {ItemType::kHat, ItemType::kTop, ItemType::kBottom};
constexpr std::array<ItemType, 3> kWeapons = {ItemType::kSpear, ItemType::kBow, ItemType::kWand};
constexpr std::array<ItemType, 5> kTools = {ItemType::kAxe, ItemType::kGloves, ItemType::kRod,
                                            ItemType::kPickaxe, ItemType::kChisel};
constexpr std::array<ItemType, 3> kAmmunition = {ItemType::kRunes, ItemType::kArrow,
                                                 ItemType::kWhetstone};
constexpr std::array<ItemType, 2> kConsumables = {ItemType::kPotion, ItemType::kRation};

template <size_t... N>
std::vector<ItemType> concat(const std::array<ItemType, N>&... lists) {
  std::vector<ItemType> out;
  (out.insert(out.end(), lists.begin(), lists.end()), ...);
  return out;
}

ItemType tool_for_skill(Skill s) {
  switch (s) {
    case Skill::kMelee:
      return ItemType::kSpear;
    case Skill::kRange:
      return ItemType::kBow;
    case Skill::kMage:
      return ItemType::kWand;
    case Skill::kFishing:
      return ItemType::kRod;
    case Skill::kHerbalism:
      return ItemType::kGloves;
    case Skill::kCarving:
      return ItemType::kAxe;
    case Skill::kProspecting:
      return ItemType::kPickaxe;
    case Skill::kAlchemy:
      return ItemType::kChisel;
  }
  return ItemType::kNone;
}

double item_level_weight(int level) { return level < 4 ? 4 - level : 1; }

// The item/level/quantity families with the baseline's heuristic prune.
void add_item_family(std::vector<TaskSpec>& out, PredicateId id,
                     const std::vector<ItemType>& items) {
  for (ItemType item : items) {
    for (int level = 2; level <= 9; ++level) {
      for (int quantity : kItemNumGoal) {
        if (level + quantity <= 6 || quantity == 1) {
          out.push_back(spec(id, {.level = level, .item = item, .quantity = quantity},
                             item_level_weight(level)));
        }
      }
    }
  }
}

TaskSpec tagged(TaskSpec s) {
  s.tags = {"eval", std::string(eval_category_name(eval_category(s)))};
  return s;
}

}  // namespace

std::vector<TaskSpec> baseline_curriculum() {
  std::vector<TaskSpec> c;
  for (EventCode e : {EventCode::kEatFood, EventCode::kDrinkWater}) {
    for (int n = 1; n <= 9; ++n) c.push_back(count_event(e, n, 100));
  }
  for (EventCode e : {EventCode::kScoreHit, EventCode::kPlayerKill, EventCode::kHarvestItem,
                      EventCode::kEquipItem, EventCode::kConsumeItem, EventCode::kLevelUp,
                      EventCode::kEarnGold, EventCode::kListItem, EventCode::kBuyItem}) {
    for (int n : kEventNumberGoal) c.push_back(count_event(e, n, 20));
  }
  for (EventCode e : {EventCode::kGiveItem, EventCode::kDestroyItem, EventCode::kGiveGold}) {
    for (int n = 1; n <= 9; ++n) c.push_back(count_event(e, n));
  }
  for (Material m : {Material::kWater, Material::kFoilage, Material::kOre, Material::kTree,
                     Material::kCrystal, Material::kHerb, Material::kFish}) {
    c.push_back(spec(P::kCanSeeTile, {.tile_type = m}, 10));
  }
  for (Skill skill : kSkills) {
    for (int level = 3; level <= 9; ++level) {
      c.push_back(spec(P::kAttainSkill, {.skill = skill, .level = level, .num_agent = 1},
                       level < 6 ? 10 * (6 - level) : 5));
    }
    for (int exp : kStayAliveGoal) {
      TaskSpec s;
      s.name = str_cat("PracticeSkillWithTool_(skill:", kSkillNames[static_cast<int>(skill)],
                       "_exp:", exp, ")");
      s.predicate = PredicateExpr::combine(
          PredicateOp::kAdd,
          {PredicateExpr::combine(
               PredicateOp::kMul,
               {PredicateExpr::value(0.3),
                PredicateExpr::leaf(P::kEquipItem,
                                    {.level = 1, .num_agent = 1, .item = tool_for_skill(skill)})}),
           PredicateExpr::combine(
               PredicateOp::kMul,
               {PredicateExpr::value(0.7),
                PredicateExpr::leaf(P::kGainExperience,
                                    {.skill = skill, .num_agent = 1, .experience = exp})})});
      s.sampling_weight = 50;
      c.push_back(std::move(s));
    }
  }
  for (int t : kStayAliveGoal) c.push_back(spec(P::kTickGE, {.num_tick = t}));
  c.push_back(spec(P::kOccupyTile, {.row = 80, .col = 80}));
  for (const char* rel : {"left_team_leader", "right_team_leader"}) {
    c.push_back(spec(P::kCanSeeAgent, {.target_relation = rel}));
  }
  for (const char* rel : {"left_team", "right_team"}) {
    c.push_back(spec(P::kCanSeeGroup, {.target_relation = rel}));
  }
  for (Skill style : kCombatStyles) {
    for (int n : kEventNumberGoal) c.push_back(spec(P::kScoreHit, {.skill = style, .n = n}, 5));
  }
  for (auto [id, weight] : {std::pair{P::kHoardGold, 10.0}, std::pair{P::kEarnGold, 10.0},
                            std::pair{P::kSpendGold, 5.0}, std::pair{P::kMakeProfit, 3.0}}) {
    for (int amount : kEventNumberGoal) c.push_back(spec(id, {.amount = amount}, weight));
  }
  for (int space : {2, 4, 8}) {
    for (int t : kStayAliveGoal) {
      TaskSpec s;
      s.name = str_cat("PracticeInventoryManagement_(space:", space, "_num_tick:", t, ")");
      s.predicate = PredicateExpr::combine(
          PredicateOp::kMul, {PredicateExpr::leaf(P::kInventorySpaceGE, {.space = space}),
                              PredicateExpr::leaf(P::kTickGE, {.num_tick = t})});
      c.push_back(std::move(s));
    }
  }
  const std::vector<ItemType> all_items =
      concat(kArmour, kWeapons, kTools, kAmmunition, kConsumables);
  add_item_family(c, P::kOwnItem, all_items);
  for (ItemType item : concat(kArmour, kWeapons, kTools, kAmmunition)) {
    for (int level = 2; level <= 9; ++level) {
      c.push_back(spec(P::kEquipItem, {.level = level, .num_agent = 1, .item = item},
                       item_level_weight(level)));
    }
  }
  add_item_family(c, P::kConsumeItem, concat(kConsumables));
  add_item_family(c, P::kHarvestItem, concat(kWeapons, kAmmunition, kConsumables));
  add_item_family(c, P::kListItem, all_items);
  add_item_family(c, P::kBuyItem, all_items);
  return c;
}

std::string_view eval_category_name(EvalCategory c) {
  constexpr std::array<std::string_view, kNumEvalCategories> names = {
      "survival", "combat", "exploration", "skill", "item", "market"};
  return names[static_cast<size_t>(c)];
}

EvalCategory eval_category(const TaskSpec& s) {
  const PredicateExpr& e = s.predicate;
  SG_CHECK(e.op == PredicateOp::kLeaf, "nmmo eval_category: '", spec_name(s),
           "' is a combinator, not an evaluation task");
  switch (e.id) {
    case P::kTickGE:
      return EvalCategory::kSurvival;
    case P::kDefeatEntity:
      return EvalCategory::kCombat;
    case P::kOccupyTile:
      return EvalCategory::kExploration;
    case P::kAttainSkill:
      return EvalCategory::kSkill;
    case P::kHarvestItem:
    case P::kConsumeItem:
    case P::kEquipItem:
    case P::kFullyArmed:
      return EvalCategory::kItem;
    case P::kEarnGold:
    case P::kHoardGold:
    case P::kMakeProfit:
      return EvalCategory::kMarket;
    case P::kCountEvent:
      switch (e.args.event) {
        case EventCode::kPlayerKill:
          return EvalCategory::kCombat;
        case EventCode::kGoFarthest:
          return EvalCategory::kExploration;
        case EventCode::kEarnGold:
        case EventCode::kBuyItem:
          return EvalCategory::kMarket;
        default:
          break;
      }
      break;
    default:
      break;
  }
  fail("nmmo eval_category: '", spec_name(s), "' is in none of the six categories");
}

std::vector<TaskSpec> eval_tasks() {
  constexpr int kEventGoal = 20, kGoldGoal = 100;
  constexpr std::array<int, 2> kLevels = {1, 3};
  std::vector<TaskSpec> c;
  c.push_back(spec(P::kTickGE, {.num_tick = 1024}));
  c.push_back(count_event(EventCode::kPlayerKill, kEventGoal));
  for (int level : kLevels) {
    c.push_back(
        spec(P::kDefeatEntity, {.level = level, .num_agent = kEventGoal, .agent_type_npc = true}));
  }
  c.push_back(count_event(EventCode::kGoFarthest, 64));
  c.push_back(spec(P::kOccupyTile, {.row = 80, .col = 80}));
  // Skill.COMBAT_SKILL + Skill.HARVEST_SKILL of nmmo 2.0's skill module.
  for (Skill s : {Skill::kMelee, Skill::kRange, Skill::kMage, Skill::kFishing, Skill::kHerbalism,
                  Skill::kProspecting, Skill::kCarving, Skill::kAlchemy}) {
    c.push_back(spec(P::kAttainSkill, {.skill = s, .level = 10, .num_agent = 1}));
  }
  // Item.AMMUNITION, Item.CONSUMABLE, Item.ARMOR + WEAPON + TOOL + AMMUNITION of nmmo 2.0.
  const std::array<ItemType, 3> ammo = {ItemType::kWhetstone, ItemType::kArrow, ItemType::kRunes};
  for (ItemType item : ammo) {
    for (int level : kLevels) {
      c.push_back(spec(P::kHarvestItem, {.level = level, .item = item, .quantity = kEventGoal}));
    }
  }
  for (ItemType item : {ItemType::kRation, ItemType::kPotion}) {
    for (int level : kLevels) {
      c.push_back(spec(P::kConsumeItem, {.level = level, .item = item, .quantity = kEventGoal}));
    }
  }
  for (int t = static_cast<int>(ItemType::kHat); t <= static_cast<int>(ItemType::kRunes); ++t) {
    for (int level : kLevels) {
      c.push_back(
          spec(P::kEquipItem, {.level = level, .num_agent = 1, .item = static_cast<ItemType>(t)}));
    }
  }
  for (Skill s : {Skill::kMelee, Skill::kRange, Skill::kMage}) {
    for (int level : kLevels) {
      c.push_back(spec(P::kFullyArmed, {.skill = s, .level = level, .num_agent = 1}));
    }
  }
  c.push_back(count_event(EventCode::kEarnGold, kEventGoal));
  c.push_back(count_event(EventCode::kBuyItem, kEventGoal));
  c.push_back(spec(P::kEarnGold, {.amount = kGoldGoal}));
  c.push_back(spec(P::kHoardGold, {.amount = kGoldGoal}));
  c.push_back(spec(P::kMakeProfit, {.amount = kGoldGoal}));
  for (TaskSpec& s : c) s = tagged(std::move(s));
  return c;
}

double eval_weighted_score(std::span<const TaskSpec> specs,
                           std::span<const std::vector<double>> max_progress) {
  SG_CHECK(specs.size() == max_progress.size(), "nmmo eval_weighted_score: ", specs.size(),
           " tasks but ", max_progress.size(), " progress lists");
  std::array<int, kNumEvalCategories> per_category{};
  std::vector<EvalCategory> category(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    category[i] = eval_category(specs[i]);
    ++per_category[static_cast<size_t>(category[i])];
  }
  double score = 0.0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const std::vector<double>& p = max_progress[i];
    if (p.empty()) continue;
    double mean = 0.0;
    for (double v : p) {
      SG_CHECK(v >= 0.0 && v <= 1.0, "nmmo eval_weighted_score: task ", i, " (",
               spec_name(specs[i]), ") has progress ", v, " outside [0, 1]");
      mean += v;
    }
    mean /= static_cast<double>(p.size());
    score += 100.0 / kNumEvalCategories / per_category[static_cast<size_t>(category[i])] * mean;
  }
  return score;
}

double eval_weighted_score(std::span<const std::vector<double>> max_progress) {
  static const std::vector<TaskSpec> specs = eval_tasks();
  return eval_weighted_score(specs, max_progress);
}

}  // namespace stackgrad::nmmo
