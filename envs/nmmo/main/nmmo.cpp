// nmmo: plays Neural MMO 2.0 episodes with built-in policies and reports survival, task
// completion and the 63-task evaluation score; writes PNG snapshots and replay files.
//
//   ./build/nmmo --policy forager --episodes 4 --threads 2
//   ./build/nmmo --eval --episodes 8 --threads 2           (the competition's protocol)
//   ./build/nmmo --map-size 32 --agents 64 --npcs 32 --horizon 128 --render /tmp/frames
//   ./build/nmmo --policy fighter --replay /tmp/ep.nmmo && ./build/nmmo --play /tmp/ep.nmmo
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/error.h"
#include "envs/common/json.h"
#include "envs/common/task_pool.h"
#include "envs/nmmo/evaluation.h"
#include "envs/nmmo/realm.h"
#include "envs/nmmo/render.h"
#include "envs/nmmo/replay.h"
#include "envs/nmmo/tasks/curriculum.h"
#include "envs/nmmo/tasks/task_spec.h"

namespace nmmo = stackgrad::nmmo;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string preset = "medium", policy = "mixed", tasks_file, render_dir, replay_out, play;
  std::string config_file;
  int map_size = -1, agents = -1, npcs = -1, horizon = -1, maps = -1;
  int episodes = 1, threads = 1, render_every = 64, tile_px = 4, track = 32;
  uint64_t seed = 1;
  bool eval = false;
};

struct EpisodeReport {
  uint64_t seed = 0;
  int map_id = 0, ticks = 0, alive = 0, players = 0;
  double mean_lifetime = 0.0, mean_npcs = 0.0, seconds = 0.0;
  uint64_t hash = 0;
  // By policy kind: players, summed lifetimes, alive at the end, and deaths by kind of killer.
  std::array<double, nmmo::kNumPolicyKinds> kind_players{}, kind_lifetime{}, kind_alive{};
  std::array<double, nmmo::kNumPolicyKinds> kind_killed_by_npc{}, kind_killed_by_player{};
  std::vector<int> task_spec;  // per task: the spec index, its max progress, completion
  std::vector<double> task_progress;
  std::vector<bool> task_completed;
};

nmmo::Config config_of(const Options& o) {
  nmmo::Config c = o.preset == "small" ? nmmo::Config::small() : nmmo::Config::medium();
  if (o.eval) {
    // The competition's evaluation (A16): 16 teams of 8, 128 NPCs, 1024 ticks, no resilient
    // agents, held-out maps (negated terrain seeds) from a set of 256.
    c = nmmo::Config::medium();
    c.player_n = 128;
    c.team_size = 8;
    c.npc_n = 128;
    c.horizon = 1024;
    c.resource_resilient_population = 0.0;
    c.terrain_flip_seed = true;
    c.map_n = 256;
  }
  if (!o.config_file.empty()) {
    std::ifstream in(o.config_file);
    SG_CHECK(in.good(), "--config: cannot open '", o.config_file, "'");
    std::stringstream text;
    text << in.rdbuf();
    c = nmmo::Config::from_json(stackgrad::envs::parse_json(text.str(), o.config_file),
                                o.config_file, c);
  }
  if (o.map_size > 0) c.map_center = o.map_size;
  if (o.agents > 0) c.player_n = o.agents;
  if (o.npcs >= 0) c.npc_n = o.npcs;
  if (o.horizon > 0) c.horizon = o.horizon;
  if (o.maps > 0) c.map_n = o.maps;
  c.validate();
  return c;
}

// Runs one episode with snapshots and a replay file as asked.
EpisodeReport play_episode(const nmmo::Config& config, const Options& o,
                           const std::vector<nmmo::TaskSpec>& specs, int index,
                           std::atomic<long>& ticks_done) {
  const auto t0 = std::chrono::steady_clock::now();
  EpisodeReport rep;
  rep.seed = o.seed + index;
  rep.map_id = 1 + static_cast<int>((rep.seed - 1) % config.map_n);
  nmmo::Episode ep(config, rep.seed, rep.map_id,
                   nmmo::policies_for(o.eval ? "mixed" : o.policy, config));
  if (!specs.empty()) {
    // Evaluation: the 63 tasks about equally often; a task file: nmmo's sampling by weight (A13.4).
    nmmo::Rng rng(nmmo::policy_seed(rep.seed, 0));
    rep.task_spec =
        o.eval ? nmmo::eval_task_picks(static_cast<int>(specs.size()), config.player_n, index, rng)
               : nmmo::sample_specs(specs, config.player_n, rng);
    std::vector<int32_t> agents(config.player_n);
    for (int i = 0; i < config.player_n; ++i) agents[i] = i + 1;
    ep.set_tasks(nmmo::make_agent_tasks(specs, rep.task_spec, agents));
  }
  std::unique_ptr<nmmo::ReplayWriter> replay;
  if (!o.replay_out.empty()) {
    replay = std::make_unique<nmmo::ReplayWriter>(o.replay_out, config, rep.seed, rep.map_id);
  }
  nmmo::Tracks tracks(o.track);
  auto snapshot = [&] {
    if (o.render_dir.empty()) return;
    tracks.record(ep.world());
    if (ep.world().tick % o.render_every != 0 && !ep.done()) return;
    char name[64];
    std::snprintf(name, sizeof name, "ep%03d_t%05d.png", index, ep.world().tick);
    stackgrad::envs::write_png(nmmo::render(ep.world(), {.tile_px = o.tile_px}, &tracks),
                               (fs::path(o.render_dir) / name).string());
  };
  snapshot();
  while (!ep.done()) {
    const auto& actions = ep.step();
    if (replay) replay->write_tick(actions);
    snapshot();
    ticks_done.fetch_add(1, std::memory_order_relaxed);
  }
  if (replay) replay->close();
  rep.ticks = ep.world().tick;
  rep.alive = ep.alive_players();
  rep.players = config.player_n;
  rep.mean_lifetime = ep.mean_lifetime();
  for (int id = 1; id <= config.player_n; ++id) {
    const int k = static_cast<int>(ep.policies()[id - 1]);
    const nmmo::Entity& p = ep.world().players[id - 1];
    rep.kind_players[k] += 1;
    rep.kind_lifetime[k] += ep.lifetime(id);
    rep.kind_alive[k] += p.alive;
    rep.kind_killed_by_npc[k] += !p.alive && p.killer_id < 0;
    rep.kind_killed_by_player[k] += !p.alive && p.killer_id > 0;
  }
  rep.mean_npcs = ep.mean_alive_npcs();
  rep.hash = nmmo::state_hash(ep.world());
  for (const nmmo::Task& t : ep.tasks()) {
    rep.task_progress.push_back(t.max_progress());
    rep.task_completed.push_back(t.completed());
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

// Task completion over all episodes, and the evaluation's weighted score (A13.7) when every
// spec belongs to one of its six categories.
void report_tasks(const std::vector<nmmo::TaskSpec>& specs,
                  const std::vector<EpisodeReport>& reports) {
  std::vector<std::vector<double>> progress(specs.size());
  int tasks = 0, completed = 0;
  double progress_sum = 0.0;
  for (const EpisodeReport& r : reports) {
    for (size_t k = 0; k < r.task_spec.size(); ++k) {
      progress[r.task_spec[k]].push_back(r.task_progress[k]);
      ++tasks;
      completed += r.task_completed[k];
      progress_sum += r.task_progress[k];
    }
  }
  int played = 0;
  for (const auto& p : progress) played += !p.empty();
  std::printf(
      "tasks: %d assigned (%d of %zu specs played), %.1f%% completed, mean max progress "
      "%.3f\n",
      tasks, played, specs.size(), 100.0 * completed / std::max(1, tasks),
      progress_sum / std::max(1, tasks));
  if (specs.size() <= 20) {  // a short list: one line per spec
    std::vector<int> done(specs.size(), 0);
    for (const EpisodeReport& r : reports) {
      for (size_t k = 0; k < r.task_spec.size(); ++k) done[r.task_spec[k]] += r.task_completed[k];
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      double mean = 0.0;
      for (double v : progress[i]) mean += v / progress[i].size();
      std::printf("  %-64s %4zu agents, %5.1f%% completed, mean max progress %.3f\n",
                  nmmo::spec_name(specs[i]).substr(0, 64).c_str(), progress[i].size(),
                  100.0 * done[i] / std::max<size_t>(1, progress[i].size()), mean);
    }
  }
  std::array<int, nmmo::kNumEvalCategories> per_category{};
  std::vector<int> category(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    try {
      category[i] = static_cast<int>(nmmo::eval_category(specs[i]));
    } catch (const stackgrad::Error&) {
      return;  // not an evaluation task set: no weighted score
    }
    ++per_category[category[i]];
  }
  std::array<double, nmmo::kNumEvalCategories> part{};
  for (size_t i = 0; i < specs.size(); ++i) {
    if (progress[i].empty()) continue;
    double mean = 0.0;
    for (double v : progress[i]) mean += v / progress[i].size();
    part[category[i]] += 100.0 / nmmo::kNumEvalCategories / per_category[category[i]] * mean;
  }
  std::printf("weighted task score: %.2f / 100 (%zu-task set)\n",
              nmmo::eval_weighted_score(specs, progress), specs.size());
  for (int c = 0; c < nmmo::kNumEvalCategories; ++c) {
    if (per_category[c] == 0) continue;
    std::printf("  %-12s %2d tasks  %5.2f / %.2f\n",
                std::string(nmmo::eval_category_name(static_cast<nmmo::EvalCategory>(c))).c_str(),
                per_category[c], part[c], 100.0 / nmmo::kNumEvalCategories);
  }
}

int play_replay_file(const Options& o) {
  const nmmo::Replay r = nmmo::read_replay(o.play);
  nmmo::World world;
  world.config = r.config;
  nmmo::reset(world, r.seed, r.map_id);
  nmmo::Tracks tracks(o.track);
  if (!o.render_dir.empty()) fs::create_directories(o.render_dir);
  auto snapshot = [&](bool last) {
    if (o.render_dir.empty()) return;
    tracks.record(world);
    if (world.tick % o.render_every != 0 && !last) return;
    char name[64];
    std::snprintf(name, sizeof name, "replay_t%05d.png", world.tick);
    stackgrad::envs::write_png(nmmo::render(world, {.tile_px = o.tile_px}, &tracks),
                               (fs::path(o.render_dir) / name).string());
  };
  snapshot(false);
  for (size_t t = 0; t < r.ticks.size(); ++t) {
    nmmo::step(world, r.ticks[t]);
    snapshot(t + 1 == r.ticks.size());
  }
  int alive = 0;
  for (const nmmo::Entity& p : world.players) alive += p.alive;
  std::printf("replay %s: seed %llu, map %d, %d ticks, %d/%d players alive, state hash %016llx\n",
              o.play.c_str(), static_cast<unsigned long long>(r.seed), r.map_id, world.tick, alive,
              r.config.player_n, static_cast<unsigned long long>(nmmo::state_hash(world)));
  return 0;
}

int run(const Options& o) {
  if (!o.play.empty()) return play_replay_file(o);
  SG_CHECK(o.replay_out.empty() || o.episodes == 1,
           "--replay records one episode; use --episodes 1 (got ", o.episodes, ")");
  SG_CHECK(o.tasks_file.empty() || !o.eval,
           "--eval uses the 63 evaluation tasks; do not give --tasks as well");
  const nmmo::Config config = config_of(o);
  std::vector<nmmo::TaskSpec> specs;
  if (o.eval) specs = nmmo::eval_tasks();
  if (!o.tasks_file.empty()) {
    specs = nmmo::read_task_specs_file(o.tasks_file);
    SG_CHECK(!specs.empty(), "--tasks: '", o.tasks_file, "' has no task specs");
  }
  nmmo::policies_for(o.policy, config);  // a bad --policy fails before any episode runs
  if (!o.render_dir.empty()) fs::create_directories(o.render_dir);

  std::printf("nmmo: %d episodes, %dx%d map, %d players, %d NPCs, horizon %d, policy %s%s\n",
              o.episodes, config.map_size(), config.map_size(), config.player_n, config.npc_n,
              config.horizon, o.eval ? "mixed (evaluation)" : o.policy.c_str(),
              o.eval ? ", held-out maps" : "");
  std::fflush(stdout);
  std::vector<EpisodeReport> reports(o.episodes);
  std::atomic<long> ticks_done{0};
  std::atomic<int> episodes_done{0};
  std::mutex print;
  const long ticks_total = static_cast<long>(o.episodes) * config.horizon;
  const bool tty = isatty(fileno(stderr));
  stackgrad::envs::TaskPool pool(std::max(0, o.threads - 1));
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    for (int k = 1; !finished.load(); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (!tty || finished.load() || k % 10 != 0) continue;
      std::lock_guard<std::mutex> lock(print);
      std::fprintf(stderr, "\r  %d/%d episodes, %ld/%ld ticks", episodes_done.load(), o.episodes,
                   ticks_done.load(), ticks_total);
    }
  });
  std::exception_ptr error;
  pool.run(o.episodes, [&](int e) {
    try {
      reports[e] = play_episode(config, o, specs, e, ticks_done);
    } catch (...) {
      std::lock_guard<std::mutex> lock(print);
      if (!error) error = std::current_exception();
      return;
    }
    const EpisodeReport& r = reports[e];
    std::lock_guard<std::mutex> lock(print);
    ++episodes_done;
    std::printf(
        "%sepisode %d (seed %llu, map %d): %d ticks, mean lifetime %.1f, alive %d/%d, "
        "NPCs %.1f, %.2f s\n",
        tty ? "\r" : "", e, static_cast<unsigned long long>(r.seed), r.map_id, r.ticks,
        r.mean_lifetime, r.alive, r.players, r.mean_npcs, r.seconds);
    std::fflush(stdout);
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  finished = true;
  progress.join();
  if (error) std::rethrow_exception(error);

  double lifetime = 0.0, alive = 0.0, agent_steps = 0.0;
  for (const EpisodeReport& r : reports) {
    lifetime += r.mean_lifetime / o.episodes;
    alive += double(r.alive) / r.players / o.episodes;
    agent_steps += r.mean_lifetime * r.players;  // steps of living players
  }
  std::printf("survival: mean lifetime %.1f ticks, alive at the end %.1f%%\n", lifetime,
              100.0 * alive);
  std::array<double, nmmo::kNumPolicyKinds> players{}, life{}, living{}, by_npc{}, by_player{};
  for (const EpisodeReport& r : reports) {
    for (int k = 0; k < nmmo::kNumPolicyKinds; ++k) {
      players[k] += r.kind_players[k], life[k] += r.kind_lifetime[k], living[k] += r.kind_alive[k];
      by_npc[k] += r.kind_killed_by_npc[k], by_player[k] += r.kind_killed_by_player[k];
    }
  }
  for (int k = 0; k < nmmo::kNumPolicyKinds; ++k) {
    if (players[k] == 0) continue;
    std::printf(
        "  %-12s %5.0f agents: mean lifetime %6.1f, alive %5.1f%%, killed by NPCs %5.1f%%, "
        "by players %5.1f%%\n",
        std::string(nmmo::policy_name(static_cast<nmmo::PolicyKind>(k))).c_str(), players[k],
        life[k] / players[k], 100.0 * living[k] / players[k], 100.0 * by_npc[k] / players[k],
        100.0 * by_player[k] / players[k]);
  }
  if (!specs.empty()) report_tasks(specs, reports);
  std::printf("speed: %.0f agent-steps (of living players) per second (%.2f s)\n",
              agent_steps / seconds, seconds);
  if (!o.replay_out.empty()) {
    std::printf("replay written to %s (state hash %016llx)\n", o.replay_out.c_str(),
                static_cast<unsigned long long>(reports[0].hash));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("nmmo: play Neural MMO 2.0 episodes with built-in policies", "nmmo");
  app.add_option("--preset", o.preset, "base configuration: medium (160x160, 128 agents) or small")
      ->check(CLI::IsMember({"medium", "small"}))
      ->capture_default_str();
  app.add_option("--config", o.config_file,
                 "JSON object of Config fields (names as in envs/nmmo/config.h) applied over the "
                 "preset; the flags below override it");
  app.add_option("--map-size", o.map_size, "side of the playable square (map_center), even")
      ->check(CLI::Range(16, 1024));
  app.add_option("--agents", o.agents, "players")->check(CLI::Range(1, 4096));
  app.add_option("--npcs", o.npcs, "NPCs")->check(CLI::Range(0, 4096));
  app.add_option("--horizon", o.horizon, "ticks per episode")->check(CLI::Range(1, 100000));
  app.add_option("--maps", o.maps, "maps in the set (map_n); episode seeds pick the map")
      ->check(CLI::Range(1, 100000));
  app.add_option("--policy", o.policy,
                 "random, forager, fighter, trader, mixed (teams of each), idle, random_move or "
                 "forager_rule")
      ->check(CLI::IsMember({"random", "forager", "fighter", "trader", "mixed", "idle",
                             "random_move", "forager_rule"}))
      ->capture_default_str();
  app.add_option("--tasks", o.tasks_file,
                 "task specs (JSON); each agent draws one by sampling_weight");
  app.add_flag("--eval", o.eval,
               "the competition protocol: 16 teams x 8 agents with mixed policies, the 63 "
               "evaluation tasks, held-out maps");
  app.add_option("--episodes", o.episodes, "episodes (seeds seed, seed+1, ...)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--seed", o.seed, "seed of the first episode")->capture_default_str();
  app.add_option("--threads", o.threads, "episodes played at once")->check(CLI::Range(1, 256));
  app.add_option("--render", o.render_dir, "write PNG snapshots into this directory");
  app.add_option("--render-every", o.render_every, "ticks between snapshots")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--tile-px", o.tile_px, "pixels per tile in snapshots")->check(CLI::Range(1, 32));
  app.add_option("--track", o.track, "ticks of path drawn behind each player")
      ->check(CLI::Range(1, 100000));
  app.add_option("--replay", o.replay_out, "write the episode's replay file");
  app.add_option("--play", o.play, "replay a file written by --replay (other flags ignored)");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nmmo: error: %s\n", e.what());
    return 1;
  }
}
