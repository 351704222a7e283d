#pragma once
// Policy: decides who should hold what. It gets a read-only view (ledger, latest reports, the
// VMs' specs through the ledger, parameters, the clock) and returns a Plan of targets. It never
// edits the ledger: ledger/PlanExecutor.hpp turns the plan into safe two-phase edits.
//
// Registry: makePolicy("static" | "demand"); an unknown name is an error listing the known ones:
//   "unknown policy 'dmand' (known: demand, static)".
//
// Built-ins:
//   static  a fixed partition by weight within floor/ceiling (dedicated pinning, the baseline);
//           ignores demand; stable (same input -> same sets).
//   demand  (default) demand per VM from reports (busy CPUs, runnable tasks beyond the grant,
//           CPU pressure), smoothed with an asymmetric EWMA (grow fast, shrink slowly);
//           weighted max-min fair shares within floor/ceiling, in two rounds: first what each
//           VM needs now (the average, or its latest demand when that fell by more than
//           hysteresis_cpus), then what is left by the average, so a VM whose load fell keeps
//           spare pCPUs only while nobody else wants them; work-conserving (every pCPU is
//           handed out when the VMs want more than the host has, pCPUs nobody wants go to VMs
//           that can use them and come back when their owner's demand returns). Shrinks are
//           voluntary (hysteresis, per-VM cooldown) unless other VMs' growth needs the pCPUs;
//           a per-tick move budget. A VM without a report is held at what it holds.
// Both use the shared placement (policy/Placement.hpp): pCPUs on the nodes holding the VM's
// memory, SMT siblings together, compact, minimal moves; and the memory rules in docs/policy.md.
//
// Thread-safety: a Policy object keeps smoothing/cooldown state; call decide() from one thread.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/Result.hpp"
#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/model/Plan.hpp"
#include "host-broker/model/Vm.hpp"
#include "host-broker/policy/PolicyParams.hpp"

namespace vnuma::broker {

struct PolicyInput {
  const Ledger& ledger;
  const std::map<VmId, VmReport>& reports;  // latest report per VM (absent: no report yet)
  const PolicyParams& params;
  std::int64_t nowMs = 0;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  // A plan with a target for every VM in the ledger.
  virtual Plan decide(const PolicyInput& in) = 0;
  // Drops per-VM state of a VM that is gone (optional; stale state is also pruned in decide).
  virtual void forget(const VmId& vm) { (void)vm; }
};

std::vector<std::string> policyNames();  // sorted: {"demand", "static"}
Result<std::unique_ptr<Policy>> makePolicy(std::string_view name);

}  // namespace vnuma::broker
