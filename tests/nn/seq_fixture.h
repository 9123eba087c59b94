// Shared by the nn sequence/graph tests: the path of a fixture under tests/fixtures/nn/seq, a
// loader of a module's parameters saved by make_seq_fixtures.py as <prefix>.<name>.npy, and the
// comparison helpers.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "engine/stackgrad.h"
#include "nn/module.h"
#include "tests/support/fixture_path.h"

namespace stackgrad::testing {

inline std::string seq_fixture(const std::string& name) { return fixture_path("nn/seq/" + name + ".npy"); }

inline Tensor load_seq(const std::string& name) { return load_npy(seq_fixture(name)); }

// Loads every state_dict entry of `m` from <prefix>.<name>.npy, by name, strictly.
inline void load_torch_parameters(nn::Module& m, const std::string& prefix) {
  nn::StateDict state;
  for (const auto& [name, t] : m.state_dict()) state[name] = load_seq(prefix + "." + name);
  m.load_state_dict(state);
}

// A fresh leaf that requires grad, holding t's values.
inline Tensor leaf(const Tensor& t) {
  Tensor c = t.clone();
  c.requires_grad_();
  return c;
}

inline void expect_close(const Tensor& got, const Tensor& want, const char* what, double tol = 1e-10) {
  ASSERT_TRUE(got.defined()) << what;
  EXPECT_EQ(got.shape(), want.shape()) << what;
  EXPECT_TRUE(allclose(got.contiguous(), want, tol, tol)) << what << "\n got " << got << "\nwant " << want;
}

}  // namespace stackgrad::testing
