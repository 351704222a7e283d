#pragma once
// Weighted max-min fair shares with floors and caps, and their rounding to whole pCPUs.
// Pure functions; used by the policies and tested on their own.

#include <vector>

namespace vnuma::broker {

struct ShareInput {
  double floor = 1;   // always granted (even if supply is short: floors come first)
  double cap = 1;     // at most this (min of ceiling and demand); >= floor
  double weight = 1;  // > 0
  unsigned held = 0;  // pCPUs it holds now (rounding only: see roundShares)
};

// alloc_i = clamp(weight_i * lambda, floor_i, cap_i) with lambda chosen so that sum(alloc) equals
// `supply` when the caps allow it (otherwise every VM gets its cap: demand is met). When the
// floors alone exceed the supply every VM gets its floor.
std::vector<double> weightedMaxMinShares(double supply, const std::vector<ShareInput>& in);

// Whole pCPUs: floor(alloc), then +1 to the largest fractional parts (> minFraction) while the
// total stays <= supply and each stays <= its cap rounded up; then, if the total is still below
// round(sum of alloc) (many small fractions), +1 to the largest remaining fractions until it is
// not, so the pCPUs the shares add up to are all handed out. The +1s go first to VMs that hold
// more than floor(alloc) (`held`): they keep a pCPU rather than hand it over, so a VM whose
// share sits between two counts is not moved back and forth (every count stays within
// [floor(alloc), ceil(alloc)] either way).
std::vector<unsigned> roundShares(const std::vector<double>& alloc,
                                  const std::vector<ShareInput>& in, unsigned supply,
                                  double minFraction = 0.05);

}  // namespace vnuma::broker
