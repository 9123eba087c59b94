// A whole model: Kipf & Welling's 2-layer GCN trained on Cora, 200 full-batch epochs per
// benchmark iteration, against the same model in PyTorch (bench/peers/peer_gcn.py).
// Settings (the paper's): hidden 16, ReLU, dropout 0.5 on the input and the hidden layer,
// propagation D~^-1/2 (A + I) D~^-1/2, row-normalised features, Adam with lr 0.01 written inline
// with engine ops, weight decay 5e-4 on the first layer's weight, cross-entropy on the 140
// training nodes. Prints the final test accuracy once (about 80%).
//   ./build-bench/bench_gcn        (needs ../shared/datasets/planetoid/cora or $STACKGRAD_DATA)
// Where the time goes: set STACKGRAD_DEBUG=2 for a per-kernel log of one run.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/io/tensor_io.h"
#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

constexpr int kEpochs = 200, kHidden = 16;
constexpr double kLr = 0.01, kWeightDecay = 5e-4, kDropout = 0.5;

std::string cora_dir() {
  std::vector<std::string> roots;
  if (const char* s = std::getenv("STACKGRAD_DATA")) roots.push_back(s);
  // The data-root order of DESIGN.md section 5 (bench-cpu.sh runs from the checkout's root).
  for (const char* r : {"../shared/datasets", "/usr/share/datasets"}) roots.push_back(r);
  for (const auto& r : roots)
    if (std::filesystem::exists(r + "/planetoid/cora/features.npy")) return r + "/planetoid/cora/";
  return "";
}

struct Cora {
  Tensor adj, features, labels, train_idx, test_idx, train_labels;
};

const Cora* load_cora() {
  static Cora* cora = []() -> Cora* {
    const std::string dir = cora_dir();
    if (dir.empty()) return nullptr;
    auto* c = new Cora;
    Tensor edges = load_npy(dir + "edges.npy");  // i64 [E, 2], undirected, no self loops
    c->adj = gcn_norm(from_edge_list(edges.select(1, 0).contiguous(),
                                     edges.select(1, 1).contiguous(), 2708, Tensor(), true));
    Tensor x = load_npy(dir + "features.npy");
    c->features = x / clamp(sum(x, {1}, true), 1.0, INFINITY);  // row-normalised, as in the paper
    c->labels = load_npy(dir + "labels.npy");
    c->train_idx = load_npy(dir + "train_idx.npy");
    c->test_idx = load_npy(dir + "test_idx.npy");
    c->train_labels = index_select(c->labels, 0, c->train_idx);
    return c;
  }();
  return cora;
}

// Glorot uniform, as in the paper's implementation.
Tensor glorot(int64_t fan_in, int64_t fan_out, Generator& g) {
  const double r = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return rand({fan_in, fan_out}, g, {}, -r, r).requires_grad_();
}

struct Adam {
  std::vector<Tensor> params, m, v;
  std::vector<double> decay;
  int64_t t = 0;
  void add(const Tensor& p, double weight_decay) {
    params.push_back(p);
    m.push_back(zeros_like(p));
    v.push_back(zeros_like(p));
    decay.push_back(weight_decay);
  }
  void step() {
    NoGradGuard no_grad;
    ++t;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double c1 = 1.0 - std::pow(b1, static_cast<double>(t));
    const double c2 = 1.0 - std::pow(b2, static_cast<double>(t));
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor g = params[i].grad();
      if (decay[i] != 0.0) g = g + params[i] * decay[i];
      m[i].mul_(b1).add_(g, 1.0 - b1);
      v[i].mul_(b2).add_(g * g, 1.0 - b2);
      // p -= lr * (m / c1) / (sqrt(v / c2) + eps), PyTorch's formulation.
      params[i].add_((m[i] / (sqrt(v[i] * (1.0 / c2)) + eps)), -kLr / c1);
      params[i].zero_grad();
    }
  }
};

struct Gcn {
  Tensor w1, b1, w2, b2;
  Gcn(int64_t in, int64_t classes, Generator& g)
      : w1(glorot(in, kHidden, g)),
        b1(zeros({kHidden}).requires_grad_()),
        w2(glorot(kHidden, classes, g)),
        b2(zeros({classes}).requires_grad_()) {}
  Tensor forward(const Cora& c, bool training, Generator& g) const {
    Tensor h = dropout(c.features, kDropout, training, g);
    h = relu(spmm(c.adj, matmul(h, w1)) + b1);
    h = dropout(h, kDropout, training, g);
    return spmm(c.adj, matmul(h, w2)) + b2;
  }
};

double train(const Cora& c, uint64_t seed) {
  Generator g(seed);
  Gcn model(c.features.size(1), 7, g);
  Adam opt;
  opt.add(model.w1, kWeightDecay);
  opt.add(model.b1, 0.0);
  opt.add(model.w2, 0.0);
  opt.add(model.b2, 0.0);
  for (int epoch = 0; epoch < kEpochs; ++epoch) {
    Tensor out = model.forward(c, true, g);
    Tensor loss = cross_entropy(index_select(out, 0, c.train_idx), c.train_labels);
    loss.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  Tensor out = index_select(model.forward(c, false, g), 0, c.test_idx);
  Tensor pred = argmax(out, 1);
  return mean(eq(pred, index_select(c.labels, 0, c.test_idx)).to(DType::f32)).item();
}

void BM_gcn_cora(benchmark::State& state) {
  const Cora* c = load_cora();
  if (!c) {
    state.SkipWithError(
        "Cora not found (looked for planetoid/cora/features.npy under "
        "$STACKGRAD_DATA, ../shared/datasets, /usr/share/datasets)");
    return;
  }
  double acc = 0;
  for (auto _ : state) acc = train(*c, 0);
  static bool printed = false;
  if (!printed) std::fprintf(stderr, "gcn/cora_200epochs/ours: test accuracy %.3f\n", acc);
  printed = true;
  state.counters["test_acc"] = acc;
}

}  // namespace

BENCHMARK(BM_gcn_cora)
    ->Name("gcn/cora_200epochs/ours")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
