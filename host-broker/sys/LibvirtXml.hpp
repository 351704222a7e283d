#pragma once
// Pure functions over libvirt XML (capabilities, domain XML, vnuma metadata) and the VM
// classification rules. No libvirt connection here: LibvirtHypervisor feeds them the strings
// libvirt returns, unit tests feed them literals. Parsing uses libxml2 (the parser libvirt
// itself uses). Thread-safety: stateless, safe from any thread.
//
// Memory units follow libvirt (unit='KiB' default; b/bytes, KB/K/KiB/k, MB/M/MiB, GB/G/GiB,
// TB/T/TiB); everything returned is in bytes.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/core/Result.hpp"
#include "host-broker/sys/Hypervisor.hpp"

namespace vnuma::sys {

// <capabilities><host><topology><cells>... -> cells and cpus (hostname/uri/local left empty).
// Zero cells is not an error here (libvirt's test driver with a custom file reports none).
Result<HostInfo> parseCapabilities(const std::string& xml);

// A host without cells in its capabilities: `nodes` cells of (sockets*cores*threads)/nodes
// CPUs each, CPU ids cell-major, SMT siblings adjacent, memory split evenly (virNodeGetInfo).
HostInfo synthesizeHost(unsigned nodes, unsigned sockets, unsigned cores, unsigned threads,
                        std::uint64_t memoryBytes);

// The <vnuma:vm .../> element as virDomainGetMetadata returns it (prefix optional).
// Errors (kInvalidArgument) start with "invalid vnuma metadata: ", e.g.
//   "invalid vnuma metadata: managed='maybe' (expected 'yes' or 'no')"
//   "invalid vnuma metadata: floor='x' is not a non-negative integer"
//   "invalid vnuma metadata: floor must be >= 1"
//   "invalid vnuma metadata: floor 3 > ceiling 2"
//   "invalid vnuma metadata: weight 0 out of range 1..10000"
//   "invalid vnuma metadata: unknown attribute 'color'"
//   "invalid vnuma metadata: expected element <vm>, got <foo>"
Result<VnumaSettings> parseVnumaMetadata(const std::string& xml);
// The element virDomainSetMetadata gets (without namespace declaration; libvirt adds it).
std::string vnumaMetadataXml(const VnumaSettings& s);

// Domain XML -> identity, vCPUs, affinity (vcpupin; else <vcpu cpuset>; else `allCpus`),
// guest NUMA cells (one implicit cell when none), numatune memnodes, virtio-mem devices,
// emulatorpin, iothreads. Classification fields are left for classifyVm().
Result<VmInfo> parseDomainXml(const std::string& xml, const CpuSet& allCpus);

// Fills pcpuOfVcpu, node pcpus/hostNode, managed/unmanagedReason, mirror/mismatches from the
// parsed VM, its settings/metadataError, and the host.
void classifyVm(VmInfo& vm, const HostInfo& host);

// The <memory model='virtio-mem'> element of `domainXml` selected by `dev`, serialized with
// <requested> set to requestedBytes (in KiB), for virDomainUpdateDeviceFlags.
// Errors: kNotFound "no virtio-mem device with <dev.describe()>"; kInvalidArgument
// "requested size N bytes is not a multiple of the block size B bytes" /
// "requested size N bytes exceeds the device size S bytes".
Result<std::string> virtioMemUpdateXml(const std::string& domainXml, const MemoryDeviceRef& dev,
                                       std::uint64_t requestedBytes);

// vcpu.N.{state,time,wait,delay} from a stats record's (name, value) pairs, ascending by N;
// other keys (vcpu.current, vcpu.maximum, non-vcpu fields, malformed N) are ignored.
std::vector<VcpuStat> vcpuStatsFromFields(
    const std::vector<std::pair<std::string, std::uint64_t>>& fields);

// "1024" + unit -> bytes; kInvalidArgument on garbage or unknown unit.
Result<std::uint64_t> parseLibvirtSize(const std::string& value, const std::string& unit);

}  // namespace vnuma::sys
