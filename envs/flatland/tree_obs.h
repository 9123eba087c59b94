// The observation of the Tree-LSTM solution to Flatland 3 ("Multi-Agent Path Finding via Tree
// LSTM", Jiang et al. 2022): for every train a 31-node ternary tree of the rail ahead, explored
// breadth first, plus the 83 per-train attributes (agent_attr.h) and the valid-action mask.
// Re-written from the description of the solution's C++ `TreeObsForRailEnv` (flatland_cutils).
//
//   TreeObsBuilder obs(env);                 // buffers for all trains, sized once
//   env.reset(seed);  obs.reset(env);        // history and deadlock flags back to zero
//   obs.build(env);                          // after reset and after every step
//   std::span<const float> forest = obs.forest();   // [N, 31, 12]
//
// Outputs, row-major, for ALL trains (N = env.num_agents(), M = max_nodes = 31):
//   agent_attr [N, 83] float       see agent_attr.h
//   forest     [N, M, 12] float    node features, normalised (below)
//   adjacency  [N, M-1, 3] int32   (parent, child, turn -1/0/+1); (-2, -2, -2) for padding
//   node_order [N, M] int32        height of each node (leaves 0); -2 for padding nodes
//   edge_order [N, M-1] int32      node_order of the row's parent; -2 for padding rows
//   valid_actions [N, 5] uint8
// build() allocates nothing: the other trains' shortest-path predictions are computed once per
// call for all trains, occupancy is kept in grid-sized arrays.
//
// The tree. The root is where the train is (start cell when off the map, target when DONE),
// facing its direction, or its only exit when the cell has one. The root's three children are
// the cells beyond its exits turned left, straight, right (relative turns -1, 0, +1); a missing
// exit gives a null child. Nodes are taken from a FIFO queue and numbered in that order, so
// sibling triples are nodes 1-3, 4-6, ... A non-null node walks along the rail from its cell,
// one cell per step (tot_dist = cells from the root), until it meets: its own (cell, direction)
// again in this walk -> terminal; the train's target -> target node; a cell with >= 2 exits for
// its direction -> switch node; a dead end -> dead-end node. It then queues 3 children: after a
// switch the cells beyond each existing exit (left, straight, right); after a dead end the
// reversed exits (the way back appears as the "straight" child); otherwise null children.
// Null nodes queue nothing. When the queue runs dry the remaining slots are padding.
//
// Node features, raw (distances count cells from the root; inf when not met):
//   0 own target met at           6 distance map at the node's end (0 at the own target)
//   1 other train's target met at (always inf with reference quirks)
//   2 other train met at          7 trains met going the same direction
//   3 potential conflict at       8 trains met going another direction
//   4 unusable switch at          9 largest malfunction counter of those trains
//   5 tot_dist at the node's end  10 lowest speed of same-direction trains (1 if none)
//      (inf for a terminal node) 11 trains waiting off the map at the cells of met trains
// A potential conflict: at a cell reached at tot_dist, time t = int(tot_dist * steps per cell);
// among the other trains' 500-step shortest-path predictions at time t (else t-1, else t+1),
// one standing on this cell whose predicted direction differs and whose reverse is an exit
// here, or one that is DONE (predictions of arrived trains stay on their target). Unusable
// switch: a cell with > 2 transition bits (crossings count 2) but < 2 exits this way.
// The root: [0, 0, 0, 0, 0, 0, dist_target, 0, 0, num_malfunctions, speed, 0].
// Null nodes: [inf x 7, -1 x 5]. Padding nodes: the same.
// Normalised (the forest output): 0..6 divided by max_episode_steps, inf -> -1; 7, 8, 9, 11
// divided by N, -1 stays; 10 as is. So distances lie in [0, ~1] or -1 (a walk longer than the
// episode is possible in principle), counts in [0, 1] or -1, speed in (0, 1] or -1; without the
// reference quirks feature 9 is a real counter / N and may exceed 1.
//
// Reference quirks (TreeObsConfig::reference_quirks, default true, matching the released
// solution so that its trained weights see what they were trained on):
// * feature 1 is never filled (the reference's target map stays empty): always -1;
// * malfunction counters and numbers of malfunctions are read as 0/1 (feature 9, the root's
//   feature 9, and agent_attr.h);
// * feature 11 counts a cell's waiting trains from 0 (the first one adds nothing);
// * conflict checks at t-1 and t+1 read the other train's direction at time t;
// * the conflict loop also looks at the train's own prediction once another train is there;
// * cells are keyed col * W + row, which confuses distinct cells when H > W;
// * the cycle check of a walk only sees that walk's cells.
// With reference_quirks = false: targets of other trains fill feature 1, counters are real,
// waiting trains all count, directions are read at the matching time, the own train is skipped,
// cells are keyed row * W + col. (The per-walk cycle check is kept: it is part of the design.)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "agent_attr.h"
#include "deadlock.h"
#include "rail_env.h"

namespace stackgrad::flatland {

inline constexpr int kNodeFeatures = 12;

struct TreeObsConfig {
  int max_nodes = 31;        // 1 + 3k
  int max_pred_depth = 500;  // steps of shortest-path prediction for the conflict feature
  bool reference_quirks = true;
};

// Caller-provided output buffers (sizes as in the header comment).
struct ObsBuffers {
  std::span<float> agent_attr;
  std::span<float> forest;
  std::span<int32_t> adjacency;
  std::span<int32_t> node_order;
  std::span<int32_t> edge_order;
  std::span<uint8_t> valid_actions;
};

class TreeObsBuilder {
 public:
  explicit TreeObsBuilder(const RailEnv& env, TreeObsConfig config = {});

  // Forgets the history (old directions, malfunction signals) and the deadlock flags.
  void reset(const RailEnv& env);
  // Observation of the env's current state, into the internal buffers or into `out`.
  // Call it after every step: old_direction and in_malfunction come from the previous call
  // (when a step was skipped they fall back to the current direction and counter > 0).
  void build(const RailEnv& env);
  void build(const RailEnv& env, const ObsBuffers& out);

  const TreeObsConfig& config() const { return config_; }
  int num_agents() const { return n_; }
  std::span<const float> agent_attr() const { return attr_; }
  std::span<const float> forest() const { return forest_; }
  std::span<const int32_t> adjacency() const { return adjacency_; }
  std::span<const int32_t> node_order() const { return node_order_; }
  std::span<const int32_t> edge_order() const { return edge_order_; }
  std::span<const uint8_t> valid_actions() const { return valid_; }
  const DeadlockDetector& deadlocks() const { return deadlock_; }

 private:
  struct QueueItem {
    GridPos pos;
    int direction = 0;
    int turn = 0;
    int parent = -2;
    float tot_dist = 0;
    bool is_null = true;
  };
  struct Branch {  // the end of a walk
    GridPos pos;
    int direction = 0;
    float tot_dist = 0;
    bool dead_end = false, is_switch = false;
  };

  void predict_all(const RailEnv& env);
  void build_tree(const RailEnv& env, int agent, float* nodes, int32_t* adjacency,
                  int32_t* node_order, int32_t* edge_order);
  Branch explore(const RailEnv& env, int agent, const QueueItem& start, float* raw);
  float conflict_at(const RailEnv& env, int agent, int code, int direction, int exits,
                    float tot_dist) const;
  int cell_code(GridPos p) const;

  TreeObsConfig config_;
  int n_ = 0, height_ = 0, width_ = 0, depth_ = 0;  // depth_ = max_pred_depth + 1 time slices

  // Outputs.
  std::vector<float> attr_, forest_;
  std::vector<int32_t> adjacency_, node_order_, edge_order_;
  std::vector<uint8_t> valid_;

  // Predictions: every train's direction per time slice, and its visits (a stay on one cell
  // during times t0..t1) grouped by cell code (CSR: visits of code c at
  // cell_start_[c] .. cell_start_[c + 1]) for lookups.
  struct Visit {
    int32_t agent, t0, t1, direction;
  };
  std::vector<int32_t> pred_dir_;
  std::vector<Waypoint> path_;
  std::vector<Visit> visits_, cell_visits_;
  std::vector<int32_t> visit_code_, cell_start_;

  // Occupancy of the current state, per cell.
  std::vector<int32_t> occupant_, ready_count_;
  std::vector<int> touched_;
  std::vector<uint8_t> other_target_;  // per cell: number of trains whose target it is
  std::vector<uint32_t> visited_;      // per (cell, direction): walk stamp
  uint32_t stamp_ = 0;
  std::vector<QueueItem> queue_;

  // History for old_direction and in_malfunction.
  int last_step_ = -1;
  std::vector<int> last_direction_, last_counter_, last_num_malfunctions_, old_direction_;
  std::vector<uint8_t> in_malfunction_;
  DeadlockDetector deadlock_;
};

}  // namespace stackgrad::flatland
