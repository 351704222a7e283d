#include "host-broker/policy/FairShare.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vnuma::broker {

std::vector<double> weightedMaxMinShares(double supply, const std::vector<ShareInput>& in) {
  const std::size_t n = in.size();
  std::vector<double> out(n);
  auto at = [&](double lambda) {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = std::clamp(in[i].weight * lambda, in[i].floor, std::max(in[i].floor, in[i].cap));
      sum += out[i];
    }
    return sum;
  };
  double maxLambda = 0;
  for (const auto& x : in)
    maxLambda = std::max(maxLambda, std::max(x.cap, x.floor) / std::max(x.weight, 1e-12));
  if (at(maxLambda) <= supply + 1e-9) return out;  // every cap met
  double lo = 0, hi = maxLambda;
  if (at(0) >= supply) return out;  // floors alone use it all
  for (int it = 0; it < 100 && hi - lo > 1e-12 * std::max(1.0, hi); ++it) {
    double mid = 0.5 * (lo + hi);
    if (at(mid) > supply)
      hi = mid;
    else
      lo = mid;
  }
  at(lo);
  return out;
}

std::vector<unsigned> roundShares(const std::vector<double>& alloc,
                                  const std::vector<ShareInput>& in, unsigned supply,
                                  double minFraction) {
  const std::size_t n = alloc.size();
  std::vector<unsigned> c(n);
  long total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    c[i] = static_cast<unsigned>(std::floor(alloc[i] + 1e-9));
    c[i] = std::max(c[i], static_cast<unsigned>(std::ceil(in[i].floor - 1e-9)));
    total += c[i];
  }
  // Order of the +1s: VMs that would otherwise hand a pCPU over first, then largest fraction.
  std::vector<double> frac(n);
  std::vector<char> wouldLose(n);
  for (std::size_t i = 0; i < n; ++i) {
    frac[i] = alloc[i] - std::floor(alloc[i] + 1e-9);
    wouldLose[i] = in[i].held > c[i];
  }
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (wouldLose[a] != wouldLose[b]) return wouldLose[a] > wouldLose[b];
    return frac[a] > frac[b];
  });
  std::vector<char> up(n, 0);
  auto roundUp = [&](long limit, double threshold) {
    for (std::size_t i : order) {
      if (total >= limit) break;
      if (frac[i] <= threshold || up[i] ||
          c[i] + 1 > static_cast<unsigned>(std::ceil(std::max(in[i].cap, in[i].floor) - 1e-9)))
        continue;
      up[i] = 1;
      c[i]++;
      total++;
    }
  };
  roundUp(static_cast<long>(supply), minFraction);
  // Work-conserving: the pCPUs the shares add up to are all handed out, even when they are
  // spread as small fractions over many VMs (contention with many VMs).
  const double sum = std::accumulate(alloc.begin(), alloc.end(), 0.0);
  roundUp(std::min(static_cast<long>(supply), std::lround(sum)), 1e-9);
  return c;
}

}  // namespace vnuma::broker
