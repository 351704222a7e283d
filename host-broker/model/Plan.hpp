#pragma once
// Plan: what a policy wants, as targets (not steps). The ledger's plan executor
// (ledger/PlanExecutor.hpp) turns a Plan into the safe two-phase sequence of edits.
// Thread-safety: plain value types.

#include <cstdint>
#include <map>
#include <string>

#include "common/cpu/CpuSet.hpp"
#include "host-broker/model/Vm.hpp"

namespace vnuma::broker {

struct VmTarget {
  CpuSet pcpus;                                         // the full set the VM should hold
  std::map<unsigned, std::uint64_t> memRequestedBytes;  // guest node -> virtio-mem requested size
  double demand = 0;                                    // smoothed demand in CPUs (for display)
  double share = 0;                                     // fair share in CPUs (for display)
  std::string reason;  // short human explanation, e.g. "grow: demand 5.2"
};

struct Plan {
  std::string policy;                // name of the policy that made it
  std::map<VmId, VmTarget> targets;  // VMs absent from the map are left as they are
  unsigned moves = 0;  // pCPUs changing owner (revoked from one VM, granted to another)
};

}  // namespace vnuma::broker
