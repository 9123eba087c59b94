// bench_nmmo: agent-steps per second of the C++ Neural MMO env with random moves (scenario S2
// of the cross-check protocol: each live agent moves in a direction drawn uniformly among the
// open ones of North, South, East, West, Stay if none; nothing else), on the Medium world with
// 128 agents and 128 NPCs by default.
//
//   ./build/bench_nmmo --seconds 3 --envs 4 --out nmmo_bench.json
//
// Measurements, each for about --seconds of stepping:
//   single/no_obs   one Env, observations off, moves drawn from the map (Env::step timed)
//   single/obs      one Env, observations on, moves drawn from the Move mask, flat actions
//                   decoded by the env (Env::step timed: rules + decoding + observations)
//   obs_write       the observation write alone (Env::refresh_observations), per tick
//   batch/tN        BatchEnv of --envs envs with N = 1, 2 threads, observations on (auto-resets
//                   of finished episodes inside the timed steps)
// Agent-steps count the agents alive at the start of each tick (those nmmo steps and reports
// on); slot-steps count player_n per tick. Rates are given per wall second and per CPU-second
// of the process (= per core; less sensitive to other processes on the machine). Episodes end at
// the horizon or when everyone died (random walkers starve; --no-mortality sets the depletion rate
// to 0; --immortal is nmmo's IMMORTAL switch, which bench/peers/nmmo_python_bench.py's
// `immortal` variant uses, like the NMMO 2.0 paper's speed measurement). On a shared machine only
// the ratios between rows are reliable.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "envs/common/rng.h"
#include "envs/nmmo/batch_env.h"
#include "envs/nmmo/env.h"

namespace nm = stackgrad::nmmo;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of the whole process (all threads): steps per CPU-second are steps per core, and
// unlike wall time they hardly move when other processes share the cores.
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Result {
  std::string name;
  int envs = 1, threads = 1;
  long long ticks = 0, agent_steps = 0, slot_steps = 0, episodes = 0;
  double seconds = 0.0, cpu_seconds = 0.0;
  double agent_steps_per_s() const { return agent_steps / seconds; }
  double agent_steps_per_cpu_s() const { return agent_steps / cpu_seconds; }
  double ticks_per_s() const { return ticks / seconds; }
};

// S2's move for one agent, given which of the 5 directions are open.
int8_t random_move(const int8_t* open, stackgrad::envs::Rng& rng) {
  int dirs[4], n = 0;
  for (int d = 0; d < 4; ++d) {
    if (open[d]) dirs[n++] = d;
  }
  return static_cast<int8_t>(n ? dirs[rng.randint(0, n)] : static_cast<int>(nm::Direction::kStay));
}

// Moves from the map itself (the Move mask's rule), for runs without observations.
void moves_from_world(const nm::World& w, std::vector<nm::AgentAction>& out,
                      stackgrad::envs::Rng& rng) {
  for (size_t i = 0; i < w.players.size(); ++i) {
    const nm::Entity& p = w.players[i];
    out[i] = nm::AgentAction{};
    if (!p.alive) continue;
    int8_t open[4];
    for (int d = 0; d < 4; ++d) {
      const int r = p.row + nm::kDirRow[d], c = p.col + nm::kDirCol[d];
      open[d] = w.in_bounds(r, c) && nm::is_habitable(w.material(r, c));
    }
    out[i].move = random_move(open, rng);
  }
}

// Flat actions of `n` agents whose observations start at `obs`: a move from the Move mask,
// every other argument at its no-op.
void moves_from_masks(const nm::ObsBuffers& obs, const nm::ObsLayout& L, int first, int n,
                      std::span<int32_t> out, stackgrad::envs::Rng& rng) {
  for (int i = 0; i < n; ++i) {
    int32_t* a = out.data() + static_cast<size_t>(first + i) * nm::kNumActionArgs;
    for (int k = 0; k < nm::kNumActionArgs; ++k) a[k] = L.arg_size[k] - 1;
    a[static_cast<int>(nm::ActionArg::kAttackStyle)] = 0;
    a[static_cast<int>(nm::ActionArg::kGiveGoldPrice)] = 0;
    a[static_cast<int>(nm::ActionArg::kSellPrice)] = 0;
    const int8_t* m = obs.action_mask.data() + static_cast<size_t>(first + i) * L.mask_size() +
                      L.offset(nm::ActionArg::kMoveDirection);
    a[static_cast<int>(nm::ActionArg::kMoveDirection)] = random_move(m, rng);
  }
}

int count_active(std::span<const uint8_t> alive_before) {
  int n = 0;
  for (uint8_t a : alive_before) n += a;
  return n;
}

// Every argument drawn uniformly among the entries its mask allows (the no-op included): the
// Python peer's "immortal" policy, which exercises combat, items and the market.
void masked_actions(const nm::ObsBuffers& obs, const nm::ObsLayout& L, int first, int n,
                    std::span<int32_t> out, stackgrad::envs::Rng& rng) {
  int allowed[2048];
  for (int i = 0; i < n; ++i) {
    const int8_t* m = obs.action_mask.data() + static_cast<size_t>(first + i) * L.mask_size();
    int32_t* a = out.data() + static_cast<size_t>(first + i) * nm::kNumActionArgs;
    for (int k = 0; k < nm::kNumActionArgs; ++k) {
      int count = 0;
      for (int v = 0; v < L.arg_size[k]; ++v) {
        if (m[L.mask_offset[k] + v]) allowed[count++] = v;
      }
      a[k] = count ? allowed[rng.randint(0, count)] : 0;
    }
  }
}

struct Params {
  double seconds = 2.0;       // time-based runs
  int warmup = 0, ticks = 0;  // ticks > 0: one episode, `warmup` ticks untimed, then `ticks`
  int map = 1;
  bool masked = false;  // policy: masked (all arguments) instead of S2 moves
  uint64_t seed = 1;
  bool done(const Result& r, int measured) const {
    return ticks > 0 ? measured >= ticks : r.seconds >= seconds;
  }
};

void choose_actions(const Params& p, const nm::ObsBuffers& obs, const nm::ObsLayout& L, int first,
                    int n, std::span<int32_t> out, stackgrad::envs::Rng& rng) {
  if (p.masked) {
    masked_actions(obs, L, first, n, out, rng);
  } else {
    moves_from_masks(obs, L, first, n, out, rng);
  }
}

Result run_single(const nm::EnvOptions& options, const Params& p, double* write_us) {
  Result r;
  r.name = options.observations ? "single/obs" : "single/no_obs";
  nm::Env env(options);
  stackgrad::envs::Rng rng(p.seed + 1000);
  std::vector<nm::AgentAction> actions(env.num_agents());
  std::vector<int32_t> flat(static_cast<size_t>(env.num_agents()) * nm::kNumActionArgs);
  double write_seconds = 0.0;
  long long writes = 0;
  int measured = 0;
  for (uint64_t episode = 0; !p.done(r, measured); ++episode) {
    env.reset(p.seed + episode, p.map);
    ++r.episodes;
    for (int t = 0; !env.episode_done() && !p.done(r, measured); ++t) {
      int alive = 0;
      for (const nm::Entity& player : env.world().players) alive += player.alive;
      Clock::time_point t0;
      double c0 = 0.0;
      if (options.observations) {
        choose_actions(p, env.observations(), env.observer().layout(), 0, env.num_agents(), flat,
                       rng);
        c0 = cpu_now();
        t0 = Clock::now();
        env.step(std::span<const int32_t>(flat));
      } else {
        moves_from_world(env.world(), actions, rng);
        c0 = cpu_now();
        t0 = Clock::now();
        env.step(std::span<const nm::AgentAction>(actions));
      }
      const double dt = since(t0), dc = cpu_now() - c0;
      if (t < p.warmup) continue;
      r.seconds += dt;
      r.cpu_seconds += dc;
      ++r.ticks;
      ++measured;
      r.agent_steps += alive;
      r.slot_steps += env.num_agents();
      if (options.observations && write_us && r.ticks % 8 == 0) {
        const auto w0 = Clock::now();
        env.refresh_observations();
        write_seconds += since(w0);
        ++writes;
      }
    }
    if (p.ticks > 0) break;  // one episode, however far it got
  }
  if (write_us && writes) *write_us = 1e6 * write_seconds / writes;
  return r;
}

Result run_batch(const nm::EnvOptions& options, int envs, int threads, const Params& p) {
  Result r;
  r.name = "batch/t" + std::to_string(threads);
  r.envs = envs;
  r.threads = threads;
  nm::BatchEnv batch(envs, options, {.num_threads = threads, .auto_reset = true});
  batch.reset(p.seed);
  std::vector<stackgrad::envs::Rng> rngs;
  for (int k = 0; k < envs; ++k) rngs.emplace_back(p.seed + 1000 + k);
  std::vector<int32_t> flat(static_cast<size_t>(batch.total_agents()) * nm::kNumActionArgs);
  const int n = batch.agents_per_env();
  for (int t = 0; !p.done(r, t - p.warmup); ++t) {
    for (int k = 0; k < envs; ++k) {
      choose_actions(p, batch.observations(), batch.layout(), batch.offset(k), n, flat, rngs[k]);
    }
    const double c0 = cpu_now();
    const auto t0 = Clock::now();
    batch.step(std::span<const int32_t>(flat));
    const double dt = since(t0), dc = cpu_now() - c0;
    if (t < p.warmup) continue;
    r.seconds += dt;
    r.cpu_seconds += dc;
    r.ticks += envs;
    r.agent_steps += count_active(batch.active());
    r.slot_steps += batch.total_agents();
    for (uint8_t d : batch.episode_done()) r.episodes += d;
  }
  return r;
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  f >> one;
  return one.empty() ? "null" : one;
}

std::string to_json(const Result& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"name\":\"%s\",\"envs\":%d,\"threads\":%d,\"ticks\":%lld,\"agent_steps\":%lld,"
                "\"slot_steps\":%lld,\"episodes\":%lld,\"seconds\":%.4f,\"ticks_per_s\":%.1f,"
                "\"agent_steps_per_s\":%.1f,\"slot_steps_per_s\":%.1f,\"cpu_seconds\":%.4f,"
                "\"agent_steps_per_cpu_s\":%.1f}",
                r.name.c_str(), r.envs, r.threads, r.ticks, r.agent_steps, r.slot_steps, r.episodes,
                r.seconds, r.ticks_per_s(), r.agent_steps_per_s(), r.slot_steps / r.seconds,
                r.cpu_seconds, r.agent_steps_per_cpu_s());
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Params p;
  int envs = 4, agents = 128, npcs = 128, horizon = 1024;
  bool no_mortality = false, immortal = false;
  std::string policy = "s2", out;
  CLI::App app("bench_nmmo: agent-steps per second of the C++ Neural MMO env, random moves",
               "bench_nmmo");
  app.add_option("--seconds", p.seconds, "stepping time per measurement (without --ticks)");
  app.add_option("--ticks", p.ticks,
                 "measure this many ticks of one episode per row instead (per env for batches)");
  app.add_option("--warmup", p.warmup, "with --ticks: untimed ticks first");
  app.add_option("--map", p.map, "map id (MAP_N is 4, as in the cross-check protocol)")
      ->check(CLI::Range(1, 4));
  app.add_option("--policy", policy,
                 "s2 (random open moves) or masked (every argument random "
                 "among its mask; rows with observations only)")
      ->check(CLI::IsMember({"s2", "masked"}));
  app.add_option("--envs", envs, "envs of the BatchEnv runs");
  app.add_option("--agents", agents, "players (Medium: 128)");
  app.add_option("--npcs", npcs, "NPCs (Medium: 128)");
  app.add_option("--horizon", horizon, "ticks per episode (Medium: 1024)");
  app.add_option("--seed", p.seed, "seed of the episodes and the random actions");
  app.add_flag("--no-mortality", no_mortality,
               "no food or water depletion (agents still die in combat)");
  app.add_flag("--immortal", immortal,
               "nmmo's IMMORTAL switch: players take no damage, food and water stay full");
  app.add_option("--out", out, "also write the results to this JSON file");
  CLI11_PARSE(app, argc, argv);
  p.masked = policy == "masked";

  nm::EnvOptions options;
  options.config = nm::Config::medium();
  options.config.player_n = agents;
  options.config.npc_n = npcs;
  options.config.horizon = horizon;
  options.config.map_n = 4;
  if (no_mortality) options.config.resource_depletion_rate = 0;
  options.config.immortal = immortal;
  const std::string load_before = load_average();

  std::vector<Result> results;
  options.observations = false;
  results.push_back(run_single(options, p, nullptr));
  options.observations = true;
  double write_us = 0.0;
  results.push_back(run_single(options, p, &write_us));
  for (int threads : {1, 2}) results.push_back(run_batch(options, envs, threads, p));

  // The observation ratio compares like with like only under S2 (the no_obs row moves by S2).
  // Per CPU-second for the observation cost (robust to load), wall time for the thread scaling.
  const double obs_cost = results[0].agent_steps_per_cpu_s() / results[1].agent_steps_per_cpu_s();
  const double scaling = results[3].agent_steps_per_s() / results[2].agent_steps_per_s();
  std::ostringstream json;
  json << "{\"bench\":\"nmmo\",\"config\":{\"preset\":\"medium\",\"player_n\":" << agents
       << ",\"npc_n\":" << npcs << ",\"horizon\":" << horizon << ",\"map\":" << p.map
       << ",\"no_mortality\":" << (no_mortality ? "true" : "false")
       << ",\"immortal\":" << (immortal ? "true" : "false") << ",\"policy\":\"" << policy
       << "\",\"seed\":" << p.seed << ",\"ticks\":" << p.ticks << ",\"warmup\":" << p.warmup
       << "},\"hardware_threads\":" << std::thread::hardware_concurrency()
       << ",\"loadavg_before\":" << load_before << ",\"loadavg_after\":" << load_average()
       << ",\"obs_write_us_per_tick\":" << write_us << ",\"ratio_no_obs_over_obs\":";
  if (p.masked) {
    json << "null";
  } else {
    json << obs_cost;
  }
  json << ",\"ratio_2_threads_over_1_wall\":" << scaling << ",\"results\":[";
  for (size_t i = 0; i < results.size(); ++i) json << (i ? "," : "") << to_json(results[i]);
  json << "]}";
  std::printf("%s\n", json.str().c_str());
  for (const Result& r : results) {
    std::fprintf(stderr,
                 "%-14s envs %d threads %d: %9.0f agent-steps/s, %9.0f per CPU-s, %8.1f ticks/s "
                 "(%lld ticks)\n",
                 r.name.c_str(), r.envs, r.threads, r.agent_steps_per_s(),
                 r.agent_steps_per_cpu_s(), r.ticks_per_s(), r.ticks);
  }
  if (!out.empty()) {
    std::ofstream f(out);
    f << json.str() << "\n";
    if (!f) {
      std::fprintf(stderr, "bench_nmmo: cannot write %s\n", out.c_str());
      return 1;
    }
  }
  return 0;
}
