#include "host-broker/engine/testing/BrokerHarness.hpp"

#include <stdlib.h>

#include <filesystem>

#include "common/log/Log.hpp"

namespace vnuma::broker::testing {

BrokerHarness::BrokerHarness(HarnessOptions opts)
    : opts_(std::move(opts)), agentEndpoint_(opts_.agentEndpoint) {}

BrokerHarness::~BrokerHarness() {
  stop();
  engine_.reset();
  faulty_.reset();
  hv_.reset();
  if (ownDir_ && !dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

BrokerConfig BrokerHarness::config() const {
  BrokerConfig cfg;
  cfg.libvirtUri = "test://" + opts_.fixture;
  cfg.stateDir = dir_ + "/state";
  cfg.logLevel = opts_.logLevel;
  cfg.agentEndpoint = agentEndpoint_.empty() ? "tcp://127.0.0.1:0" : agentEndpoint_;
  cfg.brokerKeyFile = dir_ + "/keys/broker.key";
  cfg.agentKeyDir = dir_ + "/agents";
  cfg.leaseMs = opts_.leaseMs;
  cfg.graceMs = opts_.graceMs;
  cfg.reportPeriodMs = opts_.reportPeriodMs;
  cfg.ackTimeoutMs = opts_.ackTimeoutMs;
  cfg.adminEndpoint = adminEndpoint();
  cfg.adminSocketMode = 0600;
  cfg.memoryReserveMb = 0;
  cfg.policy.name = opts_.policy;
  cfg.policy.tickMs = opts_.tickMs;
  cfg.policy.placement.cooldownMs = 0;
  cfg.policy.placement.hysteresisCpus = 0;
  return cfg;
}

Result<void> BrokerHarness::start() {
  if (dir_.empty()) {
    if (!opts_.dir.empty()) {
      dir_ = opts_.dir;
    } else {
      std::string tmpl =
          (std::filesystem::temp_directory_path() / "vnuma-broker-test-XXXXXX").string();
      if (!::mkdtemp(tmpl.data())) return Error::fromErrno("mkdtemp");
      dir_ = tmpl;
      ownDir_ = true;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir_ + "/keys", ec);
    std::filesystem::create_directories(dir_ + "/agents", ec);
    if (!std::filesystem::exists(dir_ + "/keys/broker.key")) {
      auto k = transport::generateCurveKeyPair();
      if (!k) return std::move(k).error();
      VNUMA_TRY_VOID(transport::writeCurveKeyPair(*k, dir_ + "/keys", "broker"));
    }
    auto bk = transport::loadCurveKeyPair(dir_ + "/keys/broker.key");
    if (!bk) return std::move(bk).error();
    brokerKeys_ = *bk;
    for (const auto& uuid : opts_.vmUuids) {
      if (!std::filesystem::exists(dir_ + "/agents/" + uuid + ".pub")) {
        auto k = transport::generateCurveKeyPair();
        if (!k) return std::move(k).error();
        VNUMA_TRY_VOID(transport::writeCurveKeyPair(*k, dir_ + "/agents", uuid));
      }
      auto k = transport::loadCurveKeyPair(dir_ + "/agents/" + uuid + ".key");
      if (!k) return std::move(k).error();
      agentKeys_[uuid] = *k;
    }
  }
  BrokerConfig cfg = config();
  auto keys = rpc::AgentKeyRing::load(cfg.agentKeyDir);
  if (!keys) return std::move(keys).error();

  sys::LibvirtOptions lv;
  lv.uri = cfg.libvirtUri;
  lv.log = makeLogger("test.libvirt");
  lv.log->set_level(spdlog::level::warn);
  auto hv = sys::LibvirtHypervisor::open(lv);
  if (!hv) return std::move(hv).error();
  hv_ = std::move(hv).value();

  EngineOptions eo;
  eo.config = cfg;
  eo.brokerKeys = brokerKeys_;
  eo.agentKeys = std::move(keys).value();
  auto level = spdlog::level::from_str(opts_.logLevel);
  eo.log = EngineLoggers{makeLogger("broker.engine"), makeLogger("broker.rpc"),
                         makeLogger("broker.api")};
  for (auto* l : {&eo.log.engine, &eo.log.rpc, &eo.log.api}) (*l)->set_level(level);
  if (opts_.faulty) faulty_ = std::make_unique<sys::FaultyHypervisor>(*hv_);
  sys::Hypervisor& engineHv = faulty_ ? static_cast<sys::Hypervisor&>(*faulty_) : *hv_;
  auto engine = Engine::start(std::move(eo), engineHv, enforcer_);
  if (!engine) return std::move(engine).error();
  engine_ = std::move(engine).value();
  agentEndpoint_ = engine_->agentEndpoint();
  thread_ = std::thread([this] { (void)engine_->run(); });
  return okResult();
}

void BrokerHarness::stop() {
  if (engine_) engine_->requestStop();
  if (thread_.joinable()) thread_.join();
  engine_.reset();
  faulty_.reset();
  hv_.reset();
}

Result<std::unique_ptr<SimAgent>> BrokerHarness::agent(
    const std::string& uuid, std::optional<transport::CurveKeyPair> keys) {
  SimAgentOptions so;
  so.endpoint = agentEndpoint_;
  so.brokerPublicKey = brokerKeys_.publicKey;
  so.keys = keys ? *keys : agentKeys_[uuid];
  so.vmUuid = uuid;
  return SimAgent::connect(so);
}

BrokerHarness::Reply BrokerHarness::admin(const std::string& method, const std::string& path,
                                          const std::string& body) {
  ctl::AdminClientOptions o;
  o.endpoint = adminEndpoint();
  o.timeout = std::chrono::milliseconds(5000);
  auto r = ctl::adminCall(o, method, path, body);
  Reply out;
  if (!r) {
    out.raw = r.error().describe();
    return out;
  }
  out.status = r->status;
  out.raw = r->body;
  out.body = nlohmann::json::parse(r->body, nullptr, false);
  if (out.body.is_discarded()) out.body = nullptr;
  return out;
}

bool pumpUntil(const std::vector<SimAgent*>& agents, const std::function<bool()>& pred,
               std::chrono::milliseconds timeout, const std::vector<SimAgent*>& reporting,
               int reportEveryMs) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto nextReport = std::chrono::steady_clock::now();
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (std::chrono::steady_clock::now() >= nextReport) {
      for (auto* a : reporting) {
        if (a->welcomed) (void)a->report();
      }
      nextReport += std::chrono::milliseconds(reportEveryMs);
    }
    for (auto* a : agents) a->pump(std::chrono::milliseconds(agents.size() > 1 ? 2 : 5));
  }
}

}  // namespace vnuma::broker::testing
