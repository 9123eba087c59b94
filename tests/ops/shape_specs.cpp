// OpSpecs of the shape family, and known-answer tests of its semantics (the specs compare the
// fast kernels with the reference ones; these pin both to PyTorch's results).
// Per-case integer parameters (dims, pads, repeats) travel as an extra i64 input: integer
// inputs pass through the harness unchanged and are never differentiated.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;
using Ints = std::vector<int64_t>;

Tensor params(const Ints& v) { return from_vector(v); }
Ints ints(const Tensor& t) { return t.to_vector<int64_t>(); }

// Flattens the pieces, weights piece i by i + 1 (so a mix-up shows) and joins them.
Tensor join_pieces(const std::vector<Tensor>& pieces) {
  std::vector<Tensor> flat;
  for (size_t i = 0; i < pieces.size(); ++i)
    flat.push_back(pieces[i].reshape({-1}) * static_cast<double>(i + 1));
  return cat(flat, 0);
}

void spec(const std::string& op, Fn fn, std::function<std::vector<OpCase>(std::mt19937_64&)> cases,
          bool differentiable = true, std::vector<DType> dtypes = {DType::f32, DType::f64}) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  s.dtypes = std::move(dtypes);
  register_op_spec(std::move(s));
}

// Sort-like ops need no ties for gradcheck: distinct values.
Tensor distinct(std::mt19937_64& r, const Shape& s) { return distinct_f64(r, s); }

std::vector<OpCase> sort_cases(std::mt19937_64& r) {
  return {
      {"[4, 6] dim -1", {distinct(r, {4, 6}), params({-1})}},
      {"[5, 3] dim 0", {distinct(r, {5, 3}), params({0})}},
      {"non-contiguous [6, 4] dim 1", {noncontiguous(distinct(r, {6, 4})), params({1})}},
      {"3-D [2, 5, 3] dim 1", {distinct(r, {2, 5, 3}), params({1})}},
      {"1-D long", {distinct(r, {300}), params({0})}},
      {"0-dim", {distinct(r, {}), params({0})}},
      {"zero-size [0, 4]", {distinct(r, {0, 4}), params({1})}},
  };
}

// Values with many ties and, in floating cases, NaNs: checks that fast and reference kernels
// agree on the tie and NaN order (forward only).
std::vector<OpCase> tie_cases(std::mt19937_64& r) {
  auto with_nans = [&r](Tensor t) {
    NoGradGuard g;
    return where(randn_f64(r, t.shape()) > 1.0, scalar_tensor(std::nan(""), DType::f64), t);
  };
  Tensor nan = with_nans(randint_t(r, {5, 7}, -2, 3, DType::f64));
  Tensor long_nan = with_nans(randint_t(r, {3, 150}, -2, 3, DType::f64));  // radix-sorted lines
  // Lines longer than the CUDA sort's shared-memory tile (2048), so its global merge steps run.
  Tensor past_tile = with_nans(randint_t(r, {2, 2500}, -2, 3, DType::f64));
  Tensor past_tile_dim0 = with_nans(randint_t(r, {2100, 2}, -2, 3, DType::f64));
  const double inf = std::numeric_limits<double>::infinity(), nan_v = std::nan("");
  Tensor zeros_infs = from_vector<double>({0.0, -0.0, inf, -inf, nan_v, 1.0, -0.0, 0.0, -inf, nan_v,
                                           inf, -1.0, 0.0, -0.0, 2.0, nan_v, -inf, 0.0})
                          .reshape({3, 6});
  return {
      {"ties [6, 8]", {randint_t(r, {6, 8}, -2, 3, DType::f64), params({-1})}},
      {"ties dim 0", {randint_t(r, {9, 3}, 0, 3, DType::f64), params({0})}},
      {"NaN and ties", {nan, params({1})}},
      {"NaN and ties, long lines", {long_nan, params({-1})}},
      {"NaN and ties, lines past one tile", {past_tile, params({1})}},
      {"NaN and ties, dim 0 past one tile", {past_tile_dim0, params({0})}},
      {"signed zeros, infinities, NaN", {zeros_infs, params({1})}},
  };
}

std::vector<OpCase> int_sort_cases(std::mt19937_64& r) {
  return {{"i64 ties", {randint_t(r, {5, 9}, -3, 4), params({1})}},
          {"i32 ties dim 0", {noncontiguous(randint_t(r, {6, 4}, -3, 4, DType::i32)), params({0})}},
          {"i64 ties past one tile", {randint_t(r, {2, 3000}, -3, 4), params({1})}}};
}

const bool registered = [] {
  // --- cat, stack, split, chunk ---
  spec(
      "cat",
      [](const Inputs& x) {
        return cat({x[0], x[1], x[2]}, ints(x[3])[0]);
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"dim 1",
             {randn_f64(r, {2, 3}), randn_f64(r, {2, 1}), randn_f64(r, {2, 4}), params({1})}},
            {"dim 0",
             {randn_f64(r, {1, 3}), randn_f64(r, {2, 3}), randn_f64(r, {3, 3}), params({0})}},
            {"negative dim, 3-D",
             {randn_f64(r, {2, 2, 3}), randn_f64(r, {2, 2, 1}), randn_f64(r, {2, 2, 2}),
              params({-1})}},
            {"non-contiguous",
             {noncontiguous(randn_f64(r, {3, 4})), randn_f64(r, {3, 2}),
              noncontiguous(randn_f64(r, {3, 3})), params({1})}},
            {"zero-size piece",
             {randn_f64(r, {0, 3}), randn_f64(r, {2, 3}), randn_f64(r, {1, 3}), params({0})}},
            {"all zero-size",
             {randn_f64(r, {2, 0}), randn_f64(r, {2, 0}), randn_f64(r, {2, 0}), params({0})}},
        };
      });
  spec(
      "cat",
      [](const Inputs& x) {
        return cat({x[0], x[1]}, 1);
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"i64", {randint_t(r, {2, 3}, -5, 5), randint_t(r, {2, 2}, -5, 5)}},
            {"expanded i64",
             {randint_t(r, {2, 1}, -5, 5).expand({2, 3}), randint_t(r, {2, 2}, -5, 5)}},
            {"bool", {randn_f64(r, {3, 2}) > 0.0, noncontiguous(randn_f64(r, {3, 3}) > 0.0)}}};
      },
      false, {DType::f32});
  spec(
      "stack",
      [](const Inputs& x) {
        return stack({x[0], x[1], x[2]}, ints(x[3])[0]);
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"dim 0",
             {randn_f64(r, {2, 3}), randn_f64(r, {2, 3}), randn_f64(r, {2, 3}), params({0})}},
            {"dim 2 (new last)",
             {randn_f64(r, {2, 3}), randn_f64(r, {2, 3}), randn_f64(r, {2, 3}), params({2})}},
            {"dim -2, non-contiguous",
             {noncontiguous(randn_f64(r, {3, 4})), randn_f64(r, {3, 4}),
              noncontiguous(randn_f64(r, {3, 4})), params({-2})}},
            {"0-dim", {randn_f64(r, {}), randn_f64(r, {}), randn_f64(r, {}), params({0})}},
            {"zero-size",
             {randn_f64(r, {0, 2}), randn_f64(r, {0, 2}), randn_f64(r, {0, 2}), params({1})}},
        };
      });
  spec(
      "split",
      [](const Inputs& x) {
        Ints p = ints(x[1]);
        if (p.size() == 2) return join_pieces(split(x[0], p[1], p[0]));
        return join_pieces(split(x[0], Ints(p.begin() + 1, p.end()), p[0]));
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"size 2 of 5, dim 1", {randn_f64(r, {3, 5}), params({1, 2})}},
            {"size 3 of 3", {randn_f64(r, {3, 2}), params({0, 3})}},
            {"sizes [1, 0, 3], dim -1", {randn_f64(r, {2, 4}), params({-1, 1, 0, 3})}},
            {"non-contiguous", {noncontiguous(randn_f64(r, {4, 5})), params({0, 3})}},
            {"zero-size", {randn_f64(r, {0, 3}), params({0, 2})}},
        };
      });
  spec(
      "chunk",
      [](const Inputs& x) {
        Ints p = ints(x[1]);
        return join_pieces(chunk(x[0], p[1], p[0]));
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"3 chunks of 7", {randn_f64(r, {2, 7}), params({1, 3})}},
            {"4 chunks of 6 (3 come out)", {randn_f64(r, {6, 2}), params({0, 4})}},
            {"non-contiguous", {noncontiguous(randn_f64(r, {5, 4})), params({-1, 2})}},
            {"zero-size", {randn_f64(r, {0, 3}), params({0, 2})}},
        };
      });

  // --- pad, flip, repeat, tile ---
  spec(
      "pad", [](const Inputs& x) { return pad(x[0], ints(x[1]), PadMode::constant, 0.5); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"last dim (1, 2)", {randn_f64(r, {2, 3}), params({1, 2})}},
            {"two dims", {randn_f64(r, {2, 3, 4}), params({1, 0, 2, 1})}},
            {"all dims", {randn_f64(r, {2, 3}), params({0, 1, 3, 2})}},
            {"negative crops", {randn_f64(r, {3, 5}), params({-1, 2, 1, -2})}},
            {"non-contiguous", {noncontiguous(randn_f64(r, {4, 3})), params({2, 1, 1, 1})}},
            {"0-dim", {randn_f64(r, {}), Tensor(params({})).reshape({0})}},
            {"zero-size padded", {randn_f64(r, {0, 3}), params({1, 1, 2, 0})}},
        };
      });
  spec(
      "pad", [](const Inputs& x) { return pad(x[0], ints(x[1]), PadMode::reflect); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"reflect last dim", {randn_f64(r, {2, 5}), params({2, 3})}},
            {"reflect two dims", {randn_f64(r, {2, 3, 4}), params({1, 2, 2, 1})}},
            {"reflect non-contiguous", {noncontiguous(randn_f64(r, {4, 5})), params({4, 1, 3, 0})}},
            {"reflect zero pads", {randn_f64(r, {3, 2}), params({0, 0})}},
        };
      });
  spec(
      "pad",
      [](const Inputs& x) {
        return pad(x[0], {1, 1, 1, 0}, PadMode::constant, 7);
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"i64", {randint_t(r, {2, 3}, -5, 5)}},
            {"i32 non-contiguous", {noncontiguous(randint_t(r, {3, 3}, -5, 5, DType::i32))}}};
      },
      false, {DType::f32});
  spec(
      "flip", [](const Inputs& x) { return flip(x[0], ints(x[1])); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"last dim", {randn_f64(r, {3, 4}), params({-1})}},
            {"first dim", {randn_f64(r, {3, 4}), params({0})}},
            {"two of three dims", {randn_f64(r, {2, 3, 4}), params({0, 2})}},
            {"non-contiguous", {noncontiguous(randn_f64(r, {4, 5})), params({1, 0})}},
            {"0-dim", {randn_f64(r, {}), params({0})}},
            {"zero-size", {randn_f64(r, {0, 3}), params({0, 1})}},
        };
      });
  spec(
      "repeat", [](const Inputs& x) { return repeat(x[0], ints(x[1])); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"[2, 3] x (2, 2)", {randn_f64(r, {2, 3}), params({2, 2})}},
            {"new leading dims", {randn_f64(r, {3}), params({2, 1, 2})}},
            {"ones (a copy)", {randn_f64(r, {2, 3}), params({1, 1})}},
            {"non-contiguous", {noncontiguous(randn_f64(r, {3, 2})), params({1, 3})}},
            {"0-dim", {randn_f64(r, {}), params({3, 2})}},
            {"zero repeats", {randn_f64(r, {2, 3}), params({0, 2})}},
            {"many dims (one at a time)",
             {randn_f64(r, {2, 1, 2, 1, 2, 1}), params({2, 2, 1, 2, 2, 2})}},
        };
      });
  spec(
      "tile", [](const Inputs& x) { return tile(x[0], ints(x[1])); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"short reps", {randn_f64(r, {2, 3}), params({2})}},
            {"long reps", {randn_f64(r, {3}), params({2, 2})}},
            {"non-contiguous", {noncontiguous(randn_f64(r, {3, 4})), params({2, 1})}},
            {"zero-size", {randn_f64(r, {0, 2}), params({3, 2})}},
        };
      });

  // --- indexing ---
  spec(
      "index_select", [](const Inputs& x) { return index_select(x[0], ints(x[2])[0], x[1]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"dim 0 with repeats",
             {randn_f64(r, {4, 3}), from_vector<int64_t>({3, 0, 3, 1, 3}), params({0})}},
            {"dim 1", {randn_f64(r, {3, 5}), randint_t(r, {4}, 0, 5), params({1})}},
            {"3-D middle dim, i32",
             {randn_f64(r, {2, 4, 3}), randint_t(r, {6}, 0, 4, DType::i32), params({-2})}},
            {"non-contiguous x and index",
             {noncontiguous(randn_f64(r, {5, 4})), noncontiguous(randint_t(r, {3}, 0, 5)),
              params({0})}},
            {"0-dim index",
             {randn_f64(r, {4, 2}), from_vector<int64_t>({2}).reshape({}), params({0})}},
            {"0-dim x", {randn_f64(r, {}), from_vector<int64_t>({0}), params({0})}},
            {"empty index", {randn_f64(r, {3, 2}), randint_t(r, {0}, 0, 3), params({0})}},
        };
      });
  spec(
      "gather", [](const Inputs& x) { return gather(x[0], ints(x[2])[0], x[1]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"dim 1", {randn_f64(r, {3, 5}), randint_t(r, {3, 4}, 0, 5), params({1})}},
            {"dim 0, smaller index",
             {randn_f64(r, {4, 3}), randint_t(r, {6, 2}, 0, 4), params({0})}},
            {"3-D, i32",
             {randn_f64(r, {2, 4, 3}), randint_t(r, {2, 5, 3}, 0, 4, DType::i32), params({1})}},
            {"non-contiguous",
             {noncontiguous(randn_f64(r, {4, 5})), noncontiguous(randint_t(r, {4, 3}, 0, 5)),
              params({-1})}},
            {"expanded index",
             {randn_f64(r, {3, 6}), randint_t(r, {1, 4}, 0, 3).expand({5, 4}).transpose(0, 1),
              params({0})}},
            {"0-dim", {randn_f64(r, {}), from_vector<int64_t>({0}).reshape({}), params({0})}},
            {"zero-size index", {randn_f64(r, {3, 2}), randint_t(r, {3, 0}, 0, 2), params({1})}},
        };
      });
  spec(
      "scatter_add", [](const Inputs& x) { return scatter_add(x[0], ints(x[3])[0], x[1], x[2]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"dim 0, duplicates",
             {randn_f64(r, {3, 4}), randint_t(r, {5, 4}, 0, 3), randn_f64(r, {5, 4}), params({0})}},
            {"dim 1, smaller index than src",
             {randn_f64(r, {3, 4}), randint_t(r, {2, 6}, 0, 4), randn_f64(r, {3, 7}), params({1})}},
            {"3-D, i32",
             {randn_f64(r, {2, 3, 4}), randint_t(r, {2, 5, 4}, 0, 3, DType::i32),
              randn_f64(r, {2, 5, 4}), params({-2})}},
            {"non-contiguous",
             {noncontiguous(randn_f64(r, {4, 3})), noncontiguous(randint_t(r, {4, 5}, 0, 3)),
              noncontiguous(randn_f64(r, {4, 5})), params({1})}},
            {"long lines (blocked)",
             {randn_f64(r, {2, 600}), randint_t(r, {3, 600}, 0, 2), randn_f64(r, {3, 600}),
              params({0})}},
            {"0-dim",
             {randn_f64(r, {}), from_vector<int64_t>({0}).reshape({}), randn_f64(r, {}),
              params({0})}},
            {"zero-size index",
             {randn_f64(r, {3, 2}), randint_t(r, {0, 2}, 0, 3), randn_f64(r, {1, 2}), params({0})}},
        };
      });
  // An index of more than 2048 elements: the CUDA kernel's sort by destination runs global
  // merge steps (forward only: gradcheck over this many inputs would be slow).
  spec(
      "scatter_add", [](const Inputs& x) { return scatter_add(x[0], ints(x[3])[0], x[1], x[2]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"index past one sort tile, dim 0",
             {randn_f64(r, {4, 1000}), randint_t(r, {3, 1000}, 0, 4), randn_f64(r, {3, 1000}),
              params({0})}},
            {"index past one sort tile, dim 1, i32",
             {randn_f64(r, {2, 5}), randint_t(r, {2, 2500}, 0, 5, DType::i32),
              randn_f64(r, {2, 2500}), params({1})}},
        };
      },
      false);
  spec(
      "scatter_add", [](const Inputs& x) { return scatter_add(x[0], 1, x[1], x[2]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{{"i64",
                                    {randint_t(r, {3, 4}, -5, 5), randint_t(r, {3, 6}, 0, 4),
                                     randint_t(r, {3, 6}, -5, 5)}}};
      },
      false, {DType::f32});
  spec(
      "take_along_dim",
      [](const Inputs& x) {
        int64_t d = ints(x[2])[0];
        return d == 99 ? take_along_dim(x[0], x[1]) : take_along_dim(x[0], x[1], d);
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"same shape", {randn_f64(r, {3, 4}), randint_t(r, {3, 4}, 0, 4), params({1})}},
            {"broadcast x", {randn_f64(r, {1, 5}), randint_t(r, {3, 2}, 0, 5), params({1})}},
            {"broadcast indices",
             {randn_f64(r, {4, 3, 2}), randint_t(r, {4, 1, 1}, 0, 2), params({-1})}},
            {"argsort-style",
             {noncontiguous(randn_f64(r, {5, 3})), noncontiguous(randint_t(r, {5, 3}, 0, 5)),
              params({0})}},
            {"no dim (flattened)", {randn_f64(r, {3, 4}), randint_t(r, {5}, 0, 12), params({99})}},
            {"zero-size", {randn_f64(r, {0, 3}), randint_t(r, {0, 2}, 0, 3), params({1})}},
        };
      });
  spec(
      "masked_fill", [](const Inputs& x) { return masked_fill(x[0], x[1], -1.5); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"same shape", {randn_f64(r, {3, 4}), randn_f64(r, {3, 4}) > 0.0}},
            {"broadcast mask", {randn_f64(r, {3, 4}), randn_f64(r, {4}) > 0.0}},
            {"non-contiguous",
             {noncontiguous(randn_f64(r, {4, 3})), noncontiguous(randn_f64(r, {4, 3}) > 0.0)}},
            {"0-dim", {randn_f64(r, {}), randn_f64(r, {}) > 0.0}},
            {"zero-size", {randn_f64(r, {0, 3}), randn_f64(r, {0, 3}) > 0.0}},
        };
      });
  spec(
      "one_hot", [](const Inputs& x) { return one_hot(x[0], ints(x[1])[0]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"1-D", {randint_t(r, {6}, 0, 4), params({4})}},
            {"2-D, inferred", {randint_t(r, {3, 4}, 0, 5), params({-1})}},
            {"non-contiguous i32",
             {noncontiguous(randint_t(r, {4, 3}, 0, 3, DType::i32)), params({5})}},
            {"0-dim", {from_vector<int64_t>({2}).reshape({}), params({3})}},
            {"zero-size", {randint_t(r, {0, 2}, 0, 3), params({3})}},
            {"long [3000]", {randint_t(r, {3000}, 0, 7), params({7})}},
        };
      },
      false, {DType::i64});

  // --- ordering: values (differentiable), indices, ties and NaNs, integers ---
  spec(
      "topk",
      [](const Inputs& x) {
        return topk(x[0], std::min<int64_t>(3, x[0].dim() ? x[0].size(ints(x[1])[0]) : 1),
                    ints(x[1])[0])
            .values;
      },
      sort_cases);
  spec(
      "topk",
      [](const Inputs& x) {
        int64_t d = ints(x[1])[0];
        return topk(x[0], x[0].dim() ? x[0].size(d) / 2 : 1, d, /*largest=*/false, /*sorted=*/false)
            .values;
      },
      sort_cases);
  for (bool largest : {true, false})
    for (bool sorted : {true, false})
      spec(
          "topk",
          [largest, sorted](const Inputs& x) {
            int64_t d = ints(x[1])[0];
            return topk(x[0], x[0].size(d) - 2, d, largest, sorted).indices;
          },
          tie_cases, false);
  spec("topk", [](const Inputs& x) { return topk(x[0], 3, ints(x[1])[0]).indices; }, int_sort_cases,
       false, {DType::f32});
  spec(
      "sort", [](const Inputs& x) { return sort(x[0], ints(x[1])[0]).values; }, sort_cases);
  spec(
      "sort", [](const Inputs& x) { return sort(x[0], ints(x[1])[0], true).values; }, sort_cases);
  for (bool descending : {false, true}) {
    spec(
        "sort",
        [descending](const Inputs& x) { return sort(x[0], ints(x[1])[0], descending).indices; },
        tie_cases, false);
    spec(
        "sort",
        [descending](const Inputs& x) { return sort(x[0], ints(x[1])[0], descending).values; },
        tie_cases, false);
  }
  spec("sort", [](const Inputs& x) { return sort(x[0], ints(x[1])[0], true).indices; },
       int_sort_cases, false, {DType::f32});
  spec(
      "argsort", [](const Inputs& x) { return argsort(x[0], ints(x[1])[0]); }, sort_cases, false);
  spec(
      "argsort", [](const Inputs& x) { return argsort(x[0], ints(x[1])[0], true, true); },
      tie_cases, false);
  return true;
}();

// --- known answers (PyTorch's results) -----------------------------------------------------------

template <typename T>
std::vector<T> values(const Tensor& t) {
  return t.to_vector<T>();
}
using ::testing::ElementsAre;

Tensor arange_f(int64_t n, const Shape& shape) { return arange(n, DType::f32).reshape(shape); }

TEST(ShapeOps, CatStackSplitChunk) {
  Tensor a = arange_f(4, {2, 2}), b = arange_f(2, {2, 1}) + 10.0f;
  Tensor c = cat({a, b}, 1);
  EXPECT_EQ(shape_str(c.shape()), "[2, 3]");
  EXPECT_THAT(values<float>(c), ElementsAre(0, 1, 10, 2, 3, 11));
  EXPECT_EQ(shape_str(stack({a, a}, 1).shape()), "[2, 2, 2]");
  EXPECT_THAT(values<float>(stack({a, a * 2.0f}, 2)), ElementsAre(0, 0, 1, 2, 2, 4, 3, 6));
  auto parts = split(arange_f(5, {5}), 2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_THAT(values<float>(parts[2]), ElementsAre(4));
  auto sized = split(arange_f(6, {2, 3}), Ints{1, 2}, 1);
  EXPECT_THAT(values<float>(sized[1]), ElementsAre(1, 2, 4, 5));
  EXPECT_EQ(chunk(arange_f(6, {6}), 4).size(), 3u);  // ceil(6 / 4) = 2 per chunk
  EXPECT_EQ(chunk(zeros({0}), 3).size(), 3u);
  EXPECT_EQ(split(zeros({0}), 2).size(), 1u);
  // split and chunk are views.
  EXPECT_EQ(parts[1].storage().get(), parts[0].storage().get());
}

TEST(ShapeOps, PadFlipRepeatTile) {
  Tensor x = arange_f(3, {1, 3});
  EXPECT_THAT(values<float>(pad(x, {2, 1}, PadMode::constant, -1)),
              ElementsAre(-1, -1, 0, 1, 2, -1));
  EXPECT_THAT(values<float>(pad(x, {2, 2}, PadMode::reflect)), ElementsAre(2, 1, 0, 1, 2, 1, 0));
  EXPECT_THAT(values<float>(pad(x, {-1, 0})), ElementsAre(1, 2));
  EXPECT_EQ(shape_str(pad(x, {0, 0, 1, 2}).shape()), "[4, 3]");
  EXPECT_THAT(values<float>(flip(arange_f(6, {2, 3}), {0, 1})), ElementsAre(5, 4, 3, 2, 1, 0));
  EXPECT_THAT(values<float>(flip(arange_f(6, {2, 3}), {-1})), ElementsAre(2, 1, 0, 5, 4, 3));
  Tensor r = repeat(arange_f(2, {2}), {2, 2});
  EXPECT_EQ(shape_str(r.shape()), "[2, 4]");
  EXPECT_THAT(values<float>(r), ElementsAre(0, 1, 0, 1, 0, 1, 0, 1));
  EXPECT_THAT(values<float>(repeat(arange_f(2, {2, 1}), {1, 2})), ElementsAre(0, 0, 1, 1));
  EXPECT_EQ(shape_str(tile(arange_f(6, {2, 3}), {2}).shape()), "[2, 6]");
  // Ten dims, all repeated: too many for one interleaved view, tiled dim by dim instead.
  Tensor ten = arange_f(2, {2, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  Tensor tiled = repeat(ten, {1, 2, 1, 1, 1, 1, 1, 1, 1, 3});
  EXPECT_EQ(shape_str(tiled.shape()), "[2, 2, 1, 1, 1, 1, 1, 1, 1, 3]");
  EXPECT_THAT(values<float>(tiled), ElementsAre(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1));
  EXPECT_EQ(repeat(ten, {2, 2, 2, 2, 2, 2, 2, 2, 2, 2}).numel(), 2048);
  EXPECT_EQ(repeat(ten, {2, 2, 2, 2, 2, 2, 2, 2, 2, 0}).numel(), 0);
  Tensor same = repeat(x, {1, 1});
  EXPECT_NE(same.storage().get(), x.storage().get());  // repeat always copies
}

TEST(ShapeOps, Indexing) {
  Tensor x = arange_f(6, {2, 3});
  Tensor i = from_vector<int64_t>({2, 0, 2});
  EXPECT_THAT(values<float>(index_select(x, 1, i)), ElementsAre(2, 0, 2, 5, 3, 5));
  Tensor gi = from_vector<int64_t>({0, 0, 1, 0}, {2, 2});
  EXPECT_THAT(values<float>(gather(x, 1, gi)), ElementsAre(0, 0, 4, 3));
  Tensor s = scatter_add(zeros({2, 3}), 1, gi, ones({2, 2}));
  EXPECT_THAT(values<float>(s), ElementsAre(2, 0, 0, 1, 1, 0));
  Tensor m = from_vector<bool>({true, false, true});
  EXPECT_THAT(values<float>(masked_fill(x, m, -1)), ElementsAre(-1, 1, -1, -1, 4, -1));
  Tensor oh = one_hot(from_vector<int64_t>({2, 0}));
  EXPECT_EQ(oh.dtype(), DType::i64);
  EXPECT_THAT(values<int64_t>(oh), ElementsAre(0, 0, 1, 1, 0, 0));
  Tensor t = take_along_dim(x, from_vector<int64_t>({1, 0}, {1, 2}), 1);
  EXPECT_EQ(shape_str(t.shape()), "[2, 2]");
  EXPECT_THAT(values<float>(t), ElementsAre(1, 0, 4, 3));
  EXPECT_THAT(values<float>(take_along_dim(x, from_vector<int64_t>({5, 0}))), ElementsAre(5, 0));
}

TEST(ShapeOps, IndexSelectBackwardAddsDuplicates) {
  Tensor x = ones({3, 2}, DType::f64).requires_grad_();
  sum(index_select(x, 0, from_vector<int64_t>({2, 2, 0}))).backward();
  EXPECT_THAT(values<double>(x.grad()), ElementsAre(1, 1, 0, 0, 2, 2));
}

TEST(ShapeOps, SortAndTopk) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = from_vector<float>({3, nan, 1, 3, 2});
  auto s = sort(x);
  EXPECT_THAT(values<int64_t>(s.indices), ElementsAre(2, 4, 0, 3, 1));  // stable, NaN last
  auto d = sort(x, 0, true);
  EXPECT_THAT(values<int64_t>(d.indices), ElementsAre(1, 0, 3, 4, 2));  // NaN first
  // -0 equals +0, so a stable sort keeps their order, on short and on long (radix) lines.
  for (int64_t n : {6, 100}) {
    std::vector<float> zs(n);
    for (int64_t i = 0; i < n; ++i) zs[i] = i % 2 ? -0.0f : 0.0f;
    for (bool descending : {false, true})
      EXPECT_EQ(values<int64_t>(sort(from_vector(zs), 0, descending).indices),
                values<int64_t>(arange(n)))
          << n;
  }
  auto k = topk(from_vector<float>({1, 5, 2, 5, 0}), 3);
  EXPECT_THAT(values<float>(k.values), ElementsAre(5, 5, 2));
  EXPECT_THAT(values<int64_t>(k.indices), ElementsAre(1, 3, 2));
  auto u = topk(from_vector<float>({1, 5, 2, 5, 0}), 3, 0, true, false);
  EXPECT_THAT(values<int64_t>(u.indices), ElementsAre(1, 2, 3));  // unsorted: index order
  auto small = topk(from_vector<float>({4, 1, 3}), 2, 0, false);
  EXPECT_THAT(values<float>(small.values), ElementsAre(1, 3));
  EXPECT_THAT(values<int64_t>(argsort(from_vector<int64_t>({3, 1, 2}, {1, 3}), 1)),
              ElementsAre(1, 2, 0));
  Tensor xs = from_vector<double>({0.5, 2.0, 1.0}).requires_grad_();
  sum(topk(xs, 2).values * from_vector<double>({10.0, 1.0})).backward();
  EXPECT_THAT(values<double>(xs.grad()), ElementsAre(0, 10, 1));
}

TEST(ShapeOps, ScatterAddIsDeterministic) {
  // Many duplicate indices in f32: the same bits for every thread count (each output element
  // is summed by one thread in a fixed order).
  std::mt19937_64 rng(3);
  Tensor index = randint_t(rng, {2000, 600}, 0, 7);
  Tensor src = randn_f64(rng, {2000, 600}).to(DType::f32);
  const int threads = num_threads();
  set_num_threads(1);
  Tensor first = scatter_add(zeros({7, 600}), 0, index, src);
  Tensor rows = scatter_add(zeros({600, 7}), 1, index.t(), src.t());
  for (int n : {2, 3, 4}) {
    set_num_threads(n);
    EXPECT_TRUE(equal(first, scatter_add(zeros({7, 600}), 0, index, src))) << n << " threads";
    EXPECT_TRUE(equal(rows, scatter_add(zeros({600, 7}), 1, index.t(), src.t())))
        << n << " threads";
  }
  set_num_threads(threads);
}

// The specs' inputs are small enough to run in one chunk; these are large enough for
// parallel_for to split them, so the chunked paths are checked against the reference too.
TEST(ShapeOps, LargeInputsMatchReference) {
  std::mt19937_64 r(11);
  Tensor x = randn_f64(r, {300, 257}).to(DType::f32);
  Tensor xt = noncontiguous(x);
  Tensor idx = randint_t(r, {300, 257}, 0, 300);
  Tensor rows = randint_t(r, {500}, 0, 300);
  Tensor cols = randint_t(r, {300, 100}, 0, 257);
  Tensor classes = randint_t(r, {300, 130}, 0, 7);
  const std::vector<std::pair<std::string, std::function<Tensor()>>> ops = {
      {"cat contiguous",
       [&] {
         return cat({x, x.narrow(1, 0, 5).contiguous(), x}, 1);
       }},
      {"cat dim 0",
       [&] {
         return cat({x, x}, 0);
       }},
      {"cat strided",
       [&] {
         return cat({xt, x}, 1);
       }},
      {"pad constant",
       [&] {
         return pad(xt, {3, -2, 1, 4}, PadMode::constant, 2.0);
       }},
      {"pad reflect",
       [&] {
         return pad(x, {5, 7, 2, 9}, PadMode::reflect);
       }},
      {"flip",
       [&] {
         return flip(xt, {0, 1});
       }},
      {"index_select dim 0", [&] { return index_select(x, 0, rows); }},
      {"index_select dim 1", [&] { return index_select(xt, 1, cols.select(0, 7)); }},
      {"gather dim 0", [&] { return gather(x, 0, idx); }},
      {"gather dim 1 strided", [&] { return gather(xt, 1, noncontiguous(cols)); }},
      {"scatter_add dim 0",
       [&] {
         return scatter_add(zeros({300, 257}), 0, idx, x);
       }},
      {"scatter_add dim 1", [&] { return scatter_add(x, 1, cols, xt); }},
      {"sort dim 1", [&] { return sort(xt, 1).values; }},
      {"sort dim 0 indices", [&] { return sort(x, 0, true).indices; }},
      {"topk", [&] { return topk(x, 17, 1).indices; }},
      {"topk unsorted dim 0", [&] { return topk(xt, 40, 0, false, false).values; }},
      {"one_hot", [&] { return one_hot(classes, 7); }},
  };
  for (const auto& [name, fn] : ops) {
    SCOPED_TRACE(name);
    Tensor fast = fn(), ref;
    {
      ReferenceKernels use_reference;
      ref = fn();
    }
    EXPECT_TRUE(allclose(fast, ref, 1e-5, 1e-5));
  }
}

}  // namespace
}  // namespace stackgrad::testing
