#pragma once
// BestEffortMover: moves what cpusets cannot confine off revoked vCPUs. Every item is best
// effort: failures are reported (ItemOutcome with bestEffort=true) and never fail a grant.
//   irq        <fsRoot>/proc/irq/N/smp_affinity_list: affinity not within the grant becomes
//              (affinity & grant), or the grant when that is empty. IRQs already within the
//              grant are left alone (so growing does not spread them). Items "irq/N".
//   workqueue  <fsRoot>/sys/devices/virtual/workqueue/cpumask = grant (hex mask). Item "workqueue".
//   kthreads   kernel threads that may run on revoked vCPUs and are not per-CPU
//              (PF_NO_SETAFFINITY) get sched_setaffinity(affinity & grant). Only when fsRoot is "/"
//              and enabled by config (it acts on this machine's real tasks). One item "kthreads".
// Thread-safety: none.

#include <map>
#include <string>
#include <vector>

#include "common/cpu/CpuSet.hpp"
#include "common/log/Log.hpp"
#include "guest-agent/model/Grant.hpp"
#include "guest-agent/sys/SysfsWriter.hpp"

namespace vnuma::agent {

struct BestEffortOptions {
  std::string fsRoot = "/";
  bool irq = true;
  bool workqueue = true;
  bool kthreads = true;  // still requires fsRoot == "/"
};

class BestEffortMover {
 public:
  BestEffortMover(BestEffortOptions opts, SysfsWriter& writer, Logger log);
  std::vector<ItemOutcome> apply(const CpuSet& target);
  std::vector<std::string> plan(const CpuSet& target) const;

 private:
  void moveIrqs(const CpuSet& target, std::vector<ItemOutcome>* items,
                std::vector<std::string>* plan) const;
  void moveWorkqueue(const CpuSet& target, std::vector<ItemOutcome>* items,
                     std::vector<std::string>* plan) const;
  void moveKthreads(const CpuSet& target, std::vector<ItemOutcome>* items,
                    std::vector<std::string>* plan) const;

  BestEffortOptions opts_;
  SysfsWriter& writer_;
  Logger log_;
  // item -> detail of its last failure. A failure is logged as a warning when it is new or its
  // detail changed, at debug level when it repeats (IRQs the kernel will never move, such as
  // the timer, fail the same way on every grant).
  std::map<std::string, std::string> lastFailure_;
};

}  // namespace vnuma::agent
