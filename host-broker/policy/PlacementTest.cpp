#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "host-broker/ledger/TestSupport.hpp"
#include "host-broker/policy/Placement.hpp"
#include "host-broker/policy/TestSupport.hpp"

namespace vnuma::broker {
namespace {

using testing::fullVnumaVm;

CpuSet cpus(const std::string& list) { return CpuSet::parseList(list).value(); }

// One VM of a case: limits, boot memory per node (GiB), its floor, what it holds (granted and
// acked), and which of those are being revoked (a grant without them sent, not acked yet).
struct VmSetup {
  std::string name;
  std::string floor;
  std::string held = "";
  std::string revoking = "";
  std::map<unsigned, std::uint64_t> bootGiB = {{0, 1}, {1, 1}};
  unsigned ceiling = 0;
};

struct Want {
  std::string vm;
  unsigned count;
  bool mayShrink = true;
};

struct PlaceCase {
  const char* description;
  std::vector<VmSetup> vms;
  std::vector<Want> wants;
  std::map<std::string, std::string> expect;  // vm -> target cpulist
  unsigned revoked = 0;
  std::function<void(PlacementParams&)> tweak = [](PlacementParams&) {};
  std::string reserved = "";
};

// 2 nodes x 8 pCPUs, SMT pairs (0,1), (2,3), ...; node 0 = 0-7, node 1 = 8-15.
Ledger ledgerFor(const PlaceCase& c) {
  auto host = HostModel::uniform(2, 8, 2, 32 * kGiB);
  host.reserved = cpus(c.reserved);
  auto ledger = Ledger::create(host).value();
  for (const auto& v : c.vms) {
    auto floor = cpus(v.floor);
    auto spec =
        fullVnumaVm(host, v.name, static_cast<unsigned>(floor.count()), v.ceiling, 1.0, 0, 0);
    for (const auto& [node, gib] : v.bootGiB) spec.bootMemBytes[node] = gib * kGiB;
    EXPECT_TRUE(ledger.apply(AddVm{spec, floor}).ok()) << v.name;
    if (!v.held.empty()) {
      EXPECT_TRUE(ledger.apply(SendGrant{spec.uuid, cpus(v.held) | floor, 1}).ok()) << v.name;
      EXPECT_TRUE(ledger.apply(AckGeneration{spec.uuid, 1}).ok());
    }
    if (!v.revoking.empty()) {
      EXPECT_TRUE(ledger.apply(SendGrant{spec.uuid, cpus(v.held) - cpus(v.revoking), 2}).ok());
    }
  }
  return ledger;
}

TEST(Placement, LiteralTopologyTable) {
  const std::map<unsigned, std::uint64_t> onlyNode1 = {{0, 0}, {1, 4}};
  const std::vector<PlaceCase> cases = {
      {"a growing VM goes to the node holding its memory once its SMT core is whole",
       {{"a", "0", "", "", onlyNode1}},
       {{"a", 5}},
       {{"a", "0-1,8-10"}}},
      {"a growing VM completes the SMT core it half holds first",
       {{"a", "2"}},
       {{"a", 2}},
       {{"a", "2-3"}}},
      {"whole free cores come before cores another VM half holds",
       {{"a", "0", "0-1"}, {"b", "3"}},
       {{"a", 4}, {"b", 1}},
       {{"a", "0-1,4-5"}, {"b", "3"}}},
      {"a shrinking VM gives up its minority node first",
       {{"a", "0", "0-5,8-9"}},
       {{"a", 6}},
       {{"a", "0-5"}},
       2},
      {"a shrinking VM gives up the node holding the least of its memory first",
       {{"a", "8", "0-3,8-11", "", {{0, 1}, {1, 7}}}},
       {{"a", 4}},
       {{"a", "8-11"}},
       4},
      {"a shrinking VM releases a partial SMT core before breaking a whole one",
       {{"a", "0", "0-2"}},
       {{"a", 2}},
       {{"a", "0-1"}},
       1},
      {"cooldown: a VM that may not shrink keeps its set",
       {{"a", "0", "0-5,8-9"}},
       {{"a", 6, false}},
       {{"a", "0-5,8-9"}},
       0},
      {"move budget: at most move_budget revokes, the largest excess first",
       {{"a", "0", "0-7"}, {"b", "8", "8-11"}, {"c", "12", "12-15"}},
       {{"a", 2}, {"b", 3}, {"c", 4}},
       {{"a", "0-4"}, {"b", "8-11"}, {"c", "12-15"}},
       3,
       [](PlacementParams& p) { p.moveBudget = 3; }},
      {"a pCPU one VM releases goes to the VM that wants it in the same plan",
       {{"a", "0", "0-11"}, {"b", "12", "12-15"}},
       {{"a", 8}, {"b", 8}},
       {{"a", "0-7"}, {"b", "8-15"}},
       4},
      {"pCPUs still being revoked from another VM can be a grower's target",
       {{"a", "0", "0-7", "4-7"}, {"b", "8", "8-15"}},
       {{"a", 4}, {"b", 12}},
       {{"a", "0-3"}, {"b", "4-15"}},
       0},
      {"free pCPUs are preferred to pCPUs still being revoked",
       {{"a", "0", "0-3", "2-3"}, {"b", "8", "8-9"}},
       {{"a", 2}, {"b", 4}},
       {{"a", "0-1"}, {"b", "8-11"}},
       0},
      {"reserved pCPUs and another VM's floor are never handed out",
       {{"a", "2"}, {"b", "4"}},
       {{"a", 16}, {"b", 1}},
       {{"a", "1-3,5-15"}, {"b", "4"}},
       0,
       [](PlacementParams&) {},
       "0"},
      {"the wanted count is clamped to floor and ceiling",
       {{"a", "0-1", "", "", {{0, 1}, {1, 1}}, 3}, {"b", "8", "", "", {{0, 1}, {1, 1}}, 3}},
       {{"a", 0}, {"b", 100}},
       {{"a", "0-1"}, {"b", "8-10"}}},
      {"smt_together on: completing the core beats following memory",
       {{"a", "0", "", "", onlyNode1}},
       {{"a", 2}},
       {{"a", "0-1"}}},
      {"smt_together off: the second pCPU follows memory",
       {{"a", "0", "", "", onlyNode1}},
       {{"a", 2}},
       {{"a", "0,8"}},
       0,
       [](PlacementParams& p) { p.smtTogether = false; }},
      {"follow_memory off: a growing VM stays compact where it is",
       {{"a", "0", "0-1", "", onlyNode1}},
       {{"a", 4}},
       {{"a", "0-3"}},
       0,
       [](PlacementParams& p) { p.followMemory = false; }},
      {"a VM that wants what it holds keeps exactly that",
       {{"a", "0", "0,5,9"}, {"b", "1"}},
       {{"a", 3}, {"b", 1}},
       {{"a", "0,5,9"}, {"b", "1"}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto ledger = ledgerFor(c);
    PlacementParams params;
    c.tweak(params);
    std::vector<PlacementWant> wants;
    for (const auto& w : c.wants)
      wants.push_back({ledger.findVm(w.vm)->spec.uuid, w.count, w.mayShrink, 0});
    auto got = place(ledger, wants, params);
    for (const auto& [name, list] : c.expect)
      EXPECT_EQ(got.targets[ledger.findVm(name)->spec.uuid].toList(), list) << "vm " << name;
    EXPECT_EQ(got.revoked, c.revoked);
  }
}

TEST(Placement, MemoryWeightsCountBootAndVirtioMem) {
  auto host = HostModel::uniform(2, 4, 1, 16 * kGiB);
  auto ledger = Ledger::create(host).value();
  auto spec = fullVnumaVm(host, "a", 1, 0, 1.0, 1 * kGiB, 4 * kGiB);
  ASSERT_TRUE(ledger.apply(AddVm{spec, {}}).ok());
  ASSERT_TRUE(ledger.apply(SetMemoryRequested{spec.uuid, 1, 2 * kGiB}).ok());
  auto w = memoryWeights(*ledger.vm(spec.uuid));
  EXPECT_DOUBLE_EQ(w[0], 0.25);  // 1 GiB boot
  EXPECT_DOUBLE_EQ(w[1], 0.75);  // 1 GiB boot + 2 GiB requested
}

struct DumpCase {
  const char* dump;
  const char* description;
};

// SMT cores of which `set` holds some but not all (online) threads.
std::size_t partialCores(const HostModel& host, const CpuSet& set) {
  std::set<int> cores;
  for (unsigned p : set.ids()) {
    const auto sib = host.pcpu(p)->siblings & host.allPcpus();
    if (!sib.isSubsetOf(set)) cores.insert(sib.first());
  }
  return cores.size();
}

// One VM per node (up to four) with its memory on that node: a VM wanting its node's pCPUs gets
// exactly them; wanting half, it stays on its node with at most one split SMT core.
TEST(Placement, RealSysfsDumpsKeepVmsOnTheirMemoryNodeWithWholeCores) {
  const std::vector<DumpCase> cases = {
      {"64amd64-4s2n4ca2co", "8 nodes, SMT 2"},
      {"32intel64-2p8co2t+8ve", "2 nodes, SMT 2"},
      {"fakeheterocpunuma", "nodes of different sizes, one without CPUs"},
      {"nvidiagpunumanodes", "SMT 4, sparse node ids, GPU memory nodes without CPUs"},
      {"16amd64-8n2c-cpusets", "an offline CPU"},
      {"256ia64-64n2s2c", "64 nodes"},
      {"20em64t-hybrid-1p6c2t+2ca4co1t", "hybrid: SMT and single-thread cores on one node"},
      {"fakememinitiators-1np2c+1npp+gi", "CPU nodes without memory"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.dump) + ": " + c.description);
    const HostModel& host = testing::sysfsHost(c.dump);
    std::vector<unsigned> cpuNodes, memNodes;
    for (const auto& n : host.nodes) {
      if (!n.cpus.empty()) cpuNodes.push_back(n.id);
      if (n.memBytes > 0) memNodes.push_back(n.id);
    }
    ASSERT_FALSE(cpuNodes.empty());
    ASSERT_FALSE(memNodes.empty());
    auto ledger = Ledger::create(host).value();
    struct Vm {
      VmId uuid;
      unsigned node;
      bool memHere;  // its memory is on its CPUs' node
    };
    std::vector<Vm> vms;
    for (unsigned node : cpuNodes) {
      if (vms.size() == 4) break;
      const auto* hn = host.node(node);
      const bool memHere = hn->memBytes > 0;
      const unsigned memNode = memHere ? node : memNodes.front();
      auto spec = fullVnumaVm(host, "vm" + std::to_string(vms.size()), 1, 0, 1.0, 0, 0);
      spec.bootMemBytes[memNode] =
          std::min<std::uint64_t>(256 * kMiB, host.node(memNode)->memBytes / 8);
      CpuSet floor{static_cast<unsigned>(hn->cpus.first())};
      auto added = ledger.apply(AddVm{spec, floor});
      ASSERT_TRUE(added.ok()) << added.error().describe();
      vms.push_back({spec.uuid, node, memHere});
    }
    for (bool half : {false, true}) {
      SCOPED_TRACE(half ? "each VM wants half its node" : "each VM wants its whole node");
      std::vector<PlacementWant> wants;
      for (const auto& v : vms) {
        const auto n = static_cast<unsigned>(host.node(v.node)->cpus.count());
        wants.push_back({v.uuid, half ? std::max(1u, n / 2) : n, true, 0});
      }
      auto got = place(ledger, wants, PlacementParams{});
      CpuSet seen;
      for (std::size_t i = 0; i < vms.size(); ++i) {
        const auto& t = got.targets[vms[i].uuid];
        const auto& nodeCpus = host.node(vms[i].node)->cpus;
        SCOPED_TRACE("vm on node " + std::to_string(vms[i].node) + ": " + t.toList());
        EXPECT_FALSE(t.intersects(seen)) << "two VMs target the same pCPU";
        seen |= t;
        EXPECT_EQ(t.count(), wants[i].count);
        EXPECT_TRUE(t.isSubsetOf(nodeCpus)) << "left its node " << nodeCpus.toList();
        if (half) {
          EXPECT_LE(partialCores(host, t), 1u);
        } else {
          EXPECT_EQ(t, nodeCpus);
        }
      }
      EXPECT_EQ(got.unplaced, 0u);
    }
  }
}

}  // namespace
}  // namespace vnuma::broker
