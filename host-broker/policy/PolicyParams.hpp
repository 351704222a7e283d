#pragma once
// PolicyParams: the knobs of the rebalancing policies, as a plain struct, with three forms:
//   - a TOML file an admin copies between hosts (loadPolicyFile / paramsFromConfig);
//   - JSON for GET|PUT /v1/policy (paramsToJson / paramsFromJson);
//   - TOML text back (paramsToToml) for `vnumactl policy show --toml` and docs.
// Every key is optional (defaults below); unknown keys and out-of-range values are errors that
// name the key (and file:line for TOML), never clamped. See docs/policy.md for the meaning.
//
// TOML layout (JSON uses the same nesting: {"name":"demand","tick_ms":1000,"demand":{...},...}):
//   [policy]            name = "demand"   tick_ms = 1000
//   [policy.demand]     grow_alpha = 0.7  shrink_alpha = 0.15  runnable_gain = 0.5
//                       pressure_gain = 0.02  headroom = 0.1  min_busy_fraction = 0.05
//   [policy.placement]  cooldown_ms = 3000  move_budget = 32  hysteresis_cpus = 0.75
//                       smt_together = true  follow_memory = true
//   [policy.memory]     enabled = true  step_mb = 256  grow_pressure = 10.0
//                       shrink_free_fraction = 0.30  grow_free_fraction = 0.10
// Thread-safety: plain value type.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/config/ConfigFile.hpp"
#include "common/core/Result.hpp"

namespace vnuma::broker {

struct DemandParams {
  double growAlpha = 0.7;         // EWMA weight of a new sample when demand rises (0,1]
  double shrinkAlpha = 0.15;      // EWMA weight when demand falls (0,1]; small = shrink slowly
  double runnableGain = 0.5;      // CPUs of demand per runnable task beyond the grant [0,4]
  double pressureGain = 0.02;     // CPUs of demand per percent of cpu pressure x grant [0,1]
  double headroom = 0.1;          // extra fraction on top of demand [0,2]
  double minBusyFraction = 0.05;  // a vCPU below this busy fraction counts as idle [0,1)
};

struct PlacementParams {
  std::int64_t cooldownMs = 3000;  // min time between two changes of one VM's set [0,3600000]
  unsigned moveBudget = 32;        // pCPUs changing owner per tick, all VMs together [1,65536]
  double hysteresisCpus = 0.75;    // ignore share changes smaller than this [0,64]
  bool smtTogether = true;         // grant/revoke SMT siblings as a unit when possible
  bool followMemory = true;        // prefer nodes holding the VM's memory
};

struct MemoryParams {
  bool enabled = true;
  std::uint64_t stepBytes = 256ull << 20;  // per tick per VM per node (step_mb) [1,1048576] MiB
  double growPressure = 10.0;              // memory PSI some avg10 (%) that asks for more [0,100]
  double shrinkFreeFraction = 0.30;        // guest free above this fraction: give memory back
  double growFreeFraction = 0.10;          // guest free below this fraction: ask for more
};

struct PolicyParams {
  std::string name = "demand";  // a registered policy (policyNames())
  std::int64_t tickMs = 1000;   // decision period [10,600000]
  DemandParams demand;
  PlacementParams placement;
  MemoryParams memory;

  // Cross-field checks (shrink_free_fraction > grow_free_fraction, known name...).
  Result<void> validate() const;
};

// Reads [policy...] from an already loaded config file (marks the keys known; the caller runs
// rejectUnknownKeys()). Used by the broker config (a [policy] section in broker.toml). Keys the
// file does not set take the built-in defaults; `policy.name` takes `nameIfUnset` when that is
// not empty (PUT /v1/policy keeps the running policy), else the built-in default.
Result<PolicyParams> paramsFromConfig(const ConfigFile& file, const std::string& nameIfUnset = "");
// A standalone policy file: load + paramsFromConfig + rejectUnknownKeys + validate.
Result<PolicyParams> loadPolicyFile(const std::string& path);
// The same for a policy file's text; `sourceName` prefixes error messages.
Result<PolicyParams> parsePolicyToml(std::string_view text, const std::string& sourceName,
                                     const std::string& nameIfUnset = "");

std::string paramsToJson(const PolicyParams& p);
std::string paramsToToml(const PolicyParams& p);
// Strict: unknown keys ("policy: unknown key 'demand.grow'"), wrong types ("policy: 'tick_ms'
// must be an integer") and out-of-range values ("policy: 'demand.grow_alpha' must be in
// (0, 1], got 1.5") are Errc::kInvalidArgument. Missing keys keep their defaults.
Result<PolicyParams> paramsFromJson(std::string_view text);

}  // namespace vnuma::broker
