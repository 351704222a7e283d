#include <gtest/gtest.h>

#include <cstdlib>

#include "guest-agent/config/AgentConfig.hpp"

namespace vnuma::agent {
namespace {

TEST(AgentConfigTest, DefaultsAndShippedFile) {
  auto empty = AgentConfig::parse("", "empty.toml");
  ASSERT_TRUE(empty.ok()) << empty.error().describe();
  EXPECT_EQ(empty->brokerEndpoint, "tcp://10.0.2.2:5600");
  EXPECT_EQ(empty->periodMs, 1000u);
  EXPECT_EQ(empty->mechanism, "cgroup");
  EXPECT_EQ(empty->managedName, "vnuma.managed");
  const char* src = std::getenv("VNUMA_SOURCE_DIR");
  if (src == nullptr) src = VNUMA_TEST_SOURCE_DIR;
  auto shipped = AgentConfig::load(std::string(src) + "/guest-agent/config/vnuma-agent.toml");
  ASSERT_TRUE(shipped.ok()) << shipped.error().describe();
  EXPECT_EQ(shipped->periodMs, empty->periodMs);
  EXPECT_EQ(shipped->brokerEndpoint, empty->brokerEndpoint);
}

TEST(AgentConfigTest, ValuesAreReadAndUuidLowercased) {
  auto c = AgentConfig::parse(
      "[agent]\nperiod_ms = 100\nmechanism = \"hotplug\"\nvm_uuid = "
      "\"1B4E28BA-2FA1-11D2-883F-0016D3CCA427\"\n"
      "[cgroup]\nroot = \"/vnuma-test\"\n[best_effort]\nkthreads = false\n",
      "a.toml");
  ASSERT_TRUE(c.ok()) << c.error().describe();
  EXPECT_EQ(c->periodMs, 100u);
  EXPECT_EQ(c->mechanism, "hotplug");
  EXPECT_EQ(c->vmUuid, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
  EXPECT_EQ(c->cgroupRoot, "/vnuma-test");
  EXPECT_FALSE(c->kthreads);
}

struct BadConfig {
  const char* description;
  const char* text;
  const char* error;
};

TEST(AgentConfigTest, BadValuesAreRefusedWithFileLineAndReason) {
  const BadConfig cases[] = {
      {"period below 100 ms", "[agent]\nperiod_ms = 99\n",
       "b.toml:2:13: agent.period_ms: expected integer in [100, 60000], got 99"},
      {"nice above 19", "[agent]\nnice = 20\n",
       "b.toml:2:8: agent.nice: expected integer in [-20, 19], got 20"},
      {"cross-field: only one CURVE key", "[broker]\npublic_key_file = \"/k.pub\"\n",
       "b.toml: broker.agent_key_file: CURVE needs both broker.public_key_file and "
       "broker.agent_key_file (or neither)"},
      {"endpoint scheme", "[broker]\nendpoint = \"http://x\"\n",
       "b.toml: broker.endpoint: must start with tcp:// or ipc:// (got 'http://x')"},
      {"managed name with a slash", "[cgroup]\nmanaged_name = \"a/b\"\n",
       "b.toml: cgroup.managed_name: must be a single directory name"},
      {"uuid", "[agent]\nvm_uuid = \"nope\"\n",
       "b.toml: agent.vm_uuid: not a UUID like 1b4e28ba-2fa1-11d2-883f-0016d3cca427: 'nope'"},
      {"relative fs root", "[agent]\nfs_root = \"tmp\"\n",
       "b.toml: agent.fs_root: must be an absolute path"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto r = AgentConfig::parse(c.text, "b.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().describe(), c.error);
  }
  auto unknown = AgentConfig::parse("[agent]\nperod_ms = 5\n", "b.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().describe().find("unknown key 'agent.perod_ms'"), std::string::npos);
}

}  // namespace
}  // namespace vnuma::agent
