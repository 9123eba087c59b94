// The TF32 switch (engine/runtime/math_mode.h) and the CUDA GEMM's TF32 path. The switch's
// contract on the CPU (stored, never changes CPU results) runs everywhere; the GPU tests compare
// matmul on cuda:0 with an f64 CPU product, exact f32 and TF32 each within its own error bound,
// and skip without a GPU. (The exact f32 kernels are also covered, forward and backward, by the
// generic parity suite, tests/ops/cuda_parity.cpp.)
#include <gtest/gtest.h>

#include <cmath>

#include "engine/runtime/cuda_context.h"
#include "engine/stackgrad.h"
#include "tests/support/op_registry.h"

namespace stackgrad {
namespace {

// Restores the switch however a test ends.
struct Tf32Guard {
  bool saved = allow_tf32();
  explicit Tf32Guard(bool allow) { set_allow_tf32(allow); }
  ~Tf32Guard() { set_allow_tf32(saved); }
};

// max |got - ref| / sqrt(K): inputs are unit normals, so each output is a sum of K unit-variance
// products with spread sqrt(K).
double scaled_error(const Tensor& got, const Tensor& ref, int64_t K) {
  const std::vector<double> g =
      got.to(Device::cpu()).to(DType::f64).contiguous().to_vector<double>();
  const std::vector<double> r = ref.to(DType::f64).contiguous().to_vector<double>();
  EXPECT_EQ(g.size(), r.size());
  double worst = 0;
  for (size_t i = 0; i < g.size() && i < r.size(); ++i) {
    const double e = std::abs(g[i] - r[i]);
    if (!(e <= worst)) worst = e;  // NaN sticks
  }
  return worst / std::sqrt(static_cast<double>(K));
}

TEST(Tf32Switch, OffByDefaultAndNeverChangesCpuProducts) {
  EXPECT_FALSE(allow_tf32());
  std::mt19937_64 r(1);
  Tensor a = testing::randn_f64(r, {70, 90}).to(DType::f32);
  Tensor b = testing::randn_f64(r, {90, 80}).to(DType::f32);
  const std::vector<float> exact = matmul(a, b).to_vector<float>();
  {
    Tf32Guard on(true);
    EXPECT_TRUE(allow_tf32());
    EXPECT_EQ(matmul(a, b).to_vector<float>(), exact);
  }
  EXPECT_FALSE(allow_tf32());
}

// A [2, 300, 260] x [2, 260, 200] product (both sides >= 64: the tensor-core kernel when TF32
// is allowed, with remainder tiles in M and N), plain and with a transposed A and a broadcast B.
struct Problem {
  Tensor a, b;  // f32, CPU
  int64_t K;
};

std::vector<Problem> problems() {
  std::mt19937_64 r(2);
  std::vector<Problem> v;
  v.push_back({testing::randn_f64(r, {2, 300, 260}).to(DType::f32),
               testing::randn_f64(r, {2, 260, 200}).to(DType::f32), 260});
  v.push_back({testing::randn_f64(r, {2, 260, 300}).to(DType::f32).transpose(-2, -1),
               testing::randn_f64(r, {260, 200}).to(DType::f32), 260});
  return v;
}

TEST(CudaGemm, ExactF32MatchesF64ReferenceWhenTf32IsOff) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tf32Guard off(false);
  for (const Problem& p : problems()) {
    const Tensor ref = matmul(p.a.to(DType::f64), p.b.to(DType::f64));
    const Tensor got = matmul(p.a.to(Device::cuda(0)), p.b.to(Device::cuda(0)));
    EXPECT_LT(scaled_error(got, ref, p.K), 1e-5);
  }
}

TEST(CudaGemm, Tf32MatchesF64ReferenceWithinTf32Rounding) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tf32Guard on(true);
  for (const Problem& p : problems()) {
    const Tensor ref = matmul(p.a.to(DType::f64), p.b.to(DType::f64));
    const Tensor got = matmul(p.a.to(Device::cuda(0)), p.b.to(Device::cuda(0)));
    const double err = scaled_error(got, ref, p.K);
    // TF32 keeps 11 significant bits: each product is off by about 2^-11 relative, and K of them
    // add up like a random walk, so the scaled error is about 1e-3; f32 would be near 1e-7.
    EXPECT_LT(err, 1e-2);
    EXPECT_GT(err, 1e-5) << "as exact as f32: the tensor-core path did not run";
  }
}

TEST(CudaGemm, Tf32LeavesF64Exact) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tf32Guard on(true);
  const Problem p = problems()[0];
  const Tensor a = p.a.to(DType::f64), b = p.b.to(DType::f64);
  const Tensor got = matmul(a.to(Device::cuda(0)), b.to(Device::cuda(0)));
  EXPECT_LT(scaled_error(got, matmul(a, b), p.K), 1e-12);
}

}  // namespace
}  // namespace stackgrad
