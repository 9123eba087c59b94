// Numeric CSV tables and the small UCI classification sets (scikit-learn's bundled copies:
// iris, wine, breast_cancer, digits) found under the data roots in the folder "uci".
//
//   data::TableDataset iris = data::load_uci("iris");        // f64 [150, 4], 3 classes
//   Tensor t = data::read_csv("table.csv", {.header = true});  // f64 [rows, cols]
//   Tensor z = data::standardize(iris.features);               // zero mean, unit variance
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad::data {

// Rows of features with integer class labels.
struct TableDataset {
  Tensor features;  // f64 [N, F]
  Tensor labels;    // i64 [N], 0..num_classes()-1
  std::vector<std::string> class_names;
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct CsvOptions {
  bool header = false;  // the first (non-skipped) line names the columns
  char delimiter = ',';
  int64_t skip_rows = 0;  // lines ignored before anything else
};

// Parses a numeric table (gzip-compressed when the bytes start with the gzip magic) into f64
// [rows, cols]. Every row must have the same number of cells and every cell must be a number
// (nan and inf are accepted); errors name the file, the line and the column, e.g.
// `read_csv: data.csv: line 3, column 2: 'abc' is not a number`. Blank lines are skipped; CRLF
// line ends are accepted. `column_names`, when given, receives the header's cells.
Tensor read_csv(const std::string& path, const CsvOptions& options = {},
                std::vector<std::string>* column_names = nullptr);

// Parses CSV text already in memory; `what` names it in errors.
Tensor parse_csv(const std::string& text, const std::string& what, const CsvOptions& options = {},
                 std::vector<std::string>* column_names = nullptr);

// "iris", "wine", "breast_cancer" or "digits" from the folder "uci". The first three have
// scikit-learn's first line "n_samples,n_features,<class names...>" (checked against the data);
// digits has none and its classes are "0".."9". The label is the last column.
TableDataset load_uci(const std::string& name, const std::string& data_dir = "");

// Columns shifted to zero mean and scaled to unit variance (population std; constant columns
// are only shifted). f64 or f32 [N, F]; returns a new tensor.
Tensor standardize(const Tensor& x);

}  // namespace stackgrad::data
