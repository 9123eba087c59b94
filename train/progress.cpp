#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace stackgrad::train {

bool ProgressLine::enabled_by_default() {
  if (const char* env = std::getenv("STACKGRAD_PROGRESS"); env && *env) return std::strcmp(env, "0") != 0;
  return ::isatty(STDERR_FILENO) == 1;
}

ProgressLine::ProgressLine(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), enabled_(enabled_by_default()) {
  reset(total);
}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::reset(int64_t total) {
  total_ = total;
  done_ = 0;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - std::chrono::seconds(1);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string format_rate(double r) {
  char buf[32];
  if (r >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", r / 1e6);
  else if (r >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", r / 1e3);
  else if (r >= 10) std::snprintf(buf, sizeof buf, "%.0f", r);
  else std::snprintf(buf, sizeof buf, "%.2f", r);
  return buf;
}

void ProgressLine::update(int64_t done, std::initializer_list<std::pair<const char*, double>> values) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  // (an ostringstream: GCC 12 warns falsely (-Wrestrict) on chains of std::string appends)
  std::ostringstream os;
  os << "[" << label_ << "]";
  if (!prefix_.empty()) os << " " << prefix_;
  os << " " << unit_ << " " << done_;
  if (total_ > 0) os << "/" << total_;
  os.precision(4);
  for (const auto& [name, value] : values) os << "  " << name << " " << value;
  if (elapsed > 0 && done_ > 0) {
    double rate = double(done_) / elapsed;
    os << "  " << format_rate(rate) << " " << unit_ << "/s";
    if (total_ > 0) os << "  ETA " << format_duration(double(total_ - done_) / rate);
  }
  text_ = os.str();
  draw(false);
}

void ProgressLine::draw(bool force) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  // \r returns to the line start, \033[K clears what a longer previous line left.
  std::fprintf(stderr, "\r%s\033[K", text_.c_str());
  std::fflush(stderr);
  open_ = true;
}

void ProgressLine::finish() {
  if (!enabled_ || !open_) return;
  draw(true);
  std::fputc('\n', stderr);
  open_ = false;
}

}  // namespace stackgrad::train
