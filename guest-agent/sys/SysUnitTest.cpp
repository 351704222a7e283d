// Unit tests of the kernel seam on fixture trees: cgroup layout discovery, the cgroup v2 logic
// (on a simulated v2 tree), hotplug, best-effort movers, usage sampling, memory policy.
#include <gtest/gtest.h>

#include <cerrno>

#include "guest-agent/sys/BestEffortMover.hpp"
#include "guest-agent/sys/CgroupCpuMechanism.hpp"
#include "guest-agent/sys/CgroupLayout.hpp"
#include "guest-agent/sys/Fs.hpp"
#include "guest-agent/sys/HotplugCpuMechanism.hpp"
#include "guest-agent/sys/UsageSampler.hpp"
#include "guest-agent/testutil/SimulatedCgroupV2.hpp"
#include "guest-agent/testutil/TestUtil.hpp"

namespace vnuma::agent {
namespace {

using test::TempDir;

// ---- CgroupLayout ----

struct LayoutCase {
  const char* description;
  const char* mountinfo;
  const char* controllers;  // root cgroup.controllers of the v2 mount (if any)
  const char* mode;         // expected, or nullptr when an error is expected
  const char* cpusetMountRel;
  const char* cpuMountRel;
  const char* error;  // expected error suffix (after the fixture path), when mode == nullptr
};

const LayoutCase kLayoutCases[] = {
    {"pure v2 (busybox guest)", "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
     "cpuset cpu io", "v2", "sys/fs/cgroup", "sys/fs/cgroup", nullptr},
    {"v2 without the cpu controller", "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 none rw\n",
     "cpuset memory", "v2", "sys/fs/cgroup", "", nullptr},
    {"hybrid like this build host",
     "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
     "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
     "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
     "", "hybrid", "sys/fs/cgroup/cpuset", "sys/fs/cgroup/cpu", nullptr},
    {"v1 with co-mounted cpu,cpuacct and an optional field",
     "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
     "26 24 0:23 / /sys/fs/cgroup/cpu\\040set rw shared:10 - cgroup cgroup rw,cpuset\n",
     nullptr, "v1", "sys/fs/cgroup/cpu set", "sys/fs/cgroup/cpu,cpuacct", nullptr},
    {"no cgroups at all", "22 1 0:21 / /sys rw - sysfs sysfs rw\n", nullptr, nullptr, "", "",
     "no cgroup hierarchy with the cpuset controller is mounted (looked in "},
};

TEST(CgroupLayoutTest, DiscoversFromMountinfo) {
  for (const auto& c : kLayoutCases) {
    SCOPED_TRACE(c.description);
    TempDir dir;
    dir.write("proc/self/mountinfo", c.mountinfo);
    if (c.controllers != nullptr) dir.write("sys/fs/cgroup/cgroup.controllers", c.controllers);
    if (c.controllers != nullptr)
      dir.write("sys/fs/cgroup/unified/cgroup.controllers", c.controllers);
    auto r = CgroupLayout::discover(dir.path());
    if (c.mode == nullptr) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().describe(), c.error + dir.path() + "/proc/self/mountinfo)");
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->mode, c.mode);
    EXPECT_EQ(r->cpusetMount, joinPath(dir.path(), c.cpusetMountRel));
    EXPECT_EQ(r->cpuMount,
              std::string(c.cpuMountRel).empty() ? "" : joinPath(dir.path(), c.cpuMountRel));
  }
}

TEST(CgroupLayoutTest, Cgroup2WithoutCpusetIsRefusedWithTheReason) {
  TempDir dir;
  dir.write("proc/self/mountinfo", "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  dir.write("sys/fs/cgroup/cgroup.controllers", "memory pids\n");
  auto r = CgroupLayout::discover(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "the cgroup2 hierarchy at " + dir.path() +
                                      "/sys/fs/cgroup does not offer the cpuset controller "
                                      "(cgroup.controllers: 'memory pids')");
}

// ---- cgroup v2 logic on a simulated tree ----

class V2Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    test::makeV2Fixture(dir_, "0-3");
    test::addV2Group(dir_, "system.slice", "77\n");
    dir_.write("proc/77/stat", "77 (daemon) S 1 77 77 0 -1 4194560 0 0\n");
    auto l = CgroupLayout::discover(dir_.path());
    ASSERT_TRUE(l.ok()) << l.error().describe();
    layout_ = l.value();
    opts_.fsRoot = dir_.path();
  }
  std::string cg(const std::string& rel) {
    return readTrimmed(joinPath(dir_.path(), "sys/fs/cgroup/" + rel)).valueOr("<missing>");
  }

  TempDir dir_;
  CgroupLayout layout_;
  CgroupMechanismOptions opts_;
  test::CapturedLog log_;
};

TEST_F(V2Fixture, ApplyEnablesCpusetMovesRootTasksAndConfinesTopLevelGroups) {
  test::SimulatedCgroupV2Writer w(layout_.cpusetMount);
  CgroupCpuMechanism m(layout_, opts_, w, log_.logger);
  auto r = m.apply(CpuSet{1, 2}, {});
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(cg("cgroup.subtree_control"), "cpuset");
  EXPECT_EQ(cg("cgroup.procs"), "2");  // only the kernel thread stays in the root
  EXPECT_EQ(cg("vnuma.managed/cgroup.procs"), "1\n50");
  EXPECT_EQ(cg("vnuma.managed/cpuset.cpus"), "1-2");
  EXPECT_EQ(cg("system.slice/cpuset.cpus.effective"), "1-2");
  auto applied = m.applied();
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->toList(), "1-2");
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].item, "cgroup:/system.slice");
  EXPECT_EQ((*r)[1].item, "cgroup:/vnuma.managed");
  EXPECT_EQ((*r)[2].item, "root-tasks");
  EXPECT_EQ((*r)[2].detail, "moved 2 into /vnuma.managed");
  // Same grant again writes nothing new.
  const unsigned before = w.writes;
  ASSERT_TRUE(m.apply(CpuSet{1, 2}, {}).ok());
  EXPECT_EQ(w.writes, before);
}

TEST_F(V2Fixture, NonRootAgentRootMovesTasksBeforeEnablingControllers) {
  // The agent's root is a child cgroup holding tasks: enabling cpuset there first would be
  // refused by the no-internal-process rule (the simulated writer enforces it).
  test::addV2Group(dir_, "agentroot", "50\n");
  ASSERT_TRUE(writeExisting(joinPath(dir_.path(), "sys/fs/cgroup/cgroup.procs"), "1\n2\n").ok());
  dir_.write("sys/fs/cgroup/agentroot/cpuset.cpus.effective", "0-3");
  test::addV2Group(dir_, "agentroot/work", "");
  opts_.rootPath = "/agentroot";
  test::SimulatedCgroupV2Writer w(layout_.cpusetMount);
  CgroupCpuMechanism m(layout_, opts_, w, log_.logger);
  auto r = m.apply(CpuSet{3}, {});
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(cg("agentroot/cgroup.procs"), "");
  EXPECT_EQ(cg("agentroot/vnuma.managed/cgroup.procs"), "50");
  EXPECT_EQ(cg("agentroot/work/cpuset.cpus.effective"), "3");
}

TEST_F(V2Fixture, QuotaGoesToCpuMax) {
  test::SimulatedCgroupV2Writer w(layout_.cpusetMount);
  CgroupCpuMechanism m(layout_, opts_, w, log_.logger);
  ASSERT_TRUE(m.apply(CpuSet{0, 1}, CpuQuota{150000, 100000}).ok());
  EXPECT_EQ(cg("cgroup.subtree_control"), "cpuset cpu");
  EXPECT_EQ(cg("system.slice/cpu.max"), "150000 100000");
  EXPECT_EQ(cg("vnuma.managed/cpu.max"), "150000 100000");
  ASSERT_TRUE(m.apply(CpuSet{0, 1}, {}).ok());
  EXPECT_EQ(cg("system.slice/cpu.max"), "max 100000");
}

TEST_F(V2Fixture, DriftAndNewTopLevelGroupsAreRepaired) {
  test::SimulatedCgroupV2Writer w(layout_.cpusetMount);
  CgroupCpuMechanism m(layout_, opts_, w, log_.logger);
  ASSERT_TRUE(m.apply(CpuSet{2}, {}).ok());
  ASSERT_TRUE(
      w.setValue(joinPath(layout_.cpusetMount, "system.slice"), "cpuset", "cpuset.cpus", "0-3")
          .ok());
  test::addV2Group(dir_, "user.slice", "");
  dir_.write("sys/fs/cgroup/cgroup.procs", "2\n99\n");  // a new user task appeared in the root
  dir_.write("proc/99/stat", "99 (modprobe) R 2 0 0 0 -1 4194560 0 0\n");
  auto fixed = m.repair(CpuSet{2}, {});
  ASSERT_TRUE(fixed.ok()) << fixed.error().describe();
  ASSERT_EQ(fixed->size(), 3u);
  EXPECT_EQ((*fixed)[0], "cgroup:/system.slice cpus '0-3' -> '2'");
  EXPECT_EQ((*fixed)[1], "cgroup:/user.slice cpus '' -> '2'");
  EXPECT_EQ((*fixed)[2], "moved 1 tasks from the root cgroup into cgroup:/vnuma.managed");
  EXPECT_EQ(cg("user.slice/cpuset.cpus.effective"), "2");
  auto again = m.repair(CpuSet{2}, {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST_F(V2Fixture, InjectedEinvalRollsBack) {
  test::SimulatedCgroupV2Writer sim(layout_.cpusetMount);
  CgroupCpuMechanism first(layout_, opts_, sim, log_.logger);
  ASSERT_TRUE(first.apply(CpuSet{0, 1}, {}).ok());
  FaultInjectingCgroupWriter w(sim);
  w.failOn("vnuma.managed/cpuset.cpus", EINVAL, 1);
  CgroupCpuMechanism m(layout_, opts_, w, log_.logger);
  auto r = m.apply(CpuSet{3}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "injected fault writing " + layout_.cpusetMount +
                                      "/vnuma.managed/cpuset.cpus: Invalid argument");
  EXPECT_EQ(cg("system.slice/cpuset.cpus"), "0-1");
  EXPECT_EQ(cg("vnuma.managed/cpuset.cpus"), "0-1");
}

TEST_F(V2Fixture, SilentlyRefusedWriteFailsVerificationAndRollsBack) {
  test::SimulatedCgroupV2Writer sim(layout_.cpusetMount);
  CgroupCpuMechanism m(layout_, opts_, sim, log_.logger);
  ASSERT_TRUE(m.apply(CpuSet{0, 1}, {}).ok());
  sim.ignoreWrites.insert(joinPath(layout_.cpusetMount, "system.slice/cpuset.cpus"));
  auto r = m.apply(CpuSet{2}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(),
            "verification failed: cgroup:/system.slice has effective CPUs '0-1', expected '2'");
  EXPECT_EQ(cg("vnuma.managed/cpuset.cpus"), "0-1");
}

TEST_F(V2Fixture, EligibleIsOnlineWithinTheRoot) {
  dir_.write("sys/devices/system/cpu/online", "0-5\n");
  test::SimulatedCgroupV2Writer w(layout_.cpusetMount);
  CgroupCpuMechanism m(layout_, opts_, w, log_.logger);
  auto e = m.eligible();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->toList(), "0-3");
  auto plan = m.plan(CpuSet{1}, {});
  ASSERT_GE(plan.size(), 3u);
  EXPECT_EQ(plan[1], "create " + layout_.cpusetMount + "/vnuma.managed");
}

// ---- hotplug (fixture sysfs only: never the host's CPUs) ----

class HotplugFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("sys/devices/system/cpu/online", "0-3\n");
    dir_.mkdir("sys/devices/system/cpu/cpu0");  // cpu0: no online file, like x86 guests
    for (int c = 1; c < 4; ++c)
      dir_.write("sys/devices/system/cpu/cpu" + std::to_string(c) + "/online", "1\n");
  }
  std::string online(int c) {
    return readTrimmed(
               joinPath(dir_.path(), "sys/devices/system/cpu/cpu" + std::to_string(c) + "/online"))
        .valueOr("");
  }
  TempDir dir_;
  RealSysfsWriter real_;
  test::CapturedLog log_;
};

TEST_F(HotplugFixture, OfflinesAndOnlinesAndRefusesCpu0) {
  FaultInjectingSysfsWriter w(real_);
  HotplugCpuMechanism m(dir_.path(), w, log_.logger);
  auto r = m.apply(CpuSet{0, 1}, {});
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(online(2), "0");
  EXPECT_EQ(online(3), "0");
  EXPECT_EQ(m.applied()->toList(), "0-1");
  EXPECT_EQ(m.eligible()->toList(), "0-3");
  auto bad = m.apply(CpuSet{1}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().describe(), "vCPU 0 cannot be taken offline (no online file)");
  EXPECT_EQ(online(1), "1");
  ASSERT_TRUE(m.apply(CpuSet{0, 1, 2, 3}, {}).ok());
  EXPECT_EQ(online(2), "1");
}

TEST_F(HotplugFixture, FailureRestoresCpusChangedSoFar) {
  FaultInjectingSysfsWriter w(real_);
  HotplugCpuMechanism m(dir_.path(), w, log_.logger);
  w.failOn("cpu3/online", EBUSY);
  auto r = m.apply(CpuSet{0}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(),
            "injected fault writing " + dir_.path() +
                "/sys/devices/system/cpu/cpu3/online: Device or resource busy");
  EXPECT_EQ(online(1), "1");
  EXPECT_EQ(online(2), "1");
}

// ---- best effort ----

TEST(BestEffortTest, MovesIrqsAndWorkqueueOffRevokedCpus) {
  TempDir dir;
  dir.write("proc/irq/0/smp_affinity_list", "0\n");
  dir.write("proc/irq/24/smp_affinity_list", "0-3\n");
  dir.write("proc/irq/25/smp_affinity_list", "3\n");
  dir.write("proc/irq/26/smp_affinity_list", "2-3\n");
  dir.mkdir("proc/irq/27");  // no affinity file: skipped
  dir.write("sys/devices/virtual/workqueue/cpumask", "f\n");
  RealSysfsWriter real;
  FaultInjectingSysfsWriter w(real);
  w.failOn("irq/26/", EIO);
  test::CapturedLog log;
  BestEffortMover mover({dir.path(), true, true, true}, w, log.logger);
  auto items = mover.apply(CpuSet{0, 1});
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].item, "irq/24");
  EXPECT_EQ(items[0].detail, "'0-3' -> '0-1'");
  EXPECT_EQ(items[1].item, "irq/25");
  EXPECT_EQ(items[1].detail, "'3' -> '0-1'");
  EXPECT_EQ(items[2].item, "irq/26");
  EXPECT_FALSE(items[2].ok);
  EXPECT_EQ(items[2].detail, "injected fault writing " + dir.path() +
                                 "/proc/irq/26/smp_affinity_list: Input/output error");
  EXPECT_EQ(items[3].item, "workqueue");
  EXPECT_TRUE(items[3].ok);
  EXPECT_EQ(dir.read("proc/irq/24/smp_affinity_list"), "0-1");
  EXPECT_EQ(dir.read("proc/irq/0/smp_affinity_list"), "0\n");
  EXPECT_EQ(dir.read("sys/devices/virtual/workqueue/cpumask"), "3");
  EXPECT_NE(log.text().find("warning best-effort item failed item=irq/26"), std::string::npos);
  // kthreads are never touched outside fs root "/".
  for (const auto& i : items) EXPECT_NE(i.item, "kthreads");

  // The same failure on the next grant is logged at debug level only (no warning per grant);
  // a different one is a warning again.
  log.stream->str("");
  items = mover.apply(CpuSet{0, 1});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_FALSE(items[0].ok);
  EXPECT_EQ(log.text(), "debug best-effort item failed item=irq/26 detail=\"" + items[0].detail +
                            "\" (as on the last grant)\n");
  log.stream->str("");
  w.clearFaults();
  w.failOn("irq/26/", EACCES);
  items = mover.apply(CpuSet{0, 1});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_NE(log.text().find("warning best-effort item failed item=irq/26"), std::string::npos)
      << log.text();
}

// ---- sampling ----

TEST(UsageSamplerTest, ParsersRefuseGarbageWithReasons) {
  unsigned running = 0;
  auto ok =
      parseProcStat("cpu  1 2 3 4\ncpu0 10 0 10 70 10 0 0 0 0 0\nprocs_running 3\n", &running);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(running, 3u);
  EXPECT_EQ(ok->at(0).busy, 20u);
  EXPECT_EQ(ok->at(0).total, 100u);
  EXPECT_EQ(parseProcStat("cpu0 1 x 3 4\n", nullptr).error().describe(),
            "proc/stat: bad number 'x' on line 'cpu0'");
  EXPECT_EQ(parseProcStat("intr 1\n", nullptr).error().describe(), "proc/stat: no per-CPU lines");
  EXPECT_EQ(parseProcStat("cpuX 1 2 3 4\n", nullptr).error().describe(),
            "proc/stat: bad cpu line 'cpuX'");
  auto p = parsePressure(
      "some avg10=1.50 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.25 avg60=0 avg300=0 "
      "total=9\n",
      "cpu");
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->someAvg10, 1.5);
  EXPECT_DOUBLE_EQ(p->fullAvg10, 0.25);
  EXPECT_EQ(p->someTotalUs, 1234u);
  EXPECT_EQ(parsePressure("some avg10=nan total=1\n", "io").error().describe(),
            "io: bad avg10 'nan'");
  EXPECT_EQ(parsePressure("", "io").error().describe(), "io: no 'some' line");
  auto m = parseMeminfo(
      "Node 1 MemTotal:  1000 kB\nNode 1 MemFree: 400 kB\nNode 1 Active(file): 100 kB\n"
      "Node 1 Inactive(file): 50 kB\nNode 1 SReclaimable: 10 kB\n",
      "node1");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->totalKb, 1000u);
  EXPECT_EQ(m->availableKb, 560u);
  EXPECT_EQ(parseMeminfo("MemFree: 1 kB\n", "x").error().describe(), "x: no MemTotal");
}

TEST(UsageSamplerTest, SamplesBusyPressureNodesAndVirtioMem) {
  TempDir dir;
  dir.write("proc/stat",
            "cpu  0 0 0 0\ncpu0 100 0 0 100 0 0 0 0\ncpu1 0 0 0 200 0 0 0 0\nprocs_running 2\n");
  dir.write(
      "proc/pressure/cpu",
      "some avg10=12.00 avg60=0 avg300=0 total=5\nfull avg10=0.00 avg60=0 avg300=0 total=0\n");
  dir.write("proc/pressure/memory",
            "some avg10=0.00 avg60=0 avg300=0 total=0\nfull avg10=0.00 avg60=0 avg300=0 total=0\n");
  dir.write("proc/pressure/io",
            "some avg10=3.00 avg60=0 avg300=0 total=0\nfull avg10=1.00 avg60=0 avg300=0 total=0\n");
  dir.write("sys/devices/system/node/node0/meminfo",
            "Node 0 MemTotal: 2048 kB\nNode 0 MemFree: 1024 kB\n");
  dir.write("sys/devices/system/node/node1/meminfo",
            "Node 1 MemTotal: 4096 kB\nNode 1 MemFree: 4000 kB\n");
  dir.write("sys/devices/pci0000:00/0000:00:05.0/numa_node", "1\n");
  dir.mkdir("sys/devices/pci0000:00/0000:00:05.0/virtio4");
  dir.mkdir("sys/bus/virtio/drivers/virtio_mem");
  ASSERT_EQ(::symlink((dir.path() + "/sys/devices/pci0000:00/0000:00:05.0/virtio4").c_str(),
                      (dir.path() + "/sys/bus/virtio/drivers/virtio_mem/virtio4").c_str()),
            0);
  UsageSampler s(dir.path());
  auto first = s.sample();
  ASSERT_TRUE(first.ok()) << first.error().describe();
  EXPECT_EQ(first->busy.at(0), 0.0);
  dir.write("proc/stat",
            "cpu  0 0 0 0\ncpu0 150 0 0 150 0 0 0 0\ncpu1 0 0 25 275 0 0 0 0\nprocs_running 4\n");
  auto second = s.sample();
  ASSERT_TRUE(second.ok());
  EXPECT_DOUBLE_EQ(second->busy.at(0), 0.5);
  EXPECT_DOUBLE_EQ(second->busy.at(1), 0.25);
  EXPECT_EQ(second->runnable, 3u);
  EXPECT_TRUE(second->psiAvailable);
  EXPECT_DOUBLE_EQ(second->cpu.someAvg10, 12.0);
  EXPECT_DOUBLE_EQ(second->io.fullAvg10, 1.0);
  ASSERT_EQ(second->nodes.size(), 2u);
  EXPECT_EQ(second->nodes[1].node, 1u);
  EXPECT_EQ(second->nodes[1].totalKb, 4096u);
  ASSERT_EQ(second->virtioMem.size(), 1u);
  EXPECT_EQ(second->virtioMem[0].device, "virtio4");
  EXPECT_EQ(second->virtioMem[0].node, 1);
  EXPECT_GT(second->agentRssKb, 0u);
}

TEST(MemoryPolicyTest, SetsOnlineMovableAndCountsOfflineBlocks) {
  TempDir dir;
  dir.write("sys/devices/system/memory/auto_online_blocks", "offline\n");
  dir.write("sys/devices/system/memory/memory32/state", "online\n");
  dir.write("sys/devices/system/memory/memory33/state", "offline\n");
  auto dry = ensureMovableOnline(dir.path(), false);
  EXPECT_EQ(dry.before, "offline");
  EXPECT_FALSE(dry.changed);
  auto p = ensureMovableOnline(dir.path(), true);
  EXPECT_TRUE(p.changed);
  EXPECT_EQ(p.after, "online_movable");
  EXPECT_EQ(p.offlineBlocks, 1u);
  TempDir empty;
  auto none = ensureMovableOnline(empty.path(), true);
  EXPECT_EQ(none.error,
            "cannot open " + empty.path() +
                "/sys/devices/system/memory/auto_online_blocks: No such file or directory");
}

}  // namespace
}  // namespace vnuma::agent
