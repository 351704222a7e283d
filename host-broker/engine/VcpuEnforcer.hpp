#pragma once
// The engine's seam for host-side enforcement (invariant 4): lower / restore the host
// scheduling weight of one vCPU of one VM. The real implementation forwards to
// sys::HostCpuEnforcer (per-vCPU cgroups libvirt created); tests with libvirt's test driver,
// whose VMs have no QEMU process, use RecordingVcpuEnforcer.
// Errors: kNotFound when the VM has no running QEMU (the engine then treats the vCPU as not
// running: nothing to enforce); anything else means the write failed and the engine retries.
// Thread-safety: engine thread only.

#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "common/core/Result.hpp"
#include "host-broker/sys/HostCpuEnforcer.hpp"

namespace vnuma::broker {

class VcpuEnforcer {
 public:
  virtual ~VcpuEnforcer() = default;
  virtual Result<void> lower(const std::string& vmName, unsigned vcpu) = 0;
  virtual Result<void> restore(const std::string& vmName, unsigned vcpu) = 0;
  virtual void forgetVm(const std::string& vmName) = 0;
};

class HostCpuVcpuEnforcer final : public VcpuEnforcer {
 public:
  explicit HostCpuVcpuEnforcer(sys::HostCpuEnforcer& inner) : inner_(inner) {}
  Result<void> lower(const std::string& vmName, unsigned vcpu) override {
    return inner_.lower(vmName, vcpu);
  }
  Result<void> restore(const std::string& vmName, unsigned vcpu) override {
    return inner_.restore(vmName, vcpu);
  }
  void forgetVm(const std::string& vmName) override { inner_.forgetVm(vmName); }

 private:
  sys::HostCpuEnforcer& inner_;
};

// Remembers which vCPUs are lowered; can be told to fail. For tests and the benchmarks.
// Unlike the others this one is mutex-guarded so a test thread may inspect it while the
// engine thread runs.
class RecordingVcpuEnforcer final : public VcpuEnforcer {
 public:
  Result<void> lower(const std::string& vmName, unsigned vcpu) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++lowerCalls_;
    if (failWrites_) return Error(Errc::kSystem, "injected cgroup write failure", 16);
    lowered_.insert({vmName, vcpu});
    return okResult();
  }
  Result<void> restore(const std::string& vmName, unsigned vcpu) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (failWrites_) return Error(Errc::kSystem, "injected cgroup write failure", 16);
    lowered_.erase({vmName, vcpu});
    return okResult();
  }
  void forgetVm(const std::string& vmName) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lowered_.begin(); it != lowered_.end();)
      it = it->first == vmName ? lowered_.erase(it) : std::next(it);
  }

  std::set<std::pair<std::string, unsigned>> lowered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lowered_;
  }
  unsigned lowerCalls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lowerCalls_;
  }
  void setFailWrites(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    failWrites_ = fail;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::pair<std::string, unsigned>> lowered_;
  unsigned lowerCalls_ = 0;
  bool failWrites_ = false;
};

}  // namespace vnuma::broker
