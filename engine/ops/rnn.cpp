// LSTM and Tree-LSTM ops: shape rules, kernel calls and backward formulas side by side.
// lstm_cell and lstm are fused kernels with dedicated backward kernels; the Tree-LSTM cells are
// written with engine ops, a level of the forest at a time.
#include "engine/ops/rnn.h"

#include <algorithm>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"

namespace stackgrad {
namespace {

using Grads = std::vector<Tensor>;

void check_input(const char* op, const Tensor& ref, const Tensor& t, const char* name) {
  check_defined(op, t, name);
  check_strided(op, t, name);
  check_same_device(op, ref, t);
  check_same_dtype(op, ref, t);
}

void check_shape(const char* op, const Tensor& t, const char* name, const Shape& want,
                 const char* dims) {
  SG_CHECK(t.shape() == want, op, ": expected ", name, " ", dims, " = ", shape_str(want), ", got ",
           describe(t));
}

// The checked sizes of an LSTM problem: x [..., B, I], w_ih [4H, I], w_hh [4H, H].
struct LstmSizes {
  int64_t B, I, H;
};

LstmSizes check_lstm(const char* op, const Tensor& x, int64_t x_dims, const char* x_layout,
                     const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  check_defined(op, x, "x");
  check_strided(op, x, "x");
  SG_CHECK(is_floating(x.dtype()), op, ": expected a floating x, got ", describe(x));
  SG_CHECK(x.dim() == x_dims, op, ": expected x ", x_layout, ", got ", shape_str(x.shape()));
  check_input(op, x, w_ih, "w_ih");
  check_input(op, x, w_hh, "w_hh");
  SG_CHECK(w_ih.dim() == 2 && w_ih.shape()[0] % 4 == 0, op,
           ": expected w_ih (4*H, I) with rows i, f, g, o, got ", shape_str(w_ih.shape()));
  const int64_t H = w_ih.shape()[0] / 4, I = x.shape()[x_dims - 1];
  check_shape(op, w_ih, "w_ih", {4 * H, I}, "(4*H, I)");
  check_shape(op, w_hh, "w_hh", {4 * H, H}, "(4*H, H)");
  for (const auto& [t, name] : {std::pair{b_ih, "b_ih"}, std::pair{b_hh, "b_hh"}}) {
    if (!t.defined()) continue;
    check_input(op, x, t, name);
    check_shape(op, t, name, {4 * H}, "(4*H)");
  }
  return {x.shape()[x_dims - 2], I, H};
}

// An initial state: zeros when undefined, else checked to be [B, H].
Tensor check_state(const char* op, const Tensor& x, const Tensor& t, const char* name, int64_t B,
                   int64_t H) {
  if (!t.defined()) return zeros({B, H}, Options(x.dtype(), x.device()));
  check_input(op, x, t, name);
  check_shape(op, t, name, {B, H}, "(B, H)");
  return t;
}

// The one bias the kernels take.
Tensor combined_bias(const Tensor& x, const Tensor& b_ih, const Tensor& b_hh, int64_t H) {
  NoGradGuard no_grad;
  if (b_ih.defined() && b_hh.defined()) return b_ih + b_hh;
  if (b_ih.defined()) return b_ih;
  if (b_hh.defined()) return b_hh;
  return zeros({4 * H}, Options(x.dtype(), x.device()));
}

Tensor new_like(const Tensor& x, const Shape& shape) {
  return empty(shape, Options(x.dtype(), x.device()));
}

}  // namespace

LstmState lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                    const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  const char* op = "lstm_cell";
  const auto [B, I, H] = check_lstm(op, x, 2, "(B, I)", w_ih, w_hh, b_ih, b_hh);
  const Tensor h0 = check_state(op, x, h, "h", B, H), c0 = check_state(op, x, c, "c", B, H);
  const Tensor bias = combined_bias(x, b_ih, b_hh, H);
  Tensor h_new = new_like(x, {B, H}), c_new = new_like(x, {B, H}), gates = new_like(x, {B, 4 * H});
  {
    NoGradGuard no_grad;
    run_kernel(OpId::lstm_cell, {x, h0, c0, w_ih, w_hh, bias}, {h_new, c_new, gates});
  }
  const bool need[] = {x.requires_grad(),    h0.requires_grad(),   c0.requires_grad(),
                       w_ih.requires_grad(), w_hh.requires_grad(), b_ih.requires_grad(),
                       b_hh.requires_grad()};
  auto save = [op](const Tensor& t) { return SavedTensor(t, op); };
  record(op, {x, h0, c0, w_ih, w_hh, b_ih, b_hh}, {h_new, c_new},
         [sx = save(x), sh = save(h0), sc = save(c0), swi = save(w_ih), swh = save(w_hh),
          scn = save(c_new), sg = save(gates),
          need = std::vector<bool>(std::begin(need), std::end(need))](const Grads& g) {
           const Tensor c = sc.get();
           LstmCellGrads d = lstm_cell_backward(sg.get(), c, scn.get(), g[0], g[1]);
           Grads out(7);
           if (need[0]) out[0] = mm(d.dgates, swi.get());
           if (need[1]) out[1] = mm(d.dgates, swh.get());
           if (need[2]) out[2] = d.dc;
           if (need[3]) out[3] = mm(d.dgates.t(), sx.get());
           if (need[4]) out[4] = mm(d.dgates.t(), sh.get());
           if (need[5] || need[6]) {
             Tensor db = sum(d.dgates, {0});
             if (need[5]) out[5] = db;
             if (need[6]) out[6] = db;
           }
           return out;
         });
  return {h_new, c_new};
}

LstmCellGrads lstm_cell_backward(const Tensor& gates, const Tensor& c, const Tensor& c_new,
                                 const Tensor& dh_new, const Tensor& dc_new) {
  const char* op = "lstm_cell_backward";
  check_defined(op, c, "c");
  check_strided(op, c, "c");
  SG_CHECK(is_floating(c.dtype()) && c.dim() == 2, op, ": expected a floating c (B, H), got ",
           describe(c));
  const int64_t B = c.shape()[0], H = c.shape()[1];
  check_input(op, c, gates, "gates");
  check_shape(op, gates, "gates", {B, 4 * H}, "(B, 4*H)");
  for (const auto& [t, name] :
       {std::pair{c_new, "c_new"}, std::pair{dh_new, "dh_new"}, std::pair{dc_new, "dc_new"}}) {
    check_input(op, c, t, name);
    check_shape(op, t, name, {B, H}, "(B, H)");
  }
  NoGradGuard no_grad;
  LstmCellGrads d{new_like(c, {B, 4 * H}), new_like(c, {B, H})};
  run_kernel(OpId::lstm_cell_backward, {gates, c, c_new, dh_new, dc_new}, {d.dgates, d.dc});
  return d;
}

LstmResult lstm(const Tensor& x, const Tensor& h0_in, const Tensor& c0_in, const Tensor& w_ih,
                const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  const char* op = "lstm";
  const auto [B, I, H] = check_lstm(op, x, 3, "(T, B, I)", w_ih, w_hh, b_ih, b_hh);
  const int64_t T = x.shape()[0];
  SG_CHECK(T > 0, op, ": expected at least one time step, got x ", shape_str(x.shape()));
  const Tensor h0 = check_state(op, x, h0_in, "h0", B, H);
  const Tensor c0 = check_state(op, x, c0_in, "c0", B, H);
  const Tensor bias = combined_bias(x, b_ih, b_hh, H);
  Tensor output = new_like(x, {T, B, H}), h = new_like(x, {B, H}), c = new_like(x, {B, H});
  Tensor cs = new_like(x, {T, B, H}), gates = new_like(x, {T, B, 4 * H});
  {
    NoGradGuard no_grad;
    run_kernel(OpId::lstm, {x, h0, c0, w_ih, w_hh, bias}, {output, h, c, cs, gates});
  }
  auto save = [op](const Tensor& t) { return SavedTensor(t, op); };
  record(op, {x, h0, c0, w_ih, w_hh, b_ih, b_hh}, {output, h, c},
         [sx = save(x), sh = save(h0), sc = save(c0), swi = save(w_ih), swh = save(w_hh),
          so = save(output), scs = save(cs), sg = save(gates), has_ih = b_ih.defined(),
          has_hh = b_hh.defined()](const Grads& g) {
           LstmGrads d = lstm_backward(sx.get(), sh.get(), sc.get(), swi.get(), swh.get(), so.get(),
                                       scs.get(), sg.get(), g[0], g[1], g[2]);
           return Grads{d.dx,
                        d.dh0,
                        d.dc0,
                        d.dw_ih,
                        d.dw_hh,
                        has_ih ? d.db : Tensor(),
                        has_hh ? d.db : Tensor()};
         });
  return {output, h, c};
}

LstmGrads lstm_backward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                        const Tensor& w_hh, const Tensor& output, const Tensor& cs,
                        const Tensor& gates, const Tensor& d_output, const Tensor& dh_last,
                        const Tensor& dc_last) {
  const char* op = "lstm_backward";
  const auto [B, I, H] = check_lstm(op, x, 3, "(T, B, I)", w_ih, w_hh, Tensor(), Tensor());
  const int64_t T = x.shape()[0];
  for (const auto& [t, name] : {std::pair{h0, "h0"}, std::pair{c0, "c0"},
                                std::pair{dh_last, "dh_last"}, std::pair{dc_last, "dc_last"}}) {
    check_input(op, x, t, name);
    check_shape(op, t, name, {B, H}, "(B, H)");
  }
  for (const auto& [t, name] :
       {std::pair{output, "output"}, std::pair{cs, "cs"}, std::pair{d_output, "d_output"}}) {
    check_input(op, x, t, name);
    check_shape(op, t, name, {T, B, H}, "(T, B, H)");
  }
  check_input(op, x, gates, "gates");
  check_shape(op, gates, "gates", {T, B, 4 * H}, "(T, B, 4*H)");
  NoGradGuard no_grad;
  LstmGrads d{new_like(x, {T, B, I}),  new_like(x, {B, H}),     new_like(x, {B, H}),
              new_like(x, {4 * H, I}), new_like(x, {4 * H, H}), new_like(x, {4 * H})};
  run_kernel(OpId::lstm_backward,
             {x, h0, c0, w_ih, w_hh, output, cs, gates, d_output, dh_last, dc_last},
             {d.dx, d.dh0, d.dc0, d.dw_ih, d.dw_hh, d.db});
  return d;
}

// ---- Tree-LSTM --------------------------------------------------------------------------------

Forest forest_from_parents(const std::vector<int64_t>& parent) {
  const int64_t n = static_cast<int64_t>(parent.size());
  std::vector<int64_t> offsets(n + 1, 0), index;
  for (int64_t v = 0; v < n; ++v) {
    const int64_t p = parent[v];
    SG_CHECK(p >= -1 && p < n && p != v, "forest_from_parents: parent[", v, "] = ", p,
             " is not a node of ", n, " (or -1 for a root)");
    if (p >= 0) ++offsets[p + 1];
  }
  for (int64_t v = 0; v < n; ++v) offsets[v + 1] += offsets[v];
  index.resize(offsets[n]);
  std::vector<int64_t> fill(offsets.begin(), offsets.end() - 1);
  for (int64_t v = 0; v < n; ++v)
    if (parent[v] >= 0) index[fill[parent[v]]++] = v;
  return forest_from_children(offsets, index);
}

Forest forest_from_children(const std::vector<int64_t>& child_offsets,
                            const std::vector<int64_t>& child_index) {
  const char* op = "forest_from_children";
  SG_CHECK(!child_offsets.empty() && child_offsets.front() == 0 &&
               child_offsets.back() == static_cast<int64_t>(child_index.size()),
           op, ": child_offsets must start at 0 and end at the number of children (",
           child_index.size(), ")");
  const int64_t n = static_cast<int64_t>(child_offsets.size()) - 1;
  std::vector<int64_t> parents(n, 0);
  for (int64_t v = 0; v < n; ++v) {
    SG_CHECK(child_offsets[v] <= child_offsets[v + 1], op, ": child_offsets decrease at node ", v);
    for (int64_t e = child_offsets[v]; e < child_offsets[v + 1]; ++e) {
      const int64_t k = child_index[e];
      SG_CHECK(k >= 0 && k < n, op, ": child ", k, " of node ", v, " is not a node of ", n);
      SG_CHECK(++parents[k] == 1, op, ": node ", k, " has more than one parent");
    }
  }
  // Heights by repeatedly settling nodes whose children are all settled (Kahn's order).
  std::vector<int64_t> height(n, -1), pending(n), parent(n, -1), ready;
  for (int64_t v = 0; v < n; ++v) {
    pending[v] = child_offsets[v + 1] - child_offsets[v];
    for (int64_t e = child_offsets[v]; e < child_offsets[v + 1]; ++e) parent[child_index[e]] = v;
    if (pending[v] == 0) ready.push_back(v);
  }
  int64_t settled = 0, levels = 0;
  for (size_t r = 0; r < ready.size(); ++r) {
    const int64_t v = ready[r];
    int64_t hgt = 0;
    for (int64_t e = child_offsets[v]; e < child_offsets[v + 1]; ++e)
      hgt = std::max(hgt, height[child_index[e]] + 1);
    height[v] = hgt;
    levels = std::max(levels, hgt + 1);
    ++settled;
    if (parent[v] >= 0 && --pending[parent[v]] == 0) ready.push_back(parent[v]);
  }
  SG_CHECK(settled == n, op, ": the child lists contain a cycle");
  Forest f{child_offsets, child_index, std::vector<int64_t>(levels + 1, 0), {}};
  for (int64_t v = 0; v < n; ++v) ++f.level_offsets[height[v] + 1];
  for (int64_t l = 0; l < levels; ++l) f.level_offsets[l + 1] += f.level_offsets[l];
  f.level_nodes.resize(n);
  std::vector<int64_t> fill(f.level_offsets.begin(), f.level_offsets.end() - 1);
  for (int64_t v = 0; v < n; ++v) f.level_nodes[fill[height[v]]++] = v;
  return f;
}

namespace {

// Checks a forest against x [N, I] and the level order (children before parents).
void check_forest(const char* op, const Forest& f, int64_t nodes) {
  SG_CHECK(f.num_nodes() == nodes, op, ": the forest has ", f.num_nodes(),
           " nodes (child_offsets [N + 1]) but x has ", nodes, " rows");
  SG_CHECK(f.child_offsets.front() == 0 &&
               f.child_offsets.back() == static_cast<int64_t>(f.child_index.size()),
           op, ": child_offsets must run from 0 to the number of children");
  SG_CHECK(static_cast<int64_t>(f.level_nodes.size()) == nodes && !f.level_offsets.empty() &&
               f.level_offsets.front() == 0 && f.level_offsets.back() == nodes,
           op, ": the levels must list each of the ", nodes, " nodes once");
  std::vector<int64_t> level(nodes, -1);
  for (size_t l = 0; l + 1 < f.level_offsets.size(); ++l)
    for (int64_t i = f.level_offsets[l]; i < f.level_offsets[l + 1]; ++i) {
      const int64_t v = f.level_nodes[i];
      SG_CHECK(v >= 0 && v < nodes && level[v] < 0, op, ": level_nodes lists node ", v,
               " twice or out of range");
      level[v] = static_cast<int64_t>(l);
    }
  for (int64_t v = 0; v < nodes; ++v)
    for (int64_t e = f.child_offsets[v]; e < f.child_offsets[v + 1]; ++e) {
      const int64_t k = f.child_index[e];
      SG_CHECK(k >= 0 && k < nodes, op, ": child ", k, " of node ", v, " is out of range");
      SG_CHECK(level[k] < level[v], op, ": child ", k, " of node ", v,
               " is not in an earlier level than its parent");
    }
}

struct TreeSizes {
  int64_t N, I, H;
};

// x [N, I], w [rows * H, I], u [rows * H, cols * H], b [rows * H]; H from u's columns.
TreeSizes check_tree(const char* op, const Tensor& x, const Tensor& w, const Tensor& u,
                     const Tensor& b, int64_t rows, int64_t cols, const char* w_dims,
                     const char* u_dims, const char* b_dims) {
  check_defined(op, x, "x");
  check_strided(op, x, "x");
  SG_CHECK(is_floating(x.dtype()), op, ": expected a floating x, got ", describe(x));
  SG_CHECK(x.dim() == 2, op, ": expected x (N, I), got ", shape_str(x.shape()));
  check_input(op, x, w, "w");
  check_input(op, x, u, "u");
  SG_CHECK(u.dim() == 2 && u.shape()[1] % cols == 0, op, ": expected u ", u_dims, ", got ",
           shape_str(u.shape()));
  const int64_t N = x.shape()[0], I = x.shape()[1], H = u.shape()[1] / cols;
  check_shape(op, u, "u", {rows * H, cols * H}, u_dims);
  check_shape(op, w, "w", {rows * H, I}, w_dims);
  if (b.defined()) {
    check_input(op, x, b, "b");
    check_shape(op, b, "b", {rows * H}, b_dims);
  }
  return {N, I, H};
}

Tensor index_tensor(const std::vector<int64_t>& v, const Tensor& like) {
  return from_vector(v, {static_cast<int64_t>(v.size())}, DType::i64).to(like.device());
}

// Writes rows `nodes` of a [N + 1, H] state (the last row stays zero: the empty child slot).
Tensor put_rows(const Tensor& all, const std::vector<int64_t>& nodes, const Tensor& rows) {
  const int64_t H = rows.shape()[1];
  Tensor idx = index_tensor(nodes, all).unsqueeze(1).expand({rows.shape()[0], H}).contiguous();
  return scatter_add(all, 0, idx, rows);
}

// Levels of the forest, each with its nodes and the CSR edges (child, parent's local index).
template <typename F>
void for_each_level(const Forest& f, F&& body) {
  for (size_t l = 0; l + 1 < f.level_offsets.size(); ++l) {
    std::vector<int64_t> nodes(f.level_nodes.begin() + f.level_offsets[l],
                               f.level_nodes.begin() + f.level_offsets[l + 1]);
    if (nodes.empty()) continue;
    std::vector<int64_t> child, local, slot;
    for (size_t i = 0; i < nodes.size(); ++i)
      for (int64_t e = f.child_offsets[nodes[i]]; e < f.child_offsets[nodes[i] + 1]; ++e) {
        child.push_back(f.child_index[e]);
        local.push_back(static_cast<int64_t>(i));
        slot.push_back(e - f.child_offsets[nodes[i]]);
      }
    body(nodes, child, local, slot);
  }
}

}  // namespace

LstmState tree_lstm_child_sum(const Tensor& x, const Forest& forest, const Tensor& w,
                              const Tensor& u, const Tensor& b) {
  const char* op = "tree_lstm_child_sum";
  const auto sizes = check_tree(op, x, w, u, b, 4, 1, "(4*H, I)", "(4*H, H)", "(4*H)");
  const int64_t N = sizes.N, H = sizes.H;
  check_forest(op, forest, N);
  const Options opts(x.dtype(), x.device());
  Tensor h_all = zeros({N + 1, H}, opts), c_all = zeros({N + 1, H}, opts);
  const Tensor u_f = u.narrow(0, H, H);
  for_each_level(forest, [&](const std::vector<int64_t>& nodes, const std::vector<int64_t>& child,
                             const std::vector<int64_t>& local, const std::vector<int64_t>&) {
    const int64_t n = static_cast<int64_t>(nodes.size());
    // One GEMM for the input part of every gate of the level's nodes.
    Tensor gx = matmul(index_select(x, 0, index_tensor(nodes, x)), w.t());
    if (b.defined()) gx = gx + b;
    Tensor gates = gx, fc_sum;
    if (!child.empty()) {
      const int64_t e = static_cast<int64_t>(child.size());
      Tensor ci = index_tensor(child, x), li = index_tensor(local, x);
      Tensor hk = index_select(h_all, 0, ci), ck = index_select(c_all, 0, ci);
      Tensor seg = li.unsqueeze(1).expand({e, H}).contiguous();
      Tensor h_sum = scatter_add(zeros({n, H}, opts), 0, seg, hk);
      gates = gx + matmul(h_sum, u.t());
      // The forget gate per child: its node's input part plus U_f h_k.
      Tensor f = sigmoid(index_select(gx.narrow(1, H, H), 0, li) + matmul(hk, u_f.t()));
      fc_sum = scatter_add(zeros({n, H}, opts), 0, seg, f * ck);
    }
    Tensor i = sigmoid(gates.narrow(1, 0, H)), g = tanh(gates.narrow(1, 2 * H, H));
    Tensor o = sigmoid(gates.narrow(1, 3 * H, H));
    Tensor c = i * g;
    if (fc_sum.defined()) c = c + fc_sum;
    Tensor h = o * tanh(c);
    h_all = put_rows(h_all, nodes, h);
    c_all = put_rows(c_all, nodes, c);
  });
  return {h_all.narrow(0, 0, N), c_all.narrow(0, 0, N)};
}

LstmState tree_lstm_nary(const Tensor& x, const Forest& forest, const Tensor& w, const Tensor& u,
                         const Tensor& b, int64_t arity) {
  const char* op = "tree_lstm_nary";
  SG_CHECK(arity >= 1, op, ": arity must be at least 1, got ", arity);
  const int64_t A = arity;
  const auto sizes = check_tree(op, x, w, u, b, 3 + A, A, "((3 + arity)*H, I)",
                                "((3 + arity)*H, arity*H)", "((3 + arity)*H)");
  const int64_t N = sizes.N, H = sizes.H;
  check_forest(op, forest, N);
  for (int64_t v = 0; v < N; ++v)
    SG_CHECK(forest.child_offsets[v + 1] - forest.child_offsets[v] <= A, op, ": node ", v, " has ",
             forest.child_offsets[v + 1] - forest.child_offsets[v], " children, more than arity ",
             A);
  const Options opts(x.dtype(), x.device());
  Tensor h_all = zeros({N + 1, H}, opts), c_all = zeros({N + 1, H}, opts);
  for_each_level(forest, [&](const std::vector<int64_t>& nodes, const std::vector<int64_t>& child,
                             const std::vector<int64_t>& local, const std::vector<int64_t>& slot) {
    const int64_t n = static_cast<int64_t>(nodes.size());
    Tensor gates = matmul(index_select(x, 0, index_tensor(nodes, x)), w.t());
    if (b.defined()) gates = gates + b;
    Tensor fc_sum;
    if (!child.empty()) {
      // Slot l of node i reads row slots[i * A + l] of the state; empty slots the zero row N.
      std::vector<int64_t> slots(n * A, N);
      for (size_t e = 0; e < child.size(); ++e) slots[local[e] * A + slot[e]] = child[e];
      Tensor si = index_tensor(slots, x);
      Tensor h_cat = index_select(h_all, 0, si).reshape({n, A * H});
      Tensor c_kids = index_select(c_all, 0, si).reshape({n, A, H});
      gates = gates + matmul(h_cat, u.t());
      Tensor f = sigmoid(gates.narrow(1, H, A * H)).reshape({n, A, H});
      fc_sum = sum(f * c_kids, {1});
    }
    Tensor i = sigmoid(gates.narrow(1, 0, H)), g = tanh(gates.narrow(1, (1 + A) * H, H));
    Tensor o = sigmoid(gates.narrow(1, (2 + A) * H, H));
    Tensor c = i * g;
    if (fc_sum.defined()) c = c + fc_sum;
    Tensor h = o * tanh(c);
    h_all = put_rows(h_all, nodes, h);
    c_all = put_rows(c_all, nodes, c);
  });
  return {h_all.narrow(0, 0, N), c_all.narrow(0, 0, N)};
}

}  // namespace stackgrad
