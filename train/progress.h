// A progress line on stderr for long loops:
//   [train] epoch 3/10  step 120/469  loss 0.3012  acc 0.912  1.9k step/s  ETA 0:12
// redrawn in place at most ten times a second. It is quiet when stderr is not a terminal (logs
// and CI stay clean); STACKGRAD_PROGRESS=1 forces it on, =0 off.
//
//   ProgressLine line("train", steps_per_epoch);
//   for (...) { ...; line.update(step + 1, {{"loss", loss}}); }
//   line.finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

namespace stackgrad::train {

class ProgressLine {
 public:
  // `total` steps (0 when unknown: no ETA); `unit` names a step in the rate ("step", "img").
  ProgressLine(std::string label, int64_t total, std::string unit = "step");
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Text shown after the label, e.g. "epoch 3/10".
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  // Reports `done` steps so far and the current values of a few named numbers.
  void update(int64_t done, std::initializer_list<std::pair<const char*, double>> values = {});
  // Draws the final state and ends the line (no-op when quiet or already finished).
  void finish();
  // Restarts the clock and the count (a new epoch on the same line object).
  void reset(int64_t total);

  bool shown() const { return enabled_; }
  // The line as it would be drawn now (for tests and logs).
  const std::string& text() const { return text_; }
  // Whether progress lines are drawn in this process (stderr a TTY, or STACKGRAD_PROGRESS).
  static bool enabled_by_default();

 private:
  void draw(bool force);
  std::string label_, unit_, prefix_, text_;
  int64_t total_ = 0, done_ = 0;
  bool enabled_ = false, open_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "0:12", "1:02:03".
std::string format_duration(double seconds);
// "950", "1.9k", "3.2M".
std::string format_rate(double per_second);

}  // namespace stackgrad::train
