// Views: they share storage with their base (a write through one is seen by the other), have
// the expected strides and contiguity, reshape copies only when strides force it, and invalid
// views fail with messages that name the op, the tensor and the sizes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using ::stackgrad::testing::error_of;

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Tensor iota(const Shape& shape) { return arange(numel_of(shape), DType::f32).reshape(shape); }

bool shares(const Tensor& a, const Tensor& b) { return a.storage().get() == b.storage().get(); }

TEST(Views, ShareStorageBothWays) {
  Tensor base = iota({3, 4});
  Tensor col = base.select(1, 2);  // [2, 6, 10]
  Tensor rows = base.slice(0, 0, 3, 2);
  Tensor tr = base.t();
  Tensor flat = base.view({12});
  for (const Tensor& v :
       {col, rows, tr, flat, base.narrow(1, 1, 2), base.unsqueeze(0), base.permute({1, 0}),
        base.expand({2, 3, 4}), base.detach(), base.reshape({2, 6})})
    EXPECT_TRUE(shares(v, base));
  col.fill_(-1.0);  // a write through a view shows in the base
  EXPECT_THAT(base.to_vector<float>(), ElementsAre(0, 1, -1, 3, 4, 5, -1, 7, 8, 9, -1, 11));
  base.select(0, 2).fill_(7.0);  // and a write to the base shows in every view
  EXPECT_THAT(rows.to_vector<float>(), ElementsAre(0, 1, -1, 3, 7, 7, 7, 7));
  EXPECT_EQ(tr.to_vector<float>()[2], 7.0f);
  EXPECT_EQ(flat.to_vector<float>()[11], 7.0f);
}

TEST(Views, StridesOffsetsAndContiguity) {
  Tensor x = iota({2, 3, 4});
  EXPECT_EQ(shape_str(x.strides()), "[12, 4, 1]");
  EXPECT_TRUE(x.is_contiguous());
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(shape_str(p.shape()), "[4, 2, 3]");
  EXPECT_EQ(shape_str(p.strides()), "[1, 12, 4]");
  EXPECT_FALSE(p.is_contiguous());
  Tensor s = x.slice(2, 1, 4, 2);
  EXPECT_EQ(shape_str(s.shape()), "[2, 3, 2]");
  EXPECT_EQ(shape_str(s.strides()), "[12, 4, 2]");
  EXPECT_EQ(s.offset(), 1);
  EXPECT_FALSE(s.is_contiguous());
  Tensor sel = x.select(1, -1);
  EXPECT_EQ(shape_str(sel.strides()), "[12, 1]");
  EXPECT_EQ(sel.offset(), 8);
  Tensor e = iota({3, 1}).expand({2, 3, 5});
  EXPECT_EQ(shape_str(e.strides()), "[0, 1, 0]");
  EXPECT_FALSE(e.is_contiguous());
  Tensor ee = e.unsqueeze(1).expand({2, 4, 3, 5});  // expanding a stride-0 view again
  EXPECT_EQ(shape_str(ee.strides()), "[0, 0, 1, 0]");
  EXPECT_EQ(ee.select(0, 1).select(0, 3).to_vector<float>()[14], 2.0f);
  // A narrowed row block is still contiguous; size-1 dims never break contiguity.
  EXPECT_TRUE(x.narrow(0, 1, 1).is_contiguous());
  EXPECT_TRUE(x.narrow(0, 1, 1).permute({1, 0, 2}).is_contiguous());
  EXPECT_EQ(shape_str(x.unsqueeze(-1).shape()), "[2, 3, 4, 1]");
  EXPECT_EQ(shape_str(x.narrow(1, 0, 1).squeeze().shape()), "[2, 4]");
  EXPECT_EQ(shape_str(x.flatten(0, 1).shape()), "[6, 4]");
}

TEST(Views, ReshapeCopiesOnlyWhenNeeded) {
  Tensor x = iota({4, 6});
  EXPECT_TRUE(shares(x.reshape({2, 12}), x));
  EXPECT_TRUE(shares(x.reshape({-1}), x));
  EXPECT_TRUE(shares(x.slice(0, 1, 3).reshape({12}), x));  // a row block merges
  EXPECT_TRUE(shares(x.t().reshape({3, 2, 4}), x));        // splitting one dim of a transpose
  Tensor copied = x.t().reshape({24});
  EXPECT_FALSE(shares(copied, x));
  EXPECT_TRUE(copied.is_contiguous());
  EXPECT_THAT(copied.slice(0, 0, 6).to_vector<float>(), ElementsAre(0, 6, 12, 18, 1, 7));
  EXPECT_TRUE(shares(x.slice(1, 0, 6, 2).reshape({12}), x));  // strides 6 = 2 * 3 still merge
  EXPECT_FALSE(shares(x.slice(1, 0, 4).reshape({16}), x));    // strides 6 != 1 * 4 do not
  // contiguous() is a no-op on a contiguous tensor and a copy otherwise.
  EXPECT_TRUE(x.contiguous().same(x));
  EXPECT_FALSE(shares(x.t().contiguous(), x));
  Tensor c = x.t().contiguous();
  EXPECT_TRUE(c.is_contiguous() && c.contiguous().same(c));
  // clone always copies.
  EXPECT_FALSE(shares(x.clone(), x));
}

TEST(Views, GradientsFlowToTheBase) {
  Tensor x = iota({3, 4}).to(DType::f64).requires_grad_();
  Tensor y = x.t().slice(0, 1, 4, 2).select(1, 0) * 3.0 + sum(x.expand({2, 3, 4}));
  sum(y).backward();
  // expand: every element used twice; select/slice: x[0][1] and x[0][3] get 3 more each.
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(4, 7, 4, 7, 4, 4, 4, 4, 4, 4, 4, 4));
}

TEST(Views, InvalidViewsNameTheOpAndSizes) {
  Tensor x = iota({2, 3});
  EXPECT_THAT(error_of([&] { x.t().view({6}); }),
              AllOf(HasSubstr("view: cannot view f32[3, 2]"), HasSubstr("strides [1, 3]"),
                    HasSubstr("as [6]"), HasSubstr("reshape()")));
  EXPECT_THAT(error_of([&] {
                x.view({4, -1});
              }),
              HasSubstr("view: shape [4, -1] is invalid for 6 elements"));
  EXPECT_THAT(error_of([&] { x.view({-1, -1}); }), HasSubstr("view: only one dimension can be -1"));
  EXPECT_THAT(error_of([&] { x.reshape({5}); }),
              HasSubstr("reshape: shape [5] is invalid for 6 elements"));
  EXPECT_THAT(error_of([&] { x.narrow(1, 2, 2); }),
              AllOf(HasSubstr("narrow: range [2, 4) is out of bounds for dim 1 of size 3"),
                    HasSubstr("f32[2, 3]")));
  EXPECT_THAT(error_of([&] { x.narrow(0, -3, 1); }),
              HasSubstr("narrow: range [-1, 0) is out of bounds"));
  EXPECT_THAT(error_of([&] {
                x.expand({2, 4});
              }),
              AllOf(HasSubstr("expand: cannot expand f32[2, 3] on cpu to [2, 4]"),
                    HasSubstr("dim 1: 3 vs 4")));
  EXPECT_THAT(error_of([&] { x.expand({3}); }),
              HasSubstr("expand: cannot expand f32[2, 3] on cpu to fewer dims [3]"));
  EXPECT_THAT(error_of([&] { x.select(0, 2); }),
              HasSubstr("select: index 2 is out of bounds for dim 0 of size 2"));
  EXPECT_THAT(error_of([&] { x.select(2, 0); }),
              HasSubstr("select: dim 2 is out of range for a tensor with 2 dims"));
  EXPECT_THAT(error_of([&] { x.permute({0}); }),
              HasSubstr("permute: got 1 dims for a tensor with 2 dims"));
  EXPECT_THAT(error_of([&] {
                x.permute({1, 1});
              }),
              HasSubstr("permute: dim 1 appears twice in [1, 1]"));
  EXPECT_THAT(error_of([&] { x.transpose(0, 2); }), HasSubstr("transpose: dim 2 is out of range"));
  EXPECT_THAT(error_of([&] {
                iota({2, 3, 4}).t();
              }),
              HasSubstr("t: expected a tensor with at most 2 dims, got f32[2, 3, 4]"));
  EXPECT_THAT(error_of([&] { x.unsqueeze(3); }), HasSubstr("unsqueeze: dim 3 is out of range"));
  EXPECT_THAT(error_of([&] { x.squeeze(-3); }), HasSubstr("squeeze: dim -3 is out of range"));
  EXPECT_THAT(error_of([&] { x.flatten(1, 0); }),
              HasSubstr("flatten: start_dim 1 is after end_dim 0"));
  EXPECT_THAT(error_of([&] { x.slice(0, 0, 2, 0); }),
              HasSubstr("slice: step must be positive, got 0"));
  EXPECT_THAT(error_of([&] { scalar_tensor(1.0).slice(0, 0, 1); }),
              HasSubstr("slice: cannot slice a 0-dim tensor"));
  EXPECT_THAT(error_of([&] { scalar_tensor(1.0).narrow(0, 0, 1); }),
              HasSubstr("narrow: cannot narrow a 0-dim tensor"));
}

}  // namespace
}  // namespace stackgrad
