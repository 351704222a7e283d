#pragma once
// CgroupWriter: the only way the agent changes cgroups. Every directory is absolute (it includes
// the fs root and the hierarchy's mount point, as CgroupLayout discovered them).
//
// Implementations:
//   LibcgroupWriter          the real one, through libcgroup (cgroup_modify_cgroup, ...).
//   FileCgroupWriter         plain write(2) on the cgroupfs files; used when libcgroup cannot
//                            initialise (it reads /proc/mounts itself) and on fixture trees.
//   FaultInjectingCgroupWriter  wraps another one and fails chosen writes (tests).
// Errors keep the kernel's errno (EINVAL, EBUSY, ENOSPC, ESRCH, ...) and name dir and file.
// Thread-safety: none; one engine thread owns the writer.

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/core/Result.hpp"
#include "common/log/Log.hpp"

namespace vnuma::agent {

using CgroupValues = std::vector<std::pair<std::string, std::string>>;  // file -> value, in order

class CgroupWriter {
 public:
  virtual ~CgroupWriter() = default;
  virtual const char* name() const = 0;
  // mkdir of a child cgroup, then writes `values` in order (v1 cpusets need cpuset.cpus and
  // cpuset.mems before a task may join). An existing directory is not an error; the values are
  // written anyway.
  virtual Result<void> create(const std::string& dir, const std::string& controller,
                              const CgroupValues& values) = 0;
  // Writes one control file of `controller` ("" for core files such as cgroup.subtree_control).
  virtual Result<void> setValue(const std::string& dir, const std::string& controller,
                                const std::string& file, const std::string& value) = 0;
  // Moves one task: v1 writes the thread id to `tasks`, v2 the process id to cgroup.procs
  // (which moves every thread of it).
  virtual Result<void> attach(const std::string& dir, const std::string& controller, pid_t tid,
                              bool v2) = 0;
};

class FileCgroupWriter : public CgroupWriter {
 public:
  const char* name() const override { return "file"; }
  Result<void> create(const std::string& dir, const std::string& controller,
                      const CgroupValues& values) override;
  Result<void> setValue(const std::string& dir, const std::string& controller,
                        const std::string& file, const std::string& value) override;
  Result<void> attach(const std::string& dir, const std::string& controller, pid_t tid,
                      bool v2) override;
};

class LibcgroupWriter : public CgroupWriter {
 public:
  // Calls cgroup_init(); kUnavailable with libcgroup's message when it fails (no cgroupfs in
  // /proc/mounts, ...). libcgroup keeps global state; creating several writers is harmless.
  // When libcgroup itself refuses an operation (it knows no mount for the controller, or its
  // own validation fails, i.e. no kernel errno), the write goes to cgroupfs directly and the
  // first such fallback is logged at warn; kernel refusals (EBUSY, EINVAL...) are returned.
  static Result<std::unique_ptr<LibcgroupWriter>> create(Logger log = nullptr);
  unsigned fallbacks() const { return fallbacks_; }
  const char* name() const override { return "libcgroup"; }
  Result<void> create(const std::string& dir, const std::string& controller,
                      const CgroupValues& values) override;
  Result<void> setValue(const std::string& dir, const std::string& controller,
                        const std::string& file, const std::string& value) override;
  Result<void> attach(const std::string& dir, const std::string& controller, pid_t tid,
                      bool v2) override;

 private:
  LibcgroupWriter() = default;
  // libcgroup names a cgroup relative to its controller's mount point.
  Result<std::string> relativeName(const std::string& dir, const std::string& controller) const;
  Result<void> createWithLibcgroup(const std::string& dir, const std::string& controller,
                                   const CgroupValues& values);
  Result<void> setWithLibcgroup(const std::string& dir, const std::string& controller,
                                const std::string& file, const std::string& value);
  static bool libcgroupRefused(const Error& e);
  void noteFallback(const Error& e);
  FileCgroupWriter files_;
  Logger log_;
  unsigned fallbacks_ = 0;  // for core files (cgroup.subtree_control, cgroup.procs on v2)
};

// Picks libcgroup when fsRoot is "/" and libcgroup initialises, the file writer otherwise
// (logged at warn with the reason).
std::unique_ptr<CgroupWriter> makeCgroupWriter(const std::string& fsRoot, const Logger& log);

// Fails writes whose "<dir>/<file>" contains `pathSubstring` with `errnum` (EBUSY, EINVAL...),
// `remaining` times (-1 = always). Every other call goes to the wrapped writer.
class FaultInjectingCgroupWriter : public CgroupWriter {
 public:
  explicit FaultInjectingCgroupWriter(CgroupWriter& inner) : inner_(inner) {}
  void failOn(std::string pathSubstring, int errnum, int remaining = -1);
  void clearFaults() { faults_.clear(); }
  int injected() const { return injected_; }
  const char* name() const override { return "fault-injecting"; }
  Result<void> create(const std::string& dir, const std::string& controller,
                      const CgroupValues& values) override;
  Result<void> setValue(const std::string& dir, const std::string& controller,
                        const std::string& file, const std::string& value) override;
  Result<void> attach(const std::string& dir, const std::string& controller, pid_t tid,
                      bool v2) override;

 private:
  struct Fault {
    std::string substring;
    int errnum;
    int remaining;
  };
  Result<void> check(const std::string& path);
  CgroupWriter& inner_;
  std::vector<Fault> faults_;
  int injected_ = 0;
};

}  // namespace vnuma::agent
