// Where datasets are found. A dataset is a folder name under a data root ("mnist",
// "planetoid/cora"); the roots are tried in this order (DESIGN.md section 5):
//   1. the --data-dir flag (passed in as `flag`),
//   2. $STACKGRAD_DATA,
//   3. ../shared/datasets beside the checkout (found from the source directory compiled in and
//      from the current directory),
//   4. /usr/share/datasets (Debian's dataset-* packages, e.g. dataset-fashion-mnist).
// When nothing holds the files, the error lists every path tried.
#pragma once

#include <string>
#include <vector>

namespace stackgrad::data {

// The candidate roots, in order, for a given --data-dir value (empty when not given).
std::vector<std::string> data_roots(const std::string& flag = "");

// The first `root/dataset` folder that contains every file in `required` (relative to it). A
// dataset may go by several folder names ({"fashion-mnist", "fashion_mnist"}): each is tried
// under each root. Throws an Error listing every path tried when none has the files.
std::string find_dataset(const std::vector<std::string>& names, const std::vector<std::string>& required,
                         const std::string& flag = "");

bool file_exists(const std::string& path);

}  // namespace stackgrad::data
