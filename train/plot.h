// A dependency-free SVG line plot: axes with ticks at nice numbers (1, 2, 5 times a power of
// ten), grid lines, several named series with a legend, an optional logarithmic y axis.
//
//   train::LinePlot p("GCN on Cora");
//   p.x_label("epoch").y_label("accuracy").add_series("train", epochs, train_acc);
//   p.save_svg("curve.svg");
//
// Points whose x or y is not finite (or whose y <= 0 on a log axis) are skipped: the line
// breaks there instead of dropping to zero.
#pragma once

#include <string>
#include <vector>

#include "train/jsonl.h"

namespace stackgrad::train {

class LinePlot {
 public:
  explicit LinePlot(std::string title = "") : title_(std::move(title)) {}

  LinePlot& x_label(std::string label) {
    x_label_ = std::move(label);
    return *this;
  }
  LinePlot& y_label(std::string label) {
    y_label_ = std::move(label);
    return *this;
  }
  LinePlot& log_y(bool on = true) {
    log_y_ = on;
    return *this;
  }
  LinePlot& size(int width, int height);
  // A named line through (xs[i], ys[i]); xs and ys have equal lengths.
  LinePlot& add_series(std::string name, std::vector<double> xs, std::vector<double> ys);
  // The same with x = 0, 1, 2, ...
  LinePlot& add_series(std::string name, std::vector<double> ys);

  int series_count() const { return static_cast<int>(series_.size()); }
  // The SVG document.
  std::string svg() const;
  // Writes svg() to `path`; error naming the path when it cannot be written.
  void save_svg(const std::string& path) const;

 private:
  struct Series {
    std::string name;
    std::vector<double> xs, ys;
  };
  std::string title_, x_label_, y_label_;
  bool log_y_ = false;
  int width_ = 640, height_ = 400;
  std::vector<Series> series_;
};

// Series from JSON-lines records (read_jsonl): one per field in `ys` and, when `by` names a
// field, per distinct value of it (e.g. by = "split" draws train and val apart), in order of
// first appearance. x is the field `x`, or the record's position when `x` is empty. Records
// lacking x or y are left out of the series (a group without any is no series); a null (NaN)
// value leaves a gap. Names are "<prefix><y>" plus " [<by>=<value>]". Returns how many
// series were added; error when no record has the x field or one of the y fields.
int add_jsonl_series(LinePlot& plot, const std::vector<JsonRecord>& rows, const std::string& x,
                     const std::vector<std::string>& ys, const std::string& by = "",
                     const std::string& prefix = "");
// The fields holding a number in some record, in order of first appearance.
std::vector<std::string> numeric_fields(const std::vector<JsonRecord>& rows);

// Tick positions at multiples of a nice step (1, 2 or 5 times a power of ten) that cover
// [lo, hi] with about `target` ticks; the first tick is <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// A tick label with just enough decimals for ticks `step` apart ("0.25", "1500", "1e-05").
std::string format_tick(double value, double step);

}  // namespace stackgrad::train
