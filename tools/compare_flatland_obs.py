#!/usr/bin/env python3
"""Compare the C++ Tree-LSTM observation (envs/flatland/tree_obs.h) with the Tree-LSTM solution's
own feature parser, `flatland_cutils` of github RoboEden/flatland-marl, on recorded fixture episodes.

The reference is a pybind11 module over a flatland-rl 3.0.15 RailEnv. Build it once (outside this
repository) from flatland_cutils/src of that repository, e.g. with the venv of
tools/export_flatland_levels.py:

    /tmp/flvenv/bin/python -m pip install --target /tmp/pyb pybind11
    g++ -O1 -shared -fPIC -std=c++17 -I/tmp/pyb/pybind11/include \
        -I$(/tmp/flvenv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['include'])") \
        src/*.cpp -o flatland_cutils$(/tmp/flvenv/bin/python -c \
        "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")

Then, with the directory holding the module on PYTHONPATH:

    PYTHONPATH=<dir> /tmp/flvenv/bin/python tools/compare_flatland_obs.py \
        build/envs/test_flatland_obs tests/fixtures/flatland/r2t0_s1.json.gz [episode ...]

For each episode the level is rebuilt in flatland-rl from the level file (grid, trains, timetable,
malfunction schedule replayed), the recorded actions are played in both, and after reset and
every step all six outputs are compared for all trains (floats to 1e-6).
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from flatland.core.transition_map import GridTransitionMap
from flatland.core.grid.rail_env_grid import RailEnvTransitions
from flatland.envs.line_generators import BaseLineGen
from flatland.envs.malfunction_generators import Malfunction
from flatland.envs.rail_env import RailEnv
from flatland.envs.rail_generators import rail_from_grid_transition_map
from flatland.envs.step_utils.states import TrainState
from flatland.envs.timetable_utils import Line

import flatland_cutils

# The reference parses str(agent.state) as "TrainState.MOVING" (Python < 3.11); from 3.11 on str()
# of an IntEnum gives "3" and every train would read as WAITING. Restore the old spelling.
TrainState.__str__ = lambda self: f"TrainState.{self.name}"

M, D = 31, 500  # nodes, prediction depth: TreeObsForRailEnv(31, 500) as the solution


class FixedLine(BaseLineGen):
    def __init__(self, agents):
        super().__init__()
        self.agents = agents

    def generate(self, rail, num_agents, hints=None, num_resets=0, np_random=None):
        a = self.agents
        return Line(agent_positions=[tuple(x["initial_position"]) for x in a],
                    agent_directions=[x["initial_direction"] for x in a],
                    agent_targets=[tuple(x["target"]) for x in a],
                    agent_speeds=[x["speed"] for x in a])


class ScheduleMalfunctions:
    """Replays recorded draws [step, agent, duration] (the env asks once per agent and step)."""

    def __init__(self, schedule, env):
        self.draws = {(s, a): d for s, a, d in schedule}
        self.env, self.calls = env, 0

    def generate(self, np_random):
        n = self.env.get_num_agents()
        agent = self.calls % n
        self.calls += 1
        return Malfunction(self.draws.get((self.env._elapsed_steps, agent), 0))

    def get_process_data(self):
        return None


def make_env(level, schedule):
    h, w = level["height"], level["width"]
    grid = GridTransitionMap(width=w, height=h, transitions=RailEnvTransitions())
    grid.grid = np.array(level["grid"], dtype=np.uint16).reshape(h, w)
    env = RailEnv(width=w, height=h, number_of_agents=len(level["agents"]),
                  rail_generator=rail_from_grid_transition_map(grid),
                  line_generator=FixedLine(level["agents"]), random_seed=1)
    env.reset()
    env.malfunction_generator = ScheduleMalfunctions(schedule, env)
    for agent, spec in zip(env.agents, level["agents"]):
        agent.earliest_departure = spec["earliest_departure"]
        agent.latest_arrival = spec["latest_arrival"]
    env._max_episode_steps = level["max_episode_steps"]
    env.distance_map.get()
    return env


def reference_step(obs):
    attr, (forest, adjacency, node_order, edge_order) = obs.get_many(list(range(obs_n[0])))
    _, _, valid = obs.get_properties()
    return [np.array(attr, np.float32), np.array(forest, np.float32), np.array(adjacency, np.int32),
            np.array(node_order, np.int32), np.array(edge_order, np.int32), np.array(valid, np.uint8)]


obs_n = [0]


def compare(test_exe, level_path, episode):
    with gzip.open(level_path) if level_path.endswith(".gz") else open(level_path) as f:
        level = json.load(f)
    ep = level["episodes"][episode]
    n = len(level["agents"])
    obs_n[0] = n
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "obs.bin")
        subprocess.run([test_exe, "--gtest_also_run_disabled_tests", "--gtest_filter=*DumpEpisode*"],
                       check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, FLOBS_LEVEL=level_path, FLOBS_EPISODE=str(episode), FLOBS_OUT=out))
        raw = open(out, "rb").read()
    layout = [(np.float32, (n, 83)), (np.float32, (n, M, 12)), (np.int32, (n, M - 1, 3)),
              (np.int32, (n, M)), (np.int32, (n, M - 1)), (np.uint8, (n, 5))]
    names = ["agent_attr", "forest", "adjacency", "node_order", "edge_order", "valid_actions"]

    env = make_env(level, ep["malfunction_schedule"])
    obs = flatland_cutils.TreeObsForRailEnv(M, D)
    obs.set_env(env)
    obs.reset()
    pos, mismatches = 0, {}
    for step in range(len(ep["steps"]) + 1):
        ref = reference_step(obs)
        for name, (dtype, shape), r in zip(names, layout, ref):
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            ours = np.frombuffer(raw, dtype, int(np.prod(shape)), pos).reshape(shape)
            pos += size
            bad = ~np.isclose(ours, r, rtol=0, atol=1e-6) if dtype == np.float32 else ours != r
            if bad.any():
                first = mismatches.setdefault(name, [0, None])
                first[0] += int(bad.sum())
                if first[1] is None:
                    idx = tuple(int(i) for i in np.argwhere(bad)[0])
                    first[1] = (step, idx, ours[idx].item(), r[idx].item())
        if step == len(ep["steps"]):
            break
        env.step({i: a for i, a in enumerate(ep["steps"][step]["actions"])})
        got = [-1 if a.position is None else a.position[0] * env.width + a.position[1] for a in env.agents]
        assert got == ep["steps"][step]["pos"], f"Python replay diverged at step {step}"
    steps = len(ep["steps"]) + 1
    print(f"{os.path.basename(level_path)} episode {episode} ({ep['policy']}): {steps} observations, {n} trains: "
          + ("identical" if not mismatches else
             "; ".join(f"{k}: {c} values differ, first at (step, index) {s, i}: ours {o} ref {r}"
                       for k, (c, (s, i, o, r)) in mismatches.items())))
    return not mismatches


def main():
    test_exe, level_path = sys.argv[1], sys.argv[2]
    episodes = [int(e) for e in sys.argv[3:]] or [0, 1, 2, 3]
    ok = all([compare(test_exe, level_path, e) for e in episodes])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
