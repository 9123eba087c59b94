// SpMM (CSR x dense, f32) on the real citation graphs: the symmetric GCN-normalised adjacency
// with self-loops, D^-1/2 (A + I) D^-1/2, times a dense [nodes, N] matrix, N = 16, 64 and 1433
// (Cora's feature width). Cora uses its features for N = 1433 and random values otherwise;
// PubMed has no features here, so all its dense operands are random. `_fwdbwd` cases also run
// the backward for the dense operand (dX = A^T dC). bench/peers/peer_spmm.py times
// torch.sparse.mm on the same graphs and normalisation (names spmm/<case>/torch).
//
//   STACKGRAD_DATA=../shared/datasets STACKGRAD_NUM_THREADS=2 ./build-bench/bench_spmm
//
// The datasets are looked up in $STACKGRAD_DATA, then ../shared/datasets; a missing graph skips
// its cases with a message naming the file.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

std::string edges_path(const std::string& graph) {
  const char* env = std::getenv("STACKGRAD_DATA");
  const std::string roots[] = {env ? env : "", "../shared/datasets"};
  for (const std::string& root : roots) {
    if (root.empty()) continue;
    const std::string p = root + "/planetoid/" + graph + "/edges.npy";
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

struct Graph {
  Tensor A;         // GCN-normalised CSR adjacency, f32
  Tensor features;  // Cora's [2708, 1433] features, when present
};

// edges.npy is [E, 2] (i64, undirected, each edge once): mirrored, self-loops added, normalised.
Graph load_graph(const std::string& graph, int64_t nodes) {
  Graph g;
  const std::string path = edges_path(graph);
  if (path.empty()) return g;
  Tensor e = load_npy(path);
  Tensor A = from_edge_list(e.select(1, 0).contiguous(), e.select(1, 1).contiguous(), nodes,
                            Tensor(), /*symmetric=*/true);
  g.A = gcn_norm(A);
  const std::string fpath =
      path.substr(0, path.size() - std::string("edges.npy").size()) + "features.npy";
  if (std::filesystem::exists(fpath)) g.features = load_npy(fpath).to(DType::f32);
  return g;
}

const Graph& cora() {
  static const Graph g = load_graph("cora", 2708);
  return g;
}
const Graph& pubmed() {
  static const Graph g = load_graph("pubmed", 19717);
  return g;
}

void run(benchmark::State& state, const Graph& g, int64_t n, bool backward) {
  if (!g.A.defined()) {
    state.SkipWithError("planetoid edges.npy not found (set STACKGRAD_DATA)");
    return;
  }
  Generator gen(0);
  const int64_t nodes = g.A.size(0);
  Tensor X = (n == 1433 && g.features.defined()) ? g.features.clone() : randn({nodes, n}, gen);
  Tensor G = randn({nodes, n}, gen);
  if (backward) X.requires_grad_();
  for (auto _ : state) {
    Tensor C = spmm(g.A, X);
    if (backward) {
      C.backward(G);
      benchmark::DoNotOptimize(X.grad().raw_data());
      X.zero_grad();
    } else {
      benchmark::DoNotOptimize(C.raw_data());
    }
  }
  const double flops = 2.0 * static_cast<double>(nnz(g.A)) * n * (backward ? 2 : 1);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * state.iterations(), benchmark::Counter::kIsRate);
}

void register_all() {
  for (const auto& [graph, get] :
       {std::pair<const char*, const Graph& (*)()>{"cora", cora}, {"pubmed", pubmed}}) {
    for (int64_t n : {16, 64, 1433}) {
      for (bool bwd : {false, true}) {
        const std::string name = std::string("spmm/") + graph + "_n" + std::to_string(n) +
                                 (bwd ? "_fwdbwd" : "") + "/ours";
        benchmark::RegisterBenchmark(name.c_str(),
                                     [get, n, bwd](benchmark::State& s) { run(s, get(), n, bwd); })
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
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
