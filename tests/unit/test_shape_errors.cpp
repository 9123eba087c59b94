// Error messages of the shape ops: each check names the op, the argument and the shapes, and
// every out-of-range index names the bad value and the size it must stay below (on the fast and
// on the reference kernels).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using ::stackgrad::testing::error_of;

using ::testing::AllOf;
using ::testing::HasSubstr;

Tensor idx(std::vector<int64_t> v, Shape shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  return from_vector(v, shape);
}

// Runs `f` on the fast kernels and on the reference kernels: both must fail with `expected`.
void expect_both(const std::function<void()>& f, const std::string& expected) {
  EXPECT_THAT(error_of(f), HasSubstr(expected)) << "cpu kernels";
  ReferenceKernels use_reference;
  EXPECT_THAT(error_of(f), HasSubstr(expected)) << "reference kernels";
}

TEST(ShapeErrors, Cat) {
  Tensor a = zeros({2, 3}), b = zeros({3, 3});
  EXPECT_THAT(error_of([] { cat({}); }), HasSubstr("cat: expected a non-empty list of tensors"));
  EXPECT_THAT(error_of([&] {
                cat({a, b}, 1);
              }),
              AllOf(HasSubstr("cat: sizes must match except in dim 1"),
                    HasSubstr("f32[2, 3] on cpu and f32[3, 3]"), HasSubstr("tensors[1], dim 0")));
  EXPECT_THAT(error_of([&] {
                cat({a, zeros({2, 3}, DType::f64)});
              }),
              AllOf(HasSubstr("cat: dtype mismatch"), HasSubstr("f64[2, 3]")));
  EXPECT_THAT(error_of([&] {
                cat({a, zeros({6})});
              }),
              AllOf(HasSubstr("cat: tensors must have the same number of dims"),
                    HasSubstr("f32[6]"), HasSubstr("tensors[1]")));
  EXPECT_THAT(error_of([&] { cat({scalar_tensor(1.0)}); }), HasSubstr("cat: tensors[0] is 0-dim"));
  EXPECT_THAT(error_of([&] {
                cat({a, Tensor()});
              }),
              HasSubstr("cat: argument 'tensors[1]' is an undefined tensor"));
  EXPECT_THAT(error_of([&] {
                cat({a, a}, 2);
              }),
              HasSubstr("cat: dim 2 is out of range for a tensor with 2 dims"));
}

TEST(ShapeErrors, StackSplitChunk) {
  Tensor a = zeros({2, 3});
  EXPECT_THAT(error_of([] { stack({}); }), HasSubstr("stack: expected a non-empty list"));
  EXPECT_THAT(
      error_of([&] {
        stack({a, zeros({3, 2})});
      }),
      AllOf(HasSubstr("stack: expected tensors of the same shape"), HasSubstr("f32[3, 2]")));
  EXPECT_THAT(error_of([&] {
                stack({a, a}, 3);
              }),
              HasSubstr("stack: dim 3 is out of range for a tensor with 3 dims"));
  EXPECT_THAT(error_of([&] { split(a, 0, 1); }),
              HasSubstr("split: split_size must be positive, got 0 for dim 1 of size 3"));
  EXPECT_THAT(error_of([&] {
                split(a, std::vector<int64_t>{1, 1}, 1);
              }),
              HasSubstr("split: sizes [1, 1] sum to 2 but dim 1 of f32[2, 3] on cpu has size 3"));
  EXPECT_THAT(error_of([&] {
                split(a, std::vector<int64_t>{4, -1}, 1);
              }),
              HasSubstr("split: sizes must be non-negative"));
  EXPECT_THAT(error_of([&] { split(scalar_tensor(1.0), 1); }),
              HasSubstr("split: cannot split a 0-dim tensor"));
  EXPECT_THAT(error_of([&] { chunk(a, 0); }), HasSubstr("chunk: chunks must be positive, got 0"));
  EXPECT_THAT(error_of([&] { chunk(a, 2, -3); }), HasSubstr("chunk: dim -3 is out of range"));
}

TEST(ShapeErrors, Pad) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(
      error_of([&] {
        pad(x, {1, 1, 1});
      }),
      AllOf(
          HasSubstr("pad: expected an even number of paddings, at most 2 per dim (4 for f32[2, 3]"),
          HasSubstr("got 3 [1, 1, 1]")));
  EXPECT_THAT(error_of([&] { pad(x, {1, 1, 1, 1, 1, 1}); }), HasSubstr("got 6"));
  EXPECT_THAT(error_of([&] {
                pad(x, {-2, -2});
              }),
              HasSubstr("pad: padding (-2, -2) of dim 1 (size 3) gives a negative size"));
  EXPECT_THAT(
      error_of([&] {
        pad(x, {3, 0}, PadMode::reflect);
      }),
      HasSubstr(
          "pad: reflect padding (3, 0) of dim 1 must be non-negative and less than its size 3"));
  EXPECT_THAT(error_of([&] {
                pad(x, {0, 0, 0, 2}, PadMode::reflect);
              }),
              HasSubstr("of dim 0 must be"));
  EXPECT_THAT(error_of([&] {
                pad(x, {-1, 0}, PadMode::reflect);
              }),
              HasSubstr("reflect padding (-1, 0)"));
  EXPECT_THAT(error_of([&] {
                pad(zeros({2, 0}), {1, 0}, PadMode::reflect);
              }),
              HasSubstr("less than its size 0"));
}

TEST(ShapeErrors, FlipRepeatTile) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(error_of([&] {
                flip(x, {1, -1});
              }),
              HasSubstr("flip: dim 1 appears twice in [1, -1]"));
  EXPECT_THAT(error_of([&] { flip(x, {2}); }), HasSubstr("flip: dim 2 is out of range"));
  EXPECT_THAT(
      error_of([&] { repeat(x, {2}); }),
      HasSubstr(
          "repeat: the number of repeats (1) must be at least the number of dims of f32[2, 3]"));
  EXPECT_THAT(error_of([&] {
                repeat(x, {2, -1});
              }),
              HasSubstr("repeat: repeats must be non-negative, got [2, -1]"));
  EXPECT_THAT(error_of([&] { tile(x, {-1}); }), HasSubstr("repeat: repeats must be non-negative"));
}

TEST(ShapeErrors, IndexSelect) {
  Tensor x = zeros({4, 3});
  expect_both(
      [&] {
        index_select(x, 0, idx({1, 4}));
      },
      "index_select: index 4 is out of bounds for dim 0 with size 4");
  expect_both([&] { index_select(x, 1, idx({-1})); },
              "index_select: index -1 is out of bounds for dim 1 with size 3");
  expect_both([&] { index_select(x, 1, idx({0, 7}).to(DType::i32)); }, "index 7 is out of bounds");
  EXPECT_THAT(error_of([&] {
                index_select(x, 0, idx({0, 1}, {1, 2}));
              }),
              HasSubstr("index_select: index must be 1-D (or 0-dim), got i64[1, 2]"));
  EXPECT_THAT(error_of([&] { index_select(x, 0, zeros({2})); }),
              HasSubstr("index_select: index must be an i64 (or i32) tensor, got f32[2]"));
  EXPECT_THAT(error_of([&] { index_select(x, 2, idx({0})); }),
              HasSubstr("index_select: dim 2 is out of range"));
}

TEST(ShapeErrors, Gather) {
  Tensor x = zeros({2, 3});
  expect_both(
      [&] {
        gather(x, 1, idx({0, 3, 1, 1}, {2, 2}));
      },
      "gather: index 3 is out of bounds for dim 1 with size 3");
  expect_both(
      [&] {
        gather(x, 0, idx({-2}, {1, 1}));
      },
      "gather: index -2 is out of bounds for dim 0 with size 2");
  EXPECT_THAT(error_of([&] {
                gather(x, 1, idx({0, 1}));
              }),
              HasSubstr("gather: index i64[2] on cpu must have as many dims as x f32[2, 3]"));
  EXPECT_THAT(error_of([&] {
                gather(x, 1, idx({0, 0, 0, 0, 0, 0}, {3, 2}));
              }),
              HasSubstr("gather: index i64[3, 2] on cpu is larger than x f32[2, 3] on cpu in dim 0 "
                        "(only dim 1 may be)"));
  EXPECT_THAT(error_of([&] {
                gather(x, 1, zeros({2, 2}, DType::u8));
              }),
              HasSubstr("gather: index must be an i64"));
}

TEST(ShapeErrors, ScatterAdd) {
  Tensor x = zeros({2, 3});
  expect_both(
      [&] {
        scatter_add(x, 1, idx({0, 5}, {1, 2}), ones({1, 2}));
      },
      "scatter_add: index 5 is out of bounds for dim 1 with size 3");
  EXPECT_THAT(error_of([&] {
                scatter_add(x, 1, idx({0, 1}, {1, 2}), ones({1, 2}, DType::f64));
              }),
              HasSubstr("scatter_add: dtype mismatch"));
  EXPECT_THAT(
      error_of([&] {
        scatter_add(x, 1, idx({0, 1, 2}, {1, 3}), ones({1, 2}));
      }),
      HasSubstr(
          "scatter_add: index i64[1, 3] on cpu is larger than src f32[1, 2] on cpu in dim 1"));
  EXPECT_THAT(
      error_of([&] {
        scatter_add(x, 1, idx({0, 1, 2}, {3, 1}), ones({3, 1}));
      }),
      HasSubstr("scatter_add: index i64[3, 1] on cpu is larger than x f32[2, 3] on cpu in dim 0"));
  EXPECT_THAT(error_of([&] { scatter_add(x, 1, idx({0}), ones({1})); }),
              HasSubstr("must have the same number of dims"));
  EXPECT_THAT(error_of([&] {
                scatter_add(x > 0.0, 1, idx({0}, {1, 1}), x > 0.0);
              }),
              HasSubstr("scatter_add: cannot add bool tensors"));
}

TEST(ShapeErrors, TakeAlongDimMaskedFillOneHot) {
  Tensor x = zeros({2, 3});
  expect_both(
      [&] {
        take_along_dim(x, idx({0, 3}, {1, 2}), 1);
      },
      "take_along_dim: gather: index 3 is out of bounds for dim 1 with size 3");
  expect_both([&] { take_along_dim(x, idx({6})); },
              "index 6 is out of bounds for dim 0 with size 6");
  EXPECT_THAT(error_of([&] { take_along_dim(x, idx({0}), 1); }),
              HasSubstr("take_along_dim: x f32[2, 3] on cpu and indices i64[1] on cpu must have "
                        "the same number of dims"));
  EXPECT_THAT(error_of([&] {
                take_along_dim(x, idx({0, 0, 0}, {3, 1}), 1);
              }),
              HasSubstr("take_along_dim: shapes [2, 1] and [3, 1] cannot be broadcast together"));
  EXPECT_THAT(error_of([&] { masked_fill(x, zeros({3}), 1.0); }),
              HasSubstr("masked_fill: mask must be bool, got f32[3]"));
  EXPECT_THAT(error_of([&] {
                masked_fill(x, zeros({2, 2}) > 0.0, 1.0);
              }),
              HasSubstr("masked_fill: shapes [2, 3] and [2, 2] cannot be broadcast together"));
  EXPECT_THAT(
      error_of([&] {
        masked_fill(x, zeros({3, 2, 3}) > 0.0, 1.0);
      }),
      HasSubstr("masked_fill: mask bool[3, 2, 3] on cpu does not broadcast to x f32[2, 3]"));
  expect_both(
      [&] {
        one_hot(idx({0, 3}), 3);
      },
      "one_hot: class index 3 is out of bounds for num_classes 3");
  expect_both([&] { one_hot(idx({-1, 0}), 3); }, "one_hot: class index -1 is out of bounds");
  expect_both([&] { one_hot(idx({0}), 0); },
              "one_hot: class index 0 is out of bounds for num_classes 0");
  EXPECT_THAT(error_of([&] { one_hot(idx({}), -1); }),
              HasSubstr("one_hot: cannot infer num_classes from an empty index"));
  EXPECT_THAT(error_of([&] { one_hot(idx({-2, -1}), -1); }), HasSubstr("every index is negative"));
  EXPECT_THAT(error_of([&] { one_hot(idx({0}), -2); }),
              HasSubstr("one_hot: num_classes must be -1 (infer) or non-negative, got -2"));
  EXPECT_THAT(error_of([&] { one_hot(zeros({2}), 3); }),
              HasSubstr("one_hot: index must be an i64 (or i32) tensor"));
}

TEST(ShapeErrors, Ordering) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(error_of([&] { topk(x, 4); }),
              HasSubstr("topk: k (4) is out of range for dim 1 of size 3 in f32[2, 3]"));
  EXPECT_THAT(error_of([&] { topk(x, -1, 0); }),
              HasSubstr("topk: k (-1) is out of range for dim 0 of size 2"));
  EXPECT_THAT(error_of([&] { topk(x, 1, 2); }), HasSubstr("topk: dim 2 is out of range"));
  EXPECT_THAT(error_of([&] { sort(x, -3); }), HasSubstr("sort: dim -3 is out of range"));
  EXPECT_THAT(error_of([&] { sort(x > 0.0); }),
              HasSubstr("sort: expected a numeric tensor, got bool[2, 3]"));
  EXPECT_THAT(error_of([&] { argsort(x, 5); }), HasSubstr("argsort: dim 5 is out of range"));
}

TEST(ShapeErrors, SavedIndexWrittenInPlace) {
  Tensor x = ones({3}, DType::f64).requires_grad_();
  Tensor index = idx({2, 0});
  Tensor y = index_select(x, 0, index);
  index.fill_(1.0);
  EXPECT_THAT(error_of([&] { sum(y).backward(); }),
              AllOf(HasSubstr("saved by index_select"), HasSubstr("modified in place")));
}

}  // namespace
}  // namespace stackgrad
