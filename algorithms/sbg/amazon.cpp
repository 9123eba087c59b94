// load_amazon: the Amazon review + metadata JSON-lines reader of purchase_log.h, on the engine's
// strict JSON pull reader (each line is parsed as a whole document, so trailing junk is caught).
#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <unordered_map>

#include "algorithms/sbg/purchase_log.h"
#include "engine/core/error.h"
#include "engine/io/json_min.h"

namespace stackgrad::algo {

std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      cur.push_back(char(std::tolower(c)));
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

namespace {

// Calls fn(reader) for every non-blank line of `path`, the reader named "<path>:<line>".
template <typename F>
void for_each_json_line(const std::string& path, F&& fn) {
  std::ifstream in(path, std::ios::binary);
  SG_CHECK(in.good(), "load_amazon: cannot open '", path, "'");
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      io::JsonReader r(line, path + ":" + std::to_string(number));
      fn(r);
      r.finish();
    } catch (const Error& e) {
      // The 2014 files are Python dict literals, not JSON: say how to convert them.
      if (line.find("{'") == std::string::npos) throw;
      throw Error(std::string(e.what()) +
                  " (a Python dict, as in the 2014 Amazon files? convert each line with "
                  "json.dumps(ast.literal_eval(line)) first)");
    }
  }
}

std::vector<std::string> read_string_list(io::JsonReader& r) {
  std::vector<std::string> out;
  r.begin_array();
  while (r.next_element()) out.push_back(r.read_string());
  return out;
}

struct ItemMeta {
  std::string title;
  std::vector<std::string> category;  // one category path, top level first
};

}  // namespace

PurchaseLog load_amazon(const std::string& reviews_path, const std::string& meta_path,
                        int64_t min_purchases) {
  std::unordered_map<std::string, ItemMeta> meta;
  for_each_json_line(meta_path, [&](io::JsonReader& r) {
    std::string key, asin;
    ItemMeta m;
    r.begin_object();
    while (r.next_key(key)) {
      if (key == "asin") {
        asin = r.read_string();
      } else if (key == "title" && r.peek() == io::JsonReader::Kind::string) {
        m.title = r.read_string();
      } else if (key == "category") {  // 2018: ["Electronics", "Computers & Accessories", ...]
        m.category = read_string_list(r);
      } else if (key ==
                 "categories") {  // 2014: [["Electronics", "Computers"], [...]]: the first path
        r.begin_array();
        for (bool first = true; r.next_element(); first = false) {
          std::vector<std::string> path = read_string_list(r);
          if (first) m.category = std::move(path);
        }
      } else {
        r.skip_value();
      }
    }
    if (asin.empty()) r.error("metadata without \"asin\"");
    meta[asin] = std::move(m);
  });

  struct Review {
    std::string user, asin;
    int64_t time;
  };
  std::vector<Review> reviews;
  for_each_json_line(reviews_path, [&](io::JsonReader& r) {
    std::string key;
    Review rv{"", "", -1};
    r.begin_object();
    while (r.next_key(key)) {
      if (key == "reviewerID") {
        rv.user = r.read_string();
      } else if (key == "asin") {
        rv.asin = r.read_string();
      } else if (key == "unixReviewTime") {
        rv.time = int64_t(r.read_uint64("unixReviewTime"));
      } else {
        r.skip_value();
      }
    }
    if (rv.user.empty() || rv.asin.empty() || rv.time < 0)
      r.error("review needs \"reviewerID\", \"asin\" and \"unixReviewTime\"");
    auto it = meta.find(rv.asin);
    if (it == meta.end() || it->second.category.empty()) return;  // no query can be built
    reviews.push_back(std::move(rv));
  });

  std::map<std::string, int64_t> user_count;
  for (const Review& rv : reviews) ++user_count[rv.user];
  PurchaseLog log;
  log.name = "amazon";
  std::map<std::string, int64_t> users, items, words;
  std::map<std::vector<int64_t>, int64_t> queries;
  auto word_id = [&](const std::string& w) {
    auto [it, added] = words.emplace(w, int64_t(log.words.size()));
    if (added) log.words.push_back(w);
    return it->second;
  };
  for (const Review& rv : reviews) {
    if (user_count[rv.user] < min_purchases) continue;
    const ItemMeta& m = meta.at(rv.asin);
    auto [uit, new_user] = users.emplace(rv.user, int64_t(users.size()));
    auto [iit, new_item] = items.emplace(rv.asin, int64_t(items.size()));
    (void)new_user;
    if (new_item) {
      std::vector<int64_t> text;
      for (const std::string& w : tokenize(m.title)) text.push_back(word_id(w));
      log.item_words.push_back(std::move(text));
    }
    std::vector<int64_t> q;  // the category path's words, each once, in order
    for (const std::string& level : m.category)
      for (const std::string& w : tokenize(level)) {
        const int64_t id = word_id(w);
        if (std::find(q.begin(), q.end(), id) == q.end()) q.push_back(id);
      }
    if (q.empty()) continue;
    auto [qit, new_query] = queries.emplace(q, int64_t(log.queries.size()));
    if (new_query) log.queries.push_back(q);
    log.purchases.push_back({uit->second, iit->second, rv.time, qit->second});
  }
  log.num_users = int64_t(users.size());
  log.num_items = int64_t(items.size());
  log.num_words = int64_t(log.words.size());
  std::stable_sort(log.purchases.begin(), log.purchases.end(),
                   [](const Purchase& a, const Purchase& b) {
                     return a.user != b.user ? a.user < b.user : a.time < b.time;
                   });
  SG_CHECK(!log.purchases.empty(), "load_amazon: no usable reviews in '", reviews_path,
           "' (with metadata in '", meta_path, "', a category and users with >= ", min_purchases,
           " reviews)");
  validate(log);
  return log;
}

}  // namespace stackgrad::algo
