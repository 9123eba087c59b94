#include "train/assignment.h"

#include <cmath>
#include <limits>

#include "engine/core/error.h"

namespace stackgrad::train {

namespace {

// Rows <= cols. Rows are added one at a time; each addition grows a shortest-path tree over the
// columns (Dijkstra on reduced costs cost[i][j] - u[i] - v[j] >= 0) until it reaches a free
// column, then flips the path. The potentials u, v keep every reduced cost non-negative, which
// is what makes the greedy tree growth correct.
std::vector<int64_t> hungarian_wide(const std::vector<double>& cost, int64_t rows, int64_t cols) {
  const double inf = std::numeric_limits<double>::infinity();
  auto c = [&](int64_t i, int64_t j) { return cost[static_cast<size_t>(i * cols + j)]; };
  // 1-based columns with column 0 a virtual start: row_of_col[0] is the row being added.
  std::vector<double> u(rows + 1, 0.0), v(cols + 1, 0.0);
  std::vector<int64_t> row_of_col(cols + 1, -1), prev_col(cols + 1, 0);
  std::vector<double> min_to(cols + 1);
  std::vector<char> used(cols + 1);
  for (int64_t i = 0; i < rows; ++i) {
    row_of_col[0] = i;
    int64_t j0 = 0;
    std::fill(min_to.begin(), min_to.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const int64_t i0 = row_of_col[j0];
      double delta = inf;
      int64_t j1 = -1;
      for (int64_t j = 1; j <= cols; ++j) {
        if (used[j]) continue;
        const double reduced = c(i0, j - 1) - u[i0 + 1] - v[j];
        if (reduced < min_to[j]) {
          min_to[j] = reduced;
          prev_col[j] = j0;
        }
        if (min_to[j] < delta) {
          delta = min_to[j];
          j1 = j;
        }
      }
      for (int64_t j = 0; j <= cols; ++j) {
        if (used[j]) {
          u[row_of_col[j] + 1] += delta;
          v[j] -= delta;
        } else {
          min_to[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of_col[j0] != -1);
    // Flip the augmenting path back to the start.
    do {
      const int64_t j1 = prev_col[j0];
      row_of_col[j0] = row_of_col[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int64_t> col_of_row(rows, -1);
  for (int64_t j = 1; j <= cols; ++j)
    if (row_of_col[j] >= 0) col_of_row[row_of_col[j]] = j - 1;
  return col_of_row;
}

}  // namespace

std::vector<int64_t> hungarian(const std::vector<double>& cost, int64_t rows, int64_t cols) {
  SG_CHECK(rows >= 0 && cols >= 0, "hungarian: negative size [", rows, ", ", cols, "]");
  SG_CHECK(static_cast<int64_t>(cost.size()) == rows * cols, "hungarian: cost has ", cost.size(),
           " entries, expected rows * cols = ", rows, " * ", cols, " = ", rows * cols);
  for (size_t e = 0; e < cost.size(); ++e)
    SG_CHECK(std::isfinite(cost[e]), "hungarian: cost[", e / cols, ", ", e % cols,
             "] is not finite (", cost[e], ")");
  if (rows == 0 || cols == 0) return std::vector<int64_t>(rows, -1);
  if (rows <= cols) return hungarian_wide(cost, rows, cols);
  // Tall: assign the columns to rows on the transpose, then invert.
  std::vector<double> transposed(cost.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) transposed[j * rows + i] = cost[i * cols + j];
  const std::vector<int64_t> row_of_col = hungarian_wide(transposed, cols, rows);
  std::vector<int64_t> col_of_row(rows, -1);
  for (int64_t j = 0; j < cols; ++j) col_of_row[row_of_col[j]] = j;
  return col_of_row;
}

double assignment_cost(const std::vector<double>& cost, int64_t rows, int64_t cols,
                       const std::vector<int64_t>& col_of_row) {
  SG_CHECK(static_cast<int64_t>(col_of_row.size()) == rows, "assignment_cost: ", col_of_row.size(),
           " assignments for ", rows, " rows");
  double total = 0.0;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t j = col_of_row[i];
    if (j < 0) continue;
    SG_CHECK(j < cols, "assignment_cost: row ", i, " assigned to column ", j, " of ", cols);
    total += cost[i * cols + j];
  }
  return total;
}

}  // namespace stackgrad::train
