// The engine as the admin API's backend: read views copied out of the ledger, sessions and
// libvirt inventory, and the admin commands (PATCH a VM, rebalance, replace the policy).
#include <cmath>

#include "common/core/Version.hpp"
#include "host-broker/engine/Engine.hpp"
#include "host-broker/engine/Inventory.hpp"

namespace vnuma::broker {
namespace {

api::NodeView nodeView(const HostNode& n, const NodeMemoryView& m) {
  api::NodeView v;
  v.id = n.id;
  v.cpus = n.cpus;
  v.memTotalKb = n.memBytes / 1024;
  v.memReserveKb = n.memReserveBytes / 1024;
  v.memCommittedKb = (m.accountedBytes + m.reserveBytes) / 1024;
  v.distances = n.distances;
  return v;
}

}  // namespace

api::HealthView Engine::health() const {
  api::HealthView h;
  h.status = hypervisorUp_ ? "ok" : "degraded";
  h.version = kVersion;
  h.epoch = epoch_;
  h.uptimeMs = nowMs() - startMs_;
  h.libvirtConnected = hypervisorUp_;
  h.agentsConnected = liveAgents();
  h.vmsManaged = static_cast<unsigned>(ledger_->vms().size());
  h.policy = params_.name;
  return h;
}

api::HostView Engine::host() const {
  api::HostView h;
  const HostModel& host = ledger_->host();
  h.hostname = hostname_;
  h.libvirtUri = hv_.uri();
  h.pcpus = host.allPcpus();
  h.reserved = host.reserved;
  h.free = ledger_->freePcpus();
  for (const auto& n : host.nodes) h.nodes.push_back(nodeView(n, ledger_->nodeMemory(n.id)));
  return h;
}

std::vector<api::VmView> Engine::vms() const {
  std::vector<api::VmView> out;
  const std::int64_t now = nowMs();
  auto fromEntry = [&](const VmEntry& e, api::VmView& v) {
    v.managed = true;
    v.floor = e.spec.floor;
    v.ceiling = e.spec.effectiveCeiling();
    v.weight = e.spec.weight;
    v.held = e.inState(HoldState::kGranted);
    v.granting = e.inState(HoldState::kGranting);
    v.revoking = e.inState(HoldState::kRevoking);
    v.floorPcpus = e.floorPcpus;
    v.enforced = e.enforced;
    v.generation = e.lastGeneration;
    v.ackedGeneration = e.ackedGeneration;
    auto s = settingsSource_.find(e.spec.uuid);
    v.settingsSource = s == settingsSource_.end() ? "state" : s->second;
    v.agentConnected =
        live(e.spec.uuid, nowMs());  // a session whose agent spoke within lease + grace
    if (auto seen = agents_->lastSeen(e.spec.uuid)) v.lastSeenMsAgo = now - *seen;
    auto plan = lastPlan_.targets.find(e.spec.uuid);
    if (plan != lastPlan_.targets.end()) v.demand = plan->second.demand;
    for (const auto& [node, mem] : e.memory) {
      api::VmMemoryView m;
      m.hostNode = mem.hostNode;
      m.guestNode = static_cast<int>(node);
      m.bootKb = mem.bootBytes / 1024;
      m.requestedKb = mem.requestedBytes / 1024;
      m.currentKb = mem.currentBytes / 1024;
      if (const VirtioMemDevice* d = e.spec.virtioMemOfGuestNode(node)) {
        m.alias = d->alias;
        m.blockKb = d->blockBytes / 1024;
      }
      v.memory.push_back(m);
    }
  };
  for (const auto& [uuid, info] : vmInfo_) {
    api::VmView v;
    v.uuid = uuid;
    v.name = info.name;
    v.state = info.active ? "running" : "shut off";
    v.vcpus = info.vcpus;
    if (info.settings) {
      v.floor = info.settings->floor;
      v.ceiling = info.settings->ceiling;
      v.weight = info.settings->weight / 100.0;
    }
    v.notes = info.mismatches;
    if (info.managed && !info.mirror && info.mismatches.empty())
      v.notes.push_back("guest NUMA nodes do not mirror host nodes");
    if (const VmEntry* e = ledger_->vm(uuid)) {
      fromEntry(*e, v);
    } else {
      v.managed = false;
      auto err = addError_.find(uuid);
      if (err != addError_.end())
        v.unmanagedReason = err->second;
      else if (!info.managed)
        v.unmanagedReason = info.unmanagedReason;
      else
        v.unmanagedReason = "not running";
    }
    out.push_back(std::move(v));
  }
  // Ledger VMs libvirt did not list (yet): still shown, they hold pCPUs.
  for (const auto& [uuid, e] : ledger_->vms()) {
    if (vmInfo_.count(uuid)) continue;
    api::VmView v;
    v.uuid = uuid;
    v.name = e.spec.name;
    v.state = "unknown";
    v.vcpus = static_cast<unsigned>(e.spec.pins.size());
    fromEntry(e, v);
    out.push_back(std::move(v));
  }
  return out;
}

api::LedgerView Engine::ledger() const {
  api::LedgerView l;
  l.version = ledger_->lastSeq();
  for (const auto& p : ledger_->pcpus()) {
    api::PcpuView v;
    v.id = p.id;
    v.node = static_cast<int>(p.node);
    v.state = pcpuStateName(p.state);
    v.ownerUuid = p.holder;
    if (const VmEntry* e = p.holder.empty() ? nullptr : ledger_->vm(p.holder))
      v.ownerName = e->spec.name;
    v.floor = !p.floorOf.empty();
    v.enforced = p.enforced;
    l.pcpus.push_back(std::move(v));
  }
  for (const auto& n : ledger_->host().nodes)
    l.nodes.push_back(nodeView(n, ledger_->nodeMemory(n.id)));
  return l;
}

api::PolicyView Engine::policy() const {
  return api::PolicyView{params_.name, policyFile_, policyText_, policyNames()};
}

std::vector<api::EventView> Engine::eventsSince(std::uint64_t since, std::size_t max) const {
  std::vector<api::EventView> out;
  for (const auto& e : ledger_->eventsSince(since, max)) {
    std::string detail = e.vmName.empty() ? e.detail : e.vmName + ": " + e.detail;
    out.push_back(api::EventView{e.seq, e.atMs, e.kind, e.vm, std::move(detail)});
  }
  return out;
}

std::vector<api::MetricSample> Engine::metrics() const {
  std::vector<api::MetricSample> m;
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    m.push_back(api::MetricSample{name, help, "counter", {}, static_cast<double>(v)});
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    m.push_back(api::MetricSample{name, help, "gauge", {}, v});
  };
  const auto rs = agents_->stats();
  counter("vnuma_broker_agent_hellos_total", "Hello messages accepted.", counters_.hellos);
  counter("vnuma_broker_agent_reports_total", "Report messages accepted.", counters_.reports);
  counter("vnuma_broker_agent_acks_total", "Ack messages accepted.", counters_.acks);
  counter("vnuma_broker_agent_acks_refused_total",
          "Acks that refused or did not match their grant.", counters_.acksRefused);
  counter("vnuma_broker_grants_sent_total", "Grant messages sent.", counters_.grantsSent);
  counter("vnuma_broker_agent_malformed_total", "Agent frames that could not be decoded.",
          rs.malformed);
  counter("vnuma_broker_agent_unauthorized_total", "Hellos claiming another VM than their key.",
          rs.unauthorized);
  counter("vnuma_broker_agent_refused_keys_total", "CURVE handshakes refused (unknown key).",
          rs.refusedKeys);
  counter("vnuma_broker_agent_no_session_total", "Agent messages outside a live session.",
          rs.noSession);
  counter("vnuma_broker_enforced_revokes_total",
          "pCPUs freed by host-side enforcement after an ack timeout.", counters_.enforcements);
  counter("vnuma_broker_enforce_failures_total", "Host weight writes that failed (retried).",
          counters_.enforceFailures);
  counter("vnuma_broker_lease_renewals_total",
          "Grants re-sent unchanged to renew an agent's lease.", counters_.leaseRenewals);
  counter("vnuma_broker_lease_expiries_total",
          "Agents that lost their non-floor pCPUs to a lease expiry.", counters_.leaseExpiries);
  counter("vnuma_broker_policy_ticks_total", "Policy decisions.", counters_.policyTicks);
  counter("vnuma_broker_admin_requests_total", "Admin API requests.", counters_.adminRequests);
  counter("vnuma_broker_state_saves_total", "State file writes.", counters_.stateSaves);
  counter("vnuma_broker_state_save_failures_total", "State file writes that failed.",
          counters_.stateSaveFailures);
  counter("vnuma_broker_hypervisor_errors_total", "libvirt calls that failed.",
          counters_.hypervisorErrors);
  counter("vnuma_broker_slow_rounds_total",
          "Engine rounds over 500 ms (everything else waited; logged with their breakdown).",
          counters_.slowRounds);
  gauge("vnuma_broker_agents_connected", "Agents with a session that spoke within lease + grace.",
        static_cast<double>(liveAgents()));
  gauge("vnuma_broker_vms_managed", "VMs in the ledger.",
        static_cast<double>(ledger_->vms().size()));
  gauge("vnuma_broker_up", "1 while the broker runs; libvirt connectivity in the health endpoint.",
        1);

  std::map<std::string, double> byState;
  for (const char* s : {"free", "reserved", "granting", "granted", "revoking"}) byState[s] = 0;
  for (const auto& p : ledger_->pcpus()) byState[pcpuStateName(p.state)] += 1;
  for (const auto& [state, n] : byState)
    m.push_back(api::MetricSample{
        "vnuma_broker_pcpus", "pCPUs by ledger state.", "gauge", {{"state", state}}, n});
  for (const auto& [uuid, e] : ledger_->vms()) {
    m.push_back(api::MetricSample{"vnuma_vm_pcpus_held",
                                  "pCPUs held by a VM (granting, granted, revoking).",
                                  "gauge",
                                  {{"vm", e.spec.name}},
                                  static_cast<double>(e.held().count())});
  }
  for (const auto& n : ledger_->nodeMemories()) {
    m.push_back(
        api::MetricSample{"vnuma_node_memory_accounted_bytes",
                          "VM memory accounted on a host node (boot + max(requested, current)).",
                          "gauge",
                          {{"node", std::to_string(n.node)}},
                          static_cast<double>(n.accountedBytes)});
  }
  return m;
}

Result<api::VmView> Engine::updateVm(const std::string& uuid, const api::VmSettingsPatch& patch) {
  const VmEntry* e = ledger_->vm(uuid);
  if (!e) return Error(Errc::kNotFound, "no such VM: '" + uuid + "'");
  UpdateLimits u{uuid, patch.floor.value_or(e->spec.floor), patch.ceiling.value_or(e->spec.ceiling),
                 patch.weight.value_or(e->spec.weight)};
  if (auto r = apply(u); !r) return std::move(r).error();
  settingsSource_[uuid] = "api";
  // Kept in the domain's vnuma metadata too, so the setting survives a broker restart.
  sys::VnumaSettings s;
  s.optedIn = true;
  s.floor = u.floor;
  s.ceiling = u.ceiling;
  s.weight = static_cast<unsigned>(std::lround(std::max(1.0, u.weight * 100.0)));
  if (auto r = hv_.setSettings(uuid, s); !r) {
    ++counters_.hypervisorErrors;
    log_->warn("vm settings not written to libvirt metadata vm={} error={}", e->spec.name,
               r.error().describe());
  }
  log_->info("vm limits changed by admin vm={} floor={} ceiling={} weight={}", e->spec.name,
             u.floor, u.ceiling, u.weight);
  lastPlan_ = decide();
  advance();
  nextTickMs_ = nowMs() + params_.tickMs;
  for (auto& v : vms()) {
    if (v.uuid == uuid) return v;
  }
  return Error(Errc::kInternal, "vm " + uuid + " vanished while being updated");
}

Result<api::RebalanceResult> Engine::rebalance() {
  lastPlan_ = decide();
  const unsigned moved = advance();
  nextTickMs_ = nowMs() + params_.tickMs;
  api::RebalanceResult r;
  r.moves = moved;
  r.summary = "policy " + params_.name + ": " + std::to_string(lastPlan_.targets.size()) +
              " VM targets, " + std::to_string(moved) + " pCPU changes started";
  return r;
}

Result<api::PolicyView> Engine::setPolicy(const std::string& name, const std::string& text) {
  PolicyParams params;
  if (!text.empty()) {
    auto parsed = parsePolicyToml(text, "PUT /v1/policy", params_.name);  // no name: keep it
    if (!parsed) return Error(Errc::kInvalidArgument, parsed.error().describe());
    params = std::move(parsed).value();
  } else {
    params = params_;
  }
  if (!name.empty()) params.name = name;
  if (auto v = params.validate(); !v) return Error(Errc::kInvalidArgument, v.error().describe());
  auto made = makePolicy(params.name);
  if (!made) return Error(Errc::kInvalidArgument, made.error().describe());
  policy_ = std::move(made).value();
  params_ = params;
  policyText_ = paramsToToml(params_);
  policyFile_ = "(set through the admin API; lasts until restart)";
  log_->info("policy replaced by admin name={}", params_.name);
  nextTickMs_ = nowMs();
  return policy();
}

}  // namespace vnuma::broker
