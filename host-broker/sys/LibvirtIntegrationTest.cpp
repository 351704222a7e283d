// LibvirtHypervisor against the real libvirtd (qemu:///system) that scripts/libvirt-setup.sh
// starts: defines (never boots) a Full vNUMA TCG domain with virtio-mem devices and vnuma
// metadata, reads it back, changes it through the Hypervisor, undefines it. Label integration.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "host-broker/sys/Hypervisor.hpp"
#include "host-broker/sys/TestSupport.hpp"

namespace vnuma::sys {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
void quiet(void*, virErrorPtr) {}

class RealLibvirt : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run libvirtd (scripts/libvirt-setup.sh)";
    std::string cmd = "sh " + testing::sourceDir() + "/scripts/libvirt-setup.sh";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << " failed";
    auto h = LibvirtHypervisor::open({"qemu:///system", 5, 3, true, "/", log_.log});
    ASSERT_TRUE(h) << h.error().describe();
    hv_ = std::move(*h);
    virSetErrorFunc(nullptr, quiet);
    raw_ = virConnectOpen("qemu:///system");
    ASSERT_NE(raw_, nullptr);
    name_ = "vnuma-sys-test-" + std::to_string(::getpid());
    std::ifstream in(testing::fixture("domain-full-vnuma-qemu.xml"));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string xml = std::regex_replace(ss.str(), std::regex("@NAME@"), name_);
    dom_ = virDomainDefineXML(raw_, xml.c_str());
    ASSERT_NE(dom_, nullptr) << virGetLastErrorMessage();
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    virDomainGetUUIDString(dom_, uuid);
    uuid_ = uuid;
  }
  void TearDown() override {
    if (dom_ != nullptr) {
      virDomainUndefineFlags(dom_, 0);
      virDomainFree(dom_);
    }
    if (raw_ != nullptr) virConnectClose(raw_);
  }
  // Waits up to 5 s for an event of `kind` about our domain.
  bool waitEvent(VmEventKind kind) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{hv_->eventFd(), POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      for (const auto& e : hv_->drainEvents())
        if (e.kind == kind && e.name == name_ && e.uuid == uuid_) return true;
    }
    return false;
  }

  testing::CapturedLog log_;
  std::unique_ptr<LibvirtHypervisor> hv_;
  virConnectPtr raw_ = nullptr;
  virDomainPtr dom_ = nullptr;
  std::string name_, uuid_;
};

TEST_F(RealLibvirt, HostInfoIsLocalAndCrossChecked) {
  auto h = hv_->hostInfo();
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_TRUE(h->local);
  EXPECT_FALSE(h->cells.empty());
  EXPECT_EQ(h->cpus.size(), static_cast<std::size_t>(::sysconf(_SC_NPROCESSORS_CONF)));
  EXPECT_TRUE(h->mismatches.empty()) << h->mismatches.front();
  EXPECT_FALSE(h->hostname.empty());
}

TEST_F(RealLibvirt, SysfsDisagreementIsReported) {
  // Cross-check the real libvirtd against another machine's sysfs (16 CPUs in 8 nodes, from
  // tests/data/hwloc-sysfs): every difference is reported, nothing fails.
  std::string dump = "/tmp/vnuma-sys-sysfs-" + std::to_string(::getpid());
  std::string tarball = testing::sourceDir() + "/tests/data/hwloc-sysfs/16amd64-8n2c.tar.gz";
  ASSERT_EQ(::access(tarball.c_str(), R_OK), 0) << "no sysfs dump at " << tarball;
  ASSERT_EQ(std::system(("mkdir -p " + dump + " && tar xzf " + tarball + " -C " + dump).c_str()),
            0);
  auto h = LibvirtHypervisor::open({"qemu:///system", 0, 0, false, dump, log_.log});
  ASSERT_TRUE(h) << h.error().describe();
  auto info = (*h)->hostInfo();
  std::system(("rm -rf " + dump).c_str());
  ASSERT_TRUE(info) << info.error().describe();
  ASSERT_FALSE(info->mismatches.empty());
  EXPECT_EQ(info->mismatches.front(),
            "libvirt reports " + std::to_string(info->cells.size()) + " NUMA cell(s), sysfs 8");
  EXPECT_NE(log_.text().find("host topology mismatch: "), std::string::npos);
}

TEST_F(RealLibvirt, DefinedFullVnumaDomainReadBack) {
  EXPECT_TRUE(waitEvent(VmEventKind::kDefined)) << "lifecycle event for the define";
  auto vms = hv_->listVms();
  ASSERT_TRUE(vms) << vms.error().describe();
  const VmInfo* found = nullptr;
  for (const auto& v : *vms)
    if (v.name == name_) found = &v;
  ASSERT_NE(found, nullptr);
  auto byUuid = hv_->vm(uuid_);
  ASSERT_TRUE(byUuid) << byUuid.error().describe();
  const VmInfo& vm = *byUuid;
  EXPECT_EQ(vm.name, name_);
  EXPECT_FALSE(vm.active);
  EXPECT_EQ(vm.id, -1);
  EXPECT_EQ(vm.vcpus, 2u);
  EXPECT_EQ(vm.pcpuOfVcpu, (std::vector<int>{0, 1}));
  ASSERT_EQ(vm.nodes.size(), 2u);
  EXPECT_EQ(vm.nodes[0].memoryBytes, 256 * kMiB);
  EXPECT_EQ(vm.nodes[1].vcpus.toList(), "1");
  EXPECT_EQ(vm.nodes[0].hostNode, 0);
  EXPECT_EQ(vm.nodes[1].hostNode, 0);
  ASSERT_TRUE(vm.settings);
  EXPECT_EQ(vm.settings->ceiling, 2u);
  EXPECT_EQ(vm.settings->weight, 150u);
  EXPECT_TRUE(vm.managed) << vm.unmanagedReason;
  EXPECT_FALSE(vm.mirror) << "two guest nodes on our one-node host";
  EXPECT_EQ(vm.mismatches.size(), 2u);
  ASSERT_EQ(vm.memDevices.size(), 2u);
  EXPECT_EQ(vm.memDevices[0].alias, "ua-vmem0");
  EXPECT_EQ(vm.memDevices[0].sizeBytes, 512 * kMiB);
  EXPECT_EQ(vm.memDevices[0].blockBytes, 2 * kMiB);
  EXPECT_EQ(vm.memDevices[0].requestedBytes, 128 * kMiB);
  EXPECT_EQ(vm.memDeviceForNode(1)->requestedBytes, 0u);
  ASSERT_TRUE(vm.emulatorPin);
  EXPECT_EQ(vm.emulatorPin->toList(), "0-1");
  EXPECT_EQ(vm.iothreads, 1u);
}

TEST_F(RealLibvirt, ChangesThroughTheHypervisor) {
  ASSERT_TRUE(hv_->setMemoryRequested(name_, MemoryDeviceRef::byNode(1), 64 * kMiB));
  ASSERT_TRUE(hv_->setMemoryRequested(name_, MemoryDeviceRef::byAlias("ua-vmem0"), 256 * kMiB));
  auto bad = hv_->setMemoryRequested(name_, MemoryDeviceRef::byNode(0), 1024 * kMiB);
  EXPECT_EQ(bad.error().code(), Errc::kInvalidArgument);
  ASSERT_TRUE(hv_->pinEmulator(name_, CpuSet{1}));
  auto io = hv_->pinIOThreads(name_, CpuSet{0});
  ASSERT_TRUE(io) << io.error().describe();
  ASSERT_TRUE(hv_->setSettings(name_, VnumaSettings{true, 2, 2, 400}));

  auto vm = hv_->vm(name_);
  ASSERT_TRUE(vm) << vm.error().describe();
  EXPECT_EQ(vm->memDeviceForNode(1)->requestedBytes, 64 * kMiB);
  EXPECT_EQ(vm->memDeviceForNode(0)->requestedBytes, 256 * kMiB);
  EXPECT_EQ(vm->emulatorPin->toList(), "1");
  EXPECT_EQ(vm->settings->floor, 2u);
  EXPECT_EQ(vm->settings->weight, 400u);

  auto stats = hv_->vcpuStats(name_);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code(), Errc::kConflict);
  EXPECT_EQ(stats.error().describe(), "VM '" + name_ + "' is not running");
}

TEST_F(RealLibvirt, InvalidMetadataMakesVmUnmanagedWithClearError) {
  ASSERT_EQ(
      virDomainSetMetadata(dom_, VIR_DOMAIN_METADATA_ELEMENT, "<vm managed='yes' weight='0'/>",
                           "vnuma", kVnumaXmlns, VIR_DOMAIN_AFFECT_CONFIG),
      0);
  auto vm = hv_->vm(name_);
  ASSERT_TRUE(vm);
  EXPECT_FALSE(vm->managed);
  EXPECT_EQ(vm->metadataError, "invalid vnuma metadata: weight 0 out of range 1..10000");
  ASSERT_EQ(virDomainSetMetadata(dom_, VIR_DOMAIN_METADATA_ELEMENT, nullptr, nullptr, kVnumaXmlns,
                                 VIR_DOMAIN_AFFECT_CONFIG),
            0);
  auto none = hv_->vm(name_);
  EXPECT_FALSE(none->managed);
  EXPECT_EQ(none->unmanagedReason, "not opted in (no vnuma metadata)");
}

TEST_F(RealLibvirt, UndefineIsAnEventAndUnknownAfterwards) {
  ASSERT_EQ(virDomainUndefineFlags(dom_, 0), 0);
  virDomainFree(dom_);
  dom_ = nullptr;
  EXPECT_TRUE(waitEvent(VmEventKind::kUndefined));
  auto gone = hv_->vm(name_);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Errc::kNotFound);
  EXPECT_EQ(gone.error().describe(), "unknown VM '" + name_ + "'");
}

// Only when a guest is already running (the e2e setup boots them; this test never does).
TEST_F(RealLibvirt, VcpuStatsOfARunningGuest) {
  auto vms = hv_->listVms();
  ASSERT_TRUE(vms);
  const VmInfo* running = nullptr;
  for (const auto& v : *vms)
    if (v.active) running = &v;
  if (running == nullptr) GTEST_SKIP() << "no libvirt domain is running";
  auto s = hv_->vcpuStats(running->uuid);
  ASSERT_TRUE(s) << s.error().describe();
  ASSERT_EQ(s->size(), running->vcpus);
  for (const auto& st : *s) {
    EXPECT_GT(st.timeNs, 0u) << "vcpu " << st.vcpu;
    EXPECT_TRUE(st.hasDelay) << "vcpu.N.delay is reported by libvirt 9 on Linux";
  }
}

std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, f) != nullptr) out += buf;
    ::pclose(f);
  }
  return out;
}

// Drops every libvirtd client connection of this process from the server side (virt-admin
// client-disconnect), like a libvirtd restart or a network cut would. Returns how many.
// (virt-admin is a separate process: libvirt-admin and libvirt cannot share one process.)
int disconnectOurClients() {
  std::istringstream list(run("virt-admin srv-clients-list libvirtd 2>/dev/null"));
  int closed = 0;
  for (std::string line; std::getline(list, line);) {
    std::istringstream fields(line);
    unsigned long id = 0;
    if (!(fields >> id)) continue;  // header lines
    std::string info =
        run("virt-admin client-info libvirtd " + std::to_string(id) + " 2>/dev/null");
    std::smatch m;
    if (!std::regex_search(info, m, std::regex("unix_process_id\\s*:\\s*(\\d+)"))) continue;
    if (std::stol(m[1]) != ::getpid()) continue;
    if (std::system(
            ("virt-admin client-disconnect libvirtd " + std::to_string(id) + " >/dev/null 2>&1")
                .c_str()) == 0)
      ++closed;
  }
  return closed;
}

TEST(RealLibvirtReconnect, ServerSideDisconnectIsNoticedAndRecovered) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run libvirtd (scripts/libvirt-setup.sh)";
  std::string cmd = "sh " + testing::sourceDir() + "/scripts/libvirt-setup.sh 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  testing::CapturedLog log;
  auto h = LibvirtHypervisor::open({"qemu:///system", 1, 2, true, "/", log.log});
  ASSERT_TRUE(h) << h.error().describe();
  LibvirtHypervisor& hv = **h;
  ASSERT_TRUE(hv.listVms());
  ASSERT_EQ(disconnectOurClients(), 1) << "exactly our one connection";

  std::vector<VmEvent> events;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto has = [&](VmEventKind k) {
    for (const auto& e : events)
      if (e.kind == k) return true;
    return false;
  };
  while (!has(VmEventKind::kConnectionLost) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{hv.eventFd(), POLLIN, 0};
    if (::poll(&p, 1, 100) == 1)
      for (auto& e : hv.drainEvents()) events.push_back(e);
  }
  ASSERT_TRUE(has(VmEventKind::kConnectionLost)) << log.text();
  auto vms = hv.listVms();
  ASSERT_TRUE(vms) << "the next call reconnects: " << vms.error().describe();
  for (auto& e : hv.drainEvents()) events.push_back(e);
  EXPECT_TRUE(has(VmEventKind::kReconnected));
  EXPECT_NE(log.text().find("libvirt connection to qemu:///system lost; reconnecting"),
            std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("libvirt reconnected uri=qemu:///system"), std::string::npos);
  EXPECT_TRUE(hv.hostInfo()) << "the new connection works";
}

}  // namespace
}  // namespace vnuma::sys
