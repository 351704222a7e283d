#pragma once
// CpuMechanism: how the agent confines the guest to a vCPU set. Two implementations:
//   CgroupCpuMechanism   cpusets (+ CFS quota) on the top-level cgroups (the product);
//   HotplugCpuMechanism  CPU offline/online through sysfs (for comparison benchmarks).
// Contract for apply(): all-or-nothing. On success every user-space task is confined to exactly
// `target` and the state was verified by reading it back. On error the previous state has been
// restored (as far as the kernel allowed; the error says what could not be restored).
// Thread-safety: none; owned by the engine thread.

#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"
#include "guest-agent/model/Grant.hpp"

namespace vnuma::agent {

class CpuMechanism {
 public:
  virtual ~CpuMechanism() = default;
  virtual const char* name() const = 0;
  // vCPUs a grant may name (cgroup: online CPUs; hotplug: CPUs that are online or can be onlined).
  virtual Result<CpuSet> eligible() const = 0;
  // Items describe each cgroup / CPU touched. Error: state restored, message says why.
  virtual Result<std::vector<ItemOutcome>> apply(const CpuSet& target, const CpuQuota& quota) = 0;
  // What is in force now, read back from the kernel.
  virtual Result<CpuSet> applied() const = 0;
  // Re-checks the state against `target` and repairs differences; returns one line per repair
  // (empty when nothing drifted).
  virtual Result<std::vector<std::string>> repair(const CpuSet& target, const CpuQuota& quota) = 0;
  // What apply() would write, without writing (for --dry-run).
  virtual std::vector<std::string> plan(const CpuSet& target, const CpuQuota& quota) const = 0;
};

}  // namespace vnuma::agent
