#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/proto/Codec.hpp"
#include "host-broker/api/Router.hpp"

namespace vnuma::broker::api {
namespace {

using nlohmann::json;

// A backend over plain vectors; commands record what they were asked and can be told to fail.
class FakeBackend : public AdminBackend {
 public:
  FakeBackend() {
    VmView a;
    a.uuid = "11111111-2222-3333-4444-555555555555";
    a.name = "web1";
    a.state = "running";
    a.managed = true;
    a.vcpus = 4;
    a.floor = 1;
    a.ceiling = 4;
    a.weight = 1.0;
    a.settingsSource = "metadata";
    a.held = CpuSet{1, 2};
    a.floorPcpus = CpuSet{1};
    a.generation = 3;
    a.ackedGeneration = 3;
    a.agentConnected = true;
    a.lastSeenMsAgo = 120;
    a.memory.push_back(VmMemoryView{0, 0, "ua-virtiomem0", 1048576, 524288, 524288, 2048});
    VmView b;
    b.uuid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    b.name = "plain";
    b.state = "running";
    b.managed = false;
    b.unmanagedReason = "no vnuma metadata";
    b.vcpus = 2;
    vms_ = {a, b};
  }

  HealthView health() const override {
    HealthView h;
    h.version = "0.1.0";
    h.epoch = 7;
    h.uptimeMs = 1000;
    h.libvirtConnected = true;
    h.agentsConnected = 1;
    h.vmsManaged = 1;
    h.policy = policy_.name;
    return h;
  }
  HostView host() const override {
    HostView h;
    h.hostname = "box";
    h.libvirtUri = "test:///default";
    h.pcpus = CpuSet::range(0, 3);
    h.reserved = CpuSet{0};
    h.free = CpuSet{3};
    h.nodes.push_back(NodeView{0, CpuSet::range(0, 3), 8388608, 1048576, 2621440, {10}});
    return h;
  }
  std::vector<VmView> vms() const override { return vms_; }
  LedgerView ledger() const override {
    LedgerView l;
    l.version = 42;
    l.pcpus.push_back(PcpuView{0, 0, "reserved", "", "", false, false});
    l.pcpus.push_back(PcpuView{1, 0, "held", vms_[0].uuid, "web1", true, false});
    return l;
  }
  PolicyView policy() const override { return policy_; }
  std::vector<EventView> eventsSince(std::uint64_t since, std::size_t max) const override {
    lastSince = since;
    lastMax = max;
    std::vector<EventView> out;
    for (std::uint64_t s = since + 1; s <= 5 && out.size() < max; ++s)
      out.push_back(
          EventView{s, 1000 + static_cast<std::int64_t>(s), "grant", vms_[0].uuid, "cpus=1-2"});
    return out;
  }
  std::vector<MetricSample> metrics() const override {
    return {MetricSample{"vnuma_broker_reports_total", "Reports received.", "counter", {}, 12},
            MetricSample{"vnuma_vm_pcpus", "pCPUs held.", "gauge", {{"vm", "web1"}}, 2},
            MetricSample{"vnuma_vm_pcpus", "pCPUs held.", "gauge", {{"vm", "we\"b2"}}, 0.5}};
  }
  Result<VmView> updateVm(const std::string& uuid, const VmSettingsPatch& patch) override {
    lastPatchUuid = uuid;
    lastPatch = patch;
    if (updateError) return *updateError;
    VmView v = vms_[0];
    if (patch.floor) v.floor = *patch.floor;
    if (patch.ceiling) v.ceiling = *patch.ceiling;
    if (patch.weight) v.weight = *patch.weight;
    v.settingsSource = "api";
    return v;
  }
  Result<RebalanceResult> rebalance() override {
    ++rebalances;
    return RebalanceResult{2, "moved 2 pCPUs"};
  }
  Result<PolicyView> setPolicy(const std::string& name, const std::string& text) override {
    if (policyError) return *policyError;
    if (!name.empty()) policy_.name = name;
    policy_.text = text;
    return policy_;
  }

  std::vector<VmView> vms_;
  PolicyView policy_{"demand", "", "", {"static", "demand"}};
  mutable std::uint64_t lastSince = 999;
  mutable std::size_t lastMax = 0;
  std::string lastPatchUuid;
  VmSettingsPatch lastPatch;
  std::optional<Error> updateError;
  std::optional<Error> policyError;
  int rebalances = 0;
};

class RouterTest : public testing::Test {
 protected:
  Response call(const std::string& method, const std::string& path, const std::string& body = "") {
    return router_.handle(Request{method, path, body});
  }
  static json body(const Response& r) { return json::parse(r.body); }
  static std::string err(const Response& r) {
    return json::parse(r.body).at("error").get<std::string>();
  }

  FakeBackend backend_;
  Router router_{backend_};
};

TEST_F(RouterTest, Health) {
  auto r = call("GET", "/v1/health");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.contentType, "application/json");
  auto j = body(r);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["version"], "0.1.0");
  EXPECT_EQ(j["agents_connected"], 1);
  EXPECT_EQ(j["policy"], "demand");
  auto bad = call("POST", "/v1/health");
  EXPECT_EQ(bad.status, 405u);
  EXPECT_EQ(err(bad), "method POST not allowed on /v1/health (allowed: GET)");
  EXPECT_EQ(body(bad)["allowed"], json::array({"GET"}));
}

TEST_F(RouterTest, Host) {
  auto r = call("GET", "/v1/host");
  ASSERT_EQ(r.status, 200u);
  auto j = body(r);
  EXPECT_EQ(j["pcpus"], "0-3");
  EXPECT_EQ(j["reserved"], "0");
  EXPECT_EQ(j["free"], "3");
  EXPECT_EQ(j["nodes"][0]["mem_total_kb"], 8388608);
  EXPECT_EQ(call("DELETE", "/v1/host").status, 405u);
  EXPECT_EQ(err(call("GET", "/v1/host?x=1")), "unexpected query 'x=1' on /v1/host");
}

TEST_F(RouterTest, VmsList) {
  auto r = call("GET", "/v1/vms");
  ASSERT_EQ(r.status, 200u);
  auto j = body(r);
  ASSERT_EQ(j["vms"].size(), 2u);
  EXPECT_EQ(j["vms"][0]["name"], "web1");
  EXPECT_EQ(j["vms"][0]["pcpus"]["held"], "1-2");
  EXPECT_EQ(j["vms"][0]["memory"][0]["requested_kb"], 524288);
  EXPECT_FALSE(j["vms"][0].contains("unmanaged_reason"));
  EXPECT_EQ(j["vms"][1]["unmanaged_reason"], "no vnuma metadata");
  EXPECT_EQ(call("PUT", "/v1/vms").status, 405u);
}

TEST_F(RouterTest, VmByNameOrUuid) {
  EXPECT_EQ(body(call("GET", "/v1/vms/web1"))["uuid"], backend_.vms_[0].uuid);
  EXPECT_EQ(body(call("GET", "/v1/vms/11111111-2222-3333-4444-555555555555"))["name"], "web1");
  EXPECT_EQ(body(call("GET", "/v1/vms/11111111-2222-3333-4444-555555555555"))["name"], "web1");
  EXPECT_EQ(body(call("GET", "/v1/vms/11111111-2222-3333-4444-5555555555AA")).value("name", ""),
            "");
  EXPECT_EQ(body(call("GET", "/v1/vms/11111111-2222-3333-4444-555555555555"))["agent"]["connected"],
            true);
  EXPECT_EQ(body(call("GET", "/v1/vms/11111111-2222-3333-4444-555555555555")).at("generation"), 3);
  // uuid match is case-insensitive, names are not
  EXPECT_EQ(call("GET", "/v1/vms/11111111-2222-3333-4444-555555555555").status, 200u);
  EXPECT_EQ(call("GET", "/v1/vms/WEB1").status, 404u);
  EXPECT_EQ(call("GET", "/v1/vms/we%62%31").status, 200u);
}

TEST_F(RouterTest, VmUnknownAndBadPaths) {
  auto r = call("GET", "/v1/vms/nope");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(err(r), "no such VM: 'nope'");
  EXPECT_EQ(err(call("GET", "/v1/vms/web1/extra")), "no such path: /v1/vms/web1/extra");
  EXPECT_EQ(err(call("GET", "/v1/vms/%zz")), "bad percent-encoding in '%zz'");
  EXPECT_EQ(err(call("GET", "/v1/vms/%4")), "bad percent-encoding in '%4'");
  auto m = call("DELETE", "/v1/vms/web1");
  EXPECT_EQ(m.status, 405u);
  EXPECT_EQ(body(m)["allowed"], json::array({"GET", "PATCH"}));
}

TEST_F(RouterTest, PatchVmGood) {
  auto r = call("PATCH", "/v1/vms/web1", R"({"floor":2,"ceiling":3,"weight":2.5})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(backend_.lastPatchUuid, backend_.vms_[0].uuid);
  EXPECT_EQ(backend_.lastPatch.floor, 2u);
  EXPECT_EQ(backend_.lastPatch.ceiling, 3u);
  EXPECT_EQ(backend_.lastPatch.weight, 2.5);
  EXPECT_EQ(body(r)["settings_source"], "api");
  auto only = call("PATCH", "/v1/vms/web1", R"({"weight":3})");
  ASSERT_EQ(only.status, 200u);
  EXPECT_FALSE(backend_.lastPatch.floor.has_value());
}

struct BadPatch {
  const char* body;
  unsigned status;
  const char* error;
};

TEST_F(RouterTest, PatchVmBad) {
  const BadPatch cases[] = {
      {"", 400, "body must be a JSON object with floor, ceiling and/or weight"},
      {"{", 400, "body is not valid JSON"},
      {"[1]", 400, "body must be a JSON object with floor, ceiling and/or weight"},
      {"{}", 400, "body must set at least one of floor, ceiling, weight"},
      {R"({"flor":1})", 400, "unknown field 'flor' (allowed: floor, ceiling, weight)"},
      {R"({"floor":0})", 400, "floor must be an integer >= 1"},
      {R"({"floor":-1})", 400, "floor must be an integer >= 1"},
      {R"({"floor":1.5})", 400, "floor must be an integer >= 1"},
      {R"({"floor":"2"})", 400, "floor must be an integer >= 1"},
      {R"({"ceiling":0})", 400, "ceiling must be an integer >= 1"},
      {R"({"weight":0})", 400, "weight must be a number between 0.01 and 100"},
      {R"({"weight":"x"})", 400, "weight must be a number between 0.01 and 100"},
      {R"({"weight":1e9})", 400, "weight must be a number between 0.01 and 100"},
      {R"({"floor":3,"ceiling":2})", 400, "floor (3) must not exceed ceiling (2)"},
      {R"({"floor":4,"ceiling":2})", 400, "floor (4) must not exceed ceiling (2)"},
      {R"({"ceiling":8})", 400, "ceiling (8) exceeds the VM's 4 vCPUs"},
  };
  for (const auto& c : cases) {
    auto r = call("PATCH", "/v1/vms/web1", c.body);
    EXPECT_EQ(r.status, c.status) << c.body;
    EXPECT_EQ(err(r), c.error) << c.body;
  }
  EXPECT_TRUE(backend_.lastPatchUuid.empty()) << "a refused patch must not reach the backend";
}

TEST_F(RouterTest, PatchVmConflicts) {
  auto unmanaged = call("PATCH", "/v1/vms/plain", R"({"floor":1})");
  EXPECT_EQ(unmanaged.status, 409u);
  EXPECT_EQ(err(unmanaged), "VM 'plain' is not managed by vnuma: no vnuma metadata");
  backend_.updateError = Error(Errc::kConflict, "floors would exceed the 3 grantable pCPUs");
  auto r = call("PATCH", "/v1/vms/web1", R"({"floor":3})");
  EXPECT_EQ(r.status, 409u);
  EXPECT_EQ(err(r), "floors would exceed the 3 grantable pCPUs");
  backend_.updateError = Error(Errc::kInternal, "boom");
  EXPECT_EQ(call("PATCH", "/v1/vms/web1", R"({"floor":3})").status, 500u);
  EXPECT_EQ(call("PATCH", "/v1/vms/ghost", R"({"floor":1})").status, 404u);
}

TEST_F(RouterTest, Ledger) {
  auto r = call("GET", "/v1/ledger");
  ASSERT_EQ(r.status, 200u);
  auto j = body(r);
  EXPECT_EQ(j["version"], 42);
  EXPECT_EQ(j["pcpus"][1]["owner_name"], "web1");
  EXPECT_EQ(j["pcpus"][1]["state"], "held");
  EXPECT_EQ(j["pcpus"][1]["floor"], true);
  EXPECT_EQ(call("POST", "/v1/ledger").status, 405u);
}

TEST_F(RouterTest, Rebalance) {
  auto r = call("POST", "/v1/rebalance");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(body(r)["moves"], 2);
  EXPECT_EQ(call("POST", "/v1/rebalance", "{}").status, 200u);
  EXPECT_EQ(backend_.rebalances, 2);
  auto bad = call("POST", "/v1/rebalance", R"({"now":true})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(err(bad), "POST /v1/rebalance takes no body (or {})");
  auto get = call("GET", "/v1/rebalance");
  EXPECT_EQ(get.status, 405u);
  EXPECT_EQ(backend_.rebalances, 2);
}

TEST_F(RouterTest, PolicyGetAndPut) {
  auto g = call("GET", "/v1/policy");
  ASSERT_EQ(g.status, 200u);
  EXPECT_EQ(body(g)["name"], "demand");
  EXPECT_EQ(body(g)["available"], json::array({"static", "demand"}));
  auto p = call("PUT", "/v1/policy", R"({"name":"static","text":"[static]\n"})");
  ASSERT_EQ(p.status, 200u) << p.body;
  EXPECT_EQ(body(p)["name"], "static");
  EXPECT_EQ(backend_.policy_.text, "[static]\n");
  EXPECT_EQ(call("PUT", "/v1/policy", R"({"text":"x = 1"})").status, 200u);
  EXPECT_EQ(backend_.policy_.name, "static") << "name kept when only text is given";
  EXPECT_EQ(call("POST", "/v1/policy").status, 405u);
}

TEST_F(RouterTest, PolicyPutBad) {
  EXPECT_EQ(err(call("PUT", "/v1/policy", R"({"name":"fastest"})")),
            "unknown policy 'fastest' (available: static, demand)");
  EXPECT_EQ(err(call("PUT", "/v1/policy", R"({"nme":"static"})")),
            "unknown field 'nme' (allowed: name, text)");
  EXPECT_EQ(err(call("PUT", "/v1/policy", R"({"name":""})")), "name must be a non-empty string");
  EXPECT_EQ(err(call("PUT", "/v1/policy", R"({"text":5})")),
            "text must be a string (the policy file's content)");
  EXPECT_EQ(err(call("PUT", "/v1/policy", "")), "body must be a JSON object with name and/or text");
  backend_.policyError = Error(Errc::kInvalidArgument, "policy.toml:2: unknown key 'hysteresys'");
  auto r = call("PUT", "/v1/policy", R"({"text":"x"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(err(r), "policy.toml:2: unknown key 'hysteresys'");
  EXPECT_EQ(backend_.policy_.name, "demand");
}

TEST_F(RouterTest, Events) {
  auto all = call("GET", "/v1/events");
  ASSERT_EQ(all.status, 200u);
  EXPECT_EQ(backend_.lastSince, 0u);
  EXPECT_EQ(backend_.lastMax, 1000u);
  EXPECT_EQ(body(all)["events"].size(), 5u);
  EXPECT_EQ(body(all)["next_since"], 5);
  auto since = call("GET", "/v1/events?since=3&limit=1");
  ASSERT_EQ(since.status, 200u);
  EXPECT_EQ(body(since)["events"].size(), 1u);
  EXPECT_EQ(body(since)["events"][0]["seq"], 4);
  EXPECT_EQ(body(since)["next_since"], 4);
  auto none = call("GET", "/v1/events?since=9");
  EXPECT_EQ(body(none)["next_since"], 9);
  EXPECT_EQ(err(call("GET", "/v1/events?since=-1")),
            "since must be a non-negative integer, got '-1'");
  EXPECT_EQ(err(call("GET", "/v1/events?since=")), "since must be a non-negative integer, got ''");
  EXPECT_EQ(err(call("GET", "/v1/events?limit=0")),
            "limit must be an integer between 1 and 10000, got '0'");
  EXPECT_EQ(err(call("GET", "/v1/events?from=1")),
            "unknown query parameter 'from' (allowed: since, limit)");
  EXPECT_EQ(call("DELETE", "/v1/events").status, 405u);
}

TEST_F(RouterTest, Metrics) {
  auto r = call("GET", "/v1/metrics");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.contentType, "text/plain; version=0.0.4");
  EXPECT_EQ(r.body,
            "# HELP vnuma_broker_reports_total Reports received.\n"
            "# TYPE vnuma_broker_reports_total counter\n"
            "vnuma_broker_reports_total 12\n"
            "# HELP vnuma_vm_pcpus pCPUs held.\n"
            "# TYPE vnuma_vm_pcpus gauge\n"
            "vnuma_vm_pcpus{vm=\"web1\"} 2\n"
            "vnuma_vm_pcpus{vm=\"we\\\"b2\"} 0.5\n");
  EXPECT_EQ(call("PUT", "/v1/metrics").status, 405u);
}

TEST_F(RouterTest, UnknownPathsAndMethods) {
  EXPECT_EQ(err(call("GET", "/v2/health")), "no such path: /v2/health");
  EXPECT_EQ(call("GET", "/").status, 404u);
  EXPECT_EQ(call("GET", "/v1/vms/").status, 404u);
  auto m = call("FETCH", "/v1/health");
  EXPECT_EQ(m.status, 400u);
  EXPECT_EQ(err(m), "unknown method 'FETCH' (expected GET, PUT, PATCH, POST or DELETE)");
}

TEST_F(RouterTest, FrameRoundTripAndGarbage) {
  proto::AdminRequest req;
  req.set_version(1);
  req.set_request_id(77);
  req.set_method("GET");
  req.set_path("/v1/vms/web1");
  auto out = codec::decodeAdminResponse(router_.handleFrame(codec::encode(req)));
  ASSERT_TRUE(out.ok()) << out.error().describe();
  EXPECT_EQ(out->request_id(), 77u);
  EXPECT_EQ(out->status(), 200u);
  EXPECT_EQ(json::parse(out->body())["name"], "web1");

  auto garbage = codec::decodeAdminResponse(router_.handleFrame("\xff\xff\xff garbage"));
  ASSERT_TRUE(garbage.ok());
  EXPECT_EQ(garbage->request_id(), 0u);
  EXPECT_EQ(garbage->status(), 400u);
  EXPECT_EQ(
      json::parse(garbage->body())["error"].get<std::string>().rfind("bad admin request: ", 0), 0u);
}

}  // namespace
}  // namespace vnuma::broker::api
