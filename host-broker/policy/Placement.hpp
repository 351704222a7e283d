#pragma once
// Placement: turns per-VM pCPU counts into concrete pCPU sets, shared by every policy.
//
// Rules, in order of importance:
//   - a VM always keeps its floor pCPUs; reserved pCPUs and other VMs' floors are never used;
//   - minimal moves: a VM keeps what it holds unless it must shrink; a shrinking VM releases
//     pCPUs on the nodes holding the least of its memory first, partial SMT cores first, its
//     minority nodes first;
//   - pCPUs being revoked (already, or by this call) are handed to growing VMs like free ones
//     (free ones preferred): the target then names a pCPU another VM still holds, and the plan
//     executor grants it only after that VM's ack (two-phase), so it is never idle for a tick;
//   - at most `moveBudget` pCPUs are revoked per call (largest excess first); VMs whose
//     `mayShrink` is false keep their set (cooldown);
//   - a growing VM takes free pCPUs: completing an SMT core it holds half of first, then on the
//     nodes holding its memory (followMemory), then where it already has pCPUs (compact), whole
//     free cores before split ones, lowest id last.
// Complexity: O(VMs x pCPUs + pCPUs changing owner x pCPUs); measured in docs/benchmarks-policy.md.
// Thread-safety: pure function.

#include <map>
#include <vector>

#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/policy/PolicyParams.hpp"

namespace vnuma::broker {

struct PlacementWant {
  VmId vm;
  unsigned count = 0;     // pCPUs wanted (clamped to floor..ceiling by place())
  bool mayShrink = true;  // false: cooldown; keep at least what it holds
  double priority = 0;    // larger grows first when free pCPUs are short
  // The VM's VmSpec::pinnedPcpus(); empty: place() computes it. Walking the pin map is most of
  // a decision's time with many Full vNUMA VMs (a thousand VMs x a thousand vCPUs), so a policy
  // computes it once per decision and passes it on.
  CpuSet pinned = {};
};

// VmSpec::effectiveCeiling() (at least the floor) from the VM's pinned set, without walking the
// pin map again.
unsigned ceilingFor(const VmSpec& spec, const CpuSet& pinned);

struct PlacementResult {
  std::map<VmId, CpuSet> targets;  // every VM in `wants`
  unsigned revoked = 0;            // pCPUs taken from a VM (counted against the move budget)
  unsigned granted = 0;            // pCPUs added to a VM (free, or after their revoke is acked)
  unsigned unplaced = 0;           // pCPUs wanted but not available this call
};

// Memory weight per host node for a VM: boot + max(requested, current), normalised to 1.
std::map<unsigned, double> memoryWeights(const VmEntry& v);

PlacementResult place(const Ledger& ledger, const std::vector<PlacementWant>& wants,
                      const PlacementParams& params);

}  // namespace vnuma::broker
