// Cross-check against nmmo 2.0.3: the scenarios S1-S4 of docs/envs/nmmo_crosscheck.md (idle,
// random moves, random moves and attacks with 128 NPCs, the forager rule; Medium world, 128
// agents, maps 1..4, episode e on map (e-1) % 4 + 1 with seed e) run here, and every statistic
// is compared with the Python environment's in tests/fixtures/nmmo/reference_stats.json. The
// random streams differ between the two, so only statistics can agree. A table of both is
// printed.
//
// Episodes: nmmo's reference has 8 per scenario; here 32 (seeds 1..32, the four maps 8 times
// each), which costs about 2 s and leaves the reference's own spread as the main uncertainty.
// Profession resources: nmmo generated its four maps once, resources included; here each map's
// resources are drawn from a generator seeded by the map id, so every episode on a map has the
// same ones too, but not nmmo's layout: harvest rates may differ by map.
//
// Tolerance of a mean: the largest of 5% of the reference, three standard errors of the
// difference of the two means (each side's standard error from its seed-to-seed spread:
// per_seed in the fixture, our episodes here) and an absolute floor for small rates and
// fractions. Maps differ a lot (random agents live 47 to 74 ticks on average depending on
// the map), so for most statistics the standard-error term is the larger one.
//
// One rule differs on purpose (envs/nmmo/combat.cpp): nmmo's Attack does not check that its
// target is alive, so a hit on a player who starved in this tick's update (health 0, removed
// only at the end of the tick), or a further hit on an entity after its killing blow, logs one
// more PLAYER_KILL (and loots again); here such attacks are refused. S3's kill and death-cause
// statistics are therefore compared as recounted: count_hits_on_the_dead replays each tick's
// attacks in nmmo's order and adds the kills nmmo would have logged ("nmmo:" lines; the raw
// ones are printed as "our rule").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "envs/common/json.h"
#include "envs/common/task_pool.h"
#include "envs/nmmo/evaluation.h"

namespace nm = stackgrad::nmmo;

namespace {

constexpr int kEpisodes = 32;  // nmmo's reference: 8

struct Scenario {
  std::string name;
  nm::PolicyKind policy;
  int npc_n;
  int horizon;
};

const Scenario kScenarios[] = {
    {"S1", nm::PolicyKind::kIdle, 0, 256},
    {"S2", nm::PolicyKind::kRandomMove, 0, 256},
    {"S3", nm::PolicyKind::kRandom, 128, 256},
    {"S4", nm::PolicyKind::kForagerRule, 0, 512},
};

nm::Config protocol_config(const Scenario& s) {
  nm::Config c = nm::Config::medium();
  c.player_n = 128;
  c.map_n = 4;
  c.npc_n = s.npc_n;
  c.horizon = s.horizon;
  c.communication = false;
  c.death_fog_start = -1;
  c.resource_resilient_population = 0.0;
  c.combat_spawn_immunity = 20;
  return c;
}

// What one episode gives, per agent and summed.
struct EpisodeData {
  std::vector<double> lifetimes;
  int alive_at_horizon = 0;
  std::map<std::string, double> counts;  // event totals over the episode's players
  std::vector<double> go_farthest;       // per agent
  double mean_alive_npcs = 0.0;
  std::map<int32_t, int32_t> nmmo_killer;  // starved players a hit would have "killed" in nmmo
};

// One step, and what nmmo would have logged in it that our rules do not (see the file comment):
// nmmo's Attack does not check that its target is alive, so a hit on a player who starved in
// this tick's update (health 0, not yet removed), or on any entity after its killing blow,
// logs a PLAYER_KILL. Attacks run in player id order before the NPCs' (A4), at the positions of
// the previous tick; an attacker already dead at its turn is skipped.
void count_hits_on_the_dead(nm::Episode& ep, EpisodeData& d) {
  const nm::World& w = ep.world();
  struct Before {
    bool alive;
    int row, col, time_alive;
  };
  std::vector<Before> players;
  for (const nm::Entity& p : w.players) players.push_back({p.alive, p.row, p.col, p.time_alive});
  std::map<int32_t, std::pair<int, int>> npcs;
  for (const nm::Entity& n : w.npcs) npcs[n.id] = {n.row, n.col};
  const size_t first_event = w.events.size();
  const std::vector<nm::AgentAction>& actions = ep.step();

  std::map<int32_t, int32_t> killing_blow;  // target -> attacker, this tick
  for (size_t k = first_event; k < w.events.size(); ++k) {
    const nm::Event& ev = w.events[k];
    if (ev.event == nm::EventCode::kPlayerKill) killing_blow.emplace(ev.target_ent, ev.ent_id);
  }
  std::set<int32_t> dead;  // dead at this point of the attack phase
  for (size_t i = 0; i < players.size(); ++i) {
    const nm::Entity& p = w.players[i];
    if (players[i].alive && !p.alive && p.killer_id == 0) dead.insert(p.id);  // starved
  }
  const std::set<int32_t> starved = dead;
  for (size_t i = 0; i < players.size(); ++i) {
    const int32_t a = static_cast<int32_t>(i) + 1;
    const nm::AgentAction& act = actions[i];
    if (!players[i].alive || dead.count(a) || act.attack_style < 0 || act.attack_target == 0) {
      continue;
    }
    const int32_t t = act.attack_target;
    int row, col;
    if (t > 0 && t <= static_cast<int32_t>(players.size()) && players[t - 1].alive) {
      row = players[t - 1].row, col = players[t - 1].col;
      // Spawn immunity: the target's time_alive after this tick's update.
      if (players[t - 1].time_alive + 1 < w.config.combat_spawn_immunity) continue;
    } else if (t < 0 && npcs.count(t)) {
      std::tie(row, col) = npcs.at(t);
    } else {
      continue;
    }
    if (t == a || nm::chebyshev(players[i].row, players[i].col, row, col) > w.config.combat_reach) {
      continue;
    }
    if (dead.count(t)) {
      if (starved.count(t) && !d.nmmo_killer.count(t)) {
        d.nmmo_killer[t] = a;  // nmmo credits the starved player's death to this hit
        d.counts["nmmo_starved_then_hit"] += 1;
      } else {
        d.counts[t > 0 ? "nmmo_extra_player_kill" : "nmmo_extra_npc_kill"] += 1;
      }
    } else if (killing_blow.count(t) && killing_blow.at(t) == a) {
      dead.insert(t);
    }
  }
}

EpisodeData run_episode(const Scenario& s, int e) {
  const nm::Config c = protocol_config(s);
  nm::Episode ep(c, static_cast<uint64_t>(e), (e - 1) % 4 + 1,
                 std::vector<nm::PolicyKind>(c.player_n, s.policy));
  EpisodeData d;
  const nm::World& w = ep.world();
  // nmmo's loop runs on after the last death.
  while (w.tick < c.horizon) count_hits_on_the_dead(ep, d);
  d.go_farthest.assign(c.player_n, 0.0);
  for (int id = 1; id <= c.player_n; ++id) {
    d.lifetimes.push_back(ep.lifetime(id));
    const nm::Entity& p = w.players[id - 1];
    d.alive_at_horizon += p.alive;
  }
  // The killer as the reference takes it: the entity of the first PLAYER_KILL event naming the
  // player (nmmo 2.0 keeps no cause of death); later kill events of the same target are counted.
  std::map<int32_t, int32_t> killer;
  for (const nm::Event& ev : w.events) {
    if (ev.event != nm::EventCode::kPlayerKill || ev.target_ent <= 0) continue;
    if (!killer.emplace(ev.target_ent, ev.ent_id).second) d.counts["extra_kill_events"] += 1;
  }
  for (int id = 1; id <= c.player_n; ++id) {
    if (w.players[id - 1].alive) continue;
    const auto k = killer.find(id);
    d.counts[k == killer.end() ? "death_none" : k->second < 0 ? "death_npc" : "death_player"] += 1;
  }
  static const std::map<int, std::string> kHarvest = {
      {static_cast<int>(nm::ItemType::kRation), "ration"},
      {static_cast<int>(nm::ItemType::kPotion), "potion"},
      {static_cast<int>(nm::ItemType::kWhetstone), "whetstone"},
      {static_cast<int>(nm::ItemType::kArrow), "arrow"},
      {static_cast<int>(nm::ItemType::kRunes), "runes"}};
  static const char* kStyles[] = {"melee", "range", "mage"};
  for (const nm::Event& ev : w.events) {
    if (ev.ent_id <= 0) continue;
    switch (ev.event) {
      case nm::EventCode::kEatFood:
        d.counts["eat_food"] += 1;
        break;
      case nm::EventCode::kDrinkWater:
        d.counts["drink_water"] += 1;
        break;
      case nm::EventCode::kHarvestItem:
        if (kHarvest.count(ev.type)) d.counts["harvest_" + kHarvest.at(ev.type)] += 1;
        break;
      case nm::EventCode::kLevelUp:
        d.counts["level_up"] += 1;
        break;
      case nm::EventCode::kScoreHit:
        if (ev.type >= 1 && ev.type <= 3) {
          d.counts[std::string("hit_") + kStyles[ev.type - 1]] += 1;
          d.counts[std::string("damage_") + kStyles[ev.type - 1]] += ev.number;
        }
        break;
      case nm::EventCode::kPlayerKill:
        d.counts[ev.target_ent < 0 ? "kill_npc" : "kill_player"] += 1;
        break;
      case nm::EventCode::kGoFarthest: {
        double& best = d.go_farthest[ev.ent_id - 1];
        best = std::max(best, static_cast<double>(ev.number));
        break;
      }
      default:
        break;
    }
  }
  d.mean_alive_npcs = ep.mean_alive_npcs();
  return d;
}

double quantile(std::vector<double> v, double q) {  // numpy's default (linear)
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

// The protocol's statistics over a set of episodes (pooled).
std::map<std::string, double> statistics(const std::vector<EpisodeData>& eps, bool combat) {
  std::vector<double> life, farthest;
  std::map<std::string, double> counts;
  double alive = 0.0, npcs = 0.0;
  for (const EpisodeData& d : eps) {
    life.insert(life.end(), d.lifetimes.begin(), d.lifetimes.end());
    farthest.insert(farthest.end(), d.go_farthest.begin(), d.go_farthest.end());
    for (const auto& [k, v] : d.counts) counts[k] += v;
    alive += d.alive_at_horizon;
    npcs += d.mean_alive_npcs / eps.size();
  }
  const double agents = static_cast<double>(life.size());
  double sum = 0.0, sq = 0.0;
  for (double x : life) sum += x, sq += x * x;
  const double mean = sum / agents;
  std::map<std::string, double> s;
  s["lifetime_mean"] = mean;
  s["lifetime_std"] = std::sqrt(std::max(0.0, sq / agents - mean * mean));
  s["alive_at_horizon"] = alive / agents;
  s["lifetime_q10"] = quantile(life, 0.1);
  s["lifetime_q50"] = quantile(life, 0.5);
  s["lifetime_q90"] = quantile(life, 0.9);
  for (const char* k : {"eat_food", "drink_water", "harvest_ration", "harvest_potion",
                        "harvest_whetstone", "harvest_arrow", "harvest_runes", "level_up"}) {
    s[std::string("rate_") + k] = counts[k] / sum;
  }
  double far = 0.0;
  for (double x : farthest) far += x;
  s["go_farthest_mean"] = far / agents;
  if (combat) {
    for (const char* style : {"melee", "range", "mage"}) {
      const double hits = counts[std::string("hit_") + style];
      s[std::string("rate_score_hit_") + style] = hits / sum;
      s[std::string("mean_damage_") + style] =
          hits > 0 ? counts[std::string("damage_") + style] / hits : 0.0;
    }
    s["kills_npc_per_agent"] = counts["kill_npc"] / agents;
    s["kills_player_per_agent"] = counts["kill_player"] / agents;
    s["death_by_npc"] = counts["death_npc"] / agents;
    s["death_by_player"] = counts["death_player"] / agents;
    s["death_no_killer"] = counts["death_none"] / agents;
    s["extra_kill_events"] = counts["extra_kill_events"] / agents;
    // The same counted as nmmo logs them (hits on the dead, count_hits_on_the_dead).
    const double starved_hit = counts["nmmo_starved_then_hit"];
    s["nmmo:death_by_player"] = (counts["death_player"] + starved_hit) / agents;
    s["nmmo:death_no_killer"] = (counts["death_none"] - starved_hit) / agents;
    s["nmmo:extra_kill_events"] =
        (counts["extra_kill_events"] + counts["nmmo_extra_player_kill"]) / agents;
    s["nmmo:kills_player_per_agent"] =
        (counts["kill_player"] + starved_hit + counts["nmmo_extra_player_kill"]) / agents;
    s["nmmo:kills_npc_per_agent"] = (counts["kill_npc"] + counts["nmmo_extra_npc_kill"]) / agents;
    s["npc_alive_mean"] = npcs;
  }
  return s;
}

double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / v.size();
}

double sd_of(const std::vector<double>& v) {  // sample standard deviation
  if (v.size() < 2) return 0.0;
  const double m = mean_of(v);
  double s = 0.0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / (v.size() - 1));
}

// Absolute floors: rates below ~1e-3 per agent-tick are a handful of events per episode.
double floor_of(const std::string& key) {
  if (key.rfind("rate_", 0) == 0) return 2e-4;
  if (key.rfind("death_", 0) == 0 || key == "alive_at_horizon") return 0.01;
  if (key.rfind("kills_", 0) == 0 || key == "extra_kill_events") return 0.01;
  return 0.0;
}

class NmmoCrossCheck : public ::testing::TestWithParam<int> {};

TEST_P(NmmoCrossCheck, StatisticsMatchNmmo203) {
  const Scenario& sc = kScenarios[GetParam()];
  const std::string path = std::string(STACKGRAD_NMMO_FIXTURES) + "/reference_stats.json";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  // Without the fixture our numbers are still printed (then the test fails).
  const stackgrad::envs::JsonValue root = stackgrad::envs::parse_json(
      in.good() ? text.str() : R"({"episodes": 0, "scenarios": {}})", path);
  EXPECT_TRUE(in.good()) << "missing " << path;
  const stackgrad::envs::JsonValue& scenarios = root.at("scenarios");
  const stackgrad::envs::JsonValue ref =
      scenarios.has(sc.name) ? scenarios.at(sc.name) : stackgrad::envs::JsonValue{};

  std::vector<EpisodeData> eps(kEpisodes);
  stackgrad::envs::TaskPool pool(1);
  pool.run(kEpisodes, [&](int k) { eps[k] = run_episode(sc, k + 1); });
  const bool combat = sc.npc_n > 0;
  const std::map<std::string, double> ours = statistics(eps, combat);
  std::map<std::string, std::vector<double>> ours_per_seed;
  for (const EpisodeData& d : eps) {
    for (const auto& [k, v] : statistics({d}, combat)) ours_per_seed[k].push_back(v);
  }

  std::printf("\n%s  (%d episodes here, %lld in nmmo 2.0.3)\n", sc.name.c_str(), kEpisodes,
              root.at("episodes").as_int("episodes"));
  std::printf("%-28s %12s %12s %9s %10s\n", "statistic", "ours", "nmmo", "diff", "tolerance");
  int compared = 0;
  for (const auto& [key, value] : ours) {
    const bool recounted = key.rfind("nmmo:", 0) == 0;
    const std::string ref_key = recounted ? key.substr(5) : key;
    if (ref.is_null() || !ref.has(ref_key)) {
      std::printf("%-28s %12.6g %12s\n", key.c_str(), value, "-");
      continue;
    }
    const double r = ref.at(ref_key).as_double(ref_key);
    if (!recounted && ours.count("nmmo:" + key)) {
      // Our rule differs from nmmo's here; the recounted line below is compared.
      std::printf("%-28s %12.6g %12.6g %+9.3g %10s %s\n", key.c_str(), value, r, value - r, "",
                  "our rule");
      continue;
    }
    double se2 = 0.0;
    if (ref.has("per_seed") && ref.at("per_seed").has(ref_key)) {
      std::vector<double> seeds;
      for (const auto& v : ref.at("per_seed").at(ref_key).as_array(ref_key)) {
        seeds.push_back(v.as_double(ref_key));
      }
      se2 += std::pow(sd_of(seeds), 2) / seeds.size();
    }
    se2 += std::pow(sd_of(ours_per_seed[key]), 2) / kEpisodes;
    const double tol = std::max({0.05 * std::abs(r), 3.0 * std::sqrt(se2), floor_of(ref_key)});
    const bool ok = std::abs(value - r) <= tol;
    std::printf("%-28s %12.6g %12.6g %+9.3g %10.3g %s\n", key.c_str(), value, r, value - r, tol,
                ok ? "ok" : "DIFFERS");
    EXPECT_LE(std::abs(value - r), tol)
        << sc.name << " " << key << ": ours " << value << ", nmmo " << r;
    ++compared;
  }
  if (combat) {
    // The recount assumes our combat refuses attacks on dead targets; should it log them as
    // nmmo does, the raw lines are the ones to compare and the recount must go.
    EXPECT_EQ(ours.at("extra_kill_events"), 0.0) << "combat now logs hits on dead targets";
  }
  EXPECT_GE(compared, 10) << "the fixture names few of our statistics";
}

INSTANTIATE_TEST_SUITE_P(Scenarios, NmmoCrossCheck, ::testing::Range(0, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return kScenarios[info.param].name;
                         });

}  // namespace
