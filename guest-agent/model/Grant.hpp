#pragma once
// Plain data the agent's layers exchange: what a grant asks for and what applying it did.
// No behaviour, no I/O; value types, safe to copy between threads.

#include <cstdint>
#include <string>
#include <vector>

#include "common/cpu/CpuSet.hpp"

namespace vnuma::agent {

// CFS-style quota over the granted vCPUs; quotaUs == 0 means unlimited.
struct CpuQuota {
  std::uint32_t quotaUs = 0;
  std::uint32_t periodUs = 100000;  // used when quotaUs > 0; the kernel default period
  bool limited() const { return quotaUs > 0; }
  bool operator==(const CpuQuota& o) const {
    return quotaUs == o.quotaUs && (quotaUs == 0 || periodUs == o.periodUs);
  }
};

struct GrantRequest {
  std::uint64_t generation = 0;
  CpuSet vcpus;
  CpuQuota quota;
  std::uint32_t leaseMs = 0;  // 0: keep the lease from Welcome
};

// Outcome of one item (a cgroup, an IRQ, the workqueue mask, the kthread sweep). Best-effort
// items never fail a grant; cgroup items do (and are rolled back).
struct ItemOutcome {
  std::string item;  // "cgroup:/system.slice", "irq/24", "workqueue", "kthreads"
  bool ok = true;
  std::string detail;  // what was written, or why it failed
  bool bestEffort = false;
};

struct ApplyOutcome {
  bool ok = false;
  std::string error;  // set when !ok
  CpuSet applied;     // read back from the kernel after applying (or rolling back)
  std::vector<ItemOutcome> items;
  std::uint64_t applyUs = 0;  // receipt to verified state
  unsigned bestEffortOk() const;
  unsigned bestEffortFailed() const;
};

inline unsigned ApplyOutcome::bestEffortOk() const {
  unsigned n = 0;
  for (const auto& i : items) n += (i.bestEffort && i.ok) ? 1u : 0u;
  return n;
}
inline unsigned ApplyOutcome::bestEffortFailed() const {
  unsigned n = 0;
  for (const auto& i : items) n += (i.bestEffort && !i.ok) ? 1u : 0u;
  return n;
}

}  // namespace vnuma::agent
