// LibvirtHypervisor against libvirt's test driver: a custom 2-node host with Full vNUMA,
// non-opted-in, badly pinned and badly annotated domains (tests/data/libvirt/host-2node.xml),
// and test:///default for lifecycle events. No daemon needed: label unit.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <poll.h>

#include <chrono>
#include <thread>

#include "host-broker/sys/Hypervisor.hpp"
#include "host-broker/sys/TestSupport.hpp"

namespace vnuma::sys {
namespace {

using testing::CapturedLog;
using testing::fixture;

constexpr std::uint64_t kMiB = 1024 * 1024;

class TestDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h =
        LibvirtHypervisor::open({"test://" + fixture("host-2node.xml"), 5, 3, true, "/", log_.log});
    ASSERT_TRUE(h) << h.error().describe();
    hv_ = std::move(*h);
  }
  const VmInfo* find(const std::vector<VmInfo>& vms, const std::string& name) {
    for (const auto& v : vms)
      if (v.name == name) return &v;
    return nullptr;
  }
  CapturedLog log_;
  std::unique_ptr<LibvirtHypervisor> hv_;
};

TEST_F(TestDriver, HostInfoSynthesizedFromNodeInfo) {
  auto h = hv_->hostInfo();
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_FALSE(h->local) << "the test driver is not this machine: no sysfs cross-check";
  EXPECT_TRUE(h->mismatches.empty());
  ASSERT_EQ(h->cells.size(), 2u);
  EXPECT_EQ(h->cells[0].cpus.toList(), "0-3");
  EXPECT_EQ(h->cells[1].cpus.toList(), "4-7");
  EXPECT_EQ(h->cells[0].memoryBytes + h->cells[1].memoryBytes, 16ULL * 1024 * kMiB);
  EXPECT_EQ(h->cpus.size(), 8u);
  EXPECT_EQ(h->uri.rfind("test://", 0), 0u);
  EXPECT_NE(log_.text().find("synthesized 2 cell(s)"), std::string::npos) << log_.text();
}

TEST_F(TestDriver, DefaultTestHostHasCellsFromCapabilities) {
  auto h = LibvirtHypervisor::open({"test:///default", 0, 0, false, "/", log_.log});
  ASSERT_TRUE(h) << h.error().describe();
  auto host = (*h)->hostInfo();
  ASSERT_TRUE(host);
  ASSERT_EQ(host->cells.size(), 2u);
  EXPECT_EQ(host->cells[1].cpus.toList(), "8-15");
}

TEST_F(TestDriver, ListVmsClassifiesEveryDomain) {
  auto vms = hv_->listVms();
  ASSERT_TRUE(vms) << vms.error().describe();
  ASSERT_EQ(vms->size(), 5u);

  const VmInfo* full = find(*vms, "full2");
  ASSERT_NE(full, nullptr);
  EXPECT_TRUE(full->managed) << full->unmanagedReason;
  EXPECT_TRUE(full->mirror);
  EXPECT_TRUE(full->active);
  EXPECT_GT(full->id, 0);
  EXPECT_EQ(full->uuid, "11111111-2222-3333-4444-000000000001");
  EXPECT_EQ(full->vcpus, 4u);
  EXPECT_EQ(full->pcpuOfVcpu, (std::vector<int>{0, 1, 4, 5}));
  ASSERT_TRUE(full->settings);
  EXPECT_EQ(full->settings->ceiling, 4u);
  EXPECT_EQ(full->settings->weight, 200u);
  ASSERT_EQ(full->nodes.size(), 2u);
  EXPECT_EQ(full->nodes[0].hostNode, 0);
  EXPECT_EQ(full->nodes[1].hostNode, 1);
  ASSERT_EQ(full->memDevices.size(), 2u);
  EXPECT_EQ(full->memDevices[0].alias, "ua-mem0");
  EXPECT_EQ(full->memDevices[0].requestedBytes, 512 * kMiB);
  EXPECT_EQ(full->memDevices[1].requestedBytes, 256 * kMiB);
  EXPECT_EQ(full->memDevices[1].sizeBytes, 1024 * kMiB);
  EXPECT_EQ(full->memDevices[1].blockBytes, 2 * kMiB);
  EXPECT_EQ(full->iothreads, 1u);

  const VmInfo* single = find(*vms, "single2");
  ASSERT_NE(single, nullptr);
  EXPECT_TRUE(single->managed) << single->unmanagedReason;
  EXPECT_FALSE(single->mirror);
  EXPECT_EQ(single->mismatches, (std::vector<std::string>{"guest node 1 is on host node 0"}));

  const VmInfo* optout = find(*vms, "optout");
  ASSERT_NE(optout, nullptr);
  EXPECT_FALSE(optout->managed);
  EXPECT_EQ(optout->unmanagedReason, "not opted in (no vnuma metadata)");
  EXPECT_FALSE(optout->settings);

  const VmInfo* badpins = find(*vms, "badpins");
  ASSERT_NE(badpins, nullptr);
  EXPECT_FALSE(badpins->managed);
  EXPECT_EQ(
      badpins->unmanagedReason,
      "vCPU 1 is not pinned to exactly one pCPU (affinity '6-7'); vCPUs 0 and 2 share pCPU 6");
  EXPECT_EQ(badpins->pcpuOfVcpu, (std::vector<int>{6, -1, 6}));

  const VmInfo* badmeta = find(*vms, "badmeta");
  ASSERT_NE(badmeta, nullptr);
  EXPECT_FALSE(badmeta->managed);
  EXPECT_EQ(badmeta->metadataError, "invalid vnuma metadata: floor 3 > ceiling 2");
  EXPECT_EQ(badmeta->unmanagedReason, "invalid vnuma metadata: floor 3 > ceiling 2");
  EXPECT_NE(log_.text().find("vm=badmeta invalid vnuma metadata: floor 3 > ceiling 2"),
            std::string::npos);
}

TEST_F(TestDriver, VmByNameOrUuidAndUnknownVm) {
  auto byName = hv_->vm("single2");
  ASSERT_TRUE(byName) << byName.error().describe();
  auto byUuid = hv_->vm("11111111-2222-3333-4444-000000000002");
  ASSERT_TRUE(byUuid) << byUuid.error().describe();
  EXPECT_EQ(byUuid->name, "single2");
  for (const std::string bad : {"nope", "11111111-2222-3333-4444-00000000000f", ""}) {
    auto r = hv_->vm(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::kNotFound) << bad;
    EXPECT_EQ(r.error().describe(), "unknown VM '" + bad + "'");
  }
  auto stats = hv_->vcpuStats("nope");
  EXPECT_EQ(stats.error().code(), Errc::kNotFound);
  EXPECT_EQ(hv_->pinEmulator("nope", CpuSet{0}).error().describe(), "unknown VM 'nope'");
  EXPECT_EQ(hv_->setSettings("nope", VnumaSettings{true, 1, 0, 100}).error().code(),
            Errc::kNotFound);
}

TEST_F(TestDriver, PinEmulatorAndIOThreads) {
  ASSERT_TRUE(hv_->pinEmulator("full2", CpuSet{6, 7}));
  auto vm = hv_->vm("full2");
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->emulatorPin);
  EXPECT_EQ(vm->emulatorPin->toList(), "6-7");
  auto io = hv_->pinIOThreads("full2", CpuSet{6});
  EXPECT_TRUE(io) << io.error().describe();

  auto bad = hv_->pinEmulator("full2", CpuSet{9});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(bad.error().describe(),
            "pinning the emulator of VM 'full2': CPUs '9' are not host CPUs (host has '0-7')");
  auto empty = hv_->pinIOThreads("full2", CpuSet{});
  EXPECT_EQ(empty.error().describe(), "pinning the I/O threads of VM 'full2': empty CPU set");
}

TEST_F(TestDriver, SetSettingsWritesMetadataAndValidates) {
  ASSERT_TRUE(hv_->setSettings("optout", VnumaSettings{true, 2, 2, 50}));
  auto vm = hv_->vm("optout");
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->settings);
  EXPECT_EQ(vm->settings->floor, 2u);
  EXPECT_EQ(vm->settings->weight, 50u);
  EXPECT_TRUE(vm->managed) << vm->unmanagedReason;

  auto bad = hv_->setSettings("optout", VnumaSettings{true, 3, 1, 100});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().describe(), "invalid vnuma metadata: floor 3 > ceiling 1");
  auto after = hv_->vm("optout");
  EXPECT_EQ(after->settings->floor, 2u) << "a refused write changes nothing";
}

TEST_F(TestDriver, SetMemoryRequestedValidatesBeforeLibvirt) {
  auto unaligned = hv_->setMemoryRequested("full2", MemoryDeviceRef::byNode(0), 3 * kMiB);
  ASSERT_FALSE(unaligned);
  EXPECT_EQ(unaligned.error().describe(),
            "resizing virtio-mem of VM 'full2': requested size 3145728 bytes is not a multiple of "
            "the block size "
            "2097152 bytes");
  auto noDev = hv_->setMemoryRequested("single2", MemoryDeviceRef::byNode(0), 2 * kMiB);
  EXPECT_EQ(noDev.error().code(), Errc::kNotFound);
  EXPECT_EQ(noDev.error().describe(),
            "resizing virtio-mem of VM 'single2': no virtio-mem device with guest node 0");
  // The test driver cannot update devices: a clean hypervisor error, not a crash.
  auto unsupported =
      hv_->setMemoryRequested("full2", MemoryDeviceRef::byAlias("ua-mem0"), 1024 * kMiB);
  ASSERT_FALSE(unsupported);
  EXPECT_EQ(unsupported.error().code(), Errc::kHypervisor);
  EXPECT_EQ(unsupported.error().describe().rfind(
                "resizing virtio-mem alias 'ua-mem0' of VM 'full2' to 1073741824 bytes: ", 0),
            0u)
      << unsupported.error().describe();
}

TEST_F(TestDriver, VcpuStatsOfRunningTestDomain) {
  // The test driver reports no vcpu.* stats: an empty list, not an error.
  auto s = hv_->vcpuStats("full2");
  ASSERT_TRUE(s) << s.error().describe();
  for (const auto& st : *s) EXPECT_LT(st.vcpu, 4u);
}

TEST(LibvirtOpen, BadUriIsUnavailable) {
  CapturedLog log;
  auto h = LibvirtHypervisor::open({"test:///no/such/file.xml", 0, 0, false, "/", log.log});
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), Errc::kUnavailable);
  EXPECT_EQ(
      h.error().describe().rfind("cannot connect to libvirt at 'test:///no/such/file.xml': ", 0),
      0u)
      << h.error().describe();
  auto noLog = LibvirtHypervisor::open({"test:///default", 0, 0, false, "/", nullptr});
  EXPECT_EQ(noLog.error().describe(), "LibvirtHypervisor needs a logger");
}

bool waitReadable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

TEST(LibvirtEvents, LifecycleEventsArriveThroughEventFd) {
  // test:///default connections share state, so a second connection can cause events.
  CapturedLog log;
  auto h = LibvirtHypervisor::open({"test:///default", 0, 0, true, "/", log.log});
  ASSERT_TRUE(h) << h.error().describe();
  LibvirtHypervisor& hv = **h;
  EXPECT_FALSE(waitReadable(hv.eventFd(), 0));
  virConnectPtr other = virConnectOpen("test:///default");
  ASSERT_NE(other, nullptr);
  virDomainPtr dom = virDomainLookupByName(other, "test");
  ASSERT_NE(dom, nullptr);
  ASSERT_EQ(virDomainSuspend(dom), 0);
  ASSERT_EQ(virDomainResume(dom), 0);

  std::vector<VmEvent> events;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (events.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    if (!waitReadable(hv.eventFd(), 100)) continue;
    for (auto& e : hv.drainEvents()) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, VmEventKind::kSuspended);
  EXPECT_EQ(events[0].name, "test");
  EXPECT_EQ(events[0].uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
  EXPECT_EQ(events[1].kind, VmEventKind::kResumed);
  EXPECT_FALSE(waitReadable(hv.eventFd(), 0)) << "drained: the fd is reset";
  EXPECT_TRUE(hv.drainEvents().empty());
  virDomainFree(dom);
  virConnectClose(other);
}

TEST(FaultyHypervisorTest, InjectsErrorsTimeoutsAndCounts) {
  CapturedLog log;
  auto h =
      LibvirtHypervisor::open({"test://" + fixture("host-2node.xml"), 0, 0, false, "/", log.log});
  ASSERT_TRUE(h);
  FaultyHypervisor faulty(**h);
  EXPECT_EQ(faulty.uri(), (*h)->uri());

  faulty.failNext(HvCall::kListVms, Error(Errc::kHypervisor, "injected: connection reset"), 2);
  EXPECT_EQ(faulty.listVms().error().describe(), "injected: connection reset");
  EXPECT_EQ(faulty.listVms().error().code(), Errc::kHypervisor);
  auto third = faulty.listVms();
  ASSERT_TRUE(third) << "faults are used up after `times` calls";
  EXPECT_EQ(third->size(), 5u);
  EXPECT_EQ(faulty.calls(HvCall::kListVms), 3u);

  faulty.timeoutNext(HvCall::kSetMemoryRequested, std::chrono::milliseconds(50));
  auto t0 = std::chrono::steady_clock::now();
  auto r = faulty.setMemoryRequested("full2", MemoryDeviceRef::byNode(0), 2 * kMiB);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kTimeout);
  EXPECT_EQ(r.error().describe(), "libvirt call setMemoryRequested timed out after 50 ms");

  faulty.failAlways(HvCall::kPinEmulator, Error(Errc::kHypervisor, "injected"));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(faulty.pinEmulator("full2", CpuSet{0}));
  EXPECT_TRUE(faulty.pinIOThreads("full2", CpuSet{0})) << "other calls unaffected";
  faulty.clear();
  EXPECT_TRUE(faulty.pinEmulator("full2", CpuSet{0}));
  EXPECT_EQ(faulty.calls(HvCall::kPinEmulator), 4u);
  EXPECT_EQ(faulty.calls(HvCall::kHostInfo), 0u);
  EXPECT_STREQ(hvCallName(HvCall::kVcpuStats), "vcpuStats");
}

}  // namespace
}  // namespace vnuma::sys
