#include "terrain.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <tuple>

#include "engine/core/error.h"
#include "envs/nmmo/world.h"

// Every floating-point step below repeats the order of operations of nmmo 2.0.3's
// Terrain.generate_terrain (numpy 1.23 float64) and of vec_noise 1.1.4's C noise2 (float32),
// so the fractal lands on the same side of every threshold. The library is compiled with
// -ffp-contract=off (envs/CMakeLists.txt): a fused a * b + c rounds once where Python rounds
// twice.

namespace stackgrad::nmmo {

namespace {

// ---- vec_noise 1.1.4 simplex noise (float32) --------------------------------------------------

// Ken Perlin's reference permutation, as vec_noise's PERM (which stores it twice; indices here
// are taken modulo 256 instead).
constexpr uint8_t kPerm[256] = {
    151, 160, 137, 91,  90,  15,  131, 13,  201, 95,  96,  53,  194, 233, 7,   225, 140, 36,  103,
    30,  69,  142, 8,   99,  37,  240, 21,  10,  23,  190, 6,   148, 247, 120, 234, 75,  0,   26,
    197, 62,  94,  252, 219, 203, 117, 35,  11,  32,  57,  177, 33,  88,  237, 149, 56,  87,  174,
    20,  125, 136, 171, 168, 68,  175, 74,  165, 71,  134, 139, 48,  27,  166, 77,  146, 158, 231,
    83,  111, 229, 122, 60,  211, 133, 230, 220, 105, 92,  41,  55,  46,  245, 40,  244, 102, 143,
    54,  65,  25,  63,  161, 1,   216, 80,  73,  209, 76,  132, 187, 208, 89,  18,  169, 200, 196,
    135, 130, 116, 188, 159, 86,  164, 100, 109, 198, 173, 186, 3,   64,  52,  217, 226, 250, 124,
    123, 5,   202, 38,  147, 118, 126, 255, 82,  85,  212, 207, 206, 59,  227, 47,  16,  58,  17,
    182, 189, 28,  42,  223, 183, 170, 213, 119, 248, 152, 2,   44,  154, 163, 70,  221, 153, 101,
    155, 167, 43,  172, 9,   129, 22,  39,  253, 19,  98,  108, 110, 79,  113, 224, 232, 178, 185,
    112, 104, 218, 246, 97,  228, 251, 34,  242, 193, 238, 210, 144, 12,  191, 179, 162, 241, 81,
    51,  145, 235, 249, 14,  239, 107, 49,  192, 214, 31,  181, 199, 106, 157, 184, 84,  204, 176,
    115, 121, 50,  45,  127, 4,   150, 254, 138, 236, 205, 93,  222, 114, 67,  29,  24,  72,  243,
    141, 128, 195, 78,  66,  215, 61,  156, 180};

int perm(int i) { return kPerm[i & 255]; }

// The x and y components of the 12 gradients of 3-D simplex noise, which the 2-D noise
// indexes with (hash % 12).
constexpr float kGrad[12][2] = {{1, 1}, {-1, 1}, {1, -1}, {-1, -1}, {1, 0}, {-1, 0},
                                {1, 0}, {-1, 0}, {0, 1},  {0, -1},  {0, 1}, {0, -1}};

// Skew and unskew factors, spelled as vec_noise spells them (float literals).
constexpr float kF2 = 0.3660254037844386f;   // (sqrt(3) - 1) / 2
constexpr float kG2 = 0.21132486540518713f;  // (3 - sqrt(3)) / 6

float simplex_noise2(float x, float y) {
  const float s = (x + y) * kF2;
  const float i = std::floor(x + s);
  const float j = std::floor(y + s);
  const float t = (i + j) * kG2;
  float xx[3], yy[3];
  xx[0] = x - (i - t);
  yy[0] = y - (j - t);
  // Which of the two triangles of the skewed cell the point is in.
  const int i1 = xx[0] > yy[0];
  const int j1 = xx[0] <= yy[0];
  xx[2] = xx[0] + kG2 * 2.0f - 1.0f;
  yy[2] = yy[0] + kG2 * 2.0f - 1.0f;
  xx[1] = xx[0] - static_cast<float>(i1) + kG2;
  yy[1] = yy[0] - static_cast<float>(j1) + kG2;
  // (int) of a negative float truncates; & 255 then wraps it like the C code does.
  const int ii = static_cast<int>(i) & 255, jj = static_cast<int>(j) & 255;
  const int g[3] = {perm(ii + perm(jj)) % 12, perm(ii + i1 + perm(jj + j1)) % 12,
                    perm(ii + 1 + perm(jj + 1)) % 12};
  float noise[3] = {0.0f, 0.0f, 0.0f};
  for (int c = 0; c < 3; ++c) {
    const float f = 0.5f - xx[c] * xx[c] - yy[c] * yy[c];
    if (f > 0) noise[c] = f * f * f * f * (kGrad[g[c]][0] * xx[c] + kGrad[g[c]][1] * yy[c]);
  }
  return (noise[0] + noise[1] + noise[2]) * 70.0f;
}

// ---- numpy 1.23 float64 building blocks ----------------------------------------------------

// np.linspace(start, stop, num) (endpoint included): i * step + start, the last one = stop.
std::vector<double> numpy_linspace(double start, double stop, int num) {
  std::vector<double> y(static_cast<size_t>(num));
  const double delta = stop - start;
  const int div = num - 1;
  if (div > 0) {
    const double step = delta / div;
    for (int i = 0; i < num; ++i) {
      const double k = static_cast<double>(i);
      y[i] = (step == 0 ? k / div * delta : k * step) + start;
    }
    y[num - 1] = stop;
  } else if (num == 1) {
    y[0] = 0.0 * delta + start;
  }
  return y;
}

// np.logspace(start, stop, num, base): base ** linspace(start, stop, num).
std::vector<double> numpy_logspace(double start, double stop, int num, double base) {
  std::vector<double> y = numpy_linspace(start, stop, num);
  for (double& v : y) v = std::pow(base, v);
  return y;
}

// numpy's pairwise summation (8 accumulators up to 128 values, halves above), which every add
// reduction of float64 uses inside one inner loop.
double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.0;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - n % 8; i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// np.sum of a contiguous float64 array: the iterator hands the add loop blocks of its buffer
// size (8192 elements), each summed pairwise and added in turn to the initial 0.
double numpy_sum(const std::vector<double>& a) {
  constexpr size_t kBlock = 8192;
  double total = 0.0;
  for (size_t begin = 0; begin < a.size(); begin += kBlock) {
    total += pairwise_sum(a.data() + begin, std::min(kBlock, a.size() - begin));
  }
  return total;
}

// np.std (ddof 0): mean, squared deviations, their mean, square root.
double numpy_std(const std::vector<double>& a) {
  const double n = static_cast<double>(a.size());
  const double mean = numpy_sum(a) / n;
  std::vector<double> sq(a.size());
  for (size_t i = 0; i < a.size(); ++i) sq[i] = (a[i] - mean) * (a[i] - mean);
  return std::sqrt(numpy_sum(sq) / n);
}

// scipy.stats.norm.pdf(x, 0, sigma) as scipy 1.10 computes it: exp(-z**2 / 2) / sqrt(2 pi) / sigma.
double normal_pdf(double x, double sigma) {
  static const double kSqrt2Pi = std::sqrt(2 * std::numbers::pi);
  const double z = (x - 0.0) / sigma;
  return std::exp(-(z * z) / 2.0) / kSqrt2Pi / sigma;
}

void check_terrain_config(const Config& config, int map_id) {
  config.validate();
  SG_CHECK(map_id >= 1 && map_id <= config.map_n,
           "nmmo terrain: map_id must be in [1, map_n = ", config.map_n, "], got ", map_id);
}

}  // namespace

double snoise2(double x, double y) {
  // vec_noise casts its float64 inputs to float32 and returns float32. With snoise2's defaults
  // (one octave, base 0) it adds the base 0.0f to both coordinates (which turns -0 into +0)
  // and divides by the octave weight 1.0f (which changes nothing).
  return simplex_noise2(static_cast<float>(x) + 0.0f, static_cast<float>(y) + 0.0f);
}

std::vector<double> terrain_fractal(const Config& config, int map_id) {
  check_terrain_config(config, map_id);
  const int center = config.map_center, border = config.map_border, size = config.map_size();
  const int octaves = center / config.terrain_tiles_per_octave;
  const size_t tiles = static_cast<size_t>(size) * size;
  // A2.3: the seed is the 1-based map id, negated for the evaluation maps.
  const int seed = config.terrain_flip_seed ? -map_id : map_id;
  const double interpolate =
      numpy_logspace(config.terrain_log_interpolate_min, config.terrain_log_interpolate_max,
                     config.map_n, 10.0)[map_id - 1];

  // Octaves of noise, val[(r * size + c) * octaves + k]; column = x, row = y.
  const double freq_start = config.terrain_frequency;
  const double freq_end = std::min(freq_start, freq_start - std::log2(static_cast<double>(center)) +
                                                   config.terrain_frequency_offset);
  const std::vector<double> freqs = numpy_logspace(freq_start, freq_end, octaves, 2.0);
  std::vector<double> val(tiles * octaves);
  const double x0 = static_cast<double>(seed) * size;
  for (int r = 0; r < size; ++r) {
    for (int c = 0; c < size; ++c) {
      double* v = &val[(static_cast<size_t>(r) * size + c) * octaves];
      for (int k = 0; k < octaves; ++k) {
        v[k] = snoise2(x0 + freqs[k] * c, static_cast<double>(k) * size + freqs[k] * r);
      }
    }
  }

  // Chebyshev distance of each tile to the map's middle (size // 2).
  const int half = size / 2;
  auto l1_of = [half](int r, int c) { return std::max(std::abs(r - half), std::abs(c - half)); };

  // The blend weights: a normal bump over 2 * octaves - 1 positions, peak 1.
  std::vector<double> pdf = numpy_linspace(-1.0, 1.0, 2 * octaves - 1);
  for (double& p : pdf) p = normal_pdf(p, interpolate);
  const double pdf_max = *std::max_element(pdf.begin(), pdf.end());
  for (double& p : pdf) p = p / pdf_max;
  const int pdf_n = static_cast<int>(pdf.size());

  // The scale mask: a coarse noise (octaves 2^-expand .. 2^-2, halving weights) quantised to
  // 0 .. octaves - 1 picks, near the middle, which octaves dominate.
  std::vector<double> mask(tiles, 0.0);
  const int expand = static_cast<int>(std::log2(static_cast<double>(center))) - 2;
  for (int idx = 0, octave = expand; octave > 1; ++idx, --octave) {
    const double freq = 1.0 / std::ldexp(1.0, octave), mag = 1.0 / std::ldexp(1.0, idx);
    for (int r = 0; r < size; ++r) {
      for (int c = 0; c < size; ++c) {
        // float32 noise times a power of two is exact, in float32 as in float64.
        mask[static_cast<size_t>(r) * size + c] +=
            mag * snoise2(x0 + freq * c, static_cast<double>(idx) * size + freq * r);
      }
    }
  }
  const double mask_min = *std::min_element(mask.begin(), mask.end());
  for (double& m : mask) m -= mask_min;
  const double mask_max = *std::max_element(mask.begin(), mask.end());
  std::vector<int> start(tiles);  // int(octaves * m / max - 1e-12) - 1, truncated toward 0
  for (size_t t = 0; t < tiles; ++t) {
    start[t] = static_cast<int>(static_cast<double>(octaves) * mask[t] / mask_max - 1e-12) - 1;
  }

  // Rings of the distance scale: a tile within high_i of the middle (the last ring i that
  // holds it) gets scale (octaves - i - 1) + k for octave k; tiles beyond high_0 get 0.
  std::vector<double> high(static_cast<size_t>(octaves));
  double h = center / 2.0;
  const double delta = h / octaves;
  for (int i = 0; i < octaves; ++i, h -= delta) high[i] = h;
  const int l1_clip = half - border - 2;  // the largest clipped distance over the map

  // Blend: val / std, weighted twice by the pdf at the interpolated index, summed per tile.
  const double std0 = numpy_std(val);
  std::vector<double> blended(tiles);
  std::vector<double> terms(static_cast<size_t>(octaves));
  for (int r = 0; r < size; ++r) {
    for (int c = 0; c < size; ++c) {
      const size_t t = static_cast<size_t>(r) * size + c;
      const int l1 = l1_of(r, c);
      int ring = -1;
      for (int i = 0; i < octaves; ++i) {
        if (l1 <= high[i]) ring = i;
      }
      const double l1_scale =
          static_cast<double>(std::clamp(l1, 0, l1_clip)) / static_cast<double>(l1_clip);
      for (int k = 0; k < octaves; ++k) {
        const double ring_scale = ring < 0 ? 0.0 : static_cast<double>(octaves - ring - 1 + k);
        const double at =
            l1_scale * ring_scale + (1 - l1_scale) * static_cast<double>(start[t] + k);
        int index = static_cast<int>(at);  // numpy astype(int): truncation toward zero
        if (index < 0) index += pdf_n;     // numpy indexing: -1 is the last weight
        SG_CHECK(index >= 0 && index < pdf_n, "nmmo terrain: blend index ", index, " outside the ",
                 pdf_n, " weights at tile (", r, ", ", c, ")");
        const double scale = pdf[index];
        terms[k] = scale * (scale * (val[t * octaves + k] / std0));
      }
      blended[t] = 0.0 + pairwise_sum(terms.data(), terms.size());
    }
  }
  const double std1 = numpy_std(blended);
  for (double& v : blended) v = 0.5 + std::clamp(std0 * v / std1, -1.0, 1.0) / 2;
  return blended;
}

std::vector<Material> generate_terrain(const Config& config, int map_id) {
  const std::vector<double> fractal = terrain_fractal(config, map_id);
  const int size = config.map_size(), half = size / 2, border = config.map_border;
  std::vector<Material> tiles(fractal.size());
  for (int r = 0; r < size; ++r) {
    for (int c = 0; c < size; ++c) {
      const size_t t = static_cast<size_t>(r) * size + c;
      const double v = fractal[t];
      Material m = v <= config.terrain_water     ? Material::kWater
                   : v <= config.terrain_grass   ? Material::kGrass
                   : v <= config.terrain_foilage ? Material::kFoilage
                                                 : Material::kStone;
      // A2.2: Void outside Chebyshev radius half - border, a Grass ring on it (where players
      // spawn), and no Stone or Water on the ring inside it, so every spawn tile can be left.
      const int l1 = std::max(std::abs(r - half), std::abs(c - half));
      if (l1 > half - border) {
        m = Material::kVoid;
      } else if (l1 == half - border) {
        m = Material::kGrass;
      } else if (l1 == half - border - 1 && (m == Material::kStone || m == Material::kWater)) {
        m = Material::kFoilage;
      }
      tiles[t] = m;
    }
  }
  return tiles;
}

const std::vector<Material>& cached_terrain(const Config& config, int map_id) {
  // Every Config field generate_terrain reads, and the map id.
  using Key =
      std::tuple<int, int, int, bool, int, int, int, double, double, double, double, double, int>;
  struct Entry {
    std::once_flag once;
    std::vector<Material> tiles;
  };
  static std::mutex mutex;
  static std::map<Key, std::unique_ptr<Entry>> cache;

  check_terrain_config(config, map_id);
  const Key key{config.map_center,
                config.map_border,
                config.map_n,
                config.terrain_flip_seed,
                config.terrain_frequency,
                config.terrain_frequency_offset,
                config.terrain_tiles_per_octave,
                config.terrain_log_interpolate_min,
                config.terrain_log_interpolate_max,
                config.terrain_water,
                config.terrain_grass,
                config.terrain_foilage,
                map_id};
  Entry* entry;
  {
    std::lock_guard<std::mutex> lock(mutex);
    std::unique_ptr<Entry>& slot = cache[key];
    if (!slot) slot = std::make_unique<Entry>();
    entry = slot.get();  // stays valid: entries are never removed
  }
  // Generated outside the lock, so different maps are made in parallel; callers of the same
  // map wait for the first one.
  std::call_once(entry->once, [&] { entry->tiles = generate_terrain(config, map_id); });
  return entry->tiles;
}

namespace {

// Draws (r, c) in [lo, hi)^2 until the tile is Grass, as nmmo's cluster() and uniform() retry
// by recursion. Throws when no Grass tile is left in the square (nmmo would recurse forever).
std::pair<int, int> draw_grass_tile(World& world, int lo, int hi, const char* what) {
  for (long attempt = 1;; ++attempt) {
    const int r = static_cast<int>(world.rng.randint(lo, hi));
    const int c = static_cast<int>(world.rng.randint(lo, hi));
    if (world.material(r, c) == Material::kGrass) return {r, c};
    if (attempt % 4096 == 0) {  // rarely: make sure there is something left to find
      bool any = false;
      for (int rr = lo; rr < hi && !any; ++rr) {
        for (int cc = lo; cc < hi && !any; ++cc) any = world.material(rr, cc) == Material::kGrass;
      }
      SG_CHECK(any, "nmmo terrain: no Grass tile left in rows and columns [", lo, ", ", hi,
               ") to place ", what);
    }
  }
}

bool has_grass_neighbour(const World& world, int r, int c) {
  for (int d = 0; d < 4; ++d) {
    const int nr = r + kDirRow[d], nc = c + kDirCol[d];
    if (world.in_bounds(nr, nc) && world.material(nr, nc) == Material::kGrass) return true;
  }
  return false;
}

}  // namespace

void place_profession_resources(World& world) {
  const Config& config = world.config;
  const int size = config.map_size();
  SG_CHECK(world.tiles.size() == static_cast<size_t>(size) * size,
           "place_profession_resources: world.tiles has ", world.tiles.size(),
           " tiles, the map is ", size, " x ", size);
  const int mmin = config.map_border + 1, mmax = size - config.map_border - 1;

  // A2.4 clusters: a Grass centre in [mmin + 1, mmax - 1) and its Grass 4-neighbours (a plus).
  for (int n = 0; n < config.progression_spawn_clusters; ++n) {
    for (Material m : {Material::kOre, Material::kTree, Material::kCrystal}) {
      const auto [r, c] = draw_grass_tile(world, mmin + 1, mmax - 1, "a resource cluster");
      world.set_material(r, c, m);
      for (int d = 0; d < 4; ++d) {
        const int nr = r + kDirRow[d], nc = c + kDirCol[d];
        if (world.material(nr, nc) == Material::kGrass) world.set_material(nr, nc, m);
      }
    }
  }

  // Herbs on random Grass tiles in [mmin, mmax); fish on a random Water tile with a Grass
  // 4-neighbour. nmmo shuffles every Water tile and takes the first that qualifies, i.e. a
  // uniform choice among those that qualify; shuffling lazily (Fisher-Yates, stopping at the
  // first qualifying tile) makes the same choice without shuffling thousands of tiles each time.
  std::vector<int32_t> water;
  for (int32_t t = 0; t < static_cast<int32_t>(world.tiles.size()); ++t) {
    if (world.tiles[t] == Material::kWater) water.push_back(t);
  }
  for (int n = 0; n < config.progression_spawn_uniforms; ++n) {
    const auto [r, c] = draw_grass_tile(world, mmin, mmax, "a herb");
    world.set_material(r, c, Material::kHerb);

    bool placed = false;
    for (size_t i = 0; i < water.size(); ++i) {
      const size_t j =
          i + static_cast<size_t>(world.rng.randint(0, static_cast<int64_t>(water.size() - i)));
      std::swap(water[i], water[j]);
      const int wr = water[i] / size, wc = water[i] % size;
      if (has_grass_neighbour(world, wr, wc)) {
        world.set_material(wr, wc, Material::kFish);
        water[i] = water.back();
        water.pop_back();
        placed = true;
        break;
      }
    }
    SG_CHECK(placed, "nmmo terrain: no Water tile with a Grass neighbour left to place fish ",
             n + 1, " of ", config.progression_spawn_uniforms);
  }
}

}  // namespace stackgrad::nmmo
