#!/usr/bin/env python3
"""Statistics of flatland-rl 3.0.15's sparse rail generator, to compare the C++ port against.

For each Round 2 parameter row, 20 seeds: mean number of cities, rail cells, switch cells
(more than 2 transitions), dead ends, and train stations. Writes JSON to stdout.
Same pinned environment as export_flatland_levels.py:

    /tmp/flvenv/bin/python tools/flatland_generator_stats.py > tests/fixtures/flatland/generator_stats.json
"""
import json
import warnings

import numpy as np
from flatland.envs.rail_generators import sparse_rail_generator

ROWS = [(30, 30, 2), (30, 30, 3), (30, 35, 3), (35, 30, 5), (45, 35, 7), (60, 60, 17)]
SEEDS = range(1, 21)


def main():
    warnings.simplefilter("ignore")
    out = []
    for width, height, cities in ROWS:
        stats = []
        for seed in SEEDS:
            gen = sparse_rail_generator(max_num_cities=cities, seed=seed, grid_mode=False,
                                        max_rails_between_cities=2, max_rail_pairs_in_city=2)
            rail, hints = gen.generate(width, height, 10, 0, None)
            grid = rail.grid
            bits = np.vectorize(lambda v: bin(int(v)).count("1"))(grid)
            stations = hints["agents_hints"]["train_stations"]
            stats.append([len(stations), int((grid > 0).sum()), int((bits > 2).sum()),
                          int((bits == 1).sum()), sum(len(s) for s in stations)])
        mean = np.mean(np.array(stats, dtype=float), axis=0)
        out.append({"width": width, "height": height, "max_num_cities": cities,
                    "seeds": len(SEEDS), "cities": mean[0], "rail_cells": mean[1],
                    "switch_cells": mean[2], "dead_ends": mean[3], "stations": mean[4]})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
