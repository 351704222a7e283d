#pragma once
// Agent: wires the agent's parts from an AgentConfig (discovery, cgroup writer, mechanism,
// best-effort movers, sampler, engine, broker session). main() only parses flags and calls
// build() + runOnce()/runSession(); tests and benchmarks use the same path.
// Thread-safety: none; one thread.

#include <iosfwd>
#include <memory>
#include <optional>

#include "common/log/Log.hpp"
#include "guest-agent/config/AgentConfig.hpp"
#include "guest-agent/engine/AgentEngine.hpp"
#include "guest-agent/sys/BestEffortMover.hpp"
#include "guest-agent/sys/CgroupLayout.hpp"
#include "guest-agent/sys/CgroupWriter.hpp"
#include "guest-agent/sys/SysfsWriter.hpp"

namespace vnuma::agent {

struct Loggers {
  Logger main, cgroup, sys, engine, rpc;
};

class Agent {
 public:
  // Discovers topology, identity (a missing UUID is an error unless `dryRun`), the cgroup layout
  // (mechanism "cgroup") and, unless `dryRun`, makes hot-plugged memory online movable
  // (memory.ensure_movable). Errors say what could not be discovered.
  static Result<std::unique_ptr<Agent>> build(const AgentConfig& cfg, const Loggers& logs,
                                              bool dryRun);

  // Prints discovery and one usage sample to `out`; with `grant`: applies it (or with `dryRun`
  // prints what would be written). false when applying failed.
  bool runOnce(std::ostream& out, const std::optional<CpuSet>& grant, bool dryRun);
  // Talks to the broker until `stopFd` is readable (or `runFor` passed).
  Result<void> runSession(int stopFd, std::optional<Millis> runFor = std::nullopt);

  AgentEngine& engine() { return *engine_; }
  CpuMechanism& mechanism() { return *mechanism_; }

 private:
  Agent() = default;
  AgentConfig cfg_;
  Loggers logs_;
  std::optional<CgroupLayout> layout_;
  MemoryPolicy memory_;
  std::unique_ptr<CgroupWriter> cgroupWriter_;
  RealSysfsWriter sysfsWriter_;
  std::unique_ptr<CpuMechanism> mechanism_;
  std::unique_ptr<BestEffortMover> bestEffort_;
  std::unique_ptr<UsageSampler> sampler_;
  std::unique_ptr<AgentEngine> engine_;
};

}  // namespace vnuma::agent
