#pragma once
// Lateness statistics for the periodic-timer latency probe of vnuma-load.
// Pure logic, no I/O; thread-compatible (no shared state).
#include <cstddef>
#include <string>
#include <vector>

namespace vnuma::e2e {

/// Summary of timer lateness samples, all in microseconds.
struct LatencySummary {
  std::size_t samples = 0;
  std::size_t missedPeriods = 0;  ///< periods skipped because a wake-up came more than a period late
  double meanUs = 0;
  double p50Us = 0;
  double p90Us = 0;
  double p99Us = 0;
  double maxUs = 0;
};

/// Nearest-rank percentile (q in [0,1]) of `sortedUs` (ascending). Returns 0 for an empty input.
double percentile(const std::vector<double>& sortedUs, double q);

/// Sorts a copy of `latenessUs` and summarises it; `missedPeriods` is copied through.
LatencySummary summarize(std::vector<double> latenessUs, std::size_t missedPeriods);

/// One-line JSON object: {"samples":..,"missed":..,"mean_us":..,"p50_us":..,"p90_us":..,
/// "p99_us":..,"max_us":..}.
std::string toJson(const LatencySummary& s);

}  // namespace vnuma::e2e
