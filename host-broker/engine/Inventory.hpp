#pragma once
// Inventory: translating what libvirt shows (sys::HostInfo, sys::VmInfo) into the broker's
// model (HostModel, VmSpec), and the vCPU <-> pCPU translations of the protocol.
// Pure functions, unit-tested; the engine calls them on start, on lifecycle events and on
// every agent message. Thread-safety: pure.

#include <cstdint>
#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"
#include "host-broker/model/Host.hpp"
#include "host-broker/model/Vm.hpp"
#include "host-broker/sys/Hypervisor.hpp"

namespace vnuma::broker {

// The host libvirt manages (its capabilities), with the configured reserve. Errors:
// kInvalidArgument "reserved pCPU 9 is not a CPU libvirt reports on this host (0-7)",
// "libvirt reports no host CPUs".
Result<HostModel> hostModelFromInfo(const sys::HostInfo& info, const CpuSet& reserved,
                                    std::uint64_t memReservePerNodeBytes);

// A managed VM's spec: pins from pcpuOfVcpu, floor/ceiling/weight from its vnuma metadata
// (metadata weight 100 = model weight 1.0), guest -> host nodes, boot memory and virtio-mem per
// host node. Precondition: info.managed. A guest node whose host node is undetermined (-1)
// takes the host node of its first vCPU's pCPU.
VmSpec specFromVmInfo(const sys::VmInfo& info, const HostModel& host);

// Guest vCPUs pinned to any of `pcpus` (what a Grant carries), ascending.
std::vector<std::uint32_t> vcpusOfPcpus(const VmSpec& spec, const CpuSet& pcpus);
// pCPUs of the given vCPUs through the pin map; unknown vCPUs are skipped and counted.
CpuSet pcpusOfVcpus(const VmSpec& spec, const std::vector<std::uint32_t>& vcpus,
                    unsigned* unknown = nullptr);

// True when the two specs pin the same vCPUs to the same pCPUs and map nodes the same way.
bool samePlacement(const VmSpec& a, const VmSpec& b);

}  // namespace vnuma::broker
