#pragma once
// Plain data about managed VMs: what they are (VmSpec, from libvirt + vnuma metadata + admin
// overrides) and what their agents last said (VmReport, translated to host ids by the engine).
//
// Ids: a VM is identified by its libvirt UUID (lowercase string, VmId). The broker keeps
// everything in pCPUs and host nodes; the pin map translates to the guest's vCPU ids.
// Units: CPUs as counts of pCPUs (double where fractional), memory in bytes, times in ms.
// Thread-safety: plain value types.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"

namespace vnuma::broker {

using VmId = std::string;  // libvirt domain UUID, lowercase

// One virtio-mem device of a VM. The device serves one guest node, which maps to one host node.
struct VirtioMemDevice {
  std::string alias;  // libvirt alias, e.g. "virtiomem0"
  unsigned guestNode = 0;
  unsigned hostNode = 0;
  std::uint64_t blockBytes = 2 * 1024 * 1024;  // requested sizes are multiples of this
  std::uint64_t maxBytes = 0;                  // <target><size>: the most it can ever plug
  std::uint64_t requestedBytes = 0;
  std::uint64_t currentBytes = 0;
};

struct VmSpec {
  VmId uuid;
  std::string name;
  // Per-VM limits, in pCPUs. Defaults: floor 1, ceiling 0 = "every pinned pCPU", weight 1.
  unsigned floor = 1;
  unsigned ceiling = 0;
  double weight = 1.0;                           // > 0; relative share under contention
  std::map<unsigned, unsigned> pins;             // vCPU -> pCPU (every vCPU pinned to one pCPU)
  std::map<unsigned, unsigned> guestToHostNode;  // guest node -> host node
  // guest node -> boot (non-virtio-mem) memory. Memory is kept per guest node because several
  // guest nodes can live on one host node (a guest that does not mirror the host); the ledger
  // accounts each against guestToHostNode.
  std::map<unsigned, std::uint64_t> bootMemBytes;
  std::vector<VirtioMemDevice> virtioMem;

  // The pCPUs this VM can ever use (the pin map's image).
  CpuSet pinnedPcpus() const;
  // ceiling, or the number of pinned pCPUs when ceiling == 0 (or above it).
  unsigned effectiveCeiling() const;
  unsigned effectiveCeiling(
      std::size_t pinnedCount) const;  // same, with the pinned set's size known
  // pCPU -> vCPU (first vCPU pinned there), nullopt when not pinned.
  std::optional<unsigned> vcpuOfPcpu(unsigned pcpu) const;
  // The virtio-mem device serving a guest node, nullptr when none.
  const VirtioMemDevice* virtioMemOfGuestNode(unsigned guestNode) const;
  // The host node a guest node's memory lives on, nullopt when the guest node is unknown.
  std::optional<unsigned> hostNodeOf(unsigned guestNode) const;

  // Checks: uuid non-empty, floor >= 1, floor <= effectiveCeiling(), weight > 0 and finite,
  // at least one pin, each virtio-mem device has blockBytes > 0 and requested/current <= max.
  // Errors (Errc::kInvalidArgument) name the VM and field: "vm web1: floor 4 > ceiling 2".
  Result<void> validate() const;
};

// Per guest node memory as the guest reports it.
struct NodeMemReport {
  std::uint64_t totalBytes = 0;
  std::uint64_t freeBytes = 0;
  std::uint64_t availableBytes = 0;
  std::uint64_t virtioPluggedBytes = 0;
};

// What a VM's agent said in its latest Report, in host terms where useful.
struct VmReport {
  std::int64_t atMs = 0;  // broker clock when received
  std::uint64_t appliedGeneration = 0;
  CpuSet appliedPcpus;                  // translated from applied_vcpus
  std::map<unsigned, double> vcpuBusy;  // vCPU -> busy fraction 0..1 over the period
  unsigned runnable = 0;                // runnable tasks (procs_running minus the agent)
  double cpuPressureSome = 0;           // PSI cpu some avg10, percent 0..100
  double memPressureSome = 0;           // PSI memory some avg10, percent 0..100
  std::map<unsigned, NodeMemReport> memByGuestNode;  // guest node -> memory

  // Sum of vcpuBusy: how many CPUs' worth of work ran in the period.
  double busyCpus() const;
};

}  // namespace vnuma::broker
