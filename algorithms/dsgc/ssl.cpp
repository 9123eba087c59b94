#include "algorithms/dsgc/ssl.h"

#include <chrono>
#include <limits>
#include <map>
#include <memory>

#include "engine/stackgrad.h"
#include "nn/dropout.h"
#include "nn/graph.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/optim/adam.h"
#include "train/full_batch.h"
#include "train/metrics.h"

namespace stackgrad::algo {

namespace {

class Mlp : public nn::Module {
 public:
  Mlp(int64_t in, int64_t hidden, int64_t classes, double dropout, Generator& gen) : Module("Mlp") {
    drop_in = register_module("drop_in", std::make_shared<nn::Dropout>(dropout, gen));
    fc1 =
        register_module("fc1", std::make_shared<nn::Linear>(in, hidden, nn::LinearOptions{}, gen));
    drop_hidden = register_module("drop_hidden", std::make_shared<nn::Dropout>(dropout, gen));
    fc2 = register_module("fc2",
                          std::make_shared<nn::Linear>(hidden, classes, nn::LinearOptions{}, gen));
  }
  Tensor forward(const Tensor& x) override {
    return (*fc2)((*drop_hidden)(relu((*fc1)((*drop_in)(x)))));
  }
  std::shared_ptr<nn::Dropout> drop_in, drop_hidden;
  std::shared_ptr<nn::Linear> fc1, fc2;
};

// GCN whose first layer takes CSR features: S̃ (dropout(X) W0), then ReLU, dropout and GCNConv.
class SparseInputGcn : public nn::Module {
 public:
  SparseInputGcn(int64_t in, int64_t hidden, int64_t classes, double dropout, Generator& gen)
      : Module("SparseInputGcn") {
    Tensor w = empty({in, hidden});
    nn::xavier_uniform_(w, gen);
    register_parameter("w0", w0, w);
    drop_values = register_module("drop_values", std::make_shared<nn::Dropout>(dropout, gen));
    drop_hidden = register_module("drop_hidden", std::make_shared<nn::Dropout>(dropout, gen));
    conv2 = register_module(
        "conv2", std::make_shared<nn::GCNConv>(hidden, classes, nn::GCNConvOptions{}, gen));
  }
  Tensor forward(const Tensor& S, const Tensor& x_csr) {
    // Dropout of a sparse matrix drops stored entries (Kipf's sparse_dropout); zeros stay zeros.
    const Tensor x = csr_with_values(x_csr, (*drop_values)(csr_values(x_csr)));
    const Tensor h = relu(spmm(S, spmm(x, w0)));
    return conv2->forward(S, (*drop_hidden)(h));
  }
  Tensor w0;
  std::shared_ptr<nn::Dropout> drop_values, drop_hidden;
  std::shared_ptr<nn::GCNConv> conv2;
};

// Prefix-best of select_best_validation's order (higher validation accuracy, then lower
// validation loss, then earlier): the epoch that rule finally picks is one where this fires.
struct BestValidation {
  double acc = -1, loss = std::numeric_limits<double>::infinity();
  bool improves(const train::EpochRecord& r) {
    if (r.val_accuracy > acc || (r.val_accuracy == acc && r.val_loss < loss)) {
      acc = r.val_accuracy;
      loss = r.val_loss;
      return true;
    }
    return false;
  }
};

void check_split(const data::NodeSplit& split, const char* op) {
  SG_CHECK(split.train_idx.defined() && split.train_idx.numel() > 0, op, ": no training nodes");
  SG_CHECK(split.val_idx.defined() && split.val_idx.numel() > 0, op, ": no validation nodes");
  SG_CHECK(split.test_idx.defined() && split.test_idx.numel() > 0, op, ": no test nodes");
}

}  // namespace

SplitResult train_mlp(const Tensor& features, const Tensor& labels, const data::NodeSplit& split,
                      int64_t num_classes, const MlpConfig& cfg, uint64_t seed) {
  check_split(split, "train_mlp");
  SG_CHECK(features.defined() && !features.is_sparse() && features.dim() == 2 &&
               features.size(0) == labels.size(0),
           "train_mlp: expected dense features [", labels.size(0), ", d]");
  const auto start = std::chrono::steady_clock::now();
  const Tensor x = features.dtype() == DType::f32 ? features : features.to(DType::f32);
  // The loop sees train rows then validation rows; test rows are scored on the side.
  const int64_t L = split.train_idx.numel(), V = split.val_idx.numel();
  const Tensor fit_idx = cat({split.train_idx, split.val_idx});
  const Tensor x_fit = index_select(x, 0, fit_idx), x_test = index_select(x, 0, split.test_idx);
  const Tensor y_test = index_select(labels, 0, split.test_idx);

  Generator gen(seed);
  Mlp model(x.size(1), cfg.hidden, num_classes, cfg.dropout, gen);
  std::vector<Tensor> rest;
  for (auto& [name, p] : model.named_parameters())
    if (name != "fc1.weight") rest.push_back(p);
  nn::Adam opt(
      {{.params = {model.fc1->weight}, .options = {.lr = cfg.lr, .weight_decay = cfg.weight_decay}},
       {.params = rest, .options = {.lr = cfg.lr}}});

  BestValidation best;
  std::map<int64_t, double> test_at;  // epoch -> test accuracy, for the prefix-best epochs
  train::FullBatchOptions options{.epochs = cfg.epochs};
  options.on_epoch = [&](const train::EpochRecord& r) {
    if (best.improves(r)) {
      NoGradGuard no_grad;  // the model is in eval mode here
      test_at[r.epoch] = train::accuracy(model.forward(x_test), y_test);
    }
    return true;
  };
  // In training mode the loss reads only the first L rows, so the step's forward runs those alone
  // (and draws dropout masks for them alone); the validation rows get zero logits that nothing
  // reads. The evaluation forward, in eval mode, scores every row. The same training for ~half the
  // work (only the dropout masks come from a shorter random stream).
  const Tensor x_train = x_fit.narrow(0, 0, L).contiguous();
  const Tensor val_pad = zeros({V, num_classes});
  const auto forward = [&] {
    return model.is_training() ? cat({model.forward(x_train), val_pad}) : model.forward(x_fit);
  };
  const auto trace = train::fit_full_batch(model, forward, opt,
                                           {.labels = index_select(labels, 0, fit_idx),
                                            .train_idx = arange(L),
                                            .val_idx = arange(L, L + V)},
                                           options);
  const train::EpochRecord chosen = train::select_best_validation(trace);
  SplitResult res;
  res.best_epoch = chosen.epoch;
  res.val_accuracy = chosen.val_accuracy;
  res.test_accuracy = test_at.at(chosen.epoch);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

SplitResult train_gcn_baseline(const Tensor& S, const Tensor& features_csr, const Tensor& labels,
                               const data::NodeSplit& split, int64_t num_classes,
                               const MlpConfig& cfg, uint64_t seed) {
  check_split(split, "train_gcn_baseline");
  SG_CHECK(
      features_csr.defined() && features_csr.is_sparse() && features_csr.size(0) == labels.size(0),
      "train_gcn_baseline: expected CSR features [", labels.size(0), ", d]");
  const auto start = std::chrono::steady_clock::now();
  Generator gen(seed);
  SparseInputGcn model(features_csr.size(1), cfg.hidden, num_classes, cfg.dropout, gen);
  std::vector<Tensor> rest;
  for (auto& [name, p] : model.named_parameters())
    if (name != "w0") rest.push_back(p);
  nn::Adam opt({{.params = {model.w0}, .options = {.lr = cfg.lr, .weight_decay = cfg.weight_decay}},
                {.params = rest, .options = {.lr = cfg.lr}}});
  const auto trace =
      train::fit_full_batch(model, [&] { return model.forward(S, features_csr); }, opt,
                            {.labels = labels,
                             .train_idx = split.train_idx,
                             .val_idx = split.val_idx,
                             .test_idx = split.test_idx},
                            {.epochs = cfg.epochs});
  const train::EpochRecord chosen = train::select_best_validation(trace);
  SplitResult res;
  res.best_epoch = chosen.epoch;
  res.val_accuracy = chosen.val_accuracy;
  res.test_accuracy = chosen.test_accuracy;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

}  // namespace stackgrad::algo
