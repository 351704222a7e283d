// HostCpuEnforcer logic on a fake fs root (pid files, /proc/PID/cgroup captured from a real
// libvirt host) and an in-memory CgroupWriter; the real-cgroup test is HostCpuEnforcerCgroupTest.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "host-broker/sys/HostCpuEnforcer.hpp"
#include "host-broker/sys/TestSupport.hpp"

namespace vnuma::sys {
namespace {

namespace fs = std::filesystem;

// cgroupfs stand-in: only files that exist can be read or written.
class MapCgroupWriter final : public CgroupWriter {
 public:
  std::map<std::string, std::string> files;  // "controller:path/file" -> value
  Result<std::string> read(const std::string& c, const std::string& cg,
                           const std::string& f) override {
    auto it = files.find(c + ":" + cg + "/" + f);
    if (it == files.end())
      return Error(Errc::kNotFound,
                   "reading " + c + ":/" + cg + "/" + f + ": no such cgroup or file");
    return it->second;
  }
  Result<void> write(const std::string& c, const std::string& cg, const std::string& f,
                     const std::string& v) override {
    auto it = files.find(c + ":" + cg + "/" + f);
    if (it == files.end())
      return Error(Errc::kNotFound,
                   "writing " + c + ":/" + cg + "/" + f + ": no such cgroup or file");
    it->second = v;
    return okResult();
  }
};

// /proc/PID/cgroup of a QEMU started by libvirtd on our cgroup-v1 test host.
const char* kV1ProcCgroup =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/machine/qemu-1-vm1.libvirt-qemu\n"
    "4:memory:/machine/qemu-1-vm1.libvirt-qemu\n3:cpuset:/machine/qemu-1-vm1.libvirt-qemu/"
    "emulator\n"
    "2:cpuacct:/\n1:cpu:/machine/qemu-1-vm1.libvirt-qemu/emulator\n0::/machine/"
    "qemu-1-vm1.libvirt-qemu/emulator\n";
// A pure cgroup-v2 systemd host.
const char* kV2ProcCgroup = "0::/machine.slice/machine-qemu\\x2d2\\x2dvm2.scope/libvirt/emulator\n";

class EnforcerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("vnuma-enforcer-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    put("run/libvirt/qemu/vm1.pid", "4242");
    put("proc/4242/cgroup", kV1ProcCgroup);
    put("run/libvirt/qemu/vm2.pid", "777\n");
    put("proc/777/cgroup", kV2ProcCgroup);
    put("run/libvirt/qemu/junk.pid", "12ab");
    put("run/libvirt/qemu/gone.pid", "999999");
    put("run/libvirt/qemu/nocpu.pid", "555");
    put("proc/555/cgroup", "1:cpu:/\n0::/\n");
    for (int v = 0; v < 2; ++v) {
      writer_
          .files["cpu:machine/qemu-1-vm1.libvirt-qemu/vcpu" + std::to_string(v) + "/cpu.shares"] =
          "1024";
      writer_.files["cpu:machine.slice/machine-qemu\\x2d2\\x2dvm2.scope/libvirt/vcpu" +
                    std::to_string(v) + "/cpu.weight"] = "100";
    }
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& content) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << content;
  }
  std::string v1(unsigned vcpu) {
    return writer_
        .files["cpu:machine/qemu-1-vm1.libvirt-qemu/vcpu" + std::to_string(vcpu) + "/cpu.shares"];
  }
  EnforcerOptions opts() { return {root_.string(), "run/libvirt/qemu", log_.log}; }

  fs::path root_;
  MapCgroupWriter writer_;
  testing::CapturedLog log_;
};

TEST_F(EnforcerTest, LocatesV1AndV2VcpuCgroups) {
  HostCpuEnforcer e(writer_, opts());
  auto a = e.locate("vm1", 1);
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->version, CgroupVersion::kV1);
  EXPECT_EQ(a->controller, "cpu");
  EXPECT_EQ(a->path, "machine/qemu-1-vm1.libvirt-qemu/vcpu1");
  EXPECT_EQ(a->file, "cpu.shares");
  EXPECT_EQ(a->minValue, "2");
  auto b = e.locate("vm2", 0);
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(b->version, CgroupVersion::kV2);
  EXPECT_EQ(b->path, "machine.slice/machine-qemu\\x2d2\\x2dvm2.scope/libvirt/vcpu0");
  EXPECT_EQ(b->file, "cpu.weight");
  EXPECT_EQ(b->minValue, "1");
}

TEST_F(EnforcerTest, LocateErrors) {
  HostCpuEnforcer e(writer_, opts());
  struct Case {
    const char* desc;
    std::string vm;
    Errc code;
    std::string error;
  };
  std::string run = root_.string() + "/run/libvirt/qemu/";
  const Case cases[] = {
      {"not running", "off", Errc::kNotFound,
       "VM 'off' has no QEMU pid file " + run + "off.pid (not running?)"},
      {"garbage pid", "junk", Errc::kInvalidArgument,
       "QEMU pid file " + run + "junk.pid holds '12ab', not a pid"},
      {"process gone", "gone", Errc::kNotFound,
       "QEMU of VM 'gone' (pid 999999) is gone: no " + root_.string() + "/proc/999999/cgroup"},
      {"root cgroup only", "nocpu", Errc::kNotFound,
       "no cpu cgroup for VM 'nocpu' in " + root_.string() + "/proc/555/cgroup"},
      {"path traversal", "../x", Errc::kInvalidArgument, "bad VM name '../x'"},
  };
  for (const auto& c : cases) {
    auto r = e.locate(c.vm, 0);
    ASSERT_FALSE(r) << c.desc;
    EXPECT_EQ(r.error().code(), c.code) << c.desc;
    EXPECT_EQ(r.error().describe(), c.error) << c.desc;
  }
  auto l = e.lower("off", 0);
  EXPECT_EQ(l.error().describe(), "lowering vCPU 0 of VM 'off': VM 'off' has no QEMU pid file " +
                                      run + "off.pid (not running?)");
}

TEST_F(EnforcerTest, LowerRemembersAndRestoreWritesBack) {
  writer_.files["cpu:machine/qemu-1-vm1.libvirt-qemu/vcpu1/cpu.shares"] = "4096";
  HostCpuEnforcer e(writer_, opts());
  ASSERT_TRUE(e.lower("vm1", 1));
  EXPECT_EQ(v1(1), "2");
  EXPECT_EQ(v1(0), "1024") << "only the named vCPU";
  EXPECT_TRUE(e.isLowered("vm1", 1));
  EXPECT_FALSE(e.isLowered("vm1", 0));
  ASSERT_TRUE(e.lower("vm1", 1)) << "idempotent";
  EXPECT_EQ(v1(1), "2");
  ASSERT_TRUE(e.restore("vm1", 1));
  EXPECT_EQ(v1(1), "4096") << "the value lower() replaced";
  EXPECT_FALSE(e.isLowered("vm1", 1));
  ASSERT_TRUE(e.restore("vm1", 1)) << "restoring a normal vCPU changes nothing";
  EXPECT_EQ(v1(1), "4096");
  EXPECT_NE(log_.text().find("vcpu weight lowered vm=vm1 vcpu=1"), std::string::npos)
      << log_.text();

  ASSERT_TRUE(e.lower("vm2", 1));
  EXPECT_EQ(
      writer_.files["cpu:machine.slice/machine-qemu\\x2d2\\x2dvm2.scope/libvirt/vcpu1/cpu.weight"],
      "1");
  EXPECT_EQ(e.lowered(), (std::vector<std::pair<std::string, unsigned>>{{"vm2", 1}}));
  ASSERT_TRUE(e.restore("vm2", 1));
  EXPECT_EQ(
      writer_.files["cpu:machine.slice/machine-qemu\\x2d2\\x2dvm2.scope/libvirt/vcpu1/cpu.weight"],
      "100");
}

TEST_F(EnforcerTest, RestoreAfterBrokerRestartUsesDefault) {
  writer_.files["cpu:machine/qemu-1-vm1.libvirt-qemu/vcpu0/cpu.shares"] =
      "2";  // lowered by a previous broker
  HostCpuEnforcer e(writer_, opts());
  EXPECT_FALSE(e.isLowered("vm1", 0));
  ASSERT_TRUE(e.restore("vm1", 0));
  EXPECT_EQ(v1(0), "1024");
}

TEST_F(EnforcerTest, FailedWritesLeaveStateForRetry) {
  FaultyCgroupWriter faulty(writer_);
  HostCpuEnforcer e(faulty, opts());
  faulty.failWrites("cpu.shares", EBUSY);
  auto r = e.lower("vm1", 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kSystem);
  EXPECT_EQ(r.error().errnum(), EBUSY);
  EXPECT_EQ(r.error().describe(),
            "lowering vCPU 0 of VM 'vm1': writing "
            "cpu:/machine/qemu-1-vm1.libvirt-qemu/vcpu0/cpu.shares = 2 "
            "(injected): " +
                std::string(std::strerror(EBUSY)));
  EXPECT_FALSE(e.isLowered("vm1", 0));
  EXPECT_EQ(v1(0), "1024");
  ASSERT_TRUE(e.lower("vm1", 0)) << "retry succeeds";
  EXPECT_EQ(v1(0), "2");

  faulty.failWrites("", EINVAL);
  EXPECT_FALSE(e.restore("vm1", 0));
  EXPECT_TRUE(e.isLowered("vm1", 0)) << "still lowered: the caller retries";
  EXPECT_EQ(v1(0), "2");
  ASSERT_TRUE(e.restore("vm1", 0));
  EXPECT_EQ(v1(0), "1024");
  EXPECT_EQ(faulty.writes(), 2u);

  faulty.failReads("cpu.shares", EIO);
  auto rd = e.lower("vm1", 1);
  EXPECT_EQ(rd.error().errnum(), EIO);
  EXPECT_FALSE(e.isLowered("vm1", 1));
}

TEST_F(EnforcerTest, MissingVcpuCgroupAndForgetVm) {
  HostCpuEnforcer e(writer_, opts());
  auto r = e.lower("vm1", 7);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kNotFound);
  EXPECT_EQ(r.error().describe(),
            "lowering vCPU 7 of VM 'vm1': reading "
            "cpu:/machine/qemu-1-vm1.libvirt-qemu/vcpu7/cpu.shares: no such "
            "cgroup or file");
  ASSERT_TRUE(e.lower("vm1", 0));
  ASSERT_TRUE(e.lower("vm2", 0));
  e.forgetVm("vm1");
  EXPECT_EQ(e.lowered(), (std::vector<std::pair<std::string, unsigned>>{{"vm2", 0}}));
}

}  // namespace
}  // namespace vnuma::sys
