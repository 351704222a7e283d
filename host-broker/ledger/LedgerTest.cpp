#include <gtest/gtest.h>

#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/ledger/LedgerJson.hpp"
#include "host-broker/ledger/PlanExecutor.hpp"
#include "host-broker/ledger/TestSupport.hpp"

namespace vnuma::broker {
namespace {

using testing::fullVnumaVm;

// 2 nodes x 4 pCPUs, smt 2 (siblings 0-1, 2-3, ...), 8 GiB per node, pCPU 0 reserved, 1 GiB
// reserve.
HostModel smallHost() {
  auto h = HostModel::uniform(2, 4, 2, 8 * kGiB);
  h.reserved = CpuSet{0};
  for (auto& n : h.nodes) n.memReserveBytes = 1 * kGiB;
  return h;
}

struct Fixture {
  Ledger l = Ledger::create(smallHost()).value();
  VmSpec a = fullVnumaVm(smallHost(), "a", 1, 0, 1.0, 1 * kGiB, 4 * kGiB);
  VmSpec b = fullVnumaVm(smallHost(), "b", 1, 0, 1.0, 1 * kGiB, 4 * kGiB);
  Fixture() {
    EXPECT_TRUE(l.apply(AddVm{a, CpuSet{1}}).ok());
    EXPECT_TRUE(l.apply(AddVm{b, CpuSet{4}}).ok());
  }
};

TEST(Ledger, GrantLifecycleHoldsFromSendUntilRevokeAck) {
  Fixture f;
  auto& l = f.l;
  ASSERT_TRUE(l.apply(BeginGrant{f.a.uuid, CpuSet{1, 2, 3}, 1}).ok());
  EXPECT_EQ(l.pcpu(2).state, PcpuState::kGranting);
  EXPECT_EQ(l.holderOf(2), f.a.uuid);
  // Held while granting: B cannot get it.
  auto r = l.apply(BeginGrant{f.b.uuid, CpuSet{2}, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kConflict);
  EXPECT_EQ(r.error().message(), "pCPU 2 is held by vm a; cannot grant it to vm b");
  ASSERT_TRUE(l.apply(CompleteGrant{f.a.uuid, 1}).ok());
  EXPECT_EQ(l.pcpu(2).state, PcpuState::kGranted);
  ASSERT_TRUE(l.apply(BeginRevoke{f.a.uuid, CpuSet{2, 3}, 2}).ok());
  EXPECT_EQ(l.pcpu(2).state, PcpuState::kRevoking);
  EXPECT_FALSE(l.apply(BeginGrant{f.b.uuid, CpuSet{3}, 1}).ok()) << "still held while revoking";
  ASSERT_TRUE(l.apply(CompleteRevoke{f.a.uuid, 2}).ok());
  EXPECT_EQ(l.pcpu(2).state, PcpuState::kFree);
  ASSERT_TRUE(l.apply(BeginGrant{f.b.uuid, CpuSet{2, 3, 4}, 1}).ok());
  EXPECT_EQ(l.holderOf(3), f.b.uuid);
  EXPECT_TRUE(l.checkInvariants().ok());
}

TEST(Ledger, EnforceRevokeFreesAndRemembersUntilRegranted) {
  Fixture f;
  auto& l = f.l;
  ASSERT_TRUE(l.apply(BeginGrant{f.a.uuid, CpuSet{1, 2}, 1}).ok());
  ASSERT_TRUE(l.apply(BeginRevoke{f.a.uuid, CpuSet{2}, 2}).ok());
  auto bad = l.apply(EnforceRevoke{f.a.uuid, CpuSet{1}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "vm a: pCPUs 1 are not being revoked");
  ASSERT_TRUE(l.apply(EnforceRevoke{f.a.uuid, CpuSet{2}}).ok());
  EXPECT_EQ(l.pcpu(2).state, PcpuState::kFree);
  EXPECT_TRUE(l.pcpu(2).enforced);
  EXPECT_TRUE(l.vm(f.a.uuid)->enforced.contains(2));
  // A late ack for generation 2 changes nothing for pCPU 2 (already free).
  ASSERT_TRUE(l.apply(AckGeneration{f.a.uuid, 2}).ok());
  ASSERT_TRUE(l.apply(BeginGrant{f.a.uuid, CpuSet{2}, 3}).ok());
  EXPECT_FALSE(l.vm(f.a.uuid)->enforced.contains(2));
}

TEST(Ledger, LeaseExpiredKeepsOnlyTheFloor) {
  Fixture f;
  auto& l = f.l;
  ASSERT_TRUE(l.apply(BeginGrant{f.a.uuid, CpuSet{1, 2, 3}, 1}).ok());
  ASSERT_TRUE(l.apply(AckGeneration{f.a.uuid, 1}).ok());
  ASSERT_TRUE(l.apply(LeaseExpired{f.a.uuid}).ok());
  EXPECT_EQ(l.vm(f.a.uuid)->held(), CpuSet{1});
  EXPECT_EQ(l.vm(f.a.uuid)->enforced, (CpuSet{2, 3}));
  EXPECT_EQ(l.freePcpus(), (CpuSet{2, 3, 4, 5, 6, 7}));
}

TEST(Ledger, AckGenerationCompletesGrantsAndRevokesUpToIt) {
  Fixture f;
  auto& l = f.l;
  ASSERT_TRUE(l.apply(SendGrant{f.a.uuid, CpuSet{1, 2, 3}, 1}).ok());
  ASSERT_TRUE(l.apply(SendGrant{f.a.uuid, CpuSet{1, 2, 5}, 2}).ok());
  const auto* v = l.vm(f.a.uuid);
  EXPECT_EQ(v->inState(HoldState::kRevoking), CpuSet{3});
  EXPECT_EQ(v->grantTarget(), (CpuSet{1, 2, 5}));
  ASSERT_TRUE(l.apply(AckGeneration{f.a.uuid, 1}).ok());
  EXPECT_EQ(v->inState(HoldState::kGranted), (CpuSet{1, 2}));
  EXPECT_EQ(v->inState(HoldState::kRevoking), CpuSet{3}) << "the revoke was sent with generation 2";
  ASSERT_TRUE(l.apply(AckGeneration{f.a.uuid, 2}).ok());
  EXPECT_TRUE(v->settled());
  EXPECT_EQ(v->held(), (CpuSet{1, 2, 5}));
  auto last = l.lastSeq();
  ASSERT_TRUE(l.apply(AckGeneration{f.a.uuid, 2}).ok()) << "a repeated ack is harmless";
  EXPECT_EQ(l.lastSeq(), last) << "and records no event";
}

struct RefusalCase {
  const char* description;
  LedgerEdit edit;
  Errc code;
  const char* message;
};

TEST(Ledger, RefusedEditsChangeNothing) {
  Fixture proto;
  ASSERT_TRUE(proto.l.apply(BeginGrant{proto.a.uuid, CpuSet{1, 2}, 1}).ok());
  ASSERT_TRUE(proto.l.apply(AckGeneration{proto.a.uuid, 1}).ok());
  const auto& A = proto.a.uuid;
  const auto& B = proto.b.uuid;
  auto dup = proto.a;
  auto floorTooBig = fullVnumaVm(smallHost(), "c", 8);
  auto memHog = fullVnumaVm(smallHost(), "d", 1, 0, 1.0, 6 * kGiB);
  const std::vector<RefusalCase> cases = {
      {"reserved pCPU", BeginGrant{B, CpuSet{0}, 1}, Errc::kConflict,
       "pCPU 0 is reserved for the host and cannot be granted to vm b"},
      {"held by another VM", BeginGrant{B, CpuSet{2}, 1}, Errc::kConflict,
       "pCPU 2 is held by vm a; cannot grant it to vm b"},
      {"another VM's floor", BeginGrant{A, CpuSet{4}, 2}, Errc::kConflict,
       "pCPU 4 is the floor of vm b; cannot grant it to vm a"},
      {"generation not increasing", BeginGrant{A, CpuSet{3}, 1}, Errc::kConflict,
       "vm a: generation 1 is not above the last sent generation 1"},
      {"revoking a floor", BeginRevoke{A, CpuSet{1}, 2}, Errc::kConflict,
       "pCPU 1 is the floor of vm a and cannot be revoked"},
      {"revoking what is not held", BeginRevoke{A, CpuSet{3}, 2}, Errc::kConflict,
       "vm a does not hold pCPUs 3 (or they are already being revoked)"},
      {"empty grant", SendGrant{A, CpuSet{}, 2}, Errc::kInvalidArgument,
       "vm a: a grant cannot be empty (send_grant)"},
      {"unknown pCPU", BeginGrant{A, CpuSet{99}, 2}, Errc::kInvalidArgument,
       "pCPU 99 does not exist on this host"},
      {"ack never sent", AckGeneration{A, 5}, Errc::kConflict,
       "vm a: ack for generation 5 which was never sent (last sent 1)"},
      {"unknown vm", LeaseExpired{"nope"}, Errc::kNotFound, "unknown vm 'nope'"},
      {"vm added twice", AddVm{dup, {}}, Errc::kConflict, "vm a is already managed"},
      {"floor above grantable pinned", AddVm{floorTooBig, {}}, Errc::kConflict,
       "vm c: floor 8 > 7 pinned pCPUs that are not reserved"},
      {"memory overcommit at add", AddVm{memHog, {}}, Errc::kConflict,
       "adding vm d: host node 0: memory overcommitted (vms 8589934592 + reserve 1073741824 > "
       "capacity 8589934592 bytes)"},
      {"memory request above device", SetMemoryRequested{A, 0, 5 * kGiB}, Errc::kInvalidArgument,
       "vm a: requested 5368709120 bytes on guest node 0 exceeds its virtio-mem size 4294967296"},
      {"memory request not block aligned", SetMemoryRequested{A, 0, 1000}, Errc::kInvalidArgument,
       "vm a: requested 1000 bytes on guest node 0 is not a multiple of the block size 2097152"},
      {"memory on unknown node", SetMemoryRequested{A, 7, 0}, Errc::kInvalidArgument,
       "vm a has no virtio-mem device on guest node 7"},
      {"floor above ceiling", UpdateLimits{A, 3, 2, 1.0}, Errc::kInvalidArgument,
       "vm a: floor 3 > ceiling 2"},
      {"grant above ceiling", UpdateLimits{A, 1, 1, 1.0}, Errc::kInvalidArgument, ""},
  };
  for (const auto& c : cases) {
    if (std::string(c.description) == "grant above ceiling") continue;  // covered below
    Ledger l = proto.l;
    const auto before = stateToJson(l.state());
    auto r = l.apply(c.edit);
    ASSERT_FALSE(r.ok()) << c.description;
    EXPECT_EQ(r.error().code(), c.code) << c.description;
    EXPECT_EQ(r.error().describe(), c.message) << c.description;
    EXPECT_EQ(stateToJson(l.state()), before) << c.description << ": state changed";
    EXPECT_EQ(l.lastSeq(), proto.l.lastSeq()) << c.description;
  }
}

// The e2e host: one host node, a guest with two guest nodes on it, a virtio-mem device on each.
// Each device is its own memory share; both are accounted against host node 0.
TEST(Ledger, TwoGuestNodesOnOneHostNodeKeepSeparateDevices) {
  auto host = HostModel::uniform(1, 2, 1, 8 * kGiB);
  for (auto& n : host.nodes) n.memReserveBytes = 1 * kGiB;
  auto l = Ledger::create(host).value();
  VmSpec s = fullVnumaVm(host, "split", 1, 0, 1.0, 0, 0);
  s.guestToHostNode = {{0, 0}, {1, 0}};
  s.bootMemBytes = {{0, 1 * kGiB}, {1, 1 * kGiB}};
  for (unsigned g : {0u, 1u}) {
    VirtioMemDevice d;
    d.alias = "virtiomem" + std::to_string(g);
    d.guestNode = g;
    d.hostNode = 0;
    d.maxBytes = 4 * kGiB;
    s.virtioMem.push_back(d);
  }
  ASSERT_TRUE(l.apply(AddVm{s, {}}).ok());
  ASSERT_TRUE(l.apply(SetMemoryRequested{s.uuid, 1, 2 * kGiB}).ok());
  const VmEntry* v = l.vm(s.uuid);
  EXPECT_EQ(v->memory.at(0).requestedBytes, 0u) << "guest node 0's device is untouched";
  EXPECT_EQ(v->memory.at(1).requestedBytes, 2 * kGiB);
  EXPECT_EQ(v->memory.at(1).hostNode, 0u);
  // 1 + 1 GiB boot + 2 GiB requested + 1 GiB reserve of 8 GiB: 3 GiB left for both devices.
  EXPECT_EQ(l.nodeMemory(0).freeBytes(), 3 * kGiB);
  auto r = l.apply(SetMemoryRequested{s.uuid, 0, 4 * kGiB});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kConflict);
  EXPECT_TRUE(l.apply(SetMemoryRequested{s.uuid, 0, 3 * kGiB}).ok());
  EXPECT_EQ(l.nodeMemory(0).freeBytes(), 0u);
}

TEST(Ledger, MemoryMovesOnlyAfterCurrentGoesDown) {
  Fixture f;
  auto& l = f.l;
  // Node 0: 8 GiB capacity, 1 GiB reserve, a and b boot 1 GiB each -> 5 GiB for virtio-mem.
  ASSERT_TRUE(l.apply(SetMemoryRequested{f.a.uuid, 0, 4 * kGiB}).ok());
  ASSERT_TRUE(l.apply(ObserveMemoryCurrent{f.a.uuid, 0, 4 * kGiB}).ok());
  auto r = l.apply(SetMemoryRequested{f.b.uuid, 0, 2 * kGiB});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(),
            "vm b requesting 2147483648 bytes: host node 0: memory overcommitted (vms 8589934592 + "
            "reserve 1073741824 > "
            "capacity 8589934592 bytes)");
  ASSERT_TRUE(l.apply(SetMemoryRequested{f.a.uuid, 0, 2 * kGiB}).ok());
  EXPECT_FALSE(l.apply(SetMemoryRequested{f.b.uuid, 0, 2 * kGiB}).ok())
      << "a's current is still 4 GiB";
  ASSERT_TRUE(l.apply(ObserveMemoryCurrent{f.a.uuid, 0, 2 * kGiB}).ok());
  EXPECT_TRUE(l.apply(SetMemoryRequested{f.b.uuid, 0, 2 * kGiB}).ok());
  EXPECT_EQ(l.nodeMemory(0).freeBytes(), 1 * kGiB);
}

TEST(Ledger, UpdateLimitsMovesTheFloor) {
  Fixture f;
  auto& l = f.l;
  ASSERT_TRUE(l.apply(BeginGrant{f.a.uuid, CpuSet{1, 2, 3}, 1}).ok());
  ASSERT_TRUE(l.apply(AckGeneration{f.a.uuid, 1}).ok());
  ASSERT_TRUE(l.apply(UpdateLimits{f.a.uuid, 3, 4, 2.0}).ok());
  EXPECT_EQ(l.vm(f.a.uuid)->floorPcpus, (CpuSet{1, 2, 3})) << "takes held pCPUs first";
  EXPECT_EQ(l.vm(f.a.uuid)->spec.weight, 2.0);
  ASSERT_TRUE(l.apply(UpdateLimits{f.a.uuid, 1, 4, 2.0}).ok());
  EXPECT_EQ(l.vm(f.a.uuid)->floorPcpus, CpuSet{1});
  // Ceiling 2 now below the 3 held: allowed, but no grant may exceed it.
  ASSERT_TRUE(l.apply(UpdateLimits{f.a.uuid, 1, 2, 1.0}).ok());
  auto r = l.apply(BeginGrant{f.a.uuid, CpuSet{5}, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "vm a: grant of 4 pCPUs exceeds its ceiling 2");
  EXPECT_TRUE(l.checkInvariants().ok());
}

TEST(Ledger, FloorIsPickedCompactOnWholeCores) {
  auto host = HostModel::uniform(2, 8, 2, 8 * kGiB);
  auto l = Ledger::create(host).value();
  auto s = fullVnumaVm(host, "x", 4);
  s.bootMemBytes = {{1, 2 * kGiB}};  // memory on node 1 -> floor on node 1
  ASSERT_TRUE(l.apply(AddVm{s, {}}).ok());
  EXPECT_EQ(l.vm(s.uuid)->floorPcpus, (CpuSet{8, 9, 10, 11}));
}

TEST(Ledger, EventsAreNumberedAndBounded) {
  auto l = Ledger::create(smallHost(), 3).value();
  auto a = fullVnumaVm(smallHost(), "a");
  ASSERT_TRUE(l.apply(AddVm{a, CpuSet{1}}, 100).ok());
  ASSERT_TRUE(l.apply(BeginGrant{a.uuid, CpuSet{1, 2}, 1}, 200).ok());
  ASSERT_TRUE(l.apply(AckGeneration{a.uuid, 1}, 300).ok());
  ASSERT_TRUE(l.apply(BeginRevoke{a.uuid, CpuSet{2}, 2}, 400).ok());
  EXPECT_EQ(l.lastSeq(), 4u);
  EXPECT_EQ(l.firstRetainedSeq(), 2u);
  auto ev = l.eventsSince(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].seq, 3u);
  EXPECT_EQ(ev[0].kind, "ack");
  EXPECT_EQ(ev[0].detail, "gen=1 granted=1-2");
  EXPECT_EQ(ev[1].kind, "begin_revoke");
  EXPECT_EQ(ev[1].atMs, 400);
  EXPECT_EQ(ev[1].vmName, "a");
  auto json = eventsToJson(ev, l.lastSeq(), l.firstRetainedSeq());
  EXPECT_NE(json.find("\"kind\":\"begin_revoke\""), std::string::npos);
}

TEST(Ledger, FromStateRefusesInconsistencies) {
  Fixture f;
  ASSERT_TRUE(f.l.apply(BeginGrant{f.a.uuid, CpuSet{1, 2}, 1}).ok());
  auto st = f.l.state();
  st.vms.at(f.b.uuid).holds[2] = Hold{HoldState::kGranted, 1};
  st.vms.at(f.b.uuid).lastGeneration = 1;
  auto r = Ledger::fromState(st);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pCPU 2 held by both vm a and vm b");
  auto st2 = f.l.state();
  st2.vms.at(f.a.uuid).holds[0] = Hold{HoldState::kGranted, 1};
  auto r2 = Ledger::fromState(st2);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().message(), "vm a holds pCPU 0 which is reserved for the host");
  auto st3 = f.l.state();
  st3.vms.at(f.a.uuid).memory[1].requestedBytes = 7 * kGiB;
  auto r3 = Ledger::fromState(st3);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().message(),
            "host node 1: memory overcommitted (vms 9663676416 + reserve 1073741824 > capacity "
            "8589934592 bytes)");
}

TEST(Ledger, JsonViewHasEveryPcpu) {
  Fixture f;
  ASSERT_TRUE(f.l.apply(BeginGrant{f.a.uuid, CpuSet{1, 2}, 1}).ok());
  auto j = ledgerToJson(f.l);
  EXPECT_NE(j.find("\"state\":\"reserved\""), std::string::npos);
  EXPECT_NE(j.find("\"state\":\"granting\""), std::string::npos);
  EXPECT_NE(j.find("\"granting\":\"1-2\""), std::string::npos);
  auto back = stateFromJson(stateToJson(f.l.state()));
  ASSERT_TRUE(back.ok()) << back.error().describe();
  EXPECT_EQ(stateToJson(*back), stateToJson(f.l.state()));
}

// ---- plan executor ----

TEST(PlanExecutor, RevokesFirstAndGrantsOnlyFreePcpus) {
  Fixture f;
  auto& l = f.l;
  ASSERT_TRUE(l.apply(BeginGrant{f.a.uuid, CpuSet{1, 2, 3}, 1}).ok());
  ASSERT_TRUE(l.apply(AckGeneration{f.a.uuid, 1}).ok());
  ASSERT_TRUE(l.apply(BeginGrant{f.b.uuid, CpuSet{4}, 1}).ok());
  ASSERT_TRUE(l.apply(AckGeneration{f.b.uuid, 1}).ok());
  Plan plan;
  plan.targets[f.a.uuid].pcpus = CpuSet{1};
  plan.targets[f.b.uuid].pcpus = CpuSet{2, 3, 4, 5};
  auto steps = planSteps(l, plan);
  ASSERT_EQ(steps.edits.size(), 2u);
  const auto* first = std::get_if<SendGrant>(&steps.edits[0]);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->vm, f.a.uuid) << "revokes first";
  EXPECT_EQ(first->target, CpuSet{1});
  const auto* second = std::get_if<SendGrant>(&steps.edits[1]);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->target, (CpuSet{4, 5})) << "2 and 3 are still held by a (revoking)";
  EXPECT_EQ(steps.deferred, 2u);
  for (const auto& e : steps.edits) ASSERT_TRUE(l.apply(e).ok());
  ASSERT_TRUE(l.apply(AckGeneration{f.a.uuid, 2}).ok());
  auto next = planSteps(l, plan);
  ASSERT_EQ(next.edits.size(), 1u);
  EXPECT_EQ(std::get<SendGrant>(next.edits[0]).target, (CpuSet{2, 3, 4, 5}));
  for (const auto& e : next.edits) ASSERT_TRUE(l.apply(e).ok());
  EXPECT_TRUE(l.checkInvariants().ok());
}

TEST(PlanExecutor, NeverRevokesFloorAndMemoryIncreasesFitTheNode) {
  Fixture f;
  auto& l = f.l;
  ASSERT_TRUE(l.apply(BeginGrant{f.a.uuid, CpuSet{1, 2}, 1}).ok());
  ASSERT_TRUE(l.apply(SetMemoryRequested{f.a.uuid, 0, 4 * kGiB}).ok());
  Plan plan;
  plan.targets[f.a.uuid].pcpus = CpuSet{5};  // floor 1 must stay; 5 is pinned and free
  plan.targets[f.a.uuid].memRequestedBytes = {{0, 1 * kGiB}};
  plan.targets[f.b.uuid].pcpus = CpuSet{4};
  plan.targets[f.b.uuid].memRequestedBytes = {{0, 4 * kGiB}};
  auto steps = planSteps(l, plan);
  std::vector<std::string> kinds;
  for (const auto& e : steps.edits) kinds.push_back(editKind(e));
  ASSERT_EQ(kinds, (std::vector<std::string>{"send_grant", "send_grant", "set_memory_requested",
                                             "set_memory_requested"}));
  EXPECT_EQ(std::get<SendGrant>(steps.edits[0]).target, (CpuSet{1, 5}));
  // a's current is 0, so lowering its request frees the accounting right away: b gets 4 GiB.
  const auto& up = std::get<SetMemoryRequested>(steps.edits[3]);
  EXPECT_EQ(up.vm, f.b.uuid);
  EXPECT_EQ(up.bytes, 4 * kGiB);
  for (const auto& e : steps.edits) ASSERT_TRUE(l.apply(e).ok()) << editKind(e);
}

TEST(PlanExecutor, MemoryIncreaseWaitsForCurrentToDrop) {
  Fixture f;
  auto& l = f.l;
  ASSERT_TRUE(l.apply(SetMemoryRequested{f.a.uuid, 0, 4 * kGiB}).ok());
  ASSERT_TRUE(l.apply(ObserveMemoryCurrent{f.a.uuid, 0, 4 * kGiB}).ok());
  Plan plan;
  plan.targets[f.a.uuid].memRequestedBytes = {{0, 1 * kGiB}};
  plan.targets[f.b.uuid].memRequestedBytes = {{0, 4 * kGiB}};
  plan.targets[f.a.uuid].pcpus = CpuSet{1};
  plan.targets[f.b.uuid].pcpus = CpuSet{4};
  auto steps = planSteps(l, plan);
  ASSERT_EQ(steps.edits.size(), 4u) << "two floor grants, two memory edits";
  EXPECT_EQ(std::get<SetMemoryRequested>(steps.edits[2]).bytes, 1 * kGiB);
  EXPECT_EQ(std::get<SetMemoryRequested>(steps.edits[3]).bytes, 1 * kGiB) << "only the free 1 GiB";
  for (const auto& e : steps.edits) ASSERT_TRUE(l.apply(e).ok());
}

}  // namespace
}  // namespace vnuma::broker
