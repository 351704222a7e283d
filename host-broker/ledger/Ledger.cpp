#include "host-broker/ledger/Ledger.hpp"

#include <algorithm>
#include <set>

namespace vnuma::broker {

namespace {

std::string vmLabel(const VmSpec& s) { return "vm " + (s.name.empty() ? s.uuid : s.name); }

Error conflict(std::string m) { return Error(Errc::kConflict, std::move(m)); }
Error invalid(std::string m) { return Error(Errc::kInvalidArgument, std::move(m)); }
Error unknownVm(const VmId& id) { return Error(Errc::kNotFound, "unknown vm '" + id + "'"); }

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

const char* holdStateName(HoldState s) noexcept {
  switch (s) {
    case HoldState::kGranting:
      return "granting";
    case HoldState::kGranted:
      return "granted";
    case HoldState::kRevoking:
      return "revoking";
  }
  return "?";
}

const char* pcpuStateName(PcpuState s) noexcept {
  switch (s) {
    case PcpuState::kFree:
      return "free";
    case PcpuState::kReserved:
      return "reserved";
    case PcpuState::kGranting:
      return "granting";
    case PcpuState::kGranted:
      return "granted";
    case PcpuState::kRevoking:
      return "revoking";
  }
  return "?";
}

CpuSet VmEntry::held() const {
  CpuSet s;
  for (const auto& [p, h] : holds) s.add(p);
  return s;
}

CpuSet VmEntry::inState(HoldState st) const {
  CpuSet s;
  for (const auto& [p, h] : holds)
    if (h.state == st) s.add(p);
  return s;
}

CpuSet VmEntry::grantTarget() const {
  CpuSet s;
  for (const auto& [p, h] : holds)
    if (h.state != HoldState::kRevoking) s.add(p);
  return s;
}

bool VmEntry::settled() const {
  for (const auto& [p, h] : holds)
    if (h.state != HoldState::kGranted) return false;
  return true;
}

const char* editKind(const LedgerEdit& e) noexcept {
  return std::visit(Overloaded{
                        [](const AddVm&) { return "add_vm"; },
                        [](const RemoveVm&) { return "remove_vm"; },
                        [](const UpdateLimits&) { return "update_limits"; },
                        [](const BeginGrant&) { return "begin_grant"; },
                        [](const BeginRevoke&) { return "begin_revoke"; },
                        [](const SendGrant&) { return "send_grant"; },
                        [](const CompleteGrant&) { return "complete_grant"; },
                        [](const CompleteRevoke&) { return "complete_revoke"; },
                        [](const AckGeneration&) { return "ack"; },
                        [](const EnforceRevoke&) { return "enforce_revoke"; },
                        [](const LeaseExpired&) { return "lease_expired"; },
                        [](const SetMemoryRequested&) { return "set_memory_requested"; },
                        [](const ObserveMemoryCurrent&) { return "observe_memory_current"; },
                    },
                    e);
}

const VmId& editVm(const LedgerEdit& e) noexcept {
  return std::visit(Overloaded{
                        [](const AddVm& x) -> const VmId& { return x.spec.uuid; },
                        [](const auto& x) -> const VmId& { return x.vm; },
                    },
                    e);
}

// ---------------------------------------------------------------------------------------------

Ledger::Ledger(LedgerState st, std::size_t cap)
    : st_(std::move(st)), eventCapacity_(cap ? cap : 1) {
  rebuildIndex();
}

void Ledger::rebuildIndex() {
  holder_.assign(st_.host.pcpus.size(), VmId());
  floorOf_.assign(st_.host.pcpus.size(), VmId());
  auto idx = [&](unsigned id) -> long {
    const auto* p = st_.host.pcpu(id);
    return p ? p - st_.host.pcpus.data() : -1;
  };
  for (auto& [uuid, v] : st_.vms) {
    v.pinned = v.spec.pinnedPcpus();
    for (const auto& [p, h] : v.holds)
      if (long i = idx(p); i >= 0) holder_[static_cast<std::size_t>(i)] = uuid;
    for (unsigned p : v.floorPcpus.ids())
      if (long i = idx(p); i >= 0) floorOf_[static_cast<std::size_t>(i)] = uuid;
  }
}

Result<Ledger> Ledger::create(HostModel host, std::size_t eventCapacity) {
  VNUMA_TRY_VOID(host.validate());
  LedgerState st;
  st.host = std::move(host);
  return Ledger(std::move(st), eventCapacity);
}

Result<Ledger> Ledger::fromState(LedgerState state, std::size_t eventCapacity) {
  Ledger l(std::move(state), eventCapacity);
  auto r = l.checkInvariants();
  if (!r) return std::move(r).error();
  return l;
}

const VmEntry* Ledger::vm(const VmId& uuid) const {
  auto it = st_.vms.find(uuid);
  return it == st_.vms.end() ? nullptr : &it->second;
}

const VmEntry* Ledger::findVm(std::string_view uuidOrName) const {
  if (auto it = st_.vms.find(std::string(uuidOrName)); it != st_.vms.end()) return &it->second;
  for (const auto& [u, v] : st_.vms)
    if (v.spec.name == uuidOrName) return &v;
  return nullptr;
}

PcpuView Ledger::pcpu(unsigned id) const {
  PcpuView pv;
  const auto* hp = st_.host.pcpu(id);
  pv.id = id;
  if (!hp) return pv;
  auto i = static_cast<std::size_t>(hp - st_.host.pcpus.data());
  pv.node = hp->node;
  pv.holder = holder_[i];
  pv.floorOf = floorOf_[i];
  if (st_.host.reserved.contains(id)) {
    pv.state = PcpuState::kReserved;
  } else if (!pv.holder.empty()) {
    const auto& h = st_.vms.at(pv.holder).holds.at(id);
    pv.generation = h.generation;
    pv.state = h.state == HoldState::kGranting  ? PcpuState::kGranting
               : h.state == HoldState::kGranted ? PcpuState::kGranted
                                                : PcpuState::kRevoking;
  }
  for (const auto& [u, v] : st_.vms)
    if (v.enforced.contains(id)) pv.enforced = true;
  return pv;
}

std::vector<PcpuView> Ledger::pcpus() const {
  std::vector<PcpuView> out;
  out.reserve(st_.host.pcpus.size());
  CpuSet enforced;
  for (const auto& [u, v] : st_.vms) enforced |= v.enforced;
  for (std::size_t i = 0; i < st_.host.pcpus.size(); ++i) {
    unsigned id = st_.host.pcpus[i].id;
    PcpuView pv;
    pv.id = id;
    pv.node = st_.host.pcpus[i].node;
    pv.holder = holder_[i];
    pv.floorOf = floorOf_[i];
    pv.enforced = enforced.contains(id);
    if (st_.host.reserved.contains(id)) {
      pv.state = PcpuState::kReserved;
    } else if (!pv.holder.empty()) {
      const auto& h = st_.vms.at(pv.holder).holds.at(id);
      pv.generation = h.generation;
      pv.state = h.state == HoldState::kGranting  ? PcpuState::kGranting
                 : h.state == HoldState::kGranted ? PcpuState::kGranted
                                                  : PcpuState::kRevoking;
    }
    out.push_back(std::move(pv));
  }
  return out;
}

VmId Ledger::holderOf(unsigned id) const {
  const auto* hp = st_.host.pcpu(id);
  return hp ? holder_[static_cast<std::size_t>(hp - st_.host.pcpus.data())] : VmId();
}

CpuSet Ledger::freePcpus() const {
  CpuSet s;
  for (std::size_t i = 0; i < st_.host.pcpus.size(); ++i)
    if (holder_[i].empty() && !st_.host.reserved.contains(st_.host.pcpus[i].id))
      s.add(st_.host.pcpus[i].id);
  return s;
}

CpuSet Ledger::availableFor(const VmId& uuid) const {
  const auto* v = vm(uuid);
  if (!v) return {};
  CpuSet s;
  for (std::size_t i = 0; i < st_.host.pcpus.size(); ++i) {
    unsigned id = st_.host.pcpus[i].id;
    if (holder_[i].empty() && (floorOf_[i].empty() || floorOf_[i] == uuid) &&
        !st_.host.reserved.contains(id))
      s.add(id);
  }
  return s & v->pinned;
}

NodeMemoryView Ledger::nodeMemory(unsigned node) const {
  NodeMemoryView m;
  m.node = node;
  if (const auto* n = st_.host.node(node)) {
    m.capacityBytes = n->memBytes;
    m.reserveBytes = n->memReserveBytes;
  }
  for (const auto& [u, v] : st_.vms)
    for (const auto& [g, mem] : v.memory)
      if (mem.hostNode == node) m.accountedBytes += mem.accountedBytes();
  return m;
}

std::vector<NodeMemoryView> Ledger::nodeMemories() const {
  std::vector<NodeMemoryView> out;
  for (const auto& n : st_.host.nodes) out.push_back(nodeMemory(n.id));
  return out;
}

std::vector<LedgerEvent> Ledger::eventsSince(std::uint64_t since, std::size_t max) const {
  std::vector<LedgerEvent> out;
  auto it = std::upper_bound(events_.begin(), events_.end(), since,
                             [](std::uint64_t s, const LedgerEvent& e) { return s < e.seq; });
  for (; it != events_.end() && out.size() < max; ++it) out.push_back(*it);
  return out;
}

std::uint64_t Ledger::firstRetainedSeq() const { return events_.empty() ? 0 : events_.front().seq; }

// ---------------------------------------------------------------------------------------------

Result<void> Ledger::checkNodeMemory(unsigned node) const {
  auto m = nodeMemory(node);
  if (m.accountedBytes + m.reserveBytes > m.capacityBytes)
    return conflict("host node " + std::to_string(node) + ": memory overcommitted (vms " +
                    std::to_string(m.accountedBytes) + " + reserve " +
                    std::to_string(m.reserveBytes) + " > capacity " +
                    std::to_string(m.capacityBytes) + " bytes)");
  return okResult();
}

Result<void> Ledger::checkInvariants() const {
  const auto& host = st_.host;
  if (auto r = host.validate(); !r) return std::move(r).error().context("ledger host");
  const auto grantable = host.grantable();
  std::map<unsigned, VmId> heldBy, floorBy;
  for (const auto& [uuid, v] : st_.vms) {
    const auto who = vmLabel(v.spec);
    if (uuid != v.spec.uuid)
      return invalid(who + ": stored under uuid '" + uuid + "' but its spec says '" + v.spec.uuid +
                     "'");
    VNUMA_TRY_VOID(v.spec.validate());
    const auto& pinned = v.pinned;
    if (v.floorPcpus.count() != v.spec.floor)
      return conflict(who + ": " + std::to_string(v.floorPcpus.count()) + " floor pCPUs (" +
                      v.floorPcpus.toList() + ") but floor is " + std::to_string(v.spec.floor));
    if (v.ackedGeneration > v.lastGeneration)
      return conflict(who + ": acked generation " + std::to_string(v.ackedGeneration) +
                      " above last sent " + std::to_string(v.lastGeneration));
    for (unsigned p : v.floorPcpus.ids()) {
      if (!grantable.contains(p))
        return conflict(who + ": floor pCPU " + std::to_string(p) +
                        " is reserved or not a pCPU of this host");
      if (!pinned.contains(p))
        return conflict(who + " has no vCPU pinned to its floor pCPU " + std::to_string(p));
      if (auto [it, fresh] = floorBy.emplace(p, uuid); !fresh)
        return conflict("pCPU " + std::to_string(p) + " is the floor of both " +
                        vmLabel(st_.vms.at(it->second).spec) + " and " + who);
    }
    for (const auto& [p, h] : v.holds) {
      if (!host.pcpu(p))
        return conflict(who + " holds pCPU " + std::to_string(p) +
                        " which this host does not have");
      if (host.reserved.contains(p))
        return conflict(who + " holds pCPU " + std::to_string(p) +
                        " which is reserved for the host");
      if (!pinned.contains(p))
        return conflict(who + " holds pCPU " + std::to_string(p) + " but has no vCPU pinned to it");
      if (h.generation > v.lastGeneration)
        return conflict(who + ": pCPU " + std::to_string(p) + " has generation " +
                        std::to_string(h.generation) + " above last sent " +
                        std::to_string(v.lastGeneration));
      if (h.state == HoldState::kRevoking && v.floorPcpus.contains(p))
        return conflict(who + ": floor pCPU " + std::to_string(p) + " is being revoked");
      if (auto [it, fresh] = heldBy.emplace(p, uuid); !fresh)
        return conflict("pCPU " + std::to_string(p) + " held by both " +
                        vmLabel(st_.vms.at(it->second).spec) + " and " + who);
    }
    // A grant above the ceiling is allowed transiently after an admin lowered the ceiling.
    for (const auto& [g, m] : v.memory)
      if (!host.node(m.hostNode))
        return conflict(who + " has memory (guest node " + std::to_string(g) + ") on host node " +
                        std::to_string(m.hostNode) + " which does not exist");
  }
  for (const auto& [p, owner] : floorBy)
    if (auto it = heldBy.find(p); it != heldBy.end() && it->second != owner)
      return conflict("pCPU " + std::to_string(p) + " is the floor of " +
                      vmLabel(st_.vms.at(owner).spec) + " but held by " +
                      vmLabel(st_.vms.at(it->second).spec));
  for (const auto& n : host.nodes) VNUMA_TRY_VOID(checkNodeMemory(n.id));
  return okResult();
}

// Picks floor pCPUs for a VM until there are `count`: `base` first (kept), then `preferHeld`
// (pCPUs it already holds), then free pinned pCPUs nobody has as floor, whole SMT cores first, on
// the node with most of the VM's memory first, lowest ids first.
Result<CpuSet> Ledger::pickFloor(const VmSpec& spec, unsigned count, const CpuSet& base,
                                 const CpuSet& preferHeld) const {
  CpuSet chosen = base;
  for (unsigned p : preferHeld.ids()) {
    if (chosen.count() >= count) break;
    chosen.add(p);
  }
  if (chosen.count() >= count) return chosen;
  const VmEntry* self = vm(spec.uuid);
  CpuSet cand;
  for (unsigned p : (spec.pinnedPcpus() & st_.host.grantable()).ids()) {
    const auto* hp = st_.host.pcpu(p);
    auto i = static_cast<std::size_t>(hp - st_.host.pcpus.data());
    bool heldOk = holder_[i].empty() || (holder_[i] == spec.uuid && self &&
                                         self->holds.at(p).state != HoldState::kRevoking);
    if (heldOk && (floorOf_[i].empty() || floorOf_[i] == spec.uuid)) cand.add(p);
  }
  cand -= chosen;
  // Host node order: most boot memory first, then id.
  std::vector<unsigned> nodes;
  for (const auto& n : st_.host.nodes) nodes.push_back(n.id);
  std::map<unsigned, std::uint64_t> bootOnHost;
  for (const auto& [g, bytes] : spec.bootMemBytes)
    if (auto h = spec.hostNodeOf(g)) bootOnHost[*h] += bytes;
  auto memOn = [&](unsigned n) {
    auto it = bootOnHost.find(n);
    return it == bootOnHost.end() ? std::uint64_t{0} : it->second;
  };
  std::stable_sort(nodes.begin(), nodes.end(),
                   [&](unsigned a, unsigned b) { return memOn(a) > memOn(b); });
  const auto all = st_.host.allPcpus();
  for (bool wholeCoresOnly : {true, false}) {
    for (unsigned n : nodes) {
      const auto* hn = st_.host.node(n);
      for (unsigned p : (cand & hn->cpus).ids()) {
        if (chosen.count() >= count) return chosen;
        if (chosen.contains(p)) continue;
        const auto& sib = st_.host.pcpu(p)->siblings;
        if (wholeCoresOnly) {
          if (!(sib & all).isSubsetOf(cand)) continue;
          for (unsigned s : (sib & all).ids())
            if (chosen.count() < count) chosen.add(s);
        } else {
          chosen.add(p);
        }
      }
    }
  }
  if (chosen.count() < count)
    return conflict(vmLabel(spec) + ": cannot find " + std::to_string(count) +
                    " floor pCPUs (only " + std::to_string(chosen.count()) +
                    " pinned pCPUs are free or its own and not another VM's floor)");
  return chosen;
}

Result<void> Ledger::doSend(VmEntry& v, const CpuSet& target, std::uint64_t gen, const char* what) {
  const auto who = vmLabel(v.spec);
  if (gen <= v.lastGeneration)
    return conflict(who + ": generation " + std::to_string(gen) +
                    " is not above the last sent generation " + std::to_string(v.lastGeneration));
  if (target.empty()) return invalid(who + ": a grant cannot be empty (" + what + ")");
  const auto& pinned = v.pinned;
  for (unsigned p : target.ids()) {
    if (!st_.host.pcpu(p))
      return invalid("pCPU " + std::to_string(p) + " does not exist on this host");
    if (st_.host.reserved.contains(p))
      return conflict("pCPU " + std::to_string(p) +
                      " is reserved for the host and cannot be granted to " + who);
    if (!pinned.contains(p))
      return conflict(who + " has no vCPU pinned to pCPU " + std::to_string(p));
  }
  if (target.count() > v.spec.effectiveCeiling(pinned.count()))
    return conflict(who + ": grant of " + std::to_string(target.count()) +
                    " pCPUs exceeds its ceiling " +
                    std::to_string(v.spec.effectiveCeiling(pinned.count())));
  const auto current = v.grantTarget();
  const auto heldNow = v.held();
  for (unsigned p : (current - target).ids())
    if (v.floorPcpus.contains(p))
      return conflict("pCPU " + std::to_string(p) + " is the floor of " + who +
                      " and cannot be revoked");
  const auto adds = target - heldNow;
  for (unsigned p : adds.ids()) {
    auto i = static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data());
    if (!holder_[i].empty())
      return conflict("pCPU " + std::to_string(p) + " is held by " +
                      vmLabel(st_.vms.at(holder_[i]).spec) + "; cannot grant it to " + who);
    if (!floorOf_[i].empty() && floorOf_[i] != v.spec.uuid)
      return conflict("pCPU " + std::to_string(p) + " is the floor of " +
                      vmLabel(st_.vms.at(floorOf_[i]).spec) + "; cannot grant it to " + who);
  }
  // Checks passed: mutate.
  for (unsigned p : (current - target).ids()) v.holds[p] = Hold{HoldState::kRevoking, gen};
  for (unsigned p : (target & v.inState(HoldState::kRevoking)).ids())
    v.holds[p] = Hold{HoldState::kGranting, gen};
  for (unsigned p : adds.ids()) {
    v.holds[p] = Hold{HoldState::kGranting, gen};
    holder_[static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data())] = v.spec.uuid;
  }
  v.enforced -= target;
  v.lastGeneration = gen;
  return okResult();
}

Result<void> Ledger::doComplete(VmEntry& v, std::uint64_t gen, bool grants, bool revokes,
                                std::string& detail) {
  if (gen > v.lastGeneration)
    return conflict(vmLabel(v.spec) + ": ack for generation " + std::to_string(gen) +
                    " which was never sent (last sent " + std::to_string(v.lastGeneration) + ")");
  if (gen == 0) return invalid(vmLabel(v.spec) + ": ack for generation 0");
  CpuSet done, freed;
  for (auto it = v.holds.begin(); it != v.holds.end();) {
    auto& [p, h] = *it;
    if (h.generation <= gen && grants && h.state == HoldState::kGranting) {
      h.state = HoldState::kGranted;
      done.add(p);
    } else if (h.generation <= gen && revokes && h.state == HoldState::kRevoking) {
      freed.add(p);
      holder_[static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data())].clear();
      it = v.holds.erase(it);
      continue;
    }
    ++it;
  }
  bool changed = !done.empty() || !freed.empty() || gen > v.ackedGeneration;
  v.ackedGeneration = std::max(v.ackedGeneration, gen);
  if (!changed) return okResult();
  detail = "gen=" + std::to_string(gen);
  if (!done.empty()) detail += " granted=" + done.toList();
  if (!freed.empty()) detail += " freed=" + freed.toList();
  return okResult();
}

Result<void> Ledger::check(const LedgerEdit& edit) const {
  Ledger copy = *this;
  std::string detail;
  return copy.applyImpl(edit, detail);
}

Result<void> Ledger::apply(const LedgerEdit& edit, std::int64_t nowMs) {
  // Strong guarantee: edits validate before they mutate, except the memory ones, which mutate
  // one value and restore it on refusal (see applyImpl).
  std::string detail;
  auto r = applyImpl(edit, detail);
  if (!r) return r;
  if (detail.empty()) return okResult();  // nothing changed: no event
  LedgerEvent e;
  e.seq = ++st_.lastSeq;
  e.atMs = nowMs;
  e.kind = editKind(edit);
  e.vm = editVm(edit);
  if (const auto* v = vm(e.vm))
    e.vmName = v->spec.name;
  else if (const auto* rm = std::get_if<RemoveVm>(&edit))
    e.vmName = rm->vm;
  e.detail = std::move(detail);
  events_.push_back(std::move(e));
  while (events_.size() > eventCapacity_) events_.pop_front();
  return okResult();
}

Result<void> Ledger::applyImpl(const LedgerEdit& edit, std::string& detail) {
  auto find = [&](const VmId& id) -> VmEntry* {
    auto it = st_.vms.find(id);
    return it == st_.vms.end() ? nullptr : &it->second;
  };
  return std::visit(
      Overloaded{
          [&](const AddVm& e) -> Result<void> {
            VNUMA_TRY_VOID(e.spec.validate());
            if (st_.vms.count(e.spec.uuid))
              return conflict(vmLabel(e.spec) + " is already managed");
            if (!e.spec.name.empty())
              for (const auto& [u, v] : st_.vms)
                if (v.spec.name == e.spec.name)
                  return conflict("vm name '" + e.spec.name + "' is already used by vm " + u);
            for (const auto& [vcpu, p] : e.spec.pins)
              if (!st_.host.pcpu(p))
                return invalid(vmLabel(e.spec) + ": vCPU " + std::to_string(vcpu) +
                               " is pinned to pCPU " + std::to_string(p) +
                               " which this host does not have");
            if (e.spec.floor > (e.spec.pinnedPcpus() & st_.host.grantable()).count())
              return conflict(
                  vmLabel(e.spec) + ": floor " + std::to_string(e.spec.floor) + " > " +
                  std::to_string((e.spec.pinnedPcpus() & st_.host.grantable()).count()) +
                  " pinned pCPUs that are not reserved");
            CpuSet floor = e.floorPcpus;
            if (floor.empty()) {
              auto f = pickFloor(e.spec, e.spec.floor, {}, {});
              if (!f) return std::move(f).error();
              floor = *f;
            } else {
              if (floor.count() != e.spec.floor)
                return invalid(vmLabel(e.spec) + ": " + std::to_string(floor.count()) +
                               " floor pCPUs given (" + floor.toList() + ") but floor is " +
                               std::to_string(e.spec.floor));
              for (unsigned p : floor.ids()) {
                if (!st_.host.pcpu(p))
                  return invalid("pCPU " + std::to_string(p) + " does not exist on this host");
                if (st_.host.reserved.contains(p))
                  return conflict("pCPU " + std::to_string(p) +
                                  " is reserved for the host and cannot be a floor of " +
                                  vmLabel(e.spec));
                if (!e.spec.pinnedPcpus().contains(p))
                  return conflict(vmLabel(e.spec) + " has no vCPU pinned to pCPU " +
                                  std::to_string(p));
                auto i = static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data());
                if (!holder_[i].empty())
                  return conflict("pCPU " + std::to_string(p) + " is held by " +
                                  vmLabel(st_.vms.at(holder_[i]).spec) +
                                  "; cannot make it the floor of " + vmLabel(e.spec));
                if (!floorOf_[i].empty())
                  return conflict("pCPU " + std::to_string(p) + " is the floor of " +
                                  vmLabel(st_.vms.at(floorOf_[i]).spec) +
                                  "; cannot make it the floor of " + vmLabel(e.spec));
              }
            }
            VmEntry v;
            v.spec = e.spec;
            v.pinned = e.spec.pinnedPcpus();
            v.floorPcpus = floor;
            for (const auto& [g, bytes] : e.spec.bootMemBytes) {
              auto h = e.spec.hostNodeOf(g);
              if (!h)
                return invalid(vmLabel(e.spec) + ": boot memory on guest node " +
                               std::to_string(g) + " which maps to no host node");
              if (!st_.host.node(*h))
                return invalid(vmLabel(e.spec) + ": boot memory on host node " +
                               std::to_string(*h) + " which does not exist");
              v.memory[g].hostNode = *h;
              v.memory[g].bootBytes += bytes;
            }
            for (const auto& d : e.spec.virtioMem) {
              if (!st_.host.node(d.hostNode))
                return invalid(vmLabel(e.spec) + ": virtio-mem " + d.alias + " on host node " +
                               std::to_string(d.hostNode) + " which does not exist");
              auto& m = v.memory[d.guestNode];
              m.hostNode = d.hostNode;
              m.requestedBytes = d.requestedBytes;
              m.currentBytes = d.currentBytes;
            }
            auto uuid = e.spec.uuid;
            st_.vms.emplace(uuid, std::move(v));
            for (const auto& [g, m] : st_.vms.at(uuid).memory) {
              if (auto r = checkNodeMemory(m.hostNode); !r) {
                st_.vms.erase(uuid);
                return std::move(r).error().context("adding " + vmLabel(e.spec));
              }
            }
            for (unsigned p : floor.ids())
              floorOf_[static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data())] = uuid;
            detail = "floor=" + floor.toList() + " pins=" + std::to_string(e.spec.pins.size());
            return okResult();
          },
          [&](const RemoveVm& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            detail = "released=" + v->held().toList();
            st_.vms.erase(e.vm);
            rebuildIndex();
            return okResult();
          },
          [&](const UpdateLimits& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            VmSpec spec = v->spec;
            spec.floor = e.floor;
            spec.ceiling = e.ceiling;
            spec.weight = e.weight;
            VNUMA_TRY_VOID(spec.validate());
            CpuSet floor = v->floorPcpus;
            if (e.floor < floor.count()) {
              // Keep the held floor pCPUs with the lowest ids.
              CpuSet keep;
              for (unsigned p : (floor & v->grantTarget()).ids())
                if (keep.count() < e.floor) keep.add(p);
              for (unsigned p : floor.ids())
                if (keep.count() < e.floor) keep.add(p);
              floor = keep;
            } else if (e.floor > floor.count()) {
              auto more = pickFloor(spec, e.floor, floor, v->inState(HoldState::kGranted) - floor);
              if (!more) return std::move(more).error();
              floor = *more;
            }
            for (unsigned p : v->floorPcpus.ids())
              floorOf_[static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data())].clear();
            for (unsigned p : floor.ids())
              floorOf_[static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data())] = e.vm;
            v->spec = spec;
            v->floorPcpus = floor;
            detail = "floor=" + std::to_string(e.floor) + " ceiling=" + std::to_string(e.ceiling) +
                     " weight=" + std::to_string(e.weight) + " floor_pcpus=" + floor.toList();
            return okResult();
          },
          [&](const BeginGrant& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            if (e.pcpus.empty()) return invalid(vmLabel(v->spec) + ": begin_grant with no pCPUs");
            auto already = e.pcpus & v->grantTarget();
            if (!already.empty())
              return conflict(vmLabel(v->spec) + " already holds pCPUs " + already.toList());
            VNUMA_TRY_VOID(doSend(*v, v->grantTarget() | e.pcpus, e.generation, "begin_grant"));
            detail = "gen=" + std::to_string(e.generation) + " pcpus=" + e.pcpus.toList();
            return okResult();
          },
          [&](const BeginRevoke& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            if (e.pcpus.empty()) return invalid(vmLabel(v->spec) + ": begin_revoke with no pCPUs");
            auto notHeld = e.pcpus - v->grantTarget();
            if (!notHeld.empty())
              return conflict(vmLabel(v->spec) + " does not hold pCPUs " + notHeld.toList() +
                              " (or they are already being revoked)");
            VNUMA_TRY_VOID(doSend(*v, v->grantTarget() - e.pcpus, e.generation, "begin_revoke"));
            detail = "gen=" + std::to_string(e.generation) + " pcpus=" + e.pcpus.toList();
            return okResult();
          },
          [&](const SendGrant& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            auto before = v->grantTarget();
            VNUMA_TRY_VOID(doSend(*v, e.target, e.generation, "send_grant"));
            detail = "gen=" + std::to_string(e.generation) + " target=" + e.target.toList();
            if (auto add = e.target - before; !add.empty()) detail += " add=" + add.toList();
            if (auto rm = before - e.target; !rm.empty()) detail += " revoke=" + rm.toList();
            return okResult();
          },
          [&](const CompleteGrant& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            return doComplete(*v, e.generation, true, false, detail);
          },
          [&](const CompleteRevoke& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            return doComplete(*v, e.generation, false, true, detail);
          },
          [&](const AckGeneration& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            return doComplete(*v, e.generation, true, true, detail);
          },
          [&](const EnforceRevoke& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            if (e.pcpus.empty())
              return invalid(vmLabel(v->spec) + ": enforce_revoke with no pCPUs");
            auto notRevoking = e.pcpus - v->inState(HoldState::kRevoking);
            if (!notRevoking.empty())
              return conflict(vmLabel(v->spec) + ": pCPUs " + notRevoking.toList() +
                              " are not being revoked");
            for (unsigned p : e.pcpus.ids()) {
              v->holds.erase(p);
              holder_[static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data())].clear();
            }
            v->enforced |= e.pcpus;
            detail = "pcpus=" + e.pcpus.toList();
            return okResult();
          },
          [&](const LeaseExpired& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            auto lost = v->held() - v->floorPcpus;
            if (lost.empty()) return okResult();
            for (unsigned p : lost.ids()) {
              v->holds.erase(p);
              holder_[static_cast<std::size_t>(st_.host.pcpu(p) - st_.host.pcpus.data())].clear();
            }
            v->enforced |= lost;
            detail = "released=" + lost.toList();
            return okResult();
          },
          [&](const SetMemoryRequested& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            const auto* dev = v->spec.virtioMemOfGuestNode(e.node);
            if (dev && e.bytes > dev->maxBytes)
              return invalid(vmLabel(v->spec) + ": requested " + std::to_string(e.bytes) +
                             " bytes on guest node " + std::to_string(e.node) +
                             " exceeds its virtio-mem size " + std::to_string(dev->maxBytes));
            if (dev && e.bytes % dev->blockBytes != 0)
              return invalid(vmLabel(v->spec) + ": requested " + std::to_string(e.bytes) +
                             " bytes on guest node " + std::to_string(e.node) +
                             " is not a multiple of the block size " +
                             std::to_string(dev->blockBytes));
            return setDeviceBytes(*v, e.node, e.bytes, &NodeMemory::requestedBytes, "requested",
                                  "requesting", detail);
          },
          [&](const ObserveMemoryCurrent& e) -> Result<void> {
            auto* v = find(e.vm);
            if (!v) return unknownVm(e.vm);
            return setDeviceBytes(*v, e.node, e.bytes, &NodeMemory::currentBytes, "current",
                                  "observed at", detail);
          },
      },
      edit);
}

Result<void> Ledger::setDeviceBytes(VmEntry& v, unsigned guestNode, std::uint64_t bytes,
                                    std::uint64_t NodeMemory::*field, const char* key,
                                    const char* verb, std::string& detail) {
  const auto* dev = v.spec.virtioMemOfGuestNode(guestNode);
  if (!dev)
    return invalid(vmLabel(v.spec) + " has no virtio-mem device on guest node " +
                   std::to_string(guestNode));
  const bool existed = v.memory.count(guestNode) != 0;
  auto& m = v.memory[guestNode];
  m.hostNode = dev->hostNode;
  if (m.*field == bytes) return okResult();
  const auto old = m.*field;
  m.*field = bytes;
  if (auto r = checkNodeMemory(dev->hostNode); !r) {  // strong guarantee: undo
    m.*field = old;
    if (!existed) v.memory.erase(guestNode);
    return std::move(r).error().context(vmLabel(v.spec) + " " + verb + " " + std::to_string(bytes) +
                                        " bytes");
  }
  detail = "node=" + std::to_string(guestNode) + " " + key + "=" + std::to_string(bytes);
  return okResult();
}

}  // namespace vnuma::broker
