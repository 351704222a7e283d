#pragma once
// Test helpers for the agent's suites: temporary fixture trees, captured loggers, child
// processes, and a real-cgroup sandbox (a dedicated subtree of this machine's v1 cpuset and cpu
// hierarchies, removed with every task in it killed, even when a test fails).
// Not thread-safe; test-only.

#include <sys/types.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/cpu/CpuSet.hpp"
#include "common/log/Log.hpp"

namespace vnuma::agent::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes <path>/<rel>, creating parent directories.
  void write(const std::string& rel, const std::string& content) const;
  std::string read(const std::string& rel) const;
  void mkdir(const std::string& rel) const;
  // Writes an absolute path, creating parent directories.
  static void writeAbsolute(const std::string& path, const std::string& content);

 private:
  std::string path_;
};

// A logger writing into an in-memory stream (text()).
struct CapturedLog {
  CapturedLog();
  Logger logger;
  std::shared_ptr<std::ostringstream> stream;
  std::string text() const { return stream->str(); }
};

// Cpus_allowed_list of a task from /proc, or an empty set when the task is gone.
CpuSet cpusAllowed(pid_t pid);

// A forked child that joins `cgroupProcsFiles` (writes its pid into each), then runs:
// busy: spins ~10% of the time (bounded: exits after `lifetimeSec`); otherwise sleeps. On
// SIGUSR1 it forks a grandchild (same behaviour) and reports its pid through a pipe.
class Child {
 public:
  Child(const std::vector<std::string>& cgroupProcsFiles, bool busy, unsigned lifetimeSec = 60);
  ~Child();  // SIGKILLs and reaps the child and any grandchild it reported
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  // Asks for a grandchild and returns its pid (-1 on timeout).
  pid_t spawnGrandchild();

 private:
  pid_t pid_ = -1;
  int readFd_ = -1;
  std::vector<pid_t> grandchildren_;
};

// /sys/fs/cgroup/{cpuset,cpu}/vnuma-test-<pid>-<n> on this host (cgroup v1). available() is
// false (and nothing is created) when those hierarchies are not mounted or we are not root.
class RealCgroupSandbox {
 public:
  RealCgroupSandbox();
  ~RealCgroupSandbox();  // kills every task found in the subtree, then removes it bottom-up
  RealCgroupSandbox(const RealCgroupSandbox&) = delete;
  RealCgroupSandbox& operator=(const RealCgroupSandbox&) = delete;
  bool available() const { return available_; }
  const std::string& why() const { return why_; }
  const std::string& name() const { return name_; }  // "/vnuma-test-123-0"
  std::string cpusetDir(const std::string& rel = "") const;
  std::string cpuDir(const std::string& rel = "") const;
  // Makes a child cgroup in both hierarchies (cpuset.cpus/mems copied from its parent).
  void makeGroup(const std::string& rel) const;
  // cgroup.procs files of `rel` in both hierarchies (for Child).
  std::vector<std::string> procsFiles(const std::string& rel = "") const;

 private:
  bool available_ = false;
  std::string why_;
  std::string name_;
};

}  // namespace vnuma::agent::test
