#include "host-broker/sys/Hypervisor.hpp"

namespace vnuma::sys {

const HostCell* HostInfo::cell(unsigned id) const {
  for (const auto& c : cells)
    if (c.id == id) return &c;
  return nullptr;
}

int HostInfo::cellOfCpu(unsigned cpu) const {
  for (const auto& c : cpus)
    if (c.id == cpu) return static_cast<int>(c.cell);
  return -1;
}

const GuestNode* VmInfo::node(unsigned nodeId) const {
  for (const auto& n : nodes)
    if (n.id == nodeId) return &n;
  return nullptr;
}

const VirtioMemDevice* VmInfo::memDeviceForNode(unsigned guestNode) const {
  for (const auto& d : memDevices)
    if (d.guestNode == guestNode) return &d;
  return nullptr;
}

std::string MemoryDeviceRef::describe() const {
  if (guestNode) return "guest node " + std::to_string(*guestNode);
  return "alias '" + alias + "'";
}

const char* vmEventKindName(VmEventKind k) noexcept {
  switch (k) {
    case VmEventKind::kDefined:
      return "defined";
    case VmEventKind::kUndefined:
      return "undefined";
    case VmEventKind::kStarted:
      return "started";
    case VmEventKind::kStopped:
      return "stopped";
    case VmEventKind::kSuspended:
      return "suspended";
    case VmEventKind::kResumed:
      return "resumed";
    case VmEventKind::kOther:
      return "other";
    case VmEventKind::kConnectionLost:
      return "connection-lost";
    case VmEventKind::kReconnected:
      return "reconnected";
  }
  return "unknown";
}

const char* hvCallName(HvCall c) noexcept {
  switch (c) {
    case HvCall::kHostInfo:
      return "hostInfo";
    case HvCall::kListVms:
      return "listVms";
    case HvCall::kVm:
      return "vm";
    case HvCall::kVcpuStats:
      return "vcpuStats";
    case HvCall::kSetMemoryRequested:
      return "setMemoryRequested";
    case HvCall::kPinEmulator:
      return "pinEmulator";
    case HvCall::kPinIOThreads:
      return "pinIOThreads";
    case HvCall::kSetSettings:
      return "setSettings";
  }
  return "unknown";
}

}  // namespace vnuma::sys
