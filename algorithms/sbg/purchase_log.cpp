// The split, validation and the synthetic generator of purchase_log.h (the Amazon loader is in
// amazon.cpp).
#include "algorithms/sbg/purchase_log.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "datasets/uniforms.h"
#include "engine/core/error.h"

namespace stackgrad::algo {

SearchSplit split_last_queries(const PurchaseLog& log) {
  SearchSplit s;
  const auto& p = log.purchases;
  for (size_t begin = 0; begin < p.size();) {
    size_t end = begin;
    while (end < p.size() && p[end].user == p[begin].user) ++end;
    const size_t n = end - begin;
    const size_t train_end = n >= 3 ? end - 2 : end;
    for (size_t i = begin; i < train_end; ++i) s.train.push_back(int64_t(i));
    if (n >= 3) {
      s.val.push_back(int64_t(end - 2));
      s.test.push_back(int64_t(end - 1));
    }
    begin = end;
  }
  return s;
}

void validate(const PurchaseLog& log) {
  SG_CHECK(int64_t(log.item_words.size()) == log.num_items, "purchase log ", log.name, ": ",
           log.item_words.size(), " item texts for ", log.num_items, " items");
  for (const auto& q : log.queries) {
    SG_CHECK(!q.empty(), "purchase log ", log.name, ": an empty query");
    for (int64_t w : q)
      SG_CHECK(w >= 0 && w < log.num_words, "purchase log ", log.name, ": query word ", w,
               " out of range");
  }
  for (const auto& t : log.item_words)
    for (int64_t w : t)
      SG_CHECK(w >= 0 && w < log.num_words, "purchase log ", log.name, ": item word ", w,
               " out of range");
  for (size_t i = 0; i < log.purchases.size(); ++i) {
    const Purchase& p = log.purchases[i];
    SG_CHECK(p.user >= 0 && p.user < log.num_users && p.item >= 0 && p.item < log.num_items &&
                 p.query >= 0 && p.query < int64_t(log.queries.size()),
             "purchase log ", log.name, ": purchase ", i, " has an id out of range");
    if (i > 0) {
      const Purchase& q = log.purchases[i - 1];
      SG_CHECK(q.user < p.user || (q.user == p.user && q.time <= p.time), "purchase log ", log.name,
               ": purchases not sorted by (user, time) at ", i);
    }
  }
}

PurchaseLog synthetic_purchases(const SyntheticConfig& c, Generator& gen) {
  SG_CHECK(c.users > 0 && c.categories > 0 && c.bundles_per_category > 0 && c.items_per_bundle > 0,
           "synthetic_purchases: sizes must be positive");
  SG_CHECK(c.tastes >= 1 && c.tastes <= c.categories, "synthetic_purchases: tastes ", c.tastes,
           " not in [1, ", c.categories, "]");
  SG_CHECK(c.min_sessions >= 1 && c.min_sessions <= c.max_sessions,
           "synthetic_purchases: bad session counts");
  SG_CHECK(c.min_session_items >= 1 && c.min_session_items <= c.max_session_items &&
               c.max_session_items <= c.items_per_bundle,
           "synthetic_purchases: session sizes must lie in [1, items_per_bundle]");
  data::Uniforms u(gen);
  PurchaseLog log;
  log.name = c.session_signal ? "synthetic" : "synthetic-random-sessions";
  const int64_t per_category = c.bundles_per_category * c.items_per_bundle;
  const int64_t departments =
      (c.categories + c.categories_per_department - 1) / c.categories_per_department;
  const int64_t category_word0 = departments, noise_word0 = departments + c.categories;
  log.num_users = c.users;
  log.num_items = c.categories * per_category;
  log.num_words = noise_word0 + c.noise_words;
  for (int64_t d = 0; d < departments; ++d) log.words.push_back("dept" + std::to_string(d));
  for (int64_t k = 0; k < c.categories; ++k) log.words.push_back("cat" + std::to_string(k));
  for (int64_t w = 0; w < c.noise_words; ++w) log.words.push_back("w" + std::to_string(w));
  for (int64_t k = 0; k < c.categories; ++k)
    log.queries.push_back({k / c.categories_per_department, category_word0 + k});
  log.item_words.resize(size_t(log.num_items));
  for (int64_t i = 0; i < log.num_items; ++i) {
    log.item_words[size_t(i)].push_back(category_word0 + i / per_category);
    for (int64_t w = 0; w < c.title_noise_words && c.noise_words > 0; ++w)
      log.item_words[size_t(i)].push_back(noise_word0 + u.below(c.noise_words));
  }
  const double day = 86400.0;
  for (int64_t user = 0; user < c.users; ++user) {
    std::vector<int64_t> tastes;  // distinct liked categories
    while (int64_t(tastes.size()) < c.tastes) {
      const int64_t k = u.below(c.categories);
      if (std::find(tastes.begin(), tastes.end(), k) == tastes.end()) tastes.push_back(k);
    }
    std::set<int64_t> bought;  // nobody buys the same item twice
    double t = u.next() * 365 * day;
    const int64_t sessions = u.between(c.min_sessions, c.max_sessions);
    for (int64_t s = 0; s < sessions; ++s) {
      const int64_t category = tastes[size_t(u.below(c.tastes))];
      const int64_t bundle = u.below(c.bundles_per_category);
      const int64_t size = u.between(c.min_session_items, c.max_session_items);
      for (int64_t k = 0, tries = 0; k < size && tries < 100; ++tries) {
        // Popular items first within a bundle: index floor(P u^1.5) favours small indices.
        const int64_t b = c.session_signal ? bundle : u.below(c.bundles_per_category);
        const int64_t j = std::min(c.items_per_bundle - 1,
                                   int64_t(double(c.items_per_bundle) * std::pow(u.next(), 1.5)));
        const int64_t item = category * per_category + b * c.items_per_bundle + j;
        if (!bought.insert(item).second) continue;
        if (k > 0) t += u.next() * c.max_gap_in_session_hours * 3600;
        log.purchases.push_back({user, item, int64_t(t), category});
        ++k;
      }
      t += (c.min_gap_between_sessions_days - c.mean_extra_gap_days * std::log(u.next())) * day;
    }
  }
  validate(log);
  return log;
}

}  // namespace stackgrad::algo
