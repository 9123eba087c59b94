// The autograd engine: graph shapes, accumulation, grad mode, detach, saved-tensor versions and
// very deep graphs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/stackgrad.h"

namespace stackgrad {
namespace {

using ::testing::HasSubstr;

Tensor vec(std::vector<double> v) { return from_vector(v, {static_cast<int64_t>(v.size())}, DType::f64); }

TEST(Autograd, SharedSubgraphSumsBothPaths) {
  // y = a*b, z = y + y*a: dz/da = b + 2ab... computed by hand: z = ab + a^2 b -> dz/da = b + 2ab
  Tensor a = vec({2.0, -1.0}).requires_grad_();
  Tensor b = vec({3.0, 0.5}).requires_grad_();
  Tensor y = a * b;
  Tensor z = sum(y + y * a);
  z.backward();
  EXPECT_TRUE(allclose(a.grad(), vec({3.0 + 2 * 2 * 3, 0.5 + 2 * -1 * 0.5})));
  EXPECT_TRUE(allclose(b.grad(), vec({2.0 + 4.0, -1.0 + 1.0})));
}

TEST(Autograd, SameLeafUsedTwiceInOneOp) {
  Tensor x = vec({1.5, -2.0}).requires_grad_();
  sum(x * x).backward();
  EXPECT_TRUE(allclose(x.grad(), vec({3.0, -4.0})));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  sum(x * 3.0).backward();
  sum(x * x).backward();
  EXPECT_TRUE(allclose(x.grad(), vec({3.0 + 2.0, 3.0 + 4.0})));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_TRUE(allclose(x.grad(), exp(vec({1.0, 2.0})) * 2.0));
}

TEST(Autograd, SecondBackwardWithoutRetainGraphIsAClearError) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor y = sum(exp(x));
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("retain_graph=true"));
  }
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = vec({1.0}).requires_grad_();
  {
    NoGradGuard guard;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(grad_enabled());
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Autograd, DetachStopsGradientsAndSharesStorage) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.raw_data(), x.raw_data());
  Tensor y = sum(x * d);  // gradient only through the first factor
  y.backward();
  EXPECT_TRUE(allclose(x.grad(), vec({1.0, 2.0})));
}

TEST(Autograd, InPlaceWriteAfterSaveIsAnErrorAtBackward) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor e = exp(x);  // exp saves its output
  Tensor y = sum(e);
  {
    NoGradGuard guard;
    e.mul_(2.0);
  }
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_THAT(err.what(), HasSubstr("saved by exp"));
    EXPECT_THAT(err.what(), HasSubstr("modified in place"));
  }
}

TEST(Autograd, InPlaceOnTensorRequiringGradIsRejected) {
  Tensor x = vec({1.0}).requires_grad_();
  EXPECT_THROW(x.fill_(0.0), Error);
  NoGradGuard guard;
  EXPECT_NO_THROW(x.fill_(0.0));  // an optimizer step
}

TEST(Autograd, TenThousandStepChainDoesNotOverflowTheStack) {
  Tensor x = scalar_tensor(1.0, DType::f64).requires_grad_();
  Tensor h = x;
  for (int i = 0; i < 10000; ++i) h = h * 1.0001 + 0.0;
  h.backward();
  EXPECT_NEAR(x.grad().item(), std::pow(1.0001, 10000), 1e-6);
}

TEST(Autograd, DeepGraphIsFreedWithoutRecursion) {
  // 200,000 nodes: destroying them recursively would overflow an 8 MB stack.
  Tensor x = scalar_tensor(1.0, DType::f64).requires_grad_();
  std::weak_ptr<Node> first;
  {
    Tensor h = x * 1.0;
    first = h.grad_fn();
    for (int i = 0; i < 200000; ++i) h = h + 0.0;
  }
  EXPECT_TRUE(first.expired());
}

TEST(Autograd, IntermediatesGetNoGrad) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor y = x * 2.0;
  sum(y).backward();
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_FALSE(y.grad().defined());
}

TEST(Autograd, BackwardNeedsGradientForNonScalar) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor y = x * 2.0;
  EXPECT_THROW(y.backward(), Error);
  y.backward(vec({1.0, 10.0}));
  EXPECT_TRUE(allclose(x.grad(), vec({2.0, 20.0})));
}

TEST(Autograd, BackwardOnTensorWithoutGradIsAnError) {
  try {
    vec({1.0}).backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not require grad"));
  }
}

TEST(Autograd, RequiresGradOnlyForFloatingLeaves) {
  EXPECT_THROW(arange(3).requires_grad_(), Error);
  Tensor x = vec({1.0}).requires_grad_();
  Tensor y = x * 2.0;
  EXPECT_THROW(y.requires_grad_(), Error);
}

TEST(Autograd, UnusedOutputsOfAMultiOutputGraphAreZeroFilled) {
  // Only one branch feeds the loss; the other gets no gradient and must not break backward.
  Tensor x = vec({1.0, 2.0, 3.0}).requires_grad_();
  Tensor a = x.narrow(0, 0, 2), b = x.narrow(0, 1, 2);
  sum(a * 2.0).backward();
  EXPECT_TRUE(allclose(x.grad(), vec({2.0, 2.0, 0.0})));
  (void)b;
}

TEST(Autograd, BroadcastGradientsReduceToInputShape) {
  Tensor a = ones({3, 1}, DType::f64).requires_grad_();
  Tensor b = ones({4}, DType::f64).requires_grad_();
  sum(a * b).backward();
  EXPECT_EQ(a.grad().shape(), (Shape{3, 1}));
  EXPECT_TRUE(allclose(a.grad(), full({3, 1}, 4.0, DType::f64)));
  EXPECT_TRUE(allclose(b.grad(), full({4}, 3.0, DType::f64)));
}

TEST(Autograd, SplitPiecesShareOneNodeAndUnusedPiecesGetZeros) {
  Tensor x = vec({1, 2, 3, 4, 5, 6}).requires_grad_();
  auto parts = split(x, 2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(parts[0].grad_fn() == parts[2].grad_fn());
  sum(parts[0] * 2.0 + 0.0).backward(Tensor(), true);
  sum(parts[2] * 3.0).backward();
  EXPECT_TRUE(allclose(x.grad(), vec({2, 2, 0, 0, 3, 3})));
}

TEST(Autograd, GraphIsFreedWhenNoBackwardRuns) {
  // exp saves its own output; the saved handle must not keep the output (and its node) alive.
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  std::weak_ptr<TensorImpl> out;
  std::weak_ptr<Node> node;
  {
    Tensor y = exp(x);
    out = y.impl();
    node = y.grad_fn();
  }
  EXPECT_TRUE(out.expired());
  EXPECT_TRUE(node.expired());
}

}  // namespace
}  // namespace stackgrad
