#pragma once
// Ledger: who holds which pCPU and how much memory each VM has on each host node.
//
// The ledger is the broker's source of truth and the guardian of the invariants (BRIEF.md
// "Invariants"). It has
//   - a read view: the const accessors below (what the admin API, policies and vnuma-sim get);
//   - a write path: apply(LedgerEdit), used only by the engine. Every edit is an explicit record
//     (AddVm, BeginGrant, CompleteRevoke, ...). Each one is checked against the invariants; a
//     refused edit returns an Error and changes nothing (strong guarantee). An applied edit that
//     changes something is appended to the event log with a sequence number.
//
// pCPU life cycle (per VM hold):
//   free --BeginGrant/SendGrant--> granting --CompleteGrant(ack)--> granted
//   granting|granted --BeginRevoke/SendGrant--> revoking --CompleteRevoke(ack)--> free
//   revoking --EnforceRevoke(ack timeout)--> free, with the pCPU in the VM's `enforced` set
//   (host-side weight lowered) until the VM is granted that pCPU again.
// A pCPU is *held* by a VM in granting, granted and revoking: from the moment a grant
// containing it is sent until the VM acked a grant without it (or the revoke was enforced).
//
// Generations: every grant message sent to a VM has a generation, strictly increasing per VM
// (persisted, so also across broker restarts). An ack for generation g completes every pending
// change sent with a generation <= g. A grant message always carries the VM's full set, which is
// VmEntry::grantTarget() after the edit.
//
// Invariants checked on every edit (Errc::kConflict, message naming pCPU / VM / node):
//   1. no pCPU held by two VMs; 2. reserved pCPUs are never granted; 3. a VM is only granted
//   pCPUs its vCPUs are pinned to; 4. floor pCPUs are never revoked and never granted to
//   another VM; 5. grant generations strictly increase per VM; 6. per host node:
//   sum over VMs and their guest nodes on it of (boot + max(requested, current)) + reserve
//   <= capacity.
// Other refusals: unknown VM -> Errc::kNotFound ("unknown vm 'x'"), bad values ->
// Errc::kInvalidArgument.
//
// Thread-safety: none. The engine owns the Ledger and serialises access (the admin API reads
// through the engine's thread or a copy). Ledger is a value type: copying it is a snapshot.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"
#include "host-broker/model/Host.hpp"
#include "host-broker/model/Vm.hpp"

namespace vnuma::broker {

enum class HoldState { kGranting, kGranted, kRevoking };
const char* holdStateName(HoldState s) noexcept;  // "granting", "granted", "revoking"

// One pCPU held by a VM.
struct Hold {
  HoldState state = HoldState::kGranting;
  std::uint64_t generation = 0;  // generation of the grant message that put it in this state
};

// A VM's memory on one guest node (at most one virtio-mem device serves it), accounted against
// the host node it lives on as boot + max(requested, current).
struct NodeMemory {
  unsigned hostNode = 0;
  std::uint64_t bootBytes = 0;
  std::uint64_t requestedBytes = 0;  // virtio-mem requested size (what we asked libvirt for)
  std::uint64_t currentBytes = 0;    // virtio-mem current size (what libvirt shows plugged)
  std::uint64_t accountedBytes() const {
    return bootBytes + std::max(requestedBytes, currentBytes);
  }
};

struct VmEntry {
  VmSpec spec;
  // spec.pinnedPcpus(), computed once by the ledger (AddVm, and for a restored state): a Full
  // vNUMA VM on a big host has a pin per pCPU, and the policies ask for this set on every tick.
  CpuSet pinned;
  CpuSet floorPcpus;                      // always held by this VM once granted; never lent
  std::map<unsigned, Hold> holds;         // pCPU -> hold
  CpuSet enforced;                        // pCPUs whose revoke was enforced host-side
  std::uint64_t lastGeneration = 0;       // highest generation sent (0 = none yet)
  std::uint64_t ackedGeneration = 0;      // highest generation acked
  std::map<unsigned, NodeMemory> memory;  // guest node -> memory

  CpuSet held() const;  // every held pCPU (granting, granted, revoking)
  CpuSet inState(HoldState s) const;
  CpuSet grantTarget() const;  // held minus revoking: what the latest grant carries
  std::uint64_t nextGeneration() const { return lastGeneration + 1; }
  bool settled() const;  // nothing granting or revoking
};

// The whole persisted state; what state/ serialises. Restored through Ledger::fromState, which
// re-checks every invariant.
struct LedgerState {
  HostModel host;
  std::map<VmId, VmEntry> vms;
  std::uint64_t lastSeq = 0;  // sequence number of the last event (event numbering continues)
};

// --- edit records (the write path) -----------------------------------------------------------

// A VM becomes managed. floorPcpus empty -> the ledger picks spec.floor free pinned pCPUs
// (compact, on the node with most of the VM's boot memory, SMT siblings together). Memory per
// guest node starts from spec.bootMemBytes and the virtio-mem devices' requested/current sizes.
// The floor pCPUs are *not* held yet: the engine sends the first grant with BeginGrant.
struct AddVm {
  VmSpec spec;
  CpuSet floorPcpus;
};
// The VM is gone (undefined/stopped): everything it held and its memory go back to the pool.
struct RemoveVm {
  VmId vm;
};
// Admin change of floor / ceiling / weight (PATCH /v1/vms/{id}). A higher floor takes pCPUs
// the VM already holds first, then free pinned ones; a lower floor releases the highest ids.
struct UpdateLimits {
  VmId vm;
  unsigned floor = 1;
  unsigned ceiling = 0;
  double weight = 1.0;
};
// A grant message adding `pcpus` was sent with `generation`. pCPUs must be free (or revoking
// by this same VM: a revoke being cancelled) and available to this VM.
struct BeginGrant {
  VmId vm;
  CpuSet pcpus;
  std::uint64_t generation = 0;
};
// A grant message without `pcpus` was sent with `generation`; they stay held (revoking).
struct BeginRevoke {
  VmId vm;
  CpuSet pcpus;
  std::uint64_t generation = 0;
};
// A grant message carrying exactly `target` was sent: adds and revokes in one generation.
struct SendGrant {
  VmId vm;
  CpuSet target;
  std::uint64_t generation = 0;
};
// The agent acked `generation` (ok=true): granting pCPUs sent at <= generation become granted.
struct CompleteGrant {
  VmId vm;
  std::uint64_t generation = 0;
};
// The agent acked `generation` (ok=true): revoking pCPUs sent at <= generation become free.
struct CompleteRevoke {
  VmId vm;
  std::uint64_t generation = 0;
};
// Both of the above for one ack: what the engine applies on Ack(ok=true).
struct AckGeneration {
  VmId vm;
  std::uint64_t generation = 0;
};
// The revoke of `pcpus` timed out and was enforced host-side (weights lowered): they become
// free; the VM keeps them in `enforced` until it is granted them again.
struct EnforceRevoke {
  VmId vm;
  CpuSet pcpus;
};
// The agent was silent past lease + grace: every non-floor pCPU it holds becomes free and is
// recorded as enforced (the agent shrinks to its floor by itself; the host side makes sure).
struct LeaseExpired {
  VmId vm;
};
// The broker asks libvirt for a new requested size of the virtio-mem device on guest node `node`.
struct SetMemoryRequested {
  VmId vm;
  unsigned node = 0;
  std::uint64_t bytes = 0;
};
// libvirt shows a new current size of the virtio-mem device on guest node `node`.
struct ObserveMemoryCurrent {
  VmId vm;
  unsigned node = 0;
  std::uint64_t bytes = 0;
};

using LedgerEdit = std::variant<AddVm, RemoveVm, UpdateLimits, BeginGrant, BeginRevoke, SendGrant,
                                CompleteGrant, CompleteRevoke, AckGeneration, EnforceRevoke,
                                LeaseExpired, SetMemoryRequested, ObserveMemoryCurrent>;

// "begin_grant", "complete_revoke", ... (the event kinds).
const char* editKind(const LedgerEdit& e) noexcept;
const VmId& editVm(const LedgerEdit& e) noexcept;  // uuid of the VM the edit is about

// --- events ----------------------------------------------------------------------------------

struct LedgerEvent {
  std::uint64_t seq = 0;  // 1, 2, 3, ... continuing across restarts
  std::int64_t atMs = 0;  // the nowMs passed to apply()
  std::string kind;       // editKind()
  VmId vm;
  std::string vmName;
  std::string detail;  // e.g. "gen=7 pcpus=4-5" / "node=1 bytes=1073741824"
};

// --- views -----------------------------------------------------------------------------------

enum class PcpuState { kFree, kReserved, kGranting, kGranted, kRevoking };
const char* pcpuStateName(PcpuState s) noexcept;  // "free", "reserved", "granting", ...

struct PcpuView {
  unsigned id = 0;
  unsigned node = 0;
  PcpuState state = PcpuState::kFree;
  VmId holder;   // empty when not held
  VmId floorOf;  // the VM whose floor this pCPU is, empty when none
  std::uint64_t generation = 0;
  bool enforced = false;  // some VM has a host-side enforced revoke on it
};

struct NodeMemoryView {
  unsigned node = 0;
  std::uint64_t capacityBytes = 0;
  std::uint64_t reserveBytes = 0;
  std::uint64_t accountedBytes = 0;  // sum over VMs of boot + max(requested, current)
  std::uint64_t freeBytes() const {
    auto used = reserveBytes + accountedBytes;
    return used >= capacityBytes ? 0 : capacityBytes - used;
  }
};

class Ledger {
 public:
  static constexpr std::size_t kDefaultEventCapacity = 4096;

  // An empty ledger for a host; the host is validated.
  static Result<Ledger> create(HostModel host, std::size_t eventCapacity = kDefaultEventCapacity);
  // From persisted state; re-checks every invariant. Errors (Errc::kConflict or
  // kInvalidArgument) say what is inconsistent, e.g. "pCPU 5 held by both vm a and vm b".
  static Result<Ledger> fromState(LedgerState state,
                                  std::size_t eventCapacity = kDefaultEventCapacity);

  // ---- read view ----
  const HostModel& host() const { return st_.host; }
  const std::map<VmId, VmEntry>& vms() const { return st_.vms; }
  const VmEntry* vm(const VmId& uuid) const;
  // By uuid, else by name (names are unique in libvirt); nullptr when none.
  const VmEntry* findVm(std::string_view uuidOrName) const;
  const LedgerState& state() const { return st_; }

  PcpuView pcpu(unsigned id) const;     // precondition: host().pcpu(id) != nullptr
  std::vector<PcpuView> pcpus() const;  // every pCPU of the host, ascending
  VmId holderOf(unsigned pcpu) const;   // empty when free / reserved
  // Grantable pCPUs held by nobody (another VM's not-yet-granted floor included).
  CpuSet freePcpus() const;
  // pCPUs `vm` could be granted right now: free, pinned by the VM, not another VM's floor.
  CpuSet availableFor(const VmId& vm) const;
  NodeMemoryView nodeMemory(unsigned node) const;
  std::vector<NodeMemoryView> nodeMemories() const;

  // Events with seq > since, oldest first, at most `max`. Events older than the retained
  // window are gone; firstRetainedSeq() tells the caller (0 when the log is empty).
  std::vector<LedgerEvent> eventsSince(std::uint64_t since, std::size_t max = 1000) const;
  std::uint64_t lastSeq() const { return st_.lastSeq; }
  std::uint64_t firstRetainedSeq() const;

  // Independent full check of every invariant over the whole state (used after restore, by
  // tests and by the simulator). Same error texts as the per-edit checks.
  Result<void> checkInvariants() const;

  // ---- write path (engine only) ----
  // Applies one edit or refuses it (nothing changes then). An edit that changes nothing (a
  // repeated ack) succeeds without an event.
  Result<void> apply(const LedgerEdit& edit, std::int64_t nowMs = 0);
  // Dry run: would apply() accept it?
  Result<void> check(const LedgerEdit& edit) const;

 private:
  explicit Ledger(LedgerState st, std::size_t cap);
  void rebuildIndex();
  Result<void> applyImpl(const LedgerEdit& edit, std::string& detail);
  Result<void> doSend(VmEntry& v, const CpuSet& target, std::uint64_t gen, const char* what);
  Result<void> doComplete(VmEntry& v, std::uint64_t gen, bool grants, bool revokes,
                          std::string& detail);
  Result<void> checkNodeMemory(unsigned node) const;
  // Sets one size (`field`: requested or current) of the virtio-mem device on a guest node, checks
  // its host node, undoes on refusal. `key` names it in the event detail, `verb` in the error.
  Result<void> setDeviceBytes(VmEntry& v, unsigned guestNode, std::uint64_t bytes,
                              std::uint64_t NodeMemory::*field, const char* key, const char* verb,
                              std::string& detail);
  Result<CpuSet> pickFloor(const VmSpec& spec, unsigned count, const CpuSet& base,
                           const CpuSet& preferHeld) const;

  LedgerState st_;
  std::vector<VmId> holder_;   // index by position in host.pcpus: holder uuid or empty
  std::vector<VmId> floorOf_;  // index by position: floor owner or empty
  std::deque<LedgerEvent> events_;
  std::size_t eventCapacity_ = kDefaultEventCapacity;
};

}  // namespace vnuma::broker
