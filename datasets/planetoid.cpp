#include "datasets/planetoid.h"

#include <algorithm>
#include <cctype>

#include "datasets/data_root.h"
#include "engine/autograd/grad_mode.h"
#include "engine/io/tensor_io.h"
#include "engine/ops/sparse.h"

namespace stackgrad::data {

const Tensor& GraphDataset::features_or_fail() const {
  if (has_features()) return features;
  const std::string where = source.empty() ? std::string("the data folder") : source;
  if (name == "pubmed") {
    fail("GraphDataset: PubMed's node features are not in the data folder (", where,
         " has no features.npy): the 19717 x 500 TF-IDF matrix (ind.pubmed.allx/tx of the "
         "Planetoid release) could not be shipped. Build features.npy (f32 [19717, 500], Kipf's "
         "node order) as scripts/get-data.sh describes and put it in ",
         where, ", or use cora / citeseer / a synthetic graph (csbm).");
  }
  fail("GraphDataset: '", name, "' has no node features (", where,
       " has no features.npy); see scripts/get-data.sh");
}

Tensor GraphDataset::adjacency(bool symmetric) const {
  SG_CHECK(edges.defined(), "GraphDataset::adjacency: '", name, "' has no edges tensor");
  NoGradGuard no_grad;
  Tensor e = edges.contiguous();
  return from_edge_list(e.select(1, 0).contiguous(), e.select(1, 1).contiguous(), num_nodes,
                        Tensor(), symmetric, DType::f32);
}

void validate_graph(const GraphDataset& ds, const std::string& op) {
  const int64_t n = ds.num_nodes;
  SG_CHECK(ds.labels.defined() && ds.labels.dtype() == DType::i64 && ds.labels.dim() == 1 &&
               ds.labels.size(0) == n,
           op, ": labels must be i64 [", n, "], got ",
           ds.labels.defined() ? describe(ds.labels) : std::string("undefined"));
  for (int64_t y : ds.labels.to_vector<int64_t>())
    SG_CHECK(y >= -1 && y < ds.num_classes, op, ": label ", y, " outside [-1, ", ds.num_classes,
             ")");
  if (ds.features.defined())
    SG_CHECK(ds.features.dim() == 2 && ds.features.size(0) == n && is_floating(ds.features.dtype()),
             op, ": features must be floating [", n, ", F], got ", describe(ds.features));
  SG_CHECK(ds.edges.defined() && ds.edges.dtype() == DType::i64 && ds.edges.dim() == 2 &&
               ds.edges.size(1) == 2,
           op, ": edges must be i64 [E, 2], got ",
           ds.edges.defined() ? describe(ds.edges) : std::string("undefined"));
  const std::vector<int64_t> e = ds.edges.contiguous().to_vector<int64_t>();
  for (size_t k = 0; k < e.size(); k += 2)
    SG_CHECK(e[k] >= 0 && e[k + 1] < n && e[k] < e[k + 1], op, ": edge ", k / 2, " is (", e[k],
             ", ", e[k + 1], "); expected 0 <= i < j < ", n);
  const std::pair<const char*, const Tensor*> splits[] = {
      {"train_idx", &ds.train_idx}, {"val_idx", &ds.val_idx}, {"test_idx", &ds.test_idx}};
  for (const auto& [what, idx] : splits) {
    if (!idx->defined()) continue;
    SG_CHECK(idx->dtype() == DType::i64 && idx->dim() == 1, op, ": ", what,
             " must be i64 [K], got ", describe(*idx));
    for (int64_t i : idx->to_vector<int64_t>())
      SG_CHECK(i >= 0 && i < n, op, ": ", what, " holds node ", i, ", outside [0, ", n, ")");
  }
}

GraphDataset load_planetoid(const std::string& name, const std::string& data_dir) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  SG_CHECK(key == "cora" || key == "citeseer" || key == "pubmed",
           "load_planetoid: unknown dataset '", name, "' (expected cora, citeseer or pubmed)");
  const std::string dir = find_dataset(
      {"planetoid/" + key, key},
      {"labels.npy", "edges.npy", "train_idx.npy", "val_idx.npy", "test_idx.npy"}, data_dir);
  GraphDataset ds;
  ds.name = key;
  ds.source = dir;
  ds.labels = load_npy(dir + "/labels.npy");
  ds.edges = load_npy(dir + "/edges.npy");
  ds.train_idx = load_npy(dir + "/train_idx.npy");
  ds.val_idx = load_npy(dir + "/val_idx.npy");
  ds.test_idx = load_npy(dir + "/test_idx.npy");
  if (file_exists(dir + "/features.npy")) ds.features = load_npy(dir + "/features.npy");
  SG_CHECK(ds.labels.dim() == 1, "load_planetoid: ", dir, "/labels.npy: expected [N], got ",
           describe(ds.labels));
  ds.num_nodes = ds.labels.size(0);
  int64_t max_label = -1;
  if (ds.labels.dtype() == DType::i64)
    for (int64_t y : ds.labels.to_vector<int64_t>()) max_label = std::max(max_label, y);
  ds.num_classes = max_label + 1;
  validate_graph(ds, "load_planetoid: " + dir);
  return ds;
}

Tensor row_normalize_features(const Tensor& x) {
  SG_CHECK(x.defined() && x.dim() == 2 && is_floating(x.dtype()) && x.device().is_cpu(),
           "row_normalize_features: expected a floating cpu [N, F] tensor, got ",
           x.defined() ? describe(x) : std::string("undefined"));
  Tensor out = x.contiguous().clone();
  const int64_t n = out.size(0), f = out.size(1);
  SG_DISPATCH_FLOAT(out.dtype(), "row_normalize_features", [&] {
    scalar_t* p = out.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i) {
      scalar_t* row = p + i * f;
      double sum = 0;
      for (int64_t j = 0; j < f; ++j) sum += row[j];
      if (sum == 0) continue;  // an empty row stays zero rather than becoming NaN
      const auto inv = static_cast<scalar_t>(1.0 / sum);
      for (int64_t j = 0; j < f; ++j) row[j] *= inv;
    }
  });
  return out;
}

}  // namespace stackgrad::data
