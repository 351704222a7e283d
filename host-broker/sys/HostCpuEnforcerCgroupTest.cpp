// HostCpuEnforcer and LibcgroupWriter on real kernel cgroups (label integration, root):
//  - a dedicated tree shaped like libvirt's under the cpu hierarchy
//    (<cpu>/vnuma-test-<pid>/machine/qemu-1-fake.libvirt-qemu/{emulator,vcpu0,vcpu1}), removed
//    after;
//  - a real libvirt domain's vCPU cgroups, only when a domain is running (never booted here).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host-broker/sys/CgroupWriter.hpp"
#include "host-broker/sys/HostCpuEnforcer.hpp"
#include "host-broker/sys/Hypervisor.hpp"
#include "host-broker/sys/TestSupport.hpp"

namespace vnuma::sys {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

class RealCgroup : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto w = LibcgroupWriter::create();
    ASSERT_TRUE(w) << w.error().describe();
    writer_ = std::move(*w);
    auto mp = LibcgroupWriter::mountPoint("cpu");
    if (!mp) GTEST_SKIP() << "no cpu controller mounted: " << mp.error().describe();
    mount_ = *mp;
    if (fs::exists(fs::path(mount_) / "cgroup.controllers"))
      GTEST_SKIP() << "cpu controller is on cgroup v2 here; this test builds a v1 tree";
    top_ = "vnuma-test-" + std::to_string(::getpid());
    vmRel_ = top_ + "/machine/qemu-1-fake.libvirt-qemu";
    for (const char* d : {"emulator", "vcpu0", "vcpu1"})
      fs::create_directories(fs::path(mount_) / vmRel_ / d);
    // A fake fs root for the locator: pid file + /proc/PID/cgroup pointing into our tree.
    root_ = fs::temp_directory_path() / ("vnuma-enforcer-real-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "run/libvirt/qemu");
    fs::create_directories(root_ / "proc/31337");
    std::ofstream(root_ / "run/libvirt/qemu/fake.pid") << "31337";
    std::ofstream(root_ / "proc/31337/cgroup")
        << "2:cpuacct:/\n1:cpu:/" << vmRel_ << "/emulator\n0::/\n";
  }
  void TearDown() override {
    if (!top_.empty()) {
      // Children first: cgroupfs refuses to remove a non-empty directory.
      for (const char* d : {"emulator", "vcpu0", "vcpu1"})
        ::rmdir((fs::path(mount_) / vmRel_ / d).c_str());
      ::rmdir((fs::path(mount_) / vmRel_).c_str());
      ::rmdir((fs::path(mount_) / top_ / "machine").c_str());
      ::rmdir((fs::path(mount_) / top_).c_str());
      EXPECT_FALSE(fs::exists(fs::path(mount_) / top_)) << "test cgroup tree left behind";
    }
    if (!root_.empty()) fs::remove_all(root_);
  }
  fs::path shares(int vcpu) {
    return fs::path(mount_) / vmRel_ / ("vcpu" + std::to_string(vcpu)) / "cpu.shares";
  }

  std::unique_ptr<LibcgroupWriter> writer_;
  std::string mount_, top_, vmRel_;
  fs::path root_;
  testing::CapturedLog log_;
};

TEST_F(RealCgroup, LowerAndRestoreRealCpuShares) {
  ASSERT_EQ(slurp(shares(0)), "1024");
  HostCpuEnforcer e(*writer_, {root_.string(), "run/libvirt/qemu", log_.log});
  // A real task in the vCPU cgroup, as QEMU's vCPU thread would be.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  std::ofstream(fs::path(mount_) / vmRel_ / "vcpu0" / "tasks") << child;
  auto lowered = e.lower("fake", 0);
  EXPECT_TRUE(lowered) << lowered.error().describe();
  EXPECT_EQ(slurp(shares(0)), "2");
  EXPECT_EQ(slurp(shares(1)), "1024");
  auto restored = e.restore("fake", 0);
  EXPECT_TRUE(restored) << restored.error().describe();
  EXPECT_EQ(slurp(shares(0)), "1024");
  // Move the child back to the root cgroup before the directory is removed.
  std::ofstream(fs::path(mount_) / "tasks") << child;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST_F(RealCgroup, WriterErrorsFromTheKernel) {
  auto missing = writer_->read("cpu", top_ + "/nope", "cpu.shares");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::kNotFound);
  EXPECT_EQ(missing.error().message(),
            "reading cpu:/" + top_ + "/nope/cpu.shares: no such cgroup or file");
  auto wmissing = writer_->write("cpu", top_ + "/nope", "cpu.shares", "2");
  ASSERT_FALSE(wmissing);
  EXPECT_TRUE(wmissing.error().code() == Errc::kNotFound ||
              wmissing.error().code() == Errc::kSystem)
      << wmissing.error().describe();
  auto bad = writer_->write("cpu", vmRel_ + "/vcpu1", "cpu.shares", "lots");
  ASSERT_FALSE(bad) << "the kernel refuses a non-number";
  EXPECT_EQ(slurp(shares(1)), "1024") << "nothing changed";
  auto noCtl = writer_->read("nosuchcontroller", vmRel_, "x");
  EXPECT_EQ(noCtl.error().code(), Errc::kUnavailable);

  FaultyCgroupWriter faulty(*writer_);
  HostCpuEnforcer e(faulty, {root_.string(), "run/libvirt/qemu", log_.log});
  faulty.failWrites("cpu.shares", EBUSY);
  EXPECT_EQ(e.lower("fake", 1).error().errnum(), EBUSY);
  EXPECT_EQ(slurp(shares(1)), "1024");
  ASSERT_TRUE(e.lower("fake", 1));
  EXPECT_EQ(slurp(shares(1)), "2");
  ASSERT_TRUE(e.restore("fake", 1));
  EXPECT_EQ(slurp(shares(1)), "1024");
}

// Only when the e2e setup has a guest running: lower and restore one of its real vCPU cgroups.
TEST(RealLibvirtDomain, LowerAndRestoreRunningGuestVcpu) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  testing::CapturedLog log;
  auto hv = LibvirtHypervisor::open({"qemu:///system", 0, 0, false, "/", log.log});
  if (!hv) GTEST_SKIP() << "libvirtd not reachable: " << hv.error().describe();
  auto vms = (*hv)->listVms();
  ASSERT_TRUE(vms) << vms.error().describe();
  const VmInfo* running = nullptr;
  for (const auto& v : *vms)
    if (v.active && v.vcpus > 0) running = &v;
  if (running == nullptr)
    GTEST_SKIP() << "no libvirt domain is running (this test never boots one)";
  auto w = LibcgroupWriter::create();
  ASSERT_TRUE(w);
  HostCpuEnforcer e(**w, {"/", "run/libvirt/qemu", log.log});
  auto cg = e.locate(running->name, 0);
  ASSERT_TRUE(cg) << cg.error().describe();
  auto mp = LibcgroupWriter::mountPoint(cg->controller);
  ASSERT_TRUE(mp);
  fs::path file = fs::path(*mp) / cg->path / cg->file;
  ASSERT_TRUE(fs::exists(file)) << file;
  std::string before = slurp(file);
  ASSERT_TRUE(e.lower(running->name, 0));
  EXPECT_EQ(slurp(file), cg->minValue);
  ASSERT_TRUE(e.restore(running->name, 0));
  EXPECT_EQ(slurp(file), before == cg->minValue ? cg->defaultValue : before);
}

}  // namespace
}  // namespace vnuma::sys
