#!/usr/bin/env python3
"""Statistics of flatland-rl 3.0.15's sparse rail + line + timetable generators, to compare the
C++ port against (tests/envs/test_flatland_generator.cpp).

For each Round 2 parameter row, 20 seeds: mean number of cities, rail cells, switch cells (more
than 2 transitions), dead ends, train stations, and, with the row's number of trains, the mean
max_episode_steps and the mean shortest-path length of a train. Writes JSON to stdout.
Same pinned environment as export_flatland_levels.py:

    /tmp/flvenv/bin/python tools/flatland_generator_stats.py > tests/fixtures/flatland/generator_stats.json
"""
import json
import warnings

import numpy as np
from flatland.envs.line_generators import sparse_line_generator
from flatland.envs.rail_env import RailEnv
from flatland.envs.rail_env_shortest_paths import get_shortest_paths
from flatland.envs.rail_generators import sparse_rail_generator

# (agents, width, height, max cities): Round 2 tests 0, 2, 3, 4, 5, 8.
ROWS = [(7, 30, 30, 2), (20, 30, 30, 3), (50, 30, 35, 3), (80, 35, 30, 5), (80, 45, 35, 7),
        (80, 60, 60, 17)]
SEEDS = range(1, 21)
SPEEDS = {1.0: 0.25, 1.0 / 2.0: 0.25, 1.0 / 3.0: 0.25, 1.0 / 4.0: 0.25}


class Capture:
    def __init__(self, inner):
        self.inner, self.hints = inner, None

    def generate(self, *args):
        rail, self.hints = self.inner.generate(*args)
        return rail, self.hints


def main():
    warnings.simplefilter("ignore")
    out = []
    for agents, width, height, cities in ROWS:
        stats = []
        for seed in SEEDS:
            gen = Capture(sparse_rail_generator(max_num_cities=cities, seed=seed, grid_mode=False,
                                                max_rails_between_cities=2,
                                                max_rail_pairs_in_city=2))
            env = RailEnv(width=width, height=height, number_of_agents=agents, rail_generator=gen,
                          line_generator=sparse_line_generator(SPEEDS, seed=seed),
                          random_seed=seed)
            env.reset(random_seed=seed)
            grid = env.rail.grid
            bits = np.vectorize(lambda v: bin(int(v)).count("1"))(grid)
            stations = gen.hints["agents_hints"]["train_stations"]
            paths = get_shortest_paths(env.distance_map)
            lengths = [0 if p is None else len(p) for p in paths.values()]
            stats.append([len(stations), int((grid > 0).sum()), int((bits > 2).sum()),
                          int((bits == 1).sum()), sum(len(s) for s in stations),
                          env._max_episode_steps, np.mean(lengths)])
        mean = np.mean(np.array(stats, dtype=float), axis=0)
        out.append({"agents": agents, "width": width, "height": height, "max_num_cities": cities,
                    "seeds": len(SEEDS), "cities": mean[0], "rail_cells": mean[1],
                    "switch_cells": mean[2], "dead_ends": mean[3], "stations": mean[4],
                    "max_episode_steps": mean[5], "path_length": mean[6]})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
