#pragma once
// HotplugCpuMechanism: applies a grant by taking vCPUs offline/online through
// <fsRoot>/sys/devices/system/cpu/cpuN/online. For comparison benchmarks only: hotplug is slow
// (tens of ms per CPU) and the CPUs it offlines are gone for every task, kernel threads included.
// CPUs without an `online` file (often cpu0) cannot be offlined; a grant that would need it is
// refused before anything is written. Onlines happen before offlines; on failure the CPUs
// changed so far are restored. No CPU quota (reported as a failed best-effort item).
// Thread-safety: none. NEVER point it at the host's real sysfs in tests.

#include <string>

#include "common/log/Log.hpp"
#include "guest-agent/sys/CpuMechanism.hpp"
#include "guest-agent/sys/SysfsWriter.hpp"

namespace vnuma::agent {

class HotplugCpuMechanism : public CpuMechanism {
 public:
  HotplugCpuMechanism(std::string fsRoot, SysfsWriter& writer, Logger log);
  const char* name() const override { return "hotplug"; }
  Result<CpuSet> eligible() const override;
  Result<std::vector<ItemOutcome>> apply(const CpuSet& target, const CpuQuota& quota) override;
  Result<CpuSet> applied() const override;
  Result<std::vector<std::string>> repair(const CpuSet& target, const CpuQuota& quota) override;
  std::vector<std::string> plan(const CpuSet& target, const CpuQuota& quota) const override;

 private:
  struct CpuState {
    unsigned id;
    bool online;
    bool pluggable;  // has an online file
  };
  Result<std::vector<CpuState>> states() const;
  std::string onlineFile(unsigned cpu) const;

  std::string cpuDir_;
  SysfsWriter& writer_;
  Logger log_;
};

}  // namespace vnuma::agent
