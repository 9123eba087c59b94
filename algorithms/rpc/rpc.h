// RPC — clustering uncertain data via representative possible worlds with consistency learning
// (Liu, Zhang, Zhang, Li and Wu, Computer Communications 2021), and the baselines it is
// measured against, all on one uncertain data set:
//
//   uk-means          k-means with the expected squared distance E‖x − c‖² (= k-means on the
//                     objects' means plus a constant per object, so the same partition)
//   spectral-means    spectral clustering of the objects' means (self-tuning affinity)
//   all-worlds        spectral clustering of the average affinity of all M candidate worlds
//   rep-average       the same over the m representative worlds only (ablation: selection alone)
//   random-consensus  consistency learning on m worlds chosen at random (ablation: no selection)
//   rpc               consistency learning on the m representative worlds (the method)
//
//   algo::RpcConfig cfg;  // 40 candidate worlds, 10 representative, λ = 1
//   algo::RpcRun run = algo::run_rpc_and_baselines(uncertain, cfg, gen);
//   for (auto& s : run.scores) std::printf("%s %.3f\n", s.method.c_str(), s.acc);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "algorithms/rpc/consensus.h"
#include "algorithms/rpc/uncertain.h"
#include "algorithms/rpc/worlds.h"
#include "train/cluster.h"

namespace stackgrad::algo {

struct RpcConfig {
  int64_t worlds = 40;           // M candidate possible worlds
  int64_t representatives = 10;  // m worlds kept by the selection
  int64_t neighbor = 7;          // K of the self-tuning bandwidth
  RepresentativeOptions representative = {};
  ConsensusOptions consensus = {};
  train::KMeansOptions kmeans = {};
  bool ablations = true;  // also run rep-average and random-consensus
};

struct MethodScore {
  std::string method;
  double acc = 0, nmi = 0;
  double seconds = 0;  // the method's own time (world sampling and selection counted in rpc)
};

struct RpcRun {
  std::vector<MethodScore> scores;
  WorldSelection selection;       // which worlds rpc used and the loss trace
  double random_subset_loss = 0;  // L of the m worlds random-consensus used, for comparison
  std::vector<double> consensus_disagreement;  // rpc's, per alternation
};

// The six methods (four without ablations) in the order listed above. `on_method` (optional)
// is called after each with its name, for progress reporting.
RpcRun run_rpc_and_baselines(const UncertainDataset& data, const RpcConfig& config, Generator& gen,
                             const std::function<void(const std::string&)>& on_method = {});

// Spectral clustering of one symmetric affinity W (normalised inside): top-k eigenvectors,
// rows normalised, k-means. i64 labels [N].
Tensor spectral_labels(const Tensor& W, int64_t k, const train::KMeansOptions& kmeans,
                       Generator& gen);

}  // namespace stackgrad::algo
