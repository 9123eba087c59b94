#include "algorithms/graph_filtering_ssl/models.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "engine/stackgrad.h"
#include "nn/optim/adam.h"
#include "train/metrics.h"

namespace stackgrad::algo {

namespace {

Tensor glorot(int64_t in, int64_t out, Generator& gen) {
  const double a = std::sqrt(6.0 / double(in + out));
  return rand({in, out}, gen, DType::f32, -a, a);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

FilterNet::FilterNet(int64_t in, int64_t hidden, int64_t classes, double dropout,
                     Filter layer_filter, Generator& gen)
    : Module("FilterNet"), layer_filter(layer_filter), dropout(dropout) {
  SG_CHECK(in > 0 && hidden > 0 && classes > 0, "FilterNet: sizes must be positive, got in=", in,
           ", hidden=", hidden, ", classes=", classes);
  SG_CHECK(dropout >= 0.0 && dropout < 1.0, "FilterNet: dropout must be in [0, 1), got ", dropout);
  register_parameter("w1", w1, glorot(in, hidden, gen));
  register_parameter("w2", w2, glorot(hidden, classes, gen));
  dropout_gen_ = Generator(
      uint64_t(randint(0, std::numeric_limits<int64_t>::max(), {1}, gen).item<int64_t>()));
}

Tensor FilterNet::forward(const Tensor& S, const Tensor& x) {
  const bool drop = is_training() && dropout > 0.0;
  Tensor xw;
  if (x.is_sparse()) {
    // The features are constants: dropping their nonzero values needs no gradient path.
    Tensor values = csr_values(x);
    if (drop) values = stackgrad::dropout(values, dropout, true, dropout_gen_);
    xw = spmm(csr_with_values(x, values), w1);
  } else {
    xw = mm(stackgrad::dropout(x, dropout, drop, dropout_gen_), w1);
  }
  // Filtering after the weight keeps the sparse products `hidden` columns wide: G (X W) = (G X) W.
  Tensor h = relu(apply_filter(S, xw, layer_filter));
  return apply_filter(S, mm(stackgrad::dropout(h, dropout, drop, dropout_gen_), w2), layer_filter);
}

bool is_checked_epoch(int64_t epoch, int64_t epochs, int64_t every, double last_fraction) {
  const int64_t tail_start = epochs - int64_t(std::ceil(last_fraction * double(epochs)));
  return (epoch + 1) % every == 0 || epoch >= tail_start;
}

SelectedRun fit_lowest_train_loss(nn::Module& model, nn::Optimizer& opt,
                                  const std::function<Tensor()>& train_logits,
                                  const Tensor& train_y, const std::function<Tensor()>& test_logits,
                                  const Tensor& test_y, const NetConfig& cfg,
                                  const EpochCallback& on_epoch) {
  SG_CHECK(cfg.epochs > 0, "fit_lowest_train_loss: epochs must be positive, got ", cfg.epochs);
  SG_CHECK(cfg.check_every >= 1, "fit_lowest_train_loss: check_every must be >= 1, got ",
           cfg.check_every);
  const auto start = std::chrono::steady_clock::now();
  SelectedRun run;
  std::vector<Tensor> best;  // the parameters of the best checked epoch so far
  int64_t best_epoch = -1;
  double best_loss = std::numeric_limits<double>::infinity();
  for (int64_t epoch = 0; epoch < cfg.epochs; ++epoch) {
    model.train();
    Tensor loss = cross_entropy(train_logits(), train_y);
    opt.zero_grad();
    loss.backward();
    opt.step();

    train::EpochRecord r;
    r.epoch = epoch;
    r.step_loss = loss.item();
    r.train_loss = r.train_accuracy = r.val_loss = r.val_accuracy = r.test_accuracy = std::nan("");
    if (is_checked_epoch(epoch, cfg.epochs, cfg.check_every, cfg.check_last_fraction)) {
      model.eval();
      NoGradGuard no_grad;
      Tensor logits = train_logits();
      r.train_loss = cross_entropy(logits, train_y).item();
      r.train_accuracy = train::accuracy(logits, train_y);
      if (r.train_loss < best_loss) {
        best_loss = r.train_loss;
        best_epoch = epoch;
        best.clear();
        for (const Tensor& p : model.parameters()) best.push_back(p.detach().clone());
      }
    }
    run.trace.push_back(r);
    if (on_epoch) on_epoch(r);
  }
  // The shared rule decides; the copy kept above must be of the epoch it picks.
  const train::EpochRecord chosen =
      train::select_lowest_train_loss(run.trace, cfg.check_every, cfg.check_last_fraction);
  SG_CHECK(chosen.epoch == best_epoch, "fit_lowest_train_loss: kept epoch ", best_epoch,
           " but the rule picks ", chosen.epoch,
           " (is_checked_epoch disagrees with select_lowest_train_loss)");
  {
    NoGradGuard no_grad;
    std::vector<Tensor> params = model.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
    model.eval();
    run.test_accuracy = train::accuracy(test_logits(), test_y);
  }
  run.epoch = chosen.epoch;
  run.train_loss = chosen.train_loss;
  run.trace[size_t(run.epoch)].test_accuracy = run.test_accuracy;
  run.seconds = seconds_since(start);
  return run;
}

namespace {

void check_split(const char* fn, const data::NodeSplit& split) {
  SG_CHECK(split.train_idx.defined() && split.train_idx.numel() > 0, fn,
           ": the split has no training nodes");
  SG_CHECK(split.test_idx.defined() && split.test_idx.numel() > 0, fn,
           ": the split has no test nodes");
}

// Adam with the L2 term on every parameter, as the authors' weight_decay * Σ l2_loss(W).
std::unique_ptr<nn::Adam> make_adam(nn::Module& model, const NetConfig& cfg) {
  return std::make_unique<nn::Adam>(
      model.parameters(), nn::AdamOptions{.lr = cfg.lr, .weight_decay = cfg.weight_decay});
}

}  // namespace

SelectedRun train_glp(const Tensor& features, const Tensor& labels, const data::NodeSplit& split,
                      int64_t num_classes, const NetConfig& cfg, uint64_t seed,
                      const EpochCallback& on_epoch) {
  check_split("train_glp", split);
  SG_CHECK(features.defined() && features.dim() == 2 && features.size(0) == labels.size(0),
           "train_glp: expected features [", labels.size(0), ", F], got ",
           features.defined() ? shape_str(features.shape()) : "undefined");
  // Only the labelled rows take part in training (the authors' "speed up for MLP"): the
  // classifier never sees the graph, so the other rows would only cost time.
  const Tensor x_train = index_select(features, 0, split.train_idx);
  const Tensor x_test = index_select(features, 0, split.test_idx);
  Generator gen(seed);
  FilterNet model(features.size(1), cfg.hidden, num_classes, cfg.dropout, Filter::none(), gen);
  auto opt = make_adam(model, cfg);
  return fit_lowest_train_loss(
      model, *opt, [&] { return model.forward(Tensor(), x_train); },
      index_select(labels, 0, split.train_idx), [&] { return model.forward(Tensor(), x_test); },
      index_select(labels, 0, split.test_idx), cfg, on_epoch);
}

SelectedRun train_igcn(const Tensor& S, const Tensor& features, const Tensor& labels,
                       const data::NodeSplit& split, int64_t num_classes,
                       const Filter& layer_filter, const NetConfig& cfg, uint64_t seed,
                       const EpochCallback& on_epoch) {
  check_split("train_igcn", split);
  SG_CHECK(features.defined() && features.dim() == 2 && features.size(0) == labels.size(0),
           "train_igcn: expected features [", labels.size(0), ", F]");
  Generator gen(seed);
  FilterNet model(features.size(1), cfg.hidden, num_classes, cfg.dropout, layer_filter, gen);
  auto opt = make_adam(model, cfg);
  return fit_lowest_train_loss(
      model, *opt, [&] { return index_select(model.forward(S, features), 0, split.train_idx); },
      index_select(labels, 0, split.train_idx),
      [&] { return index_select(model.forward(S, features), 0, split.test_idx); },
      index_select(labels, 0, split.test_idx), cfg, on_epoch);
}

SelectedRun train_gcn_lowest_loss(const data::GraphDataset& ds, const data::NodeSplit& split,
                                  const GcnConfig& cfg, int64_t check_every,
                                  double check_last_fraction, uint64_t seed,
                                  const EpochCallback& on_epoch) {
  check_split("train_gcn_lowest_loss", split);
  data::GraphDataset d = ds;
  d.train_idx = split.train_idx;
  d.val_idx = split.train_idx;  // see the header: val_loss is then the eval-mode training loss
  d.test_idx = split.test_idx;
  SelectedRun run;
  GcnResult r = train_gcn(d, cfg, seed, [&](const GcnEpoch& e) {
    train::EpochRecord rec;
    rec.epoch = e.epoch;
    rec.step_loss = e.train_loss;
    rec.train_loss = e.val_loss;
    rec.train_accuracy = e.val_accuracy;
    rec.val_loss = rec.val_accuracy = std::nan("");
    rec.test_accuracy = e.test_accuracy;
    run.trace.push_back(rec);
    if (on_epoch) on_epoch(rec);
  });
  const train::EpochRecord chosen =
      train::select_lowest_train_loss(run.trace, check_every, check_last_fraction);
  run.test_accuracy = chosen.test_accuracy;
  run.epoch = chosen.epoch;
  run.train_loss = chosen.train_loss;
  run.seconds = r.seconds;
  return run;
}

}  // namespace stackgrad::algo
