#include "batch_env.h"

#include <functional>
#include <thread>

#include "engine/core/error.h"
#include "envs/common/task_pool.h"

namespace stackgrad::flatland {

BatchEnv::~BatchEnv() = default;

BatchEnv::BatchEnv(const std::vector<Level>& levels, BatchOptions options) : options_(options) {
  SG_CHECK(!levels.empty(), "BatchEnv: expected at least one level");
  SG_CHECK(options.num_threads >= 0, "BatchEnv: num_threads must be >= 0, got ",
           options.num_threads);
  int threads = options.num_threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(levels.size()));
  if (threads > 1) pool_ = std::make_unique<envs::TaskPool>(threads - 1);
  envs_.reserve(levels.size());
  offsets_.push_back(0);
  for (const Level& level : levels) {
    envs_.emplace_back(level);
    offsets_.push_back(offsets_.back() + envs_.back().num_agents());
  }
  const size_t n = total_agents(), k = levels.size();
  position_.assign(n, -1);
  reward_.assign(n, 0);
  direction_.assign(n, 0);
  state_.assign(n, 0);
  done_.assign(n, 0);
  action_required_.assign(n, 0);
  episode_done_.assign(k, 0);
  last_score_.assign(k, 0.0);
  last_arrived_.assign(k, 0);
  episode_.assign(k, 0);
}

void BatchEnv::write_state(int k) {
  const RailEnv& e = envs_[k];
  const int base = offsets_[k], width = e.grid().width();
  for (int j = 0; j < e.num_agents(); ++j) {
    const Agent& a = e.agents()[j];
    position_[base + j] = a.position.on_map() ? a.position.row * width + a.position.col : -1;
    direction_[base + j] = static_cast<int8_t>(a.direction);
    state_[base + j] = static_cast<uint8_t>(a.state);
    action_required_[base + j] = e.action_required(j);
  }
}

void BatchEnv::reset(uint64_t seed) {
  seed_ = seed;
  for (int k = 0; k < num_envs(); ++k) {
    envs_[k].reset(seed + k);
    episode_[k] = 0;
    episode_done_[k] = 0;
    write_state(k);
  }
  std::fill(reward_.begin(), reward_.end(), 0);
  std::fill(done_.begin(), done_.end(), 0);
}

void BatchEnv::step(std::span<const int> actions) {
  SG_CHECK(static_cast<int>(actions.size()) == total_agents(), "BatchEnv::step: expected ",
           total_agents(), " actions, got ", actions.size());
  if (pool_) {
    const std::function<void(int)> fn = [&](int k) { step_env(k, actions); };
    pool_->run(num_envs(), fn);
  } else {
    for (int k = 0; k < num_envs(); ++k) step_env(k, actions);
  }
}

void BatchEnv::step_env(int k, std::span<const int> actions) {
  RailEnv& e = envs_[k];
  const int base = offsets_[k], n = e.num_agents();
  episode_done_[k] = 0;
  if (e.done()) return;  // finished, without auto-reset: left as it is
  e.step(actions.subspan(base, n));
  for (int j = 0; j < n; ++j) {
    reward_[base + j] = e.rewards()[j];
    done_[base + j] = e.dones()[j];
  }
  if (e.done()) {
    episode_done_[k] = 1;
    last_score_[k] = e.normalized_score();
    last_arrived_[k] = e.num_arrived();
    ++episode_[k];
    if (options_.auto_reset) e.reset(seed_ + k + static_cast<uint64_t>(num_envs()) * episode_[k]);
  }
  write_state(k);
}

}  // namespace stackgrad::flatland
