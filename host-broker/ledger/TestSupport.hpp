#pragma once
// Test helpers shared by the ledger, state, policy and simulator tests (not part of the library).

#include <string>

#include "host-broker/ledger/Ledger.hpp"

namespace vnuma::broker::testing {

// A Full vNUMA VM on `host`: vCPU i pinned to the i-th pCPU (reserved ones included, as libvirt
// would), guest node j -> host node j, `bootPerNode` boot memory and one virtio-mem device of
// `vmemMax` (0 = none) per host node.
inline VmSpec fullVnumaVm(const HostModel& host, const std::string& name, unsigned floor = 1,
                          unsigned ceiling = 0, double weight = 1.0,
                          std::uint64_t bootPerNode = 1 * kGiB, std::uint64_t vmemMax = 0) {
  VmSpec s;
  s.uuid = "00000000-0000-0000-0000-" +
           std::string(12 - std::min<std::size_t>(12, name.size()), '0') + name.substr(0, 12);
  s.name = name;
  s.floor = floor;
  s.ceiling = ceiling;
  s.weight = weight;
  unsigned v = 0;
  for (const auto& p : host.pcpus) s.pins[v++] = p.id;
  for (const auto& n : host.nodes) {
    s.guestToHostNode[n.id] = n.id;
    if (bootPerNode) s.bootMemBytes[n.id] = bootPerNode;
    if (vmemMax) {
      VirtioMemDevice d;
      d.alias = "virtiomem" + std::to_string(n.id);
      d.guestNode = n.id;
      d.hostNode = n.id;
      d.maxBytes = vmemMax;
      s.virtioMem.push_back(d);
    }
  }
  return s;
}

}  // namespace vnuma::broker::testing
