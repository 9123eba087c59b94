// plot_jsonl: draws metrics from JSON-lines files (as written by train::MetricsWriter and every
// executable's --out) as an SVG line plot.
//
//   plot_jsonl metrics.jsonl --x epoch --y loss,val_acc --out curve.svg
//   plot_jsonl run1.jsonl run2.jsonl --y val_acc --by split --title "GCN on Cora"
//   plot_jsonl metrics.jsonl --y loss --log-y
#include <filesystem>
#include <iostream>

#include "train/cli.h"
#include "train/jsonl.h"
#include "train/plot.h"

using namespace stackgrad;

namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  train::Cli cli("plot_jsonl", "Plots fields of JSON-lines metrics files as an SVG line plot.");
  std::vector<std::string> files;
  std::string x = "epoch", y, by, out = "curve.svg", title, x_label, y_label;
  bool log_y = false;
  auto& app = cli.app();
  app.add_option("files", files, "JSON-lines files (one series set per file)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--x", x, "field for the x axis (empty: the line number)");
  app.add_option("--y", y, "comma-separated fields to plot (default: every numeric field)");
  app.add_option("--by", by, "one series per distinct value of this field (e.g. split)");
  app.add_option("--out", out, "the SVG file to write");
  app.add_option("--title", title, "plot title (default: the file name)");
  app.add_option("--x-label", x_label, "x axis label (default: the x field)");
  app.add_option("--y-label", y_label, "y axis label (default: the y field when there is one)");
  app.add_flag("--log-y", log_y, "logarithmic y axis");
  cli.parse(argc, argv);

  return cli.run_main([&] {
    const std::string first = std::filesystem::path(files[0]).filename().string();
    train::LinePlot plot(title.empty() ? first : title);
    plot.log_y(log_y);
    int series = 0;
    std::vector<std::string> ys = split_commas(y);
    for (const std::string& file : files) {
      const auto rows = train::read_jsonl(file);
      SG_CHECK(!rows.empty(), "plot_jsonl: ", file, " holds no records");
      std::vector<std::string> fields = ys;
      if (fields.empty())
        for (const std::string& f : train::numeric_fields(rows))
          if (f != x && f != by) fields.push_back(f);
      const std::string prefix =
          files.size() > 1 ? std::filesystem::path(file).stem().string() + ": " : "";
      series += train::add_jsonl_series(plot, rows, x, fields, by, prefix);
      if (y_label.empty() && fields.size() == 1) y_label = fields[0];
    }
    plot.x_label(x_label.empty() ? (x.empty() ? "record" : x) : x_label).y_label(y_label);
    plot.save_svg(out);
    std::cout << "plot_jsonl: wrote " << out << " (" << series << " series)\n";
    return 0;
  });
}
