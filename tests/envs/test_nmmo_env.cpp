// Env and BatchEnv: shapes after reset and step, StayAlive rewards and the death penalty (A12),
// dones at the horizon and at an early stop, determinism, and batched stepping equal to
// stepping each env alone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "envs/common/rng.h"
#include "envs/nmmo/batch_env.h"
#include "envs/nmmo/env.h"
#include "support/error_of.h"

namespace nm = stackgrad::nmmo;
using nm::ActionArg;
using ::testing::HasSubstr;

namespace {

nm::EnvOptions small_options(int horizon = 128) {
  nm::EnvOptions o;
  o.config = nm::Config::small();  // 64 agents, 32 NPCs, 64x64 map
  o.config.horizon = horizon;
  return o;
}

// Flat actions drawn uniformly among the entries each mask allows (the no-op included).
std::vector<int32_t> random_actions(const nm::ObsBuffers& obs, const nm::ObsLayout& L,
                                    stackgrad::envs::Rng& rng) {
  std::vector<int32_t> out(static_cast<size_t>(obs.num_agents) * nm::kNumActionArgs);
  std::vector<int> allowed;
  for (int i = 0; i < obs.num_agents; ++i) {
    const int8_t* m = obs.action_mask.data() + static_cast<size_t>(i) * L.mask_size();
    for (int a = 0; a < nm::kNumActionArgs; ++a) {
      allowed.clear();
      for (int v = 0; v < L.arg_size[a]; ++v) {
        if (m[L.mask_offset[a] + v]) allowed.push_back(v);
      }
      out[static_cast<size_t>(i) * nm::kNumActionArgs + a] =
          allowed.empty() ? 0 : allowed[rng.randint(0, static_cast<int64_t>(allowed.size()))];
    }
  }
  return out;
}

// Every agent stays put and does nothing else.
std::vector<int32_t> stay_actions(const nm::ObsLayout& L, int agents) {
  std::vector<int32_t> one(nm::kNumActionArgs);
  for (int a = 0; a < nm::kNumActionArgs; ++a) one[a] = L.arg_size[a] - 1;
  one[static_cast<int>(ActionArg::kAttackStyle)] = 0;
  one[static_cast<int>(ActionArg::kGiveGoldPrice)] = 0;
  one[static_cast<int>(ActionArg::kSellPrice)] = 0;
  std::vector<int32_t> out;
  for (int i = 0; i < agents; ++i) out.insert(out.end(), one.begin(), one.end());
  return out;
}

template <typename Span>
auto to_vector(Span s) {
  return std::vector<std::remove_cv_t<typename Span::element_type>>(s.begin(), s.end());
}

// Everything an env reports about one step, for comparisons.
struct Snapshot {
  std::vector<int32_t> tick, id;
  std::vector<int16_t> tile, entity, inventory, market;
  std::vector<float> task, reward;
  std::vector<int8_t> mask;
  std::vector<uint8_t> done, active;
  std::vector<float> progress;
  std::vector<int32_t> lifetime;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const nm::ObsBuffers& o, std::span<const float> reward,
                  std::span<const uint8_t> done, std::span<const uint8_t> active,
                  std::span<const nm::AgentTaskInfo> infos) {
  Snapshot s{to_vector(o.current_tick),
             to_vector(o.agent_id),
             to_vector(o.tile),
             to_vector(o.entity),
             to_vector(o.inventory),
             to_vector(o.market),
             to_vector(o.task),
             to_vector(reward),
             to_vector(o.action_mask),
             to_vector(done),
             to_vector(active),
             {},
             {}};
  for (const nm::AgentTaskInfo& info : infos) {
    s.progress.push_back(info.progress);
    s.lifetime.push_back(info.lifetime);
  }
  return s;
}

Snapshot snapshot(const nm::Env& e) {
  return snapshot(e.observations(), e.rewards(), e.dones(), e.active(), e.infos());
}

TEST(NmmoEnv, ResetWritesEveryAgentsObservation) {
  nm::Env env(small_options());
  env.reset(3);
  const nm::World& w = env.world();
  const nm::ObsBuffers& o = env.observations();
  const nm::ObsLayout& L = env.observer().layout();
  ASSERT_EQ(o.num_agents, 64);
  EXPECT_EQ(env.tick(), 0);
  EXPECT_EQ(o.tile.size(), 64u * 225 * 3);
  EXPECT_EQ(o.entity.size(), 64u * 100 * 31);
  EXPECT_EQ(o.market.size(), 64u * 1024 * 16);
  EXPECT_EQ(o.task.size(), 64u * nm::kTaskEncodingDim);
  EXPECT_EQ(o.action_mask.size(), 64u * 1586);
  EXPECT_GE(w.map_id, 1);
  EXPECT_LE(w.map_id, w.config.map_n);
  nm::TaskSpec stay;
  stay.predicate = nm::PredicateExpr::leaf(nm::PredicateId::kStayAlive);
  stay.task_cls = nm::TaskKind::kOngoing;
  const nm::TaskEncoding expected_task = nm::encode_task(stay);
  for (int i = 0; i < 64; ++i) {
    const nm::Entity& p = w.players[i];
    EXPECT_EQ(o.agent_id[i], i + 1);
    EXPECT_EQ(o.current_tick[i], 0);
    EXPECT_TRUE(env.active()[i]);
    EXPECT_EQ(env.dones()[i], 0);
    EXPECT_EQ(env.task_spec_index()[i], -1);
    // The agent's own tile is the window's centre; its own row is among the entities.
    const int16_t* tile = o.tile.data() + static_cast<size_t>(i) * L.tile_size() + 112 * 3;
    EXPECT_EQ(tile[0], p.row);
    EXPECT_EQ(tile[1], p.col);
    EXPECT_EQ(tile[2], static_cast<int>(w.material(p.row, p.col)));
    const std::span<const int32_t> ids = env.observer().entity_ids(i);
    const auto self = std::find(ids.begin(), ids.end(), i + 1);
    ASSERT_NE(self, ids.end()) << "agent " << i;
    const int16_t* row = o.entity.data() + static_cast<size_t>(i) * L.entity_size() +
                         (self - ids.begin()) * nm::kEntityCols;
    EXPECT_EQ(row[nm::kEntRow], p.row);
    EXPECT_EQ(row[nm::kEntCol], p.col);
    EXPECT_EQ(row[nm::kEntHealth], 100);
    const float* task = o.task.data() + static_cast<size_t>(i) * nm::kTaskEncodingDim;
    EXPECT_TRUE(std::equal(expected_task.begin(), expected_task.end(), task));
    // Stay is open on the spawn tile.
    EXPECT_EQ(o.action_mask[static_cast<size_t>(i) * L.mask_size() +
                            L.offset(ActionArg::kMoveDirection) + 4],
              1);
  }
}

TEST(NmmoEnv, StayAliveRewardsOnePerTickAndDeathMinusOne) {
  nm::Env env(small_options());
  env.reset(5);
  const nm::ObsLayout& L = env.observer().layout();
  const std::vector<int32_t> stay = stay_actions(L, 64);
  env.step(stay);
  EXPECT_EQ(env.tick(), 1);
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(env.world().players[i].alive);
    EXPECT_EQ(env.rewards()[i], 1.0f) << i;
    EXPECT_EQ(env.dones()[i], 0);
    EXPECT_EQ(env.infos()[i].progress, 1.0f);
    EXPECT_EQ(env.infos()[i].lifetime, 1);
    EXPECT_EQ(env.observations().current_tick[i], 1);
  }
  // Player 3 starves to death this tick: health 5, no food, no water (A6: -10 each).
  nm::Entity& p = env.mutable_world().players[2];
  p.health = 5;
  p.food = 0;
  p.water = 0;
  env.step(stay);
  EXPECT_FALSE(env.world().players[2].alive);
  EXPECT_EQ(env.rewards()[2], -1.0f);
  EXPECT_EQ(env.dones()[2], 1);
  EXPECT_EQ(env.active()[2], 1);
  EXPECT_EQ(env.infos()[2].lifetime, 2);
  EXPECT_EQ(env.rewards()[3], 1.0f);
  EXPECT_EQ(env.num_alive(), 63);
  // Its observation is nmmo's dummy one: id and tick, no window, only no-ops.
  const nm::ObsBuffers& o = env.observations();
  EXPECT_EQ(o.agent_id[2], 3);
  EXPECT_EQ(o.current_tick[2], 2);
  const int16_t* tile = o.tile.data() + 2 * L.tile_size();
  EXPECT_TRUE(std::all_of(tile, tile + L.tile_size(), [](int16_t v) { return v == 0; }));
  const int8_t* move =
      o.action_mask.data() + 2 * L.mask_size() + L.offset(ActionArg::kMoveDirection);
  EXPECT_THAT(std::vector<int>(move, move + 5), ::testing::ElementsAre(0, 0, 0, 0, 1));

  // Afterwards it is no longer reported on: reward 0, still done, not active.
  env.step(stay);
  EXPECT_EQ(env.rewards()[2], 0.0f);
  EXPECT_EQ(env.dones()[2], 1);
  EXPECT_EQ(env.active()[2], 0);
  EXPECT_EQ(env.infos()[2].lifetime, 2);
  EXPECT_EQ(env.infos()[3].lifetime, 3);
  EXPECT_EQ(env.rewards()[3], 1.0f);
}

TEST(NmmoEnv, FlatActionsReachTheRealm) {
  nm::Env env(small_options());
  env.reset(8);
  const nm::ObsLayout& L = env.observer().layout();
  // Player 2 stands on player 1's tile, both past spawn immunity: player 1 may attack it.
  nm::World& w = env.mutable_world();
  w.players[1].row = w.players[0].row;
  w.players[1].col = w.players[0].col;
  w.players[0].time_alive = w.players[1].time_alive = 30;
  env.refresh_observations();
  const std::span<const int32_t> ids = env.observer().entity_ids(0);
  const int row = static_cast<int>(std::find(ids.begin(), ids.end(), 2) - ids.begin());
  ASSERT_LT(row, static_cast<int>(ids.size()));
  const int8_t* attack = env.observations().action_mask.data() + L.offset(ActionArg::kAttackTarget);
  ASSERT_EQ(attack[row], 1);
  ASSERT_EQ(attack[L.size(ActionArg::kAttackTarget) - 1], 0);  // the no-op is masked out

  std::vector<int32_t> actions = stay_actions(L, 64);
  actions[static_cast<int>(ActionArg::kAttackTarget)] = row;
  actions[static_cast<int>(ActionArg::kAttackStyle)] = static_cast<int>(nm::Style::kRange);
  // Player 3 moves in its first open direction.
  const int8_t* move = env.observations().action_mask.data() + 2 * L.mask_size() +
                       L.offset(ActionArg::kMoveDirection);
  const int dir = static_cast<int>(std::find(move, move + 4, 1) - move);
  ASSERT_LT(dir, 4);
  actions[2 * nm::kNumActionArgs + static_cast<int>(ActionArg::kMoveDirection)] = dir;
  const int row3 = w.players[2].row, col3 = w.players[2].col;
  env.step(actions);

  EXPECT_EQ(env.world().players[2].row, row3 + nm::kDirRow[dir]);
  EXPECT_EQ(env.world().players[2].col, col3 + nm::kDirCol[dir]);
  int hits = 0;
  for (const nm::Event& e : env.world().events) {
    if (e.event == nm::EventCode::kScoreHit && e.ent_id == 1) {
      ++hits;
      EXPECT_EQ(e.type, nm::skill_event_id(nm::Skill::kRange));
    }
  }
  EXPECT_EQ(hits, 1);
  EXPECT_LT(env.world().players[1].health, 100);
}

TEST(NmmoEnv, SampledTasksRewardProgressAndCompletion) {
  nm::EnvOptions o = small_options();
  nm::TaskSpec never, tick4;
  never.predicate = nm::PredicateExpr::leaf(nm::PredicateId::kSuccess);
  never.sampling_weight = 0.0;  // never drawn
  tick4.predicate = nm::PredicateExpr::leaf(nm::PredicateId::kTickGE, {.num_tick = 4});
  o.task_specs = {never, tick4};
  nm::Env env(o);
  env.reset(6);
  const nm::TaskEncoding code = nm::encode_task(tick4);
  for (int i = 0; i < 64; ++i) {
    ASSERT_EQ(env.task_spec_index()[i], 1);
    const float* task = env.observations().task.data() + static_cast<size_t>(i) * code.size();
    ASSERT_TRUE(std::equal(code.begin(), code.end(), task)) << i;
  }
  ASSERT_EQ(env.tasks().size(), 64u);
  const std::vector<int32_t> stay = stay_actions(env.observer().layout(), 64);
  // TickGE(4) as a Task (A13.3): progress tick / 4, rewarded by its increase, 1 on completion.
  for (int t = 1; t <= 3; ++t) {
    env.step(stay);
    EXPECT_FLOAT_EQ(env.rewards()[7], 0.25f) << "tick " << t;
    EXPECT_FLOAT_EQ(env.infos()[7].progress, 0.25f * t);
    EXPECT_EQ(env.infos()[7].completed, 0);
  }
  nm::Entity& p = env.mutable_world().players[9];
  p.health = 1;
  p.food = p.water = 0;
  env.step(stay);
  EXPECT_FLOAT_EQ(env.rewards()[7], 1.0f);
  EXPECT_EQ(env.infos()[7].completed, 1);
  EXPECT_FLOAT_EQ(env.rewards()[9], -1.0f);  // death overrides the completion
  env.step(stay);
  EXPECT_FLOAT_EQ(env.rewards()[7], 0.0f);
  EXPECT_FLOAT_EQ(env.infos()[7].max_progress, 1.0f);
}

TEST(NmmoEnv, EveryoneIsDoneAtTheHorizon) {
  nm::Env env(small_options(/*horizon=*/4));
  env.reset(1);
  const std::vector<int32_t> stay = stay_actions(env.observer().layout(), 64);
  for (int t = 1; t <= 4; ++t) {
    ASSERT_FALSE(env.episode_done());
    env.step(stay);
    const int done = std::count(env.dones().begin(), env.dones().end(), uint8_t{1});
    EXPECT_EQ(done, t < 4 ? 64 - env.num_alive() : 64) << "tick " << t;
  }
  EXPECT_TRUE(env.episode_done());
  EXPECT_EQ(env.rewards()[0], 1.0f);  // alive at the horizon: the tick's reward, not -1
  EXPECT_THAT(stackgrad::testing::error_of([&] { env.step(stay); }), HasSubstr("episode is over"));
  env.reset(2);
  EXPECT_FALSE(env.episode_done());
  EXPECT_EQ(env.tick(), 0);
  EXPECT_EQ(env.dones()[0], 0);
}

TEST(NmmoEnv, EarlyStopEndsTheEpisodeWhenFewAreAlive) {
  nm::EnvOptions o = small_options();
  o.early_stop_agents = 62;
  nm::Env env(o);
  env.reset(4);
  const std::vector<int32_t> stay = stay_actions(env.observer().layout(), 64);
  env.step(stay);
  EXPECT_FALSE(env.episode_done());
  for (int i : {10, 20}) {
    nm::Entity& p = env.mutable_world().players[i];
    p.health = 1;
    p.food = p.water = 0;
  }
  env.step(stay);
  EXPECT_EQ(env.num_alive(), 62);
  EXPECT_TRUE(env.episode_done());
  EXPECT_TRUE(std::all_of(env.dones().begin(), env.dones().end(), [](uint8_t d) { return d; }));
}

TEST(NmmoEnv, SizesAndOrderOfCallsAreChecked) {
  nm::Env env(small_options());
  EXPECT_THAT(stackgrad::testing::error_of([&] { env.step(std::vector<int32_t>(64 * 12)); }),
              HasSubstr("reset() first"));
  env.reset(1);
  EXPECT_THAT(stackgrad::testing::error_of([&] { env.step(std::vector<int32_t>(64 * 12 - 1)); }),
              HasSubstr("expected 64 x 12"));
  EXPECT_THAT(stackgrad::testing::error_of([&] { env.step(std::vector<nm::AgentAction>(3)); }),
              HasSubstr("expected 64 actions"));
  EXPECT_THAT(stackgrad::testing::error_of([&] { env.reset(1, 7); }), HasSubstr("map_id"));
  nm::EnvOptions off = small_options();
  off.observations = false;
  nm::Env blind(off);
  blind.reset(1);
  EXPECT_TRUE(blind.observations().tile.empty());
  blind.step(std::vector<nm::AgentAction>(64));
  EXPECT_EQ(blind.tick(), 1);
  EXPECT_THAT(stackgrad::testing::error_of([&] { blind.step(std::vector<int32_t>(64 * 12)); }),
              HasSubstr("turned off"));
}

TEST(NmmoEnv, SameSeedSameEpisode) {
  nm::Env a(small_options()), b(small_options()), c(small_options());
  a.reset(9);
  b.reset(9);
  c.reset(10);
  EXPECT_EQ(snapshot(a), snapshot(b));
  stackgrad::envs::Rng ra(1), rb(1);
  bool differs = false;
  for (int t = 0; t < 20; ++t) {
    const std::vector<int32_t> act = random_actions(a.observations(), a.observer().layout(), ra);
    EXPECT_EQ(act, random_actions(b.observations(), b.observer().layout(), rb));
    a.step(act);
    b.step(act);
    ASSERT_EQ(snapshot(a), snapshot(b)) << "tick " << t + 1;
    c.step(stay_actions(c.observer().layout(), 64));
    differs |= !(snapshot(a) == snapshot(c));
  }
  EXPECT_TRUE(differs);
}

void expect_batch_equals_alone(int threads) {
  const int K = 3, steps = 70;
  const uint64_t seed = 21;
  nm::EnvOptions o = small_options(/*horizon=*/25);  // two auto-resets per env
  o.config.market_n_obs = 64;                        // less to copy and compare
  nm::BatchEnv batch(K, o, {.num_threads = threads, .auto_reset = true});
  batch.reset(seed);
  std::vector<std::unique_ptr<nm::Env>> alone;
  for (int k = 0; k < K; ++k) {
    alone.push_back(std::make_unique<nm::Env>(o));
    alone.back()->reset(seed + k);
  }
  const nm::ObsLayout& L = batch.layout();
  const int n = batch.agents_per_env();
  std::vector<int> episodes(K, 0);
  stackgrad::envs::Rng rng(77);
  int resets = 0;
  for (int t = 0; t < steps; ++t) {
    const std::vector<int32_t> actions = random_actions(batch.observations(), L, rng);
    batch.step(actions);
    for (int k = 0; k < K; ++k) {
      nm::Env& e = *alone[k];
      e.step(std::span<const int32_t>(actions).subspan(
          static_cast<size_t>(batch.offset(k)) * nm::kNumActionArgs,
          static_cast<size_t>(n) * nm::kNumActionArgs));
      const Snapshot stepped = snapshot(e);
      const bool ended = e.episode_done();
      ASSERT_EQ(batch.episode_done()[k], ended ? 1 : 0);
      if (ended) {
        ++episodes[k];
        ++resets;
        e.reset(seed + k + static_cast<uint64_t>(K) * episodes[k]);
      }
      // Per-step outputs from the step; observations from after the auto-reset.
      const Snapshot now = snapshot(e);
      const nm::ObsBuffers slice = batch.observations().slice(L, batch.offset(k), n);
      auto part = [&](auto s) { return s.subspan(batch.offset(k), n); };
      const Snapshot got = snapshot(slice, part(batch.rewards()), part(batch.dones()),
                                    part(batch.active()), part(batch.infos()));
      Snapshot want = now;
      want.reward = stepped.reward;
      want.done = stepped.done;
      want.active = stepped.active;
      want.progress = stepped.progress;
      want.lifetime = stepped.lifetime;
      ASSERT_EQ(got, want) << "env " << k << " step " << t << " threads " << threads;
      EXPECT_EQ(batch.episodes()[k], episodes[k]);
    }
  }
  EXPECT_EQ(resets, 2 * K);
  EXPECT_EQ(batch.last_length()[0], 25);
}

TEST(NmmoBatchEnv, OneThreadEqualsEnvsAlone) { expect_batch_equals_alone(1); }
TEST(NmmoBatchEnv, TwoThreadsEqualEnvsAlone) { expect_batch_equals_alone(2); }

TEST(NmmoBatchEnv, ResolvedActionsWithoutObservations) {
  nm::EnvOptions o = small_options(/*horizon=*/3);
  o.observations = false;
  nm::BatchEnv batch(2, o, {.num_threads = 2, .auto_reset = false});
  batch.reset(1);
  EXPECT_TRUE(batch.observations().market.empty());
  std::vector<nm::AgentAction> actions(batch.total_agents());
  for (int t = 0; t < 3; ++t) batch.step(actions);
  EXPECT_EQ(batch.episode_done()[0], 1);
  EXPECT_EQ(batch.env(1).tick(), 3);
  EXPECT_EQ(batch.rewards()[batch.offset(1) + 5], 1.0f);
  batch.step(actions);  // finished, no auto-reset: left alone
  EXPECT_EQ(batch.env(1).tick(), 3);
  EXPECT_EQ(batch.episode_done()[0], 0);
  EXPECT_THAT(stackgrad::testing::error_of([&] { batch.step(std::vector<nm::AgentAction>(5)); }),
              HasSubstr("expected 128 x 1"));
}

}  // namespace
