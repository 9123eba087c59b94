// Min-cost assignment (the Hungarian algorithm, in the shortest-augmenting-path form of Jonker and
// Volgenant with row and column potentials): O(rows² cols) time for rows <= cols.
//
//   std::vector<double> cost = {4, 1, 3,  2, 0, 5,  3, 2, 2};   // 3 x 3, row-major
//   auto col_of_row = train::hungarian(cost, 3, 3);            // {1, 0, 2}, total cost 5
//   double total = train::assignment_cost(cost, 3, 3, col_of_row);
//
// Rectangular costs are allowed: with rows <= cols every row gets a distinct column; with
// rows > cols every column gets a distinct row and the remaining rows get -1. To maximise a
// score (e.g. matched counts), pass its negation.
#pragma once

#include <cstdint>
#include <vector>

namespace stackgrad::train {

// The column assigned to each row (-1 for the rows left over when rows > cols). `cost` is
// row-major [rows, cols] of finite numbers; ties are resolved deterministically.
std::vector<int64_t> hungarian(const std::vector<double>& cost, int64_t rows, int64_t cols);

// The sum of cost[r, col_of_row[r]] over the assigned rows.
double assignment_cost(const std::vector<double>& cost, int64_t rows, int64_t cols,
                       const std::vector<int64_t>& col_of_row);

}  // namespace stackgrad::train
