// ZeroMQ transport on cppzmq. cppzmq is used only in this folder's .cpp files.
#include "common/transport/Transport.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>
#include <utility>
#include <zmq.hpp>

#include "common/transport/KeyUtil.hpp"

namespace vnuma::transport {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
// ZMTP heartbeats: a peer that vanished without closing its TCP connection (a guest killed
// hard, a frozen VM) is noticed within kHeartbeatTimeoutMs, so sends to it fail fast with
// kUnavailable instead of queueing.
constexpr int kHeartbeatIvlMs = 2000;
constexpr int kHeartbeatTimeoutMs = 6000;

// libzmq's own error numbers (EFSM, ETERM, ...) are beyond strerror, so the text goes into the
// message and errnum stays 0.
Error zmqError(const std::string& what, const zmq::error_t& e) {
  const int n = e.num();
  const Errc code = (n == EINVAL || n == EPROTONOSUPPORT || n == ENOCOMPATPROTO)
                        ? Errc::kInvalidArgument
                        : Errc::kSystem;
  return Error(code, what + ": " + e.what());
}

// A wait bound: a negative timeout means no bound.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds timeout)
      : unbounded_(timeout.count() < 0 || timeout > kLongest),
        at_(Clock::now() + (unbounded_ ? std::chrono::milliseconds(0) : timeout)) {}
  // What is left to wait: -1 ms (zmq_poll's "forever") when unbounded, else >= 0.
  std::chrono::milliseconds left() const {
    if (unbounded_) return std::chrono::milliseconds(-1);
    // Round up so that a wait never ends a fraction of a millisecond early.
    const auto ns = at_ - Clock::now();
    if (ns.count() <= 0) return std::chrono::milliseconds(0);
    return std::chrono::ceil<std::chrono::milliseconds>(ns);
  }
  bool expired() const { return left().count() == 0; }

 private:
  // Longer waits are treated as unbounded (and cannot overflow the clock).
  static constexpr std::chrono::milliseconds kLongest = std::chrono::hours(24 * 365);
  bool unbounded_;
  Clock::time_point at_;
};

// Malformed messages dropped per receive step before the deadline is looked at again, so a
// flood of garbage cannot hold receive() past its timeout.
constexpr int kMaxDropsPerStep = 256;
constexpr std::size_t kMaxPendingReqPeers = 4096;

// Receives every frame of the next message without blocking. Empty vector: nothing pending.
std::vector<zmq::message_t> recvAllFrames(zmq::socket_t& s) {
  std::vector<zmq::message_t> frames;
  zmq::message_t first;
  if (!s.recv(first, zmq::recv_flags::dontwait)) return frames;
  bool more = first.more();
  frames.push_back(std::move(first));
  while (more) {
    // The remaining frames of a multipart message are delivered atomically with the first.
    zmq::message_t part;
    if (!s.recv(part, zmq::recv_flags::dontwait)) break;
    more = part.more();
    frames.push_back(std::move(part));
  }
  return frames;
}

std::string metadata(zmq::message_t& msg, const char* property) {
  const char* v = zmq_msg_gets(msg.handle(), property);
  return v != nullptr ? std::string(v) : std::string();
}

void setCommonOptions(zmq::socket_t& s, int lingerMs, std::size_t maxMessageBytes, int sendHwm) {
  s.set(zmq::sockopt::linger, lingerMs);
  s.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(maxMessageBytes));
  s.set(zmq::sockopt::sndhwm, sendHwm);
  s.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIvlMs);
  s.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
}

// libzmq's ipc bind unlinks whatever is at the path, even a socket another process is serving
// or a regular file. Refuse both; a stale socket (connection refused) may be replaced.
Result<void> checkIpcPathFree(const std::string& path) {
  if (path.empty() || path.front() == '@') return okResult();  // abstract namespace: no file
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return okResult();
    return Error::fromErrno("stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error(Errc::kConflict, path + " exists and is not a socket; refusing to replace it");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Error(Errc::kInvalidArgument, "ipc path " + path + " is too long");
  }
  path.copy(addr.sun_path, path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::fromErrno("socket");
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc == 0) {
    return Error(Errc::kConflict, "another process is listening on " + path);
  }
  if (err != ECONNREFUSED) {
    return Error(Errc::kSystem, "probing existing socket " + path, err);
  }
  return okResult();
}

Result<void> checkPayloadSize(std::string_view payload, std::size_t limit) {
  if (payload.size() > limit) {
    return Error(Errc::kInvalidArgument, "payload of " + std::to_string(payload.size()) +
                                             " bytes exceeds maxMessageBytes " +
                                             std::to_string(limit));
  }
  return okResult();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

struct Server::Impl {
  ServerOptions opts;
  zmq::context_t ctx;
  zmq::socket_t router;
  zmq::socket_t zap;  // ZAP handler (REP); only for CURVE servers
  bool curve = false;
  std::string boundEndpoint;
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> refused{0};
  // Peers whose last message came from a REQ socket ([id, "", payload]) and await the one reply
  // REQ allows; that reply carries the empty delimiter back. Erased when the reply is sent.
  std::unordered_set<std::string> reqPeers;

  // Answers every pending ZAP request without blocking. The REP socket is polled next to the
  // ROUTER: a CURVE handshake waits for this answer, so it must be serviced in the same loop.
  void serviceZap();
  // Next well-formed message without blocking; malformed ones are dropped and counted.
  std::optional<Incoming> tryReceive();
};

void Server::Impl::serviceZap() {
  if (!curve) return;
  for (;;) {
    std::vector<zmq::message_t> req = recvAllFrames(zap);
    if (req.empty()) return;
    // RFC 27: version, request id, domain, address, identity, mechanism, credentials...
    std::string requestId;
    std::string status = "400";
    std::string statusText = "refused";
    std::string userId;
    if (req.size() >= 6 && req[0].to_string_view() == "1.0") {
      requestId = req[1].to_string();
      if (req[5].to_string_view() == "CURVE" && req.size() == 7 && req[6].size() == 32) {
        char z85[41] = {};
        if (zmq_z85_encode(z85, static_cast<const std::uint8_t*>(req[6].data()), 32) != nullptr) {
          const std::string key(z85, 40);
          bool ok = true;
          if (opts.authorize) {
            try {
              ok = opts.authorize(key);
            } catch (...) {
              ok = false;  // a throwing callback must not take the server down
            }
          }
          if (ok) {
            status = "200";
            statusText = "OK";
            userId = key;
          } else {
            statusText = "client key not authorized";
          }
        }
      }
    }
    if (status != "200") refused.fetch_add(1, std::memory_order_relaxed);
    // The REP socket must answer every request it received to stay in its send state; with
    // dontwait a failed reply is dropped and libzmq fails the handshake on its own.
    try {
      zap.send(zmq::buffer(std::string_view("1.0")),
               zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      zap.send(zmq::buffer(requestId), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      zap.send(zmq::buffer(status), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      zap.send(zmq::buffer(statusText), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      zap.send(zmq::buffer(userId), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      zap.send(zmq::message_t(), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
      return;
    }
  }
}

std::optional<Incoming> Server::Impl::tryReceive() {
  for (int i = 0; i < kMaxDropsPerStep; ++i) {
    std::vector<zmq::message_t> frames = recvAllFrames(router);
    if (frames.empty()) return std::nullopt;
    // DEALER: [id, payload]; REQ: [id, "", payload]. Anything else is dropped.
    const bool req = frames.size() == 3 && frames[1].size() == 0;
    if (frames.size() != 2 && !req) {
      dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    zmq::message_t& body = frames.back();
    Incoming in;
    in.peer = frames[0].to_string();
    if (curve) {
      in.clientKey = metadata(body, "User-Id");
      if (in.clientKey.size() != 40) {  // cannot happen past our ZAP handler; never trust it
        dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    in.payload = body.to_string();
    if (req) {
      // A REQ peer that never gets its reply (it disconnected) leaves its id behind; routing ids
      // are per connection, so cap the set rather than let abandoned ones pile up.
      if (reqPeers.size() >= kMaxPendingReqPeers) reqPeers.clear();
      reqPeers.insert(in.peer);
    } else {
      reqPeers.erase(in.peer);
    }
    return in;
  }
  return std::nullopt;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::bind(ServerOptions opts) {
  if (opts.endpoint.empty()) return Error(Errc::kInvalidArgument, "server endpoint is empty");
  if (opts.maxMessageBytes == 0) return Error(Errc::kInvalidArgument, "maxMessageBytes is 0");
  if (opts.authorize && !opts.curveSecretKey) {
    return Error(Errc::kInvalidArgument,
                 "authorize is set but curveSecretKey is not (authorize needs CURVE)");
  }
  const bool isIpc = opts.endpoint.rfind("ipc://", 0) == 0;
  if (opts.ipcFileMode && !isIpc) {
    return Error(Errc::kInvalidArgument,
                 "ipcFileMode is set for non-ipc endpoint " + opts.endpoint);
  }
  if (opts.ipcFileMode && (*opts.ipcFileMode & ~07777u) != 0) {
    char octal[16];
    std::snprintf(octal, sizeof octal, "0%o", *opts.ipcFileMode);
    return Error(Errc::kInvalidArgument,
                 std::string("ipcFileMode ") + octal + " is not a file mode");
  }
  if (opts.ipcFileMode && opts.endpoint.rfind("ipc://@", 0) == 0) {
    return Error(Errc::kInvalidArgument,
                 "ipcFileMode is set for abstract socket " + opts.endpoint + " (it has no file)");
  }
  if (isIpc) VNUMA_TRY_VOID(checkIpcPathFree(opts.endpoint.substr(6)));
  std::string secret;
  if (opts.curveSecretKey) {
    auto key = detail::decodeZ85Key(*opts.curveSecretKey);
    if (!key) return std::move(key).error().context("curveSecretKey");
    secret = *key;
  }

  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>();  // the context can fail (e.g. out of file descriptors)
    impl->curve = opts.curveSecretKey.has_value();
    if (impl->curve) {
      // The ZAP handler is bound before the ROUTER so that no client can connect unchecked.
      impl->zap = zmq::socket_t(impl->ctx, zmq::socket_type::rep);
      impl->zap.set(zmq::sockopt::linger, 0);
      impl->zap.bind(kZapEndpoint);
    }
    impl->router = zmq::socket_t(impl->ctx, zmq::socket_type::router);
    setCommonOptions(impl->router, opts.lingerMs, opts.maxMessageBytes, opts.sendHighWaterMark);
    impl->router.set(zmq::sockopt::router_mandatory, 1);
    if (impl->curve) {
      impl->router.set(zmq::sockopt::curve_server, 1);
      impl->router.set(zmq::sockopt::curve_secretkey, zmq::buffer(secret));
      impl->router.set(zmq::sockopt::zap_domain, "vnuma");
    }
  } catch (const zmq::error_t& e) {
    return zmqError("setting up server socket", e);
  }
  try {
    impl->router.bind(opts.endpoint);
    impl->boundEndpoint = impl->router.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return zmqError("binding " + opts.endpoint, e);
  }
  if (isIpc && opts.ipcFileMode) {
    const std::string path = impl->boundEndpoint.substr(6);
    if (::chmod(path.c_str(), static_cast<mode_t>(*opts.ipcFileMode)) != 0) {
      return Error::fromErrno("chmod " + path);
    }
  }
  impl->opts = std::move(opts);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Result<std::optional<Incoming>> Server::receive(std::chrono::milliseconds timeout) {
  const Deadline deadline(timeout);
  for (;;) {
    try {
      impl_->serviceZap();
      if (auto in = impl_->tryReceive()) return std::optional<Incoming>(std::move(*in));
      const auto left = deadline.left();
      if (left.count() == 0) return std::optional<Incoming>();
      zmq_pollitem_t items[2] = {{impl_->router.handle(), 0, ZMQ_POLLIN, 0},
                                 {impl_->zap.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, impl_->curve ? 2 : 1, left);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return std::optional<Incoming>();
      return zmqError("receiving", e);
    }
  }
}

Result<void> Server::send(const std::string& peer, std::string_view payload) {
  VNUMA_TRY_VOID(checkPayloadSize(payload, impl_->opts.maxMessageBytes));
  try {
    const bool req = impl_->reqPeers.count(peer) > 0;
    if (!impl_->router.send(zmq::buffer(peer),
                            zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return Error(Errc::kUnavailable, "send queue of peer " + detail::hex(peer) + " is full");
    }
    // Once the routing frame is accepted the pipe has room for the rest of the message.
    if (req) {
      impl_->router.send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    }
    impl_->router.send(zmq::buffer(payload), zmq::send_flags::dontwait);
    impl_->reqPeers.erase(peer);  // REQ takes one reply, then asks again; a full queue keeps it
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      impl_->reqPeers.erase(peer);  // gone for good: routing ids are per connection
      return Error(Errc::kUnavailable, "peer " + detail::hex(peer) + " is not connected");
    }
    return zmqError("sending to peer " + detail::hex(peer), e);
  }
  return okResult();
}

std::string Server::boundEndpoint() const { return impl_->boundEndpoint; }
std::uint64_t Server::droppedMessages() const {
  return impl_->dropped.load(std::memory_order_relaxed);
}
std::uint64_t Server::refusedClients() const {
  return impl_->refused.load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Client

struct Client::Impl {
  ClientOptions opts;
  zmq::context_t ctx;
  zmq::socket_t dealer;
  // CURVE only: PAIR receiving the DEALER's "handshake refused" events. libzmq treats a ZAP
  // refusal as final and never reconnects by itself (measured with 4.3.4), so an agent started
  // before its key was installed on the broker would stay silent forever; we retry instead.
  zmq::socket_t monitor;
  bool curve = false;
  std::optional<Clock::time_point> retryAt;
  std::atomic<std::uint64_t> refusals{0};

  void serviceMonitor();
  void retryIfDue();
  // Milliseconds until a scheduled retry (>= 0), or -1 when none is scheduled.
  std::chrono::milliseconds untilRetry() const;
};

void Client::Impl::serviceMonitor() {
  if (!curve) return;
  for (;;) {
    std::vector<zmq::message_t> frames = recvAllFrames(monitor);
    if (frames.empty()) return;
    std::uint16_t event = 0;
    if (frames[0].size() >= sizeof event) std::memcpy(&event, frames[0].data(), sizeof event);
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      refusals.fetch_add(1, std::memory_order_relaxed);
      if (!retryAt) retryAt = Clock::now() + opts.reconnectIntervalMax;
    }
  }
}

void Client::Impl::retryIfDue() {
  if (!retryAt || Clock::now() < *retryAt) return;
  retryAt.reset();
  try {
    dealer.disconnect(opts.endpoint);
  } catch (const zmq::error_t&) {
    // libzmq may already have forgotten the refused connection (ENOENT): nothing to undo.
  }
  dealer.connect(opts.endpoint);
}

std::chrono::milliseconds Client::Impl::untilRetry() const {
  if (!retryAt) return std::chrono::milliseconds(-1);
  const auto ns = *retryAt - Clock::now();
  if (ns.count() <= 0) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(ns);
}

namespace {

// The shorter of two zmq_poll timeouts, where -1 means "no limit".
std::chrono::milliseconds shorter(std::chrono::milliseconds a, std::chrono::milliseconds b) {
  if (a.count() < 0) return b;
  if (b.count() < 0) return a;
  return std::min(a, b);
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::connect(ClientOptions opts) {
  if (opts.endpoint.empty()) return Error(Errc::kInvalidArgument, "client endpoint is empty");
  if (opts.maxMessageBytes == 0) return Error(Errc::kInvalidArgument, "maxMessageBytes is 0");
  if (opts.serverPublicKey.has_value() != opts.clientKeys.has_value()) {
    return Error(Errc::kInvalidArgument, "serverPublicKey and clientKeys must be set together");
  }
  std::string serverKey, publicKey, secretKey;
  if (opts.serverPublicKey) {
    auto s = detail::decodeZ85Key(*opts.serverPublicKey);
    if (!s) return std::move(s).error().context("serverPublicKey");
    auto p = detail::decodeZ85Key(opts.clientKeys->publicKey);
    if (!p) return std::move(p).error().context("client public key");
    auto k = detail::decodeZ85Key(opts.clientKeys->secretKey);
    if (!k) return std::move(k).error().context("client secret key");
    serverKey = *s;
    publicKey = *p;
    secretKey = *k;
  }
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>();
    impl->dealer = zmq::socket_t(impl->ctx, zmq::socket_type::dealer);
    setCommonOptions(impl->dealer, opts.lingerMs, opts.maxMessageBytes, opts.sendHighWaterMark);
    impl->dealer.set(zmq::sockopt::reconnect_ivl, static_cast<int>(opts.reconnectInterval.count()));
    impl->dealer.set(zmq::sockopt::reconnect_ivl_max,
                     static_cast<int>(opts.reconnectIntervalMax.count()));
    if (!serverKey.empty()) {
      impl->curve = true;
      impl->dealer.set(zmq::sockopt::curve_serverkey, zmq::buffer(serverKey));
      impl->dealer.set(zmq::sockopt::curve_publickey, zmq::buffer(publicKey));
      impl->dealer.set(zmq::sockopt::curve_secretkey, zmq::buffer(secretKey));
      // The context is this client's own, so the fixed inproc name cannot clash.
      if (zmq_socket_monitor(impl->dealer.handle(), "inproc://vnuma.client.monitor",
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
        throw zmq::error_t();
      }
      impl->monitor = zmq::socket_t(impl->ctx, zmq::socket_type::pair);
      impl->monitor.set(zmq::sockopt::linger, 0);
      impl->monitor.connect("inproc://vnuma.client.monitor");
    }
  } catch (const zmq::error_t& e) {
    return zmqError("setting up client socket", e);
  }
  try {
    impl->dealer.connect(opts.endpoint);
  } catch (const zmq::error_t& e) {
    return zmqError("connecting to " + opts.endpoint, e);
  }
  impl->opts = std::move(opts);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<void> Client::send(std::string_view payload) {
  VNUMA_TRY_VOID(checkPayloadSize(payload, impl_->opts.maxMessageBytes));
  try {
    impl_->serviceMonitor();
    impl_->retryIfDue();
    if (!impl_->dealer.send(zmq::buffer(payload), zmq::send_flags::dontwait)) {
      if (impl_->retryAt) {
        return Error(Errc::kUnavailable, impl_->opts.endpoint +
                                             " refused this client's key; retrying in " +
                                             std::to_string(impl_->untilRetry().count()) + " ms");
      }
      return Error(Errc::kUnavailable, "send queue to " + impl_->opts.endpoint + " is full");
    }
  } catch (const zmq::error_t& e) {
    return zmqError("sending to " + impl_->opts.endpoint, e);
  }
  return okResult();
}

Result<std::optional<std::string>> Client::receive(std::chrono::milliseconds timeout) {
  const Deadline deadline(timeout);
  for (;;) {
    try {
      impl_->serviceMonitor();
      impl_->retryIfDue();
      for (int i = 0; i < kMaxDropsPerStep; ++i) {
        std::vector<zmq::message_t> frames = recvAllFrames(impl_->dealer);
        if (frames.empty()) break;
        if (frames.size() == 1) return std::optional<std::string>(frames[0].to_string());
        // Multipart messages are not part of the protocol: dropped.
      }
      const auto left = deadline.left();
      if (left.count() == 0) return std::optional<std::string>();
      zmq_pollitem_t items[2] = {{impl_->dealer.handle(), 0, ZMQ_POLLIN, 0},
                                 {impl_->monitor.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, impl_->curve ? 2 : 1, shorter(left, impl_->untilRetry()));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return std::optional<std::string>();
      return zmqError("receiving from " + impl_->opts.endpoint, e);
    }
  }
}

std::uint64_t Client::handshakeRefusals() const {
  return impl_->refusals.load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Waker

Result<std::unique_ptr<Waker>> Waker::create() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return Error::fromErrno("eventfd");
  return std::unique_ptr<Waker>(new Waker(fd));
}

Waker::~Waker() { ::close(fd_); }

void Waker::wake() noexcept {
  const std::uint64_t one = 1;
  // EAGAIN only when the counter is saturated, i.e. the fd is readable anyway.
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
}

void Waker::drain() noexcept {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd_, &count, sizeof count);
}

// ---------------------------------------------------------------------------------------------
// Poller

std::size_t Poller::add(Server& s) {
  items_.push_back(Item{&s, nullptr, -1});
  return items_.size() - 1;
}

std::size_t Poller::add(Client& c) {
  items_.push_back(Item{nullptr, &c, -1});
  return items_.size() - 1;
}

std::size_t Poller::addFd(int fd) {
  items_.push_back(Item{nullptr, nullptr, fd});
  return items_.size() - 1;
}

Result<std::vector<std::size_t>> Poller::wait(std::chrono::milliseconds timeout) {
  // One pollitem per item, plus internal ones serviced here and never reported: the ZAP handler
  // of each CURVE server (authentication is invisible to the caller) and the handshake monitor
  // of each CURVE client (a refused client retries after reconnectIntervalMax).
  enum class Kind { kItem, kZap, kMonitor };
  std::vector<zmq_pollitem_t> pollItems;
  std::vector<std::size_t> owner;  // pollItems[i] belongs to items_[owner[i]]
  std::vector<Kind> kind;
  auto push = [&](void* socket, int fd, std::size_t i, Kind k) {
    pollItems.push_back({socket, fd, ZMQ_POLLIN, 0});
    owner.push_back(i);
    kind.push_back(k);
  };
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const Item& it = items_[i];
    if (it.server != nullptr) {
      push(it.server->impl_->router.handle(), 0, i, Kind::kItem);
      if (it.server->impl_->curve) push(it.server->impl_->zap.handle(), 0, i, Kind::kZap);
    } else if (it.client != nullptr) {
      push(it.client->impl_->dealer.handle(), 0, i, Kind::kItem);
      if (it.client->impl_->curve) push(it.client->impl_->monitor.handle(), 0, i, Kind::kMonitor);
    } else {
      push(nullptr, it.fd, i, Kind::kItem);
    }
  }

  const Deadline deadline(timeout);
  std::vector<std::size_t> ready;
  for (;;) {
    try {
      auto wait = deadline.left();
      for (const Item& it : items_) {
        if (it.client != nullptr) wait = shorter(wait, it.client->impl_->untilRetry());
      }
      for (auto& p : pollItems) p.revents = 0;
      zmq::poll(pollItems, wait);
      for (std::size_t k = 0; k < pollItems.size(); ++k) {
        if ((pollItems[k].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) == 0) continue;
        const Item& it = items_[owner[k]];
        if (kind[k] == Kind::kZap) {
          it.server->impl_->serviceZap();
        } else if (kind[k] == Kind::kMonitor) {
          it.client->impl_->serviceMonitor();
        } else if (ready.empty() || ready.back() != owner[k]) {
          ready.push_back(owner[k]);
        }
      }
      for (const Item& it : items_) {
        if (it.client != nullptr) it.client->impl_->retryIfDue();
      }
      if (!ready.empty() || deadline.expired()) return ready;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return ready;
      return zmqError("polling", e);
    }
  }
}

}  // namespace vnuma::transport
