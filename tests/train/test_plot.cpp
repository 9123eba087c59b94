// The SVG line plot, checked on its text: polyline point counts, tick labels, legend entries,
// skipped non-finite points, and the tick rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/error_of.h"
#include "train/plot.h"

namespace {

using namespace stackgrad::train;
using stackgrad::testing::error_of;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The text of every <text class="cls"> element, in order.
std::vector<std::string> texts(const std::string& svg, const std::string& cls) {
  std::vector<std::string> out;
  const std::regex re("<text class=\"" + cls + "\"[^>]*>([^<]*)</text>");
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it)
    out.push_back((*it)[1]);
  return out;
}

// The number of points of each polyline.
std::vector<int> polyline_sizes(const std::string& svg) {
  std::vector<int> out;
  const std::regex re("<polyline[^>]* points=\"([^\"]*)\"");
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) {
    const std::string pts = (*it)[1];
    out.push_back(1 + static_cast<int>(std::count(pts.begin(), pts.end(), ' ')));
  }
  return out;
}

TEST(NiceTicks, OneTwoFiveSteps) {
  EXPECT_THAT(nice_ticks(0, 1), ElementsAre(0, 0.2, 0.4, 0.6, 0.8, 1));
  EXPECT_THAT(nice_ticks(3, 97), ElementsAre(0, 20, 40, 60, 80, 100));
  EXPECT_THAT(nice_ticks(-1.3, 2.1), ElementsAre(-2, -1, 0, 1, 2, 3));
  EXPECT_THAT(nice_ticks(0.013, 0.0205), ElementsAre(0.012, 0.014, 0.016, 0.018, 0.02, 0.022));
  EXPECT_EQ(format_tick(0.6000000000000001, 0.2), "0.6");
  EXPECT_EQ(format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(format_tick(1500, 500), "1500");
  EXPECT_EQ(format_tick(-1e-17, 0.1), "0.0");
  EXPECT_EQ(format_tick(3e-5, 1e-5), "3e-05");
}

TEST(LinePlot, SeriesTicksLegendAndLabels) {
  LinePlot p("GCN on <Cora>");
  p.x_label("epoch").y_label("accuracy");
  p.add_series("train", {1, 2, 3, 4, 5}, {0.2, 0.5, 0.7, 0.8, 0.85});
  p.add_series("val", {1, 2, 3, 4, 5}, {0.1, 0.4, 0.6, 0.7, 0.72});
  const std::string svg = p.svg();
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("</svg>\n"));
  EXPECT_THAT(polyline_sizes(svg), ElementsAre(5, 5));
  EXPECT_THAT(texts(svg, "tick-x"), ElementsAre("1", "2", "3", "4", "5"));
  EXPECT_THAT(texts(svg, "tick-y"), ElementsAre("0.0", "0.2", "0.4", "0.6", "0.8", "1.0"));
  EXPECT_THAT(texts(svg, "legend-label"), ElementsAre("train", "val"));
  EXPECT_THAT(texts(svg, "title"), ElementsAre("GCN on &lt;Cora&gt;"));
  EXPECT_THAT(texts(svg, "x-label"), ElementsAre("epoch"));
  EXPECT_THAT(texts(svg, "y-label"), ElementsAre("accuracy"));
}

TEST(LinePlot, NonFinitePointsBreakTheLine) {
  const double nan = std::nan("");
  LinePlot p;
  p.add_series("loss", {1.0, 0.8, nan, 0.5, 0.4, 0.3, INFINITY, 0.2});
  const std::string svg = p.svg();
  // Runs: [0, 1], [3, 4, 5], [7] (a lone point is a dot).
  EXPECT_THAT(polyline_sizes(svg), ElementsAre(2, 3));
  EXPECT_THAT(svg, HasSubstr("<circle class=\"series-dot\""));
  EXPECT_FALSE(std::regex_search(svg, std::regex("[ ,\"](-?nan|-?inf)")));
}

TEST(LinePlot, LogYSkipsNonPositiveAndTicksDecades) {
  LinePlot p;
  p.log_y().add_series("loss", {1, 2, 3, 4}, {2.0, 0.0, 0.05, 0.003});
  const std::string svg = p.svg();
  EXPECT_THAT(texts(svg, "tick-y"), ElementsAre("0.001", "0.01", "0.1", "1", "10"));
  EXPECT_THAT(polyline_sizes(svg), ElementsAre(2));  // 0.0 dropped: [2.0] dot, [0.05, 0.003]
  // Within one decade, 2 and 5 are ticked too.
  LinePlot q;
  q.log_y().add_series("a", {1, 2}, {2.0, 7.0});
  EXPECT_THAT(texts(q.svg(), "tick-y"), ElementsAre("1", "2", "5", "10"));
}

TEST(LinePlot, EmptyPlotAndErrors) {
  LinePlot p("nothing");
  EXPECT_THAT(texts(p.svg(), "tick-y").size(), 6u);  // axes over [0, 1]
  EXPECT_THAT(error_of([&] {
                p.add_series("a", {1, 2}, {1});
              }),
              HasSubstr("LinePlot: series 'a' has 2 x values and 1 y values"));
  EXPECT_THAT(error_of([&] { p.save_svg("/proc/none/x.svg"); }),
              HasSubstr("LinePlot: cannot open '/proc/none/x.svg'"));
  const auto path = std::filesystem::temp_directory_path() / "stackgrad_test_plot.svg";
  p.save_svg(path.string());
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_THAT(first, HasSubstr("<svg"));
  std::filesystem::remove(path);
}

}  // namespace

namespace {

TEST(JsonlSeries, OneSeriesPerFieldAndGroup) {
  std::vector<JsonRecord> rows;
  for (int epoch = 1; epoch <= 4; ++epoch) {
    rows.push_back({{{"epoch", epoch}, {"split", "train"}, {"loss", 1.0 / epoch}}});
    if (epoch % 2 == 0)
      rows.push_back({{{"epoch", epoch}, {"split", "val"}, {"loss", 2.0 / epoch}, {"acc", 0.5}}});
  }
  EXPECT_THAT(numeric_fields(rows), ElementsAre("epoch", "loss", "acc"));
  LinePlot p;
  EXPECT_EQ(add_jsonl_series(p, rows, "epoch", {"loss"}, "split"), 2);
  const std::string svg = p.svg();
  EXPECT_THAT(polyline_sizes(svg), ElementsAre(4, 2));
  EXPECT_THAT(texts(svg, "legend-label"), ElementsAre("loss [split=train]", "loss [split=val]"));
  LinePlot by_split;  // only val records carry acc: one series
  EXPECT_EQ(add_jsonl_series(by_split, rows, "epoch", {"acc"}, "split"), 1);
  // Without grouping: "acc" is on two of the six records, which make one line; a null value
  // breaks the loss line.
  rows[2].fields[2].second = JsonValue();
  LinePlot q;
  EXPECT_EQ(add_jsonl_series(q, rows, "epoch", {"acc"}, "", "run1 "), 1);
  EXPECT_THAT(polyline_sizes(q.svg()), ElementsAre(2));
  LinePlot all;
  EXPECT_EQ(add_jsonl_series(all, rows, "", {"loss"}), 1);
  EXPECT_THAT(polyline_sizes(all.svg()), ElementsAre(2, 3));
  EXPECT_THAT(texts(q.svg(), "legend-label"), ElementsAre("run1 acc"));
  EXPECT_THAT(error_of([&] { add_jsonl_series(q, rows, "step", {"loss"}); }),
              HasSubstr("no record has the x field 'step' (numeric fields: epoch, loss, acc)"));
  EXPECT_THAT(error_of([&] { add_jsonl_series(q, rows, "epoch", {"f1"}); }),
              HasSubstr("no record has the y field 'f1'"));
}

}  // namespace
