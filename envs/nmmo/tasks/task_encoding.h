// A fixed-length description of a task for the policy's task input, replacing the baseline's
// 4096-dim LLM embedding of the task's source code (spec A13.5). Structured, so that two specs
// differing in one argument differ in one known slot.
//
// Layout of the kTaskEncodingDim = 128 floats (all in [0, 1] except the leaf weights):
//   [0, 7)     root: one-hot of leaf, AND, OR, NOT, ADD, SUB, MUL
//   [7, 10)    task class one-hot: Task, OngoingTask, HoldDurationTask
//   [10]       hold_duration, log-scaled: log2(1 + h) / log2(1 + 1024)
//   [11]       reward_to team
//   [12, 46)   leaf 0, then [46, 80) leaf 1: the first two predicates in depth-first order
//              (every curriculum and evaluation spec has at most two), each kLeafDim = 34:
//       +0..26  predicate one-hot (PredicateId order)
//       +27     weight: the product of the constants multiplied into the leaf, negated
//               under NOT or as SUB's second operand (0.3 for PracticeSkillWithTool's EquipItem)
//       +28     level / 10
//       +29     goal, log-scaled like hold_duration: whichever of num_tick, N, quantity, amount,
//               experience, dist, space the predicate has
//       +30     num_agent / 8 (clipped)
//       +31,32  row / 160, col / 160 (OccupyTile)
//       +33     selector: DefeatEntity 1 = npc, 0 = player; a target 1 = a team (left_team,
//               right_team, all_foes, several ids), 0.5 = one agent
//   [80, 96)   item types 2..17, multi-hot over the leaves
//   [96, 104)  skills Melee..Alchemy (skill or combat_style), multi-hot
//   [104, 120) event codes (event_slot order), multi-hot
//   [120, 128) CanSeeTile material: Water, Foilage, Ore, Tree, Crystal, Herb, Fish, other
// Leaves after the second are left out.
#pragma once

#include <array>

#include "envs/nmmo/tasks/task_spec.h"

namespace stackgrad::nmmo {

inline constexpr int kTaskEncodingDim = 128;
inline constexpr int kTaskEncodingLeafDim = 34;
inline constexpr int kTaskEncodingLeaves = 2;
inline constexpr int kTaskEncodingLeafOffset = 12;
inline constexpr int kTaskEncodingItemOffset = 80;
inline constexpr int kTaskEncodingSkillOffset = 96;
inline constexpr int kTaskEncodingEventOffset = 104;
inline constexpr int kTaskEncodingTileOffset = 120;

using TaskEncoding = std::array<float, kTaskEncodingDim>;

TaskEncoding encode_task(const TaskSpec& spec);

}  // namespace stackgrad::nmmo
