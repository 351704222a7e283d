#pragma once
// Topology: NUMA nodes and CPUs as sysfs shows them, read from an injectable filesystem root.
//
// `fsRoot` is the directory that contains `sys/` ("/" on a live machine; an extracted dump in
// tests). Reads sys/devices/system/{node,cpu}. Handles: sparse node ids, CPU-less and
// memory-less nodes, offline CPUs (no topology/ dir), old kernels with only `cpumap` (no
// `cpulist`), NUL-padded files, machines without node/ at all (one implicit node 0 holding
// every present CPU, MemTotal from proc/meminfo when present).
// Thread-safety: plain data once returned.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"

namespace vnuma {

struct NodeInfo {
  unsigned id = 0;
  CpuSet cpus;                      // every CPU of the node, online or not
  std::uint64_t memTotalKb = 0;     // from nodeN/meminfo; 0 for memory-less nodes
  std::vector<unsigned> distances;  // nodeN/distance, in the order of Topology::nodes
  std::string cpusFrom;             // "cpulist", "cpumap" or "implicit": which file was used
};

struct CpuInfo {
  unsigned id = 0;
  bool online = true;
  int node = -1;     // -1 when no node claims it
  int package = -1;  // topology/physical_package_id, -1 when unknown (offline)
  int core = -1;     // topology/core_id
  CpuSet siblings;   // SMT siblings including itself (thread_siblings_list); {id} if unknown
};

struct Topology {
  std::vector<NodeInfo> nodes;  // ascending id
  std::vector<CpuInfo> cpus;    // ascending id, every present/possible CPU found
  CpuSet online;
  CpuSet isolated;  // sys/devices/system/cpu/isolated, empty if absent

  const NodeInfo* node(unsigned id) const;
  const CpuInfo* cpu(unsigned id) const;
  int nodeOfCpu(unsigned cpu) const;  // -1 if unknown

  // Reads the topology under fsRoot; errors name the file and what was wrong in it.
  static Result<Topology> read(const std::string& fsRoot);
};

// The JSON form printed by `vnumactl topology --json` (see docs/protocol.md):
// {"nodes":[{"id":0,"cpus":"0-3","mem_total_kb":N,"distances":[10,20]}],
//  "cpus":[{"id":0,"online":true,"node":0,"package":0,"core":0,"siblings":"0,4"}],
//  "online":"0-7","isolated":""}
std::string topologyToJson(const Topology& topo);

}  // namespace vnuma
