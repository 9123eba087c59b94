#include "datasets/csv.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "datasets/data_root.h"
#include "engine/io/gzip.h"
#include "engine/io/raw_array.h"

namespace stackgrad::data {

namespace {

std::vector<std::string_view> split_cells(std::string_view line, char delimiter) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(delimiter, start);
    cells.push_back(line.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return cells;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The whole cell must be a number: strtod stopping early ("1.5x") is an error, not 1.5.
bool parse_number(std::string_view cell, double* out) {
  cell = trim(cell);
  if (cell.empty() || cell.size() > 64) return false;
  char buf[72];
  std::copy(cell.begin(), cell.end(), buf);
  buf[cell.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(buf, &end);
  return end == buf + cell.size();
}

std::string read_text(const std::string& path, const char* op) {
  std::vector<uint8_t> bytes = io::read_file_bytes(path, op);
  if (io::is_gzip(bytes.data(), bytes.size()))
    bytes = io::gunzip(bytes.data(), bytes.size(), io::kDefaultGunzipLimit,
                       std::string(op) + ": " + path);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

Tensor parse_csv(const std::string& text, const std::string& what, const CsvOptions& options,
                 std::vector<std::string>* column_names) {
  std::vector<double> values;
  int64_t cols = -1, rows = 0, line_no = 0;
  bool header_pending = options.header;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no <= options.skip_rows || trim(line).empty()) continue;
    const std::vector<std::string_view> cells = split_cells(line, options.delimiter);
    if (header_pending) {
      header_pending = false;
      if (column_names) {
        column_names->clear();
        for (std::string_view c : cells) column_names->emplace_back(trim(c));
      }
      cols = static_cast<int64_t>(cells.size());
      continue;
    }
    if (cols < 0) cols = static_cast<int64_t>(cells.size());
    SG_CHECK(static_cast<int64_t>(cells.size()) == cols, what, ": line ", line_no, ": ",
             cells.size(), " columns, expected ", cols);
    for (size_t c = 0; c < cells.size(); ++c) {
      double v;
      SG_CHECK(parse_number(cells[c], &v), what, ": line ", line_no, ", column ", c + 1, ": ",
               io::printable_quoted(cells[c]), " is not a number");
      values.push_back(v);
    }
    ++rows;
  }
  if (cols < 0) cols = 0;
  return from_vector(values, {rows, cols}, DType::f64);
}

Tensor read_csv(const std::string& path, const CsvOptions& options,
                std::vector<std::string>* column_names) {
  return parse_csv(read_text(path, "read_csv"), "read_csv: " + path, options, column_names);
}

TableDataset load_uci(const std::string& name, const std::string& data_dir) {
  struct Known {
    const char* name;
    const char* file;
    bool sklearn_header;
  };
  static const Known known[] = {{"iris", "iris.csv", true},
                                {"wine", "wine_data.csv", true},
                                {"breast_cancer", "breast_cancer.csv", true},
                                {"digits", "digits.csv.gz", false}};
  const Known* k = nullptr;
  for (const Known& c : known)
    if (name == c.name) k = &c;
  SG_CHECK(k != nullptr, "load_uci: unknown dataset '", name,
           "' (expected iris, wine, breast_cancer or digits)");
  const std::string path = find_dataset({"uci"}, {k->file}, data_dir) + "/" + k->file;
  const std::string what = "load_uci: " + path;
  const std::string text = read_text(path, "load_uci");
  // scikit-learn's first line is not a column header (it has a different number of cells), so
  // it is split here and skipped by the parser.
  std::vector<std::string> head;
  if (k->sklearn_header) {
    std::string_view first(text.data(), std::min(text.find('\n'), text.size()));
    if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
    for (std::string_view cell : split_cells(first, ',')) head.emplace_back(trim(cell));
  }
  Tensor table = parse_csv(text, what, {.skip_rows = k->sklearn_header ? 1 : 0});
  SG_CHECK(table.size(1) >= 2, what, ": expected feature columns and a label column, got ",
           table.size(1), " columns");
  const int64_t n = table.size(0), f = table.size(1) - 1;
  TableDataset ds;
  if (k->sklearn_header) {
    // "n_samples,n_features,<class names>": a check on the data as well as the class names.
    SG_CHECK(head.size() >= 3 && head[0] == std::to_string(n) && head[1] == std::to_string(f), what,
             ": line 1 should read '", n, ",", f, ",<class names>' for the ", n, " x ", f,
             " table that follows");
    ds.class_names.assign(head.begin() + 2, head.end());
  } else {
    for (int c = 0; c < 10; ++c) ds.class_names.push_back(std::to_string(c));
  }
  ds.features = table.narrow(1, 0, f).contiguous();
  const std::vector<double> last = table.select(1, f).contiguous().to_vector<double>();
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    const double v = last[i];
    SG_CHECK(v == std::floor(v) && v >= 0 && v < ds.num_classes(), what, ": line ",
             i + 1 + (k->sklearn_header ? 1 : 0), ", column ", f + 1, ": label ", v,
             " is not a class in 0..", ds.num_classes() - 1);
    labels[i] = static_cast<int64_t>(v);
  }
  ds.labels = from_vector(labels);
  return ds;
}

Tensor standardize(const Tensor& x) {
  SG_CHECK(x.defined() && x.dim() == 2 && is_floating(x.dtype()) && x.device().is_cpu(),
           "standardize: expected a floating cpu [N, F] tensor, got ",
           x.defined() ? describe(x) : std::string("undefined"));
  Tensor out = x.contiguous().clone();
  const int64_t n = out.size(0), f = out.size(1);
  if (n == 0) return out;
  SG_DISPATCH_FLOAT(out.dtype(), "standardize", [&] {
    scalar_t* p = out.data_ptr<scalar_t>();
    for (int64_t j = 0; j < f; ++j) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < n; ++i) mean += p[i * f + j];
      mean /= static_cast<double>(n);
      for (int64_t i = 0; i < n; ++i) var += (p[i * f + j] - mean) * (p[i * f + j] - mean);
      const double sd = std::sqrt(var / static_cast<double>(n));
      const double inv = sd > 0 ? 1.0 / sd : 1.0;
      for (int64_t i = 0; i < n; ++i)
        p[i * f + j] = static_cast<scalar_t>((p[i * f + j] - mean) * inv);
    }
  });
  return out;
}

}  // namespace stackgrad::data
