// Property tests: thousands of random (seeded, bounded) sequences of grants, acks, ack timeouts,
// agent losses, memory changes, bogus edits and restarts (serialise + reload) never put a pCPU
// in two VMs, never overcommit a node, never lend a floor, never exceed a ceiling.
#include <gtest/gtest.h>

#include <random>

#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/ledger/LedgerJson.hpp"
#include "host-broker/ledger/PlanExecutor.hpp"
#include "host-broker/ledger/TestSupport.hpp"

namespace vnuma::broker {
namespace {

// Checks the invariants from the raw state, independently of Ledger::checkInvariants.
void expectInvariants(const Ledger& l, const std::string& where, bool full = true) {
  std::map<unsigned, std::string> owner;
  for (const auto& [u, v] : l.vms()) {
    for (const auto& [p, h] : v.holds) {
      auto [it, fresh] = owner.emplace(p, u);
      ASSERT_TRUE(fresh) << where << ": pCPU " << p << " held by " << it->second << " and " << u;
      ASSERT_FALSE(l.host().reserved.contains(p))
          << where << ": reserved pCPU " << p << " held by " << u;
    }
    for (unsigned p : v.floorPcpus.ids()) {
      auto h = l.holderOf(p);
      ASSERT_TRUE(h.empty() || h == u)
          << where << ": floor pCPU " << p << " of " << u << " held by " << h;
    }
  }
  for (const auto& n : l.host().nodes) {
    std::uint64_t sum = n.memReserveBytes;
    for (const auto& [u, v] : l.vms())
      if (auto it = v.memory.find(n.id); it != v.memory.end())
        sum += it->second.bootBytes + std::max(it->second.requestedBytes, it->second.currentBytes);
    ASSERT_LE(sum, n.memBytes) << where << ": node " << n.id << " overcommitted";
  }
  if (!full) return;
  auto r = l.checkInvariants();
  ASSERT_TRUE(r.ok()) << where << ": " << r.error().describe();
}

// Structural equality of two ledger states (cheaper than comparing their JSON).
bool sameState(const LedgerState& a, const LedgerState& b) {
  if (a.lastSeq != b.lastSeq || a.vms.size() != b.vms.size()) return false;
  for (auto ia = a.vms.begin(), ib = b.vms.begin(); ia != a.vms.end(); ++ia, ++ib) {
    const auto& x = ia->second;
    const auto& y = ib->second;
    if (ia->first != ib->first || !(x.floorPcpus == y.floorPcpus) || !(x.enforced == y.enforced) ||
        x.lastGeneration != y.lastGeneration || x.ackedGeneration != y.ackedGeneration ||
        x.spec.floor != y.spec.floor || x.spec.ceiling != y.spec.ceiling ||
        x.spec.weight != y.spec.weight || x.holds.size() != y.holds.size() ||
        x.memory.size() != y.memory.size())
      return false;
    for (auto ha = x.holds.begin(), hb = y.holds.begin(); ha != x.holds.end(); ++ha, ++hb)
      if (ha->first != hb->first || ha->second.state != hb->second.state ||
          ha->second.generation != hb->second.generation)
        return false;
    for (auto ma = x.memory.begin(), mb = y.memory.begin(); ma != x.memory.end(); ++ma, ++mb)
      if (ma->first != mb->first || ma->second.bootBytes != mb->second.bootBytes ||
          ma->second.requestedBytes != mb->second.requestedBytes ||
          ma->second.currentBytes != mb->second.currentBytes)
        return false;
  }
  return true;
}

CpuSet randomSubset(std::mt19937& rng, const CpuSet& from, double p) {
  std::bernoulli_distribution keep(p);
  CpuSet s;
  for (unsigned c : from.ids())
    if (keep(rng)) s.add(c);
  return s;
}

struct Sim {
  std::mt19937 rng;
  Ledger ledger;
  std::vector<VmId> vms;
  std::map<VmId, std::uint64_t> sentUnacked;  // what an agent would ack next
  std::map<std::string, int> applied, refused;

  Sim(unsigned seed, HostModel host) : rng(seed), ledger(Ledger::create(std::move(host)).value()) {}

  void step(int i) {
    const std::string where = "step " + std::to_string(i);
    std::uniform_int_distribution<int> pick(0, 99);
    int op = pick(rng);
    LedgerEdit edit = LeaseExpired{"none"};
    auto anyVm = [&]() -> VmId {
      if (vms.empty()) return "none";
      return vms[std::uniform_int_distribution<std::size_t>(0, vms.size() - 1)(rng)];
    };
    if (op < 6 || vms.empty()) {
      static int counter = 0;
      std::uniform_int_distribution<unsigned> floorD(1, 3), ceilD(0, 6);
      unsigned floor = floorD(rng);
      unsigned ceiling = ceilD(rng);
      if (ceiling != 0 && ceiling < floor) ceiling = floor;
      auto spec = testing::fullVnumaVm(ledger.host(), "v" + std::to_string(++counter), floor,
                                       ceiling, 1.0, 256 * kMiB, 2 * kGiB);
      edit = AddVm{spec, {}};
    } else if (op < 8) {
      edit = RemoveVm{anyVm()};
    } else if (op < 35) {
      // A random plan through the executor (the engine's path).
      Plan plan;
      for (const auto& u : vms) {
        plan.targets[u].pcpus = randomSubset(rng, ledger.host().allPcpus(), 0.3);
        if (pick(rng) < 30)
          plan.targets[u].memRequestedBytes[std::uniform_int_distribution<unsigned>(0, 1)(rng)] =
              std::uniform_int_distribution<std::uint64_t>(0, 3)(rng) * 512 * kMiB;
      }
      auto steps = planSteps(ledger, plan);
      for (const auto& e : steps.edits) {
        auto r = ledger.apply(e);
        ASSERT_TRUE(r.ok()) << where
                            << ": executor produced a refused edit: " << r.error().describe();
        applied[editKind(e)]++;
        if (const auto* g = std::get_if<SendGrant>(&e)) {
          const auto* v = ledger.vm(g->vm);
          ASSERT_LE(g->target.count(), v->spec.effectiveCeiling()) << where;
          ASSERT_TRUE(v->floorPcpus.isSubsetOf(g->target | (v->floorPcpus - v->held())))
              << where << ": floor revoked";
        }
        expectInvariants(ledger, where, false);
      }
      expectInvariants(ledger, where);
      return;
    } else if (op < 55) {
      VmId u = anyVm();
      const auto* v = ledger.vm(u);
      std::uint64_t g = v ? std::uniform_int_distribution<std::uint64_t>(v->ackedGeneration,
                                                                         v->lastGeneration + 1)(rng)
                          : 1;
      edit = AckGeneration{u, std::max<std::uint64_t>(g, 1)};
    } else if (op < 62) {
      VmId u = anyVm();
      const auto* v = ledger.vm(u);
      CpuSet revoking = v ? v->inState(HoldState::kRevoking) : CpuSet{};
      edit = EnforceRevoke{u, revoking.empty() ? CpuSet{1}
                                               : randomSubset(rng, revoking, 0.7) |
                                                     CpuSet{unsigned(revoking.first())}};
    } else if (op < 66) {
      edit = LeaseExpired{anyVm()};
    } else if (op < 74) {
      VmId u = anyVm();
      const auto* v = ledger.vm(u);
      auto gen = v ? v->nextGeneration() : 1;
      // Raw grants, often conflicting: must be refused cleanly.
      edit = BeginGrant{u, randomSubset(rng, ledger.host().allPcpus(), 0.2),
                        pick(rng) < 80 ? gen : gen - 1};
    } else if (op < 80) {
      VmId u = anyVm();
      const auto* v = ledger.vm(u);
      edit = BeginRevoke{u, v ? randomSubset(rng, v->grantTarget(), 0.5) : CpuSet{},
                         v ? v->nextGeneration() : 1};
    } else if (op < 86) {
      edit =
          SetMemoryRequested{anyVm(), std::uniform_int_distribution<unsigned>(0, 2)(rng),
                             std::uniform_int_distribution<std::uint64_t>(0, 5)(rng) * 512 * kMiB};
    } else if (op < 92) {
      VmId u = anyVm();
      const auto* v = ledger.vm(u);
      unsigned node = std::uniform_int_distribution<unsigned>(0, 1)(rng);
      std::uint64_t req = 0;
      if (v && v->memory.count(node)) req = v->memory.at(node).requestedBytes;
      edit = ObserveMemoryCurrent{u, node, pick(rng) < 60 ? req : req + 8 * kGiB};
    } else if (op < 98) {
      std::uniform_int_distribution<unsigned> d(0, 4);
      edit = UpdateLimits{anyVm(), std::max(1u, d(rng)), d(rng) + 1, 0.5 + d(rng)};
    } else {
      // Restart: persist and reload, then carry on with the reloaded ledger.
      auto text = stateToJson(ledger.state());
      auto st = stateFromJson(text);
      ASSERT_TRUE(st.ok()) << where << ": " << st.error().describe();
      auto reloaded = Ledger::fromState(std::move(*st));
      ASSERT_TRUE(reloaded.ok()) << where << ": " << reloaded.error().describe();
      ASSERT_EQ(stateToJson(reloaded->state()), text) << where;
      ledger = std::move(*reloaded);
      applied["restart"]++;
      return;
    }
    const LedgerState before = ledger.state();
    auto r = ledger.apply(edit);
    if (r.ok()) {
      applied[editKind(edit)]++;
      if (const auto* a = std::get_if<AddVm>(&edit)) vms.push_back(a->spec.uuid);
      if (const auto* rm = std::get_if<RemoveVm>(&edit)) std::erase(vms, rm->vm);
    } else {
      refused[editKind(edit)]++;
      ASSERT_TRUE(sameState(ledger.state(), before))
          << where << ": refused " << editKind(edit) << " changed the state";
      ASSERT_FALSE(r.error().message().empty());
    }
    expectInvariants(ledger, where);
  }
};

TEST(LedgerProperty, RandomSequencesKeepEveryInvariant) {
  std::map<std::string, int> applied, refused;
  constexpr int kSequences = 1000;
  constexpr int kSteps = 50;
  for (int seed = 1; seed <= kSequences; ++seed) {
    auto host = HostModel::uniform(2, 6, 2, 8 * kGiB);
    host.reserved = CpuSet{0};
    for (auto& n : host.nodes) n.memReserveBytes = 512 * kMiB;
    Sim sim(static_cast<unsigned>(seed), host);
    for (int i = 0; i < kSteps; ++i) {
      sim.step(i);
      if (::testing::Test::HasFatalFailure()) {
        ADD_FAILURE() << "seed " << seed;
        return;
      }
    }
    for (const auto& [k, n] : sim.applied) applied[k] += n;
    for (const auto& [k, n] : sim.refused) refused[k] += n;
  }
  // The generator must actually exercise every path, or the test proves little.
  for (const char* k : {"add_vm", "remove_vm", "send_grant", "ack", "enforce_revoke",
                        "lease_expired", "set_memory_requested", "observe_memory_current",
                        "update_limits", "restart", "begin_grant", "begin_revoke"})
    EXPECT_GT(applied[k], 20) << k;
  for (const char* k :
       {"begin_grant", "ack", "observe_memory_current", "set_memory_requested", "enforce_revoke"})
    EXPECT_GT(refused[k], 20) << k;
}

}  // namespace
}  // namespace vnuma::broker
