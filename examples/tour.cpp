// The runnable part of docs/TOUR.md: each stop of the tour is one function here, printed in
// order by ./build/tour. Needs no data files. Keep this file and the tour in step.
#include <cstdio>
#include <iostream>

#include "datasets/datasets.h"
#include "engine/stackgrad.h"
#include "nn/nn.h"
#include "train/train.h"

using namespace stackgrad;

// Stop 1: a tensor is storage + shape + strides + offset; views share the storage.
void stop_tensor() {
  Tensor a = arange(6).to(DType::f32).reshape({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  Tensor t = a.t();                                     // a view: strides swapped, no copy
  std::printf("a strides (%lld, %lld), a.t() strides (%lld, %lld), same storage: %s\n",
              (long long)a.stride(0), (long long)a.stride(1), (long long)t.stride(0),
              (long long)t.stride(1), a.storage() == t.storage() ? "yes" : "no");
  std::cout << "a.t() =\n" << t << "\n";
}

// Stop 2-3: ops record a tape; backward() walks it and fills .grad of the leaves.
void stop_autograd() {
  Tensor w = from_vector<float>({1, -2, 3}, {3}).requires_grad_();
  Tensor x = from_vector<float>({0.5, 0.5, 0.5}, {3});
  Tensor loss = sum(relu(w * x));  // relu zeroes the middle term
  loss.backward();
  std::cout << "loss " << loss.item() << ", d loss / d w = " << w.grad() << "\n";
}

// Stop 4: sparse matrices are a layout of the same Tensor; spmm has gradients for the dense side.
void stop_sparse() {
  Tensor edges = from_vector<int64_t>({0, 1, 1, 2}, {2, 2});  // a path 0 - 1 - 2
  Tensor S = nn::gcn_norm(edges, 3);                         // D̃^-1/2 (A + I) D̃^-1/2, CSR
  Tensor X = eye(3);
  std::cout << "S as dense =\n" << spmm(S, X) << "\n";
}

// Stop 5: a Module registers parameters and submodules; state_dict names them like PyTorch.
struct TwoLayer : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  TwoLayer(int64_t in, int64_t hidden, int64_t out, Generator& gen) : Module("TwoLayer") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(in, hidden, nn::LinearOptions{}, gen));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, out, nn::LinearOptions{}, gen));
  }
  Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
};

void stop_module() {
  Generator gen(0);
  TwoLayer net(2, 16, 3, gen);
  std::cout << net.repr() << "\n";
  for (auto& [name, p] : net.named_parameters()) std::cout << "  " << name << " " << describe(p) << "\n";
}

// Stop 6: data, a loss, an optimiser, a schedule: a complete training loop on two spirals.
void stop_training() {
  Generator gen(0);
  data::TableDataset ds = data::spirals(3, 600, 0.05, gen);
  Tensor x = ds.features.to(DType::f32);
  TwoLayer net(2, 64, 3, gen);
  nn::Adam opt(net.parameters(), {.lr = 0.02});
  nn::StepLR sched(opt, /*step_size=*/100, /*gamma=*/0.5);
  data::DataLoader loader(x, ds.labels, {.batch_size = 100, .seed = 1});
  for (int64_t epoch = 0; epoch < 300; ++epoch) {
    for (const data::Batch& b : loader.epoch(epoch)) {
      Tensor loss = cross_entropy(net(b.x), b.y);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    sched.step();
  }
  NoGradGuard no_grad;
  std::printf("spirals: training accuracy %.3f after 300 epochs\n", train::accuracy(net(x), ds.labels));
}

// Stop 7: a graph convolutional network on a synthetic graph (algorithms/gcn has the real one).
void stop_gcn() {
  Generator gen(0);
  data::GraphDataset g = data::csbm(1000, 3, 32, 0.02, 0.002, 1.0, gen);
  Tensor S = nn::gcn_norm(g.edges, g.num_nodes);
  nn::GCNConv conv1(32, 16, {}, gen), conv2(16, 3, {}, gen);
  nn::Adam opt({conv1.weight, conv1.bias, conv2.weight, conv2.bias}, {.lr = 0.01});
  Tensor logits;
  for (int epoch = 0; epoch < 100; ++epoch) {
    logits = conv2.forward(S, relu(conv1.forward(S, g.features)));
    Tensor loss = cross_entropy(index_select(logits, 0, g.train_idx), index_select(g.labels, 0, g.train_idx));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  std::printf("csbm: GCN test accuracy %.3f (%lld labelled nodes of %lld)\n",
              train::accuracy(logits, g.labels, g.test_idx),
              (long long)g.train_idx.numel(), (long long)g.num_nodes);
}

int main() {
  std::puts("--- 1. tensors and views");
  stop_tensor();
  std::puts("--- 2. autograd");
  stop_autograd();
  std::puts("--- 3. sparse");
  stop_sparse();
  std::puts("--- 4. modules");
  stop_module();
  std::puts("--- 5. a training loop");
  stop_training();
  std::puts("--- 6. a graph network");
  stop_gcn();
  return 0;
}
