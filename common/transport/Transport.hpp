#pragma once
// A small ZeroMQ transport. cppzmq stays private to common/transport/*.cpp: no other module
// includes zmq.hpp.
//
// Server: ROUTER socket (agent endpoint or admin endpoint). Client: DEALER socket.
// Each socket is owned by exactly one thread (ZeroMQ sockets are not thread-safe); the only
// thread-safe members anywhere here are Waker::wake() and the counters.
// Frames larger than maxMessageBytes are refused by ZeroMQ itself (ZMQ_MAXMSGSIZE) on the
// receiving side, so a hostile peer cannot make us allocate. Linger is 0 by default: close
// never blocks.
//
// CURVE: when `curveSecretKey` is set on a Server it is a CURVE server; every connecting client
// is authenticated through a ZAP handler run inside the same Server object (polled by
// receive()/Poller), which calls `authorize(clientPublicKeyZ85)`. Accepted messages carry the
// client's public key in Incoming::clientKey, so the caller can bind it to a VM.
// authorize() runs on the owning thread, once per handshake (every reconnect asks again);
// it is not asked again for an established connection, so revoking a key takes effect on the
// next connection. A throwing authorize() counts as a refusal. A refused client is refused
// again on each of its reconnect attempts and each refusal counts in refusedClients().
//
// Measured behaviour (libzmq 4.3.4, TransportTest.cpp):
// - A frame above the receiver's maxMessageBytes is never delivered: libzmq closes that
//   connection as soon as it sees the frame header. The sender's DEALER reconnects by itself
//   after reconnectInterval and later messages arrive under a new routing id (so the server
//   should bind a session to the CURVE key, not to the routing id); the routing id of the
//   closed connection is gone (send -> kUnavailable). Messages in flight are lost.
// - Both sides refuse to *send* a payload above their own maxMessageBytes (kInvalidArgument),
//   so a configuration mismatch shows as an error at the sender, not as a silent disconnect.
// - Send to a routing id that never existed or whose connection closed: kUnavailable
//   (ZMQ_ROUTER_MANDATORY); full per-peer queue: kUnavailable.
// - ZMTP heartbeats every 2 s, 6 s timeout: a peer that vanished without closing TCP (a killed
//   or frozen guest) is dropped within ~6 s (libzmq's mechanism; not exercised by a test).
// - A Client queues up to sendHighWaterMark messages while not connected (then kUnavailable).
// - A CURVE client refused by authorize() is never reconnected by libzmq; Client detects the
//   refusal (handshakeRefusals()) and reconnects itself after reconnectIntervalMax. A client
//   with the wrong server key fails the handshake before ZAP and libzmq keeps reconnecting.
// - ipc:// endpoints: libzmq alone would unlink whatever file is at the path; bind() refuses a
//   path where another process listens or that is not a socket (kConflict) and replaces only a
//   stale socket. ipcFileMode is applied by chmod right after bind (until then the socket has
//   the process umask's mode, so keep the umask at least as strict).
//
// Timeouts: 0 = don't wait, negative = no limit. Errors: kInvalidArgument for bad options,
// endpoints or keys; kUnavailable as above; kSystem for OS/libzmq failures (with the libzmq
// text in the message).

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
// secret key on load and must match a .pub next to it when one exists. A secret key file that
// group or others may access is refused (like ssh). Errors name the file and line, e.g.
// "key file F line 1: key has 39 characters, expected 40"; a missing file is kNotFound, an
// existing target of writeCurveKeyPair kConflict, everything else about content kInvalidArgument.
Result<CurveKeyPair> loadCurveKeyPair(const std::string& secretKeyFile);
Result<std::string> loadCurvePublicKey(const std::string& publicKeyFile);
// Writes dir/name.key (0600) and dir/name.pub (0644); refuses to overwrite existing files.
Result<void> writeCurveKeyPair(const CurveKeyPair& keys, const std::string& dir,
                               const std::string& name);

struct Incoming {
  std::string peer;       // ZeroMQ routing id; pass back to Server::send
  std::string clientKey;  // Z85 public key of the CURVE client; empty without CURVE
  std::string payload;
};

struct ServerOptions {
  std::string endpoint;  // "tcp://127.0.0.1:5600", "ipc:///run/vnuma/admin.sock"
  std::optional<std::string> curveSecretKey;                    // Z85; makes this a CURVE server
  std::function<bool(const std::string& clientKey)> authorize;  // CURVE only; nullptr = allow all
  std::size_t maxMessageBytes = kMaxAgentMessageBytes;
  int lingerMs = 0;
  std::optional<unsigned> ipcFileMode;  // chmod for ipc:// endpoints, e.g. 0660
  int sendHighWaterMark = 1000;         // bounded queues; excess sends fail with kUnavailable
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
  // Non-blocking; kUnavailable when the peer is gone or its queue is full; kInvalidArgument when
  // payload is larger than maxMessageBytes.
  Result<void> send(const std::string& peer, std::string_view payload);
  // The endpoint actually bound ("tcp://127.0.0.1:41234" when bound to port 0).
  std::string boundEndpoint() const;
  std::uint64_t droppedMessages() const;  // malformed (not [routing id, payload]) messages
  std::uint64_t refusedClients() const;   // CURVE handshakes refused by authorize()
  // Both counters may be read from any thread.

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

  // Non-blocking; kUnavailable when the queue is full or, after a CURVE refusal, until the retry.
  Result<void> send(std::string_view payload);
  Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout);
  // CURVE handshakes the server refused (our key is not authorized). libzmq gives up on a
  // refused connection for good; this Client reconnects reconnectIntervalMax after a refusal
  // (during receive()/send()/Poller::wait). Messages queued before the refusal are dropped, so
  // the caller re-sends its greeting when no answer comes. May be read from any thread.
  std::uint64_t handshakeRefusals() const;

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
// once. Owned by the thread that owns the sockets. Indexes are in order of add*(). Servers,
// clients and fds added must outlive the Poller (it keeps plain pointers). CURVE handshakes of
// added servers are answered inside wait() and never reported as readiness. A ready server
// index means a message is pending; receive(0ms) may still return nullopt when it was
// malformed and dropped.
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
