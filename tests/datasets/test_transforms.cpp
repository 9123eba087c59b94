// Image transforms: hand-computed outputs, per-image randomness in batches, determinism.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datasets/transforms.h"
#include "engine/ops/shape.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

// [C, H, W] with value 100c + 10h + w, so every output element tells where it came from.
sg::Tensor coded(int64_t c, int64_t h, int64_t w) {
  std::vector<float> v;
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < h; ++j)
      for (int64_t k = 0; k < w; ++k) v.push_back(static_cast<float>(100 * i + 10 * j + k));
  return sg::from_vector(v, {c, h, w});
}

}  // namespace

TEST(Transforms, NormalizePerChannel) {
  sg::data::Normalize norm({100.0, 200.0}, {2.0, 4.0});
  sg::Tensor y = norm(coded(2, 1, 2));  // channel 0: 0, 1; channel 1: 100, 101
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-50.0f, -49.5f, -25.0f, -24.75f}));
  EXPECT_THAT(error_of([&] { norm(coded(3, 1, 1)); }),
              HasSubstr("Normalize: 2 mean/std values for an input with 3 channels"));
}

TEST(Transforms, Rotate90MatchesHandValues) {
  // [[0, 1], [10, 11]] rotated counter-clockwise is [[1, 11], [0, 10]].
  EXPECT_EQ(sg::data::rotate90(coded(1, 2, 2), 1).to_vector<float>(),
            (std::vector<float>{1, 11, 0, 10}));
  EXPECT_EQ(sg::data::rotate90(coded(1, 2, 2), 2).to_vector<float>(),
            (std::vector<float>{11, 10, 1, 0}));
  EXPECT_EQ(sg::data::rotate90(coded(1, 2, 2), 3).to_vector<float>(),
            (std::vector<float>{10, 0, 11, 1}));
  // Non-square: [1, 2, 3] -> [1, 3, 2] for k = 1, four turns give the input back.
  sg::Tensor r = coded(1, 2, 3);
  EXPECT_EQ(sg::data::rotate90(r, 1).shape(), (sg::Shape{1, 3, 2}));
  sg::Tensor back = r;
  for (int i = 0; i < 4; ++i) back = sg::data::rotate90(back, 1);
  EXPECT_TRUE(sg::equal(back, r));
}

TEST(Transforms, RandomCropWindowsComeFromThePaddedImage) {
  sg::Tensor batch = sg::stack({coded(1, 4, 4), coded(1, 4, 4), coded(1, 4, 4), coded(1, 4, 4)});
  sg::Generator gen(1);
  sg::Tensor y = sg::data::RandomCrop(4, 2)(batch, gen);
  ASSERT_EQ(y.shape(), (sg::Shape{4, 1, 4, 4}));
  std::vector<float> v = y.to_vector<float>();
  bool any_shift = false;
  for (int n = 0; n < 4; ++n) {
    // Each crop is the image shifted by (dr, dc) in [-2, 2]: find the shift from a nonzero
    // element and check all 16 against it.
    int dr = 99, dc = 99;
    for (int r = 0; r < 4 && dr == 99; ++r)
      for (int c = 0; c < 4; ++c)
        if (float e = v[n * 16 + r * 4 + c]; e != 0) {
          dr = static_cast<int>(e) / 10 - r;
          dc = static_cast<int>(e) % 10 - c;
          break;
        }
    ASSERT_NE(dr, 99);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) {
        int sr = r + dr, sc = c + dc;
        float want = (sr >= 0 && sr < 4 && sc >= 0 && sc < 4) ? 10.0f * sr + sc : 0.0f;
        EXPECT_EQ(v[n * 16 + r * 4 + c], want) << "image " << n;
      }
    any_shift |= dr != 0 || dc != 0;
  }
  EXPECT_TRUE(any_shift);
  // Size without padding: [1, 4, 4] -> 2 x 3 window.
  sg::Generator g2(0);
  EXPECT_EQ(sg::data::RandomCrop(2, 3, 0)(coded(1, 4, 4), g2).shape(), (sg::Shape{1, 2, 3}));
  EXPECT_THAT(error_of([&] { sg::data::RandomCrop(9, 0)(coded(1, 4, 4), g2); }),
              HasSubstr("RandomCrop: a 9 x 9 crop does not fit a 4 x 4 image padded by 0"));
}

TEST(Transforms, FlipAndRotateArePerImageAndSeeded) {
  std::vector<sg::Tensor> imgs(64, coded(1, 2, 2));
  sg::Tensor batch = sg::stack(imgs);
  sg::Tensor flipped_ref = sg::flip(coded(1, 2, 2), {2});
  sg::Generator a(5), b(5);
  sg::Tensor fa = sg::data::RandomHorizontalFlip(0.5)(batch, a);
  sg::Tensor fb = sg::data::RandomHorizontalFlip(0.5)(batch, b);
  EXPECT_TRUE(sg::equal(fa, fb));
  int flipped = 0;
  for (int i = 0; i < 64; ++i) {
    sg::Tensor one = fa.select(0, i);
    bool is_flip = sg::equal(one, flipped_ref), is_same = sg::equal(one, coded(1, 2, 2));
    EXPECT_TRUE(is_flip || is_same);
    flipped += is_flip;
  }
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
  sg::Generator g(0);
  EXPECT_TRUE(sg::equal(sg::data::RandomHorizontalFlip(0.0)(batch, g), batch));

  sg::Generator r(3);
  sg::Tensor rot = sg::data::RandomRotate90()(batch, r);
  std::vector<int> seen(4, 0);
  for (int i = 0; i < 64; ++i)
    for (int k = 0; k < 4; ++k)
      if (sg::equal(rot.select(0, i), sg::data::rotate90(coded(1, 2, 2), k))) ++seen[k];
  for (int k = 0; k < 4; ++k) EXPECT_GT(seen[k], 4) << "rotation " << k;
  EXPECT_THAT(error_of([&] { sg::data::RandomRotate90()(coded(1, 2, 3), r); }),
              HasSubstr("RandomRotate90: expected square images, got 2 x 3"));
}

TEST(Transforms, ComposeAppliesInOrder) {
  sg::data::Compose both(
      {sg::data::Normalize({1.0}, {2.0}),
       [](const sg::Tensor& x, sg::Generator&) { return sg::data::rotate90(x, 2); }});
  sg::Generator g(0);
  EXPECT_EQ(both(coded(1, 1, 2), g).to_vector<float>(), (std::vector<float>{0.0f, -0.5f}));
  EXPECT_THAT(error_of([&] { both(sg::zeros({4}), g); }),
              HasSubstr("expected a floating cpu image [C, H, W] or batch [N, C, H, W]"));
}
