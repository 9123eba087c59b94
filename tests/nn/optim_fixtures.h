// Shared by the optimiser, loss and checkpoint tests: the path of a committed PyTorch fixture
// and the tiny model of tests/fixtures/nn/make_optim_fixtures.py.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "nn/module.h"

namespace stackgrad::testing {

inline std::string nn_fixture(const std::string& relative) {
  std::filesystem::path root;
  if (const char* env = std::getenv("STACKGRAD_SOURCE_DIR"); env != nullptr && *env != '\0')
    root = env;
  else
    root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return (root / "tests" / "fixtures" / "nn" / relative).string();
}

// loss = mean((tanh(X W^T + b) - Y)^2), with one more parameter the loss never reaches.
struct TinyModel : nn::Module {
  Tensor W, b, unused;
  TinyModel() : Module("TinyModel") {
    register_parameter("W", W, load_npy(nn_fixture("optim/W0.npy")));
    register_parameter("b", b, load_npy(nn_fixture("optim/b0.npy")));
    register_parameter("unused", unused, zeros({2}, DType::f64));
  }
  Tensor loss(const Tensor& X, const Tensor& Y) const {
    return mean(square(tanh(matmul(X, W.t()) + b) - Y));
  }
  // W and b flattened into one row, the layout of the trajectory fixtures.
  Tensor row() const { return cat({W.detach().flatten(), b.detach()}); }
};

}  // namespace stackgrad::testing
