#include "host-broker/ledger/PlanExecutor.hpp"

#include <algorithm>

namespace vnuma::broker {

PlanSteps planSteps(const Ledger& ledger, const Plan& plan) {
  PlanSteps out;
  std::vector<LedgerEdit> revoking, growing;
  CpuSet claimed;  // pCPUs granted to an earlier VM in this call
  const CpuSet grantable = ledger.host().grantable();

  for (const auto& [uuid, t] : plan.targets) {
    const VmEntry* v = ledger.vm(uuid);
    if (!v) continue;
    const CpuSet current = v->grantTarget();
    const CpuSet revokingNow = v->inState(HoldState::kRevoking);
    CpuSet want = (t.pcpus & v->pinned & grantable) | v->floorPcpus;
    CpuSet remove = current - want;  // never floor: want includes it
    CpuSet keep = current - remove;
    const std::size_t ceiling = v->spec.effectiveCeiling(v->pinned.count());
    // Above the ceiling (an admin lowered it): give back non-floor pCPUs, highest ids first.
    for (auto ids = (keep - v->floorPcpus).ids(); keep.count() > ceiling && !ids.empty();
         ids.pop_back()) {
      keep.remove(ids.back());
      remove.add(ids.back());
    }
    const CpuSet readd = want & revokingNow;  // cancel a revoke that is still in flight
    CpuSet add = ((want - v->held()) & ledger.availableFor(uuid)) - claimed;
    // Respect the ceiling: keep what stays, then re-adds, then new pCPUs (lowest ids first).
    CpuSet target = keep;
    for (unsigned p : readd.ids())
      if (target.count() < ceiling) target.add(p);
    for (unsigned p : add.ids())
      if (target.count() < ceiling) target.add(p);
    add &= target;
    out.deferred += static_cast<unsigned>((want - target).count());
    if (target.empty() || target == current) continue;
    claimed |= add;
    out.revoked += static_cast<unsigned>(remove.count());
    out.granted += static_cast<unsigned>(add.count());
    SendGrant g{uuid, target, v->nextGeneration()};
    (remove.empty() ? growing : revoking).push_back(std::move(g));
  }
  for (auto& e : revoking) out.edits.push_back(std::move(e));
  for (auto& e : growing) out.edits.push_back(std::move(e));

  // Memory (per guest node's device): decreases first, then increases as far as the room on the
  // device's host node allows.
  std::map<unsigned, std::uint64_t> room;  // host node -> free bytes
  for (const auto& n : ledger.nodeMemories()) room[n.node] = n.freeBytes();
  std::vector<LedgerEdit> memDown, memUp;
  struct Up {
    VmId vm;
    unsigned node;
    std::uint64_t want;
  };
  std::vector<Up> ups;
  for (const auto& [uuid, t] : plan.targets) {
    const VmEntry* v = ledger.vm(uuid);
    if (!v) continue;
    for (const auto& [node, wantRaw] : t.memRequestedBytes) {
      const auto* dev = v->spec.virtioMemOfGuestNode(node);
      if (!dev || !ledger.host().node(dev->hostNode)) continue;
      std::uint64_t want = std::min(wantRaw, dev->maxBytes);
      want -= want % dev->blockBytes;
      NodeMemory m;
      if (auto it = v->memory.find(node); it != v->memory.end()) m = it->second;
      if (want < m.requestedBytes) {
        memDown.push_back(SetMemoryRequested{uuid, node, want});
        auto before = std::max(m.requestedBytes, m.currentBytes);
        auto after = std::max(want, m.currentBytes);
        room[dev->hostNode] += before - after;
      } else if (want > m.requestedBytes) {
        ups.push_back({uuid, node, want});
      }
    }
  }
  for (const auto& u : ups) {
    const VmEntry* v = ledger.vm(u.vm);
    const auto* dev = v->spec.virtioMemOfGuestNode(u.node);
    NodeMemory m;
    if (auto it = v->memory.find(u.node); it != v->memory.end()) m = it->second;
    const std::uint64_t base = std::max(m.requestedBytes, m.currentBytes);
    std::uint64_t req = std::min(u.want, base + room[dev->hostNode]);
    req -= req % dev->blockBytes;
    if (req <= m.requestedBytes) continue;
    room[dev->hostNode] -= std::max(req, m.currentBytes) - base;
    memUp.push_back(SetMemoryRequested{u.vm, u.node, req});
  }
  for (auto& e : memDown) out.edits.push_back(std::move(e));
  for (auto& e : memUp) out.edits.push_back(std::move(e));
  return out;
}

}  // namespace vnuma::broker
