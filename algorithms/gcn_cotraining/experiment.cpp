#include "algorithms/gcn_cotraining/experiment.h"

#include <chrono>
#include <cmath>

#include "engine/stackgrad.h"
#include "nn/linear.h"
#include "nn/optim/adam.h"
#include "train/metrics.h"

namespace stackgrad::algo {

CotrainingGraph prepare_graph(const data::GraphDataset& ds, bool row_normalize) {
  data::validate_graph(ds, "prepare_graph");
  CotrainingGraph g;
  const Tensor& raw = ds.features_or_fail();
  Tensor x = row_normalize ? data::row_normalize_features(raw) : raw;
  Tensor sparse = dense_to_csr(x);
  // Bag-of-words rows are about 1% non-zero: the sparse first layer is then much cheaper.
  g.features = double(nnz(sparse)) < 0.1 * double(x.numel()) ? sparse : x;
  g.adj = nn::gcn_norm(ds.edges, ds.num_nodes);
  g.labels = ds.labels;
  g.num_nodes = ds.num_nodes;
  g.num_edges = ds.num_edges();
  g.num_classes = ds.num_classes;
  return g;
}

const char* method_name(Method m) {
  switch (m) {
    case Method::lp:
      return "LP";
    case Method::gcn_with_validation:
      return "GCN+V";
    case Method::gcn_without_validation:
      return "GCN-V";
    case Method::cotraining:
      return "Co-training";
    case Method::self_training:
      return "Self-training";
    case Method::union_:
      return "Union";
    case Method::intersection:
      return "Intersection";
  }
  return "?";
}

SplitOutcome run_split(const CotrainingGraph& g, const ParWalks& walks,
                       const data::NodeSplit& split, const CotrainingConfig& cfg, uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  SG_CHECK(split.train_idx.defined() && split.train_idx.numel() > 0,
           "run_split: no training nodes");
  SplitOutcome out;
  const Tensor train_labels = index_select(g.labels, 0, split.train_idx);
  // Everything but the training nodes is tested (GCN+V excepted: its validation nodes are not).
  const Tensor unlabelled = cat({split.val_idx, split.test_idx});
  out.budget = label_budget(g.num_nodes, g.num_edges, count_per_class(train_labels, g.num_classes),
                            cfg.budget_factor);

  // LP: the labelled node that absorbs a walk with the highest probability names its class.
  const Tensor P = walks.columns(split.train_idx);
  out.cg_iterations = walks.last_iterations();
  out.accuracy[0] = train::accuracy(parwalks_predict(P, train_labels), g.labels, unlabelled);

  // One GCN on the true labels gives both GCN+V (the best validation epoch, tested on the nodes
  // outside training and validation) and GCN-V (the epoch of highest training accuracy, tested
  // on every unlabelled node). Test sets are scored from the kept logits of the chosen epochs,
  // so the runs skip a per-epoch test evaluation.
  const train::NodeTask with_val{
      .labels = g.labels, .train_idx = split.train_idx, .val_idx = split.val_idx};
  const GcnFit first = fit_gcn(g.adj, g.features, g.num_classes, with_val, cfg.gcn, seed);
  out.accuracy[1] = split.val_idx.numel() > 0
                        ? train::accuracy(first.logits_at_best_validation, g.labels, split.test_idx)
                        : std::nan("");
  out.accuracy[2] = train::accuracy(first.logits_at_highest_train_accuracy, g.labels, unlabelled);

  // The four label-set expansions, each followed by a fresh GCN without validation.
  const ClassSets co = select_top_scores(parwalks_class_scores(P, train_labels, g.num_classes),
                                         split.train_idx, out.budget.per_class);
  const ClassSets self = select_most_confident(softmax(first.logits_at_highest_train_accuracy, 1),
                                               split.train_idx, out.budget.per_class);
  const std::array<ClassSets, 4> expansions = {co, self, union_sets(co, self),
                                               intersection_sets(co, self)};
  const train::NodeTask base{.labels = g.labels, .train_idx = split.train_idx};
  for (size_t i = 0; i < expansions.size(); ++i) {
    out.added[i] = added_stats(expansions[i], g.labels);
    const GcnFit fit = fit_gcn(g.adj, g.features, g.num_classes, expanded_task(base, expansions[i]),
                               cfg.gcn, seed + 1 + i);
    out.accuracy[3 + i] =
        train::accuracy(fit.logits_at_highest_train_accuracy, g.labels, unlabelled);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

// --- over-smoothing ------------------------------------------------------------------------------

namespace {

class DeepGcn : public nn::Module {
 public:
  DeepGcn(int64_t in, int64_t hidden, int64_t classes, int64_t layers, double dropout,
          Generator& gen)
      : Module("DeepGcn"), p_(dropout), gen_(gen.seed() + 7919) {
    for (int64_t l = 0; l < layers; ++l) {
      const int64_t a = l == 0 ? in : hidden, b = l == layers - 1 ? classes : hidden;
      convs_.push_back(register_module(
          "conv" + std::to_string(l),
          std::make_shared<nn::GCNConv>(a, b, nn::GCNConvOptions{.bias = false}, gen)));
    }
  }
  Tensor forward(const Tensor& adj, const Tensor& x) {
    Tensor h;
    if (x.is_sparse()) {
      Tensor dropped = csr_with_values(x, dropout(csr_values(x), p_, is_training(), gen_));
      h = spmm(adj, spmm(dropped, convs_[0]->weight));
    } else {
      h = convs_[0]->forward(adj, dropout(x, p_, is_training(), gen_));
    }
    for (size_t l = 1; l < convs_.size(); ++l)
      h = convs_[l]->forward(adj, dropout(relu(h), p_, is_training(), gen_));
    return h;
  }

 private:
  std::vector<std::shared_ptr<nn::GCNConv>> convs_;
  double p_;
  Generator gen_;
};

class LogReg : public nn::Module {
 public:
  LogReg(int64_t in, int64_t classes, Generator& gen) : Module("LogReg") {
    fc = register_module("fc", std::make_shared<nn::Linear>(in, classes, nn::LinearOptions{}, gen));
  }
  std::shared_ptr<nn::Linear> fc;
};

}  // namespace

double deep_gcn_accuracy(const CotrainingGraph& g, const data::NodeSplit& split, int64_t layers,
                         const GcnConfig& cfg, uint64_t seed) {
  SG_CHECK(layers >= 1, "deep_gcn_accuracy: layers must be >= 1, got ", layers);
  Generator gen(seed);
  DeepGcn model(g.features.size(1), cfg.hidden, g.num_classes, layers, cfg.dropout, gen);
  nn::Adam opt(model.parameters(), {.lr = cfg.lr, .weight_decay = cfg.weight_decay});
  const train::NodeTask task{.labels = g.labels,
                             .train_idx = split.train_idx,
                             .val_idx = split.val_idx,
                             .test_idx = split.test_idx};
  auto trace = train::fit_full_batch(model, [&] { return model.forward(g.adj, g.features); }, opt,
                                     task, {.epochs = cfg.epochs});
  return train::select_best_validation(trace).test_accuracy;
}

double smoothed_logreg_accuracy(const Tensor& smoothed, const Tensor& labels, int64_t num_classes,
                                const data::NodeSplit& split, const GcnConfig& cfg, uint64_t seed) {
  Generator gen(seed);
  LogReg model(smoothed.size(1), num_classes, gen);
  nn::Adam opt(
      {{.params = {model.fc->weight}, .options = {.lr = cfg.lr, .weight_decay = cfg.weight_decay}},
       {.params = {model.fc->bias}, .options = {.lr = cfg.lr}}});
  const train::NodeTask task{.labels = labels,
                             .train_idx = split.train_idx,
                             .val_idx = split.val_idx,
                             .test_idx = split.test_idx};
  auto trace = train::fit_full_batch(model, [&] { return (*model.fc)(smoothed); }, opt, task,
                                     {.epochs = cfg.epochs});
  return train::select_best_validation(trace).test_accuracy;
}

}  // namespace stackgrad::algo
