// Synthetic datasets, every one a function of its arguments and the Generator's seed: a
// contextual stochastic block model for graph learning, Gaussian blobs and spirals for
// classification and clustering. They let every algorithm run with no files at all.
//
//   Generator gen(0);
//   data::GraphDataset g = data::csbm(2000, 4, 64, 0.01, 0.002, 1.5, gen);
//   data::TableDataset t = data::two_spirals(400, 0.1, gen);
#pragma once

#include <cstdint>

#include "datasets/csv.h"
#include "datasets/planetoid.h"
#include "engine/runtime/generator.h"

namespace stackgrad::data {

// Contextual stochastic block model. n nodes in `classes` balanced classes (sizes differ by at
// most one, assigned in random order); each pair of nodes is joined with probability p_in when
// their classes agree and p_out otherwise (sampled exactly, by geometric skips, so sparse graphs
// of 10^5 nodes are cheap). Features f32 [n, features] = mu * centroid[class] + noise, with
// random unit-norm centroids and N(0, 1/features) noise (noise rows have norm about 1, so mu is
// the signal-to-noise ratio). The expected fraction of intra-class edges (homophily) is
// p_in / (p_in + (classes - 1) p_out). The split is filled by balanced_split: 20 training nodes
// per class (fewer for tiny classes), then up to 500 validation and 1000 test nodes.
GraphDataset csbm(int64_t n, int64_t classes, int64_t features, double p_in, double p_out,
                  double mu, Generator& gen = default_generator());

// Isotropic Gaussian blobs (as sklearn's make_blobs): `centers` centres uniform in
// [-10, 10]^dim, n points split evenly between them (the first n % centers get one more),
// N(0, std^2) around their centre, rows in random order. f64 features.
TableDataset blobs(int64_t n, int64_t centers, int64_t dim, double std,
                   Generator& gen = default_generator());

// k interleaved spiral arms in 2-D, n points in total (balanced), each point's class its arm;
// radius grows from 0 to 1 over one and a half turns, with N(0, noise^2) added per coordinate.
TableDataset spirals(int64_t k, int64_t n, double noise, Generator& gen = default_generator());
// The classic two-spirals problem: spirals(2, n, noise).
TableDataset two_spirals(int64_t n, double noise, Generator& gen = default_generator());

// Fraction of edges whose endpoints share a label (edges with an unlabelled end are ignored).
double edge_homophily(const GraphDataset& ds);

}  // namespace stackgrad::data
