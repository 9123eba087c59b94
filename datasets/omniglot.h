// Omniglot (Lake et al. 2015): 105 x 105 binary drawings of handwritten characters, 20 drawings
// per character, packed as .npy arrays under the data roots (folder "omniglot"; its README says
// how they were made). Sets: the two "small" background splits (136 and 156 characters) and the
// 659-character evaluation set, plus the 20 one-shot classification runs.
//
//   data::OmniglotDataset bg = data::load_omniglot(data::OmniglotSet::background_small1);
//   data::OneShotRuns runs = data::load_omniglot_oneshot();       // 20 runs x 20-way
//   // accuracy = mean over runs and items of (predicted class == runs.answers[r][i])
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/idx.h"
#include "engine/core/tensor.h"

namespace stackgrad::data {

enum class OmniglotSet { background_small1, background_small2, evaluation };

// images f32 [N, 1, 105, 105]. As stored, 1 = white background and 0 = ink; with ink_is_one the
// values are flipped (1 - x) so ink is 1, as most models expect. class_names[c] is
// "<alphabet>/<character>" (e.g. "Greek/character03"); labels index them.
struct OmniglotDataset : ImageDataset {
  std::vector<std::string> alphabets;  // per class
  std::vector<int64_t> char_ids;       // per class: Omniglot's global character number 1..1623
};

OmniglotDataset load_omniglot(OmniglotSet set, const std::string& data_dir = "",
                              bool ink_is_one = false);

// The class table of a set without its images (cheap): same fields as load_omniglot, with
// images and labels left undefined.
OmniglotDataset load_omniglot_classes(OmniglotSet set, const std::string& data_dir = "");

// The one-shot runs: in run r, test item i is to be matched to one of the 20 training images;
// answers[r][i] is the right one (0-based).
struct OneShotRuns {
  Tensor train;    // f32 [20, 20, 1, 105, 105]: run, class
  Tensor test;     // f32 [20, 20, 1, 105, 105]: run, item
  Tensor answers;  // i64 [20, 20]
};

OneShotRuns load_omniglot_oneshot(const std::string& data_dir = "", bool ink_is_one = false);

}  // namespace stackgrad::data
