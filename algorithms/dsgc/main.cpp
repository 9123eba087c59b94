// dsgc: dimensionwise separable 2-D graph convolution (Li et al., KDD 2021). Filters the
// features once per dataset along the nodes (G) and the attributes (F, a PPMI attribute graph),
// then (1) trains an MLP on X, X F, G X and G X F, and a GCN, over --repeats random splits at
// each --labels-per-class; (2) reports the within-class variance ratio of each representation;
// (3) clusters G X F' (F' = (I + F)/2) and G X by SVD + k-means, as AGC does.
//   ./build/dsgc --dataset cora --repeats 20 --out dsgc_cora.jsonl
#include <cstdio>
#include <map>
#include <sstream>

#include "algorithms/agc/agc.h"
#include "algorithms/dsgc/attribute_graph.h"
#include "algorithms/dsgc/dsgc.h"
#include "algorithms/dsgc/ssl.h"
#include "datasets/datasets.h"
#include "engine/stackgrad.h"
#include "nn/graph.h"
#include "train/train.h"

using namespace stackgrad;

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  train::Cli cli(
      "dsgc",
      "Dimensionwise separable 2-D graph convolution (Li et al., KDD 2021): MLP on G X F, "
      "within-class variance, SVD + k-means clustering.");
  auto& common = cli.common(
      {.dataset = "cora", .datasets = {"cora", "citeseer", "pubmed", "synthetic"}, .repeats = 20});
  auto& app = cli.app();
  algo::MlpConfig mlp;
  algo::MlpConfig gcn;  // the paper's code gives its GCN the MLP's settings
  algo::AttributeGraphOptions attr;
  algo::ObjectFilterOptions object;
  std::string labels_text = "20,5", models_text = "x,xf,gx,gxf,gcn", affinity = "auto",
              object_filter = "rw";
  int64_t val_size = 500, cluster_runs = 10;
  bool raw_features = false, no_ssl = false, no_cluster = false;
  app.add_option("--labels-per-class", labels_text,
                 "comma-separated labelled nodes per class, one table column each (default 20,5)");
  app.add_option("--val", val_size,
                 "validation nodes per split; the rest of the labelled nodes are the test set "
                 "(default 500)")
      ->check(train::positive());
  app.add_option("--models", models_text,
                 "comma-separated rows: x, xf, gx, gxf (MLP on each), gcn (default all)");
  app.add_option("--epochs", mlp.epochs, "MLP training epochs (default 200)")
      ->check(train::positive());
  app.add_option("--hidden", mlp.hidden, "MLP hidden units (default 64)")->check(train::positive());
  app.add_option("--lr", mlp.lr, "MLP Adam learning rate (default 0.1)")->check(train::positive());
  app.add_option("--dropout", mlp.dropout, "MLP dropout on input and hidden layer (default 0.2)")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--weight-decay", mlp.weight_decay, "MLP L2 on the first layer (default 5e-4)")
      ->check(train::non_negative());
  app.add_option("--gcn-epochs", gcn.epochs, "GCN epochs (default 200)")->check(train::positive());
  app.add_option("--gcn-hidden", gcn.hidden, "GCN hidden units (default 64, as the MLP)")
      ->check(train::positive());
  app.add_option("--gcn-lr", gcn.lr, "GCN Adam learning rate (default 0.1, as the MLP)")
      ->check(train::positive());
  app.add_option("--gcn-dropout", gcn.dropout, "GCN dropout (default 0.2, as the MLP)")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--gcn-weight-decay", gcn.weight_decay, "GCN L2 on the first layer (default 5e-4)")
      ->check(train::non_negative());
  app.add_option("--object-filter", object_filter,
                 "G: rw (P̃^steps, P̃ = D̃^-1 (A + I)) or ar ((I + αL̃)^-1) (default rw)")
      ->check(CLI::IsMember({"rw", "ar"}));
  app.add_option("--rw-steps", object.steps, "random-walk steps of G (default 2)")
      ->check(train::non_negative());
  app.add_option("--ar-alpha", object.ar_alpha, "alpha of the AR filter (default 10)")
      ->check(train::positive());
  app.add_option("--affinity", affinity,
                 "attribute affinity: ppmi, correlation, auto (ppmi for non-negative features) "
                 "(default auto)")
      ->check(CLI::IsMember({"auto", "ppmi", "correlation"}));
  app.add_option("--top-k", attr.top_k,
                 "neighbours kept per attribute, 0 = all above --threshold (default 50)")
      ->check(train::non_negative());
  app.add_option("--threshold", attr.threshold, "keep affinities above this (default 0)");
  app.add_option("--min-cooccurrence", attr.min_cooccurrence,
                 "PPMI: ignore pairs co-occurring on fewer nodes (default 1)")
      ->check(train::positive());
  app.add_flag("--mutual", attr.mutual,
               "keep an attribute edge only when both ends chose it (default: either)");
  app.add_option("--self-loop", attr.self_loop, "weight of the self loops added to A_F (default 1)")
      ->check(train::non_negative());
  app.add_flag("--raw-features", raw_features,
               "do not row-normalise X before filtering (always raw for synthetic)");
  app.add_option("--cluster-runs", cluster_runs,
                 "k-means runs on each clustered representation (default 10)")
      ->check(train::positive());
  app.add_flag("--no-ssl", no_ssl, "skip the semi-supervised tables");
  app.add_flag("--no-cluster", no_cluster, "skip the clustering table");
  cli.parse(argc, argv);
  return cli.run_main([&] {
    // The attribute graph is built on the host; the filters and models would run on a GPU, but
    // this executable has only been run and checked on the CPU.
    SG_CHECK(common.device.is_cpu(), "--device: dsgc runs on the CPU only, got ",
             common.device.str());
    attr.affinity = algo::parse_attribute_affinity(affinity);
    object.kind = algo::parse_object_filter(object_filter);
    std::vector<int64_t> label_counts;
    for (const auto& s : split_list(labels_text)) {
      label_counts.push_back(std::stoll(s));
      SG_CHECK(label_counts.back() > 0, "--labels-per-class: counts must be positive, got '",
               labels_text, "'");
    }
    const std::vector<std::string> models = split_list(models_text);
    for (const auto& m : models)
      SG_CHECK(m == "x" || m == "xf" || m == "gx" || m == "gxf" || m == "gcn",
               "--models: unknown model '", m, "' (expected x, xf, gx, gxf, gcn)");

    data::GraphDataset ds;
    const bool synthetic = common.dataset == "synthetic";
    if (synthetic) {
      Generator g(common.seed + 1000003);
      ds = data::csbm(2000, 4, 64, 0.01, 0.002, 0.3, g);
    } else {
      ds = data::load_planetoid(common.dataset, common.data_dir);
    }
    const Tensor raw = ds.features_or_fail();
    std::printf("%s: %lld nodes, %lld features, %lld classes, %lld edges\n", ds.name.c_str(),
                (long long)ds.num_nodes, (long long)raw.size(1), (long long)ds.num_classes,
                (long long)ds.num_edges());
    train::MetricsWriter metrics(common.out);

    // --- filtering, once per dataset ----------------------------------------------------------
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor x = (raw_features || synthetic) ? raw : data::row_normalize_features(raw);
    // A_F comes from the raw features (PPMI binarises them anyway).
    const Tensor A_F = algo::attribute_graph(raw, attr);
    const Tensor F = algo::attribute_filter(A_F);
    const auto st = algo::attribute_graph_stats(A_F);
    const Tensor xf = algo::filter_attributes(x, F);
    const Tensor gx = algo::filter_objects(ds, x, object);
    const Tensor gxf = algo::filter_objects(ds, xf, object);
    const double filter_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "attribute graph: %lld attributes, %lld edges, mean degree %.1f, %lld isolated; filters "
        "%.2f s\n",
        (long long)st.attributes, (long long)st.edges, st.mean_degree, (long long)st.isolated,
        filter_seconds);
    metrics.write({{"kind", "attribute_graph"},
                   {"dataset", ds.name},
                   {"attributes", st.attributes},
                   {"edges", st.edges},
                   {"mean_degree", st.mean_degree},
                   {"isolated", st.isolated},
                   {"filter_seconds", filter_seconds}});

    // --- within-class variance ratio ----------------------------------------------------------
    const std::map<std::string, Tensor> reps = {{"x", x}, {"xf", xf}, {"gx", gx}, {"gxf", gxf}};
    const std::map<std::string, std::string> names = {
        {"x", "X"}, {"xf", "X F"}, {"gx", "G X"}, {"gxf", "G X F"}, {"gcn", "GCN"}};
    std::printf("\nwithin-class / total variance (all labelled nodes):\n");
    for (const char* key : {"x", "xf", "gx", "gxf"}) {
      const double r = algo::within_class_variance_ratio(reps.at(key), ds.labels);
      std::printf("  %-6s %.4f\n", names.at(key).c_str(), r);
      metrics.write({{"kind", "variance"},
                     {"dataset", ds.name},
                     {"features", names.at(key)},
                     {"within_ratio", r}});
    }

    // --- semi-supervised ----------------------------------------------------------------------
    if (!no_ssl) {
      const Tensor S = nn::gcn_norm(ds.edges, ds.num_nodes);
      const Tensor x_csr = dense_to_csr(x);
      std::map<std::pair<std::string, int64_t>, std::vector<double>> acc;
      for (int64_t per_class : label_counts) {
        train::ProgressLine line(ds.name + " " + std::to_string(per_class) + " labels/class",
                                 common.repeats, "split");
        for (int r = 0; r < common.repeats; ++r) {
          const uint64_t seed = common.seed + uint64_t(r);
          Generator split_gen(seed * 7919 + uint64_t(per_class));
          const data::NodeSplit split =
              data::balanced_split(ds.labels, per_class, {.val = val_size, .test = -1}, split_gen);
          for (const auto& m : models) {
            const algo::SplitResult res =
                m == "gcn"
                    ? algo::train_gcn_baseline(S, x_csr, ds.labels, split, ds.num_classes, gcn,
                                               seed)
                    : algo::train_mlp(reps.at(m), ds.labels, split, ds.num_classes, mlp, seed);
            acc[{m, per_class}].push_back(res.test_accuracy);
            metrics.write({{"kind", "split"},
                           {"dataset", ds.name},
                           {"model", names.at(m)},
                           {"labels_per_class", per_class},
                           {"split", r},
                           {"seed", seed},
                           {"test_accuracy", res.test_accuracy},
                           {"val_accuracy", res.val_accuracy},
                           {"best_epoch", res.best_epoch},
                           {"seconds", res.seconds}});
          }
          line.update(r + 1, {{"last_test_acc", acc[{models.back(), per_class}].back()}});
        }
        line.finish();
      }
      std::printf("\ntest accuracy (%%) at the best validation epoch, mean ± std over %d splits:\n",
                  common.repeats);
      std::printf("  %-8s", "model");
      for (int64_t c : label_counts) std::printf(" | %lld labels/class", (long long)c);
      std::printf("\n");
      for (const auto& m : models) {
        std::printf("  %-8s", names.at(m).c_str());
        for (int64_t c : label_counts) {
          const train::MeanStd s = train::mean_std(acc[{m, c}]);
          std::printf(" | %6.2f ± %5.2f     ", 100 * s.mean, 100 * s.std);
          metrics.write({{"kind", "summary"},
                         {"dataset", ds.name},
                         {"model", names.at(m)},
                         {"labels_per_class", c},
                         {"mean", s.mean},
                         {"std", s.std},
                         {"splits", s.count}});
        }
        std::printf("\n");
      }
      std::fflush(stdout);
    }

    // --- clustering -----------------------------------------------------------------------------
    if (!no_cluster) {
      const Tensor gxf_lazy = algo::filter_objects(
          ds, algo::filter_attributes(x, algo::lazy_attribute_filter(F)), object);
      std::printf("\nclustering (SVD + k-means, %lld runs; %%):\n", (long long)cluster_runs);
      for (const auto& [name, rep] :
           std::vector<std::pair<std::string, Tensor>>{{"G X", gx}, {"G X F'", gxf_lazy}}) {
        const algo::ClusterScores c = algo::cluster_by_svd(rep.to(DType::f64), ds.num_classes,
                                                           ds.labels, cluster_runs, common.seed);
        const auto &a = c.acc_summary, &n = c.nmi_summary, &f = c.f1_summary;
        std::printf("  %-7s ACC %.2f ± %.2f  NMI %.2f ± %.2f  F1 %.2f ± %.2f\n", name.c_str(),
                    100 * a.mean, 100 * a.std, 100 * n.mean, 100 * n.std, 100 * f.mean,
                    100 * f.std);
        metrics.write({{"kind", "cluster"},
                       {"dataset", ds.name},
                       {"features", name},
                       {"acc", a.mean},
                       {"acc_std", a.std},
                       {"nmi", n.mean},
                       {"nmi_std", n.std},
                       {"f1", f.mean},
                       {"f1_std", f.std},
                       {"runs", cluster_runs}});
      }
    }
    return 0;
  });
}
