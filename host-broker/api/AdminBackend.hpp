#pragma once
// What the admin API reads and what it may ask for, as plain data: the seam between the
// router (pure logic, unit-tested with a fake) and the engine (which fills these views from
// the ledger, sessions and libvirt, and executes the commands on its own thread).
//
// Ownership: views are values, copied out of the engine. Thread-safety: an AdminBackend is
// called only from the engine thread (the admin socket is polled by the engine loop).
// Errors of the commands: kNotFound -> 404, kInvalidArgument -> 400, kConflict -> 409,
// anything else -> 500. The message is shown to the admin verbatim.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"

namespace vnuma::broker::api {

struct HealthView {
  std::string status = "ok";  // "ok", "starting", "degraded"
  std::string version;
  std::uint64_t epoch = 0;  // changes on each broker start
  std::int64_t uptimeMs = 0;
  bool libvirtConnected = false;
  unsigned agentsConnected = 0;
  unsigned vmsManaged = 0;
  std::string policy;
};

struct NodeView {
  unsigned id = 0;
  CpuSet cpus;
  std::uint64_t memTotalKb = 0;
  std::uint64_t memReserveKb = 0;
  std::uint64_t memCommittedKb = 0;  // boot + max(requested, current) over VMs, plus reserve
  std::vector<unsigned> distances;
};

struct HostView {
  std::string hostname;
  std::string libvirtUri;
  CpuSet pcpus;     // every pCPU the broker knows
  CpuSet reserved;  // housekeeping, never granted
  CpuSet free;      // not reserved, held by nobody
  std::vector<NodeView> nodes;
};

struct VmMemoryView {
  unsigned hostNode = 0;
  int guestNode = -1;
  std::string alias;
  std::uint64_t bootKb = 0;
  std::uint64_t requestedKb = 0;
  std::uint64_t currentKb = 0;
  std::uint64_t blockKb = 0;
};

struct VmView {
  std::string uuid;
  std::string name;
  std::string state;  // libvirt state: "running", "shutoff", ...
  bool managed = false;
  std::string unmanagedReason;  // why not managed (empty when managed)
  unsigned vcpus = 0;
  unsigned floor = 1;    // pCPUs the VM always keeps
  unsigned ceiling = 0;  // most pCPUs it may get (0 = its vCPU count)
  double weight = 1.0;
  std::string settingsSource;  // "metadata", "default", "api", or "state" (restored at start)
  CpuSet held;                 // pCPUs granted and acknowledged
  CpuSet granting;             // sent, not yet acked
  CpuSet revoking;             // revoke sent, not yet acked (still held)
  CpuSet floorPcpus;
  CpuSet enforced;                    // pCPUs where host-side enforcement lowered this VM's vCPU
  std::uint64_t generation = 0;       // last grant generation sent
  std::uint64_t ackedGeneration = 0;  // last generation acked ok
  bool agentConnected = false;
  std::int64_t lastSeenMsAgo = -1;  // -1: never
  double demand = 0;                // smoothed demand in pCPUs (policy input)
  std::vector<VmMemoryView> memory;
  std::vector<std::string> notes;  // e.g. guest/host node mismatch
};

struct PcpuView {
  unsigned id = 0;
  int node = -1;
  std::string state;  // "free", "reserved", "granting", "granted", "revoking"
  std::string ownerUuid;
  std::string ownerName;
  bool floor = false;
  bool enforced = false;
};

struct LedgerView {
  std::uint64_t version = 0;  // edit count
  std::vector<PcpuView> pcpus;
  std::vector<NodeView> nodes;
};

struct PolicyView {
  std::string name;
  std::string file;                    // where the parameters came from ("" = built-in defaults)
  std::string text;                    // the parameters file's text as loaded
  std::vector<std::string> available;  // registry names
};

struct EventView {
  std::uint64_t seq = 0;
  std::int64_t unixMs = 0;
  std::string kind;  // "grant", "revoke", "ack", "enforce", "lease-expired", "agent-connected", ...
  std::string vm;    // uuid or empty
  std::string detail;
};

struct MetricSample {
  std::string name;  // "vnuma_broker_reports_total"
  std::string help;
  std::string type;  // "counter" or "gauge"
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct VmSettingsPatch {
  std::optional<unsigned> floor;
  std::optional<unsigned> ceiling;
  std::optional<double> weight;
};

struct RebalanceResult {
  std::uint64_t moves = 0;  // pCPU moves started
  std::string summary;
};

class AdminBackend {
 public:
  virtual ~AdminBackend() = default;

  virtual HealthView health() const = 0;
  virtual HostView host() const = 0;
  virtual std::vector<VmView> vms() const = 0;
  virtual LedgerView ledger() const = 0;
  virtual PolicyView policy() const = 0;
  // Events with seq > since, oldest first, at most `max`.
  virtual std::vector<EventView> eventsSince(std::uint64_t since, std::size_t max) const = 0;
  virtual std::vector<MetricSample> metrics() const = 0;

  // Commands. `uuid` is already resolved by the router. The patch is validated by the router
  // for shape and obvious ranges; the backend checks what needs the ledger (409).
  virtual Result<VmView> updateVm(const std::string& uuid, const VmSettingsPatch& patch) = 0;
  virtual Result<RebalanceResult> rebalance() = 0;
  // Replaces the policy: `name` from the registry (already checked against policy().available;
  // empty = the name in `text`, else the current one), `text` a policy file's content (empty =
  // keep the current parameters).
  virtual Result<PolicyView> setPolicy(const std::string& name, const std::string& text) = 0;
};

}  // namespace vnuma::broker::api
