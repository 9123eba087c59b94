#include "timetable.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace stackgrad::flatland {

namespace {

double pairwise_sum(const double* a, size_t n) {
  constexpr size_t kBlock = 128;
  if (n < 8) {
    double s = 0.0;  // numpy starts from -0.0; the sum of non-negative times is the same
    for (size_t i = 0; i < n; ++i) s += a[i];
    return s;
  }
  if (n <= kBlock) {
    double r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int k = 0; k < 8; ++k) r[k] += a[i + k];
    }
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) s += a[i];
    return s;
  }
  size_t half = n / 2;
  half -= half % 8;
  return pairwise_sum(a, half) + pairwise_sum(a + half, n - half);
}

}  // namespace

double numpy_sum(const std::vector<double>& values) {
  return pairwise_sum(values.data(), values.size());
}

Timetable make_timetable(int height, int width, const std::vector<AgentSpec>& agents,
                         const std::vector<int>& path_lengths, int n_cities, Rng& rng) {
  const size_t n = agents.size();
  SG_CHECK(n > 0, "make_timetable: expected at least one agent");
  SG_CHECK(path_lengths.size() == n, "make_timetable: expected ", n, " path lengths, got ",
           path_lengths.size());
  SG_CHECK(n_cities > 0, "make_timetable: expected n_cities > 0, got ", n_cities);
  std::vector<double> times(n);
  for (size_t i = 0; i < n; ++i) times[i] = path_lengths[i] / agents[i].speed;
  const double mean_time = numpy_sum(times) / static_cast<double>(n);
  const double longest = *std::max_element(times.begin(), times.end());
  const double mean_delay = mean_time * 0.2;

  const int old_steps =
      static_cast<int>(4 * 2 * (width + height + static_cast<double>(n) / n_cities));
  const int max_old = static_cast<int>(old_steps * 3.0);
  const int max_new = static_cast<int>(std::ceil(longest * 1.5) + mean_delay);
  Timetable tt;
  tt.max_episode_steps = std::min(max_new, max_old);
  const int end_buffer = static_cast<int>(tt.max_episode_steps * 0.05);
  const int latest_arrival_max = tt.max_episode_steps - end_buffer;
  for (size_t i = 0; i < n; ++i) {
    const int travel = static_cast<int>(std::ceil(times[i] * 1.3 + mean_delay));
    const int window = std::max(latest_arrival_max - travel, 1);
    const int departure = static_cast<int>(rng.randint(0, window));
    tt.travel_time_max.push_back(travel);
    tt.earliest_departure.push_back(departure);
    tt.latest_arrival.push_back(departure + travel);
  }
  return tt;
}

}  // namespace stackgrad::flatland
