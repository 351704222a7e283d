// Real-cgroup tests of CgroupCpuMechanism on this machine's cgroup v1 hierarchies, inside a
// dedicated sandbox subtree (RealCgroupSandbox) that is removed even when a test fails.
#include <gtest/gtest.h>

#include <cerrno>

#include "guest-agent/sys/CgroupCpuMechanism.hpp"
#include "guest-agent/sys/Fs.hpp"
#include "guest-agent/testutil/TestUtil.hpp"

namespace vnuma::agent {
namespace {

using test::Child;
using test::cpusAllowed;
using test::RealCgroupSandbox;

class CgroupIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!sandbox_.available()) GTEST_SKIP() << "real cgroups unavailable: " << sandbox_.why();
    auto w = LibcgroupWriter::create();
    ASSERT_TRUE(w.ok()) << w.error().describe();
    writer_ = std::move(w).value();
    layout_.mode = "hybrid";
    layout_.version = CgroupVersion::kV1;
    layout_.cpusetMount = "/sys/fs/cgroup/cpuset";
    layout_.cpuMount = "/sys/fs/cgroup/cpu";
    opts_.rootPath = sandbox_.name();
  }
  CgroupCpuMechanism mechanism(CgroupWriter& w) {
    return CgroupCpuMechanism(layout_, opts_, w, log_.logger);
  }
  std::string cgroupOf(pid_t pid) {
    auto t = readFile("/proc/" + std::to_string(pid) + "/cgroup");
    return t ? t.value() : "";
  }

  RealCgroupSandbox sandbox_;
  std::unique_ptr<LibcgroupWriter> writer_;
  CgroupLayout layout_;
  CgroupMechanismOptions opts_;
  test::CapturedLog log_;
};

TEST_F(CgroupIntegration, ConfinesEveryTaskIncludingLaterChildrenAndRootTasks) {
  sandbox_.makeGroup("a");
  sandbox_.makeGroup("b");
  Child inA(sandbox_.procsFiles("a"), true);
  Child inB(sandbox_.procsFiles("b"), true);
  Child inRoot(sandbox_.procsFiles(), false);
  auto m = mechanism(*writer_);
  auto elig = m.eligible();
  ASSERT_TRUE(elig.ok()) << elig.error().describe();
  EXPECT_EQ(elig->toList(), "0-1");

  for (const CpuSet& grant : {CpuSet{0}, CpuSet{1}, CpuSet{0, 1}, CpuSet{0}}) {
    auto r = m.apply(grant, {});
    ASSERT_TRUE(r.ok()) << r.error().describe();
    // Checked right after apply() returns, i.e. before an ack could be sent.
    EXPECT_EQ(cpusAllowed(inA.pid()).toList(), grant.toList());
    EXPECT_EQ(cpusAllowed(inB.pid()).toList(), grant.toList());
    EXPECT_EQ(cpusAllowed(inRoot.pid()).toList(), grant.toList());
    auto applied = m.applied();
    ASSERT_TRUE(applied.ok());
    EXPECT_EQ(applied->toList(), grant.toList());
  }
  EXPECT_NE(cgroupOf(inRoot.pid()).find("cpuset:" + sandbox_.name() + "/vnuma.managed"),
            std::string::npos)
      << cgroupOf(inRoot.pid());
  EXPECT_NE(cgroupOf(inRoot.pid()).find("cpu:" + sandbox_.name() + "/vnuma.managed"),
            std::string::npos);
  // Children started after the grant inherit it.
  const pid_t g = inA.spawnGrandchild();
  ASSERT_GT(g, 0);
  EXPECT_EQ(cpusAllowed(g).toList(), "0");
  const pid_t g2 = inRoot.spawnGrandchild();
  ASSERT_GT(g2, 0);
  EXPECT_EQ(cpusAllowed(g2).toList(), "0");
  EXPECT_EQ(writer_->fallbacks(), 0u);  // every write went through libcgroup
}

TEST_F(CgroupIntegration, NestedV1GroupsShrinkAndGrowInKernelOrder) {
  sandbox_.makeGroup("a");
  sandbox_.makeGroup("a/inner");
  sandbox_.makeGroup("a/inner/deep");
  Child deep(sandbox_.procsFiles("a/inner/deep"), true);
  auto m = mechanism(*writer_);
  for (const CpuSet& grant : {CpuSet{1}, CpuSet{0}, CpuSet{0, 1}, CpuSet{1}}) {
    auto r = m.apply(grant, {});
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(cpusAllowed(deep.pid()).toList(), grant.toList());
    EXPECT_EQ(readTrimmed(sandbox_.cpusetDir("a/inner/deep/cpuset.cpus")).valueOr(""),
              grant.toList());
  }
}

TEST_F(CgroupIntegration, DriftIsRepairedNextPeriod) {
  sandbox_.makeGroup("a");
  Child inA(sandbox_.procsFiles("a"), true);
  auto m = mechanism(*writer_);
  ASSERT_TRUE(m.apply(CpuSet{0}, {}).ok());
  auto clean = m.repair(CpuSet{0}, {});
  ASSERT_TRUE(clean.ok()) << clean.error().describe();
  EXPECT_TRUE(clean->empty());

  // Someone else widens a cpuset and starts a new top-level cgroup with a task in it.
  ASSERT_TRUE(writeExisting(sandbox_.cpusetDir("a/cpuset.cpus"), "0-1").ok());
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "0-1");
  sandbox_.makeGroup("newcomer");
  Child inNew(sandbox_.procsFiles("newcomer"), false);
  Child strayInRoot(sandbox_.procsFiles(), false);
  auto fixed = m.repair(CpuSet{0}, {});
  ASSERT_TRUE(fixed.ok()) << fixed.error().describe();
  ASSERT_EQ(fixed->size(), 3u);
  EXPECT_EQ((*fixed)[0], "cgroup:/a cpus '0-1' -> '0'");
  EXPECT_EQ((*fixed)[1], "cgroup:/newcomer cpus '0-1' -> '0'");
  EXPECT_EQ((*fixed)[2], "moved 1 tasks from the root cgroup into cgroup:/vnuma.managed");
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "0");
  EXPECT_EQ(cpusAllowed(inNew.pid()).toList(), "0");
  EXPECT_EQ(cpusAllowed(strayInRoot.pid()).toList(), "0");
}

TEST_F(CgroupIntegration, FailedWriteRollsBackEverything) {
  sandbox_.makeGroup("a");
  sandbox_.makeGroup("b");
  sandbox_.makeGroup("c");
  Child inA(sandbox_.procsFiles("a"), true);
  Child inC(sandbox_.procsFiles("c"), true);
  auto m0 = mechanism(*writer_);
  ASSERT_TRUE(m0.apply(CpuSet{0}, {}).ok());

  FaultInjectingCgroupWriter faulty(*writer_);
  faulty.failOn("/c/cpuset.cpus", EBUSY, 1);  // a and b are written before c
  auto m = mechanism(faulty);
  auto r = m.apply(CpuSet{1}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "injected fault writing " + sandbox_.cpusetDir("c/cpuset.cpus") +
                                      ": Device or resource busy");
  EXPECT_EQ(faulty.injected(), 1);
  for (const char* g : {"a", "b", "c", "vnuma.managed"})
    EXPECT_EQ(readTrimmed(sandbox_.cpusetDir(std::string(g) + "/cpuset.cpus")).valueOr(""), "0")
        << g;
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "0");
  EXPECT_EQ(cpusAllowed(inC.pid()).toList(), "0");
}

TEST_F(CgroupIntegration, KernelRefusalIsReportedAndChangesNothing) {
  sandbox_.makeGroup("a");
  Child inA(sandbox_.procsFiles("a"), true);
  auto m = mechanism(*writer_);
  ASSERT_TRUE(m.apply(CpuSet{0, 1}, {}).ok());
  // CPU 5 does not exist on this 2-CPU machine; the kernel refuses it.
  auto r = m.apply(CpuSet{0, 5}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().describe().find("cpuset.cpus"), std::string::npos) << r.error().describe();
  EXPECT_EQ(readTrimmed(sandbox_.cpusetDir("a/cpuset.cpus")).valueOr(""), "0-1");
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "0-1");
  auto empty = m.apply(CpuSet{}, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().describe(), "empty vCPU set");
}

TEST_F(CgroupIntegration, QuotaIsWrittenAndLifted) {
  sandbox_.makeGroup("a");
  Child inA(sandbox_.procsFiles("a"), true);
  auto m = mechanism(*writer_);
  auto r = m.apply(CpuSet{0, 1}, CpuQuota{50000, 100000});
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(readTrimmed(sandbox_.cpuDir("a/cpu.cfs_quota_us")).valueOr(""), "50000");
  EXPECT_EQ(readTrimmed(sandbox_.cpuDir("a/cpu.cfs_period_us")).valueOr(""), "100000");
  EXPECT_EQ(readTrimmed(sandbox_.cpuDir("vnuma.managed/cpu.cfs_quota_us")).valueOr(""), "50000");
  // Drift on the quota is repaired too.
  ASSERT_TRUE(writeExisting(sandbox_.cpuDir("a/cpu.cfs_quota_us"), "-1").ok());
  auto fixed = m.repair(CpuSet{0, 1}, CpuQuota{50000, 100000});
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->size(), 1u);
  EXPECT_EQ(readTrimmed(sandbox_.cpuDir("a/cpu.cfs_quota_us")).valueOr(""), "50000");
  ASSERT_TRUE(m.apply(CpuSet{0, 1}, {}).ok());
  EXPECT_EQ(readTrimmed(sandbox_.cpuDir("a/cpu.cfs_quota_us")).valueOr(""), "-1");
}

TEST_F(CgroupIntegration, FileWriterBehavesLikeLibcgroup) {
  sandbox_.makeGroup("a");
  Child inA(sandbox_.procsFiles("a"), true);
  Child inRoot(sandbox_.procsFiles(), false);
  FileCgroupWriter files;
  auto m = mechanism(files);
  ASSERT_TRUE(m.apply(CpuSet{1}, {}).ok());
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "1");
  EXPECT_EQ(cpusAllowed(inRoot.pid()).toList(), "1");
}

}  // namespace
}  // namespace vnuma::agent
