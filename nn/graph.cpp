#include "nn/graph.h"

#include <cmath>
#include <sstream>

namespace stackgrad::nn {

namespace {

// The symmetric adjacency A of an [E, 2] i64 edge list.
Tensor adjacency(const char* fn, const Tensor& edges, int64_t n, DType dtype) {
  check_defined(fn, edges, "edges");
  SG_CHECK(edges.dim() == 2 && edges.size(1) == 2 && edges.dtype() == DType::i64, fn,
           ": expected edges i64 [E, 2], got ", describe(edges));
  SG_CHECK(n > 0, fn, ": expected a positive number of nodes, got ", n);
  return from_edge_list(edges.select(1, 0).contiguous(), edges.select(1, 1).contiguous(), n,
                        Tensor(), /*symmetric=*/true, dtype);
}

// The filters accept X [N] as one column.
void check_filter_args(const char* fn, const Tensor& S, const Tensor& X) {
  check_defined(fn, S, "S");
  check_defined(fn, X, "X");
  SG_CHECK(S.is_sparse() && S.dim() == 2 && S.size(0) == S.size(1), fn,
           ": expected a square sparse CSR matrix, got ", describe(S));
  SG_CHECK(!X.is_sparse() && (X.dim() == 1 || X.dim() == 2) && X.size(0) == S.size(0), fn,
           ": expected dense X [", S.size(0), ", F], got ", describe(X));
}

// y = M^k x by k sparse products.
Tensor power(const char* fn, const Tensor& M, const Tensor& X, int64_t k) {
  check_filter_args(fn, M, X);
  SG_CHECK(k >= 0, fn, ": k must be >= 0, got ", k);
  Tensor y = X.dim() == 1 ? X.unsqueeze(1) : X;
  for (int64_t i = 0; i < k; ++i) y = spmm(M, y);
  return X.dim() == 1 ? y.squeeze(1) : y;
}

}  // namespace

Tensor gcn_norm(const Tensor& edges, int64_t n, bool add_self_loops, DType dtype) {
  Tensor A = adjacency("gcn_norm", edges, n, dtype);
  return add_self_loops ? stackgrad::gcn_norm(A) : sym_normalize(A);
}

Tensor random_walk_norm(const Tensor& edges, int64_t n, bool add_self_loops, DType dtype) {
  Tensor A = adjacency("random_walk_norm", edges, n, dtype);
  return add_self_loops ? rw_norm(A) : row_normalize(A);
}

// --- GCNConv ----------------------------------------------------------------------------------

GCNConv::GCNConv(int64_t in_features, int64_t out_features, GCNConvOptions options, Generator& gen)
    : Module("GCNConv"), in_(in_features), out_(out_features) {
  SG_CHECK(in_features > 0 && out_features > 0,
           "GCNConv: expected positive sizes, got in=", in_features, ", out=", out_features);
  // Glorot-uniform, as Kipf and Welling's glorot(): ±√(6 / (in + out)).
  const double a = std::sqrt(6.0 / static_cast<double>(in_features + out_features));
  register_parameter("weight", weight, rand({in_features, out_features}, gen, DType::f32, -a, a));
  if (options.bias) register_parameter("bias", bias, zeros({out_features}));
}

Tensor GCNConv::forward(const Tensor& adj, const Tensor& x) {
  check_defined("GCNConv", adj, "adj");
  check_defined("GCNConv", x, "x");
  SG_CHECK(adj.is_sparse() && adj.dim() == 2 && adj.size(0) == adj.size(1),
           "GCNConv: expected adj a square sparse CSR matrix, got ", describe(adj));
  SG_CHECK(!x.is_sparse() && x.dim() == 2 && x.size(0) == adj.size(0) && x.size(1) == in_,
           "GCNConv: expected x [", adj.size(0), ", ", in_, "], got ", shape_str(x.shape()));
  Tensor y = out_ < in_ ? spmm(adj, mm(x, weight)) : mm(spmm(adj, x), weight);
  return bias.defined() ? y + bias : y;
}

std::string GCNConv::extra_repr() const {
  std::ostringstream s;
  s << "in=" << in_ << ", out=" << out_ << ", bias=" << (bias.defined() ? "true" : "false");
  return s.str();
}

// --- filters ----------------------------------------------------------------------------------

namespace graph_filter {

Tensor rnm(const Tensor& S, const Tensor& X, int64_t k) { return power("rnm", S, X, k); }

Tensor random_walk(const Tensor& P, const Tensor& X, int64_t k) {
  return power("random_walk", P, X, k);
}

Tensor low_pass(const Tensor& S, const Tensor& X, int64_t k) {
  check_filter_args("low_pass", S, X);
  SG_CHECK(k >= 0, "low_pass: k must be >= 0, got ", k);
  Tensor y = X.dim() == 1 ? X.unsqueeze(1) : X;
  for (int64_t i = 0; i < k; ++i) y = (y + spmm(S, y)) * 0.5;
  return X.dim() == 1 ? y.squeeze(1) : y;
}

namespace {

// Σ_{j < terms} β^j S̃^j X / (1 + α), β = α / (1 + α).
Tensor ar_series(const Tensor& S, const Tensor& X, double alpha, int64_t terms) {
  const double beta = alpha / (1.0 + alpha);
  Tensor term = X / (1.0 + alpha), y = term;
  for (int64_t j = 1; j < terms; ++j) {
    term = spmm(S, term) * beta;
    y = y + term;
  }
  return y;
}

// Column-wise conjugate gradient on A Y = X, A = (1 + α) I - α S̃: every column runs its own CG
// (own step sizes α_k, β_k, kept as [F] vectors) but all share each sparse product. A column
// already solved exactly (zero residual) keeps zero steps instead of dividing 0 by 0.
Tensor ar_cg(const Tensor& S, const Tensor& X, double alpha, double tol, int64_t max_iter) {
  auto apply = [&](const Tensor& Y) { return Y * (1.0 + alpha) - spmm(S, Y) * alpha; };
  auto safe = [](const Tensor& d) { return where(d > 0.0, d, ones_like(d)); };
  if (tol < 0.0) tol = X.dtype() == DType::f64 ? 1e-10 : 1e-5;
  Tensor Y = zeros_like(X), R = X, P = X;
  Tensor rs = sum(R * R, {0});
  const Tensor b_norm = safe(sqrt(rs));
  for (int64_t it = 0; it < max_iter; ++it) {
    if (max(sqrt(rs) / b_norm).item() <= tol) break;
    Tensor AP = apply(P);
    Tensor step = rs / safe(sum(P * AP, {0}));
    Y = Y + P * step;
    R = R - AP * step;
    Tensor rs_new = sum(R * R, {0});
    P = R + P * (rs_new / safe(rs));
    rs = rs_new;
  }
  return Y;
}

}  // namespace

Tensor ar(const Tensor& S, const Tensor& X, double alpha, const ArOptions& options) {
  check_filter_args("ar", S, X);
  SG_CHECK(alpha > 0.0, "ar: alpha must be > 0, got ", alpha);
  Tensor x = X.dim() == 1 ? X.unsqueeze(1) : X;
  Tensor y;
  if (options.method == ArMethod::series) {
    SG_CHECK(options.terms >= 1, "ar: terms must be >= 1, got ", options.terms);
    y = ar_series(S, x, alpha, options.terms);
  } else {
    SG_CHECK(options.max_iter >= 0, "ar: max_iter must be >= 0, got ", options.max_iter);
    y = ar_cg(S, x, alpha, options.tol, options.max_iter);
  }
  return X.dim() == 1 ? y.squeeze(1) : y;
}

}  // namespace graph_filter

}  // namespace stackgrad::nn
