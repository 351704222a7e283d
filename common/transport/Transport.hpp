#pragma once
// A small ZeroMQ transport. cppzmq stays private to common/transport/*.cpp: no other module
// includes zmq.hpp.
//
// Server: ROUTER socket (agent endpoint or admin endpoint). Client: DEALER socket.
// Each socket is owned by exactly one thread (ZeroMQ sockets are not thread-safe); the only
// thread-safe member anywhere here is Waker::wake().
// Frames larger than maxMessageBytes are refused by ZeroMQ itself (ZMQ_MAXMSGSIZE) on the
// receiving side, so a hostile peer cannot make us allocate. Linger is 0 by default: close
// never blocks.
//
// CURVE: when `curveSecretKey` is set on a Server it is a CURVE server; every connecting client
// is authenticated through a ZAP handler run inside the same Server object (polled by
// receive()/Poller), which calls `authorize(clientPublicKeyZ85)`. Accepted messages carry the
// client's public key in Incoming::clientKey, so the caller can bind it to a VM.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/Result.hpp"

namespace vnuma::transport {

inline constexpr std::size_t kMaxAgentMessageBytes = 64 * 1024;
inline constexpr std::size_t kMaxAdminMessageBytes = 1024 * 1024;

// Z85-encoded CURVE keys (40 characters each).
struct CurveKeyPair {
  std::string publicKey;
  std::string secretKey;
};

Result<CurveKeyPair> generateCurveKeyPair();
// Key files: "<name>.pub" holds the 40-char public key, "<name>.key" (mode 0600) the secret key;
// a trailing newline and '#' comment lines are allowed. The public key is derived from the
// secret key on load and must match a .pub next to it when one exists.
Result<CurveKeyPair> loadCurveKeyPair(const std::string& secretKeyFile);
Result<std::string> loadCurvePublicKey(const std::string& publicKeyFile);
// Writes dir/name.key (0600) and dir/name.pub (0644); refuses to overwrite existing files.
Result<void> writeCurveKeyPair(const CurveKeyPair& keys, const std::string& dir, const std::string& name);

struct Incoming {
  std::string peer;       // ZeroMQ routing id; pass back to Server::send
  std::string clientKey;  // Z85 public key of the CURVE client; empty without CURVE
  std::string payload;
};

struct ServerOptions {
  std::string endpoint;                         // "tcp://127.0.0.1:5600", "ipc:///run/vnuma/admin.sock"
  std::optional<std::string> curveSecretKey;    // Z85; makes this a CURVE server
  std::function<bool(const std::string& clientKey)> authorize;  // CURVE only; nullptr = allow all
  std::size_t maxMessageBytes = kMaxAgentMessageBytes;
  int lingerMs = 0;
  std::optional<unsigned> ipcFileMode;          // chmod for ipc:// endpoints, e.g. 0660
  int sendHighWaterMark = 1000;                 // bounded queues; excess sends fail with kUnavailable
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> bind(ServerOptions opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Waits up to `timeout` for one message (0 = don't wait). nullopt on timeout. Messages that
  // are not exactly [routing id, payload] are dropped (counted in droppedMessages()).
  Result<std::optional<Incoming>> receive(std::chrono::milliseconds timeout);
  // Non-blocking; kUnavailable when the peer is gone or its queue is full.
  Result<void> send(const std::string& peer, std::string_view payload);
  // The endpoint actually bound ("tcp://127.0.0.1:41234" when bound to port 0).
  std::string boundEndpoint() const;
  std::uint64_t droppedMessages() const;
  std::uint64_t refusedClients() const;  // CURVE clients refused by authorize()

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class Poller;
};

struct ClientOptions {
  std::string endpoint;
  std::optional<std::string> serverPublicKey;  // set together with clientKeys for CURVE
  std::optional<CurveKeyPair> clientKeys;
  std::size_t maxMessageBytes = kMaxAgentMessageBytes;
  int lingerMs = 0;
  int sendHighWaterMark = 100;
  // ZeroMQ reconnects by itself; these bound its backoff.
  std::chrono::milliseconds reconnectInterval{100};
  std::chrono::milliseconds reconnectIntervalMax{5000};
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> connect(ClientOptions opts);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<void> send(std::string_view payload);  // non-blocking; kUnavailable when queue full
  Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout);

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class Poller;
};

// Wakes a Poller from another thread or a signal handler (eventfd under the hood; a plain fd
// is simpler than an inproc pair and can also carry signalfd-style wakeups).
class Waker {
 public:
  static Result<std::unique_ptr<Waker>> create();
  ~Waker();
  void wake() noexcept;  // thread-safe, async-signal-safe
  void drain() noexcept;
  int fd() const noexcept { return fd_; }

 private:
  explicit Waker(int fd) : fd_(fd) {}
  int fd_;
};

// Waits on several servers, clients and plain fds (signalfd, libvirt's event fd, a Waker) at
// once. Owned by the thread that owns the sockets. Indexes are in order of add*().
class Poller {
 public:
  std::size_t add(Server& s);
  std::size_t add(Client& c);
  std::size_t addFd(int fd);
  // Indexes that are readable, empty on timeout. EINTR is a timeout, not an error.
  Result<std::vector<std::size_t>> wait(std::chrono::milliseconds timeout);

 private:
  struct Item {
    Server* server = nullptr;
    Client* client = nullptr;
    int fd = -1;
  };
  std::vector<Item> items_;
};

}  // namespace vnuma::transport
