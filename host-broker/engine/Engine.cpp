#include "host-broker/engine/Engine.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <random>

#include "common/core/Version.hpp"
#include "host-broker/engine/Inventory.hpp"
#include "host-broker/ledger/PlanExecutor.hpp"

namespace vnuma::broker {
namespace {

constexpr std::chrono::milliseconds kMaxLoopWait{25};
// A round (after the wait) longer than this is logged and counted as slow.
constexpr std::chrono::milliseconds kSlowRound{500};

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool sameHost(const HostModel& a, const HostModel& b, std::string& why) {
  if (!(a.allPcpus() == b.allPcpus())) {
    why = "pCPUs " + a.allPcpus().toList() + " then, " + b.allPcpus().toList() + " now";
    return false;
  }
  if (!(a.reserved == b.reserved)) {
    why = "reserved pCPUs '" + a.reserved.toList() + "' then, '" + b.reserved.toList() + "' now";
    return false;
  }
  if (a.nodes.size() != b.nodes.size()) {
    why =
        std::to_string(a.nodes.size()) + " nodes then, " + std::to_string(b.nodes.size()) + " now";
    return false;
  }
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    if (a.nodes[i].id != b.nodes[i].id || a.nodes[i].memBytes != b.nodes[i].memBytes ||
        a.nodes[i].memReserveBytes != b.nodes[i].memReserveBytes ||
        !(a.nodes[i].cpus == b.nodes[i].cpus)) {
      why = "node " + std::to_string(b.nodes[i].id) + " differs (cpus, memory or memory reserve)";
      return false;
    }
  }
  return true;
}

}  // namespace

Engine::Engine(EngineOptions opts, sys::Hypervisor& hv, VcpuEnforcer& enforcer)
    : opts_(std::move(opts)),
      hv_(hv),
      enforcer_(enforcer),
      log_(opts_.log.engine),
      store_(opts_.config.stateDir) {}

Engine::~Engine() = default;

std::int64_t Engine::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t Engine::wallMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<Engine>> Engine::start(EngineOptions opts, sys::Hypervisor& hv,
                                              VcpuEnforcer& enforcer) {
  std::unique_ptr<Engine> e(new Engine(std::move(opts), hv, enforcer));
  if (auto r = e->init(); !r) return std::move(r).error();
  return e;
}

Result<void> Engine::init() {
  const BrokerConfig& cfg = opts_.config;
  startMs_ = nowMs();
  epoch_ = static_cast<std::uint64_t>(wallMs());

  auto info = hv_.hostInfo();
  if (!info)
    return std::move(info).error().context("reading the host from libvirt at " + hv_.uri());
  for (const auto& m : info->mismatches) log_->warn("libvirt and sysfs disagree: {}", m);
  auto host = hostModelFromInfo(*info, cfg.reservedCpus, cfg.memoryReserveMb * kMiB);
  if (!host) return std::move(host).error();
  hostname_ = info->hostname;

  params_ = cfg.policy;
  policyFile_ = cfg.policyFile;
  auto policy = makePolicy(params_.name);
  if (!policy)
    return Error(Errc::kInvalidArgument, policy.error().describe()).context("policy.name");
  policy_ = std::move(policy).value();
  policyText_ = paramsToToml(params_);

  auto loaded = store_.load();
  if (loaded) {
    std::string why;
    if (!sameHost(loaded->host(), *host, why)) {
      return Error(Errc::kConflict,
                   "state file " + store_.path() + " was written for a different host (" + why +
                       "); if the hardware or host.reserved_cpus / host.memory_reserve_mb changed "
                       "on purpose, move the file aside to start fresh (agents re-learn their "
                       "grants when they reconnect)");
    }
    ledger_.emplace(std::move(loaded).value());
    log_->info("state restored path={} vms={} last_seq={}", store_.path(), ledger_->vms().size(),
               ledger_->lastSeq());
  } else if (loaded.error().code() == Errc::kNotFound) {
    auto fresh = Ledger::create(std::move(host).value());
    if (!fresh) return std::move(fresh).error().context("creating the ledger");
    ledger_.emplace(std::move(fresh).value());
    log_->info("no state file at {}: starting with an empty ledger", store_.path());
    saveDue_ = true;
  } else {
    return std::move(loaded).error().context("refusing to start");
  }
  // Every restored revoke gets a fresh ack timeout; every VM a fresh lease to reconnect.
  for (const auto& [uuid, entry] : ledger_->vms()) {
    if (!entry.inState(HoldState::kRevoking).empty()) revokeSinceMs_[uuid] = startMs_;
  }

  if (auto r = reconcileWithHypervisor(); !r)
    return std::move(r).error().context("reconciling with libvirt");
  if (auto r = saveState(); !r) return std::move(r).error().context("saving the state");
  if (auto r = bindSockets(); !r) return r;
  router_ = std::make_unique<api::Router>(*this);
  nextTickMs_ = nowMs();
  log_->info("engine started epoch={} host={} agent_endpoint={} admin_endpoint={} policy={}",
             epoch_, describeHost(ledger_->host()), agentEndpoint(), adminEndpoint(), params_.name);
  return okResult();
}

Result<void> Engine::bindSockets() {
  const BrokerConfig& cfg = opts_.config;
  auto waker = transport::Waker::create();
  if (!waker) return std::move(waker).error().context("creating the stop waker");
  waker_ = std::move(waker).value();

  rpc::AgentServerOptions ao;
  ao.endpoint = cfg.agentEndpoint;
  ao.brokerSecretKey = opts_.brokerKeys.secretKey;
  ao.epoch = epoch_;
  ao.log = opts_.log.rpc;
  auto agents = rpc::AgentServer::bind(std::move(ao), std::move(opts_.agentKeys));
  if (!agents) return std::move(agents).error();
  agents_ = std::move(agents).value();

  const std::string sockPath = ipcPath(cfg.adminEndpoint);
  if (!sockPath.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(sockPath).parent_path(), ec);
    if (ec)
      return Error(Errc::kSystem, "creating the directory of " + sockPath + ": " + ec.message());
  }
  transport::ServerOptions so;
  so.endpoint = cfg.adminEndpoint;
  so.maxMessageBytes = transport::kMaxAdminMessageBytes;
  so.ipcFileMode = cfg.adminSocketMode;
  auto admin = transport::Server::bind(std::move(so));
  if (!admin)
    return std::move(admin).error().context("binding the admin endpoint " + cfg.adminEndpoint);
  admin_ = std::move(admin).value();

  if (!cfg.adminTcpEndpoint.empty()) {
    transport::ServerOptions to;
    to.endpoint = cfg.adminTcpEndpoint;
    to.maxMessageBytes = transport::kMaxAdminMessageBytes;
    to.curveSecretKey = opts_.brokerKeys.secretKey;
    auto allowed = opts_.adminClientKeys;
    to.authorize = [allowed](const std::string& key) {
      return std::find(allowed.begin(), allowed.end(), key) != allowed.end();
    };
    auto tcp = transport::Server::bind(std::move(to));
    if (!tcp)
      return std::move(tcp).error().context("binding the admin TCP endpoint " +
                                            cfg.adminTcpEndpoint);
    adminTcp_ = std::move(tcp).value();
  }

  idxAgents_ = poller_.add(agents_->socket());
  idxAdmin_ = poller_.add(*admin_);
  if (adminTcp_) idxAdminTcp_ = poller_.add(*adminTcp_);
  if (hv_.eventFd() >= 0) idxHv_ = poller_.addFd(hv_.eventFd());
  if (opts_.signalFd >= 0) idxSignal_ = poller_.addFd(opts_.signalFd);
  idxWaker_ = poller_.addFd(waker_->fd());
  return okResult();
}

// ---- ledger write path ----------------------------------------------------------------------

Result<void> Engine::apply(const LedgerEdit& edit) {
  auto r = ledger_->apply(edit, wallMs());
  if (!r) {
    log_->warn("ledger refused edit kind={} vm={} error={}", editKind(edit), editVm(edit),
               r.error().describe());
    return r;
  }
  saveDue_ = true;
  return okResult();
}

Result<void> Engine::saveState() {
  if (!saveDue_) return okResult();
  auto r = store_.save(*ledger_);
  if (!r) {
    ++counters_.stateSaveFailures;
    log_->error("saving the state failed (grants are held back until it works): {}",
                r.error().describe());
    return r;
  }
  ++counters_.stateSaves;
  saveDue_ = false;
  return okResult();
}

void Engine::flushGrants() {
  // Weights first: a VM granted a pCPU whose revoke was enforced gets its weight back before
  // the grant goes out.
  reconcileWeights();
  if (pendingSend_.empty()) return;
  if (!saveState()) return;  // never send what a restart could forget
  auto vms = std::move(pendingSend_);
  pendingSend_.clear();
  for (const auto& vm : vms) sendGrantMessage(vm);
}

// ---- inventory ------------------------------------------------------------------------------

Result<void> Engine::reconcileWithHypervisor() {
  auto list = hv_.listVms();
  if (!list) {
    ++counters_.hypervisorErrors;
    hypervisorUp_ = false;
    return std::move(list).error();
  }
  hypervisorUp_ = true;
  vmInfo_.clear();
  std::map<VmId, const sys::VmInfo*> managed;
  for (const auto& info : *list) {
    auto spec = specFromVmInfo(info, ledger_->host());
    vmInfo_[spec.uuid] = info;
    if (info.managed && info.active) managed[spec.uuid] = &vmInfo_[spec.uuid];
  }
  std::vector<VmId> gone;
  for (const auto& [uuid, entry] : ledger_->vms()) {
    if (!managed.count(uuid)) gone.push_back(uuid);
  }
  for (const auto& uuid : gone) removeVm(uuid, "not a running managed VM in libvirt any more");
  for (const auto& [uuid, info] : managed) addOrUpdateVm(*info);
  return okResult();
}

void Engine::addOrUpdateVm(const sys::VmInfo& info) {
  VmSpec spec = specFromVmInfo(info, ledger_->host());
  vmInfo_[spec.uuid] = info;
  if (const VmEntry* existing = ledger_->vm(spec.uuid)) {
    if (!samePlacement(existing->spec, spec)) {
      removeVm(spec.uuid, "its vCPU pins or node mapping changed in libvirt");
    } else {
      const auto src = settingsSource_.find(spec.uuid);  // absent: restored from the state file
      if ((src == settingsSource_.end() || src->second != "api") &&
          (existing->spec.floor != spec.floor || existing->spec.ceiling != spec.ceiling ||
           existing->spec.weight != spec.weight)) {
        (void)apply(UpdateLimits{spec.uuid, spec.floor, spec.ceiling, spec.weight});
      }
      observeCurrent(*existing, spec);
      return;
    }
  }
  if (auto v = spec.validate(); !v) {
    addError_[spec.uuid] = v.error().describe();
    log_->warn("vm not managed: invalid spec vm={} error={}", spec.name, v.error().describe());
    return;
  }
  const std::string uuid = spec.uuid, name = spec.name;
  auto r = apply(AddVm{std::move(spec), {}});
  if (!r) {
    addError_[uuid] = "the ledger refused it: " + r.error().describe();
    return;
  }
  addError_.erase(uuid);
  settingsSource_[uuid] = info.settings ? "metadata" : "default";
  log_->info("vm managed vm={} uuid={} floor_pcpus={}", name, uuid,
             ledger_->vm(uuid)->floorPcpus.toList());
}

void Engine::removeVm(const std::string& uuid, const std::string& why) {
  const VmEntry* e = ledger_->vm(uuid);
  if (!e) return;
  const std::string name = e->spec.name;
  if (!apply(RemoveVm{uuid})) return;
  log_->info("vm no longer managed vm={} uuid={} why={}", name, uuid, why);
  enforcer_.forgetVm(name);
  lowered_.erase(uuid);
  policy_->forget(uuid);
  if (agents_) agents_->dropSession(uuid);
  reports_.erase(uuid);
  revokeSinceMs_.erase(uuid);
  pinnedHelpers_.erase(uuid);
  lastGrantSentMs_.erase(uuid);
  settingsSource_.erase(uuid);
  pendingSend_.erase(uuid);
}

// ---- the loop -------------------------------------------------------------------------------

Result<void> Engine::run() {
  log_->info("ready");
  while (!stop_) {
    if (auto r = runOnce(std::chrono::milliseconds(200)); !r) {
      log_->error("engine loop: {}", r.error().describe());
      return r;
    }
  }
  (void)saveState();
  log_->info("stopped");
  return okResult();
}

void Engine::requestStop() noexcept {
  if (waker_) waker_->wake();
}

Result<void> Engine::runOnce(std::chrono::milliseconds maxWait) {
  const std::int64_t now = nowMs();
  auto wait = std::min({maxWait, kMaxLoopWait,
                        std::chrono::milliseconds(std::max<std::int64_t>(0, nextTickMs_ - now))});
  auto ready = poller_.wait(wait);
  if (!ready) return std::move(ready).error().context("waiting for events");
  for (std::size_t idx : *ready) {
    if (idx == idxHv_) {
      onHypervisorEvents();
    } else if (idx == idxSignal_) {
      onSignal();
    } else if (idx == idxWaker_) {
      waker_->drain();
      stop_ = true;
    }
  }
  // Sockets are drained every round (cheap, non-blocking) so no readiness edge is ever lost.
  const std::int64_t t0 = nowMs();
  onAgentMessages();
  const std::int64_t t1 = nowMs();
  onAdmin(*admin_);
  if (adminTcp_) onAdmin(*adminTcp_);
  const std::int64_t t2 = nowMs();
  tick();
  const std::int64_t t3 = nowMs();
  flushGrants();
  (void)saveState();
  const std::int64_t t4 = nowMs();
  // Everything the broker does waits while a round runs (renewals, acks, admin answers): a slow
  // one is counted and logged with where its time went (libvirt calls log their own).
  if (t4 - t0 >= kSlowRound.count()) {
    ++counters_.slowRounds;
    log_->warn("slow engine round ms={} agents_ms={} admin_ms={} tick_ms={} flush_save_ms={}",
               t4 - t0, t1 - t0, t2 - t1, t3 - t2, t4 - t3);
  }
  return okResult();
}

void Engine::onSignal() {
  signalfd_siginfo si{};
  while (::read(opts_.signalFd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGHUP) {
      auto keys = rpc::AgentKeyRing::load(opts_.config.agentKeyDir);
      if (!keys) {
        log_->error("SIGHUP: agent keys not reloaded: {}", keys.error().describe());
      } else {
        log_->info("SIGHUP: agent keys reloaded count={}", keys->size());
        agents_->setKeys(std::move(keys).value());
      }
    } else {
      log_->info("signal {} received: stopping", si.ssi_signo);
      stop_ = true;
    }
  }
}

void Engine::onHypervisorEvents() {
  for (const auto& ev : hv_.drainEvents()) {
    log_->info("libvirt event kind={} vm={} uuid={}", sys::vmEventKindName(ev.kind), ev.name,
               ev.uuid);
    switch (ev.kind) {
      case sys::VmEventKind::kConnectionLost:
        hypervisorUp_ = false;
        break;
      case sys::VmEventKind::kReconnected:
        if (auto r = reconcileWithHypervisor(); !r)
          log_->error("relisting after reconnect: {}", r.error().describe());
        break;
      case sys::VmEventKind::kStopped:
      case sys::VmEventKind::kUndefined: {
        std::string uuid = ev.uuid;
        std::transform(uuid.begin(), uuid.end(), uuid.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        removeVm(uuid, std::string("libvirt: ") + sys::vmEventKindName(ev.kind));
        if (ev.kind == sys::VmEventKind::kUndefined)
          vmInfo_.erase(uuid);
        else if (auto info = hv_.vm(ev.uuid); info)
          vmInfo_[uuid] = *info;
        break;
      }
      default: {
        auto info = hv_.vm(ev.uuid.empty() ? ev.name : ev.uuid);
        if (!info) {
          ++counters_.hypervisorErrors;
          log_->warn("reading vm after event failed vm={} error={}", ev.name,
                     info.error().describe());
          break;
        }
        if (info->managed && info->active)
          addOrUpdateVm(*info);
        else {
          VmSpec s = specFromVmInfo(*info, ledger_->host());
          removeVm(s.uuid,
                   info->active ? "no longer managed: " + info->unmanagedReason : "not running");
          vmInfo_[s.uuid] = *info;
        }
        break;
      }
    }
  }
  nextTickMs_ = nowMs();
}

void Engine::onAgentMessages() {
  const std::int64_t now = nowMs();
  for (auto& msg : agents_->drain(now)) {
    const auto& env = msg.envelope;
    if (env.has_hello())
      onHello(msg.vm, env);
    else if (env.has_report())
      onReport(msg.vm, env.report());
    else if (env.has_ack())
      onAck(msg.vm, env.ack());
    else if (env.has_error())
      log_->warn("agent reported an error vm={} code={} message={}", msg.vm,
                 proto::Error::Code_Name(env.error().code()), env.error().message());
  }
}

void Engine::onHello(const std::string& vm, const proto::Envelope& env) {
  ++counters_.hellos;
  const auto& hello = env.hello();
  if (!ledger_->vm(vm)) {
    // A lifecycle event may still be on its way: look once more before refusing.
    if (auto info = hv_.vm(vm); info && info->managed && info->active) addOrUpdateVm(*info);
  }
  const VmEntry* entry = ledger_->vm(vm);
  if (!entry) {
    log_->warn("agent hello for a VM that is not managed here vm={}", vm);
    (void)agents_->sendError(
        vm, proto::Error::UNKNOWN_VM,
        "vm " + vm + " is not a running managed VM on this host (see: vnumactl vm show " + vm + ")",
        env.seq());
    agents_->dropSession(vm);
    return;
  }
  log_->info(
      "agent connected vm={} session={} agent_version={} applied_generation={} applied_vcpus={}",
      entry->spec.name, agents_->sessionId(vm), hello.agent_version(), hello.applied_generation(),
      hello.applied_vcpus_size());
  proto::Welcome w;
  for (auto v : vcpusOfPcpus(entry->spec, entry->floorPcpus)) w.add_floor_vcpus(v);
  w.set_lease_ms(opts_.config.leaseMs);
  w.set_report_period_ms(opts_.config.reportPeriodMs);
  w.set_broker_epoch(epoch_);
  if (auto r = agents_->sendWelcome(vm, w); !r)
    log_->warn("welcome not sent vm={} error={}", vm, r.error().describe());

  const CpuSet current = entry->grantTarget();
  const CpuSet target = current | (entry->floorPcpus & (entry->held() | ledger_->availableFor(vm)));
  if (target.empty()) {
    log_->warn("no pCPU can be granted to vm={} (its floor pCPUs are not available)",
               entry->spec.name);
  } else if (target == current && entry->lastGeneration > 0 &&
             hello.applied_generation() <= entry->lastGeneration) {
    sendGrantMessage(vm);  // same generation again: the agent re-acks without change
  } else {
    if (auto r = sendGrantTarget(vm, target, hello.applied_generation() + 1); !r)
      log_->warn("initial grant failed vm={} error={}", vm, r.error().describe());
  }
  nextTickMs_ = nowMs();  // give the newcomer its share soon
}

void Engine::onReport(const std::string& vm, const proto::Report& r) {
  ++counters_.reports;
  const VmEntry* entry = ledger_->vm(vm);
  if (!entry) return;
  VmReport rep;
  rep.atMs = wallMs();
  rep.appliedGeneration = r.applied_generation();
  rep.appliedPcpus =
      pcpusOfVcpus(entry->spec, {r.applied_vcpus().begin(), r.applied_vcpus().end()});
  for (const auto& c : r.cpus()) rep.vcpuBusy[c.vcpu()] = c.busy();
  rep.runnable = r.runnable();
  rep.cpuPressureSome = r.cpu_pressure().some_avg10();
  rep.memPressureSome = r.memory_pressure().some_avg10();
  // Guest node ids as the agent sent them; nodes libvirt does not know for this VM are dropped.
  for (const auto& n : r.nodes()) {
    if (!entry->spec.hostNodeOf(n.id())) continue;
    NodeMemReport& m = rep.memByGuestNode[n.id()];
    m.totalBytes = n.mem_total_kb() * 1024;
    m.freeBytes = n.mem_free_kb() * 1024;
    m.availableBytes = n.mem_available_kb() * 1024;
  }
  for (const auto& d : r.virtio_mem()) {
    if (entry->spec.hostNodeOf(d.node()))
      rep.memByGuestNode[d.node()].virtioPluggedBytes += d.plugged_kb() * 1024;
  }
  reports_[vm] = std::move(rep);
}

void Engine::onAck(const std::string& vm, const proto::Ack& a) {
  ++counters_.acks;
  const VmEntry* entry = ledger_->vm(vm);
  if (!entry) return;
  if (!a.ok()) {
    ++counters_.acksRefused;
    log_->warn("agent refused grant vm={} generation={} error={}", entry->spec.name, a.generation(),
               a.error());
    return;
  }
  if (a.generation() > entry->lastGeneration) {
    ++counters_.acksRefused;
    log_->warn("ack for a generation never sent vm={} generation={} last_sent={}", entry->spec.name,
               a.generation(), entry->lastGeneration);
    (void)agents_->sendError(
        vm, proto::Error::BAD_REQUEST,
        "ack for generation " + std::to_string(a.generation()) + " which was never sent", 0);
    return;
  }
  unsigned unknown = 0;
  const CpuSet applied =
      pcpusOfVcpus(entry->spec, {a.applied_vcpus().begin(), a.applied_vcpus().end()}, &unknown);
  if (a.generation() == entry->lastGeneration &&
      (unknown > 0 || !applied.isSubsetOf(entry->grantTarget()))) {
    ++counters_.acksRefused;
    log_->warn(
        "ack does not match the grant: revoke not complete vm={} generation={} applied={} "
        "granted={}",
        entry->spec.name, a.generation(), applied.toList(), entry->grantTarget().toList());
    return;
  }
  if (!apply(AckGeneration{vm, a.generation()})) return;
  noteRevokes(vm);
  repinHelpers(vm);
  advance();  // a freed pCPU goes to its next owner now, not at the next tick
}

void Engine::onAdmin(transport::Server& server) {
  while (true) {
    auto in = server.receive(std::chrono::milliseconds(0));
    if (!in) {
      opts_.log.api->error("admin receive failed: {}", in.error().describe());
      return;
    }
    if (!in->has_value()) return;
    ++counters_.adminRequests;
    std::string reply = router_->handleFrame((*in)->payload);
    if (auto s = server.send((*in)->peer, reply); !s)
      opts_.log.api->warn("admin reply not sent: {}", s.error().describe());
  }
}

// ---- timers, policy, handoff ----------------------------------------------------------------

bool Engine::live(const std::string& vm, std::int64_t now) const {
  if (!agents_->connected(vm)) return false;
  auto seen = agents_->lastSeen(vm);
  return seen &&
         now - *seen <= static_cast<std::int64_t>(opts_.config.leaseMs + opts_.config.graceMs);
}

unsigned Engine::liveAgents() const {
  const std::int64_t now = nowMs();
  unsigned n = 0;
  for (const auto& [vm, e] : ledger_->vms()) n += live(vm, now) ? 1 : 0;
  return n;
}

void Engine::tick() {
  const std::int64_t now = nowMs();
  checkAckTimeouts(now);
  checkLeases(now);
  renewLeases(now);
  if (now >= nextTickMs_) {
    lastPlan_ = decide();
    advance();
    observeMemory();
    nextTickMs_ = now + params_.tickMs;
  }
}

Plan Engine::decide() {
  ++counters_.policyTicks;
  PolicyInput in{*ledger_, reports_, params_, wallMs()};
  Plan plan = policy_->decide(in);
  const std::int64_t now = nowMs();
  for (auto& [vm, target] : plan.targets) {
    const VmEntry* e = ledger_->vm(vm);
    if (!e) continue;
    // Nobody to acknowledge a grant: such a VM may only lose pCPUs (to enforcement if need be).
    if (!live(vm, now)) target.pcpus &= e->held();
  }
  return plan;
}

unsigned Engine::advance() {
  PlanSteps steps = planSteps(*ledger_, lastPlan_);
  for (const auto& edit : steps.edits) {
    std::visit(Overloaded{
                   [&](const SendGrant& g) {
                     if (!ledger_->vm(g.vm) || !apply(g)) return;
                     pendingSend_.insert(g.vm);
                     noteRevokes(g.vm);
                   },
                   [&](const SetMemoryRequested& m) {
                     const VmEntry* e = ledger_->vm(m.vm);
                     if (!e) return;
                     const VirtioMemDevice* dev = e->spec.virtioMemOfGuestNode(m.node);
                     if (!dev || !ledger_->check(m)) return;
                     auto r = hv_.setMemoryRequested(
                         m.vm, sys::MemoryDeviceRef::byNode(dev->guestNode), m.bytes);
                     if (!r) {
                       ++counters_.hypervisorErrors;
                       log_->warn("virtio-mem resize failed vm={} guest_node={} bytes={} error={}",
                                  e->spec.name, m.node, m.bytes, r.error().describe());
                       return;
                     }
                     (void)apply(m);
                   },
                   [&](const auto& other) { (void)apply(other); },
               },
               edit);
  }
  flushGrants();
  return steps.revoked + steps.granted;
}

Result<void> Engine::sendGrantTarget(const std::string& vm, const CpuSet& target,
                                     std::uint64_t minGeneration) {
  const VmEntry* e = ledger_->vm(vm);
  if (!e) return Error(Errc::kNotFound, "unknown vm '" + vm + "'");
  const std::uint64_t gen = std::max(e->nextGeneration(), minGeneration);
  VNUMA_TRY_VOID(apply(SendGrant{vm, target, gen}));
  pendingSend_.insert(vm);
  flushGrants();
  noteRevokes(vm);
  return okResult();
}

void Engine::sendGrantMessage(const std::string& vm) {
  const VmEntry* e = ledger_->vm(vm);
  if (!e || !agents_->connected(vm) || e->lastGeneration == 0) return;
  proto::Grant g;
  g.set_generation(e->lastGeneration);
  for (auto v : vcpusOfPcpus(e->spec, e->grantTarget())) g.add_vcpus(v);
  if (g.vcpus_size() == 0) return;  // an empty grant is refused by agents; the floor comes first
  g.set_lease_ms(opts_.config.leaseMs);
  // A failed send counts as an attempt too: renewLeases retries after its period, not on every
  // loop round (a guest that went away without a word would otherwise be retried every 25 ms).
  lastGrantSentMs_[vm] = nowMs();
  if (auto r = agents_->sendGrant(vm, g); !r) {
    log_->warn("grant not sent vm={} generation={} error={}", e->spec.name, e->lastGeneration,
               r.error().describe());
    return;
  }
  ++counters_.grantsSent;
  log_->debug("grant sent vm={} generation={} pcpus={}", e->spec.name, e->lastGeneration,
              e->grantTarget().toList());
}

void Engine::renewLeases(std::int64_t now) {
  // The agent's lease runs from the broker's last message; a stable grant would otherwise let it
  // lapse. Re-sending the same generation is the protocol's renewal (the agent re-acks, no change).
  const auto every = static_cast<std::int64_t>(opts_.config.leaseMs / 3);
  for (const auto& [vm, e] : ledger_->vms()) {
    if (!live(vm, now) || e.lastGeneration == 0) continue;
    auto it = lastGrantSentMs_.find(vm);
    if (it != lastGrantSentMs_.end() && now - it->second < every) continue;
    ++counters_.leaseRenewals;
    sendGrantMessage(vm);
  }
}

void Engine::noteRevokes(const std::string& vm) {
  const VmEntry* e = ledger_->vm(vm);
  if (!e || e->inState(HoldState::kRevoking).empty()) {
    revokeSinceMs_.erase(vm);
    return;
  }
  revokeSinceMs_.emplace(vm, nowMs());
}

bool Engine::setWeights(const std::string& vm, const CpuSet& pcpus, bool low) {
  const VmEntry* e = ledger_->vm(vm);
  if (!e || pcpus.empty()) return true;
  CpuSet& lowered = lowered_[vm];
  bool allOk = true;
  CpuSet failed;
  for (const auto& [vcpu, p] : e->spec.pins) {
    if (!pcpus.contains(p)) continue;
    auto r = low ? enforcer_.lower(e->spec.name, vcpu) : enforcer_.restore(e->spec.name, vcpu);
    if (!r && r.error().code() != Errc::kNotFound) {  // kNotFound: no QEMU running, nothing to do
      ++counters_.enforceFailures;
      log_->error("host weight write failed, will retry vm={} vcpu={} lower={} error={}",
                  e->spec.name, vcpu, low, r.error().describe());
      failed.add(p);
      allOk = false;
    }
  }
  // A failed pCPU keeps its old recorded state, so the next reconcile retries it.
  if (low)
    lowered |= pcpus - failed;
  else
    lowered -= pcpus - failed;
  log_->debug("host weights {} vm={} pcpus={}", low ? "lowered" : "restored", e->spec.name,
              pcpus.toList());
  return allOk;
}

void Engine::reconcileWeights() {
  for (const auto& [vm, e] : ledger_->vms()) {
    const CpuSet& pinned = e.pinned;
    // Only enforced revokes (ack timeout, lease expiry) are lowered. Lowering every vCPU a VM
    // does not hold was measured and rejected: a well-behaved guest still sends IPIs to its
    // revoked (halted) vCPUs and waits for them, and at the lowest weight behind a busy owner
    // those waits grew to hundreds of ms (docs/architecture.md, "Host-side enforcement").
    const CpuSet want = e.enforced & pinned;
    auto it = lowered_.find(vm);
    if (it == lowered_.end()) {  // unknown (first sight since start): write every vCPU once
      lowered_[vm] = CpuSet();
      (void)setWeights(vm, want, true);
      (void)setWeights(vm, pinned - want, false);
      continue;
    }
    const CpuSet have = it->second;
    if (have == want) continue;
    (void)setWeights(vm, want - have, true);
    (void)setWeights(vm, have - want, false);
  }
}

void Engine::checkAckTimeouts(std::int64_t now) {
  std::vector<std::string> due;
  for (const auto& [vm, since] : revokeSinceMs_) {
    if (now - since >= static_cast<std::int64_t>(opts_.config.ackTimeoutMs)) due.push_back(vm);
  }
  bool changed = false;
  for (const auto& vm : due) {
    const VmEntry* e = ledger_->vm(vm);
    if (!e) {
      revokeSinceMs_.erase(vm);
      continue;
    }
    const CpuSet revoking = e->inState(HoldState::kRevoking);
    if (revoking.empty()) {
      revokeSinceMs_.erase(vm);
      continue;
    }
    if (!setWeights(vm, revoking, true)) continue;  // retried next round; the pCPUs stay held
    if (!apply(EnforceRevoke{vm, revoking})) continue;
    counters_.enforcements += revoking.count();
    log_->warn("revoke not acked in time: enforced host-side vm={} pcpus={} timeout_ms={}",
               e->spec.name, revoking.toList(), opts_.config.ackTimeoutMs);
    revokeSinceMs_.erase(vm);
    changed = true;
  }
  if (changed) advance();
}

void Engine::checkLeases(std::int64_t now) {
  const auto limit = static_cast<std::int64_t>(opts_.config.leaseMs + opts_.config.graceMs);
  std::vector<std::string> expired;
  for (const auto& [vm, entry] : ledger_->vms()) {
    const std::int64_t seen = agents_->lastSeen(vm).value_or(startMs_);
    if (now - seen > limit && !(entry.held() - entry.floorPcpus).empty()) expired.push_back(vm);
  }
  bool changed = false;
  for (const auto& vm : expired) {
    const VmEntry* e = ledger_->vm(vm);
    const CpuSet extra = e->held() - e->floorPcpus;
    if (!setWeights(vm, extra, true)) continue;
    if (!apply(LeaseExpired{vm})) continue;
    ++counters_.leaseExpiries;
    log_->warn("agent silent past its lease: non-floor pCPUs taken back vm={} pcpus={}",
               e->spec.name, extra.toList());
    revokeSinceMs_.erase(vm);
    changed = true;
  }
  if (changed) {
    lastPlan_ = decide();  // the old plan still counted the silent VM as live
    advance();
  }
}

void Engine::repinHelpers(const std::string& vm) {
  const VmEntry* e = ledger_->vm(vm);
  if (!e) return;
  auto info = vmInfo_.find(vm);
  if (info == vmInfo_.end() || !info->second.active) return;
  CpuSet where = ledger_->host().reserved;
  if (where.empty()) where = e->inState(HoldState::kGranted);
  if (where.empty()) return;
  auto last = pinnedHelpers_.find(vm);
  if (last != pinnedHelpers_.end() && last->second == where) return;
  auto r = hv_.pinEmulator(vm, where);
  if (r && info->second.iothreads > 0) r = hv_.pinIOThreads(vm, where);
  if (!r) {
    ++counters_.hypervisorErrors;
    log_->warn("pinning emulator/iothreads failed vm={} cpus={} error={}", e->spec.name,
               where.toList(), r.error().describe());
    return;
  }
  pinnedHelpers_[vm] = where;
  log_->info("emulator and iothreads pinned vm={} cpus={}", e->spec.name, where.toList());
}

void Engine::observeMemory() {
  for (const auto& [uuid, entry] : ledger_->vms()) {
    bool moving = false;
    for (const auto& [node, mem] : entry.memory) moving |= mem.requestedBytes != mem.currentBytes;
    if (!moving) continue;
    auto info = hv_.vm(uuid);
    if (!info) {
      ++counters_.hypervisorErrors;
      continue;
    }
    observeCurrent(entry, specFromVmInfo(*info, ledger_->host()));
  }
}

void Engine::observeCurrent(const VmEntry& entry, const VmSpec& now) {
  for (const auto& dev : now.virtioMem) {
    auto it = entry.memory.find(dev.guestNode);
    const std::uint64_t known = it == entry.memory.end() ? 0 : it->second.currentBytes;
    if (known != dev.currentBytes)
      (void)apply(ObserveMemoryCurrent{entry.spec.uuid, dev.guestNode, dev.currentBytes});
  }
}

std::string Engine::agentEndpoint() const {
  return agents_ ? agents_->boundEndpoint() : opts_.config.agentEndpoint;
}
std::string Engine::adminEndpoint() const {
  return admin_ ? admin_->boundEndpoint() : opts_.config.adminEndpoint;
}
std::string Engine::adminTcpEndpoint() const {
  return adminTcp_ ? adminTcp_->boundEndpoint() : std::string();
}

}  // namespace vnuma::broker
