#include "guest-agent/engine/AgentEngine.hpp"

#include <chrono>

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"

namespace vnuma::agent {

namespace {

CpuSet toSet(const google::protobuf::RepeatedField<std::uint32_t>& ids) {
  CpuSet s;
  for (auto id : ids)
    if (id <= CpuSet::kMaxCpu) s.add(id);
  return s;
}

void fromSet(const CpuSet& s, google::protobuf::RepeatedField<std::uint32_t>* out) {
  for (unsigned id : s.ids()) out->Add(id);
}

void fillPressure(const PressureSample& p, proto::Pressure* out) {
  out->set_some_avg10(p.someAvg10);
  out->set_full_avg10(p.fullAvg10);
  out->set_some_total_us(p.someTotalUs);
}

}  // namespace

AgentEngine::AgentEngine(EngineInfo info, CpuMechanism& mechanism, BestEffortMover* bestEffort,
                         UsageSampler* sampler, Logger log)
    : info_(std::move(info)),
      mechanism_(mechanism),
      bestEffort_(bestEffort),
      sampler_(sampler),
      log_(std::move(log)),
      periodMs_(info_.periodMs) {}

proto::Envelope AgentEngine::envelope() {
  proto::Envelope env;
  env.set_version(kProtocolVersion);
  env.set_seq(++outSeq_);
  env.set_session_id(sessionId_);
  return env;
}

proto::Envelope AgentEngine::errorMessage(proto::Error::Code code, const std::string& msg,
                                          std::uint64_t refSeq) {
  proto::Envelope env = envelope();
  auto* e = env.mutable_error();
  e->set_code(code);
  e->set_message(msg);
  e->set_ref_seq(refSeq);
  return env;
}

void AgentEngine::addNodes(google::protobuf::RepeatedPtrField<proto::GuestNode>* out,
                           const UsageSample* s) const {
  for (const auto& n : info_.topology.nodes) {
    auto* g = out->Add();
    g->set_id(n.id);
    fromSet(n.cpus, g->mutable_vcpus());
    g->set_mem_total_kb(n.memTotalKb);
    if (s != nullptr) {
      for (const auto& m : s->nodes) {
        if (m.node != n.id) continue;
        g->set_mem_total_kb(m.totalKb);
        g->set_mem_free_kb(m.freeKb);
        g->set_mem_available_kb(m.availableKb);
      }
    }
  }
}

proto::Envelope AgentEngine::hello() {
  sessionId_ = 0;
  lastInSeq_ = 0;
  proto::Envelope env = envelope();
  auto* h = env.mutable_hello();
  h->set_vm_uuid(info_.identity.vmUuid);
  h->set_agent_version(info_.agentVersion);
  h->set_hostname(info_.identity.hostname);
  addNodes(h->mutable_nodes(), nullptr);
  fromSet(info_.topology.online, h->mutable_online_vcpus());
  h->set_cgroup_mode(info_.cgroupMode);
  h->set_mechanism(mechanism_.name());
  h->set_applied_generation(appliedGeneration_);
  auto applied = mechanism_.applied();
  if (applied) fromSet(applied.value(), h->mutable_applied_vcpus());
  if (sampler_ != nullptr)
    for (const auto& v : sampler_->virtioMemDevices()) {
      if (v.node < 0) continue;  // the broker needs the node; unknown ones are only logged
      auto* vm = h->add_virtio_mem();
      vm->set_node(static_cast<std::uint32_t>(v.node));
      vm->set_device(v.device);
      vm->set_plugged_kb(v.pluggedKb);
    }
  h->set_boot_id_hash(info_.identity.bootIdHash);
  return env;
}

proto::Envelope AgentEngine::bye(const std::string& reason) {
  proto::Envelope env = envelope();
  env.mutable_bye()->set_reason(reason);
  return env;
}

void AgentEngine::resetSession() {
  if (sessionId_ != 0) log_->warn("session reset session={}", sessionId_);
  sessionId_ = 0;
  lastInSeq_ = 0;
}

std::vector<proto::Envelope> AgentEngine::onMalformed(const std::string& reason) {
  log_->warn("dropping malformed message reason=\"{}\"", reason);
  if (!hasSession()) return {};
  return {errorMessage(proto::Error::MALFORMED, reason, 0)};
}

std::vector<proto::Envelope> AgentEngine::onMessage(const proto::Envelope& env, Millis now) {
  if (env.body_case() == proto::Envelope::kWelcome) {
    if (hasSession() && env.session_id() == sessionId_) return {};  // repeated Welcome
    const auto& w = env.welcome();
    if (w.session_id() == 0) {
      log_->warn("refusing welcome with session id 0");
      return {};
    }
    sessionId_ = w.session_id();
    lastInSeq_ = env.seq();
    floor_ = toSet(w.floor_vcpus());
    welcomeLeaseMs_ = w.lease_ms();
    if (leaseMs_ == 0 || appliedGeneration_ == 0) leaseMs_ = welcomeLeaseMs_;
    if (w.report_period_ms() >= 100) periodMs_ = w.report_period_ms();
    lastBrokerMsg_ = now;
    log_->info("welcome session={} floor={} lease_ms={} period_ms={} broker_epoch={}", sessionId_,
               floor_.toList(), welcomeLeaseMs_, periodMs_, w.broker_epoch());
    return {};
  }
  if (!hasSession() || env.session_id() != sessionId_) {
    log_->debug("ignoring {} for session {} (current {})", codec::bodyName(env), env.session_id(),
                sessionId_);
    return {};
  }
  if (env.seq() <= lastInSeq_) {
    log_->debug("ignoring repeated or old message seq={} last={}", env.seq(), lastInSeq_);
    return {};
  }
  lastInSeq_ = env.seq();
  lastBrokerMsg_ = now;
  switch (env.body_case()) {
    case proto::Envelope::kGrant:
      return onGrant(env.grant(), now);
    case proto::Envelope::kBye:
      log_->info("broker said bye reason=\"{}\"", env.bye().reason());
      resetSession();
      return {};
    case proto::Envelope::kError: {
      const auto& e = env.error();
      log_->warn("broker refused a message code={} ref_seq={} message=\"{}\"",
                 proto::Error::Code_Name(e.code()), e.ref_seq(), e.message());
      if (e.code() == proto::Error::NO_SESSION || e.code() == proto::Error::UNKNOWN_VM ||
          e.code() == proto::Error::UNAUTHORIZED)
        resetSession();
      return {};
    }
    default: {
      const std::string msg =
          std::string("unexpected ") + codec::bodyName(env) + " from the broker";
      log_->warn("{} seq={}", msg, env.seq());
      return {errorMessage(proto::Error::BAD_REQUEST, msg, env.seq())};
    }
  }
}

std::optional<std::string> AgentEngine::validate(const CpuSet& vcpus, const CpuQuota& quota) const {
  if (vcpus.empty()) return std::string("empty vCPU set");
  CpuSet known;
  for (const auto& c : info_.topology.cpus) known.add(c.id);
  const CpuSet unknown = vcpus - known;
  if (!unknown.empty()) return "unknown vCPUs: " + unknown.toList();
  auto eligible = mechanism_.eligible();
  if (!eligible) return "cannot read eligible vCPUs: " + eligible.error().describe();
  const CpuSet offline = vcpus - eligible.value();
  if (!offline.empty()) return "offline vCPUs: " + offline.toList();
  if (quota.limited() && (quota.periodUs < 1000 || quota.periodUs > 1000000))
    return "bad quota period " + std::to_string(quota.periodUs) + " us (allowed 1000..1000000)";
  return std::nullopt;
}

proto::Ack AgentEngine::applyGrant(std::uint64_t generation, const CpuSet& vcpus,
                                   const CpuQuota& quota) {
  const auto start = std::chrono::steady_clock::now();
  proto::Ack ack;
  ack.set_generation(generation);
  std::vector<ItemOutcome> items;
  auto r = mechanism_.apply(vcpus, quota);
  if (r) {
    items = std::move(r).value();
    if (bestEffort_ != nullptr) {
      auto be = bestEffort_->apply(vcpus);
      items.insert(items.end(), be.begin(), be.end());
    }
    ack.set_ok(true);
  } else {
    ack.set_ok(false);
    ack.set_error(r.error().describe());
    items.push_back({"cpus", false, r.error().describe(), false});
  }
  auto applied = mechanism_.applied();
  if (applied) fromSet(applied.value(), ack.mutable_applied_vcpus());
  unsigned beOk = 0, beFailed = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    if (it.bestEffort) (it.ok ? beOk : beFailed)++;
    if (i < kMaxAckItems) {
      auto* out = ack.add_items();
      out->set_item(it.item);
      out->set_ok(it.ok);
      out->set_detail(it.detail.substr(0, 512));
    }
  }
  if (items.size() > kMaxAckItems) {
    auto* out = ack.add_items();
    out->set_item("more");
    out->set_ok(true);
    out->set_detail(std::to_string(items.size() - kMaxAckItems) + " more items not listed");
  }
  ack.set_best_effort_ok(beOk);
  ack.set_best_effort_failed(beFailed);
  ack.set_apply_us(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::steady_clock::now() - start)
                                                  .count()));
  return ack;
}

std::vector<proto::Envelope> AgentEngine::onGrant(const proto::Grant& g, Millis now) {
  const auto start = std::chrono::steady_clock::now();
  const CpuSet vcpus = toSet(g.vcpus());
  CpuQuota quota;
  quota.quotaUs = g.quota_us();
  quota.periodUs = g.period_us() == 0 ? 100000u : g.period_us();
  proto::Envelope env = envelope();
  if (g.generation() == newestGeneration_ && lastAck_ && !leaseExpired_) {
    // The broker's lease renewal: every lease_ms / 3 while the grant is stable.
    log_->debug("grant repeated gen={}: re-acking without change", g.generation());
    *env.mutable_ack() = *lastAck_;
    return {env};
  }
  if (g.generation() < newestGeneration_) {
    proto::Ack* ack = env.mutable_ack();
    ack->set_generation(g.generation());
    ack->set_ok(false);
    ack->set_error("stale generation " + std::to_string(g.generation()) + " (newest seen " +
                   std::to_string(newestGeneration_) + ")");
    auto applied = mechanism_.applied();
    if (applied) fromSet(applied.value(), ack->mutable_applied_vcpus());
    log_->warn("grant refused gen={} reason=\"{}\"", g.generation(), ack->error());
    return {env};
  }
  newestGeneration_ = g.generation();
  proto::Ack ack;
  if (auto why = validate(vcpus, quota)) {
    ack.set_generation(g.generation());
    ack.set_ok(false);
    ack.set_error(*why);
    auto applied = mechanism_.applied();
    if (applied) fromSet(applied.value(), ack.mutable_applied_vcpus());
    log_->warn("grant refused gen={} vcpus={} reason=\"{}\"", g.generation(), vcpus.toList(), *why);
  } else {
    ack = applyGrant(g.generation(), vcpus, quota);
    if (ack.ok()) {
      appliedGeneration_ = g.generation();
      target_ = vcpus;
      quota_ = quota;
      leaseExpired_ = false;
      leaseMs_ = g.lease_ms() != 0 ? g.lease_ms() : welcomeLeaseMs_;
      log_->info(
          "grant applied gen={} vcpus={} quota_us={} apply_us={} best_effort_ok={} "
          "best_effort_failed={}",
          g.generation(), vcpus.toList(), quota.quotaUs, ack.apply_us(), ack.best_effort_ok(),
          ack.best_effort_failed());
    } else {
      log_->error("grant failed gen={} vcpus={} error=\"{}\"", g.generation(), vcpus.toList(),
                  ack.error());
    }
  }
  ack.set_apply_us(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::steady_clock::now() - start)
                                                  .count()));
  lastAck_ = ack;
  (void)now;
  *env.mutable_ack() = ack;
  return {env};
}

void AgentEngine::fillReport(proto::Report* r) {
  r->set_applied_generation(appliedGeneration_);
  auto applied = mechanism_.applied();
  if (applied) fromSet(applied.value(), r->mutable_applied_vcpus());
  r->set_drift_repairs(driftSinceReport_);
  driftSinceReport_ = 0;
  UsageSample s;
  bool haveSample = false;
  if (sampler_ != nullptr) {
    auto sample = sampler_->sample();
    if (sample) {
      s = std::move(sample).value();
      haveSample = true;
    } else {
      log_->warn("sampling failed error=\"{}\"", sample.error().describe());
    }
  }
  if (haveSample) {
    r->set_period_us(s.periodUs);
    for (const auto& [cpu, busy] : s.busy) {
      auto* c = r->add_cpus();
      c->set_vcpu(cpu);
      c->set_busy(busy);
    }
    r->set_runnable(s.runnable);
    fillPressure(s.cpu, r->mutable_cpu_pressure());
    fillPressure(s.memory, r->mutable_memory_pressure());
    fillPressure(s.io, r->mutable_io_pressure());
    for (const auto& v : s.virtioMem) {
      if (v.node < 0) continue;
      auto* vm = r->add_virtio_mem();
      vm->set_node(static_cast<std::uint32_t>(v.node));
      vm->set_device(v.device);
      vm->set_plugged_kb(v.pluggedKb);
    }
    r->set_agent_cpu_permille(s.agentCpuPermille);
    r->set_agent_rss_kb(s.agentRssKb);
  }
  addNodes(r->mutable_nodes(), haveSample ? &s : nullptr);
}

std::vector<proto::Envelope> AgentEngine::tick(Millis now) {
  // Lease: a silent broker past the lease leaves the VM with its floor (never more than held).
  if (!target_.empty() && leaseMs_ > 0 && lastBrokerMsg_ &&
      now - *lastBrokerMsg_ > Millis(leaseMs_) && !leaseExpired_) {
    const CpuSet shrunk = floor_ & target_;
    if (shrunk.empty()) {
      log_->error("lease expired but the floor {} is not within the grant {}; keeping the grant",
                  floor_.toList(), target_.toList());
      leaseExpired_ = true;
    } else if (!(shrunk == target_)) {
      auto r = mechanism_.apply(shrunk, quota_);
      if (r) {
        log_->warn("lease expired lease_ms={} silent_ms={}: shrank {} -> floor {}", leaseMs_,
                   (now - *lastBrokerMsg_).count(), target_.toList(), shrunk.toList());
        if (bestEffort_ != nullptr) (void)bestEffort_->apply(shrunk);
        target_ = shrunk;
        leaseExpired_ = true;
      } else {
        log_->error("lease expired but shrinking to the floor failed error=\"{}\"",
                    r.error().describe());
      }
    } else {
      leaseExpired_ = true;
    }
  }
  if (!target_.empty()) {
    auto fixed = mechanism_.repair(target_, quota_);
    if (!fixed) {
      log_->warn("drift check failed error=\"{}\"", fixed.error().describe());
    } else {
      for (const auto& line : fixed.value()) log_->info("drift repaired: {}", line);
      driftSinceReport_ += static_cast<std::uint32_t>(fixed->size());
      driftRepairsTotal_ += fixed->size();
    }
  }
  if (!hasSession()) return {};
  proto::Envelope env = envelope();
  fillReport(env.mutable_report());
  return {env};
}

}  // namespace vnuma::agent
