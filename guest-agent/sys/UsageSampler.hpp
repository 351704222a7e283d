#pragma once
// UsageSampler: what the agent reports every period, read from <fsRoot>/proc and /sys.
// Cheap by design: a fixed set of small files per period (proc/stat, proc/pressure/*, per-node
// meminfo, the virtio-mem driver dir), never a walk over /proc/<pid>.
//
// sample() returns busy fractions over the time since the previous call (the first call has
// no previous sample: every CPU reports busy 0). Missing PSI (kernel without CONFIG_PSI) gives
// zero pressures with `psiAvailable` false; a missing node directory falls back to one node 0
// from proc/meminfo. Thread-safety: none.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/core/Result.hpp"

namespace vnuma::agent {

struct PressureSample {
  double someAvg10 = 0;
  double fullAvg10 = 0;
  std::uint64_t someTotalUs = 0;
};

struct NodeMemory {
  unsigned node = 0;
  std::uint64_t totalKb = 0;
  std::uint64_t freeKb = 0;
  std::uint64_t availableKb = 0;  // MemFree + file pages + reclaimable slab (per-node estimate)
};

struct VirtioMemDevice {
  std::string device;           // "virtio3"
  int node = -1;                // guest node it serves; -1 when sysfs does not say
  std::uint64_t pluggedKb = 0;  // 0 when unknown
};

struct UsageSample {
  std::map<unsigned, double> busy;  // vCPU -> fraction 0..1 of the period
  unsigned runnable = 0;            // procs_running minus the agent itself
  PressureSample cpu, memory, io;
  bool psiAvailable = false;
  std::vector<NodeMemory> nodes;
  std::vector<VirtioMemDevice> virtioMem;
  std::uint32_t agentCpuPermille = 0;
  std::uint64_t agentRssKb = 0;
  std::uint64_t periodUs = 0;
};

// Parsers, exposed for tests. Errors name the source and what was wrong.
struct CpuTimes {
  std::uint64_t busy = 0, total = 0;
};
Result<std::map<unsigned, CpuTimes>> parseProcStat(const std::string& text, unsigned* procsRunning);
Result<PressureSample> parsePressure(const std::string& text, const std::string& source);
// "Node 0 MemTotal: 123 kB" lines (node meminfo) or "MemTotal: 123 kB" (proc/meminfo).
Result<NodeMemory> parseMeminfo(const std::string& text, const std::string& source);

class UsageSampler {
 public:
  explicit UsageSampler(std::string fsRoot);
  Result<UsageSample> sample();
  // Virtio-mem devices bound to the driver (best effort; empty when there are none).
  std::vector<VirtioMemDevice> virtioMemDevices() const;

 private:
  std::string fsRoot_;
  std::map<unsigned, CpuTimes> prev_;
  std::uint64_t prevMonoUs_ = 0;
  std::uint64_t prevSelfTicks_ = 0;
};

// Memory-block online policy (<fsRoot>/sys/devices/system/memory/auto_online_blocks).
struct MemoryPolicy {
  std::string before;  // what the kernel had ("offline", "online", "online_movable", "" = absent)
  std::string after;   // what it has now
  bool changed = false;
  std::string error;  // why it could not be set, when it could not
  unsigned offlineBlocks = 0;
};
// Makes sure hot-plugged memory comes online movable (so virtio-mem can unplug it again).
MemoryPolicy ensureMovableOnline(const std::string& fsRoot, bool write);

}  // namespace vnuma::agent
