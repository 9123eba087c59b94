// Possible worlds of uncertain data and the choice of representative ones.
//
// A possible world takes one sample of every object; candidate worlds are drawn uniformly
// (each object's sample index independently). A set R of worlds is representative when the
// distribution it induces on every object is close to the object's own distribution:
//
//   q_i^R(t) ∝ Σ_{w ∈ R} K_i(x_it, x_{i,c_w(i)}),   K_i(x, y) = exp(−‖x − y‖² / (2 h_i²)),
//   p_i(t) = 1/S,                                   h_i² = γ · tr Σ̂_i,
//   L(R) = (1/N) Σ_i JS(p_i ‖ q_i^R),
//
// both distributions taken on the object's S samples x_i1..x_iS (p_i is the object's empirical
// distribution, q_i^R the kernel density of the points the worlds put there, evaluated at the
// samples and normalised). Two selection rules drop worlds until `keep` remain:
//
//   marginal  (default) each world on its own: drop the worlds with the largest L({w}), those
//             whose points sit in low-density parts of their objects' distributions;
//   coverage  backward elimination on the set: repeatedly drop the world whose removal raises
//             L(R) the least. This keeps a set that reproduces each object's spread, so it keeps
//             tail worlds when the tails are under-covered.
//
//   Tensor worlds = algo::sample_worlds(u, 40, gen);                  // i64 [40, N]
//   auto sel = algo::select_representative_worlds(u, worlds, 10);      // sel.kept: 10 indices
//   Tensor X = algo::world_points(u, worlds, sel.kept[0]);            // f64 [N, D]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "algorithms/rpc/uncertain.h"

namespace stackgrad::algo {

// `count` worlds: i64 [count, N], entry (w, i) the sample of object i that world w takes.
Tensor sample_worlds(const UncertainDataset& data, int64_t count, Generator& gen);

// The points of world w: f64 [N, D], row i = samples[i, worlds[w, i]].
Tensor world_points(const UncertainDataset& data, const Tensor& worlds, int64_t w);

enum class SelectionRule { marginal, coverage };
SelectionRule parse_selection_rule(const std::string& name);  // "marginal" or "coverage"

struct RepresentativeOptions {
  double bandwidth = 1.0;  // γ in h_i² = γ tr Σ̂_i
  SelectionRule rule = SelectionRule::marginal;
};

// The kernel weights of every object's samples, shared by all the losses of one data set:
// gram[i][s][t] = K_i(x_is, x_it). Objects with tr Σ̂_i = 0 (all samples equal) get K = 1.
class RepresentativeLoss {
 public:
  RepresentativeLoss(const UncertainDataset& data, const Tensor& worlds,
                     const RepresentativeOptions& options = {});
  // L(R) for the worlds whose indices are in `subset` (non-empty).
  double operator()(const std::vector<int64_t>& subset) const;
  // Per-object JS(p_i ‖ q_i^R), f64 [N].
  std::vector<double> per_object(const std::vector<int64_t>& subset) const;

  int64_t num_worlds() const { return M_; }
  int64_t num_objects() const { return N_; }
  int64_t num_samples() const { return S_; }
  // K_i(x_is, x_it).
  double kernel(int64_t i, int64_t s, int64_t t) const { return gram_[(i * S_ + s) * S_ + t]; }
  // The sample world w puts on object i.
  int64_t choice(int64_t w, int64_t i) const { return choice_[w * N_ + i]; }

 private:
  int64_t M_ = 0, N_ = 0, S_ = 0;
  std::vector<double> gram_;     // [N, S, S]
  std::vector<int64_t> choice_;  // [M, N]
};

struct WorldSelection {
  std::vector<int64_t> kept;       // ascending world indices, `keep` of them
  std::vector<int64_t> dropped;    // in the order they were dropped (most marginal first)
  std::vector<double> loss;        // L(R) after each drop: loss[0] = L(all), then one per drop
  std::vector<double> world_loss;  // L({w}) of every candidate (the marginal rule's scores)
  double loss_of_kept() const { return loss.back(); }
};

// Drops worlds down to `keep` (1 <= keep <= M) by the rule; ties go to the lower index.
WorldSelection select_representative_worlds(const RepresentativeLoss& loss, int64_t keep,
                                            SelectionRule rule = SelectionRule::marginal);
WorldSelection select_representative_worlds(const UncertainDataset& data, const Tensor& worlds,
                                            int64_t keep,
                                            const RepresentativeOptions& options = {});

}  // namespace stackgrad::algo
