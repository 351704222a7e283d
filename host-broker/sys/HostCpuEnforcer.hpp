#pragma once
// Host-side enforcement of invariant 4 ("a misbehaving guest cannot steal"): for a VM's vCPU
// whose pCPU the VM does not hold, lower the host scheduling weight of that vCPU's thread in
// the per-vCPU cgroup libvirt created, and restore it when the VM is granted the pCPU again.
//
//   cgroup v1: <cpu hierarchy>/machine/qemu-ID-NAME.libvirt-qemu/vcpuN/cpu.shares  (min 2)
//   cgroup v2: <unified>/.../vcpuN/cpu.weight                                      (min 1)
//
// Locating a VM's cgroup: QEMU's pid from <fsRoot>/<runDir>/NAME.pid (libvirt writes it),
// then <fsRoot>/proc/PID/cgroup: the v1 line whose controller list contains "cpu", else the
// v2 "0::" line; the path QEMU's main thread sits in ends in "/emulator" (libvirt moves it
// there), the VM's cgroup is its parent, vCPU N is "<parent>/vcpuN". Located afresh on every
// call (the pid changes when the VM restarts).
//
// lower() remembers the value it replaced; restore() writes it back (the default weight,
// 1024 / 100, when nothing was remembered, e.g. after a broker restart). Both are idempotent:
// lowering a lowered vCPU and restoring a normal one change nothing. A failed write leaves
// the remembered state as it was, so the caller can retry.
// Errors: kNotFound "VM 'NAME' has no QEMU pid file <path> (not running?)",
//         kNotFound "no cpu cgroup for VM 'NAME' in <path>",
//         and the CgroupWriter's errors with context "lowering vCPU N of VM 'NAME'".
// Thread-safety: not thread-safe; the engine thread owns it.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/core/Result.hpp"
#include "common/log/Log.hpp"
#include "host-broker/sys/CgroupWriter.hpp"

namespace vnuma::sys {

enum class CgroupVersion { kV1, kV2 };

struct VcpuCgroup {
  CgroupVersion version = CgroupVersion::kV1;
  std::string controller;  // "cpu" (the v1 hierarchy name or the v2 controller)
  std::string path;        // relative to the hierarchy root: "machine/qemu-1-vm.libvirt-qemu/vcpu0"
  std::string file;        // "cpu.shares" (v1) or "cpu.weight" (v2)
  std::string minValue;    // "2" / "1"
  std::string defaultValue;  // "1024" / "100"
};

struct EnforcerOptions {
  std::string fsRoot = "/";                 // where run/ and proc/ are looked up
  std::string runDir = "run/libvirt/qemu";  // relative to fsRoot
  Logger log;                               // required
};

class HostCpuEnforcer {
 public:
  // `writer` is not owned and must outlive the enforcer.
  HostCpuEnforcer(CgroupWriter& writer, EnforcerOptions opts);

  // Where vCPU `vcpu` of VM `vmName` (libvirt domain name) has its cgroup.
  Result<VcpuCgroup> locate(const std::string& vmName, unsigned vcpu) const;

  Result<void> lower(const std::string& vmName, unsigned vcpu);
  Result<void> restore(const std::string& vmName, unsigned vcpu);

  bool isLowered(const std::string& vmName, unsigned vcpu) const;
  // Every lowered (vm, vcpu), sorted.
  std::vector<std::pair<std::string, unsigned>> lowered() const;
  // Drops what is remembered about a VM (it stopped: its cgroups are gone).
  void forgetVm(const std::string& vmName);

 private:
  CgroupWriter& writer_;
  EnforcerOptions opts_;
  std::map<std::pair<std::string, unsigned>, std::string> previous_;  // lowered -> value replaced
};

}  // namespace vnuma::sys
