#include "guest-agent/engine/Agent.hpp"

#include <ostream>

#include "common/core/Version.hpp"
#include "common/transport/Transport.hpp"
#include "guest-agent/rpc/BrokerSession.hpp"
#include "guest-agent/sys/CgroupCpuMechanism.hpp"
#include "guest-agent/sys/HotplugCpuMechanism.hpp"

namespace vnuma::agent {

Result<std::unique_ptr<Agent>> Agent::build(const AgentConfig& cfg, const Loggers& logs,
                                            bool dryRun) {
  std::unique_ptr<Agent> a(new Agent());
  a->cfg_ = cfg;
  a->logs_ = logs;
  EngineInfo info;
  info.agentVersion = kVersion;
  info.periodMs = cfg.periodMs;
  auto topo = Topology::read(cfg.fsRoot);
  if (!topo) return std::move(topo).error().context("discovering the guest topology");
  info.topology = std::move(topo).value();
  auto id = readIdentity(cfg.fsRoot, cfg.vmUuid);
  if (id) {
    info.identity = id.value();
  } else if (dryRun) {
    logs.main->warn("{}", id.error().describe());
    info.identity.vmUuid = "unknown";
  } else {
    return std::move(id).error();
  }
  if (cfg.mechanism == "cgroup") {
    auto layout = CgroupLayout::discover(cfg.fsRoot);
    if (!layout) return std::move(layout).error();
    a->layout_ = layout.value();
    info.cgroupMode = layout->mode;
    a->cgroupWriter_ = makeCgroupWriter(cfg.fsRoot, logs.cgroup);
    CgroupMechanismOptions opts{cfg.fsRoot, cfg.cgroupRoot, cfg.managedName};
    a->mechanism_ =
        std::make_unique<CgroupCpuMechanism>(layout.value(), opts, *a->cgroupWriter_, logs.cgroup);
  } else {
    a->mechanism_ = std::make_unique<HotplugCpuMechanism>(cfg.fsRoot, a->sysfsWriter_, logs.sys);
  }
  a->bestEffort_ = std::make_unique<BestEffortMover>(
      BestEffortOptions{cfg.fsRoot, cfg.irq, cfg.workqueue, cfg.kthreads}, a->sysfsWriter_,
      logs.sys);
  a->sampler_ = std::make_unique<UsageSampler>(cfg.fsRoot);
  a->memory_ = ensureMovableOnline(cfg.fsRoot, cfg.ensureMovable && !dryRun);
  if (a->memory_.changed)
    logs.sys->info("memory auto_online_blocks {} -> {}", a->memory_.before, a->memory_.after);
  else if (!a->memory_.error.empty())
    logs.sys->warn("memory online policy: {}", a->memory_.error);
  logs.main->info("discovered vm_uuid={} nodes={} online={} mechanism={} cgroup_mode={}",
                  info.identity.vmUuid, info.topology.nodes.size(), info.topology.online.toList(),
                  a->mechanism_->name(), info.cgroupMode);
  a->engine_ = std::make_unique<AgentEngine>(std::move(info), *a->mechanism_, a->bestEffort_.get(),
                                             a->sampler_.get(), logs.engine);
  return a;
}

bool Agent::runOnce(std::ostream& out, const std::optional<CpuSet>& grant, bool dryRun) {
  const proto::Envelope hello = engine_->hello();
  const auto& h = hello.hello();
  out << "vnuma-agent " << kVersion << "\n";
  out << "vm_uuid: " << h.vm_uuid() << "\n";
  out << "hostname: " << h.hostname() << "\n";
  for (const auto& n : h.nodes()) {
    CpuSet cpus;
    for (auto c : n.vcpus()) cpus.add(c);
    out << "node " << n.id() << ": vcpus " << cpus.toList() << " mem_total_kb " << n.mem_total_kb()
        << "\n";
  }
  CpuSet online;
  for (auto c : h.online_vcpus()) online.add(c);
  out << "online vcpus: " << online.toList() << "\n";
  out << "mechanism: " << mechanism_->name();
  if (cgroupWriter_) out << " (writer " << cgroupWriter_->name() << ")";
  out << "\n";
  if (layout_)
    out << "cgroup: mode " << layout_->mode << ", cpuset at " << layout_->cpusetMount << ", cpu at "
        << (layout_->cpuMount.empty() ? "(none)" : layout_->cpuMount) << ", agent root "
        << cfg_.cgroupRoot << "\n";
  auto applied = mechanism_->applied();
  out << "applied now: "
      << (applied ? applied->toList() : "unreadable: " + applied.error().describe()) << "\n";
  auto eligible = mechanism_->eligible();
  out << "grantable vcpus: "
      << (eligible ? eligible->toList() : "unreadable: " + eligible.error().describe()) << "\n";
  out << "memory: auto_online_blocks " << (memory_.before.empty() ? "(absent)" : memory_.before);
  if (memory_.changed)
    out << " -> " << memory_.after;
  else if (memory_.before != "online_movable" && !memory_.before.empty())
    out << (dryRun ? " (would set online_movable)" : "");
  out << ", offline blocks " << memory_.offlineBlocks << "\n";
  auto devices = sampler_->virtioMemDevices();
  out << "virtio-mem: " << (devices.empty() ? "none" : "") << "\n";
  for (const auto& d : devices)
    out << "  " << d.device << " node "
        << (d.node < 0 ? std::string("unknown") : std::to_string(d.node)) << "\n";
  auto s = sampler_->sample();
  if (s) {
    out << "runnable: " << s->runnable << "\n";
    out << "psi: " << (s->psiAvailable ? "" : "(unavailable) ") << "cpu some " << s->cpu.someAvg10
        << "%, memory some " << s->memory.someAvg10 << "%, io some " << s->io.someAvg10 << "%\n";
    for (const auto& n : s->nodes)
      out << "node " << n.node << " memory: total " << n.totalKb << " kB, free " << n.freeKb
          << " kB, available " << n.availableKb << " kB\n";
  } else {
    out << "sample failed: " << s.error().describe() << "\n";
  }
  if (!grant) return true;
  if (dryRun) {
    out << "would apply " << grant->toList() << ":\n";
    for (const auto& line : mechanism_->plan(*grant, {})) out << "  " << line << "\n";
    for (const auto& line : bestEffort_->plan(*grant)) out << "  " << line << "\n";
    return true;
  }
  // One local grant, through the same engine path a broker grant takes.
  proto::Envelope welcome;
  welcome.set_version(kProtocolVersion);
  welcome.set_seq(1);
  welcome.mutable_welcome()->set_session_id(1);
  (void)engine_->onMessage(welcome, Millis(0));
  proto::Envelope g;
  g.set_version(kProtocolVersion);
  g.set_seq(2);
  g.set_session_id(1);
  g.mutable_grant()->set_generation(engine_->appliedGeneration() + 1);
  for (unsigned c : grant->ids()) g.mutable_grant()->add_vcpus(c);
  auto replies = engine_->onMessage(g, Millis(0));
  if (replies.empty() || !replies.front().has_ack()) return false;
  const auto& ack = replies.front().ack();
  CpuSet got;
  for (auto c : ack.applied_vcpus()) got.add(c);
  out << "applied " << grant->toList() << ": " << (ack.ok() ? "ok" : "FAILED: " + ack.error())
      << ", read back " << got.toList() << ", apply_us " << ack.apply_us() << ", best effort ok "
      << ack.best_effort_ok() << " failed " << ack.best_effort_failed() << "\n";
  for (const auto& it : ack.items())
    out << "  " << it.item() << ": " << (it.ok() ? "ok" : "failed") << " " << it.detail() << "\n";
  return ack.ok();
}

Result<void> Agent::runSession(int stopFd, std::optional<Millis> runFor) {
  SessionOptions opts;
  opts.client.endpoint = cfg_.brokerEndpoint;
  opts.client.sendHighWaterMark = static_cast<int>(cfg_.sendQueue);
  if (!cfg_.brokerPublicKeyFile.empty()) {
    auto serverKey = transport::loadCurvePublicKey(cfg_.brokerPublicKeyFile);
    if (!serverKey) return std::move(serverKey).error().context("loading broker.public_key_file");
    auto keys = transport::loadCurveKeyPair(cfg_.agentKeyFile);
    if (!keys) return std::move(keys).error().context("loading broker.agent_key_file");
    opts.client.serverPublicKey = serverKey.value();
    opts.client.clientKeys = keys.value();
  }
  opts.reconnectMin = Millis(cfg_.reconnectMinMs);
  opts.reconnectMax = Millis(cfg_.reconnectMaxMs);
  opts.stopFd = stopFd;
  opts.runFor = runFor;
  BrokerSession session(opts, *engine_, logs_.rpc);
  auto r = session.run();
  const auto& st = session.stats();
  logs_.rpc->info("session ended sent={} dropped={} received={} malformed={} hellos={} ticks={}",
                  st.sent, st.sendDropped, st.received, st.malformed, st.hellos, st.ticks);
  return r;
}

}  // namespace vnuma::agent
