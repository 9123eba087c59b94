#include "algorithms/graph_filtering_ssl/experiment.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "engine/stackgrad.h"
#include "nn/graph.h"
#include "train/metrics.h"

namespace stackgrad::algo {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

}  // namespace

const std::vector<Method>& all_methods() {
  static const std::vector<Method> methods = {Method::lp,      Method::mlp,    Method::gcn,
                                              Method::glp_rnm, Method::glp_ar, Method::igcn_rnm,
                                              Method::igcn_ar};
  return methods;
}

std::string method_name(Method m) {
  switch (m) {
    case Method::lp:
      return "LP";
    case Method::mlp:
      return "MLP";
    case Method::gcn:
      return "GCN";
    case Method::glp_rnm:
      return "GLP-RNM";
    case Method::glp_ar:
      return "GLP-AR";
    case Method::igcn_rnm:
      return "IGCN-RNM";
    case Method::igcn_ar:
      return "IGCN-AR";
    case Method::gcn_kipf:
      return "GCN-Kipf";
  }
  return "?";
}

Method parse_method(const std::string& name) {
  for (Method m : all_methods())
    if (lower(method_name(m)) == lower(name)) return m;
  if (lower(name) == "gcn-kipf") return Method::gcn_kipf;
  SG_CHECK(false, "unknown method '", name,
           "' (expected lp, mlp, gcn, glp-rnm, glp-ar, igcn-rnm, igcn-ar or gcn-kipf)");
  return Method::lp;
}

bool needs_features(Method m) { return m != Method::lp; }

std::optional<Strengths> paper_strengths(int64_t labels_per_class) {
  if (labels_per_class == 20)
    return Strengths{.glp_rnm_k = 5, .glp_ar_alpha = 10, .igcn_rnm_k = 2, .igcn_ar_alpha = 5};
  if (labels_per_class == 4)
    return Strengths{.glp_rnm_k = 10, .glp_ar_alpha = 20, .igcn_rnm_k = 5, .igcn_ar_alpha = 10};
  return std::nullopt;
}

Prepared prepare(const data::GraphDataset& ds, bool row_normalize) {
  Prepared p;
  p.ds = ds;
  p.S = nn::gcn_norm(ds.edges, ds.num_nodes);
  if (ds.has_features()) {
    p.x = row_normalize ? data::row_normalize_features(ds.features) : ds.features;
    const Tensor csr = dense_to_csr(p.x);
    p.x_igcn = nnz(csr) < p.x.numel() / 10 ? csr : p.x;
    p.row_normalized = row_normalize;
  }
  return p;
}

MethodRun run_method(Method method, const Prepared& p, const data::NodeSplit& split,
                     const Setting& setting, const NetConfig& cfg, uint64_t seed,
                     FilterCache& cache, const EpochCallback& on_epoch) {
  if (needs_features(method))
    p.ds.features_or_fail();  // the loader's explanation when they are missing
  const Tensor& labels = p.ds.labels;
  const int64_t classes = p.ds.num_classes;
  const Strengths& st = setting.strengths;
  auto ar = [&](double alpha) { return Filter::ar(alpha, setting.ar_solver); };
  MethodRun out;

  // GLP: filter once (cached across splits), then the MLP on the labelled rows.
  auto glp = [&](const Filter& f) {
    const std::string key = f.describe();
    auto it = cache.find(key);
    if (it == cache.end()) {
      NoGradGuard no_grad;
      const auto start = std::chrono::steady_clock::now();
      Tensor xf = apply_filter(p.S, p.x, f).contiguous();
      it = cache.emplace(key, FilteredFeatures{xf, seconds_since(start)}).first;
    }
    SelectedRun r = train_glp(it->second.x, labels, split, classes, cfg, seed, on_epoch);
    out.filter_seconds = it->second.seconds;
    out.seconds = it->second.seconds + r.seconds;
    out.test_accuracy = r.test_accuracy;
    out.epoch = r.epoch;
    out.filter = key;
  };
  auto igcn = [&](const Filter& f) {
    SelectedRun r = train_igcn(p.S, p.x_igcn, labels, split, classes, f, cfg, seed, on_epoch);
    out.seconds = r.seconds;
    out.test_accuracy = r.test_accuracy;
    out.epoch = r.epoch;
    out.filter = f.describe() + " per layer";
  };

  switch (method) {
    case Method::lp: {
      const Filter f = ar(setting.lp_alpha);
      const auto start = std::chrono::steady_clock::now();
      Tensor pred = label_propagation(p.S, split.train_idx, labels, classes, f);
      out.seconds = out.filter_seconds = seconds_since(start);
      out.test_accuracy = train::accuracy(index_select(pred, 0, split.test_idx),
                                          index_select(labels, 0, split.test_idx));
      out.filter = f.describe();
      break;
    }
    case Method::mlp: {
      SelectedRun r = train_glp(p.x, labels, split, classes, cfg, seed, on_epoch);
      out.seconds = r.seconds;
      out.test_accuracy = r.test_accuracy;
      out.epoch = r.epoch;
      out.filter = "none";
      break;
    }
    case Method::gcn:
      igcn(Filter::rnm(1));
      break;
    case Method::gcn_kipf: {
      GcnConfig g;
      g.hidden = cfg.hidden;
      g.dropout = cfg.dropout;
      g.lr = cfg.lr;
      g.weight_decay = cfg.weight_decay;
      g.epochs = cfg.epochs;
      g.row_normalize = p.row_normalized;
      SelectedRun r = train_gcn_lowest_loss(p.ds, split, g, cfg.check_every,
                                            cfg.check_last_fraction, seed, on_epoch);
      out.seconds = r.seconds;
      out.test_accuracy = r.test_accuracy;
      out.epoch = r.epoch;
      out.filter = "S per layer (Kipf's GCN, train_gcn)";
      break;
    }
    case Method::glp_rnm:
      glp(Filter::rnm(st.glp_rnm_k));
      break;
    case Method::glp_ar:
      glp(ar(st.glp_ar_alpha));
      break;
    case Method::igcn_rnm:
      igcn(Filter::rnm(st.igcn_rnm_k));
      break;
    case Method::igcn_ar:
      igcn(ar(st.igcn_ar_alpha));
      break;
  }
  return out;
}

}  // namespace stackgrad::algo
