// The data of personalised product search: who bought what, when, after which query, and the
// words of every item. Two sources fill it: the Amazon review + metadata JSON files that the
// product-search papers build their sets from, and a synthetic generator of users with
// long-term tastes who shop in short bursts (sessions), which needs no files.
//
//   algo::PurchaseLog log = algo::synthetic_purchases({.users = 2000}, gen);
//   algo::SearchSplit split = algo::split_last_queries(log);  // per user: last = test, 2nd last =
//   val algo::PurchaseLog amazon = algo::load_amazon("reviews.json", "meta.json");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/runtime/generator.h"

namespace stackgrad::algo {

struct Purchase {
  int64_t user = 0, item = 0;
  int64_t time = 0;   // seconds (unix time for Amazon)
  int64_t query = 0;  // index into PurchaseLog::queries
};

struct PurchaseLog {
  std::string name;
  int64_t num_users = 0, num_items = 0, num_words = 0;
  std::vector<std::vector<int64_t>> queries;     // word ids of each distinct query
  std::vector<std::vector<int64_t>> item_words;  // word ids of each item's text (title)
  std::vector<Purchase> purchases;               // sorted by (user, time), stable in ties
  std::vector<std::string> words;                // the vocabulary (for printing)
};

// Indices into PurchaseLog::purchases. Per user (with at least 3 purchases) the last purchase is
// test, the second-to-last validation, the rest training; users with fewer go wholly to training.
struct SearchSplit {
  std::vector<int64_t> train, val, test;
};
SearchSplit split_last_queries(const PurchaseLog& log);

// Checks that ids are in range, queries non-empty and purchases sorted; throws Error otherwise.
void validate(const PurchaseLog& log);

// --- synthetic -------------------------------------------------------------------------------
// Items fall into categories, and each category into bundles (items that go together, like a
// camera, its lens and its bag). A user likes `tastes` categories for good; every session they
// pick one liked category and buy 3 to 5 items within hours, then pause for weeks. With
// session_signal the items of a session come from one bundle; without, from anywhere in the
// category (the bursts still exist in time, but co-occurrence in a session says nothing more than
// co-occurrence in a user's history). The query of a purchase is the words of the item's
// category (a department word and a category word, as Amazon's category paths); an item's text
// is its category word and a few random words.
struct SyntheticConfig {
  int64_t users = 2000;
  int64_t categories = 20;
  int64_t bundles_per_category = 10;
  int64_t items_per_bundle = 15;
  int64_t categories_per_department = 5;
  int64_t tastes = 2;  // liked categories per user
  int64_t min_sessions = 3, max_sessions = 5;
  int64_t min_session_items = 3, max_session_items = 5;
  double max_gap_in_session_hours = 48;  // gaps inside a session: uniform in [0, this]
  double min_gap_between_sessions_days = 8, mean_extra_gap_days = 30;
  int64_t noise_words = 300, title_noise_words = 3;
  bool session_signal = true;
};
PurchaseLog synthetic_purchases(const SyntheticConfig& cfg, Generator& gen);

// --- Amazon ----------------------------------------------------------------------------------
// Strict JSON lines, one object per line, as the 2018 Amazon review data (McAuley et al.) ships
// them. Reviews: reviewerID, asin, unixReviewTime (other fields skipped). Metadata: asin, title,
// and either "category" (a list of strings, 2018) or "categories" (a list of category paths,
// 2014); the first path becomes the query. The 2014 files' Python-dict syntax ('single quotes')
// is not JSON and is rejected with the line number; convert those files first
// (json.dumps(ast.literal_eval(line)) per line); the error says so.
// Words are lowercase runs of letters and digits; duplicate query words are dropped. Reviews of
// items without metadata or without a category are skipped, then users with fewer than
// `min_purchases` reviews. Malformed lines throw Error "<path>:<line>: ...".
PurchaseLog load_amazon(const std::string& reviews_path, const std::string& meta_path,
                        int64_t min_purchases = 3);

// Lowercase alphanumeric tokens of `text` ("USB-C Cable, 2m" -> usb c cable 2m).
std::vector<std::string> tokenize(const std::string& text);

}  // namespace stackgrad::algo
