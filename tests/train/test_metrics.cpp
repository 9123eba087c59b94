// Metrics against values worked out by hand (the derivation is in each comment) and values from
// the scikit-learn documentation examples.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "engine/stackgrad.h"
#include "tests/support/error_of.h"
#include "train/metrics.h"

namespace {

using namespace stackgrad;
using namespace stackgrad::train;
using stackgrad::testing::error_of;
using ::testing::HasSubstr;

Tensor labels(const std::vector<int64_t>& v) { return from_vector(v); }

TEST(Accuracy, FromLabelsLogitsAndSubsets) {
  const Tensor target = labels({0, 1, 2, 1, 0});
  EXPECT_DOUBLE_EQ(accuracy(labels({0, 1, 1, 1, 2}), target), 3.0 / 5.0);
  // argmax of each row: 1, 1, 2, 0, 0 (the first index wins the tie in the last row).
  const Tensor logits = from_vector<float>({0, 3, 1, 2, 5, 1, 0, 0, 4, 7, 1, 1, 2, 2, 0}, {5, 3});
  EXPECT_DOUBLE_EQ(accuracy(logits, target), 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(accuracy(logits, target, labels({0, 2, 4})), 2.0 / 3.0);
  const Tensor mask = from_vector<int64_t>({1, 1, 0, 0, 0}).to(DType::boolean);
  EXPECT_DOUBLE_EQ(accuracy(logits, target, mask), 0.5);
  EXPECT_TRUE(std::isnan(accuracy(labels({}), labels({}))));
  EXPECT_THAT(error_of([&] {
                accuracy(labels({0, 1}), target);
              }),
              HasSubstr("accuracy: pred has 2 labels, target has 5"));
  EXPECT_THAT(error_of([&] {
                accuracy(labels({0, -1, 0, 0, 0}), target);
              }),
              HasSubstr("accuracy: pred[1] = -1 is negative"));
}

TEST(Classification, ConfusionAndF1MatchSklearnDocs) {
  // sklearn f1_score docs: y_true = [0,1,2,0,1,2], y_pred = [0,2,1,0,0,1] gives macro 0.2667,
  // micro 0.3333, weighted 0.2667, per class [0.8, 0, 0].
  const Tensor t = labels({0, 1, 2, 0, 1, 2}), p = labels({0, 2, 1, 0, 0, 1});
  const Tensor cm = confusion_matrix(p, t, 3);
  EXPECT_EQ(cm.to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 0, 1, 0, 1, 0, 2, 0}));
  const auto s = classification_scores(cm);
  EXPECT_NEAR(s.macro_f1, 0.26666666666666666, 1e-12);
  EXPECT_NEAR(s.micro_f1, 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(s.weighted_f1, 0.26666666666666666, 1e-12);
  EXPECT_NEAR(s.macro_precision, 2.0 / 9.0, 1e-12);  // precision [2/3, 0, 0]
  EXPECT_NEAR(s.macro_recall, 1.0 / 3.0, 1e-12);     // recall [1, 0, 0]
  EXPECT_NEAR(s.f1[0], 0.8, 1e-12);
  EXPECT_EQ(s.support, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_NEAR(f1_micro(p, t, 3), accuracy(p, t), 1e-12);
}

TEST(Classification, AbsentClassIsNotAveraged) {
  // Class 3 appears in neither labeling: macro F1 averages classes 0..2 only (1, 2/3, 0) as
  // sklearn does without `labels`; class 2 is predicted but never true, so its precision is 0.
  const Tensor t = labels({0, 1, 1}), p = labels({0, 1, 2});
  const auto s = classification_scores(p, t, 4);
  EXPECT_NEAR(s.macro_f1, (1.0 + 2.0 / 3.0 + 0.0) / 3.0, 1e-12);
  EXPECT_EQ(s.f1[3], 0.0);
  EXPECT_THAT(
      error_of([&] { confusion_matrix(p, t, 2); }),
      HasSubstr("confusion_matrix: label at 2 (pred 2, target 1) is not below num_classes = 2"));
}

TEST(Clustering, AccuracyFindsTheBestMapping) {
  // Clusters are a relabelling of the classes except one point: ACC 5/6 with 0->2, 1->0, 2->1.
  const auto r = clustering_accuracy(labels({1, 1, 2, 2, 0, 0}), labels({0, 0, 1, 1, 2, 0}));
  EXPECT_NEAR(r.accuracy, 5.0 / 6.0, 1e-12);
  EXPECT_EQ(r.class_of_cluster, (std::vector<int64_t>{2, 0, 1}));
  // More clusters than classes: the extra cluster is unmatched; an unused id maps to -1.
  const auto wide = clustering_accuracy(labels({0, 0, 1, 3, 3}), labels({1, 1, 0, 0, 0}));
  EXPECT_NEAR(wide.accuracy, 4.0 / 5.0, 1e-12);
  EXPECT_EQ(wide.class_of_cluster, (std::vector<int64_t>{1, -1, -1, 0}));
}

TEST(Clustering, NmiMatchesHandComputation) {
  EXPECT_DOUBLE_EQ(nmi(labels({0, 0, 1, 1}), labels({1, 1, 0, 0})), 1.0);
  EXPECT_DOUBLE_EQ(nmi(labels({0, 1, 2, 3}), labels({0, 0, 0, 0})), 0.0);  // sklearn docs
  EXPECT_DOUBLE_EQ(nmi(labels({5, 5, 5}), labels({2, 2, 2})), 1.0);        // single clusters
  // t = [0,0,1,1], p = [0,0,0,1]: H(t) = ln 2, H(p) = -(3/4 ln 3/4 + 1/4 ln 1/4),
  // MI = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2; NMI = MI / ((H(t) + H(p)) / 2).
  const double ht = std::log(2.0), hp = -(0.75 * std::log(0.75) + 0.25 * std::log(0.25));
  const double mi = 0.5 * std::log(4.0 / 3.0) + 0.25 * std::log(2.0 / 3.0) + 0.25 * std::log(2.0);
  EXPECT_NEAR(nmi(labels({0, 0, 0, 1}), labels({0, 0, 1, 1})), mi / (0.5 * (ht + hp)), 1e-12);
  EXPECT_NEAR(mi / (0.5 * (ht + hp)), 0.3437110184854508, 1e-12);
  // Symmetric in its arguments; a 9-point case computed independently from the same formula.
  const Tensor a = labels({0, 0, 0, 1, 1, 1, 2, 2, 2}), b = labels({0, 0, 1, 1, 1, 2, 2, 2, 2});
  EXPECT_NEAR(nmi(a, b), 0.5895098274473048, 1e-12);
  EXPECT_NEAR(nmi(b, a), nmi(a, b), 1e-15);
}

TEST(Clustering, AriMatchesHandComputation) {
  // sklearn docs: [0,0,1,2] vs [0,0,1,1] is 0.57; by hand: index 1, row pairs 1, column pairs
  // 2, expected 1 * 2 / 6, so (1 - 1/3) / (3/2 - 1/3) = 4/7.
  EXPECT_NEAR(ari(labels({0, 0, 1, 1}), labels({0, 0, 1, 2})), 4.0 / 7.0, 1e-12);
  EXPECT_NEAR(ari(labels({0, 0, 1, 2}), labels({0, 0, 1, 1})), 4.0 / 7.0, 1e-12);
  EXPECT_DOUBLE_EQ(ari(labels({0, 0, 1, 1}), labels({1, 1, 0, 0})), 1.0);
  EXPECT_DOUBLE_EQ(ari(labels({0, 1, 2, 3}), labels({0, 0, 0, 0})), 0.0);  // sklearn docs
  // Crossing partitions: index 0, expected 2 * 2 / 6, best 2: (0 - 2/3) / (2 - 2/3) = -1/2.
  EXPECT_NEAR(ari(labels({0, 1, 0, 1}), labels({0, 0, 1, 1})), -0.5, 1e-12);
  EXPECT_DOUBLE_EQ(ari(labels({0, 1, 2}), labels({2, 0, 1})), 1.0);  // all singletons
}

TEST(Ranking, SingleRelevantItemWithTies) {
  // Query 0: relevant item 2 has the top score: rank 1. Query 1: item 0 (score 0.5) is beaten by
  // 0.9 and tied with 0.5: ties rank ahead, so rank 3. Query 2: all equal: rank 4 (last).
  const Tensor s = from_vector<float>({0.1f, 0.2f, 0.9f, 0.0f,  //
                                       0.5f, 0.9f, 0.5f, 0.1f,  //
                                       1.0f, 1.0f, 1.0f, 1.0f},
                                      {3, 4});
  const Tensor rel = labels({2, 0, 1});
  EXPECT_EQ(relevant_ranks(s, rel), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_NEAR(hit_rate_at_k(s, rel, 1), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(hit_rate_at_k(s, rel, 3), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(mrr_at_k(s, rel, 3), (1.0 + 1.0 / 3.0) / 3.0, 1e-12);
  EXPECT_NEAR(ndcg_at_k(s, rel, 4), (1.0 + 1.0 / 2.0 + 1.0 / std::log2(5.0)) / 3.0, 1e-12);
  // A NaN score counts as -inf: the relevant item falls to the end.
  const Tensor nan_scores = from_vector<double>({NAN, 0.0, -1.0}, {1, 3});
  EXPECT_EQ(relevant_ranks(nan_scores, labels({0})), (std::vector<int64_t>{3}));
  EXPECT_THAT(error_of([&] {
                hit_rate_at_k(s, labels({2, 4, 0}), 1);
              }),
              HasSubstr("relevant_ranks: relevant[1] = 4 is not below 4 items"));
}

TEST(Ranking, SeveralRelevantItems) {
  // Order of query 0: items 3 (0.9), 1 (0.8), 0 (0.5), 2 (0.1); relevant {1, 2}: ranks 2, 4.
  // At k = 2: hit 1, MRR 1/2, DCG 1/log2(3), ideal 1 + 1/log2(3), recall 1/2.
  // Query 1 has no relevant item and is skipped; query 2: relevant {0} tied with item 1 at the
  // top, so rank 2 (ties go against it).
  const Tensor s = from_vector<double>({0.5, 0.8, 0.1, 0.9,  //
                                        0.0, 0.0, 0.0, 0.0,  //
                                        0.7, 0.7, 0.1, 0.2},
                                       {3, 4});
  const auto r = ranking_at_k(s, {{1, 2}, {}, {0}}, 2);
  EXPECT_EQ(r.queries, 2);
  EXPECT_NEAR(r.hit_rate, 1.0, 1e-12);
  EXPECT_NEAR(r.mrr, (0.5 + 0.5) / 2.0, 1e-12);
  const double g2 = 1.0 / std::log2(3.0);
  EXPECT_NEAR(r.ndcg, (g2 / (1.0 + g2) + g2 / 1.0) / 2.0, 1e-12);
  EXPECT_NEAR(r.recall, (0.5 + 1.0) / 2.0, 1e-12);
  // One relevant item per query agrees with the single-item functions.
  const Tensor rel = labels({1, 2, 0});
  const auto one = ranking_at_k(s, {{1}, {2}, {0}}, 3);
  EXPECT_NEAR(one.ndcg, ndcg_at_k(s, rel, 3), 1e-12);
  EXPECT_NEAR(one.mrr, mrr_at_k(s, rel, 3), 1e-12);
  EXPECT_NEAR(one.hit_rate, hit_rate_at_k(s, rel, 3), 1e-12);
  EXPECT_THAT(error_of([&] {
                ranking_at_k(s, {{}, {}, {}}, 2);
              }),
              HasSubstr("every one of the 3 queries has no relevant item"));
}

}  // namespace
