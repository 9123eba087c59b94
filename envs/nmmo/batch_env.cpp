#include "batch_env.h"

#include <algorithm>
#include <functional>
#include <thread>

#include "engine/core/error.h"

namespace stackgrad::nmmo {

BatchEnv::~BatchEnv() = default;

BatchEnv::BatchEnv(int num_envs, const EnvOptions& options, BatchOptions batch)
    : options_(batch), agents_(options.config.player_n) {
  SG_CHECK(num_envs >= 1, "nmmo::BatchEnv: expected at least one env, got ", num_envs);
  SG_CHECK(batch.num_threads >= 0, "nmmo::BatchEnv: num_threads must be >= 0, got ",
           batch.num_threads);
  int threads = batch.num_threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min(threads, num_envs);
  if (threads > 1) pool_ = std::make_unique<envs::TaskPool>(threads - 1);

  for (int k = 0; k < num_envs; ++k) envs_.push_back(std::make_unique<Env>(options));
  if (options.observations) {
    obs_storage_ = ObsStorage(layout(), total_agents());
    obs_ = obs_storage_.view();
    for (int k = 0; k < num_envs; ++k) {
      envs_[k]->bind_observations(obs_.slice(layout(), offset(k), agents_));
    }
  }
  const size_t n = static_cast<size_t>(total_agents()), K = static_cast<size_t>(num_envs);
  reward_.assign(n, 0.0f);
  done_.assign(n, 0);
  active_.assign(n, 0);
  info_.assign(n, {});
  episode_done_.assign(K, 0);
  episode_.assign(K, 0);
  last_length_.assign(K, 0);
  last_mean_lifetime_.assign(K, 0.0);
}

void BatchEnv::reset(uint64_t seed) {
  seed_ = seed;
  started_ = true;
  for (int k = 0; k < num_envs(); ++k) {
    envs_[k]->reset(seed + k);
    episode_[k] = 0;
    episode_done_[k] = 0;
    std::copy(envs_[k]->active().begin(), envs_[k]->active().end(), active_.begin() + offset(k));
  }
  std::fill(reward_.begin(), reward_.end(), 0.0f);
  std::fill(done_.begin(), done_.end(), 0);
  std::fill(info_.begin(), info_.end(), AgentTaskInfo{});
}

void BatchEnv::step(std::span<const int32_t> flat_actions) {
  step_all(flat_actions, kNumActionArgs);
}

void BatchEnv::step(std::span<const AgentAction> actions) { step_all(actions, 1); }

template <typename Action>
void BatchEnv::step_all(std::span<const Action> actions, int per_agent) {
  SG_CHECK(started_, "nmmo::BatchEnv::step: call reset() first");
  SG_CHECK(actions.size() == static_cast<size_t>(total_agents()) * per_agent,
           "nmmo::BatchEnv::step: expected ", total_agents(), " x ", per_agent,
           " action values, got ", actions.size());
  if (pool_) {
    const std::function<void(int)> fn = [&](int k) { step_env(k, actions); };
    pool_->run(num_envs(), fn);
  } else {
    for (int k = 0; k < num_envs(); ++k) step_env(k, actions);
  }
}

template <typename Action>
void BatchEnv::step_env(int k, std::span<const Action> actions) {
  Env& e = *envs_[k];
  const int base = offset(k), n = agents_;
  episode_done_[k] = 0;
  if (e.episode_done()) return;  // finished, without auto-reset: left as it is
  const size_t per_agent = actions.size() / total_agents();
  e.step(actions.subspan(base * per_agent, n * per_agent));
  std::copy(e.rewards().begin(), e.rewards().end(), reward_.begin() + base);
  std::copy(e.dones().begin(), e.dones().end(), done_.begin() + base);
  std::copy(e.active().begin(), e.active().end(), active_.begin() + base);
  std::copy(e.infos().begin(), e.infos().end(), info_.begin() + base);
  if (e.episode_done()) {
    episode_done_[k] = 1;
    last_length_[k] = e.tick();
    double lifetime = 0.0;
    for (const AgentTaskInfo& info : e.infos()) lifetime += info.lifetime;
    last_mean_lifetime_[k] = lifetime / n;
    ++episode_[k];
    if (options_.auto_reset) e.reset(seed_ + k + static_cast<uint64_t>(num_envs()) * episode_[k]);
  }
}

}  // namespace stackgrad::nmmo
