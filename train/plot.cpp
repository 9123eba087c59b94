#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/core/error.h"

namespace stackgrad::train {

namespace {

// Matplotlib's "tab10" colours: distinct, and readable by most colour-blind viewers.
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string escape_xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// The smallest of 1, 2, 5, 10 times 10^k that is >= raw.
double nice_step(double raw) {
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw * (1 - 1e-9)) return m * p;
  return 10 * p;
}

// An axis: data range -> pixel range, with its ticks (in data units).
struct Axis {
  double lo = 0, hi = 1;      // in plotted units (log10 of y on a log axis)
  std::vector<double> ticks;  // in plotted units
  std::vector<std::string> labels;
};

Axis linear_axis(double lo, double hi) {
  if (!(lo <= hi)) lo = 0, hi = 1;  // no finite data
  if (lo == hi) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  Axis a;
  a.ticks = nice_ticks(lo, hi);
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  const double step = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : 1.0;
  for (double t : a.ticks) a.labels.push_back(format_tick(t, step));
  return a;
}

// Decades covering [lo, hi] (positive); with fewer than three decade ticks, 2 and 5 times each
// decade are ticked too.
Axis log_axis(double lo, double hi) {
  if (!(lo <= hi) || lo <= 0) lo = 1, hi = 10;
  Axis a;
  int first = static_cast<int>(std::floor(std::log10(lo) + 1e-12));
  int last = static_cast<int>(std::ceil(std::log10(hi) - 1e-12));
  if (last <= first) last = first + 1;
  const bool dense = last - first < 2;
  a.lo = first;
  a.hi = last;
  for (int d = first; d <= last; ++d) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m > 1 && (!dense || d == last)) continue;
      const double v = m * std::pow(10.0, d);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", v);
      a.ticks.push_back(std::log10(v));
      a.labels.push_back(buf);
    }
  }
  return a;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  SG_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "nice_ticks: bad range [", lo, ", ",
           hi, "]");
  if (lo == hi) return {lo};
  const double step = nice_step((hi - lo) / std::max(1, target - 1));
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  // k / (1 / step) for fractional steps: 9 / 500 is the double nearest 0.018, 9 * 0.002 is not.
  const double inverse = step < 1 ? std::round(1 / step) : 0;
  for (double k = first; k <= last + 0.5; k += 1)
    ticks.push_back(step < 1 ? k / inverse : k * step);
  return ticks;
}

std::string format_tick(double value, double step) {
  char buf[32];
  if (std::abs(value) < step * 1e-6) value = 0;  // no "-0" or "1e-17" at the origin
  const double magnitude = std::max(std::abs(value), step);
  if (magnitude >= 1e6 || step < 1e-4) {
    std::snprintf(buf, sizeof buf, "%g", value);
  } else {
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  }
  return buf;
}

LinePlot& LinePlot::size(int width, int height) {
  SG_CHECK(width >= 200 && height >= 150, "LinePlot: size ", width, "x", height,
           " is too small (at least 200x150)");
  width_ = width;
  height_ = height;
  return *this;
}

LinePlot& LinePlot::add_series(std::string name, std::vector<double> xs, std::vector<double> ys) {
  SG_CHECK(xs.size() == ys.size(), "LinePlot: series '", name, "' has ", xs.size(),
           " x values and ", ys.size(), " y values");
  series_.push_back({std::move(name), std::move(xs), std::move(ys)});
  return *this;
}

LinePlot& LinePlot::add_series(std::string name, std::vector<double> ys) {
  std::vector<double> xs(ys.size());
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(i);
  return add_series(std::move(name), std::move(xs), std::move(ys));
}

std::string LinePlot::svg() const {
  auto usable = [this](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!log_y_ || y > 0);
  };
  const double inf = std::numeric_limits<double>::infinity();
  double x_lo = inf, x_hi = -inf, y_lo = inf, y_hi = -inf;
  for (const Series& s : series_)
    for (size_t i = 0; i < s.xs.size(); ++i)
      if (usable(s.xs[i], s.ys[i])) {
        x_lo = std::min(x_lo, s.xs[i]);
        x_hi = std::max(x_hi, s.xs[i]);
        y_lo = std::min(y_lo, s.ys[i]);
        y_hi = std::max(y_hi, s.ys[i]);
      }
  const Axis ax = linear_axis(x_lo, x_hi);
  const Axis ay = log_y_ ? log_axis(y_lo, y_hi) : linear_axis(y_lo, y_hi);

  // The plot area inside the margins (room for the title, tick labels and axis labels).
  const double left = 72, right = width_ - 20.0, top = title_.empty() ? 20.0 : 40.0;
  const double bottom = height_ - (x_label_.empty() ? 32.0 : 50.0);
  auto px = [&](double x) { return left + (x - ax.lo) / (ax.hi - ax.lo) * (right - left); };
  auto py = [&](double y) {
    const double v = log_y_ ? std::log10(y) : y;
    return bottom - (v - ay.lo) / (ay.hi - ay.lo) * (bottom - top);
  };
  auto py_plotted = [&](double v) {
    return bottom - (v - ay.lo) / (ay.hi - ay.lo) * (bottom - top);
  };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width_ << "\" height=\"" << height_
    << "\" viewBox=\"0 0 " << width_ << " " << height_
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!title_.empty())
    o << "<text class=\"title\" x=\"" << fmt((left + right) / 2)
      << "\" y=\"24\" text-anchor=\"middle\" "
      << "font-size=\"15\">" << escape_xml(title_) << "</text>\n";
  // Grid lines and tick labels.
  for (size_t i = 0; i < ax.ticks.size(); ++i) {
    const std::string x = fmt(px(ax.ticks[i]));
    o << "<line x1=\"" << x << "\" y1=\"" << fmt(top) << "\" x2=\"" << x << "\" y2=\""
      << fmt(bottom) << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<text class=\"tick-x\" x=\"" << x << "\" y=\"" << fmt(bottom + 16)
      << "\" text-anchor=\"middle\">" << ax.labels[i] << "</text>\n";
  }
  for (size_t i = 0; i < ay.ticks.size(); ++i) {
    const std::string y = fmt(py_plotted(ay.ticks[i]));
    o << "<line x1=\"" << fmt(left) << "\" y1=\"" << y << "\" x2=\"" << fmt(right) << "\" y2=\""
      << y << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<text class=\"tick-y\" x=\"" << fmt(left - 6) << "\" y=\"" << y
      << "\" text-anchor=\"end\" dominant-baseline=\"middle\">" << ay.labels[i] << "</text>\n";
  }
  o << "<rect x=\"" << fmt(left) << "\" y=\"" << fmt(top) << "\" width=\"" << fmt(right - left)
    << "\" height=\"" << fmt(bottom - top) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  if (!x_label_.empty())
    o << "<text class=\"x-label\" x=\"" << fmt((left + right) / 2) << "\" y=\"" << height_ - 12
      << "\" text-anchor=\"middle\">" << escape_xml(x_label_) << "</text>\n";
  if (!y_label_.empty())
    o << "<text class=\"y-label\" transform=\"translate(16," << fmt((top + bottom) / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">" << escape_xml(y_label_) << "</text>\n";

  // Each series: one polyline per run of usable points (a lone point becomes a dot).
  for (size_t k = 0; k < series_.size(); ++k) {
    const Series& s = series_[k];
    const char* color = kColors[k % std::size(kColors)];
    std::vector<std::pair<double, double>> run;
    auto flush = [&]() {
      if (run.size() == 1) {
        o << "<circle class=\"series-dot\" cx=\"" << fmt(run[0].first) << "\" cy=\""
          << fmt(run[0].second) << "\" r=\"2.5\" fill=\"" << color << "\"/>\n";
      } else if (run.size() > 1) {
        o << "<polyline class=\"series\" fill=\"none\" stroke=\"" << color
          << "\" stroke-width=\"1.8\" stroke-linejoin=\"round\" points=\"";
        for (size_t i = 0; i < run.size(); ++i)
          o << (i ? " " : "") << fmt(run[i].first) << "," << fmt(run[i].second);
        o << "\"/>\n";
      }
      run.clear();
    };
    for (size_t i = 0; i < s.xs.size(); ++i) {
      if (usable(s.xs[i], s.ys[i]))
        run.emplace_back(px(s.xs[i]), py(s.ys[i]));
      else
        flush();
    }
    flush();
  }

  // The legend, top right inside the plot area.
  if (!series_.empty()) {
    size_t longest = 0;
    for (const Series& s : series_) longest = std::max(longest, s.name.size());
    const double w = 34 + 7.0 * double(longest), h = 8 + 18.0 * double(series_.size());
    const double lx = right - w - 8, ly = top + 8;
    o << "<rect class=\"legend\" x=\"" << fmt(lx) << "\" y=\"" << fmt(ly) << "\" width=\"" << fmt(w)
      << "\" height=\"" << fmt(h) << "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n";
    for (size_t k = 0; k < series_.size(); ++k) {
      const double y = ly + 13 + 18.0 * double(k);
      const char* color = kColors[k % std::size(kColors)];
      o << "<line x1=\"" << fmt(lx + 6) << "\" y1=\"" << fmt(y) << "\" x2=\"" << fmt(lx + 24)
        << "\" y2=\"" << fmt(y) << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
      o << "<text class=\"legend-label\" x=\"" << fmt(lx + 29) << "\" y=\"" << fmt(y)
        << "\" dominant-baseline=\"middle\">" << escape_xml(series_[k].name) << "</text>\n";
    }
  }
  o << "</svg>\n";
  return o.str();
}

void LinePlot::save_svg(const std::string& path) const {
  std::ofstream out(path);
  SG_CHECK(out.good(), "LinePlot: cannot open '", path, "' for writing");
  out << svg();
  out.close();
  SG_CHECK(out.good(), "LinePlot: writing '", path, "' failed");
}

// --- JSON lines ------------------------------------------------------------------------------

std::vector<std::string> numeric_fields(const std::vector<JsonRecord>& rows) {
  std::vector<std::string> names;
  for (const JsonRecord& r : rows)
    for (const auto& [key, value] : r.fields)
      if (value.is_number() && std::find(names.begin(), names.end(), key) == names.end())
        names.push_back(key);
  return names;
}

int add_jsonl_series(LinePlot& plot, const std::vector<JsonRecord>& rows, const std::string& x,
                     const std::vector<std::string>& ys, const std::string& by,
                     const std::string& prefix) {
  auto present = [&rows](const std::string& key) {
    return std::any_of(rows.begin(), rows.end(), [&](const JsonRecord& r) { return r.has(key); });
  };
  auto field_list = [&rows]() {
    std::string list;
    for (const std::string& f : numeric_fields(rows)) list += (list.empty() ? "" : ", ") + f;
    return list.empty() ? std::string("none") : list;
  };
  SG_CHECK(x.empty() || present(x), "add_jsonl_series: no record has the x field '", x,
           "' (numeric fields: ", field_list(), ")");
  for (const std::string& y : ys)
    SG_CHECK(present(y), "add_jsonl_series: no record has the y field '", y,
             "' (numeric fields: ", field_list(), ")");
  // The groups: distinct values of `by` in order of appearance (one group without it).
  std::vector<std::string> groups;
  if (by.empty()) {
    groups.push_back("");
  } else {
    for (const JsonRecord& r : rows)
      if (const JsonValue* v = r.find(by))
        if (std::find(groups.begin(), groups.end(), v->as_string()) == groups.end())
          groups.push_back(v->as_string());
  }
  int added = 0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const std::string& y : ys) {
    for (const std::string& group : groups) {
      std::vector<double> xs, vs;
      for (size_t i = 0; i < rows.size(); ++i) {
        const JsonRecord& r = rows[i];
        if (!by.empty() && (!r.has(by) || r.find(by)->as_string() != group)) continue;
        // A record without the field is not part of this series (e.g. a validation metric
        // logged every tenth epoch); a null value (a NaN written) is a gap.
        const JsonValue* xv = x.empty() ? nullptr : r.find(x);
        const JsonValue* yv = r.find(y);
        if (!yv || (!x.empty() && !xv)) continue;
        xs.push_back(x.empty() ? double(i) : xv->is_number() ? xv->as_double() : nan);
        vs.push_back(yv->is_number() ? yv->as_double() : nan);
      }
      if (xs.empty()) continue;  // this group never has the field
      std::string name = prefix + y;
      if (!by.empty()) name += " [" + by + "=" + group + "]";
      plot.add_series(std::move(name), std::move(xs), std::move(vs));
      ++added;
    }
  }
  return added;
}

}  // namespace stackgrad::train
