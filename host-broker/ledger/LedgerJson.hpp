#pragma once
// JSON forms of the ledger for the admin API (GET /v1/ledger, GET /v1/events) and for state/.
// Text in, text out, so callers need no JSON library in their headers.
//
// GET /v1/ledger:
//  {"host":{...hostToJson...},
//   "pcpus":[{"id":0,"node":0,"state":"granted","vm":"<uuid>","vm_name":"web1","floor":true,
//             "generation":3,"enforced":false}],
//   "nodes":[{"id":0,"capacity_bytes":N,"reserve_bytes":N,"accounted_bytes":N,"free_bytes":N}],
//   "vms":[{"uuid":..,"name":..,"floor":1,"ceiling":4,"weight":1.0,"floor_pcpus":"0",
//           "granting":"","granted":"0-1","revoking":"","enforced":"","last_generation":3,
//           "acked_generation":3,"memory":[{"node":0,"boot_bytes":..,"requested_bytes":..,
//           "current_bytes":..}]}],
//   "last_seq":42}
// GET /v1/events?since=N: {"events":[{"seq":..,"at_ms":..,"kind":..,"vm":..,"vm_name":..,
//   "detail":..}],"last_seq":N,"first_retained_seq":N}
// Thread-safety: pure functions.

#include <string>
#include <string_view>
#include <vector>

#include "common/core/Result.hpp"
#include "host-broker/ledger/Ledger.hpp"

namespace vnuma::broker {

std::string hostToJson(const HostModel& host);
std::string vmEntryToJson(const VmEntry& vm);  // one element of "vms" above
std::string ledgerToJson(const Ledger& ledger);
std::string eventsToJson(const std::vector<LedgerEvent>& events, std::uint64_t lastSeq,
                         std::uint64_t firstRetainedSeq);

// The complete state (host, VMs with specs, holds with generations, memory, last_seq): what
// state/ persists. stateFromJson checks shape and types only ("state: vms[2].holds: expected
// an array"); Ledger::fromState checks the invariants.
std::string stateToJson(const LedgerState& state);
Result<LedgerState> stateFromJson(std::string_view text);

}  // namespace vnuma::broker
