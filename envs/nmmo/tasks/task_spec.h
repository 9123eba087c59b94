// Task specifications (spec A13.4): what a curriculum is made of, a JSON file format for them,
// per-agent sampling and turning specs into Tasks.
//
// JSON format (a file is {"task_specs": [spec, ...]}):
//   {"name": "...",                                   optional; generated from the rest if absent
//    "predicate": EXPR,
//    "task_cls": "Task" | "OngoingTask" | "HoldDurationTask",        default "Task"
//    "task_kwargs": {"hold_duration": 10, "reward_multiplier": 1.0},  default {}
//    "reward_to": "agent" | "team",                                   default "agent"
//    "sampling_weight": 1.0,                                          default 1
//    "tags": ["eval", "skill"]}                                       default []
//   EXPR = {"fn": "AttainSkill", "kwargs": {"skill": "Melee", "level": 3, "num_agent": 1}}
//        | {"op": "AND" | "OR" | "NOT" | "ADD" | "SUB" | "MUL", "args": [EXPR, ...]}
//        | a number (a constant operand, e.g. the 0.3 of 0.3 * EquipItem)
// kwargs use nmmo's names (predicate_kwargs); tile_type, skill, combat_style, item and event
// take nmmo's names ("Foilage", "Melee", "Spear", "EAT_FOOD"), agent_type "player" | "npc",
// target a relation ("left_team", ...) or player ids. Errors name the spec index and the field:
//   "nmmo task spec: task_specs[3].predicate.kwargs.level: expected an integer, got ..."
//
//   std::vector<TaskSpec> specs = read_task_specs(text, "curriculum.json");
//   std::vector<int> pick = sample_specs(specs, 128, rng);   // with replacement, by weight
//   std::vector<Task> tasks = make_agent_tasks(specs, pick, agents);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "envs/common/json.h"
#include "envs/nmmo/tasks/predicates.h"
#include "envs/nmmo/tasks/task.h"

namespace stackgrad::nmmo {

struct TaskSpec {
  std::string name;  // empty: spec_name() generates nmmo's style of name
  PredicateExpr predicate;
  TaskKind task_cls = TaskKind::kTask;
  int hold_duration = 0;  // HoldDurationTask
  double reward_multiplier = 1.0;
  bool reward_to_team = false;
  double sampling_weight = 1.0;
  std::vector<std::string> tags;

  bool operator==(const TaskSpec&) const = default;
};

// nmmo-style name, e.g. "Task_AttainSkill_(skill:Melee_level:3_num_agent:1)_reward_to:agent";
// the given name replaces the predicate part when set.
std::string spec_name(const TaskSpec& spec);

// JSON reading and writing. read_task_specs accepts {"task_specs": [...]} or a bare array.
TaskSpec parse_task_spec(const envs::JsonValue& v, const std::string& where);
std::vector<TaskSpec> read_task_specs(std::string_view text, const std::string& what);
std::vector<TaskSpec> read_task_specs_file(const std::string& path);
std::string task_spec_to_json(const TaskSpec& spec);
std::string write_task_specs(std::span<const TaskSpec> specs);  // one spec per line
void write_task_specs_file(const std::string& path, std::span<const TaskSpec> specs);

// Indices of `count` specs drawn independently with probability proportional to
// sampling_weight (nmmo's _sample_training_tasks). Throws if no weight is positive.
std::vector<int> sample_specs(std::span<const TaskSpec> specs, int count, envs::Rng& rng);

// Tasks for teams: spec picks[i] goes to teams[i] (nmmo's make_task_from_spec); reward_to agent
// makes one task per member (subject = that member), team one task for the team. Target
// relations are resolved against the team list (left_team = the next team, right_team = the
// previous one, as nmmo's TeamHelper).
std::vector<Task> make_tasks(std::span<const TaskSpec> specs, std::span<const int> picks,
                             std::span<const std::vector<int32_t>> teams);
// The training setup of A13.4: every agent is its own team and gets spec picks[i].
std::vector<Task> make_agent_tasks(std::span<const TaskSpec> specs, std::span<const int> picks,
                                   std::span<const int32_t> agents);

}  // namespace stackgrad::nmmo
