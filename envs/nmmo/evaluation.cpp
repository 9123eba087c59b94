#include "evaluation.h"

#include <utility>

#include "engine/core/error.h"
#include "envs/nmmo/realm.h"

namespace stackgrad::nmmo {

std::vector<PolicyKind> policies_for(const std::string& name, const Config& config) {
  if (name != "mixed") return std::vector<PolicyKind>(config.player_n, parse_policy(name));
  static constexpr PolicyKind kTeamPolicies[] = {PolicyKind::kForager, PolicyKind::kFighter,
                                                 PolicyKind::kTrader, PolicyKind::kRandom};
  std::vector<PolicyKind> kinds(config.player_n);
  for (int i = 0; i < config.player_n; ++i) kinds[i] = kTeamPolicies[(i / config.team_size) % 4];
  return kinds;
}

std::vector<int> eval_task_picks(int n_specs, int player_n, int episode, Rng& rng) {
  SG_CHECK(n_specs >= 1, "nmmo: eval_task_picks: no task specs");
  std::vector<int> picks(player_n);
  for (int i = 0; i < player_n; ++i) {
    picks[i] = static_cast<int>((i + static_cast<int64_t>(episode) * player_n) % n_specs);
  }
  for (int i = player_n - 1; i > 0; --i) std::swap(picks[i], picks[rng.randint(0, i + 1)]);
  return picks;
}

Episode::Episode(const Config& config, uint64_t seed, int map_id, std::vector<PolicyKind> policies)
    : seed_(seed), kinds_(std::move(policies)) {
  config.validate();
  SG_CHECK(static_cast<int>(kinds_.size()) == config.player_n, "nmmo::Episode: ", kinds_.size(),
           " policies for ", config.player_n, " players");
  SG_CHECK(map_id >= 1 && map_id <= config.map_n, "nmmo::Episode: map id must be in [1, ",
           config.map_n, "], got ", map_id);
  world_.config = config;
  reset(world_, seed, map_id);
  for (int i = 0; i < config.player_n; ++i) {
    policies_.push_back(make_policy(kinds_[i], policy_seed(seed, i + 1)));
  }
  actions_.resize(config.player_n);
  death_tick_.assign(config.player_n, 0);
}

bool Episode::done() const { return world_.tick >= world_.config.horizon || alive_players() == 0; }

const std::vector<AgentAction>& Episode::step() {
  for (size_t i = 0; i < policies_.size(); ++i) {
    const Entity& p = world_.players[i];
    actions_[i] = p.alive ? policies_[i]->act(world_, p) : AgentAction{};
  }
  nmmo::step(world_, actions_);
  record_after_step();
  return actions_;
}

void Episode::step(std::span<const AgentAction> actions) {
  nmmo::step(world_, actions);
  record_after_step();
}

void Episode::set_tasks(std::vector<Task> tasks) {
  tasks_ = std::move(tasks);
  if (!game_state_) game_state_ = std::make_unique<GameState>(world_);
}

void Episode::record_after_step() {
  std::vector<int32_t> current, died;
  for (size_t i = 0; i < death_tick_.size(); ++i) {
    const int32_t id = static_cast<int32_t>(i) + 1;
    if (world_.players[i].alive) {
      current.push_back(id);
    } else if (death_tick_[i] == 0) {
      death_tick_[i] = world_.tick;
      current.push_back(id);
      died.push_back(id);
    }
  }
  if (game_state_) {
    game_state_->update();
    compute_rewards(*game_state_, tasks_, current, died);
  }
  npc_sum_ += static_cast<double>(world_.npcs.size());
}

int Episode::lifetime(int32_t player_id) const {
  const int t = death_tick_.at(static_cast<size_t>(player_id) - 1);
  return t > 0 ? t : world_.tick;
}

double Episode::mean_lifetime() const {
  double sum = 0.0;
  for (int id = 1; id <= static_cast<int>(death_tick_.size()); ++id) sum += lifetime(id);
  return sum / static_cast<double>(death_tick_.size());
}

int Episode::alive_players() const {
  int n = 0;
  for (const Entity& p : world_.players) n += p.alive;
  return n;
}

double Episode::mean_alive_npcs() const {
  return world_.tick > 0 ? npc_sum_ / world_.tick : static_cast<double>(world_.npcs.size());
}

}  // namespace stackgrad::nmmo
