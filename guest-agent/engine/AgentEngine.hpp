#pragma once
// AgentEngine: the agent's state machine, free of sockets and clocks (time is passed in), so
// every protocol rule is unit-testable. The session layer (rpc/BrokerSession) feeds it decoded
// envelopes and ticks and sends what it returns.
//
// Rules (see common/proto/agent.proto):
// - hello() starts a session (session id 0); Welcome sets session id, floor, lease, period.
// - Messages with another session id than the current one are ignored (stale); a repeated or
//   older seq within a session is ignored.
// - Grant: generation newer than any seen -> validate (non-empty, every vCPU known and eligible,
//   sane quota) -> apply via the CpuMechanism (all-or-nothing) -> best-effort movers -> Ack with
//   the read-back set, items and apply_us. Same generation -> the stored Ack again, no change
//   (unless the lease expired meanwhile: then the grant is applied again). Older -> refused.
//   Refusals change nothing and carry the reason in Ack.error.
// - Unexpected bodies (hello/report/ack from the broker) -> Error(BAD_REQUEST); undecodable
//   frames -> Error(MALFORMED) with the decoder's reason (only when a session exists).
// - tick(): lease check (silent broker past the lease -> shrink to floor & current grant, never
//   grow), drift repair, and a Report when a session exists.
// Thread-safety: none; one thread drives it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent.pb.h"
#include "common/log/Log.hpp"
#include "common/topo/Topology.hpp"
#include "guest-agent/model/Grant.hpp"
#include "guest-agent/sys/BestEffortMover.hpp"
#include "guest-agent/sys/CpuMechanism.hpp"
#include "guest-agent/sys/Identity.hpp"
#include "guest-agent/sys/UsageSampler.hpp"

namespace vnuma::agent {

using Millis = std::chrono::milliseconds;

struct EngineInfo {
  GuestIdentity identity;
  Topology topology;
  std::string cgroupMode;  // "v1", "v2", "hybrid" ("" with hotplug)
  std::string agentVersion;
  std::uint32_t periodMs = 1000;  // until Welcome says otherwise
};

// Ack.items beyond this many are summarised in one item (messages are capped at 64 KiB).
inline constexpr std::size_t kMaxAckItems = 200;

class AgentEngine {
 public:
  // mechanism/sampler must outlive the engine; bestEffort may be null.
  AgentEngine(EngineInfo info, CpuMechanism& mechanism, BestEffortMover* bestEffort,
              UsageSampler* sampler, Logger log);

  proto::Envelope hello();
  std::vector<proto::Envelope> onMessage(const proto::Envelope& env, Millis now);
  std::vector<proto::Envelope> onMalformed(const std::string& reason);
  std::vector<proto::Envelope> tick(Millis now);
  // Forget the session (broker silent or gone); the next hello() starts a new one.
  void resetSession();
  proto::Envelope bye(const std::string& reason);

  bool hasSession() const { return sessionId_ != 0; }
  std::uint64_t sessionId() const { return sessionId_; }
  std::uint32_t periodMs() const { return periodMs_; }
  std::uint32_t leaseMs() const { return leaseMs_; }
  std::optional<Millis> lastBrokerMessage() const { return lastBrokerMsg_; }
  std::uint64_t appliedGeneration() const { return appliedGeneration_; }
  const CpuSet& target() const { return target_; }
  bool leaseExpired() const { return leaseExpired_; }
  std::uint64_t driftRepairsTotal() const { return driftRepairsTotal_; }

 private:
  proto::Envelope envelope();
  proto::Envelope errorMessage(proto::Error::Code code, const std::string& msg,
                               std::uint64_t refSeq);
  std::vector<proto::Envelope> onGrant(const proto::Grant& g, Millis now);
  std::optional<std::string> validate(const CpuSet& vcpus, const CpuQuota& quota) const;
  proto::Ack applyGrant(std::uint64_t generation, const CpuSet& vcpus, const CpuQuota& quota);
  void fillReport(proto::Report* r);
  void addNodes(google::protobuf::RepeatedPtrField<proto::GuestNode>* out,
                const UsageSample* s) const;

  EngineInfo info_;
  CpuMechanism& mechanism_;
  BestEffortMover* bestEffort_;
  UsageSampler* sampler_;
  Logger log_;

  std::uint64_t sessionId_ = 0;
  std::uint64_t outSeq_ = 0;
  std::uint64_t lastInSeq_ = 0;
  std::optional<Millis> lastBrokerMsg_;
  CpuSet floor_;
  std::uint32_t welcomeLeaseMs_ = 0;
  std::uint32_t leaseMs_ = 0;
  std::uint32_t periodMs_ = 1000;

  std::uint64_t newestGeneration_ = 0;  // newest generation seen (applied or refused)
  std::optional<proto::Ack> lastAck_;
  std::uint64_t appliedGeneration_ = 0;  // newest generation applied successfully
  CpuSet target_;                        // what is enforced now (grant, or floor after the lease)
  CpuQuota quota_;
  bool leaseExpired_ = false;
  std::uint32_t driftSinceReport_ = 0;
  std::uint64_t driftRepairsTotal_ = 0;
};

}  // namespace vnuma::agent
