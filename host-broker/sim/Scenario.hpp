#pragma once
// vnuma-sim inputs: a scenario (host, VMs, demand trace, agent behaviour) and its demand trace.
//
// Trace, CSV (one sample per line; '#' comments and a header line starting with "time_s" are
// allowed; blank lines ignored):
//   time_s,vm,cpu_demand[,mem_node0_mb,mem_node1_mb,...]
// Demand is a step function: a VM's demand is its latest sample at or before t (0 before the
// first). cpu_demand is in CPUs (2.5 = two and a half pCPUs busy); memory demand in MiB per host
// node (optional; absent = unchanged).
// Trace, JSON: {"samples":[{"time_s":0,"vm":"vm1","cpu_demand":2.5,"mem_mb":[512,0]}, ...]}
//
// Scenario, JSON (paths relative to the scenario file):
//   {"name":"seed-step", "description":"...",
//    "host":"nodes=2,cpus_per_node=8,smt=2,mem_per_node_gb=32" | "sysfs":"DIR",
//    "reserved":"0"                       (optional, with "sysfs")
//    "duration_s":300, "seed":1, "ack_delay_ms":[2,20], "report_period_ms":1000,
//    "ack_timeout_ms":500,
//    "vms":[{"name":"vm1","floor":1,"ceiling":0,"weight":1.0,"boot_mem_mb":1024,
//            "vmem_mb":4096,"drops_acks":false}],      (memory per host node)
//    "trace":"seed-step.csv"  |  "samples":[...]  |
//    "generator":{"kind":"random_bursty","seed":7,"step_s":10,"base_cpus":0.5,
//                 "burst_cpus_min":2,"burst_cpus_max":8,"burst_probability":0.3}}
// Errors name the file, line (CSV) or key and what was expected.
// Thread-safety: plain data.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "host-broker/model/Host.hpp"

namespace vnuma::broker::sim {

struct Sample {
  double timeS = 0;
  std::string vm;
  double cpuDemand = 0;
  std::vector<double> memMb;  // per host node (index = position in host.nodes); empty = none
};

struct Trace {
  std::vector<Sample> samples;               // sorted by time (stable)
  std::vector<std::string> vmNames() const;  // in order of first appearance
};

Result<Trace> parseTraceCsv(const std::string& text, const std::string& sourceName);
Result<Trace> parseTraceJson(const std::string& text, const std::string& sourceName);
// By extension: .csv or .json.
Result<Trace> loadTrace(const std::string& path);

struct SimVm {
  std::string name;
  unsigned floor = 1;
  unsigned ceiling = 0;
  double weight = 1.0;
  double bootMemMb = 1024;  // per host node
  double vmemMb = 0;        // virtio-mem device size per host node (0 = none)
  bool dropsAcks = false;   // misbehaving agent: never acks revokes (host-side enforcement)
};

struct Scenario {
  std::string name;
  std::string description;
  HostModel host;
  std::string hostText;  // the spec or sysfs dir, for reports
  double durationS = 300;
  std::uint64_t seed = 1;
  double ackDelayMinMs = 2;
  double ackDelayMaxMs = 20;
  double ackTimeoutMs = 500;
  double reportPeriodMs = 1000;
  std::vector<SimVm> vms;
  Trace trace;
};

// Errors are Errc::kInvalidArgument (kNotFound when a file cannot be opened) and start with the
// file, then the line (CSV) or the key ("s.json: vms[1]: 'floor' must be an integer in [1, 8192],
// got \"two\""); unknown keys are refused with the known ones listed.
Result<Scenario> loadScenario(const std::string& path);

// Every sample names a VM in `vms` and has at most one memory value per host node.
Result<void> checkTrace(const Trace& trace, const std::vector<SimVm>& vms, const HostModel& host,
                        const std::string& src);

// Demand lookup: a VM's CPU demand and per-node memory demand at time t (step function).
class DemandCursor {
 public:
  explicit DemandCursor(const Trace& trace);
  void advanceTo(double timeS);  // monotone
  double cpu(const std::string& vm) const;
  const std::vector<double>* memMb(const std::string& vm) const;  // nullptr: none yet

 private:
  const Trace& trace_;
  std::size_t next_ = 0;
  std::map<std::string, double> cpu_;
  std::map<std::string, std::vector<double>> mem_;
};

}  // namespace vnuma::broker::sim
