// Whether a dataset is present under the data roots (datasets/data_root.h), for tests that need
// real data and skip without it:
//
//   if (!stackgrad::testing::have_dataset("planetoid/cora", {"features.npy", "edges.npy"}))
//     GTEST_SKIP() << "planetoid/cora not found under any data root";
#pragma once

#include <string>
#include <vector>

#include "datasets/data_root.h"
#include "engine/core/error.h"

namespace stackgrad::testing {

inline bool have_dataset(const std::string& folder, const std::vector<std::string>& files) {
  try {
    data::find_dataset({folder}, files);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Cora with the files every graph test reads.
inline bool have_cora() { return have_dataset("planetoid/cora", {"features.npy", "edges.npy", "labels.npy"}); }

}  // namespace stackgrad::testing
