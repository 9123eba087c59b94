// Terrain generation (spec A2.3, A2.4): nmmo's fractal of simplex noise, ported float for float,
// then the profession resources (ore, tree and crystal clusters, herbs, fish) placed with the
// episode's RNG.
//
//   std::vector<Material> m = generate_terrain(config, /*map_id=*/1);    // deterministic
//   const std::vector<Material>& same = cached_terrain(config, 1);       // generated once
//   place_profession_resources(world);   // uses world.rng (reset seeds it by the map id)
#pragma once

#include <vector>

#include "envs/nmmo/config.h"
#include "envs/nmmo/material.h"

namespace stackgrad::nmmo {

struct World;

// vec_noise 1.1.4's snoise2 (2-D simplex noise), which nmmo's terrain uses.
double snoise2(double x, double y);

// The material map of map `map_id` (1..config.map_n), row-major map_size x map_size, before
// the profession resources: Void border, Water / Grass / Foilage / Stone by the fractal.
std::vector<Material> generate_terrain(const Config& config, int map_id);

// The fractal value of every tile (row-major, in [0, 1]) that generate_terrain thresholds:
// <= terrain_water Water, <= terrain_grass Grass, <= terrain_foilage Foilage, else Stone.
std::vector<double> terrain_fractal(const Config& config, int map_id);

// generate_terrain, computed once per (terrain settings, map id) and kept for the process
// (thread-safe); maps are reused across episodes as nmmo loads its pre-generated map files.
const std::vector<Material>& cached_terrain(const Config& config, int map_id);

// Adds the Ore / Tree / Crystal clusters, Herbs and Fish to world.tiles (A2.4).
void place_profession_resources(World& world);

}  // namespace stackgrad::nmmo
