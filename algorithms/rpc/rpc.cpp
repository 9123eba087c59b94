#include "algorithms/rpc/rpc.h"

#include <chrono>

#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/random.h"
#include "train/metrics.h"

namespace stackgrad::algo {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Tensor spectral_labels(const Tensor& W, int64_t k, const train::KMeansOptions& kmeans,
                       Generator& gen) {
  const Tensor U = normalize_rows(top_eigenvectors(normalized_affinity(W), k));
  return train::kmeans(U, k, kmeans, gen).labels;
}

RpcRun run_rpc_and_baselines(const UncertainDataset& data, const RpcConfig& config, Generator& gen,
                             const std::function<void(const std::string&)>& on_method) {
  SG_CHECK(config.worlds >= 1, "run_rpc_and_baselines: worlds must be >= 1, got ", config.worlds);
  SG_CHECK(config.representatives >= 1 && config.representatives <= config.worlds,
           "run_rpc_and_baselines: representatives must be in [1, worlds] = [1, ", config.worlds,
           "], got ", config.representatives);
  NoGradGuard no_grad;
  const int64_t k = data.num_classes, m = config.representatives;
  // Each method's k-means draws from its own generator, so adding or removing a method leaves
  // the others' numbers unchanged.
  const uint64_t base = uint64_t(randint(0, int64_t(1) << 40, {1}, gen).item<int64_t>());
  auto method_gen = [&](uint64_t id) { return Generator(base * 16 + id); };

  RpcRun run;
  auto score = [&](const std::string& method, const Tensor& labels, double secs) {
    run.scores.push_back({method, train::clustering_accuracy(labels, data.labels).accuracy,
                          train::nmi(labels, data.labels), secs});
    if (on_method) on_method(method);
  };

  // Baselines on the objects' means.
  auto t0 = std::chrono::steady_clock::now();
  const Tensor means = data.means();
  {
    Generator g = method_gen(0);
    score("uk-means", train::kmeans(means, k, config.kmeans, g).labels, seconds_since(t0));
  }
  t0 = std::chrono::steady_clock::now();
  {
    Generator g = method_gen(1);
    score("spectral-means",
          spectral_labels(self_tuning_affinity(means, config.neighbor), k, config.kmeans, g),
          seconds_since(t0));
  }

  // Candidate worlds, and the affinity of each: summed for all-worlds, kept (normalised) only for
  // the worlds a consensus needs, since M dense N x N matrices would not fit for large N.
  t0 = std::chrono::steady_clock::now();
  const Tensor worlds = sample_worlds(data, config.worlds, gen);
  const double sampling_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const RepresentativeLoss loss(data, worlds, config.representative);
  run.selection = select_representative_worlds(loss, m, config.representative.rule);
  const double selection_seconds = seconds_since(t0);
  std::vector<int64_t> random_subset(static_cast<size_t>(m));
  for (int64_t w = 0; w < m; ++w) random_subset[w] = w;  // the worlds are i.i.d.: the first m
  run.random_subset_loss = loss(random_subset);

  auto contains = [](const std::vector<int64_t>& v, int64_t w) {
    return std::find(v.begin(), v.end(), w) != v.end();
  };
  t0 = std::chrono::steady_clock::now();
  Tensor sum_all, sum_rep;
  std::vector<Tensor> rep_affinities, random_affinities;
  double affinity_seconds = 0;
  for (int64_t w = 0; w < config.worlds; ++w) {
    const auto ta = std::chrono::steady_clock::now();
    const Tensor W = self_tuning_affinity(world_points(data, worlds, w), config.neighbor);
    affinity_seconds += seconds_since(ta);
    sum_all = sum_all.defined() ? sum_all + W : W;
    const bool rep = contains(run.selection.kept, w),
               random = config.ablations && contains(random_subset, w);
    if (rep) {
      sum_rep = sum_rep.defined() ? sum_rep + W : W;
      rep_affinities.push_back(normalized_affinity(W));
    }
    if (random) random_affinities.push_back(normalized_affinity(W));
  }
  const double per_world = affinity_seconds / double(config.worlds);
  {
    Generator g = method_gen(2);
    const auto ts = std::chrono::steady_clock::now();
    const Tensor labels =
        spectral_labels(sum_all * (1.0 / double(config.worlds)), k, config.kmeans, g);
    score("all-worlds", labels,
          sampling_seconds + per_world * double(config.worlds) + seconds_since(ts));
  }
  if (config.ablations) {
    Generator g = method_gen(3);
    const auto ts = std::chrono::steady_clock::now();
    const Tensor labels = spectral_labels(sum_rep * (1.0 / double(m)), k, config.kmeans, g);
    score("rep-average", labels,
          sampling_seconds + selection_seconds + per_world * double(m) + seconds_since(ts));
  }
  if (config.ablations) {
    Generator g = method_gen(4);
    const auto ts = std::chrono::steady_clock::now();
    const ConsensusResult c = consensus_embedding(random_affinities, k, config.consensus);
    const Tensor labels = train::kmeans(normalize_rows(c.embedding), k, config.kmeans, g).labels;
    score("random-consensus", labels, sampling_seconds + per_world * double(m) + seconds_since(ts));
  }
  {
    Generator g = method_gen(5);
    const auto ts = std::chrono::steady_clock::now();
    const ConsensusResult c = consensus_embedding(rep_affinities, k, config.consensus);
    const Tensor labels = train::kmeans(normalize_rows(c.embedding), k, config.kmeans, g).labels;
    run.consensus_disagreement = c.disagreement;
    score("rpc", labels,
          sampling_seconds + selection_seconds + per_world * double(m) + seconds_since(ts));
  }
  return run;
}

}  // namespace stackgrad::algo
