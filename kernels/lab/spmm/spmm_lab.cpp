// SpMM kernel versions side by side (f32): C = A X for CSR A and dense X [K, N], and the
// backward's transposed product dX = A^T G. Each version is validated against a double-precision
// reference on the same inputs, then timed (best wall time of the repetitions: the machine is
// shared).
//
//   STACKGRAD_DATA=../shared/datasets ./build-bench/spmm_lab [threads=2]
//
// Graphs: Cora and PubMed (symmetric, GCN-normalised with self-loops, as in bench/bench_spmm.cpp)
// when their edges.npy are found, and a synthetic power-law graph (heavy rows at low ids).
// Forward versions:
//   v1_tile256   the previous kernel: a 256-column output tile in a stack buffer, updated per
//                nonzero (load + FMA + store per vector), prefetch ahead
//   v2_regblock  output tiles of 64/32/16/8 columns held in vector registers across the row's
//                nonzeros (load + FMA per vector), same row split and prefetch
//   v3_noprefetch v2 without the software prefetch
// Transposed product versions (dX = A^T G, dX [K, N]):
//   t1_transpose_gather  counting-sort transpose (serial) then v2 on A^T: what backward did
//   t2_cached_gather     v2 on a transpose built once (the cost when A^T is cached)
//   t3_column_scatter    no transpose: each thread owns a slice of dX's columns and walks all
//                        nonzeros in row order, dX[col(e), slice] += v[e] G[row(e), slice]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

using F8 [[gnu::vector_size(32)]] = float;
constexpr int kL = 8;

struct Csr {
  std::string name;
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> rp, ci;
  std::vector<float> v;
  int64_t nnz() const { return rp.back(); }
};

Csr from_tensor(const std::string& name, const Tensor& A) {
  Csr m;
  m.name = name;
  m.rows = A.size(0);
  m.cols = A.size(1);
  m.rp = csr_crow(A).to_vector<int64_t>();
  m.ci = csr_col(A).to_vector<int64_t>();
  m.v = csr_values(A).contiguous().to_vector<float>();
  return m;
}

Csr transpose(const Csr& a) {
  Csr t;
  t.name = a.name + "^T";
  t.rows = a.cols;
  t.cols = a.rows;
  t.rp.assign(a.cols + 1, 0);
  t.ci.resize(a.nnz());
  t.v.resize(a.nnz());
  for (int64_t e = 0; e < a.nnz(); ++e) ++t.rp[a.ci[e] + 1];
  for (int64_t j = 0; j < a.cols; ++j) t.rp[j + 1] += t.rp[j];
  std::vector<int64_t> next(t.rp.begin(), t.rp.end() - 1);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t e = a.rp[i]; e < a.rp[i + 1]; ++e) {
      const int64_t p = next[a.ci[e]]++;
      t.ci[p] = i;
      t.v[p] = a.v[e];
    }
  return t;
}

// --- row split by rows + nonzeros (as kernels/cpu/sparse.cpp) -----------------------------

int64_t row_at_work(const int64_t* crow, int64_t rows, int64_t target) {
  int64_t lo = 0, hi = rows;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (mid + crow[mid] < target)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

template <typename F>
void balanced_rows(const Csr& a, F&& f) {
  const int64_t total = a.rows + a.nnz(), parts = num_threads();
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const int64_t r0 = row_at_work(a.rp.data(), a.rows, total * p / parts);
      const int64_t r1 = row_at_work(a.rp.data(), a.rows, total * (p + 1) / parts);
      if (r0 < r1) f(r0, r1);
    }
  });
}

inline void prefetch_row(const float* p, int64_t n) {
  for (int64_t l = 0; l < n; l += 16) __builtin_prefetch(p + l);
}
inline int64_t prefetch_distance(int64_t row_bytes) {
  return std::clamp<int64_t>(2048 / std::max<int64_t>(row_bytes, 1), 4, 16);
}

// --- v1: the previous kernel --------------------------------------------------------------

void v1_tile256(const Csr& a, const float* x, float* c, int64_t n) {
  constexpr int64_t kTile = 256;
  balanced_rows(a, [&](int64_t r0, int64_t r1) {
    const int64_t* rp = a.rp.data();
    const int64_t* ci = a.ci.data();
    const float* v = a.v.data();
    const int64_t last = rp[r1];
    float acc[kTile];
    const int64_t ahead = prefetch_distance(std::min(kTile, n) * 4);
    for (int64_t i = r0; i < r1; ++i) {
      float* __restrict out = c + i * n;
      for (int64_t j0 = 0; j0 < n; j0 += kTile) {
        const int64_t nb = std::min(kTile, n - j0);
        std::fill(acc, acc + nb, 0.0f);
        for (int64_t e = rp[i]; e < rp[i + 1]; ++e) {
          if (e + ahead < last) prefetch_row(x + ci[e + ahead] * n + j0, nb);
          const float s = v[e];
          const float* __restrict xr = x + ci[e] * n + j0;
          for (int64_t j = 0; j < nb; ++j) acc[j] += s * xr[j];
        }
        std::copy(acc, acc + nb, out + j0);
      }
    }
  });
}

// --- v2: register-blocked tiles -----------------------------------------------------------

template <int NV, bool kPrefetch>
inline void tile(const int64_t* ci, const float* v, int64_t e0, int64_t e1, int64_t last,
                 int64_t ahead, const float* x, int64_t ldx, float* out, int64_t j0) {
  F8 acc[NV] = {};
  for (int64_t e = e0; e < e1; ++e) {
    if (kPrefetch && e + ahead < last) prefetch_row(x + ci[e + ahead] * ldx + j0, NV * kL);
    const F8 s = F8{} + v[e];
    const float* xr = x + ci[e] * ldx + j0;
    for (int k = 0; k < NV; ++k) {
      F8 xv;
      std::memcpy(&xv, xr + k * kL, sizeof(xv));
      acc[k] += s * xv;
    }
  }
  std::memcpy(out + j0, acc, sizeof(acc));
}

template <bool kPrefetch>
void regblock_rows(const Csr& a, const float* x, float* c, int64_t n, int64_t r0, int64_t r1) {
  const int64_t* rp = a.rp.data();
  const int64_t* ci = a.ci.data();
  const float* v = a.v.data();
  const int64_t last = rp[r1];
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t e0 = rp[i], e1 = rp[i + 1];
    float* out = c + i * n;
    int64_t j0 = 0;
    for (; j0 + 64 <= n; j0 += 64)
      tile<8, kPrefetch>(ci, v, e0, e1, last, prefetch_distance(256), x, n, out, j0);
    if (j0 + 32 <= n) {
      tile<4, kPrefetch>(ci, v, e0, e1, last, prefetch_distance(128), x, n, out, j0);
      j0 += 32;
    }
    if (j0 + 16 <= n) {
      tile<2, kPrefetch>(ci, v, e0, e1, last, 16, x, n, out, j0);
      j0 += 16;
    }
    if (j0 + 8 <= n) {
      tile<1, kPrefetch>(ci, v, e0, e1, last, 16, x, n, out, j0);
      j0 += 8;
    }
    for (int64_t j = j0; j < n; ++j) {
      float s = 0;
      for (int64_t e = e0; e < e1; ++e) s += v[e] * x[ci[e] * n + j];
      out[j] = s;
    }
  }
}

void v2_regblock(const Csr& a, const float* x, float* c, int64_t n) {
  balanced_rows(a, [&](int64_t r0, int64_t r1) { regblock_rows<true>(a, x, c, n, r0, r1); });
}

void v3_noprefetch(const Csr& a, const float* x, float* c, int64_t n) {
  balanced_rows(a, [&](int64_t r0, int64_t r1) { regblock_rows<false>(a, x, c, n, r0, r1); });
}

// --- transposed product -------------------------------------------------------------------

void t3_column_scatter(const Csr& a, const float* g, float* dx, int64_t n) {
  // Slices of whole vectors; each thread zeroes and owns its slice of every dX row.
  const int64_t vecs = (n + kL - 1) / kL;
  parallel_for(0, vecs, 1, [&](int64_t lo, int64_t hi) {
    const int64_t j0 = lo * kL, j1 = std::min(n, hi * kL);
    for (int64_t k = 0; k < a.cols; ++k) std::fill(dx + k * n + j0, dx + k * n + j1, 0.0f);
    for (int64_t i = 0; i < a.rows; ++i) {
      const float* gr = g + i * n;
      for (int64_t e = a.rp[i]; e < a.rp[i + 1]; ++e) {
        const float s = a.v[e];
        float* __restrict out = dx + a.ci[e] * n;
        for (int64_t j = j0; j < j1; ++j) out[j] += s * gr[j];
      }
    }
  });
}

// --- harness ------------------------------------------------------------------------------

// The double-precision product, and the scale each entry's rounding error is measured against:
// sum_e |v[e] x[col(e), j]| (a long row accumulated in f32 is only that accurate).
struct Expected {
  std::vector<float> value, scale;
};

Expected reference(const Csr& a, const std::vector<float>& x, int64_t n) {
  Expected r{std::vector<float>(a.rows * n), std::vector<float>(a.rows * n)};
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0, m = 0;
      for (int64_t e = a.rp[i]; e < a.rp[i + 1]; ++e) {
        const double t = static_cast<double>(a.v[e]) * x[a.ci[e] * n + j];
        s += t;
        m += std::abs(t);
      }
      r.value[i * n + j] = static_cast<float>(s);
      r.scale[i * n + j] = static_cast<float>(m);
    }
  return r;
}

double max_rel_error(const std::vector<float>& got, const Expected& want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - want.value[i]) / (1e-30 + want.scale[i]));
  return worst;
}

double best_us(const std::function<void()>& f, int reps) {
  f();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t.front();  // the best: the machine is shared, interference only adds
}

void report(const char* version, const Csr& a, int64_t n, double us, double err) {
  const double gflops = 2.0 * a.nnz() * n / (us * 1e3);
  std::printf("  %-22s n=%-5lld %10.1f us %7.2f GFLOP/s  max rel err %.1e%s\n", version,
              static_cast<long long>(n), us, gflops, err, err < 1e-5 ? "" : "  MISMATCH");
}

void run_graph(const Csr& a, int reps, const std::vector<int64_t>& widths) {
  const Csr at = transpose(a);
  std::printf("%s: %lld x %lld, %lld nonzeros\n", a.name.c_str(), static_cast<long long>(a.rows),
              static_cast<long long>(a.cols), static_cast<long long>(a.nnz()));
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (int64_t n : widths) {
    std::vector<float> x(a.cols * n), g(a.rows * n), c(a.rows * n), dx(a.cols * n);
    for (auto& e : x) e = normal(rng);
    for (auto& e : g) e = normal(rng);
    const Expected want = reference(a, x, n), want_t = reference(at, g, n);
    using Fwd = void (*)(const Csr&, const float*, float*, int64_t);
    for (auto [name, f] : {std::pair<const char*, Fwd>{"v1_tile256", v1_tile256},
                           {"v2_regblock", v2_regblock},
                           {"v3_noprefetch", v3_noprefetch}}) {
      std::fill(c.begin(), c.end(), 0.0f);
      f(a, x.data(), c.data(), n);
      const double err = max_rel_error(c, want);
      report(name, a, n, best_us([&] { f(a, x.data(), c.data(), n); }, reps), err);
    }
    auto check_t = [&](const char* name, const std::function<void()>& f) {
      std::fill(dx.begin(), dx.end(), -1.0f);
      f();
      const double err = max_rel_error(dx, want_t);
      report(name, a, n, best_us(f, reps), err);
    };
    check_t("t1_transpose_gather", [&] { v2_regblock(transpose(a), g.data(), dx.data(), n); });
    check_t("t2_cached_gather", [&] { v2_regblock(at, g.data(), dx.data(), n); });
    check_t("t3_column_scatter", [&] { t3_column_scatter(a, g.data(), dx.data(), n); });
  }
}

Csr planetoid(const std::string& dir, const std::string& name, int64_t nodes) {
  const std::string path = dir + "/planetoid/" + name + "/edges.npy";
  if (!std::filesystem::exists(path)) return {};
  Tensor e = load_npy(path);
  Tensor A = from_edge_list(e.select(1, 0).contiguous(), e.select(1, 1).contiguous(), nodes,
                            Tensor(), true);
  return from_tensor(name, gcn_norm(A));
}

Csr power_law(int64_t nodes, int64_t edges) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u;
  std::vector<int64_t> src(edges), dst(edges);
  for (int64_t k = 0; k < edges; ++k) {
    src[k] = static_cast<int64_t>(nodes * std::pow(u(rng), 4.0));
    dst[k] = static_cast<int64_t>(nodes * u(rng));
  }
  Tensor A = from_edge_list(from_vector(src), from_vector(dst), nodes);
  return from_tensor("power-law", gcn_norm(A));
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const char* env = std::getenv("STACKGRAD_DATA");
  const std::string data = env ? env : "../shared/datasets";
  set_num_threads(threads);
  std::printf("spmm lab, f32, %d threads, best wall time of the repetitions\n", threads);
  for (const Csr& a : {planetoid(data, "cora", 2708), planetoid(data, "pubmed", 19717)}) {
    if (a.rows == 0) continue;
    run_graph(a, 31, {16, 64, 1433});
  }
  run_graph(power_law(100000, 1000000), 5, {16, 64});  // [100000, 1433] would be 573 MB
  return 0;
}
