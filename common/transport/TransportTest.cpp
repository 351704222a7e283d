// Real ZeroMQ sockets on 127.0.0.1 and ipc:// in a temporary directory (label: integration).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/transport/Transport.hpp"

namespace vnuma::transport {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr auto kWait = 2000ms;  // generous bound for anything that should happen at once

std::unique_ptr<Server> bindServer(ServerOptions opts) {
  auto s = Server::bind(std::move(opts));
  EXPECT_TRUE(s.ok()) << s.error().describe();
  return s.ok() ? std::move(s.value()) : nullptr;
}

std::unique_ptr<Client> connectClient(ClientOptions opts) {
  auto c = Client::connect(std::move(opts));
  EXPECT_TRUE(c.ok()) << c.error().describe();
  return c.ok() ? std::move(c.value()) : nullptr;
}

ServerOptions plainServer() {
  ServerOptions o;
  o.endpoint = "tcp://127.0.0.1:0";
  return o;
}

ClientOptions plainClient(std::string endpoint) {
  ClientOptions o;
  o.endpoint = std::move(endpoint);
  return o;
}

// Receives on `s` until a message arrives or `timeout` passes.
std::optional<Incoming> receiveOne(Server& s, std::chrono::milliseconds timeout = kWait) {
  auto r = s.receive(timeout);
  EXPECT_TRUE(r.ok()) << r.error().describe();
  return r.ok() ? std::move(r.value()) : std::nullopt;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vnuma-transport-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void writeFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::trunc) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

TEST(Transport, PlainRoundTrip) {
  auto server = bindServer(plainServer());
  ASSERT_TRUE(server);
  EXPECT_THAT(server->boundEndpoint(), ::testing::MatchesRegex("tcp://127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_NE(server->boundEndpoint(), "tcp://127.0.0.1:0");

  auto client = connectClient(plainClient(server->boundEndpoint()));
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("hello").ok());
  auto in = receiveOne(*server);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->payload, "hello");
  EXPECT_EQ(in->clientKey, "");
  EXPECT_FALSE(in->peer.empty());

  ASSERT_TRUE(server->send(in->peer, "welcome").ok());
  auto reply = client->receive(kWait);
  ASSERT_TRUE(reply.ok()) << reply.error().describe();
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ(**reply, "welcome");

  // Binary payloads with NUL bytes pass unchanged; the empty payload too.
  const std::string binary("\0\x01\xff\0", 4);
  ASSERT_TRUE(client->send(binary).ok());
  ASSERT_TRUE(client->send("").ok());
  in = receiveOne(*server);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->payload, binary);
  in = receiveOne(*server);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->payload, "");
  EXPECT_EQ(server->droppedMessages(), 0u);
}

TEST(Transport, ReceiveTimesOutWithNothing) {
  auto server = bindServer(plainServer());
  ASSERT_TRUE(server);
  const auto start = std::chrono::steady_clock::now();
  auto r = server->receive(50ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_GE(took, 45ms);
  EXPECT_LT(took, 1000ms);
  auto zero = server->receive(0ms);
  ASSERT_TRUE(zero.ok());
  EXPECT_FALSE(zero->has_value());
}

struct CurveFixture {
  CurveKeyPair server = generateCurveKeyPair().value();
  CurveKeyPair good = generateCurveKeyPair().value();
  CurveKeyPair bad = generateCurveKeyPair().value();

  ServerOptions serverOptions(std::function<bool(const std::string&)> authorize) const {
    ServerOptions o = plainServer();
    o.curveSecretKey = server.secretKey;
    o.authorize = std::move(authorize);
    return o;
  }
  // A client of `s` presenting `keys`.
  std::unique_ptr<Client> connect(const Server& s, const CurveKeyPair& keys) const {
    return connectClient(
        {.endpoint = s.boundEndpoint(), .serverPublicKey = server.publicKey, .clientKeys = keys});
  }
};

TEST(Transport, CurveRoundTripReportsClientKey) {
  CurveFixture k;
  std::vector<std::string> asked;
  auto server = bindServer(k.serverOptions([&](const std::string& key) {
    asked.push_back(key);
    return key == k.good.publicKey;
  }));
  ASSERT_TRUE(server);
  auto client = k.connect(*server, k.good);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("hello over curve").ok());
  auto in = receiveOne(*server);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->payload, "hello over curve");
  EXPECT_EQ(in->clientKey, k.good.publicKey);
  EXPECT_THAT(asked, ::testing::ElementsAre(k.good.publicKey));
  EXPECT_EQ(server->refusedClients(), 0u);

  ASSERT_TRUE(server->send(in->peer, "welcome").ok());
  auto reply = client->receive(kWait);
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ(**reply, "welcome");
}

TEST(Transport, UnauthorizedCurveClientNeverGetsThrough) {
  CurveFixture k;
  auto server =
      bindServer(k.serverOptions([&](const std::string& key) { return key == k.good.publicKey; }));
  ASSERT_TRUE(server);
  auto intruder = k.connect(*server, k.bad);
  ASSERT_TRUE(intruder);
  ASSERT_TRUE(intruder->send("let me in").ok());
  // A plain (non-CURVE) client does not even reach the ZAP handler.
  auto plain = connectClient(plainClient(server->boundEndpoint()));
  ASSERT_TRUE(plain);
  ASSERT_TRUE(plain->send("plain text").ok());

  auto in = server->receive(500ms);
  ASSERT_TRUE(in.ok());
  EXPECT_FALSE(in->has_value()) << "got " << (*in)->payload;
  EXPECT_GE(server->refusedClients(), 1u);

  // The legitimate client still gets through on the same server.
  auto good = k.connect(*server, k.good);
  ASSERT_TRUE(good);
  ASSERT_TRUE(good->send("legit").ok());
  auto legit = receiveOne(*server);
  ASSERT_TRUE(legit);
  EXPECT_EQ(legit->payload, "legit");
  EXPECT_EQ(legit->clientKey, k.good.publicKey);
}

TEST(Transport, RefusedClientRetriesAndGetsInOnceAuthorized) {
  CurveFixture k;
  bool allowed = false;  // the key is installed on the broker later
  auto server = bindServer(
      k.serverOptions([&](const std::string& key) { return allowed && key == k.good.publicKey; }));
  ASSERT_TRUE(server);
  ClientOptions co{.endpoint = server->boundEndpoint(),
                   .serverPublicKey = k.server.publicKey,
                   .clientKeys = k.good};
  co.reconnectInterval = 20ms;
  co.reconnectIntervalMax = 150ms;
  auto client = connectClient(co);
  ASSERT_TRUE(client);
  // One thread drives both ends through one Poller: ZAP answers, refusal detection and the retry
  // all happen inside wait().
  Poller poller;
  const std::size_t serverIdx = poller.add(*server);
  poller.add(*client);
  ASSERT_TRUE(client->send("hello").ok());
  const auto deadline = std::chrono::steady_clock::now() + 3 * kWait;
  while (client->handshakeRefusals() == 0 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(poller.wait(20ms).ok());
  }
  ASSERT_EQ(client->handshakeRefusals(), 1u);
  EXPECT_EQ(server->refusedClients(), 1u);
  auto refused = client->send("hello");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Errc::kUnavailable);
  EXPECT_THAT(refused.error().describe(),
              ::testing::MatchesRegex(server->boundEndpoint() +
                                      " refused this client's key; retrying in [0-9]+ ms"));

  allowed = true;
  std::optional<Incoming> in;
  while (!in && std::chrono::steady_clock::now() < deadline) {
    (void)client->send("hello");  // the greeting is re-sent until answered, as the agent does
    auto r = poller.wait(20ms);
    ASSERT_TRUE(r.ok());
    if (!r->empty() && r->front() == serverIdx) in = server->receive(0ms).value();
  }
  ASSERT_TRUE(in) << "client never retried after being refused";
  EXPECT_EQ(in->payload, "hello");
  EXPECT_EQ(in->clientKey, k.good.publicKey);
  EXPECT_EQ(server->refusedClients(), 1u);
}

TEST(Transport, CurveClientWithWrongServerKeyNeverGetsThrough) {
  CurveFixture k;
  auto server = bindServer(k.serverOptions(nullptr));  // every CURVE client key is admitted
  ASSERT_TRUE(server);
  auto client = connectClient({.endpoint = server->boundEndpoint(),
                               .serverPublicKey = k.bad.publicKey,  // not the server's key
                               .clientKeys = k.good});
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("hello").ok());
  auto in = server->receive(300ms);
  ASSERT_TRUE(in.ok());
  EXPECT_FALSE(in->has_value());
  EXPECT_EQ(server->refusedClients(), 0u);  // the handshake fails before ZAP is asked

  // Without authorize any client key is admitted once the server key is right.
  auto right = k.connect(*server, k.bad);
  ASSERT_TRUE(right);
  ASSERT_TRUE(right->send("any key").ok());
  auto admitted = receiveOne(*server);
  ASSERT_TRUE(admitted);
  EXPECT_EQ(admitted->clientKey, k.bad.publicKey);
}

TEST(Transport, ThrowingAuthorizeRefuses) {
  CurveFixture k;
  auto server = bindServer(
      k.serverOptions([](const std::string&) -> bool { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(server);
  auto client = k.connect(*server, k.good);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("hello").ok());
  auto in = server->receive(300ms);
  ASSERT_TRUE(in.ok());
  EXPECT_FALSE(in->has_value());
  EXPECT_GE(server->refusedClients(), 1u);
}

// ZMQ_MAXMSGSIZE: libzmq closes the connection of a peer that sends a larger frame, before
// reading it. The DEALER reconnects by itself after reconnectInterval, so messages sent later
// arrive (on a new routing id); messages queued while the connection was down may be lost.
TEST(Transport, OversizedFrameDisconnectsThenClientRecovers) {
  ServerOptions so = plainServer();
  so.maxMessageBytes = 1024;
  auto server = bindServer(so);
  ASSERT_TRUE(server);
  ClientOptions co = plainClient(server->boundEndpoint());
  co.maxMessageBytes = 1 << 20;  // the client itself would let a big frame out
  co.reconnectInterval = 20ms;
  auto client = connectClient(co);
  ASSERT_TRUE(client);

  ASSERT_TRUE(client->send("before").ok());
  auto first = receiveOne(*server);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->payload, "before");

  ASSERT_TRUE(client->send(std::string(1025, 'x')).ok());
  auto none = server->receive(200ms);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "oversized frame was delivered";
  // The old routing id is gone: the broker learns the peer left.
  auto gone = server->send(first->peer, "to the old connection");
  EXPECT_FALSE(gone.ok());
  if (!gone.ok()) {
    EXPECT_EQ(gone.error().code(), Errc::kUnavailable);
  }

  // Later good messages arrive after the automatic reconnect.
  std::optional<Incoming> after;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!after && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(client->send("after").ok());
    auto r = server->receive(100ms);
    ASSERT_TRUE(r.ok());
    after = std::move(*r);
  }
  ASSERT_TRUE(after) << "client never recovered after the oversized frame";
  EXPECT_EQ(after->payload, "after");
  EXPECT_NE(after->peer, first->peer);
}

TEST(Transport, SendRefusesPayloadAboveOwnLimit) {
  auto server = bindServer(plainServer());
  ASSERT_TRUE(server);
  ClientOptions co = plainClient(server->boundEndpoint());
  co.maxMessageBytes = 16;
  auto client = connectClient(co);
  ASSERT_TRUE(client);
  auto r = client->send(std::string(17, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(r.error().describe(), "payload of 17 bytes exceeds maxMessageBytes 16");
  EXPECT_TRUE(client->send(std::string(16, 'x')).ok());
}

TEST(Transport, MultipartGarbageIsDroppedAndCounted) {
  auto server = bindServer(plainServer());
  ASSERT_TRUE(server);
  // A raw DEALER speaking the wire protocol but sending multipart messages.
  void* ctx = zmq_ctx_new();
  void* raw = zmq_socket(ctx, ZMQ_DEALER);
  int linger = 0;
  zmq_setsockopt(raw, ZMQ_LINGER, &linger, sizeof linger);
  ASSERT_EQ(zmq_connect(raw, server->boundEndpoint().c_str()), 0);
  ASSERT_EQ(zmq_send(raw, "a", 1, ZMQ_SNDMORE), 1);
  ASSERT_EQ(zmq_send(raw, "b", 1, 0), 1);
  ASSERT_EQ(zmq_send(raw, "x", 1, ZMQ_SNDMORE), 1);
  ASSERT_EQ(zmq_send(raw, "y", 1, ZMQ_SNDMORE), 1);
  ASSERT_EQ(zmq_send(raw, "z", 1, 0), 1);
  ASSERT_EQ(zmq_send(raw, "good", 4, 0), 4);

  auto in = receiveOne(*server);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->payload, "good");
  EXPECT_EQ(server->droppedMessages(), 2u);
  zmq_close(raw);
  zmq_ctx_term(ctx);
}

// A REQ socket (what most ZeroMQ bindings offer first) adds an empty delimiter frame; the reply
// must carry it back or REQ discards it. REQ alternates strictly, so two rounds prove the
// envelope is right each time, and a DEALER on the same server still gets bare replies.
TEST(Transport, ReqClientGetsItsReplies) {
  auto server = bindServer(plainServer());
  ASSERT_TRUE(server);
  void* ctx = zmq_ctx_new();
  void* req = zmq_socket(ctx, ZMQ_REQ);
  int linger = 0;
  int rcvTimeout = static_cast<int>(kWait.count());
  zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(req, ZMQ_RCVTIMEO, &rcvTimeout, sizeof rcvTimeout);
  ASSERT_EQ(zmq_connect(req, server->boundEndpoint().c_str()), 0);
  auto dealer = connectClient(plainClient(server->boundEndpoint()));
  ASSERT_TRUE(dealer);
  for (const std::string q : {"one", "two"}) {
    ASSERT_EQ(zmq_send(req, q.data(), q.size(), 0), static_cast<int>(q.size()));
    auto in = receiveOne(*server);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->payload, q);
    ASSERT_TRUE(server->send(in->peer, "re:" + q).ok());
    char buf[16] = {};
    const int n = zmq_recv(req, buf, sizeof buf, 0);
    ASSERT_EQ(n, static_cast<int>(q.size() + 3)) << zmq_strerror(zmq_errno());
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "re:" + q);

    ASSERT_TRUE(dealer->send("d" + q).ok());
    auto fromDealer = receiveOne(*server);
    ASSERT_TRUE(fromDealer);
    ASSERT_TRUE(server->send(fromDealer->peer, "bare").ok());
    auto reply = dealer->receive(kWait);
    ASSERT_TRUE(reply.ok() && reply.value());
    EXPECT_EQ(*reply.value(), "bare");
  }
  EXPECT_EQ(server->droppedMessages(), 0u);
  zmq_close(req);
  zmq_ctx_term(ctx);
}

TEST(Transport, SendToUnknownPeerIsUnavailable) {
  auto server = bindServer(plainServer());
  ASSERT_TRUE(server);
  auto r = server->send(std::string("\0\x12\x34\x56\x78", 5), "hello?");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kUnavailable);
  EXPECT_EQ(r.error().describe(), "peer 0012345678 is not connected");
}

TEST(Transport, SendToPeerThatLeftIsUnavailable) {
  auto server = bindServer(plainServer());
  ASSERT_TRUE(server);
  auto client = connectClient(plainClient(server->boundEndpoint()));
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("hi").ok());
  auto in = receiveOne(*server);
  ASSERT_TRUE(in);
  client.reset();
  // The disconnect is processed by libzmq's I/O thread; it shows within milliseconds.
  Result<void> r;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while ((r = server->send(in->peer, "bye")).ok() && std::chrono::steady_clock::now() < deadline) {
    (void)server->receive(10ms);
  }
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kUnavailable);
}

TEST(Transport, ServerSendQueueBoundedPerPeer) {
  ServerOptions so = plainServer();
  so.sendHighWaterMark = 4;
  auto server = bindServer(so);
  ASSERT_TRUE(server);
  // A peer that never reads: its queue and the kernel's socket buffers fill up.
  void* ctx = zmq_ctx_new();
  void* raw = zmq_socket(ctx, ZMQ_DEALER);
  int linger = 0, hwm = 1, buf = 4096;
  zmq_setsockopt(raw, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(raw, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_setsockopt(raw, ZMQ_RCVBUF, &buf, sizeof buf);
  ASSERT_EQ(zmq_connect(raw, server->boundEndpoint().c_str()), 0);
  ASSERT_EQ(zmq_send(raw, "hi", 2, 0), 2);
  auto in = receiveOne(*server);
  ASSERT_TRUE(in);
  const std::string big(60 * 1024, 'b');
  Result<void> r;
  int sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (sent < 5000 && std::chrono::steady_clock::now() < deadline) {
    r = server->send(in->peer, big);
    if (!r.ok()) break;
    ++sent;
    if (sent % 16 == 0) std::this_thread::sleep_for(1ms);  // let the I/O thread fill the socket
  }
  ASSERT_FALSE(r.ok()) << "sent " << sent << " messages without back-pressure";
  EXPECT_EQ(r.error().code(), Errc::kUnavailable);
  EXPECT_EQ(
      r.error().describe(), "send queue of peer " + [&] {
        std::string hex;
        for (unsigned char c : in->peer) {
          char b[3];
          std::snprintf(b, sizeof b, "%02x", c);
          hex += b;
        }
        return hex;
      }() + " is full");
  zmq_close(raw);
  zmq_ctx_term(ctx);
}

TEST(Transport, ClientSendQueueBounded) {
  // Nothing listens there: messages queue until the high-water mark, then kUnavailable.
  ClientOptions co = plainClient("tcp://127.0.0.1:1");
  co.sendHighWaterMark = 5;
  auto client = connectClient(co);
  ASSERT_TRUE(client);
  int sent = 0;
  Result<void> r;
  while ((r = client->send("x")).ok() && sent < 100) ++sent;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kUnavailable);
  EXPECT_EQ(r.error().describe(), "send queue to tcp://127.0.0.1:1 is full");
  EXPECT_GE(sent, 5);
  EXPECT_LT(sent, 100);
}

TEST(Transport, PollerWakesFromAnotherThread) {
  auto server = bindServer(plainServer());
  ASSERT_TRUE(server);
  auto waker = Waker::create();
  ASSERT_TRUE(waker.ok()) << waker.error().describe();
  Poller poller;
  const std::size_t serverIdx = poller.add(*server);
  const std::size_t wakerIdx = poller.addFd((*waker)->fd());
  EXPECT_EQ(serverIdx, 0u);
  EXPECT_EQ(wakerIdx, 1u);

  auto idle = poller.wait(20ms);
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->empty());

  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    (*waker)->wake();
  });
  const auto start = std::chrono::steady_clock::now();
  auto ready = poller.wait(kWait);
  const auto took = std::chrono::steady_clock::now() - start;
  t.join();
  ASSERT_TRUE(ready.ok());
  EXPECT_THAT(*ready, ::testing::ElementsAre(wakerIdx));
  EXPECT_LT(took, 1500ms);
  (*waker)->drain();
  auto drained = poller.wait(0ms);
  ASSERT_TRUE(drained.ok());
  EXPECT_TRUE(drained->empty());

  // A message makes the server index ready.
  auto client = connectClient(plainClient(server->boundEndpoint()));
  ASSERT_TRUE(client);
  const std::size_t clientIdx = poller.add(*client);
  ASSERT_TRUE(client->send("ping").ok());
  auto r = poller.wait(kWait);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ::testing::ElementsAre(serverIdx));
  auto in = receiveOne(*server, 0ms);
  ASSERT_TRUE(in);
  ASSERT_TRUE(server->send(in->peer, "pong").ok());
  r = poller.wait(kWait);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ::testing::ElementsAre(clientIdx));
}

TEST(Transport, PollerServicesCurveHandshakes) {
  CurveFixture k;
  int asked = 0;
  auto server = bindServer(k.serverOptions([&](const std::string& key) {
    ++asked;
    return key == k.good.publicKey;
  }));
  ASSERT_TRUE(server);
  Poller poller;
  poller.add(*server);
  auto client = k.connect(*server, k.good);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("via poller").ok());
  // Only the Poller runs until the message is there: it must have answered the ZAP request.
  auto r = poller.wait(kWait);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ::testing::ElementsAre(0u));
  EXPECT_EQ(asked, 1);
  auto in = receiveOne(*server, 0ms);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->payload, "via poller");
  EXPECT_EQ(in->clientKey, k.good.publicKey);
}

TEST(Transport, IpcEndpointGetsFileMode) {
  TempDir dir;
  const std::string path = dir.file("admin.sock");
  ServerOptions so;
  so.endpoint = "ipc://" + path;
  so.ipcFileMode = 0660;
  so.maxMessageBytes = kMaxAdminMessageBytes;
  auto server = bindServer(so);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->boundEndpoint(), "ipc://" + path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);

  auto client = connectClient(plainClient("ipc://" + path));
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /v1/health").ok());
  auto in = receiveOne(*server);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->payload, "GET /v1/health");
}

TEST(Transport, IpcBindNeverStealsAPath) {
  TempDir dir;
  const std::string path = dir.file("admin.sock");
  ServerOptions so;
  so.endpoint = "ipc://" + path;
  auto first = bindServer(so);
  ASSERT_TRUE(first);
  // libzmq alone would unlink the live socket and take over the path.
  auto second = Server::bind(so);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), Errc::kConflict);
  EXPECT_EQ(second.error().describe(), "another process is listening on " + path);

  const std::string file = dir.file("notes.txt");
  writeFile(file, "precious", 0644);
  ServerOptions overFile;
  overFile.endpoint = "ipc://" + file;
  auto r = Server::bind(overFile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), file + " exists and is not a socket; refusing to replace it");
  EXPECT_TRUE(fs::is_regular_file(file));
}

TEST(Transport, IpcStaleSocketIsReplaced) {
  TempDir dir;
  const std::string path = dir.file("stale.sock");
  // A socket file nobody listens on, as left behind by a crashed broker.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  ASSERT_TRUE(fs::is_socket(path));

  ServerOptions so;
  so.endpoint = "ipc://" + path;
  auto server = bindServer(so);
  ASSERT_TRUE(server);
  auto client = connectClient(plainClient(so.endpoint));
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("x").ok());
  EXPECT_TRUE(receiveOne(*server));
}

TEST(Transport, NegativeTimeoutWaitsUntilWoken) {
  auto waker = Waker::create();
  ASSERT_TRUE(waker.ok());
  Poller poller;
  poller.addFd((*waker)->fd());
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    (*waker)->wake();
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = poller.wait(-1ms);
  const auto took = std::chrono::steady_clock::now() - start;
  t.join();
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ::testing::ElementsAre(0u));
  EXPECT_GE(took, 90ms);
}

TEST(Transport, BindErrors) {
  auto noEndpoint = Server::bind(ServerOptions{});
  ASSERT_FALSE(noEndpoint.ok());
  EXPECT_EQ(noEndpoint.error().describe(), "server endpoint is empty");

  ServerOptions modeOnTcp = plainServer();
  modeOnTcp.ipcFileMode = 0600;
  auto r = Server::bind(modeOnTcp);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "ipcFileMode is set for non-ipc endpoint tcp://127.0.0.1:0");

  ServerOptions badMode;
  badMode.endpoint = "ipc:///tmp/vnuma-never-bound.sock";
  badMode.ipcFileMode = 010000;
  r = Server::bind(badMode);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "ipcFileMode 010000 is not a file mode");
  badMode.endpoint = "ipc://@vnuma-abstract";
  badMode.ipcFileMode = 0600;
  r = Server::bind(badMode);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(),
            "ipcFileMode is set for abstract socket ipc://@vnuma-abstract (it has no file)");

  ServerOptions authWithoutCurve = plainServer();
  authWithoutCurve.authorize = [](const std::string&) { return true; };
  r = Server::bind(authWithoutCurve);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(),
            "authorize is set but curveSecretKey is not (authorize needs CURVE)");

  ServerOptions badKey = plainServer();
  badKey.curveSecretKey = "short";
  r = Server::bind(badKey);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "curveSecretKey: key has 5 characters, expected 40");

  ServerOptions badScheme = plainServer();
  badScheme.endpoint = "carrier-pigeon://x";
  r = Server::bind(badScheme);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
  EXPECT_THAT(r.error().describe(), ::testing::StartsWith("binding carrier-pigeon://x: "));

  auto first = bindServer(plainServer());
  ASSERT_TRUE(first);
  ServerOptions taken = plainServer();
  taken.endpoint = first->boundEndpoint();
  r = Server::bind(taken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "binding " + first->boundEndpoint() + ": Address already in use");

  ClientOptions halfCurve = plainClient("tcp://127.0.0.1:1");
  halfCurve.serverPublicKey = generateCurveKeyPair()->publicKey;
  auto c = Client::connect(halfCurve);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().describe(), "serverPublicKey and clientKeys must be set together");
}

TEST(CurveKeys, GenerateWriteLoadRoundTrip) {
  TempDir dir;
  auto keys = generateCurveKeyPair();
  ASSERT_TRUE(keys.ok()) << keys.error().describe();
  EXPECT_EQ(keys->publicKey.size(), 40u);
  EXPECT_EQ(keys->secretKey.size(), 40u);
  ASSERT_TRUE(writeCurveKeyPair(*keys, dir.path(), "agent").ok());

  struct stat st {};
  ASSERT_EQ(::stat(dir.file("agent.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(dir.file("agent.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  auto loaded = loadCurveKeyPair(dir.file("agent.key"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
  EXPECT_EQ(loaded->publicKey, keys->publicKey);
  EXPECT_EQ(loaded->secretKey, keys->secretKey);
  auto pub = loadCurvePublicKey(dir.file("agent.pub"));
  ASSERT_TRUE(pub.ok()) << pub.error().describe();
  EXPECT_EQ(*pub, keys->publicKey);

  // Refuses to overwrite, and leaves the existing files alone.
  auto again = writeCurveKeyPair(*generateCurveKeyPair(), dir.path(), "agent");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Errc::kConflict);
  EXPECT_EQ(again.error().describe(),
            dir.file("agent.key") + " already exists; refusing to overwrite a key file");
  EXPECT_EQ(loadCurveKeyPair(dir.file("agent.key"))->secretKey, keys->secretKey);

  // A .pub alone in the way also blocks, and no .key is left behind.
  writeFile(dir.file("other.pub"), keys->publicKey + "\n", 0644);
  auto blocked = writeCurveKeyPair(*keys, dir.path(), "other");
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().describe(),
            dir.file("other.pub") + " already exists; refusing to overwrite a key file");
  EXPECT_FALSE(fs::exists(dir.file("other.key")));
}

TEST(CurveKeys, CommentsAndTrailingNewlineAccepted) {
  TempDir dir;
  auto keys = *generateCurveKeyPair();
  writeFile(dir.file("vm.key"), "# vnuma agent secret key\n\n" + keys.secretKey + "\n", 0600);
  writeFile(dir.file("vm.pub"), "# comment\n" + keys.publicKey, 0644);
  auto loaded = loadCurveKeyPair(dir.file("vm.key"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
  EXPECT_EQ(loaded->publicKey, keys.publicKey);
  // Without a .pub next to it the public key is derived.
  writeFile(dir.file("solo.key"), keys.secretKey + "\n", 0400);
  auto solo = loadCurveKeyPair(dir.file("solo.key"));
  ASSERT_TRUE(solo.ok()) << solo.error().describe();
  EXPECT_EQ(solo->publicKey, keys.publicKey);
}

struct BadKeyFile {
  const char* description;
  std::string content;
  std::string error;  // "$F" is replaced by the file's path
};

TEST(CurveKeys, BadKeyFilesAreRefusedWithExactErrors) {
  TempDir dir;
  const std::string key = generateCurveKeyPair()->publicKey;
  const std::vector<BadKeyFile> cases = {
      {"empty file", "", "key file $F holds no key"},
      {"only comments", "# nothing\n\n", "key file $F holds no key"},
      {"short key", key.substr(0, 39) + "\n",
       "key file $F line 1: key has 39 characters, expected 40"},
      {"long key", key + "A\n", "key file $F line 1: key has 41 characters, expected 40"},
      {"trailing space", key + " \n", "key file $F line 1: key has 41 characters, expected 40"},
      {"CRLF line end", key + "\r\n", "key file $F line 1: key has 41 characters, expected 40"},
      {"bad character", "# c\n" + key.substr(0, 10) + "~" + key.substr(11) + "\n",
       "key file $F line 2: invalid character '~' at position 10 (not Z85)"},
      {"non-printable character", std::string(5, 'a') + '\x01' + std::string(34, 'a'),
       "key file $F line 1: invalid character 0x01 at position 5 (not Z85)"},
      {"two keys", key + "\n" + key + "\n", "key file $F line 2: more than one key"},
      {"too large", std::string(5000, '#'), "key file $F is larger than 4096 bytes"},
  };
  int n = 0;
  for (const auto& c : cases) {
    const std::string path = dir.file("bad" + std::to_string(n++) + ".pub");
    writeFile(path, c.content, 0644);
    auto r = loadCurvePublicKey(path);
    ASSERT_FALSE(r.ok()) << c.description;
    std::string expected = c.error;
    expected.replace(expected.find("$F"), 2, path);
    EXPECT_EQ(r.error().describe(), expected) << c.description;
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument) << c.description;
  }

  auto missing = loadCurvePublicKey(dir.file("missing.pub"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::kNotFound);
  EXPECT_EQ(missing.error().describe(),
            "cannot open key file " + dir.file("missing.pub") + ": No such file or directory");

  auto directory = loadCurvePublicKey(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().describe(), "key file " + dir.path() + " is not a regular file");
}

TEST(CurveKeys, SecretKeyFileChecks) {
  TempDir dir;
  auto keys = *generateCurveKeyPair();
  auto other = *generateCurveKeyPair();

  writeFile(dir.file("open.key"), keys.secretKey + "\n", 0644);
  auto open = loadCurveKeyPair(dir.file("open.key"));
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().describe(),
            "secret key file " + dir.file("open.key") +
                " is accessible by group or others (mode 0644); run chmod 600 on it");

  writeFile(dir.file("mismatch.key"), keys.secretKey + "\n", 0600);
  writeFile(dir.file("mismatch.pub"), other.publicKey + "\n", 0644);
  auto mismatch = loadCurveKeyPair(dir.file("mismatch.key"));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().describe(), "public key in " + dir.file("mismatch.pub") +
                                             " does not match the secret key in " +
                                             dir.file("mismatch.key"));

  writeFile(dir.file("badpub.key"), keys.secretKey + "\n", 0600);
  writeFile(dir.file("badpub.pub"), "nope\n", 0644);
  auto badPub = loadCurveKeyPair(dir.file("badpub.key"));
  ASSERT_FALSE(badPub.ok());
  EXPECT_EQ(badPub.error().describe(),
            "key file " + dir.file("badpub.pub") + " line 1: key has 4 characters, expected 40");
}

TEST(CurveKeys, WriteRefusesBadInput) {
  TempDir dir;
  auto keys = *generateCurveKeyPair();
  auto other = *generateCurveKeyPair();
  struct Case {
    const char* description;
    CurveKeyPair keys;
    std::string dir;
    std::string name;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"name with slash", keys, dir.path(), "a/b", "key name 'a/b' is not a plain file name"},
      {"empty name", keys, dir.path(), "", "key name '' is not a plain file name"},
      {"dot-dot", keys, dir.path(), "..", "key name '..' is not a plain file name"},
      {"mismatched pair", CurveKeyPair{other.publicKey, keys.secretKey}, dir.path(), "x",
       "public key does not belong to the secret key"},
      {"short secret", CurveKeyPair{keys.publicKey, "abc"}, dir.path(), "x",
       "secret key: key has 3 characters, expected 40"},
      {"missing directory", keys, dir.file("nope"), "x",
       "cannot use key directory " + dir.file("nope") + ": No such file or directory"},
  };
  for (const auto& c : cases) {
    auto r = writeCurveKeyPair(c.keys, c.dir, c.name);
    ASSERT_FALSE(r.ok()) << c.description;
    EXPECT_EQ(r.error().describe(), c.error) << c.description;
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace vnuma::transport
