#pragma once
// Placement: turns per-VM pCPU counts into concrete pCPU sets, shared by every policy.
//
// Rules, in order of importance:
//   - a VM always keeps its floor pCPUs; reserved pCPUs and other VMs' floors are never used;
//   - minimal moves: a VM keeps what it holds unless it must shrink; a shrinking VM releases
//     pCPUs on the nodes holding the least of its memory first, partial SMT cores first, its
//     minority nodes first; pCPUs being revoked are not free yet and are not handed out;
//   - at most `moveBudget` pCPUs are revoked per call (largest excess first); VMs whose
//     `mayShrink` is false keep their set (cooldown);
//   - a growing VM takes free pCPUs: completing an SMT core it holds half of first, then on the
//     nodes holding its memory (followMemory), then where it already has pCPUs (compact), whole
//     free cores before split ones, lowest id last.
// Complexity: O(sum of changes x pCPUs); ~1 ms for 1000 VMs on 512 pCPUs.
// Thread-safety: pure function.

#include <map>
#include <vector>

#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/policy/PolicyParams.hpp"

namespace vnuma::broker {

struct PlacementWant {
  VmId vm;
  unsigned count = 0;      // pCPUs wanted (clamped to floor..ceiling by place())
  bool mayShrink = true;   // false: cooldown; keep at least what it holds
  double priority = 0;     // larger grows first when free pCPUs are short
};

struct PlacementResult {
  std::map<VmId, CpuSet> targets;  // every VM in `wants`
  unsigned revoked = 0;            // pCPUs taken from a VM (counted against the move budget)
  unsigned granted = 0;            // free pCPUs added to a VM
  unsigned unplaced = 0;           // pCPUs wanted but not available this call
};

// Memory weight per host node for a VM: boot + max(requested, current), normalised to 1.
std::map<unsigned, double> memoryWeights(const VmEntry& v);

PlacementResult place(const Ledger& ledger, const std::vector<PlacementWant>& wants,
                      const PlacementParams& params);

}  // namespace vnuma::broker
