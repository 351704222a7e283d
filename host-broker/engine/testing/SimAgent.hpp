#pragma once
// SimAgent: a simulated vnuma-agent speaking the real protocol over real ZeroMQ (CURVE) to a
// broker. It applies nothing; it records what it receives and (optionally) acks grants at
// once with the granted vCPUs as applied. For integration tests and bench/broker.
// Thread-safety: one thread per SimAgent (it owns a ZeroMQ socket).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent.pb.h"
#include "common/core/Result.hpp"
#include "common/transport/Transport.hpp"

namespace vnuma::broker::testing {

struct SimAgentOptions {
  std::string endpoint;
  std::string brokerPublicKey;
  transport::CurveKeyPair keys;
  std::string vmUuid;  // what Hello claims
  bool autoAck = true;
};

struct ReceivedGrant {
  proto::Grant grant;
  std::chrono::steady_clock::time_point at;
};

class SimAgent {
 public:
  static Result<std::unique_ptr<SimAgent>> connect(SimAgentOptions opts);

  Result<void> hello(std::uint64_t appliedGeneration = 0,
                     const std::vector<std::uint32_t>& applied = {});
  Result<void> report(double busy = 0.5, std::uint32_t runnable = 1);
  Result<void> ack(std::uint64_t generation, const std::vector<std::uint32_t>& applied,
                   bool ok = true);
  Result<void> sendRaw(const std::string& bytes);

  // Handles what arrives within `timeout` (returns after the first batch or the timeout).
  int pump(std::chrono::milliseconds timeout);

  bool autoAck = true;
  bool welcomed = false;
  std::uint64_t sessionId = 0;
  std::vector<std::uint32_t> floorVcpus;
  std::vector<std::uint32_t> vcpus;  // last grant's vCPUs
  std::uint64_t generation = 0;      // last grant's generation
  std::vector<ReceivedGrant> grants;
  std::vector<proto::Error> errors;
  std::chrono::steady_clock::time_point lastAckAt;

 private:
  explicit SimAgent(SimAgentOptions opts) : opts_(std::move(opts)) {}
  Result<void> send(proto::Envelope env);
  void handle(const std::string& frame);

  SimAgentOptions opts_;
  std::unique_ptr<transport::Client> client_;
  std::uint64_t seq_ = 0;
};

}  // namespace vnuma::broker::testing
