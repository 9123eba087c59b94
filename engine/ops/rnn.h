// Ops of the rnn family: the LSTM cell, a single-layer LSTM over a sequence, and Tree-LSTM cells
// over a batch of trees (docs/kernels/lstm.md). Floating inputs (f32, f64) of one dtype and
// device. Gate order i, f, g, o as in PyTorch: weights w_ih [4H, I] and w_hh [4H, H] stack the
// input, forget, cell and output gates' rows in that order.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad {

struct LstmState {
  Tensor h, c;
};

// One LSTM step: gates = x w_ihᵀ + b_ih + h w_hhᵀ + b_hh, then
//   i, f, o = σ(gates_i, f, o), g = tanh(gates_g), c' = f c + i g, h' = o tanh(c').
// x [B, I], h and c [B, H] (undefined: zeros), biases [4H] (each optional). Returns (h', c').
// Fused: the gate GEMMs and the gate math in one kernel that saves the activated gates; the
// backward is one kernel for the gate math plus the GEMMs for x, h and the weights.
LstmState lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                    const Tensor& w_hh, const Tensor& b_ih = Tensor(),
                    const Tensor& b_hh = Tensor());

// The gate-math backward of lstm_cell, exposed for tests: from the activated gates [B, 4H], c,
// c' [B, H] and the gradients dh', dc' [B, H], the gradients of the pre-activation gates
// [B, 4H] and of c. Not differentiable.
struct LstmCellGrads {
  Tensor dgates, dc;
};
LstmCellGrads lstm_cell_backward(const Tensor& gates, const Tensor& c, const Tensor& c_new,
                                 const Tensor& dh_new, const Tensor& dc_new);

// A single-layer LSTM over a sequence, x [T, B, I] (time first), h0 and c0 [B, H] (undefined:
// zeros). Returns output [T, B, H] (h at every step) and the last state (h_T, c_T). The input
// projection of all T steps is one GEMM; the backward through time is one op (lstm_backward),
// not T recorded steps. Saves the activated gates and c of every step.
struct LstmResult {
  Tensor output, h, c;
};
LstmResult lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                const Tensor& w_hh, const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());

// The backward-through-time kernel of lstm, exposed for tests: from the forward's inputs, its
// output, its saved c per step cs [T, B, H] and activated gates [T, B, 4H], and the gradients of
// output, h_T and c_T. db is the gradient of each bias. Not differentiable.
struct LstmGrads {
  Tensor dx, dh0, dc0, dw_ih, dw_hh, db;
};
LstmGrads lstm_backward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                        const Tensor& w_hh, const Tensor& output, const Tensor& cs,
                        const Tensor& gates, const Tensor& d_output, const Tensor& dh_last,
                        const Tensor& dc_last);

// ---- Tree-LSTM (Tai, Socher and Manning 2015) ---------------------------------------------
//
// A Forest is a batch of trees over nodes 0..N-1, kept on the host:
//   child_offsets [N + 1], child_index [E]: node n's children are
//     child_index[child_offsets[n] .. child_offsets[n + 1]) (CSR; their order is the slot order
//     of the N-ary cell);
//   level_offsets [L + 1], level_nodes [N]: the nodes grouped into levels, level l being
//     level_nodes[level_offsets[l] .. level_offsets[l + 1]); every child sits in an earlier
//     level than its parent. forest_from_* put each node at its height (leaves at level 0).
// The cells evaluate a level at a time: one GEMM gives the gates of all its nodes, from every
// tree of the batch, so a batch costs L levels, not N node steps.
struct Forest {
  std::vector<int64_t> child_offsets, child_index, level_offsets, level_nodes;
  int64_t num_nodes() const { return static_cast<int64_t>(child_offsets.size()) - 1; }
};

// From parent pointers (parent[n] = -1 for a root); children in increasing node order.
Forest forest_from_parents(const std::vector<int64_t>& parent);
// From a CSR child list; levels by height. Errors on a cycle or a node with two parents.
Forest forest_from_children(const std::vector<int64_t>& child_offsets,
                            const std::vector<int64_t>& child_index);

// Child-sum Tree-LSTM: for node j with children C(j), h̃ = Σ_k h_k and
//   i, o, g = σ, σ, tanh(W x_j + U h̃ + b) (their rows of W, U, b),
//   f_k = σ(W_f x_j + U_f h_k + b_f) per child k,
//   c_j = i g + Σ_k f_k c_k,  h_j = o tanh(c_j).
// x [N, I], w [4H, I], u [4H, H], b [4H] (optional); rows in the order i, f, g, o, so a node with
// one child is exactly lstm_cell(x_j, h_k, c_k, w, u, b). Returns h, c [N, H] in node order.
// Written with engine ops per level (index_select, matmul, scatter_add); autograd differentiates
// it with respect to x, w, u and b.
LstmState tree_lstm_child_sum(const Tensor& x, const Forest& forest, const Tensor& w,
                              const Tensor& u, const Tensor& b = Tensor());

// N-ary Tree-LSTM with `arity` child slots (a node's children fill slots 0, 1, ... in CSR order;
// empty slots have h = c = 0; more than `arity` children is an error). With h_cat the
// concatenated children's h [arity * H]:
//   gates = W x_j + U h_cat + b, rows i [H], f_1 .. f_arity [arity * H], g [H], o [H];
//   c_j = i g + Σ_l f_l c_l,  h_j = o tanh(c_j).
// w [(3 + arity) H, I], u [(3 + arity) H, arity H], b [(3 + arity) H] (optional). With arity 1 a
// node with one child is lstm_cell again. Returns h, c [N, H] in node order.
LstmState tree_lstm_nary(const Tensor& x, const Forest& forest, const Tensor& w, const Tensor& u,
                         const Tensor& b, int64_t arity);

}  // namespace stackgrad
