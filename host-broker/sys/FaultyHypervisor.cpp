#include <thread>

#include "host-broker/sys/Hypervisor.hpp"

namespace vnuma::sys {

void FaultyHypervisor::failNext(HvCall call, Error error, unsigned times) {
  std::lock_guard lock(mu_);
  faults_.push_back({call, Fault{std::move(error), {}, times, false}});
}

void FaultyHypervisor::failAlways(HvCall call, Error error) {
  std::lock_guard lock(mu_);
  faults_.push_back({call, Fault{std::move(error), {}, 0, true}});
}

void FaultyHypervisor::timeoutNext(HvCall call, std::chrono::milliseconds delay, unsigned times) {
  std::lock_guard lock(mu_);
  Error e(Errc::kTimeout, std::string("libvirt call ") + hvCallName(call) + " timed out after " +
                              std::to_string(delay.count()) + " ms");
  faults_.push_back({call, Fault{std::move(e), delay, times, false}});
}

void FaultyHypervisor::clear() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

unsigned FaultyHypervisor::calls(HvCall call) const {
  std::lock_guard lock(mu_);
  for (const auto& [c, n] : counts_)
    if (c == call) return n;
  return 0;
}

std::optional<Error> FaultyHypervisor::take(HvCall call) {
  std::optional<Error> err;
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(mu_);
    bool counted = false;
    for (auto& [c, n] : counts_)
      if (c == call) {
        ++n;
        counted = true;
      }
    if (!counted) counts_.push_back({call, 1});
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (it->first != call) continue;
      err = it->second.error;
      delay = it->second.delay;
      if (!it->second.always && --it->second.remaining == 0) faults_.erase(it);
      break;
    }
  }
  // Sleep outside the lock so the test thread can reconfigure meanwhile.
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  return err;
}

Result<HostInfo> FaultyHypervisor::hostInfo() {
  if (auto e = take(HvCall::kHostInfo)) return std::move(*e);
  return inner_.hostInfo();
}

Result<std::vector<VmInfo>> FaultyHypervisor::listVms() {
  if (auto e = take(HvCall::kListVms)) return std::move(*e);
  return inner_.listVms();
}

Result<VmInfo> FaultyHypervisor::vm(const std::string& vm) {
  if (auto e = take(HvCall::kVm)) return std::move(*e);
  return inner_.vm(vm);
}

Result<std::vector<VcpuStat>> FaultyHypervisor::vcpuStats(const std::string& vm) {
  if (auto e = take(HvCall::kVcpuStats)) return std::move(*e);
  return inner_.vcpuStats(vm);
}

Result<void> FaultyHypervisor::setMemoryRequested(const std::string& vm, const MemoryDeviceRef& dev,
                                                  std::uint64_t requestedBytes) {
  if (auto e = take(HvCall::kSetMemoryRequested)) return std::move(*e);
  return inner_.setMemoryRequested(vm, dev, requestedBytes);
}

Result<void> FaultyHypervisor::pinEmulator(const std::string& vm, const CpuSet& cpus) {
  if (auto e = take(HvCall::kPinEmulator)) return std::move(*e);
  return inner_.pinEmulator(vm, cpus);
}

Result<void> FaultyHypervisor::pinIOThreads(const std::string& vm, const CpuSet& cpus) {
  if (auto e = take(HvCall::kPinIOThreads)) return std::move(*e);
  return inner_.pinIOThreads(vm, cpus);
}

Result<void> FaultyHypervisor::setSettings(const std::string& vm, const VnumaSettings& s) {
  if (auto e = take(HvCall::kSetSettings)) return std::move(*e);
  return inner_.setSettings(vm, s);
}

}  // namespace vnuma::sys
