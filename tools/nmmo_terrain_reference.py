#!/usr/bin/env python3
"""Writes the Neural MMO 2.0 terrain fixtures (tests/fixtures/nmmo/terrain_*.json) with nmmo's
own terrain code, so envs/nmmo/terrain.cpp is checked against the real package
(tests/envs/test_nmmo_terrain.cpp).

Pinned environment (Python 3.10; nmmo 2.0.3 pins numpy 1.23.3, scipy 1.10.0, vec-noise 1.1.4).
vec-noise ships only a source archive whose setup.py imports numpy and sets
__builtins__.__NUMPY_SETUP__, which fails under pip's isolated PEP 517 build; it is therefore
built with the legacy setup.py path against the already installed numpy:

    python3.10 -m venv /tmp/nmmo-terrain-venv
    /tmp/nmmo-terrain-venv/bin/pip install numpy==1.23.3 scipy==1.10.0 "setuptools<70" wheel
    /tmp/nmmo-terrain-venv/bin/pip install --no-build-isolation --no-use-pep517 vec-noise==1.1.4
    /tmp/nmmo-terrain-venv/bin/pip install nmmo==2.0.3
    /tmp/nmmo-terrain-venv/bin/python tools/nmmo_terrain_reference.py tests/fixtures/nmmo

Outputs:
  terrain_snoise2.json  {"points": [[x, y, snoise2(x, y)], ...]} from vec_noise.snoise2 called
                        on arrays, as nmmo calls it (inputs cast to float32, float32 result).
  terrain_maps.json     {"maps": [{name, preset, map_n, map_id, flip_seed, rows, samples}]}:
                        rows is the material map of nmmo.core.terrain.Terrain.generate_terrain,
                        one string per row with the material index as a hex digit; samples are
                        [row, col, val] of the fractal value the thresholds were applied to.

generate_terrain is the fractal alone (noise, scale mask, thresholds, Void border, Grass and
Foilage rings); nmmo adds the profession resources afterwards in MapGenerator.generate_map via
spawn_profession_resources with the environment's numpy generator, so calling generate_terrain
directly gives the map before resources and no tile has to be stripped. Its map index is
0-based (map files are map{index + 1}); the fixtures name the 1-based id.
"""
import json
import os
import sys

import numpy as np
import vec_noise

import nmmo
from nmmo.core import terrain as nmmo_terrain


def snoise2_points():
    points = [
        (0.0, 0.0), (0.5, 0.25), (-0.5, 0.25), (0.25, -0.75), (-1.3, -2.7), (3.14159, 2.71828),
        (1e-3, -1e-3), (0.366, 0.634), (12.5, 7.125), (-12.5, -7.125),
        # nmmo's arguments: seed * size + freq * col, k * size + freq * row (A2.3)
        (160 + 0.125 * 37, 0 + 0.125 * 91), (640 + 0.125 * 159, 15 * 160 + 0.125 * 159),
        (-160 + 0.125 * 3, 2 * 160 + 0.125 * 80), (-20480 + 0.125 * 77, 7 * 160 + 0.125 * 12),
        (20480 + 0.125 * 159, 15 * 160 + 0.125 * 0), (64 + 31 / 32, 1 * 64 + 17 / 8),
        (-128 + 5 / 16, 3 * 64 + 63 / 4), (-64 * 4 + 10 / 32, 0 + 63 / 32),
        (160 * 128 + 101 / 4, 3 * 160 + 7 / 8), (-160 * 128 + 0.125, 160 * 15 + 19.875),
    ]
    rng = np.random.default_rng(20)
    for _ in range(15):
        points.append((float(rng.uniform(-50, 50)), float(rng.uniform(-50, 50))))
    for _ in range(15):  # large seed offsets, with the float32 rounding of big coordinates
        points.append((float(rng.integers(-300, 300) * 160 + rng.uniform(0, 20)),
                       float(rng.integers(0, 16) * 160 + rng.uniform(0, 20))))
    xs = np.array([p[0] for p in points], dtype=np.float64)
    ys = np.array([p[1] for p in points], dtype=np.float64)
    vals = vec_noise.snoise2(xs, ys)
    return [[float(x), float(y), float(v)] for x, y, v in zip(xs, ys, vals)]


def make_config(preset, map_n, flip_seed):
    base = {"small": nmmo.config.Small, "medium": nmmo.config.Medium}[preset]

    class TerrainConfig(base, nmmo.config.Terrain):
        MAP_N = map_n
        TERRAIN_FLIP_SEED = flip_seed

    return TerrainConfig()


def fractal_map(name, preset, map_n, map_id, flip_seed):
    config = make_config(preset, map_n, flip_seed)
    nmmo_terrain.MapGenerator(config)  # sets the Terrain.GRASS, ... material indices
    val, matl, _ = nmmo_terrain.Terrain.generate_terrain(config, map_id - 1, None)
    matl = np.asarray(matl, dtype=np.int64)
    size = config.MAP_SIZE
    assert matl.shape == (size, size) and matl.max() < 16
    rows = ["".join("%x" % m for m in row) for row in matl]
    step = max(1, size // 10)
    samples = [[r, c, float(val[r, c])] for r in range(1, size, step) for c in range(2, size, step)]
    return {"name": name, "preset": preset, "map_n": map_n, "map_id": map_id,
            "flip_seed": flip_seed, "rows": rows, "samples": samples}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures", "nmmo")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "terrain_snoise2.json"), "w") as f:
        json.dump({"points": snoise2_points()}, f, separators=(",", ":"))
        f.write("\n")
    maps = [fractal_map("small_%d" % m, "small", 4, m, False) for m in range(1, 5)]
    maps.append(fractal_map("medium_1", "medium", 4, 1, False))
    maps.append(fractal_map("medium_3", "medium", 4, 3, False))
    maps.append(fractal_map("medium_2_flipped", "medium", 4, 2, True))
    with open(os.path.join(out, "terrain_maps.json"), "w") as f:
        f.write('{"maps":[\n')
        for i, m in enumerate(maps):
            rows = m.pop("rows")
            head = json.dumps(m, separators=(",", ":"))[:-1]
            f.write(head + ',"rows":[\n' + ",\n".join('"%s"' % r for r in rows) + "]}")
            f.write(",\n" if i + 1 < len(maps) else "\n")
        f.write("]}\n")


if __name__ == "__main__":
    main()
