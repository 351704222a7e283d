// Unit tests of the protocol rules in AgentEngine, with a fake CpuMechanism (logic only; the
// real mechanisms have their own fixture and real-cgroup tests).
#include <gtest/gtest.h>

#include "common/core/Version.hpp"
#include "guest-agent/engine/AgentEngine.hpp"
#include "guest-agent/testutil/TestUtil.hpp"

namespace vnuma::agent {
namespace {

class FakeMechanism : public CpuMechanism {
 public:
  const char* name() const override { return "cgroup"; }
  Result<CpuSet> eligible() const override { return eligible_; }
  Result<std::vector<ItemOutcome>> apply(const CpuSet& target, const CpuQuota& quota) override {
    ++applies;
    if (failNext) {
      Error e = *failNext;
      failNext.reset();
      return e;
    }
    applied_ = target;
    lastQuota = quota;
    return std::vector<ItemOutcome>{{"cgroup:/a", true, "cpus=" + target.toList(), false}};
  }
  Result<CpuSet> applied() const override { return applied_; }
  Result<std::vector<std::string>> repair(const CpuSet&, const CpuQuota&) override {
    ++repairs;
    auto out = pendingRepairs;
    pendingRepairs.clear();
    return out;
  }
  std::vector<std::string> plan(const CpuSet&, const CpuQuota&) const override { return {}; }

  CpuSet eligible_{0, 1, 2};
  CpuSet applied_{0, 1, 2, 3};
  int applies = 0;
  int repairs = 0;
  CpuQuota lastQuota;
  std::optional<Error> failNext;
  std::vector<std::string> pendingRepairs;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    EngineInfo info;
    info.identity.vmUuid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    info.identity.hostname = "guest1";
    info.agentVersion = "test";
    info.cgroupMode = "v2";
    NodeInfo n0;
    n0.id = 0;
    n0.cpus = CpuSet{0, 1, 2, 3};
    info.topology.nodes.push_back(n0);
    for (unsigned c = 0; c < 4; ++c) {
      CpuInfo ci;
      ci.id = c;
      ci.online = c != 3;
      ci.node = 0;
      info.topology.cpus.push_back(ci);
    }
    info.topology.online = CpuSet{0, 1, 2};
    engine_ = std::make_unique<AgentEngine>(info, mech_, nullptr, nullptr, log_.logger);
  }
  proto::Envelope welcome(std::uint64_t session, std::uint32_t leaseMs = 0) {
    proto::Envelope e;
    e.set_version(kProtocolVersion);
    e.set_seq(++brokerSeq_);
    auto* w = e.mutable_welcome();
    w->set_session_id(session);
    w->add_floor_vcpus(0);
    w->set_lease_ms(leaseMs);
    w->set_report_period_ms(250);
    return e;
  }
  proto::Envelope grant(std::uint64_t gen, std::initializer_list<unsigned> vcpus,
                        std::uint32_t quota = 0) {
    proto::Envelope e;
    e.set_version(kProtocolVersion);
    e.set_seq(++brokerSeq_);
    e.set_session_id(7);
    auto* g = e.mutable_grant();
    g->set_generation(gen);
    for (unsigned v : vcpus) g->add_vcpus(v);
    g->set_quota_us(quota);
    return e;
  }
  proto::Ack ackOf(const std::vector<proto::Envelope>& out) {
    EXPECT_EQ(out.size(), 1u);
    if (out.empty()) return {};
    EXPECT_TRUE(out[0].has_ack());
    EXPECT_EQ(out[0].session_id(), 7u);
    return out[0].ack();
  }
  void start(std::uint32_t leaseMs = 0) {
    (void)engine_->hello();
    EXPECT_TRUE(engine_->onMessage(welcome(7, leaseMs), Millis(0)).empty());
  }

  FakeMechanism mech_;
  test::CapturedLog log_;
  std::unique_ptr<AgentEngine> engine_;
  std::uint64_t brokerSeq_ = 0;
};

TEST_F(EngineTest, HelloDescribesTheGuest) {
  auto h = engine_->hello();
  ASSERT_TRUE(h.has_hello());
  EXPECT_EQ(h.version(), kProtocolVersion);
  EXPECT_EQ(h.session_id(), 0u);
  EXPECT_EQ(h.hello().vm_uuid(), "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
  EXPECT_EQ(h.hello().mechanism(), "cgroup");
  EXPECT_EQ(h.hello().cgroup_mode(), "v2");
  ASSERT_EQ(h.hello().nodes_size(), 1);
  EXPECT_EQ(h.hello().nodes(0).vcpus_size(), 4);
  EXPECT_EQ(h.hello().online_vcpus_size(), 3);
  EXPECT_EQ(h.hello().applied_vcpus_size(), 4);
}

TEST_F(EngineTest, GrantBeforeWelcomeIsIgnored) {
  (void)engine_->hello();
  EXPECT_TRUE(engine_->onMessage(grant(1, {0}), Millis(0)).empty());
  EXPECT_EQ(mech_.applies, 0);
}

TEST_F(EngineTest, GrantIsAppliedAckedAndRepeatsAreIdempotent) {
  start();
  EXPECT_EQ(engine_->periodMs(), 250u);
  auto ack = ackOf(engine_->onMessage(grant(5, {0, 2}, 50000), Millis(1)));
  EXPECT_TRUE(ack.ok());
  EXPECT_EQ(ack.generation(), 5u);
  ASSERT_EQ(ack.applied_vcpus_size(), 2);
  EXPECT_EQ(ack.applied_vcpus(1), 2u);
  ASSERT_EQ(ack.items_size(), 1);
  EXPECT_EQ(ack.items(0).item(), "cgroup:/a");
  EXPECT_EQ(mech_.lastQuota.quotaUs, 50000u);
  EXPECT_EQ(mech_.lastQuota.periodUs, 100000u);
  EXPECT_EQ(engine_->appliedGeneration(), 5u);
  // Same generation again: the stored ack, no second apply.
  auto again = ackOf(engine_->onMessage(grant(5, {0, 2}, 50000), Millis(2)));
  EXPECT_EQ(again.SerializeAsString(), ack.SerializeAsString());
  EXPECT_EQ(mech_.applies, 1);
  // Older generation: refused, nothing changes.
  auto old = ackOf(engine_->onMessage(grant(4, {1}), Millis(3)));
  EXPECT_FALSE(old.ok());
  EXPECT_EQ(old.error(), "stale generation 4 (newest seen 5)");
  EXPECT_EQ(mech_.applies, 1);
  EXPECT_EQ(mech_.applied_.toList(), "0,2");
}

struct BadGrantCase {
  const char* description;
  std::initializer_list<unsigned> vcpus;
  const char* error;
};

TEST_F(EngineTest, BadGrantsAreRefusedWithReasonAndChangeNothing) {
  start();
  const BadGrantCase cases[] = {
      {"empty set", {}, "empty vCPU set"},
      {"vCPU the guest does not have", {0, 9, 10}, "unknown vCPUs: 9-10"},
      {"offline vCPU", {0, 3}, "offline vCPUs: 3"},
  };
  std::uint64_t gen = 10;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto ack = ackOf(engine_->onMessage(grant(++gen, c.vcpus), Millis(1)));
    EXPECT_FALSE(ack.ok());
    EXPECT_EQ(ack.error(), c.error);
    EXPECT_EQ(ack.generation(), gen);
    EXPECT_EQ(ack.applied_vcpus_size(), 4);  // still what the kernel had
  }
  auto e = grant(++gen, {0});
  e.mutable_grant()->set_quota_us(1000);
  e.mutable_grant()->set_period_us(10);
  auto ack = ackOf(engine_->onMessage(e, Millis(1)));
  EXPECT_EQ(ack.error(), "bad quota period 10 us (allowed 1000..1000000)");
  EXPECT_EQ(mech_.applies, 0);
  EXPECT_EQ(engine_->appliedGeneration(), 0u);
}

TEST_F(EngineTest, MechanismFailureIsAnErrorAck) {
  start();
  mech_.failNext = Error(Errc::kSystem, "injected fault writing /x/cpuset.cpus", EBUSY);
  auto ack = ackOf(engine_->onMessage(grant(1, {1}), Millis(1)));
  EXPECT_FALSE(ack.ok());
  EXPECT_EQ(ack.error(), "injected fault writing /x/cpuset.cpus: Device or resource busy");
  EXPECT_EQ(ack.applied_vcpus_size(), 4);
  EXPECT_EQ(engine_->appliedGeneration(), 0u);
}

TEST_F(EngineTest, StaleSessionDuplicateSeqAndUnexpectedBodies) {
  start();
  auto g = grant(1, {0});
  g.set_session_id(6);
  EXPECT_TRUE(engine_->onMessage(g, Millis(1)).empty());
  auto g2 = grant(2, {0});
  ASSERT_EQ(engine_->onMessage(g2, Millis(1)).size(), 1u);
  EXPECT_TRUE(engine_->onMessage(g2, Millis(1)).empty());  // same seq: ignored
  EXPECT_EQ(mech_.applies, 1);
  proto::Envelope r;
  r.set_version(kProtocolVersion);
  r.set_seq(++brokerSeq_);
  r.set_session_id(7);
  r.mutable_report();
  auto out = engine_->onMessage(r, Millis(1));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].has_error());
  EXPECT_EQ(out[0].error().code(), proto::Error::BAD_REQUEST);
  EXPECT_EQ(out[0].error().message(), "unexpected report from the broker");
  EXPECT_EQ(out[0].error().ref_seq(), r.seq());
  auto bad = engine_->onMalformed("not a protobuf Envelope");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].error().code(), proto::Error::MALFORMED);
  EXPECT_EQ(bad[0].error().message(), "not a protobuf Envelope");
  EXPECT_NE(log_.text().find("dropping malformed message reason=\"not a protobuf Envelope\""),
            std::string::npos);
  engine_->resetSession();
  EXPECT_TRUE(engine_->onMalformed("x").empty());
}

TEST_F(EngineTest, ExpiredLeaseShrinksToFloorAndNeverGrows) {
  start(1000);
  ASSERT_TRUE(ackOf(engine_->onMessage(grant(1, {0, 1, 2}), Millis(100))).ok());
  (void)engine_->tick(Millis(900));
  EXPECT_EQ(mech_.applied_.toList(), "0-2");
  (void)engine_->tick(Millis(1200));  // 1100 ms of silence > 1000 ms lease
  EXPECT_EQ(mech_.applied_.toList(), "0");
  EXPECT_TRUE(engine_->leaseExpired());
  const int applies = mech_.applies;
  (void)engine_->tick(Millis(5000));
  EXPECT_EQ(mech_.applies, applies);
  EXPECT_EQ(mech_.applied_.toList(), "0");
  EXPECT_NE(log_.text().find("lease expired lease_ms=1000 silent_ms=1100: shrank 0-2 -> floor 0"),
            std::string::npos);
  // The broker comes back and repeats the same generation: applied again (it renewed it).
  auto ack = ackOf(engine_->onMessage(grant(1, {0, 1, 2}), Millis(5100)));
  EXPECT_TRUE(ack.ok());
  EXPECT_EQ(mech_.applied_.toList(), "0-2");
  EXPECT_FALSE(engine_->leaseExpired());
}

TEST_F(EngineTest, TickRepairsDriftAndReports) {
  start();
  ASSERT_TRUE(ackOf(engine_->onMessage(grant(1, {1}), Millis(0))).ok());
  mech_.pendingRepairs = {"cgroup:/a cpus '0-3' -> '1'", "cgroup:/b cpus '' -> '1'"};
  auto out = engine_->tick(Millis(10));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].has_report());
  EXPECT_EQ(out[0].report().drift_repairs(), 2u);
  EXPECT_EQ(out[0].report().applied_generation(), 1u);
  ASSERT_EQ(out[0].report().applied_vcpus_size(), 1);
  EXPECT_EQ(out[0].report().applied_vcpus(0), 1u);
  EXPECT_NE(log_.text().find("drift repaired: cgroup:/b cpus '' -> '1'"), std::string::npos);
  auto next = engine_->tick(Millis(20));
  EXPECT_EQ(next[0].report().drift_repairs(), 0u);
  EXPECT_GT(next[0].seq(), out[0].seq());
  engine_->resetSession();
  EXPECT_TRUE(engine_->tick(Millis(30)).empty());  // no session: repair only, no report
  EXPECT_EQ(mech_.repairs, 3);
}

}  // namespace
}  // namespace vnuma::agent
