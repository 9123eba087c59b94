#!/usr/bin/env python3
"""Export Flatland 3 levels and step-by-step recorded episodes from flatland-rl 3.0.15.

The C++ environment in envs/flatland/ is checked against these recordings step for step
(tests/envs/test_flatland_replay.cpp). Every level is made by flatland-rl's own
sparse_rail_generator + sparse_line_generator + timetable generator; every episode records,
per step, the actions given and every agent's position, direction, state, reward, done flag
and malfunction counter after the step.

Pinned environment (Python 3.11; flatland-rl's own requirement list pulls in tox/pytest and
makes pip backtrack for a long time, so it is installed without its dependencies and only the
packages it imports are added):

    python3 -m venv /tmp/flvenv
    /tmp/flvenv/bin/pip download flatland-rl==3.0.15 --no-deps -d /tmp/fldl
    /tmp/flvenv/bin/pip install --no-deps /tmp/fldl/flatland_rl-3.0.15-py2.py3-none-any.whl
    /tmp/flvenv/bin/pip install numpy==1.23.5 networkx==2.8.8 msgpack==1.0.4 \
        msgpack-numpy==0.4.8 recordtype==1.4 importlib-resources==1.5.0 Pillow==9.5.0 \
        matplotlib==3.7.1 contourpy==1.0.7 pyglet==1.5.27 attrs==21.4.0 graphviz==0.19.1
    /tmp/flvenv/bin/pip install --no-deps gym==0.14.0

Rerun (writes tests/fixtures/flatland/*.json.gz and index.txt; about half an hour, mostly the
80-agent levels; an optional second argument exports only some rows, e.g. "small,r2t0"):

    /tmp/flvenv/bin/python tools/export_flatland_levels.py tests/fixtures/flatland

Episodes per level (the level's timetable is fixed; only the agents are reset between them):
  random        uniform random actions (with an occasional out-of-range action), no malfunctions
  shortest      greedy shortest-path actions from the distance map, no malfunctions
  shortest_mf   shortest-path actions, malfunctions on; the schedule [step, agent, duration] is
                recorded so the C++ side can replay it
  mixed_mf      shortest-path actions with 25% random ones, malfunctions on (schedule recorded)
  random_mf     random actions with malfunctions (levels of at most 20 agents only)

Round 2 evaluation levels (15 tests x 10 levels, spec B7), levels only, no episodes; each is
generated from its random_seed and re-timetabled by reset(random_seed=1001) as the evaluation
service does (tests and levels as ranges, default tests 0-4, all levels):

    /tmp/flvenv/bin/python tools/export_flatland_levels.py --round2 tests/fixtures/flatland/round2 0-4
"""
import gzip
import json
import os
import sys

import numpy as np
from flatland.envs.line_generators import sparse_line_generator
from flatland.envs.malfunction_generators import (MalfunctionParameters, NoMalfunctionGen,
                                                  ParamMalfunctionGen)
from flatland.envs.rail_env import RailEnv
from flatland.envs.rail_env_action import RailEnvActions
from flatland.envs.rail_env_shortest_paths import get_shortest_paths
from flatland.envs.rail_generators import sparse_rail_generator
from flatland.envs.step_utils.transition_utils import check_action, check_valid_action
from flatland.core.grid.grid4_utils import get_new_position

SPEEDS = {1.0: 0.25, 1.0 / 2.0: 0.25, 1.0 / 3.0: 0.25, 1.0 / 4.0: 0.25}

# (name, agents, width, height, cities, malfunction interval, seeds). Rows "r2t*" are the Flatland 3
# Round 2 test parameters (spec B7); the others add small and mid-sized grids.
CONFIGS = [
    ("small", 2, 25, 25, 2, 100, [1, 2, 3]),
    ("r2t0", 7, 30, 30, 2, 540, [1, 2, 3, 4]),
    ("r2t1", 10, 30, 30, 2, 900, [1, 2, 3]),
    ("r2t2", 20, 30, 30, 3, 1800, [1, 2, 3]),
    ("mid", 12, 40, 40, 4, 300, [1, 2]),
    ("wide", 6, 48, 26, 3, 200, [1, 2]),
    ("r2t3", 50, 30, 35, 3, 4500, [1, 2]),
    ("r2t4", 80, 35, 30, 5, 7200, [1, 2]),
    ("r2t5", 80, 45, 35, 7, 7200, [1]),
    ("r2t6", 80, 40, 60, 9, 7200, [1]),
    ("r2t8", 80, 60, 60, 17, 7200, [1]),
]
# Round 2 evaluation tests (spec B7): (agents, x_dim = width, y_dim = height, cities, malfunction
# interval, per-level random_seed). The seeds are those of the Round 2 parameter table that the
# Tree-LSTM solution ships (solution/debug-environments/parameters_flatland_round_2_new.csv).
ROUND2 = [
    (7, 30, 30, 2, 540, [
        8408636472040690524, 8949224446399036050, 1205070333558684351,
        3353857794784479529, 9304244271995910130, 4183414503763236641,
        40920127385794957, 2668383623481975592, 1951877488782495745,
        114116299434993422,
    ]),
    (10, 30, 30, 2, 900, [
        9159042998778328771, 10640802452011974117, 7281124286511351813,
        4366568835388281384, 6120315905862478255, 15589135834634776660,
        14347692757124868741, 1847210063051179480, 6537033911839079339,
        12872742300195633633,
    ]),
    (20, 30, 30, 3, 1800, [
        3488420181426728395, 290722672865989518, 12658014320622293405,
        11527376319606731693, 10670875148382238235, 17126434538757702750,
        2608957121814999779, 2127687816395018533, 2147104789737393273,
        17967430397194604465,
    ]),
    (50, 30, 35, 3, 4500, [
        8524649404651236810, 5831099084046133774, 8183111438155984881,
        8264791283060121154, 14181762642585193056, 9471307461258326889,
        10398511271069992909, 12463125243677631543, 850020328601348065,
        9059616543556241247,
    ]),
    (80, 35, 30, 5, 7200, [
        15396720275613351010, 4993850226898812572, 8526594763086442255,
        17796558181226363966, 6142490654292615341, 17676602461919513204,
        16028667675052194900, 4358708413628069048, 8114896100770083935,
        16703733794999251131,
    ]),
    (80, 45, 35, 7, 7200, [
        13092377444894282365, 3078016852403040379, 11871494441904870859,
        13474659349766270885, 17296574077616376040, 13227755387737867360,
        10381973511450046070, 17293009925771355008, 7576632470012901173,
        16650775642122025660,
    ]),
    (80, 40, 60, 9, 7200, [
        17538883281572140137, 2829457619769325404, 7030775319195645439,
        9272934625230708678, 5781805305807789292, 15920713167342480199,
        1422402455437402704, 14086348687200142477, 5465502424900354903,
        2071851424893600634,
    ]),
    (80, 60, 40, 13, 7200, [
        131374218090106898, 8544862931786862816, 11873933352762296283,
        8658215141060811, 14956335341104414376, 9335361703523087886,
        8356159963474149950, 10748590392279255533, 2662352180149589726,
        8180319240921345004,
    ]),
    (80, 60, 60, 17, 7200, [
        1515931298163714496, 4620103322755431470, 4554305228594398901,
        2560035633130728370, 10350171228532103771, 7294539148663173058,
        9980268087010225779, 3154716303785900296, 4546009858832663145,
        10573457052937329796,
    ]),
    (100, 80, 120, 21, 9000, [
        6682894626319107530, 16574309448745934197, 15816565729379862106,
        14026745104184180109, 3838548085645930732, 12652621335535656882,
        14727564778416352271, 12267476165624157093, 517381498520798023,
        9248578267132679606,
    ]),
    (100, 100, 80, 25, 9000, [
        16621821397374952382, 8858326884368659207, 17969552248298491354,
        18264114892372890489, 9027569389742031385, 1280244315963920777,
        14073874461834149768, 7828057975644287141, 4253938558845575876,
        4325358338903813509,
    ]),
    (200, 100, 100, 29, 18000, [
        13430646045488530881, 8927088360014706983, 11769779454113072051,
        10400391150741965525, 13204504043210070128, 3139074728916001791,
        11929602527905654535, 29706577645071256, 13499269195817157395,
        16631493057536570568,
    ]),
    (200, 150, 150, 33, 18000, [
        7955587003602841063, 5467185562619478607, 16114933056909724665,
        10646404448329404271, 903289667019364659, 16866217480698234395,
        5033250052097587738, 5686357693966293180, 1520426195594435872,
        8920445664743695137,
    ]),
    (400, 150, 150, 37, 36000, [
        1011315177796829434, 8777103202755216834, 8256226082259575368,
        3772772194455845423, 6570477223959520040, 13372671522977011390,
        14097723931454234233, 3396910099956354595, 10172946265699754905,
        17163556993158913314,
    ]),
    (425, 158, 158, 41, 36000, [
        3236172188896499918, 6234712498337380525, 7635496036548514281,
        221423253212125275, 15696605321969604229, 17322492320358489815,
        10913109382504974225, 3152055454475899214, 18214779934716503747,
        6848913827646882719,
    ]),
]
ROUND2_SPEEDS = {1.0: 0.25, 0.5: 0.25, 0.33: 0.25, 0.25: 0.25}  # as in that table: 0.33, not 1/3
EVALUATION_SEED = 1001  # flatland.evaluators.service RANDOM_SEED: reset() seed at evaluation

# Malfunctions are rare at the challenge's rates; the recorded "_mf" episodes use a rate ten times
# higher (interval / 10) so that every level sees several breakdowns. Durations are 20..50 as in
# the challenge, but shorter (3..12) for the small levels so trains recover within the episode.


class RecordingMalfunctionGen:
    """Wraps a malfunction generator and records every non-zero draw as [step, agent, steps]."""

    def __init__(self, inner, env):
        self.inner, self.env, self.calls, self.schedule = inner, env, 0, []

    def generate(self, np_random):
        m = self.inner.generate(np_random)
        n = self.env.get_num_agents()
        if m.num_broken_steps > 0:
            self.schedule.append([self.env._elapsed_steps, self.calls % n, int(m.num_broken_steps)])
        self.calls += 1
        return m

    def get_process_data(self):
        return self.inner.get_process_data()


class CapturingRailGen:
    """Wraps a rail generator and keeps its hints (the number of cities feeds the timetable)."""

    def __init__(self, inner):
        self.inner, self.optionals = inner, None

    def generate(self, *args):
        rail, self.optionals = self.inner.generate(*args)
        return rail, self.optionals


def shortest_action(env, agent):
    """The moving action whose next (cell, direction) is closest to the target, else STOP."""
    if agent.position is None:
        pos, d = agent.initial_position, agent.initial_direction
    else:
        pos, d = agent.position, agent.direction
    dist = env.distance_map.get()
    best, best_a = np.inf, 4
    for a in (2, 1, 3):
        act = RailEnvActions(a)
        if not check_valid_action(act, env.rail, pos, d):
            continue
        nd, _ = check_action(act, pos, d, env.rail)
        npos = get_new_position(pos, nd)
        v = dist[agent.handle, npos[0], npos[1], nd]
        if v < best:
            best, best_a = v, a
    return best_a


def run_episode(env, policy, rng, malfunction_gen):
    env.malfunction_generator = malfunction_gen
    env.reset(regenerate_rail=False, regenerate_schedule=False)
    # EnvAgent.reset() in 3.0.15 keeps arrival_time from the previous episode, which would keep
    # a train that arrived before from leaving the map; a fresh level has None here.
    for a in env.agents:
        a.arrival_time = None
    n = env.get_num_agents()
    W = env.width
    steps = []
    done_all = False
    while not done_all:
        actions = {}
        for a in env.agents:
            if policy == "random":
                act = int(rng.randint(0, 5)) if rng.rand() > 0.02 else 7
            elif policy == "mixed" and rng.rand() < 0.25:
                act = int(rng.randint(0, 5))
            else:
                act = shortest_action(env, a)
            actions[a.handle] = act
        _, rewards, dones, info = env.step(actions)
        done_all = bool(dones["__all__"])
        steps.append({
            "actions": [actions[i] for i in range(n)],
            "pos": [-1 if a.position is None else a.position[0] * W + a.position[1] for a in env.agents],
            "dir": [int(a.direction) for a in env.agents],
            "state": [int(a.state) for a in env.agents],
            "reward": [int(rewards[i]) for i in range(n)],
            "done": [int(bool(dones[i])) for i in range(n)],
            "malfunction": [int(a.malfunction_handler.malfunction_down_counter) for a in env.agents],
        })
    return steps


def export_level(name, n_agents, width, height, n_cities, interval, seed):
    rail_gen = CapturingRailGen(sparse_rail_generator(
        max_num_cities=n_cities, seed=seed, grid_mode=False, max_rails_between_cities=2,
        max_rail_pairs_in_city=2))
    env = RailEnv(width=width, height=height, number_of_agents=n_agents, rail_generator=rail_gen,
                  line_generator=sparse_line_generator(SPEEDS, seed=seed),
                  malfunction_generator=NoMalfunctionGen(), random_seed=seed)
    _, info = env.reset(random_seed=seed)
    paths = get_shortest_paths(env.distance_map)
    H, W = env.height, env.width
    level = {
        "format": "flatland3-level/1",
        "name": f"{name}_s{seed}",
        "generator": {"kind": "sparse_rail_generator+sparse_line_generator", "seed": seed,
                      "max_num_cities": n_cities, "max_rails_between_cities": 2,
                      "max_rail_pairs_in_city": 2, "grid_mode": False},
        "height": H, "width": W,
        "grid": [int(v) for v in env.rail.grid.reshape(-1)],
        "n_cities": len(rail_gen.optionals["agents_hints"]["city_positions"]),
        "max_episode_steps": int(env._max_episode_steps),
        "agents": [{
            "initial_position": [int(a.initial_position[0]), int(a.initial_position[1])],
            "initial_direction": int(a.initial_direction),
            "target": [int(a.target[0]), int(a.target[1])],
            "speed": float(a.speed_counter.speed),
            "earliest_departure": int(a.earliest_departure),
            "latest_arrival": int(a.latest_arrival),
            "shortest_path_length": 0 if paths[a.handle] is None else len(paths[a.handle]),
        } for a in env.agents],
    }
    small = n_agents <= 12
    mf = MalfunctionParameters(malfunction_rate=10.0 / interval, min_duration=3 if small else 20,
                               max_duration=12 if small else 50)
    level["malfunction"] = {"rate": mf.malfunction_rate, "min_duration": mf.min_duration,
                            "max_duration": mf.max_duration}
    episodes = []
    rng = np.random.RandomState(1000 + seed)
    runs = [("random", False), ("shortest", False), ("shortest", True), ("mixed", True)]
    if n_agents <= 20:  # kept to the smaller levels for export time and fixture size
        runs.append(("random", True))
    for policy, with_mf in runs:
        gen = RecordingMalfunctionGen(ParamMalfunctionGen(mf) if with_mf else NoMalfunctionGen(), env)
        steps = run_episode(env, policy, rng, gen)
        episodes.append({"policy": policy + ("_mf" if with_mf else ""),
                         "malfunction_schedule": gen.schedule, "steps": steps})
    level["episodes"] = episodes
    return level


def make_round2_env(test, level_idx):
    """One Round 2 evaluation level as a flatland RailEnv, made as the evaluation makes it.

    The level is generated from its random_seed and saved as flatland's pickle, then loaded
    back and reset with regenerate_rail/regenerate_schedule and random_seed=1001 as
    flatland.evaluators.service does: the rail and trains come from the file, the timetable
    (departure windows, max_episode_steps) is drawn again by that reset.
    """
    import tempfile
    from flatland.envs.persistence import RailEnvPersister
    n_agents, width, height, n_cities, interval, seeds = ROUND2[test]
    mf = MalfunctionParameters(malfunction_rate=1.0 / interval, min_duration=20, max_duration=50)
    env = RailEnv(width=width, height=height, number_of_agents=n_agents,
                  rail_generator=sparse_rail_generator(max_num_cities=n_cities, grid_mode=False,
                                                       max_rails_between_cities=2,
                                                       max_rail_pairs_in_city=2),
                  line_generator=sparse_line_generator(ROUND2_SPEEDS),
                  malfunction_generator=ParamMalfunctionGen(mf),
                  random_seed=seeds[level_idx])
    env.reset()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "level.pkl")
        RailEnvPersister.save(env, path, save_distance_maps=True)
        env, env_dict = RailEnvPersister.load_new(path)
        env.reset(regenerate_rail=True, regenerate_schedule=True, random_seed=EVALUATION_SEED)
    return env


def export_round2_level(test, level_idx):
    """The level of make_round2_env as a level-file dict (no episodes)."""
    n_agents, width, height, n_cities, interval, seeds = ROUND2[test]
    mf = MalfunctionParameters(malfunction_rate=1.0 / interval, min_duration=20, max_duration=50)
    env = make_round2_env(test, level_idx)
    paths = get_shortest_paths(env.distance_map)
    H, W = env.height, env.width
    return {
        "format": "flatland3-level/1",
        "name": f"Test_{test}_Level_{level_idx}",
        "generator": {"kind": "flatland3-round2-evaluation", "random_seed": seeds[level_idx],
                      "evaluation_reset_seed": EVALUATION_SEED, "max_num_cities": n_cities,
                      "max_rails_between_cities": 2, "max_rail_pairs_in_city": 2,
                      "grid_mode": False},
        "height": H, "width": W,
        "grid": [int(v) for v in env.rail.grid.reshape(-1)],
        "n_cities": n_cities,
        "max_episode_steps": int(env._max_episode_steps),
        "malfunction": {"rate": mf.malfunction_rate, "min_duration": mf.min_duration,
                        "max_duration": mf.max_duration},
        "agents": [{
            "initial_position": [int(a.initial_position[0]), int(a.initial_position[1])],
            "initial_direction": int(a.initial_direction),
            "target": [int(a.target[0]), int(a.target[1])],
            "speed": float(a.speed_counter.speed),
            "earliest_departure": int(a.earliest_departure),
            "latest_arrival": int(a.latest_arrival),
            "shortest_path_length": 0 if paths[a.handle] is None else len(paths[a.handle]),
        } for a in env.agents],
    }


def main_round2(out, tests, levels):
    """--round2 OUT [TESTS [LEVELS]]: writes OUT/Test_<t>_Level_<l>.json.gz (no episodes)."""
    os.makedirs(out, exist_ok=True)
    for test in tests:
        for level_idx in levels:
            level = export_round2_level(test, level_idx)
            path = os.path.join(out, level["name"] + ".json.gz")
            with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
                json.dump(level, f, separators=(",", ":"))
            print(f"{level['name']} {level['width']}x{level['height']} "
                  f"agents={len(level['agents'])} max_steps={level['max_episode_steps']} "
                  f"bytes={os.path.getsize(path)}", flush=True)


def parse_range(text, limit):
    """'0-4' or '0,2,5' or 'all' -> list of ints."""
    if text == "all":
        return list(range(limit))
    values = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        values.extend(range(int(lo), int(hi or lo) + 1))
    return values


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--round2":
        out = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/flatland/round2"
        tests = parse_range(sys.argv[3] if len(sys.argv) > 3 else "0-4", len(ROUND2))
        levels = parse_range(sys.argv[4] if len(sys.argv) > 4 else "all", 10)
        main_round2(out, tests, levels)
        return
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/flatland"
    only = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else None  # e.g. "r2t4,r2t5"
    os.makedirs(out, exist_ok=True)
    index = []
    for name, n_agents, width, height, n_cities, interval, seeds in CONFIGS:
        if only is not None and name not in only:
            continue
        for seed in seeds:
            level = export_level(name, n_agents, width, height, n_cities, interval, seed)
            path = os.path.join(out, level["name"] + ".json.gz")
            with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
                json.dump(level, f, separators=(",", ":"), default=int)
            n_steps = sum(len(e["steps"]) for e in level["episodes"])
            arrived = [sum(e["steps"][-1]["state"][i] == 6 for i in range(n_agents))
                       for e in level["episodes"]]
            index.append(f"{level['name']} {level['width']}x{level['height']} agents={n_agents} "
                         f"max_steps={level['max_episode_steps']} steps={n_steps} "
                         f"arrived={arrived} bytes={os.path.getsize(path)}")
            print(index[-1], flush=True)
    index_name = "index.txt" if only is None else "index_" + "_".join(sorted(only)) + ".txt"
    with open(os.path.join(out, index_name), "w") as f:
        f.write("\n".join(index) + "\n")


if __name__ == "__main__":
    main()
