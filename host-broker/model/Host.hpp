#pragma once
// HostModel: the broker's description of the host it hands out: pCPUs (with their NUMA node and
// SMT siblings), per-node memory capacity and reserve, and the reserved housekeeping pCPUs that
// are never granted to any VM.
//
// Three ways to build one:
//   HostModel::fromTopology(topo, reserved, memReservePerNodeBytes)   a live host or sysfs dump
//   HostModel::fromSpec("nodes=8,cpus_per_node=64,smt=2,mem_per_node_gb=256")   vnuma-sim
//   HostModel::uniform(nodes, cpusPerNode, smt, memPerNodeBytes)     tests (plain literals)
// or fill the struct by hand and call validate().
//
// Units: memory in bytes everywhere. Ids are the kernel's pCPU and node ids (may be sparse).
// Thread-safety: plain value type; immutable once built in practice.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"
#include "common/topo/Topology.hpp"

namespace vnuma::broker {

struct HostPcpu {
  unsigned id = 0;
  unsigned node = 0;
  int package = -1;  // -1 when unknown
  int core = -1;     // -1 when unknown
  CpuSet siblings;   // SMT siblings including itself; {id} when unknown or no SMT
};

struct HostNode {
  unsigned id = 0;
  CpuSet cpus;                        // usable (online) pCPUs of the node, reserved ones included
  std::uint64_t memBytes = 0;         // capacity
  std::uint64_t memReserveBytes = 0;  // kept for the host; never given to VMs
  std::vector<unsigned> distances;    // in the order of HostModel::nodes; may be empty
};

struct HostModel {
  std::vector<HostPcpu> pcpus;  // ascending id; only online CPUs
  std::vector<HostNode> nodes;  // ascending id; CPU-less and memory-less nodes included
  CpuSet reserved;              // housekeeping pCPUs: never granted (must be a subset of pcpus)

  // Lookups; nullptr / -1 when absent. O(log n).
  const HostPcpu* pcpu(unsigned id) const;
  const HostNode* node(unsigned id) const;
  int nodeOfPcpu(unsigned id) const;

  CpuSet allPcpus() const;                                // every pCPU in the model
  CpuSet grantable() const;                               // allPcpus() minus reserved
  std::uint64_t memAvailableForVms(unsigned node) const;  // memBytes - memReserveBytes (>= 0)

  // Checks internal consistency: ascending unique ids, every pCPU's node exists and lists it,
  // siblings contain the CPU itself and are on the same node, reserved is a subset of the pCPUs,
  // reserve <= capacity. Errors are Errc::kInvalidArgument naming the offending id.
  Result<void> validate() const;

  // From a sysfs topology. Offline CPUs are left out; `reserved` must name online CPUs (error
  // otherwise: "reserved pCPU 9 is not an online CPU of this host"). The same memory reserve is
  // applied to every node that has memory (capped at the node's capacity).
  static Result<HostModel> fromTopology(const Topology& topo, const CpuSet& reserved,
                                        std::uint64_t memReservePerNodeBytes);

  // From a short spec, comma-separated key=value, order free:
  //   nodes=N (required, 1..64)       cpus_per_node=C (required, 1..1024, multiple of smt)
  //   smt=S (default 1, 1..8)         mem_per_node_gb=G (default 16, may be fractional, > 0)
  //   reserved=CPULIST (default none) reserve_mem_gb=G (default 0, per node)
  // Numbering: node n holds pCPUs [n*C, (n+1)*C); SMT siblings are adjacent ids (0,1 with
  // smt=2). Errors: "host spec: unknown key 'cpu' (known: nodes, cpus_per_node, smt,
  // mem_per_node_gb, reserved, reserve_mem_gb)", "host spec: 'nodes' is required", ...
  static Result<HostModel> fromSpec(std::string_view spec);

  // Plain literal helper for tests: the same layout as fromSpec, no reserve.
  static HostModel uniform(unsigned nodes, unsigned cpusPerNode, unsigned smt,
                           std::uint64_t memPerNodeBytes);
};

// "8 nodes, 512 pCPUs (smt 2), 2 reserved, 2048 GiB" for logs and `vnumactl host`.
std::string describeHost(const HostModel& host);

inline constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;
inline constexpr std::uint64_t kMiB = 1024ull * 1024;

}  // namespace vnuma::broker
