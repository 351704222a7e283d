#include "host-broker/model/Vm.hpp"

#include <cmath>
#include <set>
#include <string>

namespace vnuma::broker {

CpuSet VmSpec::pinnedPcpus() const {
  CpuSet s;
  for (const auto& [vcpu, pcpu] : pins) s.add(pcpu);
  return s;
}

unsigned VmSpec::effectiveCeiling() const { return effectiveCeiling(pinnedPcpus().count()); }

unsigned VmSpec::effectiveCeiling(std::size_t pinnedCount) const {
  const auto pinned = static_cast<unsigned>(pinnedCount);
  if (ceiling == 0 || ceiling > pinned) return pinned;
  return ceiling;
}

std::optional<unsigned> VmSpec::vcpuOfPcpu(unsigned pcpu) const {
  for (const auto& [vcpu, p] : pins)
    if (p == pcpu) return vcpu;
  return std::nullopt;
}

const VirtioMemDevice* VmSpec::virtioMemOfGuestNode(unsigned guestNode) const {
  for (const auto& d : virtioMem)
    if (d.guestNode == guestNode) return &d;
  return nullptr;
}

std::optional<unsigned> VmSpec::hostNodeOf(unsigned guestNode) const {
  auto it = guestToHostNode.find(guestNode);
  if (it == guestToHostNode.end()) return std::nullopt;
  return it->second;
}

Result<void> VmSpec::validate() const {
  const std::string who = "vm " + (name.empty() ? uuid : name);
  auto bad = [&](const std::string& m) { return Error(Errc::kInvalidArgument, who + ": " + m); };
  if (uuid.empty()) return bad("uuid is empty");
  if (pins.empty()) return bad("no vCPU pins (every vCPU must be pinned to one pCPU)");
  if (floor < 1) return bad("floor must be at least 1");
  if (!std::isfinite(weight) || weight <= 0) return bad("weight must be > 0");
  if (ceiling != 0 && floor > ceiling)
    return bad("floor " + std::to_string(floor) + " > ceiling " + std::to_string(ceiling));
  auto pinned = pinnedPcpus().count();
  if (floor > pinned)
    return bad("floor " + std::to_string(floor) + " > " + std::to_string(pinned) + " pinned pCPUs");
  std::set<unsigned> devNodes;
  for (const auto& d : virtioMem) {
    if (d.blockBytes == 0) return bad("virtio-mem " + d.alias + ": block size is 0");
    if (!devNodes.insert(d.guestNode).second)
      return bad("virtio-mem " + d.alias + ": a second device on guest node " +
                 std::to_string(d.guestNode));
    if (auto h = hostNodeOf(d.guestNode); !h || *h != d.hostNode)
      return bad("virtio-mem " + d.alias + ": guest node " + std::to_string(d.guestNode) +
                 " is not mapped to host node " + std::to_string(d.hostNode));
    if (d.requestedBytes > d.maxBytes)
      return bad("virtio-mem " + d.alias + ": requested " + std::to_string(d.requestedBytes) +
                 " > size " + std::to_string(d.maxBytes));
    if (d.currentBytes > d.maxBytes)
      return bad("virtio-mem " + d.alias + ": current " + std::to_string(d.currentBytes) +
                 " > size " + std::to_string(d.maxBytes));
  }
  return okResult();
}

double VmReport::busyCpus() const {
  double sum = 0;
  for (const auto& [vcpu, b] : vcpuBusy) sum += b;
  return sum;
}

}  // namespace vnuma::broker
