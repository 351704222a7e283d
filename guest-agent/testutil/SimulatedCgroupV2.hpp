#pragma once
// A cgroup v2 fixture tree and a writer that imitates the kernel on it (test-only):
// cpuset.cpus.effective = cpuset.cpus & parent's effective (parent's when that is empty),
// recomputed for the whole subtree on every write; "+cpuset"/"+cpu" in cgroup.subtree_control
// add the controller's files to the children; attach moves a pid line between cgroup.procs
// files; the no-internal-process rule refuses enabling controllers in a non-root cgroup that
// still holds tasks (EBUSY). Writes to paths in `ignoreWrites` are accepted but dropped (a
// kernel that silently refuses), to exercise verification.

#include <set>
#include <string>

#include "guest-agent/sys/CgroupWriter.hpp"
#include "guest-agent/testutil/TestUtil.hpp"

namespace vnuma::agent::test {

// Builds <tmp>/proc/self/mountinfo (cgroup2 at /sys/fs/cgroup), the root cgroup with
// `cpus` effective, online CPUs, and /proc/<pid>/stat for pids 1 (init), 2 (kthreadd),
// 50 (a shell) in the root cgroup.
void makeV2Fixture(const TempDir& dir, const std::string& cpus);
// Adds a child cgroup (relative to the cgroup mount) holding `pids`.
void addV2Group(const TempDir& dir, const std::string& rel, const std::string& pids);

class SimulatedCgroupV2Writer : public CgroupWriter {
 public:
  explicit SimulatedCgroupV2Writer(std::string mountDir) : mount_(std::move(mountDir)) {}
  const char* name() const override { return "simulated-v2"; }
  Result<void> create(const std::string& dir, const std::string& controller,
                      const CgroupValues& values) override;
  Result<void> setValue(const std::string& dir, const std::string& controller,
                        const std::string& file, const std::string& value) override;
  Result<void> attach(const std::string& dir, const std::string& controller, pid_t tid,
                      bool v2) override;
  std::set<std::string> ignoreWrites;
  unsigned writes = 0;

 private:
  void recompute(const std::string& dir);
  std::string mount_;
};

}  // namespace vnuma::agent::test
