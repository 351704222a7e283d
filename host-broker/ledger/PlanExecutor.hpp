#pragma once
// PlanExecutor: turns a policy Plan (targets) into the ledger edits the engine should apply and
// send *now*, respecting the two-phase handoff:
//   - pCPUs a VM should lose are revoked first (they stay held until its ack);
//   - pCPUs a VM should gain are granted only if they are free *now* (revoked and acked, or
//     enforced); the rest follow on a later call, after the owner's ack;
//   - floor pCPUs are never revoked (silently kept: the plan cannot take them);
//   - memory: decreases first; an increase only as far as the node has room counting every
//     VM's max(requested, current), so memory moves A -> B only after A's current went down.
// Pure logic: reads the ledger, changes nothing. Call it on every tick and after every ack.
//
// Output: per VM at most one SendGrant (its full new set with generation nextGeneration()) and
// SetMemoryRequested edits; revoking VMs come first in `edits`. Applying them in order to the
// same ledger succeeds (each is checked again by Ledger::apply, of course).
// Thread-safety: pure function.

#include <vector>

#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/model/Plan.hpp"

namespace vnuma::broker {

struct PlanSteps {
  std::vector<LedgerEdit> edits;  // apply in order, then send each SendGrant's grant message
  unsigned revoked = 0;           // pCPUs put into revoking
  unsigned granted = 0;           // pCPUs put into granting
  unsigned deferred = 0;          // pCPUs wanted but still held by someone (next call)
};

// VMs in the plan that the ledger does not know are skipped.
PlanSteps planSteps(const Ledger& ledger, const Plan& plan);

}  // namespace vnuma::broker
