#pragma once
// Agent sessions: the broker's side of the agent protocol (common/proto/agent.proto).
//
// AgentKeyRing: the agent key directory. Every "<vm-uuid>.pub" file holds one agent's CURVE
// public key; a key maps to exactly one VM uuid (lowercase). The same key in two files, a file
// name that is not a uuid, or an unreadable key is an error naming the file (load refuses the
// whole directory, so a typo cannot silently lock out or let in an agent).
//
// AgentServer: owns the agent ROUTER socket (vnuma::transport::Server, CURVE on). It
//   - refuses unknown keys at the CURVE handshake (authorize callback; counted),
//   - decodes every frame; garbage is answered with Error MALFORMED, logged, counted, dropped,
//   - binds the key to its VM: a Hello claiming another VM than its key is answered with Error
//     UNAUTHORIZED and logged (warn, with both uuids), nothing else happens,
//   - keeps one session per VM (a new Hello replaces the old one: new session id),
//   - drops duplicates and older messages (seq <= last seen) and messages of stale sessions
//     (Error NO_SESSION), and
//   - hands the engine each accepted message as an AgentMessage.
// The engine answers through sendWelcome/sendGrant/sendError (it decides what a Hello gets).
//
// Thread-safety: none; the engine thread owns it (ZeroMQ sockets belong to one thread).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent.pb.h"
#include "common/core/Result.hpp"
#include "common/log/Log.hpp"
#include "common/transport/Transport.hpp"

namespace vnuma::broker::rpc {

class AgentKeyRing {
 public:
  // Reads dir/*.pub (other files are ignored). A missing directory is an error.
  static Result<AgentKeyRing> load(const std::string& dir);
  // For tests and tools: add one binding (key Z85, uuid any case). kConflict when the key or
  // uuid is already bound.
  Result<void> add(const std::string& publicKey, const std::string& uuid);

  // The VM uuid a key is bound to; nullopt for unknown keys.
  std::optional<std::string> vmOfKey(const std::string& publicKey) const;
  std::size_t size() const { return byKey_.size(); }

 private:
  std::map<std::string, std::string> byKey_;
  std::map<std::string, std::string> byVm_;
};

// An accepted agent message, with the VM it came from (bound through its key).
struct AgentMessage {
  std::string vm;  // uuid, lowercase
  proto::Envelope envelope;
};

struct AgentServerStats {
  std::uint64_t received = 0;
  std::uint64_t malformed = 0;
  std::uint64_t unauthorized = 0;  // Hello for another VM than the key's
  std::uint64_t noSession = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t sent = 0;
  std::uint64_t sendFailures = 0;
  std::uint64_t refusedKeys = 0;  // CURVE handshakes refused (unknown key)
};

struct AgentServerOptions {
  std::string endpoint;         // tcp://127.0.0.1:5600 (port 0: pick one, see boundEndpoint)
  std::string brokerSecretKey;  // Z85
  std::uint64_t epoch = 0;      // broker start id; session ids are derived from it
  Logger log;                   // "broker.rpc"
};

class AgentServer {
 public:
  // `keys` is shared with the engine (replaced on SIGHUP through setKeys).
  static Result<std::unique_ptr<AgentServer>> bind(AgentServerOptions opts, AgentKeyRing keys);

  transport::Server& socket() { return *server_; }
  std::string boundEndpoint() const { return server_->boundEndpoint(); }
  void setKeys(AgentKeyRing keys) { keys_ = std::move(keys); }

  // Reads every pending frame without waiting; returns the accepted messages in order.
  // `nowMs` stamps lastSeen. Never fails on peer input; transport errors are logged.
  std::vector<AgentMessage> drain(std::int64_t nowMs);

  // Replies within the VM's current session; kNotFound "no session for vm X" when none.
  Result<void> sendWelcome(const std::string& vm, const proto::Welcome& w);
  Result<void> sendGrant(const std::string& vm, const proto::Grant& g);
  Result<void> sendError(const std::string& vm, proto::Error::Code code, const std::string& message,
                         std::uint64_t refSeq);

  bool connected(const std::string& vm) const { return sessions_.count(vm) != 0; }
  // Broker clock (ms) of the VM's last accepted message; nullopt when never seen.
  std::optional<std::int64_t> lastSeen(const std::string& vm) const;
  std::uint64_t sessionId(const std::string& vm) const;
  void dropSession(const std::string& vm) { sessions_.erase(vm); }
  std::size_t sessionCount() const { return sessions_.size(); }
  AgentServerStats stats() const;

 private:
  struct Session {
    std::string peer;
    std::uint64_t id = 0;
    std::uint64_t lastSeq = 0;
    std::uint64_t sendSeq = 0;
    std::int64_t lastSeenMs = 0;
  };
  AgentServer(AgentServerOptions opts, AgentKeyRing keys);
  void handleFrame(const transport::Incoming& in, std::int64_t nowMs,
                   std::vector<AgentMessage>& out);
  Result<void> sendRaw(const std::string& peer, std::uint64_t sessionId, std::uint64_t seq,
                       proto::Envelope env);
  void replyError(const std::string& peer, proto::Error::Code code, const std::string& message,
                  std::uint64_t refSeq);

  AgentServerOptions opts_;
  AgentKeyRing keys_;
  std::unique_ptr<transport::Server> server_;
  std::map<std::string, Session> sessions_;
  std::map<std::string, std::int64_t> lastSeen_;
  std::uint64_t nextSession_ = 1;
  AgentServerStats stats_;
};

// "01234567-89ab-cdef-0123-456789abcdef" (any case) -> true.
bool isUuid(const std::string& s);

}  // namespace vnuma::broker::rpc
