// Shared by the nn sequence/graph tests: the path of a fixture under tests/fixtures/nn/seq and a
// loader of a module's parameters saved by make_seq_fixtures.py as <prefix>.<name>.npy.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/stackgrad.h"
#include "nn/module.h"

namespace stackgrad::testing {

inline std::string seq_fixture(const std::string& name) {
  std::filesystem::path root;
  if (const char* env = std::getenv("STACKGRAD_SOURCE_DIR"); env != nullptr && *env != '\0')
    root = env;
  else
    root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return (root / "tests" / "fixtures" / "nn" / "seq" / (name + ".npy")).string();
}

inline Tensor load_seq(const std::string& name) { return load_npy(seq_fixture(name)); }

// Loads every state_dict entry of `m` from <prefix>.<name>.npy, by name, strictly.
inline void load_torch_parameters(nn::Module& m, const std::string& prefix) {
  nn::StateDict state;
  for (const auto& [name, t] : m.state_dict()) state[name] = load_seq(prefix + "." + name);
  m.load_state_dict(state);
}

}  // namespace stackgrad::testing
