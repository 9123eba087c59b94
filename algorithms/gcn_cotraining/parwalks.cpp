#include "algorithms/gcn_cotraining/parwalks.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/stackgrad.h"

namespace stackgrad::algo {

namespace {

// Connected components by union-find with path halving; ids numbered in order of first node.
std::vector<int64_t> connected_components(const std::vector<int64_t>& edge_list, int64_t n,
                                          int64_t* count) {
  std::vector<int64_t> parent(static_cast<size_t>(n));
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int64_t v) {
    while (parent[size_t(v)] != v) v = parent[size_t(v)] = parent[size_t(parent[size_t(v)])];
    return v;
  };
  for (size_t e = 0; e + 1 < edge_list.size(); e += 2) {
    int64_t a = find(edge_list[e]), b = find(edge_list[e + 1]);
    if (a != b) parent[size_t(std::max(a, b))] = std::min(a, b);
  }
  std::vector<int64_t> id(size_t(n), -1), root_id(size_t(n), -1);
  *count = 0;
  for (int64_t v = 0; v < n; ++v) {
    int64_t r = find(v);
    if (root_id[size_t(r)] < 0) root_id[size_t(r)] = (*count)++;
    id[size_t(v)] = root_id[size_t(r)];
  }
  return id;
}

}  // namespace

ParWalks::ParWalks(const Tensor& edges, int64_t n, ParWalksOptions options)
    : n_(n), options_(options) {
  SG_CHECK(edges.defined() && edges.dtype() == DType::i64 && edges.dim() == 2 && edges.size(1) == 2,
           "ParWalks: edges must be i64 [E, 2]");
  SG_CHECK(n >= 1, "ParWalks: n must be >= 1, got ", n);
  SG_CHECK(options.alpha > 0, "ParWalks: alpha must be > 0, got ", options.alpha);
  SG_CHECK(options.tol > 0 && options.max_iter >= 1,
           "ParWalks: need tol > 0 and max_iter >= 1, got tol ", options.tol, ", max_iter ",
           options.max_iter);
  const std::vector<int64_t> edge_list = edges.contiguous().to_vector<int64_t>();
  for (int64_t v : edge_list)
    SG_CHECK(v >= 0 && v < n, "ParWalks: edge endpoint ", v, " outside [0, ", n, ")");

  // L + αI = D - A + αI from the symmetric adjacency of ones (duplicate edges counted once).
  Tensor A =
      from_edge_list(index_select(edges, 1, from_vector<int64_t>({0})).reshape({-1}),
                     index_select(edges, 1, from_vector<int64_t>({1})).reshape({-1}), n, Tensor(),
                     /*symmetric=*/true, DType::f64);
  const auto crow = csr_crow(A).to_vector<int64_t>(), col = csr_col(A).to_vector<int64_t>();
  const auto val = csr_values(A).to_vector<double>();
  std::vector<int64_t> rows, cols;
  std::vector<double> vals;
  for (int64_t i = 0; i < n; ++i) {
    double degree = 0;
    for (int64_t e = crow[size_t(i)]; e < crow[size_t(i) + 1]; ++e) {
      rows.push_back(i), cols.push_back(col[size_t(e)]), vals.push_back(-val[size_t(e)]);
      degree += val[size_t(e)];
    }
    rows.push_back(i), cols.push_back(i), vals.push_back(degree + options.alpha);
  }
  shifted_laplacian_ =
      sparse_csr_from_coo(from_vector(rows), from_vector(cols), from_vector(vals), {n, n});

  const std::vector<int64_t> comp = connected_components(edge_list, n, &num_components_);
  component_ = from_vector(comp);
  std::vector<double> size(size_t(num_components_), 0.0);
  for (int64_t c : comp) size[size_t(c)] += 1;
  component_size_ = from_vector(size, {num_components_, 1});
  membership_ =
      sparse_csr_from_coo(component_, arange(n), full({n}, 1.0, DType::f64), {num_components_, n});
  membership_t_ = sparse_transpose(membership_);
}

Tensor ParWalks::solve(const Tensor& B_in) const {
  SG_CHECK(B_in.defined() && B_in.dim() == 2 && B_in.size(0) == n_, "ParWalks::solve: expected B [",
           n_, ", m], got ", B_in.defined() ? shape_str(B_in.shape()) : "undefined");
  NoGradGuard no_grad;
  const Tensor B = B_in.to(DType::f64).contiguous();
  // Split every column into its per-component mean and the zero-mean rest b⊥.
  const Tensor means = spmm(membership_, B) / component_size_;  // [components, m]
  const Tensor mean_part = spmm(membership_t_, means);          // [N, m]
  Tensor R = B - mean_part;
  auto project = [&](const Tensor& X) {
    return X - spmm(membership_t_, spmm(membership_, X) / component_size_);
  };

  // Block CG, one step size per column. The vector updates are fused loops over the raw
  // arrays (three passes per step instead of a dozen engine ops); the product with L + αI is
  // the engine's spmm.
  const int64_t m = B.size(1);
  R = R.contiguous();
  Tensor Y = zeros(B.shape(), DType::f64), P = R.clone();
  const size_t columns = static_cast<size_t>(m);
  std::vector<double> rs(columns, 0.0), b_norm2(columns), step(columns), rs_new(columns);
  const double* r = R.data_ptr<double>();
  // Entry i = row * m + j of an [N, m] array belongs to column j.
#define FOR_EACH_ENTRY                          \
  for (int64_t row = 0, i = 0; row < n_; ++row) \
    for (size_t j = 0; j < size_t(m); ++j, ++i)
  FOR_EACH_ENTRY rs[j] += r[i] * r[i];
  for (int64_t j = 0; j < m; ++j) b_norm2[size_t(j)] = std::max(rs[size_t(j)], 1e-300);
  // A column that has converged is frozen (step 0 from then on): stepping on with a residual at
  // the rounding floor divides noise by noise and can overflow.
  std::vector<char> done(columns, 0);
  const double tol2 = options_.tol * options_.tol;
  auto worst_ratio = [&] {
    double w = 0;
    for (size_t j = 0; j < columns; ++j) {
      const double ratio = rs[j] / b_norm2[j];
      SG_CHECK(std::isfinite(ratio),
               "ParWalks::solve: conjugate gradient broke down (non-finite residual)");
      if (ratio <= tol2) done[j] = 1;
      w = std::max(w, ratio);
    }
    return w;
  };
  int64_t it = 0;
  double worst = worst_ratio();
  for (; it < options_.max_iter && worst > tol2; ++it) {
    const Tensor AP = spmm(shifted_laplacian_, P);
    const double* ap = AP.data_ptr<double>();
    double *y = Y.data_ptr<double>(), *pp = P.data_ptr<double>(), *rr = R.data_ptr<double>();
    std::fill(step.begin(), step.end(), 0.0);
    FOR_EACH_ENTRY step[j] += pp[i] * ap[i];  // pᵀ A p
    for (size_t j = 0; j < columns; ++j) step[j] = done[j] ? 0.0 : rs[j] / step[j];
    std::fill(rs_new.begin(), rs_new.end(), 0.0);
    FOR_EACH_ENTRY {
      y[i] += step[j] * pp[i];
      rr[i] -= step[j] * ap[i];
      rs_new[j] += rr[i] * rr[i];
    }
    // Rounding slowly leaks the component means back into the residual; remove them now and then.
    if ((it + 1) % 50 == 0) {
      R = project(R).contiguous();
      rr = R.data_ptr<double>();
    }
    for (size_t j = 0; j < columns; ++j) step[j] = done[j] ? 0.0 : rs_new[j] / rs[j];  // β
    FOR_EACH_ENTRY pp[i] = rr[i] + step[j] * pp[i];
    for (size_t j = 0; j < columns; ++j)
      if (!done[j]) rs[j] = rs_new[j];
    worst = worst_ratio();
  }
#undef FOR_EACH_ENTRY
  last_iterations_ = it;
  last_residual_ = std::sqrt(worst);
  SG_CHECK(worst <= tol2, "ParWalks::solve: conjugate gradient did not reach tol ", options_.tol,
           " in ", options_.max_iter, " steps (relative residual ", std::sqrt(worst),
           "); raise --cg-max-iter or --cg-tol");
  return project(Y) + mean_part / options_.alpha;
}

Tensor ParWalks::columns(const Tensor& idx) const {
  SG_CHECK(idx.defined() && idx.dtype() == DType::i64 && idx.dim() == 1,
           "ParWalks::columns: idx must be i64 [m]");
  const std::vector<int64_t> nodes = idx.contiguous().to_vector<int64_t>();
  std::vector<int64_t> missing;
  for (int64_t v : nodes) {
    SG_CHECK(v >= 0 && v < n_, "ParWalks::columns: node ", v, " outside [0, ", n_, ")");
    if (!cache_.count(v) && std::find(missing.begin(), missing.end(), v) == missing.end())
      missing.push_back(v);
  }
  std::unordered_map<int64_t, std::vector<double>> fresh;
  last_iterations_ = 0;
  if (!missing.empty()) {
    const int64_t k = int64_t(missing.size());
    Tensor unit = zeros({n_, k}, DType::f64);
    for (int64_t j = 0; j < k; ++j) unit.data_ptr<double>()[missing[size_t(j)] * k + j] = 1.0;
    const std::vector<double> solved = solve(unit).to_vector<double>();
    const bool keep = int64_t(cache_.size() + missing.size()) * n_ * 8 <= options_.cache_bytes;
    for (int64_t j = 0; j < k; ++j) {
      std::vector<double> column(static_cast<size_t>(n_));
      for (int64_t i = 0; i < n_; ++i) column[size_t(i)] = solved[size_t(i * k + j)];
      (keep ? cache_ : fresh)[missing[size_t(j)]] = std::move(column);
    }
  }
  const int64_t m = int64_t(nodes.size());
  Tensor out = zeros({n_, m}, DType::f64);
  double* o = out.data_ptr<double>();
  for (int64_t j = 0; j < m; ++j) {
    auto hit = cache_.find(nodes[size_t(j)]);
    const std::vector<double>& column =
        hit != cache_.end() ? hit->second : fresh.at(nodes[size_t(j)]);
    for (int64_t i = 0; i < n_; ++i) o[i * m + j] = column[size_t(i)];
  }
  return out;
}

Tensor parwalks_predict(const Tensor& P_cols, const Tensor& train_labels) {
  SG_CHECK(P_cols.dim() == 2 && train_labels.dim() == 1 && P_cols.size(1) == train_labels.numel(),
           "parwalks_predict: expected P_cols [N, m] and train_labels [m], got ",
           shape_str(P_cols.shape()), " and ", shape_str(train_labels.shape()));
  return index_select(train_labels, 0, argmax(P_cols, 1));
}

Tensor parwalks_class_scores(const Tensor& P_cols, const Tensor& train_labels,
                             int64_t num_classes) {
  SG_CHECK(P_cols.dim() == 2 && train_labels.dim() == 1 && P_cols.size(1) == train_labels.numel(),
           "parwalks_class_scores: expected P_cols [N, m] and train_labels [m], got ",
           shape_str(P_cols.shape()), " and ", shape_str(train_labels.shape()));
  return mm(P_cols, one_hot(train_labels, num_classes).to(P_cols.dtype()));
}

}  // namespace stackgrad::algo
