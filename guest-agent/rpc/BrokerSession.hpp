#pragma once
// BrokerSession: the agent's side of the ZeroMQ conversation. Owns the DEALER socket (through
// vnuma::transport::Client) on the calling thread, feeds decoded envelopes and period ticks to
// the AgentEngine and sends what it returns.
//
// - Hello on every (re)connect; while no Welcome arrives, the socket is recreated and Hello
//   resent with exponential backoff (reconnectMin .. reconnectMax).
// - A session whose broker stays silent longer than max(lease, 3 periods) is dropped and a new
//   Hello starts (the engine's lease logic shrinks to the floor independently).
// - Undecodable frames are refused with the decoder's reason (Error MALFORMED) and counted.
// - Outgoing messages go to a bounded ZeroMQ queue (ClientOptions::sendHighWaterMark); a full
//   queue drops the message (counted, logged at debug): reports are samples, acks are re-sent
//   when the broker repeats the grant.
// - run() returns when `stopFd` becomes readable (signalfd / Waker; the caller drains it) or
//   after `runFor` (tests, benchmarks), sending Bye first.
// Thread-safety: everything on the thread that calls run().

#include <chrono>
#include <cstdint>
#include <optional>

#include "common/log/Log.hpp"
#include "common/transport/Transport.hpp"
#include "guest-agent/engine/AgentEngine.hpp"

namespace vnuma::agent {

struct SessionOptions {
  transport::ClientOptions client;
  Millis reconnectMin{500};
  Millis reconnectMax{30000};
  int stopFd = -1;
  std::optional<Millis> runFor;
};

struct SessionStats {
  std::uint64_t sent = 0;
  std::uint64_t sendDropped = 0;
  std::uint64_t received = 0;
  std::uint64_t malformed = 0;
  std::uint64_t hellos = 0;
  std::uint64_t ticks = 0;
};

class BrokerSession {
 public:
  BrokerSession(SessionOptions opts, AgentEngine& engine, Logger log);
  // Errors only when the socket cannot be created at all.
  Result<void> run();
  const SessionStats& stats() const { return stats_; }

 private:
  Result<void> reconnect();
  void send(const std::vector<proto::Envelope>& msgs);
  void handleFrame(const std::string& payload, Millis now);

  SessionOptions opts_;
  AgentEngine& engine_;
  Logger log_;
  std::unique_ptr<transport::Client> client_;
  SessionStats stats_;
};

}  // namespace vnuma::agent
