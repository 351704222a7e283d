#pragma once
// vnuma-sim output: a human table, JSON (--json), and the data the plot script reads.
// Thread-safety: pure functions.

#include <string>
#include <vector>

#include "host-broker/sim/Scenario.hpp"
#include "host-broker/sim/Simulator.hpp"

namespace vnuma::broker::sim {

// Summary table (one row per policy) followed by per-VM satisfaction (one row per VM, at most
// `maxVmRows`; the rest summarised as min/mean).
std::string renderTable(const Scenario& sc, const std::vector<PolicyResult>& results,
                        std::size_t maxVmRows = 16);

// {"scenario":{"name":..,"host":..,"duration_s":..,"vms":[..]},
//  "results":[{"policy":..,"unmet_cpu_s":..,"idle_while_wanted_cpu_s":..,"overlap_violations":..,
//              "ledger_violations":..,"handoffs":..,"grants_sent":..,"enforced_revokes":..,
//              "refused_edits":..,"jain":..,"decision_p50_us":..,"decision_p99_us":..,
//              "decide_p50_us":..,"decide_p99_us":.. (decision = decide + plan executor),
//              "vms":[{"name":..,"demand_cpu_s":..,"used_cpu_s":..,"unmet_cpu_s":..,
//                      "satisfaction":..,"mem_unmet_gib_s":..}],
//              "series":{"t":[..],"demand":[[..per vm..]..],"used":[..],"granted":[..]}}]}
// Series are included only when withSeries.
std::string renderJson(const Scenario& sc, const std::vector<PolicyResult>& results,
                       bool withSeries);

}  // namespace vnuma::broker::sim
