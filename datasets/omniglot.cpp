#include "datasets/omniglot.h"

#include <fstream>
#include <sstream>

#include "datasets/data_root.h"
#include "engine/io/tensor_io.h"

namespace stackgrad::data {

namespace {

const char* set_prefix(OmniglotSet set) {
  switch (set) {
    case OmniglotSet::background_small1:
      return "background_small1";
    case OmniglotSet::background_small2:
      return "background_small2";
    case OmniglotSet::evaluation:
      return "evaluation";
  }
  return "?";
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, '\t')) out.push_back(cell);
  return out;
}

// u8 pixels (0/1) to f32, flipped when ink_is_one; the shape gains a channel dim before the
// last two.
Tensor to_float_images(const Tensor& u8, bool ink_is_one) {
  const std::vector<int64_t> s = u8.shape();
  Shape shape(s.begin(), s.end() - 2);
  shape.push_back(1);
  shape.push_back(s[s.size() - 2]);
  shape.push_back(s.back());
  Tensor out = empty(shape, DType::f32);
  const uint8_t* src = u8.contiguous().data_ptr<uint8_t>();
  float* dst = out.data_ptr<float>();
  for (int64_t i = 0, n = u8.numel(); i < n; ++i)
    dst[i] = ink_is_one ? 1.0f - static_cast<float>(src[i]) : static_cast<float>(src[i]);
  return out;
}

Tensor load_u8_images(const std::string& path, int64_t expected_dims) {
  Tensor t = load_npy(path);
  SG_CHECK(t.dtype() == DType::u8 && t.dim() == expected_dims, "load_omniglot: ", path,
           ": expected u8 with ", expected_dims, " dims, got ", describe(t));
  return t;
}

// The class table <set>_classes.tsv: class, alphabet, character, char_id, first_row, ...
OmniglotDataset read_classes(const std::string& path) {
  std::ifstream in(path);
  SG_CHECK(in.good(), "load_omniglot: cannot open ", path);
  OmniglotDataset ds;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1 || line.empty()) continue;  // header
    const std::vector<std::string> cells = split_tabs(line);
    SG_CHECK(cells.size() >= 4, "load_omniglot: ", path, ": line ", line_no,
             ": expected the "
             "columns class, alphabet, character, char_id, ...; got ",
             cells.size(), " cells");
    SG_CHECK(cells[0] == std::to_string(ds.num_classes), "load_omniglot: ", path, ": line ",
             line_no, ": class ", cells[0], " out of order (expected ", ds.num_classes, ")");
    ds.class_names.push_back(cells[1] + "/" + cells[2]);
    ds.alphabets.push_back(cells[1]);
    ds.char_ids.push_back(std::stoll(cells[3]));
    ++ds.num_classes;
  }
  return ds;
}

}  // namespace

OmniglotDataset load_omniglot_classes(OmniglotSet set, const std::string& data_dir) {
  const std::string file = std::string(set_prefix(set)) + "_classes.tsv";
  return read_classes(find_dataset({"omniglot"}, {file}, data_dir) + "/" + file);
}

OmniglotDataset load_omniglot(OmniglotSet set, const std::string& data_dir, bool ink_is_one) {
  const std::string prefix = set_prefix(set);
  const std::string dir = find_dataset(
      {"omniglot"}, {prefix + "_images.npy.gz", prefix + "_labels.npy", prefix + "_classes.tsv"},
      data_dir);
  OmniglotDataset ds = read_classes(dir + "/" + prefix + "_classes.tsv");
  Tensor images = load_u8_images(dir + "/" + prefix + "_images.npy.gz", 3);
  ds.labels = load_npy(dir + "/" + prefix + "_labels.npy");
  SG_CHECK(ds.labels.dtype() == DType::i64 && ds.labels.dim() == 1 &&
               ds.labels.size(0) == images.size(0),
           "load_omniglot: ", dir, ": labels ", describe(ds.labels), " do not match images ",
           describe(images));
  for (int64_t y : ds.labels.to_vector<int64_t>())
    SG_CHECK(y >= 0 && y < ds.num_classes, "load_omniglot: ", dir, ": label ", y, " outside the ",
             ds.num_classes, " classes of ", prefix, "_classes.tsv");
  ds.images = to_float_images(images, ink_is_one);
  return ds;
}

OneShotRuns load_omniglot_oneshot(const std::string& data_dir, bool ink_is_one) {
  const std::string dir = find_dataset(
      {"omniglot"},
      {"oneshot_training_images.npy.gz", "oneshot_test_images.npy.gz", "oneshot_answers.npy"},
      data_dir);
  OneShotRuns runs;
  runs.train =
      to_float_images(load_u8_images(dir + "/oneshot_training_images.npy.gz", 4), ink_is_one);
  runs.test = to_float_images(load_u8_images(dir + "/oneshot_test_images.npy.gz", 4), ink_is_one);
  runs.answers = load_npy(dir + "/oneshot_answers.npy");
  SG_CHECK(runs.answers.dtype() == DType::i64 && runs.answers.dim() == 2 &&
               runs.answers.size(0) == runs.train.size(0) &&
               runs.answers.size(1) == runs.test.size(1),
           "load_omniglot_oneshot: ", dir, ": answers ", describe(runs.answers),
           " do not match the runs ", describe(runs.test));
  return runs;
}

}  // namespace stackgrad::data
