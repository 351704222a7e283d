#pragma once
// BrokerHarness: a real Engine on libvirt's test driver (test:///<fixture>), real ZeroMQ on
// 127.0.0.1 with CURVE, keys and state in a temporary directory, and SimAgents for its VMs.
// The engine runs on its own thread; tests talk to it only through the admin API and agents.
// For the engine's integration tests and bench/broker.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "host-broker/ctl/Ctl.hpp"
#include "host-broker/engine/Engine.hpp"
#include "host-broker/engine/testing/SimAgent.hpp"

namespace vnuma::broker::testing {

struct HarnessOptions {
  std::string fixture;  // libvirt test driver XML
  std::string policy = "static";
  std::uint32_t leaseMs = 1000;
  std::uint32_t graceMs = 200;
  std::uint32_t reportPeriodMs = 200;
  std::uint32_t ackTimeoutMs = 200;
  std::int64_t tickMs = 100;
  std::string logLevel = "warn";
  std::string dir;                   // reuse a directory (restart tests); empty = new temp dir
  std::string agentEndpoint;         // empty: tcp://127.0.0.1 on a free port
  std::vector<std::string> vmUuids;  // agent keys are created for these
  bool faulty = false;               // put a FaultyHypervisor between engine and libvirt
};

class BrokerHarness {
 public:
  explicit BrokerHarness(HarnessOptions opts);
  ~BrokerHarness();

  // Creates the temp dir, keys and config (first call) and starts the engine thread.
  Result<void> start();
  void stop();  // stops and joins the engine thread (the state stays in dir())

  const std::string& dir() const { return dir_; }
  std::string adminEndpoint() const { return "ipc://" + dir_ + "/admin.sock"; }
  std::string agentEndpoint() const { return agentEndpoint_; }
  const transport::CurveKeyPair& brokerKeys() const { return brokerKeys_; }
  const transport::CurveKeyPair& agentKeys(const std::string& uuid) { return agentKeys_[uuid]; }
  BrokerConfig config() const;
  RecordingVcpuEnforcer& enforcer() { return enforcer_; }
  // The fault injector (HarnessOptions::faulty); nullptr otherwise.
  sys::FaultyHypervisor* faults() { return faulty_.get(); }

  // A SimAgent for `uuid` using that VM's key (or `keys` when given).
  Result<std::unique_ptr<SimAgent>> agent(const std::string& uuid,
                                          std::optional<transport::CurveKeyPair> keys = {});

  // Admin request; the body parsed as JSON (null for non-JSON bodies).
  struct Reply {
    unsigned status = 0;
    nlohmann::json body;
    std::string raw;
  };
  Reply admin(const std::string& method, const std::string& path, const std::string& body = "");

 private:
  HarnessOptions opts_;
  std::string dir_;
  bool ownDir_ = false;
  std::string agentEndpoint_;
  transport::CurveKeyPair brokerKeys_;
  std::map<std::string, transport::CurveKeyPair> agentKeys_;
  RecordingVcpuEnforcer enforcer_;
  std::unique_ptr<sys::Hypervisor> hv_;
  std::unique_ptr<sys::FaultyHypervisor> faulty_;  // wraps hv_ when HarnessOptions::faulty
  std::unique_ptr<Engine> engine_;
  std::thread thread_;
};

// Pumps every agent until pred() holds or `timeout` passes; agents in `reporting` send a
// Report every `reportEveryMs`. True when pred() held.
bool pumpUntil(const std::vector<SimAgent*>& agents, const std::function<bool()>& pred,
               std::chrono::milliseconds timeout, const std::vector<SimAgent*>& reporting = {},
               int reportEveryMs = 100);

}  // namespace vnuma::broker::testing
