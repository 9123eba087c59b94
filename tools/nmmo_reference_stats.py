#!/usr/bin/env python3
"""Reference statistics of nmmo 2.0.3 (the Python package) for the cross-check of the C++ Neural
MMO (docs/envs/nmmo_crosscheck.md gives the protocol: scenarios S1-S4, the statistics, the JSON).

Needs the pinned environment of tools/nmmo_requirements.txt (outside the repository), e.g.

    /tmp/nmmo-venv/bin/python tools/nmmo_reference_stats.py \
        --out tests/fixtures/nmmo/reference_stats.json

Options: --episodes E (default 8), --scenarios S1,S3 (default all four; "none" runs only the
idle-lifetime sanity check). Progress goes to stderr. The fixture was made in parallel pieces:

    python tools/nmmo_reference_stats.py --scenarios S1,S2,S3 --out /tmp/a.json &
    python tools/nmmo_reference_stats.py --scenarios S4 --out /tmp/b.json &
    python tools/nmmo_reference_stats.py --scenarios none --out /tmp/c.json \
        --forager-cases tests/fixtures/nmmo/forager_cases.json
    python tools/nmmo_reference_stats.py --merge /tmp/a.json /tmp/b.json /tmp/c.json \
        --out tests/fixtures/nmmo/reference_stats.json

The four maps are generated once with nmmo's own MapGenerator into a temporary PATH_MAPS (the
profession resources of the maps draw from an RNG seeded with --map-seed, default 0); episode e
then resets with map ((e-1) % 4) + 1 and seed e. The scripted policies draw from their own numpy
RNG seeded with 1000 + e, so a rerun reproduces the file exactly.
"""
import argparse
import collections
import json
import os
import platform
import sys
import tempfile
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")
import nmmo  # noqa: E402  (gym prints a deprecation banner on import; the warnings filter is set first)
from nmmo.core import action as nmmo_action  # noqa: E402
from nmmo.core.terrain import MapGenerator  # noqa: E402
from nmmo.entity.entity import EntityState  # noqa: E402
from nmmo.lib import material, seeding  # noqa: E402
from nmmo.lib.event_log import EventAttr  # noqa: E402
from nmmo.lib.log import EventCode  # noqa: E402
from nmmo.systems import item as nmmo_item  # noqa: E402

# Move.Direction argument order of nmmo 2.0 (action.Direction.edges): North, South, East, West, Stay.
DIRECTIONS = [d.__name__ for d in nmmo_action.Direction.edges]
assert DIRECTIONS == ["North", "South", "East", "West", "Stay"], DIRECTIONS
STAY = 4
DELTAS = [d.delta for d in nmmo_action.Direction.edges]
STYLES = ["Melee", "Range", "Mage"]
assert [s.__name__ for s in nmmo_action.Style.edges] == STYLES

HARVEST_ITEMS = {"ration": nmmo_item.Ration.ITEM_TYPE_ID, "potion": nmmo_item.Potion.ITEM_TYPE_ID,
                 "whetstone": nmmo_item.Whetstone.ITEM_TYPE_ID, "arrow": nmmo_item.Arrow.ITEM_TYPE_ID,
                 "runes": nmmo_item.Runes.ITEM_TYPE_ID}
HABITABLE = np.zeros(16, dtype=bool)
HABITABLE[list(material.Habitable.indices)] = True
WATER = material.Water.index
FOILAGE = material.Foilage.index
ENT = EntityState.State.attr_name_to_col
EV = EventAttr

SCENARIOS = {
    "S1": dict(npc_n=0, horizon=256, policy="idle"),
    "S2": dict(npc_n=0, horizon=256, policy="random"),
    "S3": dict(npc_n=128, horizon=256, policy="combat"),
    "S4": dict(npc_n=0, horizon=512, policy="forager"),
}
RADIUS = 7
SIDE = 2 * RADIUS + 1


def make_config(path_maps, npc_n, horizon, force_generation=False):
    """The common configuration of the protocol on top of nmmo.config.Default (= Medium + all
    game systems)."""

    class CrossCheck(nmmo.config.Default):
        PATH_MAPS = path_maps
        MAP_N = 4
        MAP_FORCE_GENERATION = force_generation
        PLAYER_N = 128
        NPC_N = npc_n
        HORIZON = horizon
        COMMUNICATION_SYSTEM_ENABLED = False
        PLAYER_DEATH_FOG = None
        RESOURCE_RESILIENT_POPULATION = 0
        COMBAT_SPAWN_IMMUNITY = 20

    return CrossCheck()


def config_summary(config):
    keys = ["MAP_CENTER", "MAP_BORDER", "MAP_SIZE", "MAP_N", "PLAYER_N", "COMMUNICATION_SYSTEM_ENABLED",
            "PLAYER_DEATH_FOG", "RESOURCE_RESILIENT_POPULATION", "COMBAT_SPAWN_IMMUNITY",
            "RESOURCE_BASE", "RESOURCE_DEPLETION_RATE", "RESOURCE_STARVATION_RATE",
            "RESOURCE_DEHYDRATION_RATE", "RESOURCE_FOILAGE_RESPAWN", "PLAYER_VISION_RADIUS",
            "PLAYER_N_OBS", "NPC_LEVEL_MAX", "PROGRESSION_SPAWN_CLUSTERS", "PROGRESSION_SPAWN_UNIFORMS"]
    return {k: getattr(config, k) for k in keys}


# ----------------------------------------------------------------------------------------------
# Policies. Each gets the gym observation of one living agent and the policy RNG.


def random_move(obs, rng):
    """A direction drawn uniformly among N/S/E/W whose Move.Direction mask entry is 1; Stay if
    none."""
    mask = obs["ActionTargets"]["Move"]["Direction"]
    allowed = [d for d in range(4) if mask[d] == 1]
    if not allowed:
        return STAY
    return allowed[rng.integers(len(allowed))]


def check_move_mask(obs):
    """The Move.Direction mask must say exactly which of the 4 neighbours of the agent is a
    habitable tile (checked against the Tile observation: centre of the 15x15 window)."""
    tiles = obs["Tile"][:, 2].reshape(SIDE, SIDE)
    mask = obs["ActionTargets"]["Move"]["Direction"]
    for d, (dr, dc) in enumerate(DELTAS):
        assert mask[d] == int(HABITABLE[tiles[RADIUS + dr, RADIUS + dc]]), (d, mask)


def combat_action(agent_id, obs, rng, checks):
    """S3: a random move as S2, plus an attack on a target drawn uniformly among the valid rows of
    the Attack.Target mask (no-op row excluded) with a uniformly drawn style."""
    act = {"Move": {"Direction": random_move(obs, rng)}}
    target_mask = obs["ActionTargets"]["Attack"]["Target"]
    rows = np.flatnonzero(target_mask[:-1])
    if checks is not None:
        # The mask as nmmo defines it: rows of the Entity observation within Chebyshev distance 3
        # (COMBAT_*_REACH), not the agent itself, and no players while the agent is younger than
        # COMBAT_SPAWN_IMMUNITY; the no-op entry is 1 exactly when no row is valid.
        ents = obs["Entity"]
        n = int((ents[:, ENT["id"]] != 0).sum())
        me = ents[ents[:, ENT["id"]] == agent_id][0]
        ok = []
        for r in range(n):
            e = ents[r]
            dist = max(abs(int(e[ENT["row"]]) - int(me[ENT["row"]])),
                       abs(int(e[ENT["col"]]) - int(me[ENT["col"]])))
            young = me[ENT["time_alive"]] < 20 and e[ENT["id"]] > 0
            if dist <= 3 and e[ENT["id"]] != agent_id and not young:
                ok.append(r)
        assert list(rows) == ok, (rows, ok)
        assert target_mask[-1] == (0 if ok else 1)
        checks["attack_mask_checked"] += 1
    if len(rows) > 0:
        act["Attack"] = {"Style": int(rng.integers(3)), "Target": int(rows[rng.integers(len(rows))])}
    return act


def own_food_water(agent_id, obs):
    ents = obs["Entity"]
    me = ents[ents[:, ENT["id"]] == agent_id][0]
    return int(me[ENT["food"]]), int(me[ENT["water"]])


def forager_move(agent_id, obs, rng):
    """The forager rule of the protocol: its deterministic part, else a random move as in S2."""
    food, water = own_food_water(agent_id, obs)
    d = forager_direction(obs["Tile"][:, 2].reshape(SIDE, SIDE), food, water)
    return random_move(obs, rng) if d is None else d


def forager_direction(tiles, food, water):
    """Direction index of the forager rule for a 15x15 window of material ids, or None when no
    target is reachable."""
    passable = HABITABLE[tiles]
    if water <= food:
        is_water = tiles == WATER
        near = np.zeros_like(is_water)
        near[1:, :] |= is_water[:-1, :]
        near[:-1, :] |= is_water[1:, :]
        near[:, 1:] |= is_water[:, :-1]
        near[:, :-1] |= is_water[:, 1:]
        target = passable & near  # neighbours outside the window count as not water
    else:
        target = tiles == FOILAGE
    if target[RADIUS, RADIUS]:
        return STAY
    first = -np.ones((SIDE, SIDE), dtype=np.int64)  # first move (direction) of the BFS path
    seen = np.zeros((SIDE, SIDE), dtype=bool)
    seen[RADIUS, RADIUS] = True
    queue = collections.deque([(RADIUS, RADIUS)])
    while queue:
        r, c = queue.popleft()
        for d in range(4):
            dr, dc = DELTAS[d]
            nr, nc = r + dr, c + dc
            if not (0 <= nr < SIDE and 0 <= nc < SIDE) or seen[nr, nc] or not passable[nr, nc]:
                continue
            seen[nr, nc] = True
            first[nr, nc] = d if (r, c) == (RADIUS, RADIUS) else first[r, c]
            if target[nr, nc]:
                return int(first[nr, nc])
            queue.append((nr, nc))
    return None


def forager_cases(path_maps, out, count):
    """Exact test cases of the forager rule from S4 observations (map 1, seed 1, the S4 policy):
    every 8th tick, the living agents' windows; `tiles` is the 15x15 window row-major, one hex
    digit per material id; `move` is the direction index (0 N, 1 S, 2 E, 3 W, 4 Stay) or -1 for
    "no reachable target, random move". Cases with a fallback are kept preferentially."""
    env = nmmo.Env(make_config(path_maps, 0, 512))
    obs = env.reset(map_id=1, seed=1)
    rng = np.random.default_rng(1001)
    cases, fallback = [], []
    for tick in range(1, 257):
        actions = {}
        for agent_id in list(env.realm.players.keys()):
            o = obs[agent_id]
            food, water = own_food_water(agent_id, o)
            tiles = o["Tile"][:, 2].reshape(SIDE, SIDE)
            d = forager_direction(tiles, food, water)
            if tick % 8 == 1:
                case = {"tiles": "".join("%x" % m for m in tiles.ravel()), "food": food, "water": water,
                        "move": -1 if d is None else d}
                (fallback if d is None else cases).append(case)
            actions[agent_id] = {"Move": {"Direction": random_move(o, rng) if d is None else d}}
        obs, _, _, _ = env.step(actions)
    pick = fallback[: count // 4]
    step = max(1, len(cases) // (count - len(pick)))
    pick += cases[::step][: count - len(pick)]
    with open(out, "w") as f:
        json.dump({"nmmo_version": "2.0.3", "directions": DIRECTIONS, "cases": pick}, f, indent=0)
        f.write("\n")
    print(f"forager cases: {len(pick)} ({len(fallback)} fallbacks seen)", file=sys.stderr)


# ----------------------------------------------------------------------------------------------


def run_episode(env, scenario, episode, checks):
    spec = SCENARIOS[scenario]
    horizon = spec["horizon"]
    map_id = (episode - 1) % 4 + 1
    obs = env.reset(map_id=map_id, seed=episode)
    rng = np.random.default_rng(1000 + episode)
    players = env.realm.players
    n_players = env.config.PLAYER_N
    assert len(players) == n_players
    death_tick = {}
    npc_alive = []
    for tick in range(1, horizon + 1):
        actions = {}
        for agent_id in list(players.keys()):
            o = obs[agent_id]
            if checks is not None and checks["move_mask_checked"] < 20000:
                check_move_mask(o)
                checks["move_mask_checked"] += 1
            if spec["policy"] == "idle":
                continue
            if spec["policy"] == "random":
                actions[agent_id] = {"Move": {"Direction": random_move(o, rng)}}
            elif spec["policy"] == "combat":
                do_check = checks if checks["attack_mask_checked"] < 20000 else None
                actions[agent_id] = combat_action(agent_id, o, rng, do_check)
            else:
                actions[agent_id] = {"Move": {"Direction": forager_move(agent_id, o, rng)}}
        obs, _, dones, _ = env.step(actions)
        assert env.realm.tick == tick
        for agent_id in dones:
            if agent_id not in players and agent_id not in death_tick:
                death_tick[agent_id] = tick
        npc_alive.append(len(env.realm.npcs))

    # The player's own time_alive counter must agree with the tick of death we recorded.
    lifetimes = np.array([death_tick.get(a, horizon) for a in range(1, n_players + 1)], dtype=float)
    alive_at_end = np.array([a not in death_tick for a in range(1, n_players + 1)])
    for a in range(1, n_players + 1):
        if a in players:
            assert players[a].history.time_alive.val == horizon

    events = env.realm.event_log.get_data()
    ev_ent = events[:, EV["ent_id"]]
    ev_code = events[:, EV["event"]]
    is_player = ev_ent > 0
    agent_ticks = lifetimes.sum()

    def count(code, extra=None):
        sel = is_player & (ev_code == code)
        if extra is not None:
            sel &= extra
        return int(sel.sum())

    st = {}
    st["lifetime_mean"] = float(lifetimes.mean())
    st["lifetime_std"] = float(lifetimes.std())
    st["alive_at_horizon"] = float(alive_at_end.mean())
    for q in (10, 50, 90):
        st[f"lifetime_q{q}"] = float(np.percentile(lifetimes, q))
    st["rate_eat_food"] = count(EventCode.EAT_FOOD) / agent_ticks
    st["rate_drink_water"] = count(EventCode.DRINK_WATER) / agent_ticks
    for name, type_id in HARVEST_ITEMS.items():
        st[f"rate_harvest_{name}"] = count(EventCode.HARVEST_ITEM, events[:, EV["type"]] == type_id) / agent_ticks
    st["rate_level_up"] = count(EventCode.LEVEL_UP) / agent_ticks
    farthest = np.zeros(n_players + 1)
    sel = is_player & (ev_code == EventCode.GO_FARTHEST)
    np.maximum.at(farthest, ev_ent[sel].astype(int), events[sel, EV["number"]])
    st["go_farthest_mean"] = float(farthest[1:].mean())

    if scenario == "S3":
        for s, style in enumerate(STYLES, start=1):
            sel = is_player & (ev_code == EventCode.SCORE_HIT) & (events[:, EV["type"]] == s)
            st[f"rate_score_hit_{style.lower()}"] = int(sel.sum()) / agent_ticks
            st[f"mean_damage_{style.lower()}"] = float(events[sel, EV["number"]].mean()) if sel.any() else 0.0
        kills = ev_code == EventCode.PLAYER_KILL
        target = events[:, EV["target_ent"]]
        st["kills_npc_per_agent"] = int((kills & is_player & (target < 0)).sum()) / n_players
        st["kills_player_per_agent"] = int((kills & is_player & (target > 0)).sum()) / n_players
        # Killer of a player = the entity of the first PLAYER_KILL event naming it (event rows are
        # in recording order). A player whose health reached 0 by starvation/dehydration has no
        # such event unless someone hit it again before the cull (Attack does not check that the
        # target is alive): such a late hit is also recorded as a kill, and counted so here.
        killer = {}
        multi = 0
        for row in events[kills & (target > 0)]:
            t = int(row[EV["target_ent"]])
            if t in killer:
                multi += 1
                continue
            killer[t] = int(row[EV["ent_id"]])
        dead = [a for a in range(1, n_players + 1) if a in death_tick]
        n = float(n_players)
        st["death_by_npc"] = sum(1 for a in dead if killer.get(a, 0) < 0) / n
        st["death_by_player"] = sum(1 for a in dead if killer.get(a, 0) > 0) / n
        st["death_no_killer"] = sum(1 for a in dead if a not in killer) / n
        st["extra_kill_events"] = multi / n
        st["npc_alive_mean"] = float(np.mean(npc_alive))
    return st, lifetimes


def idle_death_ticks(path_maps):
    """Lifetime sanity against spec A6 (food and water 100, -5 per tick, so empty after tick 20;
    then -10 HP per empty resource per tick from tick 21; regeneration needs both above 50):
    idle agents away from water die at tick 25 (S1: every spawn tile is on the Grass ring, whose
    inner neighbours never are Water), idle agents next to Water (drinking every tick) at tick 30.
    The second case moves the 128 agents, right after reset, onto Grass tiles of map 1 that touch
    Water and no Fish."""
    env = nmmo.Env(make_config(path_maps, 0, 64))
    env.reset(map_id=1, seed=1)
    tiles = np.load(os.path.join(path_maps, "map1", "map.npy"))
    near = [(r, c) for r in range(17, 143) for c in range(17, 143)
            if tiles[r, c] == material.Grass.index
            and any(tiles[r + dr, c + dc] == WATER for dr, dc in DELTAS[:4])
            and not any(tiles[r + dr, c + dc] == material.Fish.index for dr, dc in DELTAS[:4])]
    picks = np.linspace(0, len(near) - 1, len(env.realm.players)).astype(int)
    for (agent_id, player), i in zip(env.realm.players.items(), picks):
        r, c = near[i]
        env.realm.map.tiles[player.pos].remove_entity(agent_id)
        player.row.update(r)
        player.col.update(c)
        env.realm.map.tiles[r, c].add_entity(player)
    death = {}
    for tick in range(1, 65):
        _, _, dones, _ = env.step({})
        for agent_id in dones:
            if agent_id not in env.realm.players:
                death.setdefault(agent_id, tick)
    events = env.realm.event_log.get_data()
    drinks = int((events[:, EV["event"]] == EventCode.DRINK_WATER).sum())
    return {"water_adjacent_death_ticks": sorted(set(death.values())),
            "water_adjacent_dead": len(death),
            "water_adjacent_drink_events_per_agent": drinks / len(death)}


def map_materials(path_maps):
    """Material counts of the generated maps (lets the C++ generator be compared as well)."""
    out = {}
    for m in range(1, 5):
        tiles = np.load(os.path.join(path_maps, f"map{m}", "map.npy"))
        counts = np.bincount(tiles.ravel().astype(int), minlength=16)
        out[f"map{m}"] = {mat.__name__: int(counts[mat.index]) for mat in sorted(material.All.materials,
                                                                                 key=lambda x: x.index)}
    return out


def merge(paths, out):
    """Several runs (e.g. S1-S3 and S4 in two processes) into one file; the runs must agree on
    everything but their scenarios."""
    merged = None
    for path in paths:
        with open(path) as f:
            part = json.load(f)
        if merged is None:
            merged = part
            continue
        for key in ("nmmo_version", "python", "episodes", "map_seed", "config", "map_materials"):
            assert part[key] == merged[key], f"{path}: {key} differs"
        for name, stats in part["scenarios"].items():
            assert name not in merged["scenarios"], f"{path}: {name} twice"
            merged["scenarios"][name] = stats
        for k, v in part["mask_checks"].items():
            merged["mask_checks"][k] += v
        if "idle_sanity" in part:
            merged["idle_sanity"] = part["idle_sanity"]
    merged["scenarios"] = dict(sorted(merged["scenarios"].items()))
    with open(out, "w") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--scenarios", default="S1,S2,S3,S4")
    ap.add_argument("--map-seed", type=int, default=0)
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="only merge the outputs of runs with disjoint --scenarios into --out")
    ap.add_argument("--forager-cases", metavar="JSON", help="also write exact forager-rule cases here")
    ap.add_argument("--horizon-scale", type=float, default=1.0, help="shorten horizons (smoke runs only)")
    args = ap.parse_args()
    if args.merge:
        merge(args.merge, args.out)
        return

    path_maps = tempfile.mkdtemp(prefix="nmmo_maps_")
    t0 = time.time()
    MapGenerator(make_config(path_maps, 0, 256, force_generation=True)).generate_all_maps(
        seeding.np_random(args.map_seed)[0])
    print(f"maps generated in {path_maps} ({time.time() - t0:.1f} s)", file=sys.stderr)

    result = {
        "nmmo_version": nmmo.__version__ if hasattr(nmmo, "__version__") else "2.0.3",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "episodes": args.episodes,
        "map_seed": args.map_seed,
        "policy_rng": "numpy default_rng(1000 + episode)",
        "config": config_summary(make_config(path_maps, 0, 256)),
        "map_materials": map_materials(path_maps),
        "scenarios": {},
    }
    if args.forager_cases:
        forager_cases(path_maps, args.forager_cases, 256)
    result["idle_sanity"] = idle_death_ticks(path_maps)
    print(f"idle sanity: {result['idle_sanity']}", file=sys.stderr, flush=True)
    checks = {"move_mask_checked": 0, "attack_mask_checked": 0}
    for scenario in [s for s in args.scenarios.split(",") if s in SCENARIOS]:
        spec = dict(SCENARIOS[scenario])
        spec["horizon"] = max(1, int(spec["horizon"] * args.horizon_scale))
        SCENARIOS[scenario] = spec
        env = nmmo.Env(make_config(path_maps, spec["npc_n"], spec["horizon"]))
        per_seed = collections.defaultdict(list)
        all_lifetimes = []
        t_scn = time.time()
        for e in range(1, args.episodes + 1):
            t_ep = time.time()
            st, lifetimes = run_episode(env, scenario, e, checks)
            all_lifetimes.append(lifetimes)
            for k, v in st.items():
                per_seed[k].append(v)
            print(f"{scenario} episode {e}/{args.episodes}: lifetime {st['lifetime_mean']:.1f} "
                  f"alive {st['alive_at_horizon']:.2f} ({time.time() - t_ep:.1f} s)", file=sys.stderr, flush=True)
        wall = time.time() - t_scn
        pooled = {}
        # Pooled statistics: lifetimes over all 128*E agents; rates as events / agent-ticks pooled
        # over the episodes (recomputed from per-episode numerators and denominators).
        ticks = np.array(per_seed["lifetime_mean"]) * 128
        for k, vals in per_seed.items():
            vals = np.array(vals)
            if k.startswith("rate_"):
                pooled[k] = float((vals * ticks).sum() / ticks.sum())
            elif k.startswith("mean_damage_"):
                style = k[len("mean_damage_"):]
                hits = np.array(per_seed[f"rate_score_hit_{style}"]) * ticks
                pooled[k] = float((vals * hits).sum() / hits.sum()) if hits.sum() > 0 else 0.0
            else:
                pooled[k] = float(vals.mean())
        lt = np.concatenate(all_lifetimes)
        pooled["lifetime_mean"] = float(lt.mean())
        pooled["lifetime_std"] = float(lt.std())
        for q in (10, 50, 90):
            pooled[f"lifetime_q{q}"] = float(np.percentile(lt, q))
        pooled["wall_time_s"] = round(wall, 1)
        pooled["horizon"] = spec["horizon"]
        pooled["npc_n"] = spec["npc_n"]
        pooled["per_seed"] = dict(per_seed)
        result["scenarios"][scenario] = pooled
        print(f"{scenario} done in {wall:.0f} s", file=sys.stderr, flush=True)
    result["mask_checks"] = checks
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
