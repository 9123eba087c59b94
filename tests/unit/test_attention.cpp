// scaled_dot_product_attention: error messages name the op, the argument and the shapes;
// dropout is reproducible and drops about p of the probabilities; the backward kernel is
// bit-for-bit independent of the thread count; a head-dim-64 problem matches the reference;
// bf16 and f16 inputs train through autograd with f32 statistics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/dispatch/dispatch.h"
#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using ::stackgrad::testing::error_of;
using ::testing::HasSubstr;

namespace {

sg::Tensor randn(std::mt19937_64& rng, const sg::Shape& shape, sg::DType dtype = sg::DType::f32) {
  std::normal_distribution<double> dist;
  std::vector<double> v(sg::numel_of(shape));
  for (auto& x : v) x = dist(rng);
  return sg::from_vector(v, shape, sg::DType::f64).to(dtype);
}

sg::Tensor z(const sg::Shape& s, sg::DType t = sg::DType::f32) { return sg::zeros(s, t); }

TEST(AttentionErrors, ShapesAndDtypes) {
  EXPECT_THAT(error_of([] {
                sg::scaled_dot_product_attention(z({2, 3, 4}), z({2, 1, 3, 4}), z({2, 1, 3, 4}));
              }),
              HasSubstr("scaled_dot_product_attention: expected q, k and v all (B, H, L, D) or "
                        "all (N, L, D)"));
  EXPECT_EQ(error_of([] {
              sg::scaled_dot_product_attention(z({1, 2, 3, 4}), z({1, 2, 5, 3}), z({1, 2, 5, 3}));
            }),
            "scaled_dot_product_attention: q and k must have the same head dim, got q [1, 2, 3, "
            "4], k [1, 2, 5, 3]");
  EXPECT_EQ(error_of([] {
              sg::scaled_dot_product_attention(z({1, 2, 3, 4}), z({1, 2, 5, 4}), z({1, 2, 6, 4}));
            }),
            "scaled_dot_product_attention: k and v must have the same length, got k [1, 2, 5, "
            "4], v [1, 2, 6, 4]");
  EXPECT_THAT(error_of([] {
                sg::scaled_dot_product_attention(z({1, 2, 3, 4}), z({2, 2, 5, 4}), z({2, 2, 5, 4}));
              }),
              HasSubstr("q, k and v must share (B, H)"));
  EXPECT_THAT(error_of([] {
                sg::scaled_dot_product_attention(z({1, 1, 3, 4}), z({1, 1, 5, 4}),
                                                 z({1, 1, 5, 4}, sg::DType::f64));
              }),
              HasSubstr("scaled_dot_product_attention"));
  EXPECT_THAT(error_of([] {
                sg::scaled_dot_product_attention(z({1, 1, 3, 4}, sg::DType::i64),
                                                 z({1, 1, 5, 4}, sg::DType::i64),
                                                 z({1, 1, 5, 4}, sg::DType::i64));
              }),
              HasSubstr("expected q to be f32, f64, bf16 or f16"));
  EXPECT_THAT(error_of([] {
                sg::scaled_dot_product_attention(z({1, 1, 3, 4}), z({1, 1, 5, 4}), z({1, 1, 5, 4}),
                                                 sg::Tensor(), false, 1.0);
              }),
              HasSubstr("dropout_p must be in [0, 1), got 1"));
}

TEST(AttentionErrors, Mask) {
  EXPECT_THAT(error_of([] {
                sg::scaled_dot_product_attention(z({1, 2, 3, 4}), z({1, 2, 5, 4}), z({1, 2, 5, 4}),
                                                 z({3, 4}));
              }),
              HasSubstr("mask [3, 4] does not broadcast to [1, 2, 3, 5]"));
  EXPECT_THAT(error_of([] {
                sg::scaled_dot_product_attention(z({1, 2, 3, 4}), z({1, 2, 5, 4}), z({1, 2, 5, 4}),
                                                 z({3, 5}, sg::DType::i64));
              }),
              HasSubstr("mask must be bool or of q's dtype"));
}

// Half inputs: O and the gradients come back in the input's dtype, the log-sum-exp in f32, and
// all of them equal the f32 computation on the same (rounded) values to within the half type's
// rounding. q = k = v as one leaf: its three gradients are summed (in f32, rounded once).
TEST(AttentionHalf, AutogradMatchesF32OnTheSameValues) {
  for (sg::DType t : {sg::DType::bf16, sg::DType::f16}) {
    SCOPED_TRACE(std::string(sg::dtype_name(t)));
    std::mt19937_64 rng(3);
    const sg::Tensor x = randn(rng, {2, 2, 40, 32}, t).requires_grad_();
    const sg::Tensor w = randn(rng, {2, 2, 40, 32});  // f32 cotangent
    const sg::Tensor o = sg::scaled_dot_product_attention(x, x, x, sg::Tensor(), true);
    EXPECT_EQ(o.dtype(), t);
    sg::sum(o.to(sg::DType::f32) * w).backward();
    ASSERT_TRUE(x.grad().defined());
    EXPECT_EQ(x.grad().dtype(), t);

    const sg::Tensor x32 = x.detach().to(sg::DType::f32).requires_grad_();
    const sg::Tensor o32 = sg::scaled_dot_product_attention(x32, x32, x32, sg::Tensor(), true);
    sg::sum(o32 * w).backward();
    const double tol = t == sg::DType::bf16 ? 1e-2 : 2e-3;  // about 2 ulps of the half type
    EXPECT_TRUE(sg::allclose(o.to(sg::DType::f32), o32, tol, tol));
    EXPECT_TRUE(sg::allclose(x.grad().to(sg::DType::f32), x32.grad(), tol, 4 * tol))
        << x.grad().to(sg::DType::f32) << x32.grad();

    sg::AttentionParams params;
    const auto ol = sg::scaled_dot_product_attention_forward(x.detach(), x.detach(), x.detach(),
                                                             sg::Tensor(), params);
    EXPECT_EQ(ol[0].dtype(), t);
    EXPECT_EQ(ol[1].dtype(), sg::DType::f32);
    EXPECT_THAT(error_of([&] {
                  sg::scaled_dot_product_attention_backward(x.detach(), x.detach(), x.detach(),
                                                            sg::Tensor(), ol[0], ol[1].to(t),
                                                            ol[0], params);
                }),
                HasSubstr("expected lse of dtype f32"));
  }
}

TEST(Attention, ThreeDimensionalInputsAreOneHead) {
  std::mt19937_64 rng(1);
  sg::Tensor q = randn(rng, {2, 5, 4}), k = randn(rng, {2, 6, 4}), v = randn(rng, {2, 6, 3});
  sg::Tensor a = sg::scaled_dot_product_attention(q, k, v, sg::Tensor(), true);
  sg::Tensor b = sg::scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1),
                                                  sg::Tensor(), true);
  EXPECT_TRUE(sg::equal(a, b.squeeze(1)));
}

// Keys with v = identity and q = 0: every probability is 1/Lk, so output element (i, j) is
// P_ij Z_ij: zero exactly where the dropout dropped (i, j).
TEST(AttentionDropout, SameSeedSameMaskAndAboutPDropped) {
  const int64_t B = 2, H = 4, L = 64;
  sg::Tensor q = z({B, H, L, 8}), k = z({B, H, L, 8});
  sg::Tensor v = sg::eye(L).expand({B, H, L, L});
  const double p = 0.3;
  sg::Generator g1(42), g2(42);
  sg::Tensor a = sg::scaled_dot_product_attention(q, k, v, sg::Tensor(), false, p, {}, g1);
  sg::Tensor b = sg::scaled_dot_product_attention(q, k, v, sg::Tensor(), false, p, {}, g2);
  EXPECT_TRUE(sg::equal(a, b));
  // The generator advanced: the next call draws a different mask.
  sg::Tensor c = sg::scaled_dot_product_attention(q, k, v, sg::Tensor(), false, p, {}, g1);
  EXPECT_FALSE(sg::equal(a, c));
  const std::vector<float> o = a.contiguous().to_vector<float>();
  int64_t dropped = 0;
  for (float x : o) {
    if (x == 0.0f)
      ++dropped;
    else
      EXPECT_NEAR(x, 1.0 / L / (1.0 - p), 1e-6);
  }
  EXPECT_NEAR(static_cast<double>(dropped) / o.size(), p, 0.015);  // 6 sigma over 32768 draws
}

// The backward applies the forward's mask: with dO = 1 and v = I, dV_j = sum_i P_ij Z_ij.
TEST(AttentionDropout, BackwardRegeneratesTheForwardMask) {
  const int64_t L = 16;
  sg::Tensor q = z({1, 1, L, 4}), k = z({1, 1, L, 4});
  sg::Tensor v = sg::eye(L).reshape({1, 1, L, L}).requires_grad_();
  sg::Generator g(5);
  sg::Tensor o = sg::scaled_dot_product_attention(q, k, v, sg::Tensor(), false, 0.5, {}, g);
  sg::sum(o).backward();
  // sum(O) = sum_ij P_ij Z_ij v_jj; so dL/dv[j][j'] = sum_i P_ij Z_ij for every j'.
  sg::Tensor col = sg::sum(o, {2});  // [1, 1, Dv]: column j of O sums P_ij Z_ij over i
  sg::Tensor dv = v.grad();
  for (int64_t j = 0; j < L; ++j)
    EXPECT_NEAR(dv.select(2, j).select(2, 0).item<double>(), col.select(2, j).item<double>(), 1e-5);
}

// Deterministic: the same bits on 1 and 2 threads, forward and backward. With one head and two
// threads the backward takes its two-pass schedule (dK/dV by key tile, then dQ by query tile),
// which must give the bits of the one-pass schedule.
TEST(Attention, ThreadCountDoesNotChangeTheBits) {
  std::mt19937_64 rng(3);
  for (int64_t B : {2, 1}) {
    const int64_t H = B;
    sg::Tensor q = randn(rng, {B, H, 150, 16}), k = randn(rng, {B, H, 270, 16}),
               v = randn(rng, {B, H, 270, 8}), dout = randn(rng, {B, H, 150, 8});
    auto run = [&](int threads) {
      sg::set_num_threads(threads);
      sg::AttentionParams params{true, {}, 0.1, 3, 0};
      auto ol = sg::scaled_dot_product_attention_forward(q, k, v, sg::Tensor(), params);
      auto g = sg::scaled_dot_product_attention_backward(q, k, v, sg::Tensor(), ol[0], ol[1], dout,
                                                         params);
      return std::vector<sg::Tensor>{ol[0], g[0], g[1], g[2]};
    };
    const int before = sg::num_threads();
    auto one = run(1), two = run(2);
    sg::set_num_threads(before);
    for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(sg::equal(one[i], two[i])) << B << " " << i;
  }
}

// Head dim 64 with two query and key tiles (the second ragged), f32, against the reference kernels.
TEST(Attention, HeadDim64MatchesTheReference) {
  std::mt19937_64 rng(4);
  sg::Tensor q = randn(rng, {1, 2, 150, 64}), k = randn(rng, {1, 2, 140, 64}),
             v = randn(rng, {1, 2, 140, 64}), dout = randn(rng, {1, 2, 150, 64});
  sg::AttentionParams params;
  auto run = [&] {
    auto ol = sg::scaled_dot_product_attention_forward(q, k, v, sg::Tensor(), params);
    auto g = sg::scaled_dot_product_attention_backward(q, k, v, sg::Tensor(), ol[0], ol[1], dout,
                                                       params);
    return std::vector<sg::Tensor>{ol[0], ol[1], g[0], g[1], g[2]};
  };
  auto fast = run();
  std::vector<sg::Tensor> ref;
  {
    sg::ReferenceKernels guard;
    ref = run();
  }
  for (size_t i = 0; i < fast.size(); ++i)
    EXPECT_TRUE(sg::allclose(fast[i], ref[i], 1e-4, 1e-5)) << i;
}

}  // namespace
