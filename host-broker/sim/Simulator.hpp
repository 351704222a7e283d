#pragma once
// Simulator: runs the real Ledger, PlanExecutor and Policy code against simulated agents
// (grant delivery + ack delays, optional agents that never ack) and a libvirt stand-in
// (virtio-mem current follows requested after a delay), driven by a demand trace. Also models
// "unmanaged" overcommit: every VM's vCPUs pinned 1:1 over every pCPU, host time-slicing.
//
// Metrics per policy (CPU-seconds = pCPU-seconds):
//   unmet      sum over VMs of max(0, demand - used) dt
//   idleWanted min(pCPUs not doing useful work, total unmet) dt: capacity idle while someone wanted
//   it overlaps   pCPU-steps where two VMs effectively ran on one pCPU, or a VM ran on a pCPU the
//              ledger did not say it held; computed from the simulated agents' applied sets,
//              independently of the ledger (must be 0)
//   ledgerViolations  ticks where Ledger::checkInvariants failed (must be 0)
//   handoffs   pCPUs granted to a VM after another VM had last held them
//   jain       Jain's fairness index over per-VM satisfaction
//   satisfaction per VM: used / demand over the run (1 when it never wanted anything)
// Deterministic for a given scenario seed.
// Thread-safety: none; one simulation per call.

#include <cstdint>
#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "host-broker/policy/PolicyParams.hpp"
#include "host-broker/sim/Scenario.hpp"

namespace vnuma::broker::sim {

struct SimOptions {
  PolicyParams params;                // for "static" and "demand" (name is overridden)
  double stepMs = 10;                 // simulation step
  double unmanagedEfficiency = 0.75;  // useful fraction of a time-sliced vCPU's slice (see docs)
  double seriesPeriodS = 1;           // time series sampling (0 = none)
  double memDelayMs = 500;            // virtio-mem (un)plug latency of the libvirt stand-in
};

struct VmResult {
  std::string name;
  double demandCpuS = 0;
  double usedCpuS = 0;
  double unmetCpuS = 0;
  double satisfaction = 1;
  double memUnmetGbS = 0;  // memory demand above boot + plugged, GiB-seconds
};

struct SeriesPoint {
  double t = 0;
  std::vector<double> demand;  // per VM (order of Scenario::vms)
  std::vector<double> used;
  std::vector<double> granted;  // pCPUs in the VM's effective set (unmanaged: all)
};

struct PolicyResult {
  std::string policy;
  double unmetCpuS = 0;
  double idleWantedCpuS = 0;
  std::uint64_t overlaps = 0;
  std::uint64_t ledgerViolations = 0;
  std::uint64_t handoffs = 0;
  std::uint64_t grantsSent = 0;
  std::uint64_t enforcedRevokes = 0;
  std::uint64_t refusedEdits = 0;  // executor edits the ledger refused (must be 0)
  double jain = 1;
  double decisionP50Us = 0;  // policy decide + planSteps per tick
  double decisionP99Us = 0;
  double decideP50Us = 0;  // policy decide alone
  double decideP99Us = 0;
  std::vector<VmResult> vms;
  std::vector<SeriesPoint> series;
};

// Known model names: "static", "demand" (policies through the real ledger), "unmanaged".
std::vector<std::string> simModels();

Result<PolicyResult> simulate(const Scenario& scenario, const std::string& model,
                              const SimOptions& opts);

double jainIndex(const std::vector<double>& x);

}  // namespace vnuma::broker::sim
