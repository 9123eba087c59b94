// The 16 tile materials of Neural MMO 2.0 and what each one allows (spec A2.1): which can be
// walked on, which are harvested (standing on them, or from a 4-neighbour for water and fish),
// what a harvested tile becomes and how likely it is to grow back each tick.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace stackgrad::nmmo {

enum class Material : uint8_t {
  kVoid = 0,
  kWater = 1,
  kGrass = 2,
  kScrub = 3,    // depleted Foilage
  kFoilage = 4,  // food: eaten by standing on it
  kStone = 5,
  kSlag = 6,  // depleted Ore
  kOre = 7,
  kStump = 8,  // depleted Tree
  kTree = 9,
  kFragment = 10,  // depleted Crystal
  kCrystal = 11,
  kWeeds = 12,  // depleted Herb
  kHerb = 13,
  kOcean = 14,  // depleted Fish
  kFish = 15,
};
inline constexpr int kNumMaterials = 16;

constexpr bool is_habitable(Material m) {
  return !(m == Material::kVoid || m == Material::kWater || m == Material::kStone ||
           m == Material::kOcean || m == Material::kFish);
}

// What a harvested tile turns into (itself when it never depletes or is not harvested).
constexpr Material depleted_form(Material m) {
  switch (m) {
    case Material::kFoilage:
      return Material::kScrub;
    case Material::kOre:
      return Material::kSlag;
    case Material::kTree:
      return Material::kStump;
    case Material::kCrystal:
      return Material::kFragment;
    case Material::kHerb:
      return Material::kWeeds;
    case Material::kFish:
      return Material::kOcean;
    default:
      return m;
  }
}

// The inverse: the resource a depleted tile grows back into (itself for other materials).
constexpr Material respawned_form(Material m) {
  switch (m) {
    case Material::kScrub:
      return Material::kFoilage;
    case Material::kSlag:
      return Material::kOre;
    case Material::kStump:
      return Material::kTree;
    case Material::kFragment:
      return Material::kCrystal;
    case Material::kWeeds:
      return Material::kHerb;
    case Material::kOcean:
      return Material::kFish;
    default:
      return m;
  }
}

constexpr std::array<std::string_view, kNumMaterials> kMaterialNames = {
    "Void",  "Water", "Grass",    "Scrub",   "Foilage", "Stone", "Slag",  "Ore",
    "Stump", "Tree",  "Fragment", "Crystal", "Weeds",   "Herb",  "Ocean", "Fish"};

constexpr std::string_view material_name(Material m) { return kMaterialNames[static_cast<int>(m)]; }

}  // namespace stackgrad::nmmo
