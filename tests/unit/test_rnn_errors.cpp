// The rnn family's error messages: each names the op, the argument and the shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using ::testing::HasSubstr;

namespace {

using ::stackgrad::testing::error_of;

sg::Tensor z(const sg::Shape& s, sg::DType t = sg::DType::f32) { return sg::zeros(s, t); }

TEST(RnnErrors, LstmCellShapes) {
  // B 2, I 3, H 4.
  EXPECT_EQ(error_of([] {
              sg::lstm_cell(z({2, 3, 1}), z({2, 4}), z({2, 4}), z({16, 3}), z({16, 4}));
            }),
            "lstm_cell: expected x (B, I), got [2, 3, 1]");
  EXPECT_EQ(error_of([] {
              sg::lstm_cell(z({2, 3}), z({2, 4}), z({2, 4}), z({15, 3}), z({16, 4}));
            }),
            "lstm_cell: expected w_ih (4*H, I) with rows i, f, g, o, got [15, 3]");
  EXPECT_EQ(error_of([] {
              sg::lstm_cell(z({2, 3}), z({2, 4}), z({2, 4}), z({16, 5}), z({16, 4}));
            }),
            "lstm_cell: expected w_ih (4*H, I) = [16, 3], got f32[16, 5] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm_cell(z({2, 3}), z({2, 4}), z({2, 4}), z({16, 3}), z({16, 5}));
            }),
            "lstm_cell: expected w_hh (4*H, H) = [16, 4], got f32[16, 5] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm_cell(z({2, 3}), z({3, 4}), z({2, 4}), z({16, 3}), z({16, 4}));
            }),
            "lstm_cell: expected h (B, H) = [2, 4], got f32[3, 4] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm_cell(z({2, 3}), z({2, 4}), z({2, 5}), z({16, 3}), z({16, 4}));
            }),
            "lstm_cell: expected c (B, H) = [2, 4], got f32[2, 5] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm_cell(z({2, 3}), z({2, 4}), z({2, 4}), z({16, 3}), z({16, 4}), z({4}));
            }),
            "lstm_cell: expected b_ih (4*H) = [16], got f32[4] on cpu");
  EXPECT_EQ(
      error_of([] {
        sg::lstm_cell(z({2, 3}), z({2, 4}), z({2, 4}), z({16, 3}), z({16, 4}), z({16}), z({17}));
      }),
      "lstm_cell: expected b_hh (4*H) = [16], got f32[17] on cpu");
}

TEST(RnnErrors, DtypesAndKinds) {
  EXPECT_THAT(
      error_of([] {
        sg::lstm_cell(z({2, 3}), z({2, 4}), z({2, 4}), z({16, 3}, sg::DType::f64), z({16, 4}));
      }),
      HasSubstr("lstm_cell"));
  EXPECT_THAT(
      error_of([] {
        sg::lstm_cell(z({2, 3}), z({2, 4}), z({2, 4}), z({16, 3}, sg::DType::f64), z({16, 4}));
      }),
      HasSubstr("f64"));
  EXPECT_EQ(
      error_of([] {
        sg::lstm_cell(z({2, 3}, sg::DType::i64), z({2, 4}), z({2, 4}), z({16, 3}), z({16, 4}));
      }),
      "lstm_cell: expected a floating x, got i64[2, 3] on cpu");
  EXPECT_THAT(error_of([] {
                sg::lstm_cell(sg::Tensor(), z({2, 4}), z({2, 4}), z({16, 3}), z({16, 4}));
              }),
              HasSubstr("lstm_cell"));
}

TEST(RnnErrors, LstmShapes) {
  EXPECT_EQ(error_of([] {
              sg::lstm(z({2, 3}), sg::Tensor(), sg::Tensor(), z({16, 3}), z({16, 4}));
            }),
            "lstm: expected x (T, B, I), got [2, 3]");
  EXPECT_EQ(error_of([] {
              sg::lstm(z({0, 2, 3}), sg::Tensor(), sg::Tensor(), z({16, 3}), z({16, 4}));
            }),
            "lstm: expected at least one time step, got x [0, 2, 3]");
  EXPECT_EQ(error_of([] {
              sg::lstm(z({5, 2, 3}), z({1, 4}), sg::Tensor(), z({16, 3}), z({16, 4}));
            }),
            "lstm: expected h0 (B, H) = [2, 4], got f32[1, 4] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm(z({5, 2, 3}), z({2, 4}), z({2, 3}), z({16, 3}), z({16, 4}));
            }),
            "lstm: expected c0 (B, H) = [2, 4], got f32[2, 3] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm(z({5, 2, 2}), z({2, 4}), z({2, 4}), z({16, 3}), z({16, 4}));
            }),
            "lstm: expected w_ih (4*H, I) = [16, 2], got f32[16, 3] on cpu");
}

TEST(RnnErrors, BackwardKernels) {
  EXPECT_EQ(error_of([] {
              sg::lstm_cell_backward(z({2, 15}), z({2, 4}), z({2, 4}), z({2, 4}), z({2, 4}));
            }),
            "lstm_cell_backward: expected gates (B, 4*H) = [2, 16], got f32[2, 15] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm_cell_backward(z({2, 16}), z({2, 4}), z({2, 4}), z({2, 4}), z({4}));
            }),
            "lstm_cell_backward: expected dc_new (B, H) = [2, 4], got f32[4] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm_backward(z({3, 2, 5}), z({2, 4}), z({2, 4}), z({16, 5}), z({16, 4}),
                                z({3, 2, 4}), z({3, 2, 4}), z({3, 2, 15}), z({3, 2, 4}), z({2, 4}),
                                z({2, 4}));
            }),
            "lstm_backward: expected gates (T, B, 4*H) = [3, 2, 16], got f32[3, 2, 15] on cpu");
  EXPECT_EQ(error_of([] {
              sg::lstm_backward(z({3, 2, 5}), z({2, 4}), z({2, 4}), z({16, 5}), z({16, 4}),
                                z({2, 2, 4}), z({3, 2, 4}), z({3, 2, 16}), z({3, 2, 4}), z({2, 4}),
                                z({2, 4}));
            }),
            "lstm_backward: expected output (T, B, H) = [3, 2, 4], got f32[2, 2, 4] on cpu");
}

TEST(RnnErrors, TreeLstm) {
  const sg::Forest f = sg::forest_from_parents({-1, 0, 0});  // one root, two leaves; I 3, H 2
  EXPECT_EQ(error_of([&] {
              sg::tree_lstm_child_sum(z({4, 3}), f, z({8, 3}), z({8, 2}));
            }),
            "tree_lstm_child_sum: the forest has 3 nodes (child_offsets [N + 1]) but x has 4 rows");
  EXPECT_EQ(error_of([&] {
              sg::tree_lstm_child_sum(z({3, 3}), f, z({8, 3}), z({8, 3}));
            }),
            "tree_lstm_child_sum: expected u (4*H, H) = [12, 3], got f32[8, 3] on cpu");
  EXPECT_EQ(error_of([&] {
              sg::tree_lstm_child_sum(z({3, 3}), f, z({8, 2}), z({8, 2}));
            }),
            "tree_lstm_child_sum: expected w (4*H, I) = [8, 3], got f32[8, 2] on cpu");
  EXPECT_EQ(error_of([&] {
              sg::tree_lstm_nary(z({3, 3}), f, z({8, 3}), z({8, 2}), z({8}), 1);
            }),
            "tree_lstm_nary: node 0 has 2 children, more than arity 1");
  EXPECT_EQ(error_of([&] {
              sg::tree_lstm_nary(z({3, 3}), f, z({10, 3}), z({10, 4}), z({9}), 2);
            }),
            "tree_lstm_nary: expected b ((3 + arity)*H) = [10], got f32[9] on cpu");
  // Levels out of order: the root listed before its children.
  sg::Forest bad = f;
  bad.level_offsets = {0, 1, 3};
  bad.level_nodes = {0, 1, 2};
  EXPECT_EQ(error_of([&] {
              sg::tree_lstm_child_sum(z({3, 3}), bad, z({8, 3}), z({8, 2}));
            }),
            "tree_lstm_child_sum: child 1 of node 0 is not in an earlier level than its parent");
  EXPECT_EQ(error_of([] {
              sg::forest_from_parents({1, 0});
            }),
            "forest_from_children: the child lists contain a cycle");
  EXPECT_EQ(error_of([] {
              sg::forest_from_parents({-1, 5});
            }),
            "forest_from_parents: parent[1] = 5 is not a node of 2 (or -1 for a root)");
  EXPECT_EQ(error_of([] {
              sg::forest_from_children({0, 1, 2, 2}, {2, 2});
            }),
            "forest_from_children: node 2 has more than one parent");
}

}  // namespace
