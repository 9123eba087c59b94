#include "env.h"

#include <algorithm>

#include "engine/core/error.h"
#include "envs/nmmo/realm.h"

namespace stackgrad::nmmo {

namespace {

// Separate streams for the map draw and the task sampling, so that neither shifts the world's
// own random stream (nmmo draws all three from one generator; only the statistics matter).
constexpr uint64_t kMapStream = 0x6d61705f69645f31ULL;
constexpr uint64_t kTaskStream = 0x7461736b5f737031ULL;

TaskSpec stay_alive_spec() {
  TaskSpec s;
  s.predicate = PredicateExpr::leaf(PredicateId::kStayAlive);
  s.task_cls = TaskKind::kOngoing;
  return s;
}

}  // namespace

Env::Env(EnvOptions options)
    : options_(std::move(options)),
      world_(std::make_unique<World>()),
      writer_(options_.config, kTaskEncodingDim) {
  SG_CHECK(options_.early_stop_agents >= 0, "nmmo::Env: early_stop_agents must be >= 0, got ",
           options_.early_stop_agents);
  const size_t n = static_cast<size_t>(num_agents());
  world_->config = options_.config;
  agent_task_.assign(n, -1);
  spec_index_.assign(n, -1);
  task_encoding_.assign(n * kTaskEncodingDim, 0.0f);
  actions_.resize(n);
  reward_.assign(n, 0.0f);
  done_.assign(n, 0);
  active_.assign(n, 0);
  info_.assign(n, {});
}

Env::~Env() = default;
Env::Env(Env&&) noexcept = default;
Env& Env::operator=(Env&&) noexcept = default;

int Env::tick() const { return world_->tick; }

void Env::bind_observations(const ObsBuffers& buffers) {
  SG_CHECK(options_.observations, "nmmo::Env::bind_observations: observations are turned off");
  writer_.bind(buffers);  // checks the sizes
  obs_ = buffers;
  external_obs_ = true;
  own_obs_.reset();
}

void Env::assign_tasks(uint64_t seed) {
  std::vector<int32_t> agents(num_agents());
  for (int i = 0; i < num_agents(); ++i) agents[i] = i + 1;
  const std::vector<TaskSpec>& specs = options_.task_specs;
  std::vector<TaskEncoding> encodings;
  if (specs.empty()) {
    tasks_ = default_tasks(agents);
    std::fill(spec_index_.begin(), spec_index_.end(), -1);
    encodings.push_back(encode_task(stay_alive_spec()));
  } else {
    Rng rng(seed ^ kTaskStream);
    const std::vector<int> picks = sample_specs(specs, num_agents(), rng);
    tasks_ = make_agent_tasks(specs, picks, agents);
    std::copy(picks.begin(), picks.end(), spec_index_.begin());
  }
  std::fill(agent_task_.begin(), agent_task_.end(), -1);
  for (int t = static_cast<int>(tasks_.size()) - 1; t >= 0; --t) {
    for (int32_t a : tasks_[t].assignee()) {
      if (a >= 1 && a <= num_agents()) agent_task_[a - 1] = t;  // the first task wins
    }
  }
  // Encodings per agent, each spec encoded once.
  std::vector<int> cache(specs.size(), -1);
  for (int i = 0; i < num_agents(); ++i) {
    int e = 0;
    if (!specs.empty()) {
      const int s = spec_index_[i];
      if (cache[s] < 0) {
        cache[s] = static_cast<int>(encodings.size());
        encodings.push_back(encode_task(specs[s]));
      }
      e = cache[s];
    }
    std::copy(encodings[e].begin(), encodings[e].end(),
              task_encoding_.begin() + static_cast<size_t>(i) * kTaskEncodingDim);
  }
}

void Env::reset(uint64_t seed, int map_id) {
  const Config& c = options_.config;
  SG_CHECK(map_id >= 0 && map_id <= c.map_n, "nmmo::Env::reset: map_id must be in [1, ", c.map_n,
           "] or 0 (drawn), got ", map_id);
  if (map_id == 0) {
    Rng rng(seed ^ kMapStream);
    map_id = static_cast<int>(rng.randint(1, c.map_n + 1));
  }
  world_->config = c;
  nmmo::reset(*world_, seed, map_id);
  SG_CHECK(static_cast<int>(world_->players.size()) == num_agents(),
           "nmmo::Env::reset: the realm made ", world_->players.size(), " players, expected ",
           num_agents());
  game_state_ = std::make_unique<GameState>(*world_);
  game_state_->update();
  assign_tasks(seed);

  std::fill(reward_.begin(), reward_.end(), 0.0f);
  std::fill(done_.begin(), done_.end(), 0);
  std::fill(info_.begin(), info_.end(), AgentTaskInfo{});
  num_alive_ = 0;
  for (int i = 0; i < num_agents(); ++i) {
    active_[i] = world_->players[i].alive ? 1 : 0;
    num_alive_ += active_[i];
  }
  started_ = true;
  episode_done_ = num_alive_ == 0;
  if (options_.observations) {
    if (!external_obs_ && !own_obs_) {
      own_obs_ = std::make_unique<ObsStorage>(writer_.layout(), num_agents());
      obs_ = own_obs_->view();
      writer_.bind(obs_);
    }
    write_observations();
  }
}

void Env::write_observations() { writer_.write(*world_, task_encoding_); }

void Env::refresh_observations() {
  SG_CHECK(started_ && options_.observations,
           "nmmo::Env::refresh_observations: needs reset() and observations turned on");
  write_observations();
}

void Env::step(std::span<const int32_t> flat_actions) {
  SG_CHECK(options_.observations,
           "nmmo::Env::step: flat actions are resolved through the observations, which are "
           "turned off; pass AgentActions");
  SG_CHECK(started_, "nmmo::Env::step: call reset() first");
  writer_.decode(flat_actions, actions_);
  step(std::span<const AgentAction>(actions_));
}

void Env::step(std::span<const AgentAction> actions) {
  SG_CHECK(started_, "nmmo::Env::step: call reset() first");
  SG_CHECK(!episode_done_, "nmmo::Env::step: the episode is over (tick ", world_->tick,
           "); call reset()");
  SG_CHECK(static_cast<int>(actions.size()) == num_agents(), "nmmo::Env::step: expected ",
           num_agents(), " actions, got ", actions.size());
  World& w = *world_;
  // nmmo's env.agents: the players alive when the tick starts are the ones reported on.
  current_ids_.clear();
  for (int i = 0; i < num_agents(); ++i) {
    active_[i] = w.players[i].alive ? 1 : 0;
    if (active_[i]) current_ids_.push_back(i + 1);
  }
  nmmo::step(w, actions);

  died_ids_.clear();
  num_alive_ = 0;
  for (int32_t id : current_ids_) {
    if (w.players[id - 1].alive) {
      ++num_alive_;
    } else {
      died_ids_.push_back(id);
    }
  }
  game_state_->update();
  // Task rewards of current agents; exactly -1 for those that died this tick (A12).
  const std::vector<double> r = compute_rewards(*game_state_, tasks_, current_ids_, died_ids_);
  SG_CHECK(static_cast<int>(r.size()) == num_agents(), "nmmo::Env::step: ", r.size(),
           " rewards for ", num_agents(), " agents");
  for (int i = 0; i < num_agents(); ++i) reward_[i] = active_[i] ? static_cast<float>(r[i]) : 0.f;

  const Config& c = options_.config;
  episode_done_ = w.tick >= c.horizon || num_alive_ == 0 ||
                  (options_.early_stop_agents > 0 && num_alive_ <= options_.early_stop_agents);
  for (int i = 0; i < num_agents(); ++i) {
    done_[i] = episode_done_ || !w.players[i].alive ? 1 : 0;
  }
  update_infos();
  if (options_.observations) write_observations();
}

void Env::update_infos() {
  const World& w = *world_;
  for (int i = 0; i < num_agents(); ++i) {
    AgentTaskInfo& info = info_[i];
    if (active_[i]) info.lifetime = w.tick;  // alive through this tick, or died in it
    if (agent_task_[i] >= 0) {
      const Task& t = tasks_[agent_task_[i]];
      info.progress = static_cast<float>(t.progress());
      info.max_progress = static_cast<float>(t.max_progress());
      info.completed = t.completed() ? 1 : 0;
    }
  }
}

}  // namespace stackgrad::nmmo
