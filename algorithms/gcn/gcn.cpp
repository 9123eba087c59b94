#include "algorithms/gcn/gcn.h"

#include <chrono>
#include <cmath>
#include <deque>
#include <numeric>

#include "nn/optim/adam.h"
#include "train/full_batch.h"

namespace stackgrad::algo {

Gcn::Gcn(int64_t in, int64_t hidden, int64_t classes, double dropout, bool bias, Generator& gen)
    : Module("Gcn") {
  drop_in = register_module("drop_in", std::make_shared<nn::Dropout>(dropout, gen));
  conv1 = register_module("conv1", std::make_shared<nn::GCNConv>(in, hidden, nn::GCNConvOptions{.bias = bias}, gen));
  drop_hidden = register_module("drop_hidden", std::make_shared<nn::Dropout>(dropout, gen));
  conv2 = register_module("conv2", std::make_shared<nn::GCNConv>(hidden, classes, nn::GCNConvOptions{.bias = bias}, gen));
}

Tensor Gcn::forward(const Tensor& adj, const Tensor& x) {
  Tensor h;
  if (x.is_sparse()) {
    // S̃ (dropout(X) W0): the sparse product touches only X's non-zeros.
    Tensor dropped = csr_with_values(x, (*drop_in)(csr_values(x)));
    h = spmm(adj, spmm(dropped, conv1->weight));
    if (conv1->bias.defined()) h = h + conv1->bias;
  } else {
    h = conv1->forward(adj, (*drop_in)(x));
  }
  return conv2->forward(adj, (*drop_hidden)(relu(h)));
}

namespace {

// L2 on the first layer's weight (Kipf's weight_decay * l2_loss(W0), with l2_loss = sum(w²)/2, is
// exactly Adam's weight_decay term on W0), or on both weights; never on biases.
nn::Adam make_optimizer(Gcn& model, const GcnConfig& cfg) {
  std::vector<Tensor> decayed{model.conv1->weight}, rest;
  for (auto& [name, p] : model.named_parameters()) {
    if (name == "conv1.weight") continue;
    (cfg.decay_all_layers && name == "conv2.weight" ? decayed : rest).push_back(p);
  }
  std::vector<nn::Adam::Group> groups{{.params = decayed, .options = {.lr = cfg.lr, .weight_decay = cfg.weight_decay}}};
  if (!rest.empty()) groups.push_back({.params = rest, .options = {.lr = cfg.lr}});
  return nn::Adam(groups);
}

}  // namespace

GcnResult train_gcn(const data::GraphDataset& ds, const GcnConfig& cfg, uint64_t seed,
                    const std::function<void(const GcnEpoch&)>& on_epoch) {
  data::validate_graph(ds, "train_gcn");
  SG_CHECK(ds.train_idx.defined() && ds.train_idx.numel() > 0, "train_gcn: ", ds.name,
           " has no training nodes");
  const Tensor x = cfg.row_normalize ? data::row_normalize_features(ds.features_or_fail()) : ds.features_or_fail();
  const Tensor adj = nn::gcn_norm(ds.edges, ds.num_nodes);

  Generator gen(seed);
  Gcn model(x.size(1), cfg.hidden, ds.num_classes, cfg.dropout, cfg.bias, gen);
  nn::Adam opt = make_optimizer(model, cfg);

  GcnResult result;
  std::deque<double> recent_val_losses;
  train::FullBatchOptions options{.epochs = cfg.epochs};
  options.on_epoch = [&](const train::EpochRecord& r) {
    GcnEpoch e{r.epoch, r.step_loss, r.val_loss, r.train_accuracy, r.val_accuracy, r.test_accuracy};
    result.test_accuracy = e.test_accuracy;
    result.val_accuracy = e.val_accuracy;
    result.epochs_trained = e.epoch + 1;
    if (on_epoch) on_epoch(e);
    if (cfg.early_stopping <= 0) return true;
    if (int64_t(recent_val_losses.size()) == cfg.early_stopping) {
      double mean_recent = std::accumulate(recent_val_losses.begin(), recent_val_losses.end(), 0.0) /
                           double(recent_val_losses.size());
      if (e.val_loss > mean_recent) return false;
      recent_val_losses.pop_front();
    }
    recent_val_losses.push_back(e.val_loss);
    return true;
  };
  const auto start = std::chrono::steady_clock::now();
  train::fit_full_batch(model, [&] { return model.forward(adj, x); }, opt,
                        {.labels = ds.labels, .train_idx = ds.train_idx, .val_idx = ds.val_idx, .test_idx = ds.test_idx},
                        options);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

GcnFit fit_gcn(const Tensor& adj, const Tensor& x, int64_t num_classes, const train::NodeTask& task,
               const GcnConfig& cfg, uint64_t seed, const std::function<void(const train::EpochRecord&)>& on_epoch) {
  SG_CHECK(adj.defined() && adj.is_sparse() && x.defined() && x.dim() == 2 && x.size(0) == adj.size(0),
           "fit_gcn: expected adj a CSR [N, N] and x [N, F], got ", adj.defined() ? shape_str(adj.shape()) : "undefined",
           " and ", x.defined() ? shape_str(x.shape()) : "undefined");
  SG_CHECK(num_classes >= 2, "fit_gcn: num_classes must be >= 2, got ", num_classes);
  Generator gen(seed);
  Gcn model(x.size(1), cfg.hidden, num_classes, cfg.dropout, cfg.bias, gen);
  nn::Adam opt = make_optimizer(model, cfg);

  // fit_full_batch calls forward twice per epoch, in training and then in eval mode; the eval
  // logits of the best epochs so far are kept, by the rules of select_highest_train_accuracy
  // (higher training accuracy, then lower training loss, then the earlier epoch) and
  // select_best_validation (the same on the validation nodes).
  GcnFit fit;
  Tensor eval_logits;
  double best_train_acc = -1, best_train_loss = 0, best_val_acc = -1, best_val_loss = 0;
  train::FullBatchOptions options{.epochs = cfg.epochs};
  options.on_epoch = [&](const train::EpochRecord& r) {
    if (r.train_accuracy > best_train_acc || (r.train_accuracy == best_train_acc && r.train_loss < best_train_loss)) {
      best_train_acc = r.train_accuracy;
      best_train_loss = r.train_loss;
      fit.logits_at_highest_train_accuracy = eval_logits;
    }
    if (!std::isnan(r.val_accuracy) &&
        (r.val_accuracy > best_val_acc || (r.val_accuracy == best_val_acc && r.val_loss < best_val_loss))) {
      best_val_acc = r.val_accuracy;
      best_val_loss = r.val_loss;
      fit.logits_at_best_validation = eval_logits;
    }
    if (on_epoch) on_epoch(r);
    return true;
  };
  const auto start = std::chrono::steady_clock::now();
  fit.trace = train::fit_full_batch(
      model,
      [&] {
        Tensor logits = model.forward(adj, x);
        if (!model.is_training()) eval_logits = logits;
        return logits;
      },
      opt, task, options);
  fit.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return fit;
}

}  // namespace stackgrad::algo
