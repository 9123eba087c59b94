#include "tree_obs.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/error.h"

namespace stackgrad::flatland {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kInvalid = -2;

int reverse(int direction) { return (direction + 2) % 4; }
bool has_exit(int exits, int direction) { return (exits >> (3 - direction)) & 1; }

// Where the tree and the prediction start: start cell before departure, target after arrival.
Waypoint virtual_position(const Agent& a, const AgentSpec& s) {
  if (is_off_map(a.state)) return {s.initial_position, a.direction};
  if (a.state == TrainState::kDone) return {s.target, a.direction};
  return {a.position, a.direction};
}

// Time per cell as the reference computes it: 1.0 / float(speed) in double, stored in float.
float time_per_cell(double speed) {
  return static_cast<float>(1.0 / static_cast<double>(static_cast<float>(speed)));
}

}  // namespace

TreeObsBuilder::TreeObsBuilder(const RailEnv& env, TreeObsConfig config) : config_(config) {
  SG_CHECK(config_.max_nodes >= 4 && (config_.max_nodes - 1) % 3 == 0,
           "TreeObsBuilder: max_nodes must be 1 + 3k (k >= 1), got ", config_.max_nodes);
  SG_CHECK(config_.max_pred_depth >= 1, "TreeObsBuilder: max_pred_depth must be >= 1, got ",
           config_.max_pred_depth);
  n_ = env.num_agents();
  height_ = env.grid().height();
  width_ = env.grid().width();
  depth_ = config_.max_pred_depth + 1;
  const int m = config_.max_nodes;
  attr_.resize(static_cast<size_t>(n_) * kAgentAttrSize);
  forest_.resize(static_cast<size_t>(n_) * m * kNodeFeatures);
  adjacency_.resize(static_cast<size_t>(n_) * (m - 1) * 3);
  node_order_.resize(static_cast<size_t>(n_) * m);
  edge_order_.resize(static_cast<size_t>(n_) * (m - 1));
  valid_.resize(static_cast<size_t>(n_) * kNumActions);

  const size_t slices = static_cast<size_t>(depth_) * n_;
  pred_dir_.resize(slices);
  visits_.resize(slices);
  cell_visits_.resize(slices);
  visit_code_.resize(slices);
  // Codes col * W + row (quirk) reach (W - 1) * W + H - 1, which exceeds H * W when W > H.
  cell_start_.resize(std::max(height_ * width_, (width_ - 1) * width_ + height_) + 1);
  path_.resize(depth_);

  const int cells = env.grid().size();
  occupant_.assign(cells, -1);
  ready_count_.assign(cells, -1);
  touched_.reserve(2 * n_);
  other_target_.assign(cells, 0);
  for (int i = 0; i < n_; ++i) ++other_target_[env.grid().index(env.spec(i).target)];
  visited_.assign(static_cast<size_t>(cells) * 4, 0);
  queue_.resize(3 * m + 3);

  last_direction_.resize(n_);
  last_counter_.resize(n_);
  last_num_malfunctions_.resize(n_);
  old_direction_.resize(n_);
  in_malfunction_.resize(n_);
  reset(env);
}

void TreeObsBuilder::reset(const RailEnv& env) {
  SG_CHECK(env.num_agents() == n_ && env.grid().height() == height_ && env.grid().width() == width_,
           "TreeObsBuilder::reset: the env does not match the one the builder was made for");
  last_step_ = -1;
  deadlock_.reset(n_, height_ * width_);
}

int TreeObsBuilder::cell_code(GridPos p) const {
  // The reference keys cells col * W + row (its coordinate_to_position with depth = width).
  return config_.reference_quirks ? p.col * width_ + p.row : p.row * width_ + p.col;
}

void TreeObsBuilder::predict_all(const RailEnv& env) {
  const RailGrid& grid = env.grid();
  const DistanceMap& dm = env.distance_map();
  const int max_moves = config_.max_pred_depth;
  int num_visits = 0;
  for (int i = 0; i < n_; ++i) {
    const Agent& a = env.agents()[i];
    const AgentSpec& s = env.spec(i);
    const Waypoint start = virtual_position(a, s);

    // Shortest path: among the legal moves (left, forward, right; the U-turn at a dead end)
    // take the first that gets strictly closer than anything seen so far.
    int len = 0;
    Waypoint at = start;
    int32_t best = DistanceMap::kUnreachable;
    bool complete = true;
    for (int depth = 0; depth < max_moves; ++depth) {
      const uint16_t cell = grid.at(at.position);
      const int exits = exit_mask(cell, at.direction);
      Waypoint next{};
      bool found = false;
      auto consider = [&](int d) {
        if (!has_exit(exits, d)) return;
        const GridPos p = step_towards(at.position, d);
        if (!grid.in_bounds(p)) return;
        const int32_t dist = dm.distance(i, p, d);
        if (dist < best) {
          best = dist;
          next = {p, d};
          found = true;
        }
      };
      if (is_dead_end(cell)) {
        consider(reverse(at.direction));
      } else {
        for (int turn = -1; turn <= 1; ++turn) consider((at.direction + turn + 4) % 4);
      }
      path_[len++] = at;
      if (!found) {
        complete = false;
        break;
      }
      at = next;
    }
    if (complete) path_[len++] = at;

    // Prediction: slice 0 is the start; the train then advances one path cell every
    // int(1 / speed) steps (its first move at once) and stays at the target or path end.
    // Consecutive slices on one cell make one visit.
    const int steps_per_cell = std::max(1, static_cast<int>(1.0f / static_cast<float>(s.speed)));
    Waypoint cur = start;
    int k = 1;
    for (int t = 0; t < depth_; ++t) {
      if (t > 0) {
        const int idx = t - 1;
        if (!(cur.position == s.target || k >= len) && idx % steps_per_cell == 0) cur = path_[k++];
      }
      pred_dir_[static_cast<size_t>(t) * n_ + i] = cur.direction;
      const int code = cell_code(cur.position);
      if (t > 0 && visit_code_[num_visits - 1] == code &&
          visits_[num_visits - 1].direction == cur.direction) {
        visits_[num_visits - 1].t1 = t;
      } else {
        visit_code_[num_visits] = code;
        visits_[num_visits++] = {i, t, t, cur.direction};
      }
    }
  }
  // Group the visits by cell (a counting sort).
  std::fill(cell_start_.begin(), cell_start_.end(), 0);
  for (int v = 0; v < num_visits; ++v) ++cell_start_[visit_code_[v] + 1];
  for (size_t c = 1; c < cell_start_.size(); ++c) cell_start_[c] += cell_start_[c - 1];
  for (int v = 0; v < num_visits; ++v) cell_visits_[cell_start_[visit_code_[v]]++] = visits_[v];
  // The fill moved each start to the next cell's: shift back.
  for (size_t c = cell_start_.size() - 1; c > 0; --c) cell_start_[c] = cell_start_[c - 1];
  cell_start_[0] = 0;
}

float TreeObsBuilder::conflict_at(const RailEnv& env, int agent, int code, int direction, int exits,
                                  float tot_dist) const {
  const float per_cell = time_per_cell(env.spec(agent).speed);
  const int t = static_cast<int>(static_cast<float>(static_cast<int>(tot_dist)) * per_cell);
  if (t >= depth_ || tot_dist >= static_cast<float>(depth_)) return kInf;
  const bool quirks = config_.reference_quirks;
  const int slices[3] = {t, std::max(0, t - 1), std::min(depth_ - 1, t + 1)};
  const Visit* begin = cell_visits_.data() + cell_start_[code];
  const Visit* end = cell_visits_.data() + cell_start_[code + 1];
  for (int s : slices) {
    bool other = false;  // another train predicted on this cell at time s
    for (const Visit* v = begin; v != end && !other; ++v)
      other = v->agent != agent && v->t0 <= s && s <= v->t1;
    if (!other) continue;  // nobody else there at this time: try the next slice
    for (const Visit* v = begin; v != end; ++v) {
      if (s < v->t0 || s > v->t1 || (!quirks && v->agent == agent)) continue;
      const int pd = quirks ? pred_dir_[static_cast<size_t>(t) * n_ + v->agent] : v->direction;
      const bool crossing_way = direction != pd && has_exit(exits, reverse(pd));
      if (crossing_way || env.agents()[v->agent].state == TrainState::kDone) return tot_dist;
    }
    return kInf;
  }
  return kInf;
}

TreeObsBuilder::Branch TreeObsBuilder::explore(const RailEnv& env, int agent,
                                               const QueueItem& start, float* raw) {
  const RailGrid& grid = env.grid();
  const auto& agents = env.agents();
  const GridPos target = env.spec(agent).target;
  const bool quirks = config_.reference_quirks;
  if (++stamp_ == 0) {  // wrapped: forget old stamps
    std::fill(visited_.begin(), visited_.end(), 0);
    stamp_ = 1;
  }
  float own_target = kInf, other_target = kInf, other_agent = kInf, conflict = kInf,
        unusable = kInf;
  int same = 0, opposite = 0, malfunction = 0, ready = 0;
  float min_speed = 1.0f;
  bool terminal = false, at_target = false, dead_end = false, is_switch = false;

  GridPos pos = start.pos;
  int direction = start.direction;
  float tot = start.tot_dist;
  while (true) {
    SG_CHECK(grid.in_bounds(pos), "TreeObsBuilder: rail leads off the grid at (", pos.row, ", ",
             pos.col, ")");
    const int c = grid.index(pos);
    if (const int occ = occupant_[c]; occ >= 0) {
      other_agent = std::min(other_agent, tot);
      const Agent& o = agents[occ];
      malfunction =
          std::max(malfunction, quirks ? int(o.malfunction_counter > 0) : o.malfunction_counter);
      ready += std::max(0, ready_count_[c]);
      if (o.direction == direction) {
        ++same;
        min_speed = std::min(min_speed, static_cast<float>(env.spec(occ).speed));
      } else {
        ++opposite;
      }
    }
    const uint16_t cell = grid.at(pos);
    const int exits = exit_mask(cell, direction);
    // tot only grows along a walk: once a conflict is found, later cells cannot lower it.
    if (tot < conflict) conflict = conflict_at(env, agent, cell_code(pos), direction, exits, tot);
    if (!quirks && other_target_[c] > 0 && !(pos == target))
      other_target = std::min(other_target, tot);
    if (pos == target) own_target = std::min(own_target, tot);

    uint32_t& seen = visited_[static_cast<size_t>(c) * 4 + direction];
    if (seen == stamp_) {  // this walk went round a loop
      terminal = true;
      break;
    }
    seen = stamp_;
    if (pos == target) {
      at_target = true;
      break;
    }
    // A diamond crossing is no switch: count it as a plain track.
    const int bits = cell == kBaseCellTypes[3] ? 2 : __builtin_popcount(cell);
    const int num_exits = __builtin_popcount(static_cast<unsigned>(exits));
    if (bits > 2 && num_exits < 2) unusable = std::min(unusable, tot);
    if (num_exits == 1) {
      if (bits == 1) {
        dead_end = true;
        break;
      }
      direction = __builtin_clz(static_cast<unsigned>(exits)) - 28;  // the one exit (bit 3 = N)
      pos = step_towards(pos, direction);
      tot += 1;
      continue;
    }
    SG_CHECK(num_exits > 1, "TreeObsBuilder: a train facing ", direction, " at (", pos.row, ", ",
             pos.col, ") has no exit (cell ", cell, ")");
    is_switch = true;
    break;
  }

  float dist_min_to_target = 0;
  if (!at_target) {
    const int32_t d = env.distance_map().distance(agent, pos, direction);
    dist_min_to_target = d == DistanceMap::kUnreachable ? kInf : static_cast<float>(d);
  }
  const float values[kNodeFeatures] = {own_target,
                                       other_target,
                                       other_agent,
                                       conflict,
                                       unusable,
                                       terminal ? kInf : tot,
                                       dist_min_to_target,
                                       static_cast<float>(same),
                                       static_cast<float>(opposite),
                                       static_cast<float>(malfunction),
                                       min_speed,
                                       static_cast<float>(ready)};
  std::copy(values, values + kNodeFeatures, raw);
  return {pos, direction, tot, dead_end, is_switch};
}

void TreeObsBuilder::build_tree(const RailEnv& env, int agent, float* nodes, int32_t* adjacency,
                                int32_t* node_order, int32_t* edge_order) {
  const Agent& a = env.agents()[agent];
  const AgentSpec& s = env.spec(agent);
  const RailGrid& grid = env.grid();
  const int m = config_.max_nodes;
  const bool quirks = config_.reference_quirks;
  const float t_max = static_cast<float>(env.max_episode_steps());
  const float n = static_cast<float>(n_);
  auto store = [&](int idx, const float* raw) {
    float* out = nodes + static_cast<size_t>(idx) * kNodeFeatures;
    for (int k = 0; k < 7; ++k) out[k] = std::isinf(raw[k]) ? -1.0f : raw[k] / t_max;
    for (int k : {7, 8, 9, 11}) out[k] = raw[k] != -1.0f ? raw[k] / n : -1.0f;
    out[10] = raw[10];
  };
  const float null_raw[kNodeFeatures] = {kInf, kInf, kInf, kInf, kInf, kInf,
                                         kInf, -1,   -1,   -1,   -1,   -1};

  // Root.
  const Waypoint root = virtual_position(a, s);
  const int dist = dist_target(env, agent);
  const float root_raw[kNodeFeatures] = {
      0,
      0,
      0,
      0,
      0,
      0,
      dist < 0 ? kInf : static_cast<float>(dist),
      0,
      0,
      static_cast<float>(quirks ? int(a.num_malfunctions > 0) : a.num_malfunctions),
      static_cast<float>(s.speed),
      0};
  store(0, root_raw);

  int head = 0, tail = 0;
  const int root_exits = exit_mask(grid.at(root.position), a.direction);
  int orientation = a.direction;
  if (__builtin_popcount(static_cast<unsigned>(root_exits)) == 1) {
    orientation = __builtin_clz(static_cast<unsigned>(root_exits)) - 28;
  }
  for (int turn = -1; turn <= 1; ++turn) {
    const int d = (orientation + turn + 4) % 4;
    QueueItem& q = queue_[tail++];
    q = {{}, d, turn, 0, 1.0f, true};
    if (has_exit(root_exits, d)) {
      q.pos = step_towards(root.position, d);
      q.is_null = false;
    }
  }

  float raw[kNodeFeatures];
  for (int idx = 1; idx < m; ++idx) {
    int32_t* row = adjacency + static_cast<size_t>(idx - 1) * 3;
    if (head == tail) {  // nothing left to explore: padding
      store(idx, null_raw);
      row[0] = row[1] = row[2] = kInvalid;
      continue;
    }
    const QueueItem item = queue_[head++];
    row[0] = item.parent;
    row[1] = idx;
    row[2] = item.turn;
    if (item.is_null) {
      store(idx, null_raw);
      continue;
    }
    const Branch end = explore(env, agent, item, raw);
    store(idx, raw);
    const int exits = exit_mask(grid.at(end.pos), end.direction);
    for (int turn = -1; turn <= 1; ++turn) {
      const int d = (end.direction + turn + 4) % 4;
      QueueItem& q = queue_[tail++];
      q = {{}, d, turn, idx, end.tot_dist + 1, true};
      if (end.dead_end && has_exit(exits, reverse(d))) {  // the way back is "straight on"
        q.direction = reverse(d);
        q.pos = step_towards(end.pos, q.direction);
        q.is_null = false;
      } else if (end.is_switch && has_exit(exits, d)) {
        q.pos = step_towards(end.pos, d);
        q.is_null = false;
      }
    }
  }

  // Heights: children always have larger indices than their parents, so one backward pass.
  int real_nodes = 1;
  for (int r = 0; r < m - 1; ++r) real_nodes += adjacency[r * 3] != kInvalid;
  for (int i = 0; i < m; ++i) node_order[i] = i < real_nodes ? 0 : kInvalid;
  for (int r = m - 2; r >= 0; --r) {
    const int parent = adjacency[r * 3], child = adjacency[r * 3 + 1];
    if (parent == kInvalid) continue;
    node_order[parent] = std::max(node_order[parent], node_order[child] + 1);
  }
  for (int r = 0; r < m - 1; ++r) {
    const int parent = adjacency[r * 3];
    edge_order[r] = parent < 0 ? kInvalid : node_order[parent];
  }
}

void TreeObsBuilder::build(const RailEnv& env) {
  build(env, ObsBuffers{attr_, forest_, adjacency_, node_order_, edge_order_, valid_});
}

void TreeObsBuilder::build(const RailEnv& env, const ObsBuffers& out) {
  const int m = config_.max_nodes;
  SG_CHECK(env.num_agents() == n_, "TreeObsBuilder::build: env has ", env.num_agents(),
           " trains, the builder ", n_);
  SG_CHECK(out.agent_attr.size() == attr_.size() && out.forest.size() == forest_.size() &&
               out.adjacency.size() == adjacency_.size() &&
               out.node_order.size() == node_order_.size() &&
               out.edge_order.size() == edge_order_.size() &&
               out.valid_actions.size() == valid_.size(),
           "TreeObsBuilder::build: output buffers must be sized [N*83], [N*", m, "*12], [N*", m - 1,
           "*3], [N*", m, "], [N*", m - 1, "], [N*5] for N = ", n_);
  const auto& agents = env.agents();
  const bool quirks = config_.reference_quirks;

  // History: old direction and the malfunction signal of the last step.
  const int step = env.elapsed_steps();
  if (step != last_step_) {
    const bool consecutive = last_step_ >= 0 && step == last_step_ + 1;
    for (int i = 0; i < n_; ++i) {
      const Agent& a = agents[i];
      if (consecutive) {
        old_direction_[i] = last_direction_[i];
        // Broken during the last step if still broken, or its counter just ran out (1 -> 0),
        // or it drew a one-step malfunction.
        in_malfunction_[i] = a.malfunction_counter > 0 || last_counter_[i] == 1 ||
                             a.num_malfunctions > last_num_malfunctions_[i];
      } else {
        old_direction_[i] = a.direction;
        in_malfunction_[i] = step > 0 && a.malfunction_counter > 0;
      }
      last_direction_[i] = a.direction;
      last_counter_[i] = a.malfunction_counter;
      last_num_malfunctions_[i] = a.num_malfunctions;
    }
    last_step_ = step;
  }
  deadlock_.update(env);

  // Occupancy of the current state.
  for (int c : touched_) occupant_[c] = ready_count_[c] = -1;
  touched_.clear();
  for (int i = 0; i < n_; ++i) {
    const Agent& a = agents[i];
    if (!is_off_map(a.state) && a.position.on_map()) {
      const int c = env.grid().index(a.position);
      occupant_[c] = i;
      touched_.push_back(c);
    }
    if (is_off_map(a.state)) {
      const int c = env.grid().index(env.spec(i).initial_position);
      // The reference counts the first waiting train of a cell as 0.
      ready_count_[c] = ready_count_[c] < 0 ? (quirks ? 0 : 1) : ready_count_[c] + 1;
      touched_.push_back(c);
    }
  }
  predict_all(env);

  for (int i = 0; i < n_; ++i) {
    uint8_t* mask = &out.valid_actions[static_cast<size_t>(i) * kNumActions];
    valid_action_mask(env, i, mask);
    const AgentAttrContext ctx{old_direction_[i], in_malfunction_[i] != 0, deadlock_.deadlocked(i),
                               quirks};
    write_agent_attributes(env, i, ctx, mask,
                           &out.agent_attr[static_cast<size_t>(i) * kAgentAttrSize]);
    build_tree(env, i, &out.forest[static_cast<size_t>(i) * m * kNodeFeatures],
               &out.adjacency[static_cast<size_t>(i) * (m - 1) * 3],
               &out.node_order[static_cast<size_t>(i) * m],
               &out.edge_order[static_cast<size_t>(i) * (m - 1)]);
  }
}

}  // namespace stackgrad::flatland
