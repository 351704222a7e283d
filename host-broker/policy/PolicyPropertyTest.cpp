// Property tests: for many random seeds (host, VMs, limits, parameters, bursty demand, agents
// that ack late), both policies' plans honour floors and ceilings, never target one pCPU to two
// VMs, hand out every pCPU when demand exceeds supply; and carrying the plans out never puts a
// pCPU under two guests at once.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "host-broker/ledger/TestSupport.hpp"
#include "host-broker/policy/Policy.hpp"
#include "host-broker/policy/TestSupport.hpp"

namespace vnuma::broker {
namespace {

using testing::fullVnumaVm;

// Real machines for every fourth seed; the others are random literal hosts.
const char* const kDumps[] = {"16amd64-8n2c-cpusets", "fakeheterocpunuma", "32intel64-2p8co2t+8ve",
                              "nvidiagpunumanodes"};

HostModel randomHost(std::mt19937& rng, unsigned seed) {
  if (seed % 4 == 0) return testing::sysfsHost(kDumps[(seed / 4) % std::size(kDumps)]);
  const unsigned smt = std::uniform_int_distribution<unsigned>(1, 2)(rng);
  const unsigned nodes = std::uniform_int_distribution<unsigned>(1, 4)(rng);
  const unsigned perNode = smt * std::uniform_int_distribution<unsigned>(1, 6)(rng);
  auto host = HostModel::uniform(nodes, perNode, smt, 16 * kGiB);
  const unsigned reserved = std::uniform_int_distribution<unsigned>(0, 2)(rng);
  for (unsigned p = 0; p < reserved && p + 1 < nodes * perNode; ++p) host.reserved.add(p);
  return host;
}

PolicyParams randomParams(std::mt19937& rng) {
  PolicyParams p;
  p.name = std::bernoulli_distribution(0.3)(rng) ? "static" : "demand";
  p.placement.moveBudget = std::uniform_int_distribution<unsigned>(1, 40)(rng);
  p.placement.cooldownMs = std::uniform_int_distribution<int>(0, 3)(rng) * 1000;
  p.placement.hysteresisCpus = std::uniform_real_distribution<double>(0, 2)(rng);
  p.placement.smtTogether = std::bernoulli_distribution(0.7)(rng);
  p.placement.followMemory = std::bernoulli_distribution(0.7)(rng);
  p.demand.headroom = std::uniform_real_distribution<double>(0, 0.5)(rng);
  p.demand.growAlpha = std::uniform_real_distribution<double>(0.3, 1)(rng);
  p.demand.shrinkAlpha = std::uniform_real_distribution<double>(0.05, 1)(rng);
  return p;
}

// What the guests actually run on: an agent applies a grant as soon as it gets it (and acks it
// later, or not at all).
using Guests = std::map<VmId, CpuSet>;

void expectNoOverlap(const Ledger& ledger, const Guests& guests, const std::string& where) {
  CpuSet used;
  for (const auto& [u, set] : guests) {
    ASSERT_FALSE(set.intersects(used)) << where << ": two guests run on " << (set & used).toList();
    used |= set;
    ASSERT_TRUE(set.isSubsetOf(ledger.vm(u)->held()))
        << where << ": " << u << " runs on pCPUs it does not hold";
  }
  CpuSet held;
  for (const auto& [u, v] : ledger.vms()) {
    ASSERT_FALSE(v.held().intersects(held)) << where << ": pCPU held twice";
    held |= v.held();
  }
  ASSERT_FALSE(held.intersects(ledger.host().reserved)) << where << ": a reserved pCPU is held";
  auto inv = ledger.checkInvariants();
  ASSERT_TRUE(inv.ok()) << where << ": " << inv.error().describe();
}

// `contended`: the VMs wanted more than the host has (then every pCPU must be in a target).
void checkPlan(const Ledger& ledger, const Plan& plan, const std::string& where, bool& contended) {
  const CpuSet grantable = ledger.host().grantable();
  CpuSet targeted;
  double wanted = 0;
  for (const auto& [u, v] : ledger.vms()) {
    auto it = plan.targets.find(u);
    ASSERT_NE(it, plan.targets.end()) << where << ": no target for " << v.spec.name;
    const auto& t = it->second.pcpus;
    ASSERT_TRUE(v.floorPcpus.isSubsetOf(t))
        << where << ": " << v.spec.name << " target " << t.toList() << " drops floor "
        << v.floorPcpus.toList();
    ASSERT_LE(t.count(), v.spec.effectiveCeiling())
        << where << ": " << v.spec.name << " above its ceiling";
    ASSERT_TRUE(t.isSubsetOf(grantable))
        << where << ": " << v.spec.name << " targets a reserved pCPU";
    ASSERT_FALSE(t.intersects(targeted))
        << where << ": " << (t & targeted).toList() << " targeted twice";
    targeted |= t;
    const double ceiling = v.spec.effectiveCeiling();
    wanted += plan.policy == "static"
                  ? ceiling
                  : std::clamp(it->second.demand, double(v.spec.floor), ceiling);
  }
  // Work-conserving: when the VMs want more than there is, nothing is left unplanned.
  contended = wanted > static_cast<double>(grantable.count()) + 1e-6;
  if (contended) {
    ASSERT_EQ(targeted, grantable) << where << ": wanted " << wanted << " but "
                                   << (grantable - targeted).toList() << " left out";
  }
}

TEST(PolicyProperty, RandomSeedsKeepLimitsNeverOverlapAndConserveWork) {
  unsigned contendedPlans = 0;
  for (unsigned seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    const HostModel host = randomHost(rng, seed);
    const PolicyParams params = randomParams(rng);
    const std::string seedText =
        "seed " + std::to_string(seed) + " (" + params.name + ", " + describeHost(host) + ")";
    auto ledger = Ledger::create(host).value();
    auto policy = makePolicy(params.name).value();
    const unsigned supply = static_cast<unsigned>(host.grantable().count());

    std::vector<VmId> vms;
    unsigned floors = 0;
    const unsigned n = std::uniform_int_distribution<unsigned>(1, 8)(rng);
    for (unsigned i = 0; i < n; ++i) {
      const unsigned floor = std::uniform_int_distribution<unsigned>(1, 3)(rng);
      if (floors + floor > supply) break;
      floors += floor;
      const unsigned ceiling = std::bernoulli_distribution(0.5)(rng)
                                   ? 0
                                   : floor + std::uniform_int_distribution<unsigned>(0, 8)(rng);
      const double weight = std::uniform_real_distribution<double>(0.25, 4)(rng);
      auto spec = fullVnumaVm(host, "vm" + std::to_string(i), floor, ceiling, weight, 0, 0);
      for (const auto& node : host.nodes)  // some boot memory on nodes that have memory
        if (node.memBytes >= kGiB)
          spec.bootMemBytes[node.id] =
              std::uniform_int_distribution<unsigned>(0, 4)(rng) * 16 * kMiB;
      auto added = ledger.apply(AddVm{spec, {}});
      ASSERT_TRUE(added.ok()) << seedText << ": " << added.error().describe();
      vms.push_back(spec.uuid);
    }

    Guests guests;
    std::set<VmId> unacked;
    std::map<VmId, VmReport> reports;
    std::map<VmId, double> demand;
    auto sendAndMaybeAck = [&](const Plan& plan, double ackProbability, const std::string& where) {
      for (const auto& e : planSteps(ledger, plan).edits) {
        auto r = ledger.apply(e);
        ASSERT_TRUE(r.ok()) << where
                            << ": the executor produced a refused edit: " << r.error().describe();
        if (const auto* g = std::get_if<SendGrant>(&e)) {
          guests[g->vm] = g->target;
          unacked.insert(g->vm);
        }
        expectNoOverlap(ledger, guests, where);
      }
      for (const auto& u : vms) {
        if (!unacked.count(u) || !std::bernoulli_distribution(ackProbability)(rng)) continue;
        unacked.erase(u);
        ASSERT_TRUE(ledger.apply(AckGeneration{u, ledger.vm(u)->lastGeneration}).ok());
        expectNoOverlap(ledger, guests, where);
      }
    };

    for (int tick = 0; tick < 25; ++tick) {
      const std::string where = seedText + " tick " + std::to_string(tick);
      for (const auto& u : vms) {
        // Bursty: mostly idle or busy, now and then changing; sometimes no report this tick.
        if (tick == 0 || std::bernoulli_distribution(0.3)(rng))
          demand[u] = std::bernoulli_distribution(0.5)(rng)
                          ? std::uniform_real_distribution<double>(0, 1.5)(rng)
                          : std::uniform_real_distribution<double>(1, supply)(rng);
        if (std::bernoulli_distribution(0.9)(rng))
          reports[u] = testing::reportFor(guests[u], demand[u]);
      }
      Plan plan = policy->decide(PolicyInput{ledger, reports, params, tick * params.tickMs});
      bool contended = false;
      checkPlan(ledger, plan, where, contended);
      if (HasFatalFailure()) return;
      contendedPlans += contended;
      // Send, some agents ack at once; then the engine's second phase after those acks, and
      // the remaining agents ack (or not) before the next tick.
      sendAndMaybeAck(plan, 0.6, where + " phase 1");
      sendAndMaybeAck(plan, 0.8, where + " phase 2");
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_GT(contendedPlans, 1000u) << "the seeds should often want more than there is";
}

}  // namespace
}  // namespace vnuma::broker
