#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "host-broker/policy/FairShare.hpp"

namespace vnuma::broker {
namespace {

struct SharesCase {
  const char* description;
  double supply;
  std::vector<ShareInput> in;  // {floor, cap, weight}
  std::vector<double> expect;
};

TEST(FairShare, WeightedMaxMinSharesTable) {
  const std::vector<SharesCase> cases = {
      {"equal weights, demand above supply: an even split", 16, {{1, 16, 1}, {1, 16, 1}}, {8, 8}},
      {"weights 3:1 split 12:4", 16, {{1, 16, 3}, {1, 16, 1}}, {12, 4}},
      {"caps below the supply: every VM gets its cap (demand met)",
       16,
       {{1, 3.2, 1}, {1, 5, 1}},
       {3.2, 5}},
      {"a capped VM's leftover goes to the others (max-min)",
       16,
       {{1, 2, 1}, {1, 16, 1}, {1, 16, 1}},
       {2, 7, 7}},
      {"weighted and capped together", 12, {{1, 2, 2}, {1, 12, 1}, {1, 12, 1}}, {2, 5, 5}},
      {"a floor is granted even with a tiny weight", 10, {{4, 10, 0.01}, {1, 10, 1}}, {4, 6}},
      {"floors alone exceed the supply: every VM gets its floor",
       4,
       {{3, 8, 1}, {3, 8, 1}},
       {3, 3}},
      {"a floor above the cap wins", 8, {{2, 1, 1}, {1, 8, 1}}, {2, 6}},
      {"fractional supply split by weight", 3, {{0, 3, 1}, {0, 3, 2}}, {1, 2}},
      {"no VMs", 8, {}, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto got = weightedMaxMinShares(c.supply, c.in);
    ASSERT_EQ(got.size(), c.expect.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], c.expect[i], 1e-6) << "vm " << i;
  }
}

struct RoundCase {
  const char* description;
  std::vector<double> alloc;
  std::vector<ShareInput> in;
  unsigned supply;
  std::vector<unsigned> expect;
};

TEST(FairShare, RoundSharesTable) {
  std::vector<RoundCase> cases = {
      {"whole shares stay as they are", {8, 8}, {{1, 16, 1}, {1, 16, 1}}, 16, {8, 8}},
      {"the largest fraction gets the leftover pCPU",
       {3.2, 12.8},
       {{1, 3.2, 1}, {1, 16, 1}},
       16,
       {3, 13}},
      {"a VM that would lose a pCPU keeps it before another gains one",
       {3.2, 12.8},
       {{1, 3.2, 1, 4}, {1, 16, 1, 12}},
       16,
       {4, 12}},
      {"and the other way round: the holder of the 16th pCPU keeps it",
       {3.2, 12.8},
       {{1, 3.2, 1, 3}, {1, 16, 1, 13}},
       16,
       {3, 13}},
      {"holding more than the share rounded up gives no extra pCPU",
       {3.2, 12.8},
       {{1, 3.2, 1, 8}, {1, 16, 1, 8}},
       16,
       {4, 12}},
      {"a tiny fraction gets no pCPU while the shares leave supply over",
       {3.02, 5},
       {{1, 3.02, 1}, {1, 5, 1}},
       16,
       {3, 5}},
      {"rounding up stops at the cap rounded up", {3.5}, {{1, 3.5, 1}}, 16, {4}},
      {"rounding up never passes the supply", {2.5, 2.5}, {{1, 4, 1}, {1, 4, 1}}, 5, {3, 2}},
      {"the floor is kept even when the share is below it",
       {0.5, 3},
       {{1, 1, 1}, {1, 3, 1}},
       16,
       {1, 3}},
  };
  {
    // 25 VMs sharing 101 pCPUs: 4.04 each. Every fraction is below the 0.05 threshold, yet all
    // 101 pCPUs must be handed out (work-conserving): one VM gets 5.
    RoundCase c{
        "many small fractions under contention still use the whole supply", {}, {}, 101, {}};
    for (int i = 0; i < 25; ++i) {
      c.alloc.push_back(4.04);
      c.in.push_back({1, 10, 1});
      c.expect.push_back(i == 0 ? 5 : 4);
    }
    cases.push_back(std::move(c));
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    EXPECT_EQ(roundShares(c.alloc, c.in, c.supply), c.expect);
  }
}

// Random inputs: shares respect floor/cap, add up to the supply when caps allow, and rounding
// hands out exactly that many whole pCPUs (never more than the supply).
TEST(FairShare, PropertiesOverRandomInputs) {
  for (unsigned seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const unsigned supply = std::uniform_int_distribution<unsigned>(4, 512)(rng);
    const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 40)(rng);
    std::vector<ShareInput> in(n);
    double floors = 0, caps = 0;
    for (auto& x : in) {
      x.floor = std::uniform_int_distribution<int>(1, 3)(rng);
      x.cap = x.floor + std::uniform_real_distribution<double>(0, 40)(rng);
      x.weight = std::uniform_real_distribution<double>(0.1, 8)(rng);
      floors += x.floor;
      caps += x.cap;
    }
    if (floors > supply) continue;  // the ledger refuses floors that do not fit
    auto shares = weightedMaxMinShares(supply, in);
    const double sum = std::accumulate(shares.begin(), shares.end(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_GE(shares[i], in[i].floor - 1e-9);
      EXPECT_LE(shares[i], in[i].cap + 1e-9);
    }
    EXPECT_NEAR(sum, std::min<double>(supply, caps), 1e-6);
    auto counts = roundShares(shares, in, supply);
    const unsigned total = std::accumulate(counts.begin(), counts.end(), 0u);
    EXPECT_LE(total, supply);
    if (caps >= supply) {
      EXPECT_EQ(total, supply) << "contended: every pCPU is handed out";
    }
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_GE(counts[i], in[i].floor);
      EXPECT_LE(counts[i], std::ceil(in[i].cap - 1e-9));
    }
  }
}

}  // namespace
}  // namespace vnuma::broker
