#include <gtest/gtest.h>

#include "host-broker/model/Host.hpp"
#include "host-broker/model/Vm.hpp"

namespace vnuma::broker {
namespace {

struct SpecCase {
  const char* description;
  const char* spec;
  const char* error;  // nullptr: must parse
  unsigned pcpus = 0;
  unsigned nodes = 0;
};

TEST(HostModel, FromSpecTable) {
  const std::vector<SpecCase> cases = {
      {"bench host", "nodes=8,cpus_per_node=64,smt=2,mem_per_node_gb=256", nullptr, 512, 8},
      {"defaults", "nodes=1,cpus_per_node=4", nullptr, 4, 1},
      {"reserved cpulist with commas", "nodes=2,cpus_per_node=4,reserved=0,4", nullptr, 8, 2},
      {"reserved range then key", "reserved=0-1,nodes=2,cpus_per_node=4", nullptr, 8, 2},
      {"fractional memory", "nodes=2,cpus_per_node=2,mem_per_node_gb=0.5", nullptr, 4, 2},
      {"missing nodes", "cpus_per_node=4", "host spec: 'nodes' is required"},
      {"unknown key", "nodes=1,cpus_per_node=4,cpu=3",
       "host spec: unknown key 'cpu' (known: nodes, cpus_per_node, smt, mem_per_node_gb, reserved, "
       "reserve_mem_gb)"},
      {"not a number", "nodes=x,cpus_per_node=4", "host spec: 'nodes' must be an integer, got 'x'"},
      {"zero nodes", "nodes=0,cpus_per_node=4", "host spec: 'nodes' must be in 1..64, got 0"},
      {"smt does not divide", "nodes=1,cpus_per_node=3,smt=2",
       "host spec: cpus_per_node 3 is not a multiple of smt 2"},
      {"duplicate key", "nodes=1,nodes=2,cpus_per_node=2", "host spec: key 'nodes' given twice"},
      {"no equals", "nodes=1,cpus_per_node=2,foo", "host spec: expected key=value, got 'foo'"},
      {"reserved outside", "nodes=1,cpus_per_node=2,reserved=5",
       "host spec: host: reserved pCPUs 5 are not pCPUs of this host"},
      {"all reserved", "nodes=1,cpus_per_node=2,reserved=0-1",
       "host spec: host: every pCPU is reserved; nothing left to grant"},
      {"negative memory", "nodes=1,cpus_per_node=2,mem_per_node_gb=-1",
       "host spec: 'mem_per_node_gb' must be in (0, 1e6]"},
      {"reserve above memory", "nodes=1,cpus_per_node=2,mem_per_node_gb=1,reserve_mem_gb=2",
       "host spec: 'reserve_mem_gb' must be in [0, mem_per_node_gb]"},
  };
  for (const auto& c : cases) {
    auto h = HostModel::fromSpec(c.spec);
    if (c.error) {
      ASSERT_FALSE(h.ok()) << c.description;
      EXPECT_EQ(h.error().describe(), c.error) << c.description;
      EXPECT_EQ(h.error().code(), Errc::kInvalidArgument) << c.description;
    } else {
      ASSERT_TRUE(h.ok()) << c.description << ": " << h.error().describe();
      EXPECT_EQ(h->pcpus.size(), c.pcpus) << c.description;
      EXPECT_EQ(h->nodes.size(), c.nodes) << c.description;
      EXPECT_TRUE(h->validate().ok()) << c.description;
    }
  }
}

TEST(HostModel, SpecLayoutSiblingsAndReserve) {
  auto h = HostModel::fromSpec(
               "nodes=2,cpus_per_node=4,smt=2,mem_per_node_gb=8,reserved=0,4,reserve_mem_gb=1")
               .value();
  EXPECT_EQ(h.pcpu(5)->node, 1u);
  EXPECT_EQ(h.pcpu(5)->siblings, (CpuSet{4, 5}));
  EXPECT_EQ(h.node(1)->cpus, (CpuSet{4, 5, 6, 7}));
  EXPECT_EQ(h.reserved, (CpuSet{0, 4}));
  EXPECT_EQ(h.grantable(), (CpuSet{1, 2, 3, 5, 6, 7}));
  EXPECT_EQ(h.memAvailableForVms(0), 7 * kGiB);
  EXPECT_EQ(describeHost(h), "2 nodes, 8 pCPUs (smt 2), 2 reserved, 16 GiB");
}

TEST(HostModel, FromLiteralTopology) {
  Topology t;
  NodeInfo n0;
  n0.id = 0;
  n0.cpus = CpuSet{0, 1, 2, 3};
  n0.memTotalKb = 1024 * 1024;
  NodeInfo n2;  // sparse node id, memory-only
  n2.id = 2;
  n2.memTotalKb = 2 * 1024 * 1024;
  t.nodes = {n0, n2};
  for (unsigned c = 0; c < 4; ++c) {
    CpuInfo ci;
    ci.id = c;
    ci.node = 0;
    ci.online = c != 3;
    ci.siblings = c < 2 ? CpuSet{0, 1} : CpuSet{2, 3};
    t.cpus.push_back(ci);
  }
  auto h = HostModel::fromTopology(t, CpuSet{0}, 512 * kMiB);
  ASSERT_TRUE(h.ok()) << h.error().describe();
  EXPECT_EQ(h->pcpus.size(), 3u) << "offline CPU 3 left out";
  EXPECT_EQ(h->node(2)->memBytes, 2 * kGiB);
  EXPECT_EQ(h->node(2)->memReserveBytes, 512 * kMiB);
  EXPECT_TRUE(h->node(2)->cpus.empty());
  auto bad = HostModel::fromTopology(t, CpuSet{3}, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "reserved pCPU 3 is not an online CPU of this host");
}

TEST(VmSpec, ValidateNamesTheField) {
  VmSpec s;
  s.uuid = "u1";
  s.name = "web1";
  s.pins = {{0, 0}, {1, 1}};
  EXPECT_TRUE(s.validate().ok());
  EXPECT_EQ(s.effectiveCeiling(), 2u);
  s.floor = 3;
  EXPECT_EQ(s.validate().error().message(), "vm web1: floor 3 > 2 pinned pCPUs");
  s.floor = 2;
  s.ceiling = 1;
  EXPECT_EQ(s.validate().error().message(), "vm web1: floor 2 > ceiling 1");
  s.floor = 1;
  s.weight = 0;
  EXPECT_EQ(s.validate().error().message(), "vm web1: weight must be > 0");
  s.weight = 1;
  s.pins.clear();
  EXPECT_EQ(s.validate().error().message(),
            "vm web1: no vCPU pins (every vCPU must be pinned to one pCPU)");
}

}  // namespace
}  // namespace vnuma::broker
