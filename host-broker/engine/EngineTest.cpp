// The real engine on libvirt's test driver, real ZeroMQ over 127.0.0.1 with CURVE, simulated
// agents: handoff, a non-acking agent (host-side enforcement), lease loss, wrong keys,
// malformed frames, restart from the state dir, and admin round trips.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "host-broker/engine/testing/BrokerHarness.hpp"

namespace vnuma::broker::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kAlpha = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kBeta = "bbbbbbbb-0000-4000-8000-000000000002";

std::string fixture() { return std::string(VNUMA_ENGINE_TESTDATA) + "/host-shared4.xml"; }

HarnessOptions defaults() {
  HarnessOptions o;
  o.fixture = fixture();
  o.vmUuids = {kAlpha, kBeta};
  return o;
}

// pCPU -> owner from GET /v1/ledger, checking on the way that the view is well-formed.
std::map<unsigned, std::string> owners(BrokerHarness& h) {
  auto r = h.admin("GET", "/v1/ledger");
  EXPECT_EQ(r.status, 200u) << r.raw;
  std::map<unsigned, std::string> out;
  if (!r.body.is_object()) return out;
  for (const auto& p : r.body["pcpus"]) {
    if (!p["owner"].get<std::string>().empty())
      out[p["id"].get<unsigned>()] = p["owner"].get<std::string>();
  }
  return out;
}

json vmView(BrokerHarness& h, const std::string& id) {
  return h.admin("GET", "/v1/vms/" + id).body;
}

// Invariant 4 as the enforcer saw it: exactly the vCPUs on each VM's enforced pCPUs run at
// lowered weight (the fixture pins both VMs 1:1 over pCPUs 0-3, so vCPU id = pCPU id).
std::set<std::pair<std::string, unsigned>> expectedLowered(BrokerHarness& h) {
  std::set<std::pair<std::string, unsigned>> out;
  for (const char* name : {"alpha", "beta"}) {
    auto v = h.admin("GET", std::string("/v1/vms/") + name).body;
    auto set = CpuSet::parseList(v["pcpus"]["enforced"].get<std::string>());
    EXPECT_TRUE(set.ok()) << v.dump();
    if (set)
      for (auto p : set->ids()) out.insert({name, p});
  }
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    harness_ = std::make_unique<BrokerHarness>(defaults());
    auto r = harness_->start();
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
  void startAgents() {
    auto a = harness_->agent(kAlpha);
    auto b = harness_->agent(kBeta);
    ASSERT_TRUE(a.ok() && b.ok());
    alpha_ = std::move(a).value();
    beta_ = std::move(b).value();
    ASSERT_TRUE(alpha_->hello().ok());
    ASSERT_TRUE(beta_->hello().ok());
    // static policy, equal weights: 2 pCPUs each once both are live
    ASSERT_TRUE(pumpUntil({alpha_.get(), beta_.get()},
                          [&] {
                            return alpha_->welcomed && beta_->welcomed &&
                                   alpha_->vcpus.size() == 2 && beta_->vcpus.size() == 2;
                          },
                          10s, {alpha_.get(), beta_.get()}))
        << "alpha " << alpha_->vcpus.size() << " beta " << beta_->vcpus.size();
  }
  std::vector<SimAgent*> both() { return {alpha_.get(), beta_.get()}; }

  std::unique_ptr<BrokerHarness> harness_;
  std::unique_ptr<SimAgent> alpha_, beta_;
};

TEST_F(EngineTest, InventoryFromLibvirtTestDriver) {
  auto vms = harness_->admin("GET", "/v1/vms");
  ASSERT_EQ(vms.status, 200u) << vms.raw;
  std::map<std::string, json> byName;
  for (const auto& v : vms.body["vms"]) byName[v["name"]] = v;
  ASSERT_TRUE(byName.count("alpha") && byName.count("beta") && byName.count("loner")) << vms.raw;
  EXPECT_TRUE(byName["alpha"]["managed"].get<bool>());
  EXPECT_TRUE(byName["beta"]["managed"].get<bool>());
  EXPECT_FALSE(byName["loner"]["managed"].get<bool>());
  EXPECT_FALSE(byName["loner"]["unmanaged_reason"].get<std::string>().empty());
  auto host = harness_->admin("GET", "/v1/host");
  EXPECT_EQ(host.body["pcpus"], "0-3");
  auto health = harness_->admin("GET", "/v1/health");
  EXPECT_EQ(health.body["vms_managed"], 2);
  EXPECT_EQ(health.body["policy"], "static");
}

TEST_F(EngineTest, HelloGetsWelcomeFloorAndFairShare) {
  startAgents();
  EXPECT_EQ(alpha_->floorVcpus.size(), 1u);
  EXPECT_EQ(beta_->floorVcpus.size(), 1u);
  std::set<std::uint32_t> a(alpha_->vcpus.begin(), alpha_->vcpus.end()),
      b(beta_->vcpus.begin(), beta_->vcpus.end());
  for (auto v : a)
    EXPECT_FALSE(b.count(v)) << "vCPU " << v << " (= pCPU, 1:1 pins) granted to both";
  auto own = owners(*harness_);
  EXPECT_EQ(own.size(), 4u);
  EXPECT_EQ(std::count_if(own.begin(), own.end(), [](auto& p) { return p.second == kAlpha; }), 2);
}

TEST_F(EngineTest, TwoPhaseHandoffRevokeAckGrantAck) {
  startAgents();
  const std::size_t alphaGrantsBefore = alpha_->grants.size();
  auto patch = harness_->admin("PATCH", "/v1/vms/alpha", R"({"weight":3})");
  ASSERT_EQ(patch.status, 200u) << patch.raw;
  ASSERT_TRUE(pumpUntil(
      both(), [&] { return alpha_->vcpus.size() == 3 && beta_->vcpus.size() == 1; }, 10s, both()))
      << "alpha " << alpha_->vcpus.size() << " beta " << beta_->vcpus.size();
  // The pCPU beta lost reached alpha only after beta acknowledged the revoke.
  ASSERT_GT(alpha_->grants.size(), alphaGrantsBefore);
  const auto& growth = alpha_->grants.back();
  EXPECT_GE(growth.at, beta_->lastAckAt);
  auto own = owners(*harness_);
  EXPECT_EQ(std::count_if(own.begin(), own.end(), [](auto& p) { return p.second == kAlpha; }), 3);
  EXPECT_EQ(std::count_if(own.begin(), own.end(), [](auto& p) { return p.second == kBeta; }), 1);
  EXPECT_TRUE(harness_->enforcer().lowered().empty()) << "an acked revoke needs no enforcement";
  auto metrics = harness_->admin("GET", "/v1/metrics");
  EXPECT_NE(metrics.raw.find("vnuma_broker_enforced_revokes_total 0\n"), std::string::npos)
      << "an acked revoke needs no enforcement\n"
      << metrics.raw;
  auto ev = harness_->admin("GET", "/v1/events?since=0");
  ASSERT_EQ(ev.status, 200u);
  EXPECT_GT(ev.body["events"].size(), 4u);
}

TEST_F(EngineTest, NonAckingAgentIsEnforcedHostSideAndRestoredLater) {
  startAgents();
  beta_->autoAck = false;
  ASSERT_EQ(harness_->admin("PATCH", "/v1/vms/alpha", R"({"weight":3})").status, 200u);
  // beta never acks: after ack_timeout_ms the broker lowers beta's vCPU and moves on.
  ASSERT_TRUE(pumpUntil(
      both(), [&] { return alpha_->vcpus.size() == 3; }, 10s, both()));
  EXPECT_EQ(harness_->enforcer().lowered(), expectedLowered(*harness_));
  auto beta = vmView(*harness_, "beta");
  const std::string enforced = beta["pcpus"]["enforced"].get<std::string>();
  ASSERT_EQ(enforced.size(), 1u) << beta.dump();
  const unsigned loweredVcpu = static_cast<unsigned>(enforced[0] - '0');
  EXPECT_TRUE(harness_->enforcer().lowered().count({"beta", loweredVcpu}));
  auto metrics = harness_->admin("GET", "/v1/metrics");
  EXPECT_NE(metrics.raw.find("vnuma_broker_enforced_revokes_total 1\n"), std::string::npos)
      << metrics.raw;
  auto own = owners(*harness_);
  EXPECT_EQ(own[loweredVcpu], kAlpha) << "the enforced pCPU went to alpha";

  // Give it back: beta's weight comes back when beta is granted that pCPU again.
  beta_->autoAck = true;
  ASSERT_EQ(harness_->admin("PATCH", "/v1/vms/alpha", R"({"weight":0.25})").status, 200u);
  ASSERT_TRUE(pumpUntil(
      both(), [&] { return beta_->vcpus.size() == 3; }, 10s, both()));
  // beta now holds 3 of 4 pCPUs; if it holds the enforced one its weight is restored.
  EXPECT_EQ(harness_->enforcer().lowered(), expectedLowered(*harness_));
  if (owners(*harness_)[loweredVcpu] == kBeta) {
    EXPECT_FALSE(harness_->enforcer().lowered().count({"beta", loweredVcpu}));
  }
}

TEST_F(EngineTest, FailedEnforcementKeepsThePcpuHeldUntilItWorks) {
  startAgents();
  beta_->autoAck = false;
  harness_->enforcer().setFailWrites(true);
  ASSERT_EQ(harness_->admin("PATCH", "/v1/vms/alpha", R"({"weight":3})").status, 200u);
  pumpUntil(
      both(), [] { return false; }, 800ms, both());
  EXPECT_EQ(alpha_->vcpus.size(), 2u)
      << "a pCPU whose revoke was neither acked nor enforced must not move";
  auto ledger = harness_->admin("GET", "/v1/ledger");
  int revoking = 0;
  for (const auto& p : ledger.body["pcpus"]) revoking += p["state"] == "revoking";
  EXPECT_EQ(revoking, 1) << ledger.raw;
  harness_->enforcer().setFailWrites(false);
  ASSERT_TRUE(pumpUntil(
      both(), [&] { return alpha_->vcpus.size() == 3; }, 10s, both()));
}

TEST_F(EngineTest, SilentAgentLosesNonFloorPcpusAfterLeaseAndGrace) {
  startAgents();
  // Only alpha keeps reporting; beta goes silent (lease 1000 ms + grace 200 ms).
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(pumpUntil(
      {alpha_.get()},
      [&] {
        auto v = vmView(*harness_, "beta");
        return v.is_object() && v["pcpus"]["held"] == v["pcpus"]["floor"] &&
               v["pcpus"]["granting"] == "" && v["pcpus"]["revoking"] == "";
      },
      10s, {alpha_.get()}, 100));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1000ms) << "not before the lease ran out";
  auto m = harness_->admin("GET", "/v1/metrics");
  EXPECT_NE(m.raw.find("vnuma_broker_lease_expiries_total 1\n"), std::string::npos) << m.raw;
  // The static policy keeps beta's share for it; the freed pCPU stays in the pool (not beta's).
  auto own = owners(*harness_);
  EXPECT_EQ(std::count_if(own.begin(), own.end(), [](auto& p) { return p.second == kBeta; }), 1);
  EXPECT_EQ(std::count_if(own.begin(), own.end(), [](auto& p) { return p.second == kAlpha; }), 2);
}

TEST_F(EngineTest, UnknownKeyIsRefusedAtHandshake) {
  auto stranger = transport::generateCurveKeyPair();
  ASSERT_TRUE(stranger.ok());
  auto a = harness_->agent(kAlpha, *stranger);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->hello().ok());
  pumpUntil(
      {a->get()}, [] { return false; }, 500ms);
  EXPECT_FALSE((*a)->welcomed);
  auto m = harness_->admin("GET", "/v1/metrics");
  EXPECT_EQ(m.raw.find("vnuma_broker_agent_refused_keys_total 0\n"), std::string::npos) << m.raw;
}

TEST_F(EngineTest, KeyClaimingAnotherVmIsRefusedAndLogged) {
  auto a = harness_->agent(kBeta, harness_->agentKeys(kAlpha));  // alpha's key, claims beta
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->hello().ok());
  ASSERT_TRUE(pumpUntil(
      {a->get()}, [&] { return !(*a)->errors.empty(); }, 5s));
  EXPECT_EQ((*a)->errors[0].code(), proto::Error::UNAUTHORIZED);
  EXPECT_FALSE((*a)->welcomed);
  auto m = harness_->admin("GET", "/v1/metrics");
  EXPECT_NE(m.raw.find("vnuma_broker_agent_unauthorized_total 1\n"), std::string::npos) << m.raw;
  // Nothing beyond the floors (which are never anyone else's) is held by anyone.
  auto ledger = harness_->admin("GET", "/v1/ledger");
  for (const auto& p : ledger.body["pcpus"]) {
    if (!p["owner"].get<std::string>().empty()) {
      EXPECT_TRUE(p["floor"].get<bool>()) << ledger.raw;
    }
  }
  EXPECT_NE(m.raw.find("vnuma_broker_grants_sent_total 0\n"), std::string::npos)
      << "no grant went out";
}

TEST_F(EngineTest, MalformedFramesGetErrorAndTheBrokerStaysUp) {
  auto a = harness_->agent(kAlpha);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->sendRaw(std::string("\x08\xff\xff garbage", 12)).ok());
  ASSERT_TRUE((*a)->sendRaw("").ok());
  ASSERT_TRUE(pumpUntil(
      {a->get()}, [&] { return (*a)->errors.size() >= 1; }, 5s));
  EXPECT_EQ((*a)->errors[0].code(), proto::Error::MALFORMED);
  // A report before Hello: no session.
  ASSERT_TRUE((*a)->report().ok());
  ASSERT_TRUE(pumpUntil(
      {a->get()},
      [&] {
        return std::any_of((*a)->errors.begin(), (*a)->errors.end(), [](const proto::Error& e) {
          return e.code() == proto::Error::NO_SESSION;
        });
      },
      5s));
  EXPECT_EQ(harness_->admin("GET", "/v1/health").status, 200u);
  ASSERT_TRUE((*a)->hello().ok());
  ASSERT_TRUE(pumpUntil(
      {a->get()}, [&] { return (*a)->welcomed && !(*a)->vcpus.empty(); }, 5s));
}

TEST_F(EngineTest, AdminPatchValidationAgainstTheLedger) {
  startAgents();
  auto tooHigh = harness_->admin("PATCH", "/v1/vms/alpha", R"({"floor":4})");
  EXPECT_EQ(tooHigh.status, 409u) << tooHigh.raw;  // beta's floor pCPU can never be alpha's
  auto bad = harness_->admin("PATCH", "/v1/vms/alpha", R"({"floor":3,"ceiling":2})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.body["error"], "floor (3) must not exceed ceiling (2)");
  auto unmanaged = harness_->admin("PATCH", "/v1/vms/loner", R"({"floor":1})");
  EXPECT_EQ(unmanaged.status, 409u);
  auto ok = harness_->admin("PATCH", "/v1/vms/alpha", R"({"floor":2})");
  ASSERT_EQ(ok.status, 200u) << ok.raw;
  EXPECT_EQ(ok.body["floor"], 2);
  EXPECT_EQ(ok.body["settings_source"], "api");
}

TEST_F(EngineTest, PolicyCanBeReplacedAtRuntime) {
  auto bad = harness_->admin("PUT", "/v1/policy", R"({"name":"nope"})");
  EXPECT_EQ(bad.status, 400u);
  auto badText = harness_->admin("PUT", "/v1/policy", R"({"text":"[policy]\nbogus = 1\n"})");
  EXPECT_EQ(badText.status, 400u) << badText.raw;
  auto ok = harness_->admin("PUT", "/v1/policy", R"({"name":"demand"})");
  ASSERT_EQ(ok.status, 200u) << ok.raw;
  EXPECT_EQ(harness_->admin("GET", "/v1/policy").body["name"], "demand");
  EXPECT_EQ(harness_->admin("POST", "/v1/rebalance").status, 200u);
}

TEST_F(EngineTest, PolicyTextWithoutNameKeepsTheRunningPolicy) {
  ASSERT_EQ(harness_->admin("PUT", "/v1/policy", R"({"name":"static"})").status, 200u);
  auto kept = harness_->admin("PUT", "/v1/policy", R"({"text":"[policy]\ntick_ms = 500\n"})");
  ASSERT_EQ(kept.status, 200u) << kept.raw;
  EXPECT_EQ(kept.body["name"], "static");
  EXPECT_NE(kept.body["text"].get<std::string>().find("tick_ms = 500"), std::string::npos)
      << kept.raw;
  auto named = harness_->admin("PUT", "/v1/policy", R"({"text":"[policy]\nname = \"demand\"\n"})");
  ASSERT_EQ(named.status, 200u) << named.raw;
  EXPECT_EQ(named.body["name"], "demand");
  auto bodyWins = harness_->admin("PUT", "/v1/policy",
                                  R"({"name":"static","text":"[policy]\nname = \"demand\"\n"})");
  ASSERT_EQ(bodyWins.status, 200u) << bodyWins.raw;
  EXPECT_EQ(bodyWins.body["name"], "static");
}

// A libvirt call that blocks holds up the whole engine round; such rounds are counted (and
// logged with their breakdown) so an operator sees why renewals and answers were late.
TEST(EngineSlowRounds, ABlockingLibvirtCallIsCountedAsASlowRound) {
  HarnessOptions o = defaults();
  o.faulty = true;
  BrokerHarness h(o);
  ASSERT_TRUE(h.start().ok());
  auto slowRounds = [&] {
    auto r = h.admin("GET", "/v1/metrics");
    const std::string key = "vnuma_broker_slow_rounds_total ";
    auto at = r.raw.find("\n" + key);
    return at == std::string::npos ? -1 : std::stoi(r.raw.substr(at + 1 + key.size()));
  };
  ASSERT_EQ(slowRounds(), 0);
  ASSERT_EQ(h.admin("PATCH", "/v1/vms/alpha", R"({"weight":2})").status, 200u);
  EXPECT_EQ(slowRounds(), 0) << "a fast libvirt call is not a slow round";
  // The metadata write (PATCH) blocks 700 ms, over the 500 ms slow-round mark.
  h.faults()->timeoutNext(sys::HvCall::kSetSettings, 700ms);
  auto patched = h.admin("PATCH", "/v1/vms/alpha", R"({"weight":3})");
  EXPECT_EQ(patched.status, 200u) << "the ledger change stands; only the metadata write failed";
  EXPECT_EQ(h.faults()->calls(sys::HvCall::kSetSettings), 2u);
  EXPECT_EQ(slowRounds(), 1);
}

TEST(EngineRestart, StateSurvivesAStopAndGenerationsContinue) {
  HarnessOptions o = defaults();
  auto h = std::make_unique<BrokerHarness>(o);
  ASSERT_TRUE(h->start().ok());
  auto a = h->agent(kAlpha);
  auto b = h->agent(kBeta);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->hello().ok());
  ASSERT_TRUE((*b)->hello().ok());
  ASSERT_TRUE(pumpUntil({a->get(), b->get()},
                        [&] { return (*a)->vcpus.size() == 2 && (*b)->vcpus.size() == 2; }, 10s,
                        {a->get(), b->get()}));
  auto before = owners(*h);
  const std::uint64_t genBefore = (*a)->generation;
  const std::string dir = h->dir();
  const std::string endpoint = h->agentEndpoint();
  h->stop();

  const std::size_t grantsBefore = (*a)->grants.size();
  o.dir = dir;
  o.agentEndpoint = endpoint;
  BrokerHarness again(o);
  // same directory, same keys; the agents' sockets reconnect by themselves
  ASSERT_TRUE(again.start().ok());
  EXPECT_EQ(owners(again), before) << "the ledger came back from the state dir";
  ASSERT_TRUE((*a)->hello((*a)->generation, (*a)->vcpus).ok());
  ASSERT_TRUE(pumpUntil(
      {a->get()}, [&] { return (*a)->welcomed && (*a)->grants.size() > grantsBefore; }, 10s));
  EXPECT_EQ((*a)->grants.back().grant.generation(), genBefore)
      << "same grant, same generation: nothing lost";
  EXPECT_EQ((*a)->vcpus.size(), 2u);
  // Stop the engine before removing its directory: a running one keeps writing its state file
  // there (remove_all then failed with "Directory not empty" in an ASan run).
  again.stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  EXPECT_FALSE(ec) << ec.message();
}

}  // namespace
}  // namespace vnuma::broker::testing
