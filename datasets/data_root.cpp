#include "datasets/data_root.h"

#include <sys/stat.h>

#include <cstdlib>

#include "engine/core/error.h"

#ifndef STACKGRAD_SOURCE_DIR
#define STACKGRAD_SOURCE_DIR "."
#endif

namespace stackgrad::data {

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> data_roots(const std::string& flag) {
  std::vector<std::string> roots;
  if (!flag.empty()) roots.push_back(flag);
  if (const char* env = std::getenv("STACKGRAD_DATA"); env && *env) roots.push_back(env);
  // The checkout this binary was built from, then the current directory (run from the checkout
  // or from its build folder).
  for (std::string base : {std::string(STACKGRAD_SOURCE_DIR), std::string("."), std::string("..")}) {
    std::string shared = base + "/../shared/datasets";
    if (file_exists(shared)) roots.push_back(shared);
  }
  roots.push_back("/usr/share/datasets");
  return roots;
}

std::string find_dataset(const std::vector<std::string>& names, const std::vector<std::string>& required,
                         const std::string& flag) {
  SG_CHECK(!names.empty(), "find_dataset: no dataset name given");
  std::string tried;
  for (const std::string& root : data_roots(flag)) {
    for (const std::string& name : names) {
      std::string dir = root + "/" + name;
      bool all = true;
      for (const std::string& f : required) {
        if (!file_exists(dir + "/" + f)) {
          all = false;
          tried += "\n  " + dir + "/" + f + " (missing)";
          break;
        }
      }
      if (required.empty() && !file_exists(dir)) {
        all = false;
        tried += "\n  " + dir + " (missing)";
      }
      if (all) return dir;
    }
  }
  fail("dataset '", names.front(), "' not found; looked for:", tried,
       "\nPass --data-dir DIR or set STACKGRAD_DATA (see scripts/get-data.sh for where to get it).");
}

}  // namespace stackgrad::data
