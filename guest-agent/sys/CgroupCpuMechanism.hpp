#pragma once
// CgroupCpuMechanism: confines every user-space task to the granted vCPUs with cpusets.
//
// The agent's cgroup root is <cpuset mount>/<rootPath> ("/" in a guest; a dedicated subtree in
// tests). What it manages:
//   - every top-level cgroup under the root gets cpuset.cpus = grant (v2: descendants are bounded
//     by their parent's effective set; v1: every descendant gets the grant too, because v1 does
//     not intersect with the parent; v1 writes grow parents first and shrink children first);
//   - tasks sitting directly in the root cgroup (no systemd) are moved into the managed child
//     `managedName` (created when missing; v1: in the cpu hierarchy too); kernel threads stay;
//   - v2: "cpuset" (and "cpu" for quotas) are enabled in the root's cgroup.subtree_control after
//     the root's tasks moved out (no-internal-process rule for non-root roots);
//   - a quota: v2 cpu.max "<quota> <period>", v1 cpu.cfs_period_us + cpu.cfs_quota_us, written on
//     every top-level cgroup (each top-level cgroup is capped; see docs/agent.md); no quota
//     writes "max" / -1 where a quota was set.
// Verification before success: every top-level cgroup's effective CPUs == grant, v1 descendants'
// effective CPUs within the grant, no user task left in the root cgroup.
// apply() is all-or-nothing: on any failure the cpuset/quota values captured before are restored.
// Thread-safety: none.

#include <set>
#include <string>
#include <vector>

#include "common/log/Log.hpp"
#include "guest-agent/sys/CgroupLayout.hpp"
#include "guest-agent/sys/CgroupWriter.hpp"
#include "guest-agent/sys/CpuMechanism.hpp"

namespace vnuma::agent {

struct CgroupMechanismOptions {
  std::string fsRoot = "/";                   // for <fsRoot>/proc and the online CPU list
  std::string rootPath = "/";                 // agent's root inside each hierarchy
  std::string managedName = "vnuma.managed";  // child that receives the root's tasks
};

class CgroupCpuMechanism : public CpuMechanism {
 public:
  // `writer` must outlive the mechanism.
  CgroupCpuMechanism(CgroupLayout layout, CgroupMechanismOptions opts, CgroupWriter& writer,
                     Logger log);

  const char* name() const override { return "cgroup"; }
  Result<CpuSet> eligible() const override;
  Result<std::vector<ItemOutcome>> apply(const CpuSet& target, const CpuQuota& quota) override;
  Result<CpuSet> applied() const override;
  Result<std::vector<std::string>> repair(const CpuSet& target, const CpuQuota& quota) override;
  std::vector<std::string> plan(const CpuSet& target, const CpuQuota& quota) const override;

  const std::string& cpusetRoot() const { return cpusetRoot_; }
  const std::string& cpuRoot() const { return cpuRoot_; }
  bool v2() const { return layout_.version == CgroupVersion::kV2; }

 private:
  struct Snapshot {
    std::vector<std::pair<std::string, std::string>> cpus;   // dir -> cpuset.cpus text (pre-order)
    std::vector<std::pair<std::string, std::string>> quota;  // "dir/file" -> value
  };
  // Top-level cgroup dirs in the cpuset hierarchy (v1: with all descendants, pre-order).
  Result<std::vector<std::string>> managedDirs(bool withDescendants) const;
  Result<std::vector<std::string>> cpuTopLevel() const;
  Result<Snapshot> snapshot() const;
  Result<void> ensureManaged(const CpuSet& target, bool needCpu);
  Result<void> enableControllers(bool needCpu);
  Result<unsigned> moveRootTasks(std::vector<std::string>* failures);
  Result<unsigned> moveRootTasksIn(const std::string& root, const std::string& controller,
                                   std::vector<std::string>* failures);
  // Writes cpuset.cpus per dir (pre-order list) in an order v1 accepts.
  Result<void> writeCpusets(const std::vector<std::pair<std::string, CpuSet>>& desired);
  Result<void> writeQuota(const CpuQuota& quota, std::vector<std::string>* changed);
  Result<void> verify(const CpuSet& target) const;
  std::string restore(const Snapshot& snap);
  std::string rel(const std::string& dir) const;  // "cgroup:/system.slice"
  const char* effectiveFile() const;

  CgroupLayout layout_;
  CgroupMechanismOptions opts_;
  CgroupWriter& writer_;
  Logger log_;
  std::string procRoot_;
  std::string cpusetRoot_;
  std::string cpuRoot_;       // empty: no cpu controller
  std::set<pid_t> kthreads_;  // root-cgroup pids known to be kernel threads
};

}  // namespace vnuma::agent
