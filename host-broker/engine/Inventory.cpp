#include "host-broker/engine/Inventory.hpp"

#include <algorithm>
#include <cctype>

namespace vnuma::broker {

Result<HostModel> hostModelFromInfo(const sys::HostInfo& info, const CpuSet& reserved,
                                    std::uint64_t memReservePerNodeBytes) {
  if (info.cpus.empty())
    return Error(Errc::kInvalidArgument, "libvirt reports no host CPUs at " + info.uri);
  HostModel host;
  CpuSet all;
  for (const auto& c : info.cpus) {
    HostPcpu p;
    p.id = c.id;
    p.node = c.cell;
    p.package = c.socket;
    p.core = c.core;
    p.siblings = c.siblings.empty() ? CpuSet{c.id} : c.siblings;
    host.pcpus.push_back(p);
    all.add(c.id);
  }
  std::sort(host.pcpus.begin(), host.pcpus.end(),
            [](const HostPcpu& a, const HostPcpu& b) { return a.id < b.id; });
  // Siblings must be CPUs of the model on the same node; drop what libvirt lists beyond that.
  for (auto& p : host.pcpus) {
    CpuSet keep;
    for (unsigned s : p.siblings.ids()) {
      if (info.cellOfCpu(s) == static_cast<int>(p.node)) keep.add(s);
    }
    keep.add(p.id);
    p.siblings = keep;
  }
  for (const auto& cell : info.cells) {
    HostNode n;
    n.id = cell.id;
    n.cpus = cell.cpus & all;
    n.memBytes = cell.memoryBytes;
    n.memReserveBytes = std::min(memReservePerNodeBytes, cell.memoryBytes);
    host.nodes.push_back(n);
  }
  std::sort(host.nodes.begin(), host.nodes.end(),
            [](const HostNode& a, const HostNode& b) { return a.id < b.id; });
  if (!reserved.isSubsetOf(all)) {
    return Error(Errc::kInvalidArgument, "host.reserved_cpus " + reserved.toList() + ": pCPU(s) " +
                                             (reserved - all).toList() +
                                             " are not CPUs libvirt reports on this host (" +
                                             all.toList() + ")");
  }
  host.reserved = reserved;
  if (auto v = host.validate(); !v)
    return std::move(v).error().context("host from libvirt at " + info.uri);
  return host;
}

VmSpec specFromVmInfo(const sys::VmInfo& info, const HostModel& host) {
  VmSpec spec;
  spec.uuid = info.uuid;
  std::transform(spec.uuid.begin(), spec.uuid.end(), spec.uuid.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  spec.name = info.name;
  if (info.settings) {
    spec.floor = info.settings->floor;
    spec.ceiling = info.settings->ceiling;
    spec.weight = static_cast<double>(info.settings->weight) / 100.0;
  }
  for (std::size_t v = 0; v < info.pcpuOfVcpu.size(); ++v) {
    if (info.pcpuOfVcpu[v] >= 0)
      spec.pins[static_cast<unsigned>(v)] = static_cast<unsigned>(info.pcpuOfVcpu[v]);
  }
  for (const auto& node : info.nodes) {
    int hostNode = node.hostNode;
    if (hostNode < 0 && !node.pcpus.empty())
      hostNode = host.nodeOfPcpu(static_cast<unsigned>(node.pcpus.first()));
    if (hostNode < 0) continue;
    const auto h = static_cast<unsigned>(hostNode);
    spec.guestToHostNode[node.id] = h;
    spec.bootMemBytes[node.id] += node.memoryBytes;
  }
  for (const auto& d : info.memDevices) {
    auto it = spec.guestToHostNode.find(d.guestNode);
    if (it == spec.guestToHostNode.end()) continue;
    VirtioMemDevice dev;
    dev.alias = d.alias;
    dev.guestNode = d.guestNode;
    dev.hostNode = it->second;
    if (d.blockBytes > 0) dev.blockBytes = d.blockBytes;
    dev.maxBytes = d.sizeBytes;
    dev.requestedBytes = d.requestedBytes;
    dev.currentBytes = d.currentBytes;
    spec.virtioMem.push_back(dev);
  }
  return spec;
}

std::vector<std::uint32_t> vcpusOfPcpus(const VmSpec& spec, const CpuSet& pcpus) {
  std::vector<std::uint32_t> out;
  for (const auto& [vcpu, pcpu] : spec.pins) {
    if (pcpus.contains(pcpu)) out.push_back(vcpu);
  }
  return out;  // std::map iterates in ascending vCPU order
}

CpuSet pcpusOfVcpus(const VmSpec& spec, const std::vector<std::uint32_t>& vcpus,
                    unsigned* unknown) {
  CpuSet out;
  unsigned missing = 0;
  for (auto v : vcpus) {
    auto it = spec.pins.find(v);
    if (it == spec.pins.end()) {
      ++missing;
      continue;
    }
    out.add(it->second);
  }
  if (unknown) *unknown = missing;
  return out;
}

bool samePlacement(const VmSpec& a, const VmSpec& b) {
  return a.pins == b.pins && a.guestToHostNode == b.guestToHostNode;
}

}  // namespace vnuma::broker
