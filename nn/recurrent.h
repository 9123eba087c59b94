// Recurrent layers: a multi-layer, optionally bidirectional LSTM with PyTorch's parameter names
// and layouts (a torch state_dict loads as is), and a Tree-LSTM cell over level-batched forests.
// Both wrap fused engine ops (engine/ops/rnn.h): one `lstm` op per layer and direction runs the
// whole sequence, and its backward through time is a single op, not T recorded steps.
//
//   nn::LSTM lstm(16, 32, {.num_layers = 2, .batch_first = true, .bidirectional = true});
//   nn::LstmOutput y = lstm.forward(x);          // x [B, T, 16] -> y.output [B, T, 64]
//   Tensor last = y.h_n.select(0, 3);            // layer 1, reverse direction: [B, 32]
#pragma once

#include <cstdint>
#include <vector>

#include "nn/module.h"

namespace stackgrad::nn {

struct LstmOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;  // x and output [B, T, .] instead of [T, B, .]; h_n stays [L*D, B, H]
  double dropout = 0.0;      // on each layer's output except the last, in training mode
  bool bidirectional = false;
};

struct LstmOutput {
  Tensor output;  // [T, B, D*H] ([B, T, D*H] with batch_first): the last layer's h at every step
  Tensor h_n;     // [L*D, B, H]: the final h of each layer and direction (index layer*D + dir)
  Tensor c_n;     // [L*D, B, H]
};

// Per layer l and direction (suffix "" or "_reverse") the parameters
//   weight_ih_l{l}[_reverse] [4H, in_l], weight_hh_l{l}[_reverse] [4H, H],
//   bias_ih_l{l}[_reverse] [4H], bias_hh_l{l}[_reverse] [4H]  (only with bias),
// gates stacked i, f, g, o; in_0 = input_size, in_l = D*H after. All start U(-1/√H, 1/√H) as in
// PyTorch. The reverse direction reads the sequence backwards (the time axis flipped, the op run,
// its output flipped back), so its h_n is its state after the *first* time step.
class LSTM : public Module {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, LstmOptions options = {},
       Generator& gen = default_generator());

  // x [T, B, I] ([B, T, I] with batch_first) or unbatched [T, I]; h0, c0 [L*D, B, H] (or
  // [L*D, H] unbatched), undefined meaning zeros.
  LstmOutput forward(const Tensor& x, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());

  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  const LstmOptions& options() const { return options_; }
  std::string extra_repr() const override;

 private:
  struct Cell {
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;
  };
  void check_state(const char* name, const Tensor& s, int64_t batch, bool batched) const;

  int64_t input_size_, hidden_size_;
  LstmOptions options_;
  Generator* gen_;           // draws the inter-layer dropout masks
  std::vector<Cell> cells_;  // index layer * D + direction; sized once, never resized (registered)
};

// Tree-LSTM cell (Tai, Socher and Manning 2015) over a Forest: every node of a batch of trees,
// evaluated one level at a time by the engine's tree_lstm_child_sum / tree_lstm_nary.
//   child_sum: w [4H, I], u [4H, H], b [4H]; children are summed, one forget gate per child.
//   nary:      w [(3+N)H, I], u [(3+N)H, N*H], b [(3+N)H]; children fill N ordered slots,
//              rows i, f_1..f_N, g, o.
// The parameters keep the op's argument names (w, u, b); all start U(-1/√H, 1/√H).
enum class TreeLstmKind { child_sum, nary };

struct TreeLstmOptions {
  TreeLstmKind kind = TreeLstmKind::child_sum;
  int64_t arity = 2;  // N, for nary only
  bool bias = true;
};

class TreeLstmCell : public Module {
 public:
  TreeLstmCell(int64_t input_size, int64_t hidden_size, TreeLstmOptions options = {},
               Generator& gen = default_generator());

  // x [N, I] holds one row per node of `forest` (node order); returns h and c [N, H].
  LstmState forward(const Tensor& x, const Forest& forest);

  Tensor w, u, b;
  std::string extra_repr() const override;

 private:
  int64_t input_size_, hidden_size_;
  TreeLstmOptions options_;
};

}  // namespace stackgrad::nn
