#include "task_encoding.h"

#include <algorithm>
#include <cmath>

namespace stackgrad::nmmo {

namespace {

static_assert(kTaskEncodingLeafOffset + kTaskEncodingLeaves * kTaskEncodingLeafDim ==
              kTaskEncodingItemOffset);
static_assert(kTaskEncodingTileOffset + 8 == kTaskEncodingDim);

float log_scaled(double x) {
  return static_cast<float>(
      std::clamp(std::log2(1.0 + std::max(x, 0.0)) / std::log2(1025.0), 0.0, 1.0));
}

double goal_of(PredicateId id, const PredicateArgs& a) {
  switch (id) {
    case PredicateId::kTickGE:
      return a.num_tick;
    case PredicateId::kAllMembersWithinRange:
    case PredicateId::kDistanceTraveled:
      return a.dist;
    case PredicateId::kGainExperience:
      return a.experience;
    case PredicateId::kCountEvent:
    case PredicateId::kScoreHit:
      return a.n;
    case PredicateId::kHoardGold:
    case PredicateId::kEarnGold:
    case PredicateId::kSpendGold:
    case PredicateId::kMakeProfit:
      return a.amount;
    case PredicateId::kInventorySpaceGE:
      return a.space;
    case PredicateId::kOwnItem:
    case PredicateId::kConsumeItem:
    case PredicateId::kHarvestItem:
    case PredicateId::kListItem:
    case PredicateId::kBuyItem:
      return a.quantity;
    default:
      return 0;
  }
}

bool uses(PredicateId id, std::string_view kwarg) {
  for (std::string_view k : predicate_kwargs(id)) {
    if (k == kwarg) return true;
  }
  return false;
}

struct Encoder {
  TaskEncoding out{};
  int leaves = 0;

  void leaf(const PredicateExpr& e, double weight) {
    const PredicateArgs& a = e.args;
    if (leaves < kTaskEncodingLeaves) {
      float* b = out.data() + kTaskEncodingLeafOffset + leaves * kTaskEncodingLeafDim;
      b[static_cast<int>(e.id)] = 1.0f;
      b[27] = static_cast<float>(weight);
      if (uses(e.id, "level")) b[28] = static_cast<float>(std::clamp(a.level / 10.0, 0.0, 1.0));
      b[29] = log_scaled(goal_of(e.id, a));
      if (uses(e.id, "num_agent"))
        b[30] = static_cast<float>(std::clamp(a.num_agent / 8.0, 0.0, 1.0));
      if (e.id == PredicateId::kOccupyTile) {
        b[31] = static_cast<float>(std::clamp(a.row / 160.0, 0.0, 1.0));
        b[32] = static_cast<float>(std::clamp(a.col / 160.0, 0.0, 1.0));
      }
      if (e.id == PredicateId::kDefeatEntity) {
        b[33] = a.agent_type_npc ? 1.0f : 0.0f;
      } else if (!a.target_relation.empty() || !a.target.empty()) {
        const bool team = a.target_relation == "left_team" || a.target_relation == "right_team" ||
                          a.target_relation == "all_foes" || a.target.size() > 1;
        b[33] = team ? 1.0f : 0.5f;
      }
    }
    ++leaves;
    if (uses(e.id, "item"))
      out[kTaskEncodingItemOffset + static_cast<int>(a.item) - kFirstItemType] = 1;
    if (uses(e.id, "skill") || uses(e.id, "combat_style")) {
      out[kTaskEncodingSkillOffset + static_cast<int>(a.skill)] = 1;
    }
    if (uses(e.id, "event")) out[kTaskEncodingEventOffset + event_slot(a.event)] = 1;
    if (e.id == PredicateId::kCanSeeTile) {
      constexpr std::array<Material, 7> harvestable = {
          Material::kWater,   Material::kFoilage, Material::kOre, Material::kTree,
          Material::kCrystal, Material::kHerb,    Material::kFish};
      const auto it = std::find(harvestable.begin(), harvestable.end(), a.tile_type);
      out[kTaskEncodingTileOffset + (it - harvestable.begin())] = 1;
    }
  }

  // Depth-first; `weight` carries constant factors and signs down to the leaves.
  void walk(const PredicateExpr& e, double weight) {
    switch (e.op) {
      case PredicateOp::kLeaf:
        leaf(e, weight);
        return;
      case PredicateOp::kConstant:
        return;
      case PredicateOp::kMul: {
        double factor = 1.0;
        for (const PredicateExpr& c : e.children) {
          if (c.op == PredicateOp::kConstant) factor *= c.constant;
        }
        for (const PredicateExpr& c : e.children) walk(c, weight * factor);
        return;
      }
      case PredicateOp::kNot:
        walk(e.children[0], -weight);
        return;
      case PredicateOp::kSub:
        walk(e.children[0], weight);
        walk(e.children[1], -weight);
        return;
      default:
        for (const PredicateExpr& c : e.children) walk(c, weight);
    }
  }
};

}  // namespace

TaskEncoding encode_task(const TaskSpec& spec) {
  Encoder enc;
  const PredicateOp root =
      spec.predicate.op == PredicateOp::kConstant ? PredicateOp::kLeaf : spec.predicate.op;
  enc.out[root == PredicateOp::kLeaf ? 0 : static_cast<int>(root) - 1] = 1;
  enc.out[7 + static_cast<int>(spec.task_cls)] = 1;
  if (spec.task_cls == TaskKind::kHoldDuration) enc.out[10] = log_scaled(spec.hold_duration);
  enc.out[11] = spec.reward_to_team ? 1.0f : 0.0f;
  enc.walk(spec.predicate, 1.0);
  return enc.out;
}

}  // namespace stackgrad::nmmo
