#include "tests/e2e/loadtool/Latency.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace vnuma::e2e {

double percentile(const std::vector<double>& sortedUs, double q) {
  if (sortedUs.empty()) {
    return 0;
  }
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sortedUs.size())));
  if (rank == 0) {
    rank = 1;
  }
  return sortedUs[rank - 1];
}

std::int64_t recordWake(std::int64_t deadlineNs, std::int64_t periodNs, std::int64_t nowNs,
                        std::vector<double>& latenessUs, std::size_t& missed) {
  latenessUs.push_back(static_cast<double>(nowNs - deadlineNs) / 1000.0);
  deadlineNs += periodNs;
  while (deadlineNs <= nowNs) {
    latenessUs.push_back(static_cast<double>(nowNs - deadlineNs) / 1000.0);
    ++missed;
    deadlineNs += periodNs;
  }
  return deadlineNs;
}

LatencySummary summarize(std::vector<double> latenessUs, std::size_t missedPeriods) {
  LatencySummary s;
  s.missedPeriods = missedPeriods;
  s.samples = latenessUs.size();
  if (latenessUs.empty()) {
    return s;
  }
  std::sort(latenessUs.begin(), latenessUs.end());
  s.meanUs = std::accumulate(latenessUs.begin(), latenessUs.end(), 0.0) /
             static_cast<double>(latenessUs.size());
  s.p50Us = percentile(latenessUs, 0.50);
  s.p90Us = percentile(latenessUs, 0.90);
  s.p99Us = percentile(latenessUs, 0.99);
  s.maxUs = latenessUs.back();
  return s;
}

std::string toJson(const LatencySummary& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"samples\":%zu,\"missed\":%zu,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
                "\"p99_us\":%.1f,\"max_us\":%.1f}",
                s.samples, s.missedPeriods, s.meanUs, s.p50Us, s.p90Us, s.p99Us, s.maxUs);
  return buf;
}

}  // namespace vnuma::e2e
