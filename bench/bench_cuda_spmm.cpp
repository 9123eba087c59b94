// GPU SpMM (CSR x dense, f32) against cuSPARSE: C = A X with X [nodes, N], N = 64 and 256, on
//   - pubmed: the GCN-normalised PubMed adjacency D^-1/2 (A + I) D^-1/2 (19717 nodes), from
//     planetoid/pubmed/edges.npy under $STACKGRAD_DATA or ../shared/datasets like
//     bench/bench_spmm.cpp, else a synthetic graph of PubMed's size (44324 random undirected
//     edges, same normalisation; the case is then named pubmed_synth);
//   - powerlaw1m: a synthetic power-law graph of 1M nodes built deterministically here
//     (power_law_graph below, mirrored by bench/peers/peer_cuda_spmm.py): Pareto row lengths
//     (minimum 2, tail exponent 1.2, capped at 100k), half the columns uniform and half skewed
//     towards low node ids, duplicates dropped, all values 1.
// Impls: ours (stackgrad's spmm through the Tensor API, its version chosen per shape),
// cusparse (cusparseSpMM, CSR with 64-bit indices, CUSPARSE_SPMM_ALG_DEFAULT) and cusparse_alg2
// (CUSPARSE_SPMM_CSR_ALG2). Ours is checked against cuSPARSE once before timing.
//
//   STACKGRAD_DATA=../shared/datasets ./build-bench/bench_cuda_spmm
#include <cusparse.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "bench/cuda_bench.h"
#include "engine/stackgrad.h"

using namespace stackgrad;
using stackgrad::bench::bench_stream;
using stackgrad::bench::max_scaled_error_device;
using stackgrad::bench::require_gpu;
using stackgrad::bench::time_on_gpu;

namespace {

#define SG_BENCH_CUSPARSE(call)                                          \
  do {                                                                   \
    cusparseStatus_t st_ = (call);                                       \
    if (st_ != CUSPARSE_STATUS_SUCCESS) {                                \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, \
                   cusparseGetErrorString(st_));                         \
      std::abort();                                                      \
    }                                                                    \
  } while (0)

// The counter-based generator of the synthetic graphs: value k of stream `seed` is
// splitmix64(seed * 2^40 + k), so the Python peer computes the same numbers vectorised.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
double unit(uint64_t seed, uint64_t k) {  // [0, 1)
  return static_cast<double>(splitmix64((seed << 40) + k) >> 11) * 0x1.0p-53;
}

// CSR of the power-law graph described at the top (f32 values 1), on the CPU.
Tensor power_law_graph(int64_t nodes) {
  constexpr int64_t kCap = 100000;
  std::vector<int64_t> crow{0}, col;
  std::vector<int64_t> row;
  uint64_t k = 0;
  for (int64_t i = 0; i < nodes; ++i) {
    const double u = unit(1, static_cast<uint64_t>(i));
    const auto len = static_cast<int64_t>(
        std::min<double>(kCap, std::floor(2.0 * std::pow(1.0 - u, -1.0 / 1.2))));
    row.clear();
    for (int64_t e = 0; e < len; ++e, ++k) {
      const double f = unit(2, k);
      const double g = unit(3, k);
      const double pos = g < 0.5 ? f * f * f : f;
      row.push_back(std::min<int64_t>(nodes - 1, static_cast<int64_t>(pos * nodes)));
    }
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    col.insert(col.end(), row.begin(), row.end());
    crow.push_back(static_cast<int64_t>(col.size()));
  }
  const int64_t n = static_cast<int64_t>(col.size());
  return sparse_csr(from_vector(crow), from_vector(col), ones({n}, DType::f32), {nodes, nodes});
}

std::string pubmed_edges() {
  const char* env = std::getenv("STACKGRAD_DATA");
  for (const std::string& root : {std::string(env ? env : ""), std::string("../shared/datasets")}) {
    if (root.empty()) continue;
    const std::string p = root + "/planetoid/pubmed/edges.npy";
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

// PubMed's GCN matrix from edges.npy, or the same normalisation of random edges of its size.
Tensor pubmed_graph(bool* real) {
  constexpr int64_t kNodes = 19717, kEdges = 44324;
  const std::string path = pubmed_edges();
  *real = !path.empty();
  Tensor src, dst;
  if (*real) {
    Tensor e = load_npy(path);
    src = e.select(1, 0).contiguous();
    dst = e.select(1, 1).contiguous();
  } else {
    std::vector<int64_t> s(kEdges), d(kEdges);
    for (int64_t i = 0; i < kEdges; ++i) {
      s[i] = static_cast<int64_t>(unit(4, static_cast<uint64_t>(i)) * kNodes);
      d[i] = static_cast<int64_t>(unit(5, static_cast<uint64_t>(i)) * kNodes);
    }
    src = from_vector(s);
    dst = from_vector(d);
  }
  return gcn_norm(from_edge_list(src, dst, kNodes, Tensor(), /*symmetric=*/true));
}

struct Problem {
  Tensor A;  // CSR on cuda:0
  Tensor X;  // [nodes, N] on cuda:0
};

// Graphs are built once per process (the 1M-node one takes seconds on the host) and never
// freed: their device memory must not go back to an allocator torn down at exit.
const Tensor& graph(const std::string& name) {
  static Tensor* pubmed = nullptr;
  static Tensor* power = nullptr;
  if (name == "powerlaw1m") {
    if (!power) power = new Tensor(power_law_graph(1000000).to(Device::cuda(0)));
    return *power;
  }
  if (!pubmed) {
    bool real = false;
    pubmed = new Tensor(pubmed_graph(&real).to(Device::cuda(0)));
  }
  return *pubmed;
}

Problem problem(const std::string& name, int64_t n) {
  Generator gen(0);
  const Tensor& A = graph(name);
  return {A, randn({A.size(1), n}, gen, Options(DType::f32, Device::cuda(0)))};
}

// cusparseSpMM on A and X, writing C, with its workspace.
class CusparseSpmm {
 public:
  CusparseSpmm(const Problem& p, Tensor& C, cusparseSpMMAlg_t alg) : alg_(alg) {
    SG_BENCH_CUSPARSE(cusparseCreate(&handle_));
    SG_BENCH_CUSPARSE(cusparseSetStream(handle_, bench_stream()));
    Tensor crow = csr_crow(p.A), col = csr_col(p.A), val = csr_values(p.A);
    const int64_t rows = p.A.size(0), k = p.A.size(1), n = p.X.size(1);
    SG_BENCH_CUSPARSE(cusparseCreateCsr(&a_, rows, k, nnz(p.A), crow.raw_data(), col.raw_data(),
                                        val.raw_data(), CUSPARSE_INDEX_64I, CUSPARSE_INDEX_64I,
                                        CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    SG_BENCH_CUSPARSE(cusparseCreateDnMat(&x_, k, n, n, const_cast<void*>(p.X.raw_data()),
                                          CUDA_R_32F, CUSPARSE_ORDER_ROW));
    SG_BENCH_CUSPARSE(
        cusparseCreateDnMat(&c_, rows, n, n, C.raw_data(), CUDA_R_32F, CUSPARSE_ORDER_ROW));
    size_t bytes = 0;
    SG_BENCH_CUSPARSE(cusparseSpMM_bufferSize(handle_, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                              CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha_, a_, x_,
                                              &beta_, c_, CUDA_R_32F, alg_, &bytes));
    SG_BENCH_CUDA(cudaMalloc(&buffer_, std::max<size_t>(bytes, 1)));
  }
  ~CusparseSpmm() {
    cudaFree(buffer_);
    cusparseDestroySpMat(a_);
    cusparseDestroyDnMat(x_);
    cusparseDestroyDnMat(c_);
    cusparseDestroy(handle_);
  }
  void run() {
    SG_BENCH_CUSPARSE(cusparseSpMM(handle_, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                   CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha_, a_, x_, &beta_, c_,
                                   CUDA_R_32F, alg_, buffer_));
  }

 private:
  cusparseHandle_t handle_ = nullptr;
  cusparseSpMatDescr_t a_ = nullptr;
  cusparseDnMatDescr_t x_ = nullptr, c_ = nullptr;
  cusparseSpMMAlg_t alg_;
  float alpha_ = 1.0f, beta_ = 0.0f;
  void* buffer_ = nullptr;
};

void set_counters(benchmark::State& state, const Problem& p) {
  const double flops = 2.0 * static_cast<double>(nnz(p.A)) * static_cast<double>(p.X.size(1));
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["nnz"] = static_cast<double>(nnz(p.A));
}

void run_ours(benchmark::State& state, const std::string& graph_name, int64_t n) {
  if (!require_gpu(state)) return;
  const Problem p = problem(graph_name, n);
  {  // once: ours against cuSPARSE
    Tensor ref = empty({p.A.size(0), n}, Options(DType::f32, Device::cuda(0)));
    CusparseSpmm cs(p, ref, CUSPARSE_SPMM_ALG_DEFAULT);
    cs.run();
    Tensor C = spmm(p.A, p.X);
    const double err = max_scaled_error_device(C.data_ptr<float>(), ref.data_ptr<float>(),
                                               static_cast<size_t>(C.numel()), 1e-4, 1e-4);
    if (!(err <= 1.0)) {
      state.SkipWithError(
          ("ours disagrees with cuSPARSE: scaled error " + std::to_string(err)).c_str());
      return;
    }
  }
  time_on_gpu(state, [&] { benchmark::DoNotOptimize(spmm(p.A, p.X).raw_data()); });
  set_counters(state, p);
}

void run_cusparse(benchmark::State& state, const std::string& graph_name, int64_t n,
                  cusparseSpMMAlg_t alg) {
  if (!require_gpu(state)) return;
  const Problem p = problem(graph_name, n);
  Tensor C = empty({p.A.size(0), n}, Options(DType::f32, Device::cuda(0)));
  CusparseSpmm cs(p, C, alg);
  time_on_gpu(state, [&] { cs.run(); });
  set_counters(state, p);
}

void register_all() {
  const bool real_pubmed = !pubmed_edges().empty();
  for (const std::string g : {"pubmed", "powerlaw1m"}) {
    const std::string case_graph = g == "pubmed" && !real_pubmed ? "pubmed_synth" : g;
    for (int64_t n : {64, 256}) {
      const std::string base = "cuda_spmm/" + case_graph + "_n" + std::to_string(n) + "/";
      benchmark::RegisterBenchmark((base + "ours").c_str(),
                                   [g, n](benchmark::State& s) { run_ours(s, g, n); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(
          (base + "cusparse").c_str(),
          [g, n](benchmark::State& s) { run_cusparse(s, g, n, CUSPARSE_SPMM_ALG_DEFAULT); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(
          (base + "cusparse_alg2").c_str(),
          [g, n](benchmark::State& s) { run_cusparse(s, g, n, CUSPARSE_SPMM_CSR_ALG2); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
