#pragma once
// The broker's configuration: parse (TOML through vnuma::ConfigFile) -> BrokerConfig -> validate.
//
// Every key, its default and its range is documented in docs/configuration.md; the shipped
// default file is host-broker/config/vnuma-broker.toml. Unknown keys and out-of-range values are
// errors naming file:line (from ConfigFile) or, for cross-key checks, the file and both keys.
// Nothing is clamped. `vnuma-broker --check-config` runs exactly loadBrokerConfig().
// Command-line overrides (--libvirt-uri, ...) are applied by main() after loading, then
// validateBrokerConfig() runs again so an override cannot smuggle in a bad value.
// Thread-safety: plain data.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"
#include "host-broker/policy/PolicyParams.hpp"

namespace vnuma::broker {

struct BrokerConfig {
  // [broker]
  std::string libvirtUri = "qemu:///system";
  std::string stateDir = "/var/lib/vnuma";
  std::string logLevel = "info";  // trace, debug, info, warn, error, off
  std::string logFile;            // empty: stderr only

  // [agents]
  std::string agentEndpoint = "tcp://127.0.0.1:5600";   // loopback only (guests reach 10.0.2.2)
  std::string brokerKeyFile = "/etc/vnuma/broker.key";  // CURVE secret key (broker.pub beside it)
  std::string agentKeyDir = "/etc/vnuma/agents";        // <vm-uuid>.pub, one per managed VM
  std::uint32_t leaseMs = 10000;        // a grant is valid this long after the last message
  std::uint32_t graceMs = 2000;         // extra slack before a silent agent loses non-floor pCPUs
  std::uint32_t reportPeriodMs = 1000;  // agents report this often (renews the lease)
  std::uint32_t ackTimeoutMs = 500;     // revoke not acked in time -> host-side enforcement

  // [admin]
  std::string adminEndpoint = "ipc:///run/vnuma/admin.sock";
  unsigned adminSocketMode = 0660;  // file mode of the ipc socket: who may administer
  std::string adminTcpEndpoint;     // optional loopback TCP, always CURVE; empty = off
  std::string adminClientKeyDir;    // authorized admin client public keys (*.pub) for TCP

  // [host]
  CpuSet reservedCpus;                   // housekeeping pCPUs never granted to a VM
  std::uint64_t memoryReserveMb = 1024;  // per host node, never given to VMs

  // [policy] (and [policy.demand], [policy.placement], [policy.memory]): the rebalancing
  // policy's parameters inline (host-broker/policy/PolicyParams.hpp, docs/policy.md), or
  // `policy.file = PATH` naming a policy file an admin carries between hosts; not both.
  PolicyParams policy;
  std::string policyFile;  // non-empty: `policy` was loaded from this file
};

// Reads and validates `path`. Errors are kInvalidArgument with "file:line: ..." text.
Result<BrokerConfig> loadBrokerConfig(const std::string& path);
// Same from text (tests; sourceName is used in messages).
Result<BrokerConfig> parseBrokerConfig(std::string_view text, const std::string& sourceName);
// Cross-key and format checks that do not need the file (also run after CLI overrides).
// `source` prefixes messages ("vnuma-broker.toml" or "command line").
Result<void> validateBrokerConfig(const BrokerConfig& cfg, const std::string& source);

// "ipc:///run/vnuma/admin.sock" -> "/run/vnuma/admin.sock"; "" for other transports.
std::string ipcPath(const std::string& endpoint);

}  // namespace vnuma::broker
