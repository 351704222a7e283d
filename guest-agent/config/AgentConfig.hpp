#pragma once
// The agent's configuration: TOML -> AgentConfig (plain struct) -> validated.
// Every key, its default and its range are listed in docs/agent.md and in the shipped
// guest-agent/config/vnuma-agent.toml. Unknown keys and out-of-range values are errors naming
// file:line (vnuma::ConfigFile); `vnuma-agent --check-config` runs exactly this path and exits
// with kExitConfigError (78) on failure.

#include <cstdint>
#include <string>

#include "common/core/Result.hpp"

namespace vnuma::agent {

struct AgentConfig {
  // [broker]
  std::string brokerEndpoint = "tcp://10.0.2.2:5600";
  std::string brokerPublicKeyFile;  // "" = no CURVE (plain TCP; only for tests)
  std::string agentKeyFile;         // secret key file "<dir>/agent.key"; required with CURVE
  std::uint32_t reconnectMinMs = 500;
  std::uint32_t reconnectMaxMs = 30000;
  // [agent]
  std::string vmUuid;                // "" = <fs_root>/sys/class/dmi/id/product_uuid, lowercased
  std::uint32_t periodMs = 1000;     // report/repair period, 100..60000
  std::string mechanism = "cgroup";  // "cgroup" or "hotplug"
  std::string fsRoot = "/";          // where proc/ and sys/ are (tests point it at fixtures)
  std::string logLevel = "info";
  std::uint32_t sendQueue = 100;  // bounded outgoing queue (messages), 1..10000
  int nice = 10;                  // the agent's own CPU priority, -20..19 (see docs/agent.md)
  // [cgroup]
  std::string cgroupRoot = "/";  // agent's root inside each cgroup hierarchy
  std::string managedName = "vnuma.managed";
  // [best_effort]
  bool irq = true;
  bool workqueue = true;
  bool kthreads = true;  // only acts when fs_root is "/"
  // [memory]
  bool ensureMovable = true;  // set auto_online_blocks to online_movable

  // Parses and validates; errors are "file:line: ..." from ConfigFile or "file: key: ..." for
  // cross-field checks.
  static Result<AgentConfig> load(const std::string& path);
  static Result<AgentConfig> parse(const std::string& text, const std::string& sourceName);
};

}  // namespace vnuma::agent
