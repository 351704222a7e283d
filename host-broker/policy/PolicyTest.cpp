#include <gtest/gtest.h>

#include <functional>

#include "host-broker/ledger/TestSupport.hpp"
#include "host-broker/policy/Policy.hpp"
#include "host-broker/policy/TestSupport.hpp"

namespace vnuma::broker {
namespace {

using testing::fullVnumaVm;

// A ledger, a policy and agents that report a given demand and ack every grant at once.
struct Rig {
  Ledger ledger;
  std::unique_ptr<Policy> policy;
  PolicyParams params;
  std::map<VmId, VmReport> reports;
  std::int64_t now = 0;

  explicit Rig(HostModel host, const std::string& name = "demand")
      : ledger(Ledger::create(std::move(host)).value()), policy(makePolicy(name).value()) {}

  VmId add(VmSpec spec, CpuSet floor = {}) {
    auto r = ledger.apply(AddVm{spec, floor});
    EXPECT_TRUE(r.ok()) << r.error().describe();
    return spec.uuid;
  }
  VmId add(const std::string& name, unsigned floor = 1, unsigned ceiling = 0, double weight = 1.0) {
    return add(fullVnumaVm(ledger.host(), name, floor, ceiling, weight));
  }
  // Every VM named in `demand` reports that demand on what it holds now; then the policy decides
  // and the plan is carried out.
  Plan tick(const std::map<std::string, double>& demand) {
    for (const auto& [name, d] : demand) {
      const auto* v = ledger.findVm(name);
      reports[v->spec.uuid] = testing::reportFor(v->grantTarget(), d);
    }
    Plan plan = policy->decide(PolicyInput{ledger, reports, params, now});
    testing::executeAndAck(ledger, plan);
    now += params.tickMs;
    return plan;
  }
  CpuSet set(const std::string& name) const { return ledger.findVm(name)->grantTarget(); }
  std::size_t count(const std::string& name) const { return set(name).count(); }
};

HostModel host16() { return HostModel::uniform(2, 8, 2, 32 * kGiB); }

// ---- registry -------------------------------------------------------------------------------

TEST(PolicyRegistry, KnownNamesAndExactErrorForUnknownOnes) {
  EXPECT_EQ(policyNames(), (std::vector<std::string>{"demand", "static"}));
  for (const auto& n : policyNames()) {
    auto p = makePolicy(n);
    ASSERT_TRUE(p.ok()) << n;
    EXPECT_EQ((*p)->name(), n);
  }
  struct Bad {
    const char* description;
    const char* name;
  };
  for (const auto& c :
       {Bad{"a typo", "dmand"}, Bad{"empty", ""}, Bad{"names are case-sensitive", "Static"},
        Bad{"the simulator's unmanaged model is not a policy", "unmanaged"}}) {
    SCOPED_TRACE(c.description);
    auto p = makePolicy(c.name);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(p.error().message(),
              "unknown policy '" + std::string(c.name) + "' (known: demand, static)");
  }
}

// ---- static ---------------------------------------------------------------------------------

struct StaticVm {
  std::string name;
  unsigned floor = 1;
  unsigned ceiling = 0;
  double weight = 1;
};

struct StaticCase {
  const char* description;
  std::vector<StaticVm> vms;
  std::vector<std::size_t> expect;  // pCPUs per VM, in the order of `vms`
  std::string reserved = "";
};

TEST(StaticPolicy, FixedPartitionByWeightWithinFloorAndCeiling) {
  const std::vector<StaticCase> cases = {
      {"equal weights split the host evenly", {{"a"}, {"b"}}, {8, 8}},
      {"weights 3:1 split 12:4", {{"a", 1, 0, 3}, {"b"}}, {12, 4}},
      {"a ceiling caps a VM and the rest goes to the other", {{"a", 1, 4}, {"b"}}, {4, 12}},
      {"a floor is kept even with a tiny weight", {{"a", 6, 0, 0.1}, {"b", 1, 0, 10}}, {6, 10}},
      {"16 pCPUs over three VMs: 6, 5, 5", {{"a"}, {"b"}, {"c"}}, {6, 5, 5}},
      {"reserved pCPUs are not part of the partition", {{"a"}, {"b"}}, {7, 7}, "0-1"},
      {"a lone VM gets every pCPU", {{"a"}}, {16}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto host = host16();
    host.reserved = CpuSet::parseList(c.reserved).value();
    Rig rig(host, "static");
    for (const auto& v : c.vms) rig.add(v.name, v.floor, v.ceiling, v.weight);
    // Demand is ignored: a busy, an idle and a bursting VM all get their fixed share.
    std::map<std::string, double> demand;
    double d = 0;
    for (const auto& v : c.vms) demand[v.name] = d += 7;
    rig.tick(demand);
    std::map<std::string, CpuSet> first;
    for (std::size_t i = 0; i < c.vms.size(); ++i) {
      EXPECT_EQ(rig.count(c.vms[i].name), c.expect[i]) << c.vms[i].name;
      first[c.vms[i].name] = rig.set(c.vms[i].name);
    }
    for (auto& [n, x] : demand) x = 16 - x;
    auto again = rig.tick(demand);
    EXPECT_EQ(again.moves, 0u) << "stable: the same partition every tick";
    for (const auto& v : c.vms) EXPECT_EQ(rig.set(v.name), first[v.name]) << v.name;
  }
}

// ---- demand ---------------------------------------------------------------------------------

TEST(DemandPolicy, GrowsFastAndShrinksSlowly) {
  Rig rig(host16());
  rig.add("a");
  rig.add("b");
  for (int i = 0; i < 8; ++i) rig.tick({{"a", 1}, {"b", 0.2}});
  EXPECT_LE(rig.count("a"), 2u);
  rig.tick({{"a", 12}, {"b", 0.2}});
  EXPECT_GE(rig.count("a"), 7u) << "most of a step in one tick";
  for (int i = 0; i < 3; ++i) rig.tick({{"a", 12}, {"b", 0.2}});
  EXPECT_GE(rig.count("a"), 12u) << "the demand is met within a few ticks";
  const auto before = rig.count("a");
  rig.tick({{"a", 1}, {"b", 0.2}});
  EXPECT_GE(4 * rig.count("a"), 3 * before) << "one quiet tick gives back a quarter at most";
  for (int i = 0; i < 30; ++i) rig.tick({{"a", 1}, {"b", 0.2}});
  EXPECT_LE(rig.count("a"), 2u) << "but a lasting drop is";
}

TEST(DemandPolicy, WeightedFairSharesUnderContention) {
  struct Case {
    const char* description;
    double wa, wb;
    std::size_t ea, eb;
  };
  for (const auto& c : {Case{"equal weights", 1, 1, 8, 8}, Case{"weights 3:1", 3, 1, 12, 4},
                        Case{"weights 1:7", 1, 7, 2, 14}}) {
    SCOPED_TRACE(c.description);
    Rig rig(host16());
    rig.add("a", 1, 0, c.wa);
    rig.add("b", 1, 0, c.wb);
    for (int i = 0; i < 8; ++i) rig.tick({{"a", 16}, {"b", 16}});
    EXPECT_EQ(rig.count("a"), c.ea);
    EXPECT_EQ(rig.count("b"), c.eb);
  }
}

TEST(DemandPolicy, LendsIdlePcpusAndTakesThemBackWhenTheOwnerIsBusyAgain) {
  Rig rig(host16());
  rig.add("a");
  rig.add("b");
  for (int i = 0; i < 5; ++i) rig.tick({{"a", 16}, {"b", 0}});
  EXPECT_EQ(rig.count("a"), 15u) << "work-conserving: all but b's floor";
  EXPECT_EQ(rig.count("b"), 1u);
  std::size_t handedOut = 0;
  for (int i = 0; i < 8; ++i) {
    rig.tick({{"a", 16}, {"b", 16}});
    handedOut = rig.count("a") + rig.count("b");
    EXPECT_EQ(handedOut, 16u) << "tick " << i << ": no pCPU idle while both want more";
  }
  EXPECT_EQ(rig.count("a"), 8u);
  EXPECT_EQ(rig.count("b"), 8u);
}

TEST(DemandPolicy, GivesUpIdlePcpusAtOnceWhenAnotherVmWantsThem) {
  Rig rig(host16());
  rig.add("a");
  rig.add("b");
  for (int i = 0; i < 5; ++i) rig.tick({{"a", 16}, {"b", 0.5}});
  ASSERT_EQ(rig.count("a"), 15u);
  // a's burst is over and b's starts: shrinking slowly would keep a's idle pCPUs from b.
  rig.tick({{"a", 1}, {"b", 14}});
  rig.tick({{"a", 1}, {"b", 14}});
  EXPECT_GE(rig.count("b"), 13u);
  EXPECT_LE(rig.count("a"), 3u);
}

TEST(DemandPolicy, HonoursFloorAndCeilingAndLeavesUnwantedPcpusFree) {
  Rig rig(host16());
  rig.add("a", 3);
  rig.add("b", 1, 5);
  for (int i = 0; i < 6; ++i) rig.tick({{"a", 0}, {"b", 16}});
  EXPECT_EQ(rig.count("a"), 3u) << "the floor, though idle";
  EXPECT_EQ(rig.count("b"), 5u) << "the ceiling, though busier";
  EXPECT_EQ(rig.ledger.freePcpus().count(), 8u);
}

TEST(DemandPolicy, CooldownDelaysAVoluntaryShrink) {
  Rig rig(host16());
  rig.params.placement.cooldownMs = 5000;
  rig.params.demand.shrinkAlpha = 1;  // demand follows at once, so only the cooldown holds it
  rig.add("a");
  rig.add("b");
  rig.tick({{"a", 8}, {"b", 0}});
  rig.tick({{"a", 8}, {"b", 0}});
  const auto grown = rig.count("a");
  ASSERT_GE(grown, 8u);
  const auto lastChange = rig.now - rig.params.tickMs;
  std::int64_t shrunkAt = -1;
  for (int i = 0; i < 10 && shrunkAt < 0; ++i) {
    const auto at = rig.now;
    rig.tick({{"a", 1}, {"b", 0}});
    if (rig.count("a") < grown) shrunkAt = at;
  }
  ASSERT_GE(shrunkAt, 0) << "never shrank";
  EXPECT_GE(shrunkAt - lastChange, 5000);
  EXPECT_LE(shrunkAt - lastChange, 6000);
}

TEST(DemandPolicy, MoveBudgetLimitsRevokesPerTick) {
  Rig rig(host16());
  rig.params.placement.moveBudget = 2;
  rig.add("a");
  rig.add("b");
  for (int i = 0; i < 5; ++i) rig.tick({{"a", 16}, {"b", 0}});
  ASSERT_EQ(rig.count("a"), 15u);
  std::size_t before = rig.count("a");
  for (int i = 0; i < 10; ++i) {
    auto plan = rig.tick({{"a", 16}, {"b", 16}});
    EXPECT_LE(plan.moves, 2u);
    EXPECT_LE(before - rig.count("a"), 2u) << "tick " << i;
    before = rig.count("a");
  }
  EXPECT_EQ(rig.count("a"), 8u) << "it still gets there";
}

TEST(DemandPolicy, AVmWithoutReportsHoldsSteady) {
  Rig rig(host16());
  rig.add("a");
  rig.add("b");
  for (int i = 0; i < 3; ++i) rig.tick({{"a", 6}, {"b", 0}});
  const auto held = rig.set("a");
  rig.reports.erase(rig.ledger.findVm("a")->spec.uuid);
  for (int i = 0; i < 5; ++i) {
    Plan plan = rig.policy->decide(PolicyInput{rig.ledger, rig.reports, rig.params, rig.now});
    testing::executeAndAck(rig.ledger, plan);
    rig.now += 1000;
  }
  EXPECT_EQ(rig.set("a"), held);
}

TEST(DemandPolicy, VoluntaryShrinkKeepsAtMostHysteresisCpusAboveTheShare) {
  struct Case {
    const char* description;
    double hysteresis;
    double demand;
    std::size_t expect;
  };
  const Case cases[] = {
      {"share 2.3, hysteresis 0.75: 3 pCPUs (4 would be 1.7 above)", 0.75, 2.3, 3},
      {"share 2.6, hysteresis 1.5: 4 pCPUs stay (1.4 above)", 1.5, 2.6, 4},
      {"share 2.3, hysteresis 1.5: 3 pCPUs (4 would be 1.7 above)", 1.5, 2.3, 3},
      {"share 3.03, hysteresis 0: the rounded share", 0, 3.03, 3},
      {"share 3.5, hysteresis 0: the fraction is rounded up while nobody else wants it", 0, 3.5, 4},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    Rig rig(host16());
    rig.params.demand.headroom = 0;
    rig.params.demand.shrinkAlpha = 1;
    rig.params.placement.cooldownMs = 0;
    rig.params.placement.hysteresisCpus = c.hysteresis;
    CpuSet four{0, 1, 2, 3};
    auto a = rig.add(fullVnumaVm(rig.ledger.host(), "a"), CpuSet{0});
    ASSERT_TRUE(rig.ledger.apply(SendGrant{a, four, 1}).ok());
    ASSERT_TRUE(rig.ledger.apply(AckGeneration{a, 1}).ok());
    rig.tick({{"a", 4}});
    ASSERT_EQ(rig.count("a"), 4u);
    rig.tick({{"a", c.demand}});
    EXPECT_EQ(rig.count("a"), c.expect);
  }
}

// One VM per node, memory on that node, weights by node size and every VM wanting its node:
// each ends up holding exactly its memory node's pCPUs.
TEST(DemandPolicy, RealSysfsDumpsEveryVmEndsOnItsMemoryNode) {
  for (const char* dump : {"32intel64-2p8co2t+8ve", "128arm-2pa2n8cluster4co", "64amd64-4s2n4ca2co",
                           "16amd64-8n2c-cpusets"}) {
    SCOPED_TRACE(dump);
    const HostModel& host = testing::sysfsHost(dump);
    Rig rig(host);
    std::map<std::string, double> demand;
    for (const auto& n : host.nodes) {
      ASSERT_FALSE(n.cpus.empty());
      ASSERT_GT(n.memBytes, 0u);
      const std::string name = "node" + std::to_string(n.id);
      auto spec = fullVnumaVm(host, name, 1, 0, static_cast<double>(n.cpus.count()), 0, 0);
      spec.bootMemBytes[n.id] = 256 * kMiB;
      rig.add(spec);
      demand[name] = static_cast<double>(n.cpus.count());
    }
    for (int i = 0; i < 10; ++i) rig.tick(demand);
    for (const auto& n : host.nodes)
      EXPECT_EQ(rig.set("node" + std::to_string(n.id)), n.cpus) << "node " << n.id;
  }
}

// ---- memory ---------------------------------------------------------------------------------

struct MemCase {
  const char* description;
  double pressure;                              // memory PSI some, percent
  std::map<unsigned, double> freeFraction;      // guest node (= host node) -> guest free / total
  std::map<unsigned, std::uint64_t> expectMiB;  // guest node -> requested; empty: no targets
  std::function<void(PolicyParams&)> tweak = [](PolicyParams&) {};
  std::uint64_t requestedMiB = 1024;  // on every node before the tick
  bool virtioMem = true;
};

// a holds pCPUs on node 0 only; 1 GiB boot + `requestedMiB` virtio-mem (max 4 GiB) per node.
TEST(DemandPolicy, MemoryFollowsPressureAndFreeMemoryWithinLimits) {
  const std::vector<MemCase> cases = {
      {"pressure with no node low grows the node with the least free, on the host node with its "
       "CPUs",
       20,
       {{0, 0.5}, {1, 0.4}},
       {{0, 1280}, {1, 1024}}},
      {"pressure with follow_memory off grows the node with the least free itself",
       20,
       {{0, 0.5}, {1, 0.4}},
       {{0, 1024}, {1, 1280}},
       [](PolicyParams& p) { p.placement.followMemory = false; }},
      {"little free memory on a node grows it", 0, {{0, 0.05}, {1, 0.2}}, {{0, 1280}, {1, 1024}}},
      {"much free memory shrinks by at most a step",
       0,
       {{0, 0.9}, {1, 0.2}},
       {{0, 768}, {1, 1024}}},
      {"a shrink gives back only the free memory above the middle of the thresholds",
       0,
       {{0, 0.35}, {1, 0.2}},
       {{0, 716}, {1, 1024}},
       [](PolicyParams& p) { p.memory.stepBytes = 1024 * kMiB; }},
      {"between the thresholds nothing changes", 5, {{0, 0.2}, {1, 0.2}}, {{0, 1024}, {1, 1024}}},
      {"growth stops at the device size",
       20,
       {{0, 0.5}, {1, 0.5}},
       {{0, 4096}, {1, 4000}},
       [](PolicyParams&) {},
       4000},
      {"requests are multiples of the device block",
       0,
       {{0, 0.05}, {1, 0.2}},
       {{0, 1026}, {1, 1024}},
       [](PolicyParams& p) { p.memory.stepBytes = 3 * kMiB; }},
      {"memory.enabled = false: no memory targets",
       20,
       {{0, 0.05}, {1, 0.05}},
       {},
       [](PolicyParams& p) { p.memory.enabled = false; }},
      {"a VM without virtio-mem gets no memory targets",
       20,
       {{0, 0.05}, {1, 0.05}},
       {},
       [](PolicyParams&) {},
       0,
       false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    Rig rig(host16());
    rig.params.demand.headroom = 0;  // a demand of 2 is a share of 2: the CPUs stay as they are
    c.tweak(rig.params);
    auto spec =
        fullVnumaVm(rig.ledger.host(), "a", 2, 0, 1.0, 1 * kGiB, c.virtioMem ? 4 * kGiB : 0);
    auto a = rig.add(spec, CpuSet{0, 1});
    ASSERT_TRUE(rig.ledger.apply(SendGrant{a, CpuSet{0, 1}, 1}).ok());
    ASSERT_TRUE(rig.ledger.apply(AckGeneration{a, 1}).ok());
    VmReport r = testing::reportFor(CpuSet{0, 1}, 2);
    r.memPressureSome = c.pressure;
    for (unsigned node : {0u, 1u}) {
      if (c.virtioMem) {
        ASSERT_TRUE(rig.ledger.apply(SetMemoryRequested{a, node, c.requestedMiB * kMiB}).ok());
        ASSERT_TRUE(rig.ledger.apply(ObserveMemoryCurrent{a, node, c.requestedMiB * kMiB}).ok());
      }
      NodeMemReport m;
      m.totalBytes = 1 * kGiB + (c.virtioMem ? c.requestedMiB * kMiB : 0);
      m.freeBytes = m.availableBytes =
          static_cast<std::uint64_t>(c.freeFraction.at(node) * static_cast<double>(m.totalBytes));
      m.virtioPluggedBytes = c.virtioMem ? c.requestedMiB * kMiB : 0;
      r.memByGuestNode[node] = m;
    }
    rig.reports[a] = r;
    Plan plan = rig.policy->decide(PolicyInput{rig.ledger, rig.reports, rig.params, 0});
    EXPECT_EQ(plan.targets.at(a).pcpus.toList(), "0-1");
    std::map<unsigned, std::uint64_t> got;
    for (const auto& [node, bytes] : plan.targets.at(a).memRequestedBytes) got[node] = bytes / kMiB;
    EXPECT_EQ(got, c.expectMiB);
  }
}

TEST(StaticPolicy, LeavesMemoryAlone) {
  Rig rig(host16(), "static");
  auto a = rig.add(fullVnumaVm(rig.ledger.host(), "a", 1, 0, 1.0, 1 * kGiB, 4 * kGiB));
  VmReport r = testing::reportFor(CpuSet{0}, 1);
  r.memPressureSome = 50;
  rig.reports[a] = r;
  Plan plan = rig.policy->decide(PolicyInput{rig.ledger, rig.reports, rig.params, 0});
  EXPECT_TRUE(plan.targets.at(a).memRequestedBytes.empty());
}

}  // namespace
}  // namespace vnuma::broker
