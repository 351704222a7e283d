// The real binaries: vnuma-broker (config file, keys, libvirt's test driver, signals,
// kill -9 and restart from the state dir) and vnumactl (admin round trips, exit codes).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host-broker/ctl/Ctl.hpp"
#include "host-broker/engine/testing/BrokerHarness.hpp"

namespace vnuma::broker::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const std::string kAlpha = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kBeta = "bbbbbbbb-0000-4000-8000-000000000002";

struct Run {
  int status = -1;
  std::string out;
};

Run run(const std::string& cmd) {
  Run r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class BrokerProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vnuma-broker-proc-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/agents");
    auto gen = run(std::string(VNUMA_BROKER_PATH) + " --generate-key " + dir_ + "/keys");
    // --generate-key creates nothing but the two files; the directory must exist
    if (gen.status != 0) {
      fs::create_directories(dir_ + "/keys");
      gen = run(std::string(VNUMA_BROKER_PATH) + " --generate-key " + dir_ + "/keys");
    }
    ASSERT_EQ(gen.status, 0) << gen.out;
    auto bk = transport::loadCurveKeyPair(dir_ + "/keys/broker.key");
    ASSERT_TRUE(bk.ok()) << bk.error().describe();
    brokerKeys_ = *bk;
    for (const auto& uuid : {kAlpha, kBeta}) {
      auto k = transport::generateCurveKeyPair();
      ASSERT_TRUE(k.ok());
      ASSERT_TRUE(transport::writeCurveKeyPair(*k, dir_ + "/agents", uuid).ok());
      agentKeys_[uuid] = *k;
    }
    port_ = freePort();
    std::ofstream cfg(config());
    cfg << "[broker]\nlibvirt_uri = \"test://" << VNUMA_ENGINE_TESTDATA << "/host-shared4.xml\"\n"
        << "state_dir = \"" << dir_ << "/state\"\nlog_level = \"info\"\n"
        << "[agents]\nendpoint = \"tcp://127.0.0.1:" << port_ << "\"\nbroker_key_file = \"" << dir_
        << "/keys/broker.key\"\nkey_dir = \"" << dir_ << "/agents\"\n"
        << "lease_ms = 2000\ngrace_ms = 500\nreport_period_ms = 200\nack_timeout_ms = 300\n"
        << "[admin]\nendpoint = \"" << admin() << "\"\nsocket_mode = \"0600\"\n"
        << "[host]\nmemory_reserve_mb = 0\n"
        << "[policy]\nname = \"static\"\ntick_ms = 100\n[policy.placement]\ncooldown_ms = "
           "0\nhysteresis_cpus = 0\n";
  }
  void TearDown() override {
    stopBroker(SIGKILL);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string config() const { return dir_ + "/broker.toml"; }
  std::string admin() const { return "ipc://" + dir_ + "/admin.sock"; }
  std::string ctl(const std::string& args) const {
    return std::string(VNUMACTL_PATH) + " --endpoint " + admin() + " " + args;
  }

  void startBroker() {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open((dir_ + "/broker.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 2);
      ::execl(VNUMA_BROKER_PATH, VNUMA_BROKER_PATH, "--config", config().c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ctl::AdminClientOptions o;
    o.endpoint = admin();
    o.timeout = 200ms;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = ctl::adminCall(o, "GET", "/v1/health", "");
      if (r && r->status == 200) return;
    }
    FAIL() << "broker did not answer: " << log();
  }
  int stopBroker(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  std::string log() const {
    std::ifstream in(dir_ + "/broker.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::unique_ptr<SimAgent> agent(const std::string& uuid) {
    SimAgentOptions so;
    so.endpoint = "tcp://127.0.0.1:" + std::to_string(port_);
    so.brokerPublicKey = brokerKeys_.publicKey;
    so.keys = agentKeys_[uuid];
    so.vmUuid = uuid;
    auto a = SimAgent::connect(so);
    return a ? std::move(a).value() : nullptr;
  }
  json ledgerOwners() {
    auto r = run(ctl("ledger --json"));
    json j = json::parse(r.out, nullptr, false);
    json out = json::object();
    if (!j.is_object()) return out;
    for (const auto& p : j["pcpus"]) out[std::to_string(p["id"].get<int>())] = p["owner"];
    return out;
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  transport::CurveKeyPair brokerKeys_;
  std::map<std::string, transport::CurveKeyPair> agentKeys_;
};

TEST_F(BrokerProcess, CheckConfigAcceptsGoodAndRefusesBadWithExit78) {
  auto ok = run(std::string(VNUMA_BROKER_PATH) + " --config " + config() + " --check-config");
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find("configuration OK"), std::string::npos) << ok.out;
  std::ofstream(dir_ + "/bad.toml") << "[agents]\nlease_ms = 5\n";
  auto bad = run(std::string(VNUMA_BROKER_PATH) + " --config " + dir_ + "/bad.toml --check-config");
  EXPECT_EQ(bad.status, 78) << bad.out;
  EXPECT_NE(bad.out.find("bad.toml:2"), std::string::npos) << bad.out;
  auto override = run(std::string(VNUMA_BROKER_PATH) + " --config " + config() +
                      " --agent-endpoint tcp://0.0.0.0:1 --check-config");
  EXPECT_EQ(override.status, 78) << override.out;
  EXPECT_NE(override.out.find("host must be loopback"), std::string::npos) << override.out;
  std::ofstream(dir_ + "/policy.toml") << "[policy]\nname = \"nosuch\"\n";
  std::ofstream(dir_ + "/badpolicy.toml") << "[policy]\nfile = \"" << dir_ << "/policy.toml\"\n";
  auto unknownPolicy =
      run(std::string(VNUMA_BROKER_PATH) + " --config " + dir_ + "/badpolicy.toml --check-config");
  EXPECT_EQ(unknownPolicy.status, 78) << unknownPolicy.out;
  EXPECT_NE(unknownPolicy.out.find("nosuch"), std::string::npos) << unknownPolicy.out;
}

TEST_F(BrokerProcess, VnumactlRoundTripAndKillNineRestartLosesNothing) {
  startBroker();
  EXPECT_NE(log().find("ready"), std::string::npos) << log();
  auto a = agent(kAlpha), b = agent(kBeta);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->hello().ok() && b->hello().ok());
  ASSERT_TRUE(pumpUntil({a.get(), b.get()},
                        [&] { return a->vcpus.size() == 2 && b->vcpus.size() == 2; }, 10s,
                        {a.get(), b.get()}));

  // kill -9: the state on disk is all that survives. (Done before any admin change: libvirt's
  // test driver forgets metadata written at runtime, which real libvirt keeps.)
  const json before = ledgerOwners();
  const std::uint64_t genA = a->generation;
  EXPECT_EQ(stopBroker(SIGKILL), 128 + SIGKILL);
  auto down = run(ctl("--timeout-ms 300 health"));
  EXPECT_EQ(down.status, 69) << down.out;
  startBroker();
  EXPECT_EQ(ledgerOwners(), before) << "the ledger after kill -9 + restart";
  // Agents reconnect (same port, same keys) and get the same grant again.
  const auto grantsA = a->grants.size();
  ASSERT_TRUE(a->hello(a->generation, a->vcpus).ok());
  ASSERT_TRUE(b->hello(b->generation, b->vcpus).ok());
  ASSERT_TRUE(pumpUntil({a.get(), b.get()},
                        [&] { return a->welcomed && b->welcomed && a->grants.size() > grantsA; },
                        10s, {a.get(), b.get()}));
  EXPECT_EQ(a->generation, genA);
  EXPECT_EQ(a->vcpus.size(), 2u);
  EXPECT_EQ(ledgerOwners(), before);

  // vnumactl: tables, --json, a change, and errors with the API's message and exit 1.
  auto vms = run(ctl("vms"));
  EXPECT_EQ(vms.status, 0) << vms.out;
  EXPECT_EQ(vms.out.rfind("NAME", 0), 0u) << vms.out;
  EXPECT_NE(vms.out.find("alpha"), std::string::npos);
  auto vmsJson = run(ctl("vms --json"));
  ASSERT_EQ(vmsJson.status, 0);
  EXPECT_EQ(json::parse(vmsJson.out)["vms"].size(), 3u);
  auto set = run(ctl("vm set alpha --weight 3"));
  ASSERT_EQ(set.status, 0) << set.out;
  ASSERT_TRUE(pumpUntil({a.get(), b.get()},
                        [&] { return a->vcpus.size() == 3 && b->vcpus.size() == 1; }, 10s,
                        {a.get(), b.get()}));
  auto missing = run(ctl("vm show nope"));
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("vnumactl: no such VM: 'nope' (status 404)"), std::string::npos)
      << missing.out;
  auto conflict = run(ctl("vm set alpha --floor 3 --ceiling 2"));
  EXPECT_EQ(conflict.status, 1);
  EXPECT_NE(conflict.out.find("floor (3) must not exceed ceiling (2)"), std::string::npos)
      << conflict.out;
  for (const char* cmd :
       {"health", "host", "ledger", "policy show", "events --since 0", "metrics", "rebalance"}) {
    auto r = run(ctl(cmd));
    EXPECT_EQ(r.status, 0) << cmd << ": " << r.out;
  }
  auto showJson = run(ctl("vm show alpha --json"));
  EXPECT_EQ(json::parse(showJson.out)["weight"], 3.0) << showJson.out;

  EXPECT_EQ(stopBroker(SIGTERM), 0) << log();
}

TEST_F(BrokerProcess, CorruptStateFileRefusesToStartWithAHint) {
  fs::create_directories(dir_ + "/state");
  std::ofstream(dir_ + "/state/ledger.json")
      << "{\"format\":\"vnuma-broker-state\",\"version\":1,\"crc32\":\"00000000\",\"state\":{}}";
  auto r = run(std::string(VNUMA_BROKER_PATH) + " --config " + config());
  EXPECT_EQ(r.status, 78) << r.out;
  EXPECT_NE(r.out.find("ledger.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("move it aside"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vnuma::broker::testing
