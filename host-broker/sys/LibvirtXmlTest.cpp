// Unit tests of the libvirt XML layer and the VM classification rules.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "host-broker/sys/LibvirtXml.hpp"

namespace vnuma::sys {
namespace {

std::string dataFile(const std::string& name) {
  const char* src = std::getenv("VNUMA_SOURCE_DIR");
  std::string path =
      std::string(src != nullptr ? src : VNUMA_TEST_SOURCE_DIR) + "/tests/data/libvirt/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * 1024;

TEST(Capabilities, RealOneNodeHost) {
  auto h = parseCapabilities(dataFile("caps-1node-2cpu.xml"));
  ASSERT_TRUE(h) << h.error().describe();
  ASSERT_EQ(h->cells.size(), 1u);
  EXPECT_EQ(h->cells[0].cpus.toList(), "0-1");
  EXPECT_EQ(h->cells[0].memoryBytes, 5597388 * kKiB);
  ASSERT_EQ(h->cpus.size(), 2u);
  EXPECT_EQ(h->cpus[1].core, 1);
  EXPECT_EQ(h->cpus[1].socket, 0);
  EXPECT_EQ(h->cpus[1].siblings.toList(), "1");
  EXPECT_EQ(h->cellOfCpu(1), 0);
  EXPECT_EQ(h->cellOfCpu(2), -1);
}

TEST(Capabilities, TestDriverDefaultTwoNodes) {
  auto h = parseCapabilities(dataFile("caps-test-default-2node.xml"));
  ASSERT_TRUE(h) << h.error().describe();
  ASSERT_EQ(h->cells.size(), 2u);
  EXPECT_EQ(h->cells[0].cpus.toList(), "0-7");
  EXPECT_EQ(h->cells[1].cpus.toList(), "8-15");
  EXPECT_EQ(h->cells[1].memoryBytes, 4194304 * kKiB);
  EXPECT_EQ(h->cpus[9].socket, 1);
  EXPECT_EQ(h->cellOfCpu(9), 1);
}

TEST(Capabilities, Malformed) {
  struct Case {
    const char* desc;
    std::string xml;
    std::string error;
  };
  const Case cases[] = {
      {"not xml", "<capabilities><host>", "malformed capabilities XML: "},
      {"wrong root", "<domain/>", "capabilities XML: root element is not <capabilities>"},
      {"bad cell id",
       "<capabilities><host><topology><cells><cell "
       "id='x'/></cells></topology></host></capabilities>",
       "capabilities XML: cell id='x' is not a non-negative integer"},
      {"bad siblings",
       "<capabilities><host><topology><cells><cell id='0'><cpus><cpu id='0' "
       "siblings='3-1'/></cpus></cell>"
       "</cells></topology></host></capabilities>",
       "capabilities XML cpu 0 siblings: "},
  };
  for (const auto& c : cases) {
    auto h = parseCapabilities(c.xml);
    ASSERT_FALSE(h) << c.desc;
    EXPECT_EQ(h.error().code(), Errc::kInvalidArgument) << c.desc;
    EXPECT_EQ(h.error().describe().rfind(c.error, 0), 0u) << c.desc << ": " << h.error().describe();
  }
}

TEST(Capabilities, NoCellsIsEmptyNotError) {
  auto h = parseCapabilities(
      "<capabilities><host><topology><cells num='0'></cells></topology></host></capabilities>");
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->cells.empty());
}

TEST(SynthesizeHost, CellMajorWithAdjacentSiblings) {
  HostInfo h = synthesizeHost(2, 1, 2, 2, 16 * 1024 * kMiB);
  ASSERT_EQ(h.cells.size(), 2u);
  EXPECT_EQ(h.cells[0].cpus.toList(), "0-3");
  EXPECT_EQ(h.cells[1].cpus.toList(), "4-7");
  EXPECT_EQ(h.cells[1].memoryBytes, 8 * 1024 * kMiB);
  EXPECT_EQ(h.cpus[5].siblings.toList(), "4-5");
  EXPECT_EQ(h.cpus[5].core, 0);
  EXPECT_EQ(h.cpus[6].core, 1);
  EXPECT_EQ(h.cpus[6].socket, 1);
}

TEST(Metadata, Valid) {
  struct Case {
    const char* desc;
    std::string xml;
    bool optedIn;
    unsigned floor, ceiling, weight;
  };
  const Case cases[] = {
      {"all attributes", "<vm managed='yes' floor='2' ceiling='4' weight='300'/>", true, 2, 4, 300},
      {"defaults", "<vm managed='yes'/>", true, 1, 0, 100},
      {"opted out", "<vm managed='no'/>", false, 1, 0, 100},
      {"with prefix as libvirt stores it",
       "<vnuma:vm xmlns:vnuma='https://vnuma.dev/xmlns/vnuma/1' managed='yes' floor='1'/>", true, 1,
       0, 100},
      {"floor equals ceiling", "<vm managed='yes' floor='3' ceiling='3'/>", true, 3, 3, 100},
      {"no managed attribute", "<vm floor='1'/>", false, 1, 0, 100},
  };
  for (const auto& c : cases) {
    auto s = parseVnumaMetadata(c.xml);
    ASSERT_TRUE(s) << c.desc << ": " << s.error().describe();
    EXPECT_EQ(s->optedIn, c.optedIn) << c.desc;
    EXPECT_EQ(s->floor, c.floor) << c.desc;
    EXPECT_EQ(s->ceiling, c.ceiling) << c.desc;
    EXPECT_EQ(s->weight, c.weight) << c.desc;
  }
}

TEST(Metadata, InvalidWithExactMessages) {
  struct Case {
    const char* desc;
    std::string xml;
    std::string error;
  };
  const Case cases[] = {
      {"bad managed", "<vm managed='maybe'/>",
       "invalid vnuma metadata: managed='maybe' (expected 'yes' or 'no')"},
      {"floor not a number", "<vm managed='yes' floor='x'/>",
       "invalid vnuma metadata: floor='x' is not a non-negative integer"},
      {"negative weight", "<vm managed='yes' weight='-5'/>",
       "invalid vnuma metadata: weight='-5' is not a non-negative integer"},
      {"floor zero", "<vm managed='yes' floor='0'/>", "invalid vnuma metadata: floor must be >= 1"},
      {"ceiling zero", "<vm managed='yes' ceiling='0'/>",
       "invalid vnuma metadata: ceiling must be >= 1"},
      {"floor above ceiling", "<vm managed='yes' floor='3' ceiling='2'/>",
       "invalid vnuma metadata: floor 3 > ceiling 2"},
      {"weight zero", "<vm managed='yes' weight='0'/>",
       "invalid vnuma metadata: weight 0 out of range 1..10000"},
      {"weight too big", "<vm managed='yes' weight='10001'/>",
       "invalid vnuma metadata: weight 10001 out of range 1..10000"},
      {"unknown attribute", "<vm managed='yes' color='red'/>",
       "invalid vnuma metadata: unknown attribute 'color'"},
      {"wrong element", "<host managed='yes'/>",
       "invalid vnuma metadata: expected element <vm>, got <host>"},
  };
  for (const auto& c : cases) {
    auto s = parseVnumaMetadata(c.xml);
    ASSERT_FALSE(s) << c.desc;
    EXPECT_EQ(s.error().code(), Errc::kInvalidArgument) << c.desc;
    EXPECT_EQ(s.error().describe(), c.error) << c.desc;
  }
  auto garbage = parseVnumaMetadata("<vm");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(
      garbage.error().describe().rfind("invalid vnuma metadata: malformed vnuma metadata XML: ", 0),
      0u)
      << garbage.error().describe();
}

TEST(Metadata, RoundTrip) {
  VnumaSettings s{true, 2, 5, 700};
  auto back = parseVnumaMetadata(vnumaMetadataXml(s));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->floor, 2u);
  EXPECT_EQ(back->ceiling, 5u);
  EXPECT_EQ(back->weight, 700u);
  EXPECT_TRUE(back->optedIn);
  VnumaSettings noCeiling{false, 1, 0, 100};
  EXPECT_EQ(vnumaMetadataXml(noCeiling), "<vm managed='no' floor='1' weight='100'/>");
}

TEST(Sizes, LibvirtUnits) {
  EXPECT_EQ(*parseLibvirtSize("4", ""), 4 * kKiB);
  EXPECT_EQ(*parseLibvirtSize("4", "KiB"), 4 * kKiB);
  EXPECT_EQ(*parseLibvirtSize("4", "MiB"), 4 * kMiB);
  EXPECT_EQ(*parseLibvirtSize("1", "G"), 1024 * kMiB);
  EXPECT_EQ(*parseLibvirtSize("7", "bytes"), 7u);
  EXPECT_EQ(*parseLibvirtSize("2", "KB"), 2000u);
  EXPECT_EQ(parseLibvirtSize("2", "parsecs").error().describe(), "unknown memory unit 'parsecs'");
  EXPECT_EQ(parseLibvirtSize("2x", "KiB").error().describe(),
            "size='2x' is not a non-negative integer");
  EXPECT_FALSE(parseLibvirtSize("18446744073709551615", "KiB"));
}

// The Full vNUMA domain of the test-driver fixture, as a literal (XML layer only).
const char* kFull2Xml = R"(<domain type='test' id='7'>
  <name>full2</name><uuid>11111111-2222-3333-4444-000000000001</uuid>
  <memory unit='KiB'>3145728</memory>
  <vcpu placement='static'>4</vcpu>
  <iothreads>1</iothreads>
  <cputune>
    <vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='1'/>
    <vcpupin vcpu='2' cpuset='4'/><vcpupin vcpu='3' cpuset='5'/>
    <emulatorpin cpuset='2-3'/>
  </cputune>
  <numatune>
    <memnode cellid='0' mode='strict' nodeset='0'/><memnode cellid='1' mode='strict' nodeset='1'/>
  </numatune>
  <cpu><numa>
    <cell id='0' cpus='0-1' memory='512' unit='MiB'/>
    <cell id='1' cpus='2-3' memory='524288' unit='KiB'/>
  </numa></cpu>
  <devices>
    <memory model='virtio-mem'>
      <target><size unit='KiB'>1048576</size><node>0</node><block unit='KiB'>2048</block>
        <requested unit='KiB'>524288</requested><current unit='KiB'>262144</current></target>
      <alias name='virtiomem0'/>
    </memory>
    <memory model='virtio-mem'>
      <target><size unit='GiB'>1</size><node>1</node><block unit='MiB'>2</block>
        <requested unit='KiB'>0</requested></target>
      <alias name='virtiomem1'/>
    </memory>
    <memory model='dimm'><target><size unit='KiB'>524288</size><node>0</node></target></memory>
  </devices>
</domain>)";

TEST(DomainXml, FullVnumaDomain) {
  auto vm = parseDomainXml(kFull2Xml, CpuSet::range(0, 7));
  ASSERT_TRUE(vm) << vm.error().describe();
  EXPECT_EQ(vm->name, "full2");
  EXPECT_EQ(vm->uuid, "11111111-2222-3333-4444-000000000001");
  EXPECT_EQ(vm->id, 7);
  EXPECT_EQ(vm->vcpus, 4u);
  ASSERT_EQ(vm->vcpuAffinity.size(), 4u);
  EXPECT_EQ(vm->vcpuAffinity[2].toList(), "4");
  ASSERT_TRUE(vm->emulatorPin);
  EXPECT_EQ(vm->emulatorPin->toList(), "2-3");
  EXPECT_EQ(vm->iothreads, 1u);
  ASSERT_EQ(vm->nodes.size(), 2u);
  EXPECT_EQ(vm->nodes[0].vcpus.toList(), "0-1");
  EXPECT_EQ(vm->nodes[0].memoryBytes, 512 * kMiB);
  EXPECT_EQ(vm->nodes[1].memoryBytes, 512 * kMiB);
  ASSERT_TRUE(vm->nodes[1].memNodes);
  EXPECT_EQ(vm->nodes[1].memNodes->toList(), "1");
  ASSERT_EQ(vm->memDevices.size(), 2u) << "the dimm is not a virtio-mem device";
  const auto& d0 = vm->memDevices[0];
  EXPECT_EQ(d0.alias, "virtiomem0");
  EXPECT_EQ(d0.guestNode, 0u);
  EXPECT_EQ(d0.sizeBytes, 1024 * kMiB);
  EXPECT_EQ(d0.blockBytes, 2 * kMiB);
  EXPECT_EQ(d0.requestedBytes, 512 * kMiB);
  EXPECT_EQ(d0.currentBytes, 256 * kMiB);
  EXPECT_EQ(vm->memDevices[1].sizeBytes, 1024 * kMiB);
  EXPECT_EQ(vm->memDevices[1].blockBytes, 2 * kMiB);
  EXPECT_EQ(vm->memDeviceForNode(1)->alias, "virtiomem1");
}

TEST(DomainXml, DefaultsAndErrors) {
  auto vm = parseDomainXml(
      "<domain><name>plain</name><uuid>u</uuid><memory>1024</memory>"
      "<vcpu cpuset='1-2' current='2'>4</vcpu></domain>",
      CpuSet::range(0, 3));
  ASSERT_TRUE(vm) << vm.error().describe();
  EXPECT_EQ(vm->id, -1);
  EXPECT_EQ(vm->vcpus, 2u);
  EXPECT_EQ(vm->vcpuAffinity[1].toList(), "1-2");
  ASSERT_EQ(vm->nodes.size(), 1u) << "one implicit node";
  EXPECT_EQ(vm->nodes[0].vcpus.toList(), "0-1");
  EXPECT_EQ(vm->nodes[0].memoryBytes, 1024 * kKiB);

  struct Case {
    const char* desc;
    std::string xml;
    std::string error;
  };
  const Case cases[] = {
      {"no vcpu", "<domain><name>a</name></domain>", "domain 'a' XML: no <vcpu>"},
      {"bad pin",
       "<domain><name>a</name><vcpu>2</vcpu><cputune><vcpupin vcpu='0' "
       "cpuset='3-1'/></cputune></domain>",
       "domain 'a' XML: vcpupin 0: "},
      {"bad cell memory",
       "<domain><name>a</name><vcpu>1</vcpu><cpu><numa><cell id='0' cpus='0' "
       "memory='lots'/></numa></cpu></domain>",
       "domain 'a' XML: numa cell 0 memory: size='lots' is not a non-negative integer"},
      {"virtio-mem without size",
       "<domain><name>a</name><vcpu>1</vcpu><devices><memory "
       "model='virtio-mem'><target><node>0</node></target>"
       "<alias name='m'/></memory></devices></domain>",
       "domain 'a' XML: virtio-mem 'm': no <size>"},
      {"not a domain", "<network/>", "domain XML: root element is not <domain>"},
  };
  for (const auto& c : cases) {
    auto r = parseDomainXml(c.xml, CpuSet::range(0, 3));
    ASSERT_FALSE(r) << c.desc;
    EXPECT_EQ(r.error().describe().rfind(c.error, 0), 0u) << c.desc << ": " << r.error().describe();
  }
}

HostInfo twoNodeHost() { return synthesizeHost(2, 1, 2, 2, 16 * 1024 * kMiB); }

VmInfo full2(std::optional<VnumaSettings> s = VnumaSettings{true, 1, 4, 100}) {
  auto vm = parseDomainXml(kFull2Xml, CpuSet::range(0, 7));
  EXPECT_TRUE(vm);
  vm->settings = s;
  return *vm;
}

TEST(Classify, MirroringFullVnumaIsManaged) {
  VmInfo vm = full2();
  classifyVm(vm, twoNodeHost());
  EXPECT_TRUE(vm.managed) << vm.unmanagedReason;
  EXPECT_EQ(vm.unmanagedReason, "");
  EXPECT_TRUE(vm.mirror);
  EXPECT_TRUE(vm.mismatches.empty());
  EXPECT_EQ(vm.pcpuOfVcpu, (std::vector<int>{0, 1, 4, 5}));
  EXPECT_EQ(vm.nodes[0].hostNode, 0);
  EXPECT_EQ(vm.nodes[1].hostNode, 1);
  EXPECT_EQ(vm.nodes[1].pcpus.toList(), "4-5");
}

TEST(Classify, TwoGuestNodesOnOneHostNodeIsManagedButNotMirror) {
  // Our real test host: 2 pCPUs, one NUMA node; the test guests have two nodes.
  auto host = parseCapabilities(dataFile("caps-1node-2cpu.xml"));
  ASSERT_TRUE(host);
  auto vm = parseDomainXml(
      "<domain><name>g</name><vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin "
      "vcpu='1' cpuset='1'/>"
      "</cputune><cpu><numa><cell id='0' cpus='0' memory='256' unit='MiB'/><cell id='1' cpus='1' "
      "memory='256' "
      "unit='MiB'/></numa></cpu></domain>",
      CpuSet::range(0, 1));
  ASSERT_TRUE(vm);
  vm->settings = VnumaSettings{true, 1, 0, 100};
  classifyVm(*vm, *host);
  EXPECT_TRUE(vm->managed) << vm->unmanagedReason;
  EXPECT_FALSE(vm->mirror);
  EXPECT_EQ(vm->nodes[0].hostNode, 0);
  EXPECT_EQ(vm->nodes[1].hostNode, 0);
  EXPECT_EQ(vm->mismatches, (std::vector<std::string>{"guest has 2 NUMA node(s), host has 1",
                                                      "guest node 1 is on host node 0"}));
}

TEST(Classify, UnmanagedReasons) {
  struct Case {
    const char* desc;
    std::function<void(VmInfo&)> edit;
    std::string reason;
  };
  const Case cases[] = {
      {"no metadata", [](VmInfo& v) { v.settings.reset(); }, "not opted in (no vnuma metadata)"},
      {"managed='no'", [](VmInfo& v) { v.settings->optedIn = false; },
       "not opted in (managed='no')"},
      {"metadata error",
       [](VmInfo& v) {
         v.settings.reset();
         v.metadataError = "invalid vnuma metadata: floor 3 > ceiling 2";
       },
       "invalid vnuma metadata: floor 3 > ceiling 2"},
      {"vCPU on two pCPUs",
       [](VmInfo& v) {
         v.vcpuAffinity[1] = CpuSet{1, 2};
       },
       "vCPU 1 is not pinned to exactly one pCPU (affinity '1-2')"},
      {"shared pCPU", [](VmInfo& v) { v.vcpuAffinity[3] = CpuSet{0}; },
       "vCPUs 0 and 3 share pCPU 0"},
      {"pCPU the host lacks", [](VmInfo& v) { v.vcpuAffinity[3] = CpuSet{40}; },
       "vCPU 3 is pinned to pCPU 40 which the host does not have"},
      {"several reasons",
       [](VmInfo& v) {
         v.settings.reset();
         v.vcpuAffinity[0] = CpuSet::range(0, 7);
       },
       "not opted in (no vnuma metadata); vCPU 0 is not pinned to exactly one pCPU (affinity "
       "'0-7')"},
  };
  for (const auto& c : cases) {
    VmInfo vm = full2();
    c.edit(vm);
    classifyVm(vm, twoNodeHost());
    EXPECT_FALSE(vm.managed) << c.desc;
    EXPECT_EQ(vm.unmanagedReason, c.reason) << c.desc;
  }
}

TEST(Classify, MemoryBindingDisagreesWithPins) {
  VmInfo vm = full2();
  vm.nodes[1].memNodes = CpuSet{0};
  classifyVm(vm, twoNodeHost());
  EXPECT_TRUE(vm.managed);
  EXPECT_FALSE(vm.mirror);
  EXPECT_EQ(vm.nodes[1].hostNode, -1);
  EXPECT_EQ(vm.mismatches,
            (std::vector<std::string>{
                "guest node 1: vCPUs on host node(s) 1 but memory bound to host node(s) 0"}));
}

TEST(Classify, GuestNodeSpanningHostNodes) {
  VmInfo vm = full2();
  vm.vcpuAffinity[1] = CpuSet{6};  // guest node 0 now has pCPUs 0 (host node 0) and 6 (host node 1)
  vm.nodes[0].memNodes.reset();
  classifyVm(vm, twoNodeHost());
  EXPECT_TRUE(vm.managed);
  EXPECT_FALSE(vm.mirror);
  EXPECT_EQ(vm.nodes[0].hostNode, -1);
  EXPECT_EQ(vm.mismatches, (std::vector<std::string>{"guest node 0 spans host nodes 0,1"}));
}

TEST(VirtioMemUpdate, SelectsByNodeOrAliasAndValidates) {
  auto byNode = virtioMemUpdateXml(kFull2Xml, MemoryDeviceRef::byNode(1), 64 * kMiB);
  ASSERT_TRUE(byNode) << byNode.error().describe();
  EXPECT_NE(byNode->find("<requested unit=\"KiB\">65536</requested>"), std::string::npos)
      << *byNode;
  EXPECT_NE(byNode->find("virtiomem1"), std::string::npos);
  EXPECT_EQ(byNode->find("virtiomem0"), std::string::npos);
  EXPECT_EQ(byNode->rfind("<memory model=\"virtio-mem\">", 0), 0u) << *byNode;

  auto byAlias = virtioMemUpdateXml(kFull2Xml, MemoryDeviceRef::byAlias("virtiomem0"), 0);
  ASSERT_TRUE(byAlias);
  EXPECT_NE(byAlias->find("<requested unit=\"KiB\">0</requested>"), std::string::npos) << *byAlias;
  EXPECT_NE(byAlias->find("<current unit=\"KiB\">262144</current>"), std::string::npos)
      << "other fields kept";

  auto missing = virtioMemUpdateXml(kFull2Xml, MemoryDeviceRef::byAlias("nope"), 0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::kNotFound);
  EXPECT_EQ(missing.error().describe(), "no virtio-mem device with alias 'nope'");
  auto noNode = virtioMemUpdateXml(kFull2Xml, MemoryDeviceRef::byNode(5), 0);
  EXPECT_EQ(noNode.error().describe(), "no virtio-mem device with guest node 5");

  auto unaligned = virtioMemUpdateXml(kFull2Xml, MemoryDeviceRef::byNode(0), 3 * kMiB);
  ASSERT_FALSE(unaligned);
  EXPECT_EQ(unaligned.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(unaligned.error().describe(),
            "requested size 3145728 bytes is not a multiple of the block size 2097152 bytes");
  auto tooBig = virtioMemUpdateXml(kFull2Xml, MemoryDeviceRef::byNode(0), 2048 * kMiB);
  EXPECT_EQ(tooBig.error().describe(),
            "requested size 2147483648 bytes exceeds the device size 1073741824 bytes");
}

}  // namespace
}  // namespace vnuma::sys

namespace vnuma::sys {
namespace {

TEST(VcpuStats, FromLibvirtFields) {
  // `virsh domstats --vcpu` of a running 2-vCPU TCG guest on our test host.
  const std::vector<std::pair<std::string, std::uint64_t>> fields = {
      {"vcpu.current", 2},         {"vcpu.maximum", 2},         {"vcpu.1.state", 1},
      {"vcpu.1.time", 1450000000}, {"vcpu.1.wait", 0},          {"vcpu.1.delay", 155442702},
      {"vcpu.0.state", 1},         {"vcpu.0.time", 4990000000}, {"vcpu.0.wait", 0},
      {"vcpu.0.delay", 95148938},  {"vcpu.x.time", 5},          {"balloon.current", 9},
      {"vcpu.2.halted", 1},
  };
  auto s = vcpuStatsFromFields(fields);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].vcpu, 0u);
  EXPECT_EQ(s[0].timeNs, 4990000000u);
  EXPECT_EQ(s[0].delayNs, 95148938u);
  EXPECT_TRUE(s[0].hasDelay);
  EXPECT_EQ(s[0].state, 1);
  EXPECT_EQ(s[1].timeNs, 1450000000u);
  EXPECT_EQ(s[1].delayNs, 155442702u);
  EXPECT_EQ(s[2].vcpu, 2u);
  EXPECT_FALSE(s[2].hasDelay) << "a kernel without delay accounting";
  EXPECT_EQ(s[2].state, -1);
  EXPECT_TRUE(vcpuStatsFromFields({}).empty());
}

}  // namespace
}  // namespace vnuma::sys
