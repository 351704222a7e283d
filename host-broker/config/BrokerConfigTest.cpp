#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "host-broker/config/BrokerConfig.hpp"

namespace vnuma::broker {
namespace {

std::string sourceDir() {
  const char* d = std::getenv("VNUMA_SOURCE_DIR");
  return d ? d : VNUMA_TEST_SOURCE_DIR;
}

TEST(BrokerConfig, EmptyFileGivesDocumentedDefaults) {
  auto cfg = parseBrokerConfig("", "empty.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().describe();
  EXPECT_EQ(cfg->libvirtUri, "qemu:///system");
  EXPECT_EQ(cfg->agentEndpoint, "tcp://127.0.0.1:5600");
  EXPECT_EQ(cfg->adminEndpoint, "ipc:///run/vnuma/admin.sock");
  EXPECT_EQ(cfg->adminSocketMode, 0660u);
  EXPECT_EQ(cfg->stateDir, "/var/lib/vnuma");
  EXPECT_EQ(cfg->leaseMs, 10000u);
  EXPECT_EQ(cfg->graceMs, 2000u);
  EXPECT_EQ(cfg->reportPeriodMs, 1000u);
  EXPECT_EQ(cfg->ackTimeoutMs, 500u);
  EXPECT_EQ(cfg->policy.name, "demand");
  EXPECT_TRUE(cfg->policyFile.empty());
  EXPECT_TRUE(cfg->reservedCpus.empty());
  EXPECT_EQ(cfg->memoryReserveMb, 1024u);
}

TEST(BrokerConfig, ShippedDefaultFileEqualsBuiltInDefaults) {
  auto cfg = loadBrokerConfig(sourceDir() + "/host-broker/config/vnuma-broker.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().describe();
  BrokerConfig d;
  EXPECT_EQ(cfg->libvirtUri, d.libvirtUri);
  EXPECT_EQ(cfg->agentEndpoint, d.agentEndpoint);
  EXPECT_EQ(cfg->brokerKeyFile, d.brokerKeyFile);
  EXPECT_EQ(cfg->agentKeyDir, d.agentKeyDir);
  EXPECT_EQ(cfg->adminEndpoint, d.adminEndpoint);
  EXPECT_EQ(cfg->adminSocketMode, d.adminSocketMode);
  EXPECT_EQ(cfg->leaseMs, d.leaseMs);
  EXPECT_EQ(cfg->ackTimeoutMs, d.ackTimeoutMs);
  EXPECT_EQ(cfg->memoryReserveMb, d.memoryReserveMb);
  EXPECT_EQ(cfg->policy.name, d.policy.name);
  EXPECT_EQ(cfg->policy.tickMs, d.policy.tickMs);
}

TEST(BrokerConfig, ReadsEveryKey) {
  auto cfg = parseBrokerConfig(R"(
[broker]
libvirt_uri = "test:///default"
state_dir = "/tmp/vnuma-state"
log_level = "debug"
[agents]
endpoint = "tcp://127.0.0.1:7000"
broker_key_file = "/k/broker.key"
key_dir = "/k/agents"
lease_ms = 4000
grace_ms = 500
report_period_ms = 200
ack_timeout_ms = 100
[admin]
endpoint = "ipc:///tmp/a.sock"
socket_mode = "0600"
tcp_endpoint = "tcp://127.0.0.1:7001"
client_key_dir = "/k/admins"
[host]
reserved_cpus = "0,2"
memory_reserve_mb = 256
[policy]
name = "static"
tick_ms = 250
)",
                               "all.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().describe();
  EXPECT_EQ(cfg->libvirtUri, "test:///default");
  EXPECT_EQ(cfg->stateDir, "/tmp/vnuma-state");
  EXPECT_EQ(cfg->logLevel, "debug");
  EXPECT_EQ(cfg->agentEndpoint, "tcp://127.0.0.1:7000");
  EXPECT_EQ(cfg->brokerKeyFile, "/k/broker.key");
  EXPECT_EQ(cfg->agentKeyDir, "/k/agents");
  EXPECT_EQ(cfg->leaseMs, 4000u);
  EXPECT_EQ(cfg->graceMs, 500u);
  EXPECT_EQ(cfg->reportPeriodMs, 200u);
  EXPECT_EQ(cfg->ackTimeoutMs, 100u);
  EXPECT_EQ(cfg->adminEndpoint, "ipc:///tmp/a.sock");
  EXPECT_EQ(cfg->adminSocketMode, 0600u);
  EXPECT_EQ(cfg->adminTcpEndpoint, "tcp://127.0.0.1:7001");
  EXPECT_EQ(cfg->adminClientKeyDir, "/k/admins");
  EXPECT_EQ(cfg->reservedCpus, (CpuSet{0, 2}));
  EXPECT_EQ(cfg->memoryReserveMb, 256u);
  EXPECT_EQ(cfg->policy.name, "static");
  EXPECT_EQ(cfg->policy.tickMs, 250);
}

struct BadCase {
  const char* description;
  const char* text;
  const char* expected;  // substring of the error
};

class BrokerConfigBad : public testing::TestWithParam<BadCase> {};

TEST_P(BrokerConfigBad, RefusedWithMessage) {
  const BadCase& c = GetParam();
  auto cfg = parseBrokerConfig(c.text, "bad.toml");
  ASSERT_FALSE(cfg.ok()) << c.description;
  EXPECT_TRUE(cfg.error().code() == Errc::kInvalidArgument || cfg.error().code() == Errc::kNotFound)
      << c.description << ": " << errcName(cfg.error().code());
  EXPECT_NE(cfg.error().describe().find(c.expected), std::string::npos)
      << c.description << ": got '" << cfg.error().describe() << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BrokerConfigBad,
    testing::Values(
        BadCase{"unknown key names file and line", "[agents]\nlease_ms = 4000\nleese = 1\n",
                "bad.toml:3"},
        BadCase{"unknown table", "[brokr]\nx = 1\n", "bad.toml:"},
        BadCase{"lease out of range", "[agents]\nlease_ms = 10\n", "bad.toml:2"},
        BadCase{"wrong type", "[agents]\nlease_ms = \"ten\"\n", "bad.toml:2"},
        BadCase{"bad log level", "[broker]\nlog_level = \"loud\"\n", "bad.toml:2"},
        BadCase{"bad cpulist", "[host]\nreserved_cpus = \"3-1\"\n", "bad.toml:2"},
        BadCase{"non-loopback agent endpoint", "[agents]\nendpoint = \"tcp://0.0.0.0:5600\"\n",
                "bad.toml: agents.endpoint 'tcp://0.0.0.0:5600': host must be loopback"},
        BadCase{"agent endpoint bad port", "[agents]\nendpoint = \"tcp://127.0.0.1:99999\"\n",
                "agents.endpoint 'tcp://127.0.0.1:99999': bad port '99999'"},
        BadCase{"admin over plain tcp", "[admin]\nendpoint = \"tcp://127.0.0.1:5601\"\n",
                "bad.toml: admin.endpoint 'tcp://127.0.0.1:5601' must be ipc://PATH"},
        BadCase{"admin tcp without client keys",
                "[admin]\ntcp_endpoint = \"tcp://127.0.0.1:5601\"\n",
                "admin.tcp_endpoint needs admin.client_key_dir"},
        BadCase{"bad socket mode", "[admin]\nsocket_mode = \"0998\"\n",
                "bad.toml: admin.socket_mode '0998': expected an octal file mode such as \"0660\""},
        BadCase{"lease shorter than two periods",
                "[agents]\nlease_ms = 1500\nreport_period_ms = 1000\n",
                "bad.toml: agents.lease_ms (1500) must be at least twice agents.report_period_ms "
                "(1000)"},
        BadCase{"ack timeout beyond lease",
                "[agents]\nlease_ms = 2000\nreport_period_ms = 1000\nack_timeout_ms = 3000\n",
                "bad.toml: agents.ack_timeout_ms (3000) must be below agents.lease_ms (2000)"},
        BadCase{"relative state dir", "[broker]\nstate_dir = \"var/lib\"\n",
                "bad.toml: broker.state_dir 'var/lib' must be an absolute path"},
        BadCase{"syntax error", "[broker\n", "bad.toml:1"},
        BadCase{"unknown policy", "[policy]\nname = \"fastest\"\n", "fastest"},
        BadCase{"policy file and inline keys",
                "[policy]\nfile = \"/nonexistent/p.toml\"\ntick_ms = 10\n",
                "bad.toml: policy.file is set, so 'policy.tick_ms' belongs in that file "
                "(/nonexistent/p.toml), not here"},
        BadCase{"missing policy file", "[policy]\nfile = \"/nonexistent/p.toml\"\n",
                "/nonexistent/p.toml"}),
    [](const testing::TestParamInfo<BadCase>& p) { return "case" + std::to_string(p.index); });

TEST(BrokerConfig, ValidateCatchesOverrides) {
  BrokerConfig cfg;
  cfg.agentEndpoint = "tcp://10.0.0.1:5600";
  auto r = validateBrokerConfig(cfg, "command line");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("command line: agents.endpoint", 0), 0u)
      << r.error().message();
}

TEST(BrokerConfig, IpcPath) {
  EXPECT_EQ(ipcPath("ipc:///run/vnuma/admin.sock"), "/run/vnuma/admin.sock");
  EXPECT_EQ(ipcPath("tcp://127.0.0.1:1"), "");
}

}  // namespace
}  // namespace vnuma::broker
