// The whole agent (Agent::build + BrokerSession) against a stub broker on real ZeroMQ loopback,
// applying grants to real cgroups in a sandbox subtree of this machine: acks arrive only after
// every task is confined, drift is repaired by the period loop, a silent broker makes the agent
// shrink to its floor, malformed frames are refused with a reason.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"
#include "common/transport/Transport.hpp"
#include "guest-agent/engine/Agent.hpp"
#include "guest-agent/sys/Fs.hpp"
#include "guest-agent/testutil/TestUtil.hpp"

namespace vnuma::agent {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::cpusAllowed;

class StubBroker {
 public:
  StubBroker() {
    transport::ServerOptions o;
    o.endpoint = "tcp://127.0.0.1:0";
    auto s = transport::Server::bind(o);
    if (s) server_ = std::move(s).value();
  }
  bool ok() const { return server_ != nullptr; }
  std::string endpoint() const { return server_->boundEndpoint(); }
  // Next envelope with the given body (others are skipped, except errors which are kept in
  // `errors`); nullopt after `timeout`.
  std::optional<proto::Envelope> next(proto::Envelope::BodyCase body,
                                      std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto m = server_->receive(20ms);
      if (!m || !m->has_value()) continue;
      peer_ = (*m)->peer;
      auto env = codec::decodeEnvelope((*m)->payload);
      if (!env) continue;
      if (env->has_error()) errors.push_back(env->error());
      if (env->has_report()) lastReport = env->report();
      if (env->body_case() == body) return env.value();
    }
    return std::nullopt;
  }
  void send(proto::Envelope env) {
    env.set_version(kProtocolVersion);
    env.set_seq(++seq_);
    env.set_session_id(session_);
    ASSERT_TRUE(server_->send(peer_, codec::encodeEnvelope(env)).ok());
  }
  void sendRaw(const std::string& bytes) { ASSERT_TRUE(server_->send(peer_, bytes).ok()); }
  void welcome(std::uint64_t session, std::uint32_t leaseMs) {
    session_ = session;
    proto::Envelope e;
    auto* w = e.mutable_welcome();
    w->set_session_id(session);
    w->add_floor_vcpus(0);
    w->set_lease_ms(leaseMs);
    w->set_report_period_ms(100);
    send(e);
  }
  void grant(std::uint64_t gen, std::initializer_list<unsigned> vcpus) {
    proto::Envelope e;
    e.mutable_grant()->set_generation(gen);
    for (unsigned v : vcpus) e.mutable_grant()->add_vcpus(v);
    send(e);
  }
  std::vector<proto::Error> errors;
  std::optional<proto::Report> lastReport;

 private:
  std::unique_ptr<transport::Server> server_;
  std::string peer_;
  std::uint64_t seq_ = 0;
  std::uint64_t session_ = 0;
};

std::string set(const google::protobuf::RepeatedField<std::uint32_t>& ids) {
  CpuSet s;
  for (auto i : ids) s.add(i);
  return s.toList();
}

TEST(AgentSessionIntegration, GrantsDriftLeaseAndMalformedFramesEndToEnd) {
  test::RealCgroupSandbox sandbox;
  if (!sandbox.available()) GTEST_SKIP() << sandbox.why();
  StubBroker broker;
  ASSERT_TRUE(broker.ok());
  sandbox.makeGroup("a");
  Child inA(sandbox.procsFiles("a"), true);
  Child inRoot(sandbox.procsFiles(), false);

  AgentConfig cfg;
  cfg.brokerEndpoint = broker.endpoint();
  cfg.vmUuid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
  cfg.periodMs = 100;
  cfg.cgroupRoot = sandbox.name();
  cfg.irq = cfg.workqueue = cfg.kthreads = false;  // never touch this host's IRQs or kthreads
  cfg.ensureMovable = false;                       // nor its memory policy
  cfg.reconnectMinMs = 50;
  test::CapturedLog log;
  Loggers logs{log.logger, log.logger, log.logger, log.logger, log.logger};
  auto agent = Agent::build(cfg, logs, false);
  ASSERT_TRUE(agent.ok()) << agent.error().describe();
  auto waker = transport::Waker::create();
  ASSERT_TRUE(waker.ok());
  std::thread runner([&] { (void)(*agent)->runSession((*waker)->fd(), 20s); });
  struct Stop {
    transport::Waker& w;
    std::thread& t;
    ~Stop() {
      w.wake();
      t.join();
    }
  } stop{**waker, runner};

  auto hello = broker.next(proto::Envelope::kHello, 5s);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->hello().vm_uuid(), cfg.vmUuid);
  EXPECT_EQ(hello->hello().cgroup_mode(), "hybrid");
  broker.welcome(42, 600);
  broker.grant(1, {1});
  auto ack = broker.next(proto::Envelope::kAck, 5s);
  // Checked on receipt of the ack: the agent only acks after verifying, so this must hold.
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "1");
  EXPECT_EQ(cpusAllowed(inRoot.pid()).toList(), "1");
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->ack().ok()) << ack->ack().error();
  EXPECT_EQ(set(ack->ack().applied_vcpus()), "1");
  EXPECT_GT(ack->ack().apply_us(), 0u);

  broker.grant(2, {0, 1});
  ack = broker.next(proto::Envelope::kAck, 5s);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->ack().ok());
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "0-1");

  // A bad grant: refused with a reason, nothing changes.
  broker.grant(3, {0, 7});
  ack = broker.next(proto::Envelope::kAck, 5s);
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->ack().ok());
  EXPECT_EQ(ack->ack().error(), "unknown vCPUs: 7");
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "0-1");

  // A malformed frame: refused with the decoder's reason, the session stays up.
  broker.sendRaw("definitely not protobuf");
  ASSERT_TRUE(broker.next(proto::Envelope::kReport, 2s).has_value());
  ASSERT_FALSE(broker.errors.empty());
  EXPECT_EQ(broker.errors.back().code(), proto::Error::MALFORMED);
  EXPECT_FALSE(broker.errors.back().message().empty());

  // Drift: someone narrows a cpuset; the next period repairs it and the report counts it.
  ASSERT_TRUE(writeExisting(sandbox.cpusetDir("a/cpuset.cpus"), "1").ok());
  bool repaired = false;
  for (int i = 0; i < 10 && !repaired; ++i) {
    auto rep = broker.next(proto::Envelope::kReport, 1s);
    if (rep && rep->report().drift_repairs() > 0) repaired = true;
    broker.grant(2, {0, 1});  // keeps the lease alive (same generation: re-ack only)
  }
  EXPECT_TRUE(repaired);
  EXPECT_EQ(cpusAllowed(inA.pid()).toList(), "0-1");
  EXPECT_NE(log.text().find("drift repaired: cgroup:/a cpus '1' -> '0-1'"), std::string::npos);

  // Lease: the broker goes silent; after 600 ms the agent shrinks to the floor {0}.
  const auto silentFrom = std::chrono::steady_clock::now();
  bool shrunk = false;
  while (std::chrono::steady_clock::now() - silentFrom < 3s && !shrunk) {
    std::this_thread::sleep_for(50ms);
    shrunk = cpusAllowed(inA.pid()).toList() == "0" && cpusAllowed(inRoot.pid()).toList() == "0";
  }
  EXPECT_TRUE(shrunk);
  EXPECT_GE(std::chrono::steady_clock::now() - silentFrom, 500ms);
  // ...and it looks for the broker again.
  EXPECT_TRUE(broker.next(proto::Envelope::kHello, 3s).has_value());
}

}  // namespace
}  // namespace vnuma::agent
