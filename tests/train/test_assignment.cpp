// The Hungarian solver against brute force over every assignment of small random costs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "tests/support/error_of.h"
#include "train/assignment.h"

namespace {

using stackgrad::testing::error_of;
using stackgrad::train::assignment_cost;
using stackgrad::train::hungarian;
using ::testing::HasSubstr;

// The least total cost over all injective maps from the smaller side to the larger one.
double brute_force(const std::vector<double>& cost, int64_t rows, int64_t cols) {
  const bool wide = rows <= cols;
  const int64_t small = wide ? rows : cols, large = wide ? cols : rows;
  std::vector<int64_t> perm(large);
  std::iota(perm.begin(), perm.end(), 0);
  double best = 1e300;
  do {  // the first `small` entries of every permutation cover every injective map
    double total = 0;
    for (int64_t i = 0; i < small; ++i)
      total += wide ? cost[i * cols + perm[i]] : cost[perm[i] * cols + i];
    best = std::min(best, total);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

void expect_valid(const std::vector<int64_t>& col_of_row, int64_t rows, int64_t cols) {
  ASSERT_EQ(static_cast<int64_t>(col_of_row.size()), rows);
  std::vector<int> used(cols, 0);
  int64_t assigned = 0;
  for (int64_t c : col_of_row) {
    if (c < 0) continue;
    ASSERT_LT(c, cols);
    EXPECT_EQ(used[c]++, 0) << "column " << c << " assigned twice";
    ++assigned;
  }
  EXPECT_EQ(assigned, std::min(rows, cols));
}

TEST(Hungarian, DocumentedExample) {
  const std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  const auto a = hungarian(cost, 3, 3);
  EXPECT_EQ(a, (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(assignment_cost(cost, 3, 3, a), 5.0);
}

TEST(Hungarian, MatchesBruteForceOnRandomSquareAndRectangular) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> real(-5.0, 10.0);
  std::uniform_int_distribution<int> small_int(0, 3);  // many ties
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{6, 6}, {6, 6}, {4, 7}, {7, 4},
                                                           {1, 5}, {5, 1}, {3, 3}, {2, 6}};
  for (int trial = 0; trial < 40; ++trial) {
    const auto [rows, cols] = shapes[trial % shapes.size()];
    std::vector<double> cost(rows * cols);
    for (double& c : cost) c = trial % 2 ? real(rng) : small_int(rng);
    const auto a = hungarian(cost, rows, cols);
    expect_valid(a, rows, cols);
    EXPECT_NEAR(assignment_cost(cost, rows, cols, a), brute_force(cost, rows, cols), 1e-9)
        << rows << "x" << cols << " trial " << trial;
  }
}

TEST(Hungarian, MaximisesWhenNegated) {
  // Matches a permuted identity-like score table exactly.
  const std::vector<double> score = {0, 9, 1, 8, 0, 0, 0, 1, 7};
  std::vector<double> cost(score.size());
  std::transform(score.begin(), score.end(), cost.begin(), [](double s) { return -s; });
  EXPECT_EQ(hungarian(cost, 3, 3), (std::vector<int64_t>{1, 0, 2}));
}

TEST(Hungarian, EmptyAndErrors) {
  EXPECT_TRUE(hungarian({}, 0, 3).empty());
  EXPECT_EQ(hungarian({}, 2, 0), (std::vector<int64_t>{-1, -1}));
  EXPECT_THAT(error_of([] {
                hungarian({1, 2, 3}, 2, 2);
              }),
              HasSubstr("hungarian: cost has 3 entries, expected rows * cols = 2 * 2 = 4"));
  EXPECT_THAT(error_of([] {
                hungarian({1, 2, 3, NAN}, 2, 2);
              }),
              HasSubstr("hungarian: cost[1, 1] is not finite"));
}

}  // namespace
