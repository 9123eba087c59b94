// GPU SpMM versions side by side (kernels/cuda/sparse.cu): thread per row, warp per row and merge
// path, each validated against a double-precision host SpMM on the same inputs, checked to give
// the same bits on a second run, then timed with CUDA events on stackgrad's stream; the version
// the spmm kernel would choose is marked. A^T G through the device transpose (a radix sort by
// column) and a normal SpMM is timed after, split into its two parts. cuSPARSE is timed in
// bench/bench_cuda_spmm.cpp (the lab build does not link it).
//
//   ./build/spmm_cuda_lab [reps]
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/ops/sparse.h"
#include "engine/runtime/cuda_context.h"
#include "kernels/cuda/sparse_plan.h"

using namespace stackgrad;
using kernels::gpu::SpmmVersion;

namespace {

#define LAB_CUDA(call)                                                                \
  do {                                                                                \
    cudaError_t err_ = (call);                                                        \
    if (err_ != cudaSuccess) {                                                        \
      std::fprintf(stderr, "%s:%d: %s\n", #call, __LINE__, cudaGetErrorString(err_)); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

struct HostCsr {
  std::string name;
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> crow{0}, col;
  std::vector<float> val;
};

// Rows of `len(i)` distinct columns, half uniform, half skewed to low ids; values in [-1, 1).
template <typename Len>
HostCsr make_graph(const std::string& name, int64_t n, Len len, uint64_t seed) {
  HostCsr g;
  g.name = name;
  g.rows = g.cols = n;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<int64_t> row;
  for (int64_t i = 0; i < n; ++i) {
    row.clear();
    const int64_t l = len(unit(rng));
    for (int64_t e = 0; e < l; ++e) {
      const double f = unit(rng);
      const double pos = unit(rng) < 0.5 ? f * f * f : f;
      row.push_back(std::min<int64_t>(n - 1, static_cast<int64_t>(pos * n)));
    }
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    for (int64_t c : row) {
      g.col.push_back(c);
      g.val.push_back(static_cast<float>(2 * unit(rng) - 1));
    }
    g.crow.push_back(static_cast<int64_t>(g.col.size()));
  }
  return g;
}

int64_t max_row(const HostCsr& g) {
  int64_t m = 0;
  for (int64_t i = 0; i < g.rows; ++i) m = std::max(m, g.crow[i + 1] - g.crow[i]);
  return m;
}

// C = A X (transpose false) or A^T X in double, X [rows or cols of A, n] row-major.
std::vector<double> host_spmm(const HostCsr& g, const std::vector<float>& x, int64_t n,
                              bool transpose) {
  std::vector<double> c((transpose ? g.cols : g.rows) * n, 0.0);
  for (int64_t i = 0; i < g.rows; ++i)
    for (int64_t e = g.crow[i]; e < g.crow[i + 1]; ++e) {
      const int64_t out = transpose ? g.col[e] : i, in = transpose ? i : g.col[e];
      for (int64_t j = 0; j < n; ++j) c[out * n + j] += double(g.val[e]) * x[in * n + j];
    }
  return c;
}

// Largest |got - want| / (1e-5 + 1e-4 |want|).
double scaled_error(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::abs(got[i] - want[i]) / (1e-5 + 1e-4 * std::abs(want[i]));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

template <typename Fn>
double time_ms(Fn&& fn, int reps) {
  cudaStream_t s = static_cast<cudaStream_t>(cuda_stream(0));
  fn();
  LAB_CUDA(cudaStreamSynchronize(s));
  cudaEvent_t a, b;
  LAB_CUDA(cudaEventCreate(&a));
  LAB_CUDA(cudaEventCreate(&b));
  LAB_CUDA(cudaEventRecord(a, s));
  for (int r = 0; r < reps; ++r) fn();
  LAB_CUDA(cudaEventRecord(b, s));
  LAB_CUDA(cudaEventSynchronize(b));
  float ms = 0;
  LAB_CUDA(cudaEventElapsedTime(&ms, a, b));
  LAB_CUDA(cudaEventDestroy(a));
  LAB_CUDA(cudaEventDestroy(b));
  return ms / reps;
}

std::vector<float> to_host(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

void run_graph(const HostCsr& g, int reps) {
  const Device dev = Device::cuda(0);
  const int64_t nnz_ = static_cast<int64_t>(g.col.size());
  Tensor A = sparse_csr(from_vector(g.crow), from_vector(g.col),
                        from_vector(g.val, {nnz_}, DType::f32), {g.rows, g.cols})
                 .to(dev);
  const int64_t* crow = csr_crow(A).data_ptr<int64_t>();
  const int64_t* col = csr_col(A).data_ptr<int64_t>();
  const float* val = csr_values(A).data_ptr<float>();
  std::printf("\n%s: %lld rows, %lld nonzeros, longest row %lld\n", g.name.c_str(),
              static_cast<long long>(g.rows), static_cast<long long>(nnz_),
              static_cast<long long>(max_row(g)));
  std::printf("%-6s %-16s %-8s %-10s %10s %10s\n", "N", "version", "valid", "same bits", "us",
              "GFLOP/s");
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t n : {1, 16, 64, 256}) {
    std::vector<float> xh(g.cols * n);
    for (float& v : xh) v = u(rng);
    const std::vector<double> want = host_spmm(g, xh, n, false);
    Tensor X = from_vector(xh, {g.cols, n}, DType::f32).to(dev);
    Tensor C = empty({g.rows, n}, Options(DType::f32, dev));
    const SpmmVersion chosen = kernels::gpu::spmm_cuda_choice(crow, g.rows, nnz_, n);
    for (SpmmVersion v :
         {SpmmVersion::thread_per_row, SpmmVersion::warp_per_row, SpmmVersion::merge_path}) {
      auto once = [&] {
        kernels::gpu::spmm_cuda_run<float>(v, crow, col, val, g.rows, nnz_, X.data_ptr<float>(), n,
                                           C.data_ptr<float>());
      };
      once();
      const std::vector<float> first = to_host(C);
      LAB_CUDA(cudaMemsetAsync(C.data_ptr<float>(), 0xff, C.numel() * sizeof(float),
                               static_cast<cudaStream_t>(cuda_stream(0))));
      once();
      const std::vector<float> second = to_host(C);
      const bool same = std::memcmp(first.data(), second.data(), first.size() * 4) == 0;
      const double err = scaled_error(first, want);
      const double ms = time_ms(once, reps);
      const double gflops = 2.0 * nnz_ * n / (ms * 1e-3) / 1e9;
      std::printf("%-6lld %-16s %-8s %-10s %10.1f %10.1f%s\n", static_cast<long long>(n),
                  kernels::gpu::spmm_version_name(v), err <= 1.0 ? "ok" : "MISMATCH",
                  same ? "yes" : "NO", ms * 1e3, gflops, v == chosen ? "  <- chosen" : "");
      if (err > 1.0) std::printf("       scaled error %.3g\n", err);
    }
  }
  // A^T G, as the spmm backward computes it: transpose on the device, then a normal SpMM.
  const int64_t n = 64;
  std::vector<float> gh(g.rows * n);
  for (float& v : gh) v = u(rng);
  const std::vector<double> want = host_spmm(g, gh, n, true);
  Tensor G = from_vector(gh, {g.rows, n}, DType::f32).to(dev);
  Tensor At = sparse_transpose(A);
  const double err = scaled_error(to_host(spmm(At, G)), want);
  const double t_transpose = time_ms([&] { At = sparse_transpose(A); }, reps);
  const double t_spmm = time_ms([&] { spmm(At, G); }, reps);
  std::printf(
      "A^T G, N = 64: %s; transpose %.1f us, then SpMM %.1f us (cuSPARSE: see "
      "bench_cuda_spmm)\n",
      err <= 1.0 ? "ok" : "MISMATCH", t_transpose * 1e3, t_spmm * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  cuda_set_device(0);
  const int reps = argc > 1 ? std::atoi(argv[1]) : 20;
  // PubMed's size (19717 nodes, about 5.5 nonzeros a row) with uniform-ish rows.
  run_graph(make_graph(
                "pubmed-sized", 19717, [](double) { return int64_t{5}; }, 1),
            reps);
  // Power law: Pareto row lengths (minimum 2, tail exponent 1.2, capped at 20k), 200k nodes.
  run_graph(make_graph(
                "power-law 200k", 200000,
                [](double v) {
                  return static_cast<int64_t>(
                      std::min(20000.0, std::floor(2.0 * std::pow(1.0 - v, -1.0 / 1.2))));
                },
                2),
            reps);
  return 0;
}
