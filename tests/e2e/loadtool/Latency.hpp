#pragma once
// Lateness statistics for the periodic-timer latency probe of vnuma-load.
// Pure logic, no I/O; thread-compatible (no shared state).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vnuma::e2e {

/// Summary of timer lateness samples, all in microseconds.
struct LatencySummary {
  std::size_t samples = 0;
  std::size_t missedPeriods =
      0;  ///< deadlines that had passed before the wake-up for an earlier one
  double meanUs = 0;
  double p50Us = 0;
  double p90Us = 0;
  double p99Us = 0;
  double maxUs = 0;
};

/// Nearest-rank percentile (q in [0,1]) of `sortedUs` (ascending). Returns 0 for an empty input.
double percentile(const std::vector<double>& sortedUs, double q);

/// Records a wake-up at `nowNs` for the deadline `deadlineNs` of a periodic schedule and returns
/// the next deadline still ahead. Every deadline that has passed by `nowNs` is one sample, late
/// by `nowNs - deadline` (cyclictest's accounting): a thread that sleeps through k periods adds k
/// samples, so the percentiles are over ticks, not over wake-ups, and a stalled thread cannot hide
/// its tail by waking up rarely. Each deadline after the first also counts in `missed`.
std::int64_t recordWake(std::int64_t deadlineNs, std::int64_t periodNs, std::int64_t nowNs,
                        std::vector<double>& latenessUs, std::size_t& missed);

/// Sorts a copy of `latenessUs` and summarises it; `missedPeriods` is copied through.
LatencySummary summarize(std::vector<double> latenessUs, std::size_t missedPeriods);

/// One-line JSON object: {"samples":..,"missed":..,"mean_us":..,"p50_us":..,"p90_us":..,
/// "p99_us":..,"max_us":..}.
std::string toJson(const LatencySummary& s);

}  // namespace vnuma::e2e
