// The task sets of the 2023 competition: the baseline's training curriculum (spec A13.6) and
// the 63 evaluation tasks with Meta MMO's weighted score (A13.7).
//
//   std::vector<TaskSpec> train = baseline_curriculum();   // 1297 specs
//   std::vector<TaskSpec> eval = eval_tasks();             // 63 specs, tagged by category
//   double score = eval_weighted_score(eval, max_progress); // 0..100
//
// The curriculum follows the baseline's manual_curriculum.py (NeuralMMO/baselines, branch 2.0)
// spec by spec and in its order. It has 1297 specs; its own comment says 1609, which is the
// count with LEVEL_GOAL = 1..9 (an earlier version): level 1 adds 5 quantities to each of the
// 58 item/level/quantity families (290), 14 EquipItem specs and one AttainSkill level for each
// of the 8 skills (8): 1297 + 290 + 14 + 8 = 1609. Its two Python helpers are combinators here:
// PracticeSkillWithTool = ADD(MUL(0.3, EquipItem(tool, 1, 1)), MUL(0.7, GainExperience(skill,
// exp, 1))) and PracticeInventoryManagement = MUL(InventorySpaceGE(space), TickGE(num_tick)).
// CanSeeTile iterates nmmo's Harvestable set, a Python set without a defined order; here it is
// the material order (Water, Foilage, Ore, Tree, Crystal, Herb, Fish).
#pragma once

#include <array>
#include <span>
#include <string_view>
#include <vector>

#include "envs/nmmo/tasks/task_spec.h"

namespace stackgrad::nmmo {

std::vector<TaskSpec> baseline_curriculum();

// The six categories of the weighted score, each worth 100/6 split evenly among its tasks.
enum class EvalCategory : uint8_t { kSurvival, kCombat, kExploration, kSkill, kItem, kMarket };
inline constexpr int kNumEvalCategories = 6;
std::string_view eval_category_name(EvalCategory c);  // "survival", "combat", ...
// The category of a spec, matched on its predicate as Meta MMO matches task names (TickGE is
// survival; CountEvent PLAYER_KILL and DefeatEntity combat; CountEvent GO_FARTHEST and
// OccupyTile exploration; AttainSkill skill; HarvestItem, ConsumeItem, EquipItem, FullyArmed
// item; CountEvent EARN_GOLD / BUY_ITEM, EarnGold, HoardGold, MakeProfit market). Throws for
// a spec outside these.
EvalCategory eval_category(const TaskSpec& spec);

// The 63 evaluation tasks in the order of Meta MMO's neurips_curriculum.py; each tagged
// {"eval", <category>}. Per category: survival 1, combat 3, exploration 2, skill 8, item 44,
// market 5.
std::vector<TaskSpec> eval_tasks();

// score = sum over tasks of weight(task) * mean over agents of max progress, weight = 100/6
// divided by the number of tasks of the task's category in `specs`. max_progress[i] lists the
// max progress of every agent that had specs[i] (an empty list counts as 0).
double eval_weighted_score(std::span<const TaskSpec> specs,
                           std::span<const std::vector<double>> max_progress);
// The same for eval_tasks(), max_progress indexed like it.
double eval_weighted_score(std::span<const std::vector<double>> max_progress);

}  // namespace stackgrad::nmmo
