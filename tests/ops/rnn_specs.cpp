// OpSpecs of the rnn family: LSTM cell, LSTM over a sequence, their backward kernels, and the
// Tree-LSTM cells on a small forest.
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Cases = std::vector<OpCase>;

void spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
          std::function<Cases(std::mt19937_64&)> cases, bool differentiable = true) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  register_op_spec(std::move(s));
}

// Every output flattened into one tensor, so the forward test and the gradcheck see them all.
Tensor joined(const std::vector<Tensor>& outs) {
  std::vector<Tensor> flat;
  for (const auto& t : outs) flat.push_back(t.reshape({-1}));
  return cat(flat);
}

Tensor small(std::mt19937_64& r, const Shape& s) { return randn_f64(r, s) * 0.5; }

// lstm_cell inputs: x [B, I], h, c [B, H], w_ih [4H, I], w_hh [4H, H], b_ih, b_hh [4H].
Inputs cell_inputs(std::mt19937_64& r, int64_t B, int64_t I, int64_t H, bool strided) {
  auto m = [&](const Shape& s) { return strided ? noncontiguous(small(r, s)) : small(r, s); };
  return {m({B, I}),     m({B, H}),         m({B, H}),        m({4 * H, I}),
          m({4 * H, H}), small(r, {4 * H}), small(r, {4 * H})};
}

// lstm inputs: x [T, B, I], h0, c0, w_ih, w_hh, b_ih, b_hh.
Inputs seq_inputs(std::mt19937_64& r, int64_t T, int64_t B, int64_t I, int64_t H, bool strided) {
  Inputs in = cell_inputs(r, B, I, H, strided);
  in[0] = strided ? noncontiguous(small(r, {T, B, I})) : small(r, {T, B, I});
  return in;
}

// x [T, B, I] as the transpose of a batch-first [B, T, I] buffer: its rows do not form one
// progression, so the CUDA kernels take their batched and packing paths.
Inputs batch_first_x(std::mt19937_64& r, int64_t T, int64_t B, int64_t I, int64_t H) {
  Inputs in = seq_inputs(r, T, B, I, H, false);
  in[0] = small(r, {B, T, I}).transpose(0, 1);
  return in;
}

// x [T, B, I] as the first I columns of a [T, B, I + 3] buffer: rows merge, I + 3 apart.
Inputs wide_rows_x(std::mt19937_64& r, int64_t T, int64_t B, int64_t I, int64_t H) {
  Inputs in = seq_inputs(r, T, B, I, H, false);
  in[0] = small(r, {T, B, I + 3}).narrow(2, 0, I);
  return in;
}

// lstm_backward inputs with x (0), output (5) and d_output (8) as transposed batch-first buffers.
Inputs transposed(Inputs in) {
  for (int k : {0, 5, 8}) in[k] = in[k].transpose(0, 1).contiguous().transpose(0, 1);
  return in;
}

// A forest of four trees (N = 10): 0 <- {1, 2}, 2 <- {3}; the single node 4; 5 <- {6, 7, 8}
// with 8 <- {9}. Children in increasing node order.
Forest small_forest() { return forest_from_parents({-1, 0, 0, 2, -1, -1, 5, 5, 5, 8}); }
// The same shape with at most two children per node (for the binary N-ary cell).
Forest binary_forest() { return forest_from_parents({-1, 0, 0, 2, -1, -1, 5, 5, 7, 8}); }

const bool registered = [] {
  spec(
      "lstm_cell",
      [](const Inputs& x) {
        LstmState s = lstm_cell(x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
        return joined({s.h, s.c});
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"B 3, I 4, H 5", cell_inputs(r, 3, 4, 5, false)},
            {"non-contiguous B 2, I 3, H 9", cell_inputs(r, 2, 3, 9, true)},
            {"H 8 (one vector), B 1", cell_inputs(r, 1, 2, 8, false)},
            {"H 17, I 1", cell_inputs(r, 2, 1, 17, false)},
            {"zero-size B 0", cell_inputs(r, 0, 3, 4, false)},
        };
      });
  // No biases, no state (zeros).
  spec(
      "lstm_cell",
      [](const Inputs& x) {
        LstmState s = lstm_cell(x[0], Tensor(), Tensor(), x[1], x[2]);
        return joined({s.h, s.c});
      },
      [](std::mt19937_64& r) {
        Inputs a = cell_inputs(r, 3, 4, 6, false);
        return Cases{{"no bias, zero state", {a[0], a[3], a[4]}}};
      });
  spec(
      "lstm_cell_backward",
      [](const Inputs& x) {
        LstmCellGrads d = lstm_cell_backward(x[0], x[1], x[2], x[3], x[4]);
        return joined({d.dgates, d.dc});
      },
      [](std::mt19937_64& r) {
        auto make = [&](int64_t B, int64_t H, bool strided) {
          auto m = [&](const Shape& s) {
            return strided ? noncontiguous(small(r, s)) : small(r, s);
          };
          return Inputs{uniform_f64(r, {B, 4 * H}, 0.05, 0.95), m({B, H}), m({B, H}), m({B, H}),
                        m({B, H})};
        };
        return Cases{{"B 3, H 5", make(3, 5, false)},
                     {"non-contiguous B 4, H 11", make(4, 11, true)},
                     {"zero-size", make(0, 4, false)}};
      },
      false);

  spec(
      "lstm",
      [](const Inputs& x) {
        LstmResult s = lstm(x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
        return joined({s.output, s.h, s.c});
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"T 3, B 2, I 3, H 4", seq_inputs(r, 3, 2, 3, 4, false)},
            {"non-contiguous T 4, B 3, I 2, H 5", seq_inputs(r, 4, 3, 2, 5, true)},
            {"T 1, B 1, H 9", seq_inputs(r, 1, 1, 3, 9, false)},
            {"T 2, B 2, H 16 (two chunks)", seq_inputs(r, 2, 2, 2, 16, false)},
            {"zero-size B 0", seq_inputs(r, 2, 0, 3, 4, false)},
            {"T 5, B 3, I 6, H 19 (odd H)", seq_inputs(r, 5, 3, 6, 19, false)},
            {"batch-first x transposed, H 7", batch_first_x(r, 4, 3, 5, 7)},
            {"x rows of a wider buffer, H 13", wide_rows_x(r, 3, 4, 6, 13)},
        };
      });
  // Stacked and bidirectional use: two layers (the second reads the first's output), and a
  // backward-in-time direction on the flipped sequence, joined along the features.
  spec(
      "lstm",
      [](const Inputs& x) {
        Tensor l1 = lstm(x[0], Tensor(), Tensor(), x[1], x[2], x[3]).output;
        Tensor l2 = lstm(l1, Tensor(), Tensor(), x[4], x[5], x[6]).output;
        Tensor rev = flip(lstm(flip(x[0], {0}), Tensor(), Tensor(), x[7], x[8], x[9]).output, {0});
        return cat({l2.reshape({-1}), rev.reshape({-1})});
      },
      [](std::mt19937_64& r) {
        const int64_t T = 4, B = 3, I = 5, H = 6, H2 = 3;
        return Cases{
            {"two layers and a reverse direction, H 6 then 3",
             {small(r, {T, B, I}), small(r, {4 * H, I}), small(r, {4 * H, H}), small(r, {4 * H}),
              small(r, {4 * H2, H}), small(r, {4 * H2, H2}), small(r, {4 * H2}),
              small(r, {4 * H, I}), small(r, {4 * H, H}), small(r, {4 * H})}}};
      });
  // Only the output's gradient (h_T, c_T unused: zero-filled gradients), no state, one bias.
  spec(
      "lstm",
      [](const Inputs& x) { return lstm(x[0], Tensor(), Tensor(), x[1], x[2], x[3]).output; },
      [](std::mt19937_64& r) {
        Inputs a = seq_inputs(r, 5, 2, 3, 3, false);
        return Cases{{"output only", {a[0], a[3], a[4], a[5]}}};
      });
  spec(
      "lstm_backward",
      [](const Inputs& x) {
        LstmGrads d =
            lstm_backward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10]);
        return joined({d.dx, d.dh0, d.dc0, d.dw_ih, d.dw_hh, d.db});
      },
      [](std::mt19937_64& r) {
        auto make = [&](int64_t T, int64_t B, int64_t I, int64_t H, bool strided) {
          auto m = [&](const Shape& s) {
            return strided ? noncontiguous(small(r, s)) : small(r, s);
          };
          return Inputs{
              m({T, B, I}),  m({B, H}),    m({B, H}),    m({4 * H, I}),
              m({4 * H, H}), m({T, B, H}), m({T, B, H}), uniform_f64(r, {T, B, 4 * H}, 0.05, 0.95),
              m({T, B, H}),  m({B, H}),    m({B, H})};
        };
        return Cases{{"T 3, B 2, I 3, H 5", make(3, 2, 3, 5, false)},
                     {"non-contiguous T 4, B 3, I 2, H 9", make(4, 3, 2, 9, true)},
                     {"T 1, H 16", make(1, 2, 4, 16, false)},
                     {"T 5, B 3, I 6, H 33 (odd H)", make(5, 3, 6, 33, false)},
                     {"batch-first x and output transposed", transposed(make(4, 3, 5, 7, false))}};
      },
      false);

  spec(
      "tree_lstm_child_sum",
      [](const Inputs& x) {
        LstmState s = tree_lstm_child_sum(x[0], small_forest(), x[1], x[2], x[3]);
        return joined({s.h, s.c});
      },
      [](std::mt19937_64& r) {
        const int64_t I = 3, H = 4;
        return Cases{
            {"forest of 4 trees",
             {small(r, {10, I}), small(r, {4 * H, I}), small(r, {4 * H, H}), small(r, {4 * H})}},
            {"non-contiguous",
             {noncontiguous(small(r, {10, I})), noncontiguous(small(r, {4 * H, I})),
              noncontiguous(small(r, {4 * H, H})), small(r, {4 * H})}},
        };
      });
  spec(
      "tree_lstm_nary",
      [](const Inputs& x) {
        LstmState s = tree_lstm_nary(x[0], binary_forest(), x[1], x[2], x[3], 2);
        return joined({s.h, s.c});
      },
      [](std::mt19937_64& r) {
        const int64_t I = 3, H = 3, A = 2;
        return Cases{
            {"binary forest",
             {small(r, {10, I}), small(r, {(3 + A) * H, I}), small(r, {(3 + A) * H, A * H}),
              small(r, {(3 + A) * H})}},
            {"non-contiguous",
             {noncontiguous(small(r, {10, I})), noncontiguous(small(r, {(3 + A) * H, I})),
              noncontiguous(small(r, {(3 + A) * H, A * H})), small(r, {(3 + A) * H})}},
        };
      });
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
