#include "algorithms/gradient_free_gcn/gradient_free_gcn.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "engine/stackgrad.h"
#include "nn/optim/adam.h"
#include "train/full_batch.h"
#include "train/metrics.h"

namespace stackgrad::algo {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool empty(const Tensor& idx) { return !idx.defined() || idx.numel() == 0; }

// X with A X = B for symmetric positive definite A: A = L Lᵀ, then two triangular solves.
Tensor cholesky_solve(const Tensor& A, const Tensor& B) {
  Tensor L = cholesky(A);
  Tensor Z = solve_triangular(L, B, /*upper=*/false);
  return solve_triangular(L.t().contiguous(), Z, /*upper=*/true);
}

void check_ridge_inputs(const char* who, const Tensor& X, const Tensor& Y, double lambda) {
  SG_CHECK(X.dim() == 2 && Y.dim() == 2 && X.size(0) == Y.size(0), who,
           ": expected X [L, F] and Y [L, C], got ", shape_str(X.shape()), " and ",
           shape_str(Y.shape()));
  SG_CHECK(lambda > 0, who, ": lambda must be > 0, got ", lambda);
}

}  // namespace

// --- graph filters ----------------------------------------------------------------------------

const char* filter_name(Filter f) {
  switch (f) {
    case Filter::sgc:
      return "sgc";
    case Filter::ssgc:
      return "ssgc";
    case Filter::appnp:
      return "appnp";
  }
  return "?";
}

Filter parse_filter(const std::string& name) {
  for (Filter f : {Filter::sgc, Filter::ssgc, Filter::appnp})
    if (name == filter_name(f)) return f;
  fail("filter: expected sgc, ssgc or appnp, got '", name, "'");
}

FilterStream::FilterStream(Filter filter, Tensor S, Tensor X, FilterOptions options)
    : filter_(filter), options_(options), S_(std::move(S)), X_(std::move(X)) {
  SG_CHECK(S_.is_sparse() && S_.dim() == 2 && S_.size(0) == S_.size(1),
           "FilterStream: S must be a square CSR matrix, got ", shape_str(S_.shape()));
  SG_CHECK(X_.dim() == 2 && X_.size(0) == S_.size(0), "FilterStream: X must be [", S_.size(0),
           ", F], got ", shape_str(X_.shape()));
  SG_CHECK(options_.ssgc_alpha >= 0 && options_.ssgc_alpha <= 1,
           "FilterStream: ssgc_alpha must be in [0, 1], got ", options_.ssgc_alpha);
  SG_CHECK(options_.appnp_alpha >= 0 && options_.appnp_alpha <= 1,
           "FilterStream: appnp_alpha must be in [0, 1], got ", options_.appnp_alpha);
  power_ = X_;
  if (filter_ == Filter::ssgc) sum_ = zeros_like(X_);
}

void FilterStream::step() {
  NoGradGuard no_grad;
  // Every update builds new tensors (no in-place writes), so a features() taken earlier stays
  // valid.
  switch (filter_) {
    case Filter::sgc:
      power_ = spmm(S_, power_);
      break;
    case Filter::ssgc:
      power_ = spmm(S_, power_);
      sum_ = sum_ + power_;
      break;
    case Filter::appnp:
      power_ = spmm(S_, power_) * (1.0 - options_.appnp_alpha) + X_ * options_.appnp_alpha;
      break;
  }
  ++depth_;
}

Tensor FilterStream::features() const {
  if (filter_ != Filter::ssgc || depth_ == 0) return power_;
  NoGradGuard no_grad;
  const double a = options_.ssgc_alpha;
  return sum_ * ((1.0 - a) / double(depth_)) + X_ * a;
}

Tensor apply_filter(Filter filter, const Tensor& S, const Tensor& X, int64_t K,
                    FilterOptions options) {
  SG_CHECK(K >= 0, "apply_filter: K must be >= 0, got ", K);
  FilterStream stream(filter, S, X, options);
  while (stream.depth() < K) stream.step();
  return stream.features();
}

Tensor standardize_columns(const Tensor& X) {
  SG_CHECK(X.dim() == 2, "standardize_columns: expected [N, F], got ", shape_str(X.shape()));
  NoGradGuard no_grad;
  // In f64: deep filters leave columns whose spread is tiny next to their mean.
  Tensor x = X.to(DType::f64);
  Tensor mu = mean(x, {0}, /*keepdim=*/true);
  Tensor centred = x - mu;
  Tensor sd = sqrt(mean(square(centred), {0}, /*keepdim=*/true));
  // A column is constant when its spread is rounding noise of its values (f32 carries 7 digits).
  Tensor constant = sd <= (abs(mu) * 1e-6 + 1e-300);
  Tensor denom =
      where(constant, full(sd.shape(), std::numeric_limits<double>::infinity(), DType::f64), sd);
  return (centred / denom).to(X.dtype());
}

// --- closed-form classifier ------------------------------------------------------------------

Tensor ridge_primal(const Tensor& X, const Tensor& Y, double lambda) {
  check_ridge_inputs("ridge_primal", X, Y, lambda);
  NoGradGuard no_grad;
  Tensor x = X.to(DType::f64), y = Y.to(DType::f64);
  Tensor A = mm(x.t(), x) + eye(x.size(1), -1, DType::f64) * lambda;
  return cholesky_solve(A, mm(x.t(), y)).to(X.dtype());
}

Tensor ridge_dual(const Tensor& X, const Tensor& Y, double lambda) {
  check_ridge_inputs("ridge_dual", X, Y, lambda);
  NoGradGuard no_grad;
  Tensor x = X.to(DType::f64), y = Y.to(DType::f64);
  Tensor G = mm(x, x.t()) + eye(x.size(0), -1, DType::f64) * lambda;
  return mm(x.t(), cholesky_solve(G, y)).to(X.dtype());
}

RidgeFit fit_ridge(const Tensor& features, const Tensor& labels, const data::NodeSplit& split,
                   const RidgeConfig& config) {
  SG_CHECK(features.dim() == 2 && labels.dim() == 1 && labels.size(0) == features.size(0),
           "fit_ridge: expected features [N, F] and labels [N], got ", shape_str(features.shape()),
           " and ", shape_str(labels.shape()));
  SG_CHECK(!empty(split.train_idx), "fit_ridge: no training nodes");
  SG_CHECK(!config.lambdas.empty(), "fit_ridge: empty lambda grid");
  for (double l : config.lambdas) SG_CHECK(l > 0, "fit_ridge: lambdas must be > 0, got ", l);
  NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();

  const int64_t classes = int64_t(max(labels).item()) + 1;
  const Tensor train_y = index_select(labels, 0, split.train_idx);
  Tensor x = index_select(features, 0, split.train_idx).to(DType::f64);
  Tensor y = one_hot(train_y, classes).to(DType::f64);
  Tensor x_mean = zeros({1, x.size(1)}, DType::f64), y_mean = zeros({1, classes}, DType::f64);
  if (config.intercept) {
    x_mean = mean(x, {0}, true), y_mean = mean(y, {0}, true);
    x = x - x_mean, y = y - y_mean;
  }
  // The dual form: one L x L Gram matrix serves every λ.
  const Tensor gram = mm(x, x.t());
  const int64_t L = x.size(0);
  const double scale = std::max(sum(square(x)).item() / double(L), 1e-300);  // trace(gram) / L
  const Tensor identity = eye(L, -1, DType::f64);

  auto solve_for = [&](double rel_lambda, Tensor& w, Tensor& b) {
    w = mm(x.t(), cholesky_solve(gram + identity * (rel_lambda * scale), y));
    b = (y_mean - mm(x_mean, w)).reshape({classes});
  };
  // Scoring runs in the features' dtype: only the solve needs f64.
  struct Rows {
    Tensor x, y;  // features and labels of a set of nodes, gathered once for every λ
  };
  auto rows = [&](const Tensor& idx) {
    return empty(idx) ? Rows{} : Rows{index_select(features, 0, idx), index_select(labels, 0, idx)};
  };
  auto accuracy_on = [&](const Rows& r, const Tensor& w, const Tensor& b) {
    if (!r.x.defined()) return std::nan("");
    return train::accuracy(mm(r.x, w.to(r.x.dtype())) + b.to(r.x.dtype()), r.y);
  };
  const Rows val = rows(split.val_idx);

  RidgeFit fit;
  Tensor w, b;
  double best = -1;
  for (double rel : config.lambdas) {
    solve_for(rel, w, b);
    const double acc = empty(split.val_idx) ? 0.0 : accuracy_on(val, w, b);
    // >= prefers the larger λ on ties when the grid ascends; without validation the last wins.
    const bool better = empty(split.val_idx) ? rel >= fit.lambda
                                             : (acc > best || (acc == best && rel > fit.lambda));
    if (better) best = acc, fit.lambda = rel, fit.weight = w, fit.bias = b;
  }
  fit.val_accuracy = empty(split.val_idx) ? std::nan("") : best;
  fit.test_accuracy = accuracy_on(rows(split.test_idx), fit.weight, fit.bias);
  fit.train_accuracy = accuracy_on(rows(split.train_idx), fit.weight, fit.bias);
  fit.weight = fit.weight.to(features.dtype());
  fit.bias = fit.bias.to(features.dtype());
  fit.seconds = seconds_since(start);
  return fit;
}

// --- gradient-trained classifier --------------------------------------------------------------

double loss_gradient_norm(nn::Linear& model, const Tensor& X, const Tensor& targets) {
  model.zero_grad();
  Tensor loss = cross_entropy(model(X), targets);
  loss.backward();
  const double n = norm(model.weight.grad()).item();
  model.zero_grad();
  return n;
}

DescentFit fit_descent(const Tensor& features, const Tensor& labels, const data::NodeSplit& split,
                       const DescentConfig& config, uint64_t seed) {
  SG_CHECK(features.dim() == 2 && labels.dim() == 1 && labels.size(0) == features.size(0),
           "fit_descent: expected features [N, F] and labels [N], got ",
           shape_str(features.shape()), " and ", shape_str(labels.shape()));
  SG_CHECK(!empty(split.train_idx), "fit_descent: no training nodes");
  SG_CHECK(config.epochs > 0, "fit_descent: epochs must be > 0, got ", config.epochs);

  // A linear classifier treats rows independently and SGC's recipe reads neither the validation
  // nor the test nodes while training (no early stopping), so the loop runs on the labelled rows
  // alone and the other rows are scored once, at the end.
  const Tensor x = index_select(features, 0, split.train_idx).detach().contiguous();
  const int64_t L = x.size(0);
  const train::NodeTask task{.labels = index_select(labels, 0, split.train_idx),
                             .train_idx = arange(L)};
  const int64_t classes = int64_t(max(labels).item()) + 1;

  Generator gen(seed);
  nn::Linear model(x.size(1), classes, {.bias = config.bias}, gen);
  DescentFit fit;
  fit.grad_norm_init = loss_gradient_norm(model, x, task.labels);

  nn::Adam opt(model.parameters(), {.lr = config.lr, .weight_decay = config.weight_decay});
  double grad_sum = 0;
  int64_t grad_count = 0;
  train::FullBatchOptions options{.epochs = config.epochs};
  // After each step .grad still holds the gradient that step used (at the weights before it).
  options.on_epoch = [&](const train::EpochRecord& r) {
    if (r.epoch < config.grad_epochs) grad_sum += norm(model.weight.grad()).item(), ++grad_count;
    return true;
  };
  const auto start = std::chrono::steady_clock::now();
  auto trace = train::fit_full_batch(
      model, [&] { return model(x); }, opt, task, options);
  fit.train_accuracy = trace.back().train_accuracy;
  fit.grad_norm_mean = grad_count ? grad_sum / double(grad_count) : std::nan("");

  NoGradGuard no_grad;  // the model is in eval mode after fit_full_batch
  auto accuracy_on = [&](const Tensor& idx) {
    if (empty(idx)) return std::nan("");
    return train::accuracy(model(index_select(features, 0, idx)), index_select(labels, 0, idx));
  };
  fit.val_accuracy = accuracy_on(split.val_idx);
  fit.test_accuracy = accuracy_on(split.test_idx);
  fit.seconds = seconds_since(start);
  return fit;
}

}  // namespace stackgrad::algo
