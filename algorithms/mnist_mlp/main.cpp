// mnist_mlp: a multilayer perceptron on MNIST (784-512-512-10, ReLU, dropout 0.2), Adam with a
// per-step cosine schedule, 12 epochs of batches of 128. Reaches >= 98% test accuracy; see
// README.md for the measured numbers and the same model in PyTorch.
//   ./build/mnist_mlp [--epochs 12] [--checkpoint run.safetensors] [--resume run.safetensors]
#include <cstdio>

#include "algorithms/mnist_mlp/model.h"
#include "datasets/datasets.h"
#include "nn/nn.h"
#include "train/train.h"
#include "train/classifier.h"

using namespace stackgrad;

namespace {

struct Flags {
  int64_t epochs = 12, batch_size = 128, hidden = 512, limit = 0;
  double lr = 1e-3, dropout = 0.2;
  std::string checkpoint, resume;
};


}  // namespace

int main(int argc, char** argv) {
  train::Cli cli("mnist_mlp", "An MLP (784-H-H-10, ReLU, dropout) on MNIST with Adam and a cosine schedule.");
  auto& common = cli.common({.dataset = "mnist", .datasets = {"mnist", "fashion-mnist"}});
  Flags f;
  auto& app = cli.app();
  app.add_option("--epochs", f.epochs, "training epochs (default 12)")->check(train::positive());
  app.add_option("--batch-size", f.batch_size, "mini-batch size (default 128)")->check(train::positive());
  app.add_option("--hidden", f.hidden, "hidden units per layer (default 512)")->check(train::positive());
  app.add_option("--lr", f.lr, "peak learning rate (default 1e-3)")->check(train::positive());
  app.add_option("--dropout", f.dropout, "dropout probability (default 0.2)")->check(CLI::Range(0.0, 0.99));
  app.add_option("--limit", f.limit, "use only the first N training images (0: all)")->check(train::non_negative());
  app.add_option("--checkpoint", f.checkpoint, "write a checkpoint here after every epoch");
  app.add_option("--resume", f.resume, "resume from this checkpoint (same flags as the run that wrote it)");
  cli.parse(argc, argv);
  return cli.run_main([&] {
    SG_CHECK(common.repeats == 1, "--repeats: mnist_mlp trains one model per run; vary --seed instead");
    data::ImageDataset train_set = data::load_mnist_family(common.dataset, data::Split::train, common.data_dir);
    data::ImageDataset test_set = data::load_mnist_family(common.dataset, data::Split::test, common.data_dir);
    const data::PixelStats stats = data::mnist_family_stats(common.dataset);
    data::Normalize normalize({stats.mean}, {stats.stddev});
    Tensor x = normalize(train_set.images), y = train_set.labels;
    if (f.limit > 0 && f.limit < x.size(0)) x = x.narrow(0, 0, f.limit), y = y.narrow(0, 0, f.limit);
    Tensor test_x = normalize(test_set.images);

    Generator gen(common.seed);
    auto model = algo::make_mlp(f.hidden, f.dropout, gen);
    data::DataLoader loader(x, y, {.batch_size = f.batch_size, .shuffle = true, .seed = common.seed});
    nn::Adam opt(model->parameters(), {.lr = f.lr});
    nn::CosineAnnealingLR sched(opt, f.epochs * loader.size());
    train::MetricsWriter metrics(common.out);
    train::ClassifierRun run{.model = model, .optimizer = &opt, .scheduler = &sched, .loader = &loader,
                             .test_x = test_x, .test_y = test_set.labels, .epochs = f.epochs,
                             .checkpoint_path = f.checkpoint, .metrics = &metrics, .label = "mnist_mlp"};
    if (!f.resume.empty()) {
      train::resume_classifier(run, f.resume);
      std::printf("resumed from %s at epoch %lld\n", f.resume.c_str(), static_cast<long long>(run.start_epoch + 1));
    }
    std::printf("%s: %lld training / %lld test images, MLP 784-%lld-%lld-10 (%lld parameters), Adam lr %g, "
                "%lld epochs of %lld batches\n",
                common.dataset.c_str(), static_cast<long long>(x.size(0)), static_cast<long long>(test_x.size(0)),
                static_cast<long long>(f.hidden), static_cast<long long>(f.hidden),
                static_cast<long long>(model->num_parameters()), f.lr, static_cast<long long>(f.epochs),
                static_cast<long long>(loader.size()));
    run.on_epoch = train::print_epoch;
    train::FitResult r = train::fit_classifier(run);
    std::printf("test accuracy %.4f after %lld epochs (%.1f s for the %lld run here)\n", r.last.test_accuracy,
                static_cast<long long>(f.epochs), r.seconds, static_cast<long long>(r.epochs_run));
    return 0;
  });
}
