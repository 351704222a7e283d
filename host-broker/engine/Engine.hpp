#pragma once
// Engine: the broker's single-threaded loop. It owns the ledger, the policy, the agent sessions
// and the admin sockets, and drives libvirt and host-side enforcement through seams.
//
// One Poller waits on: the agent ROUTER (CURVE), the admin ROUTER (ipc, mode from config),
// optionally the admin TCP ROUTER (CURVE), the hypervisor's event fd, a signalfd (when main
// passes one: SIGTERM/SIGINT stop, SIGHUP reloads agent keys) and a Waker (stop from another
// thread). Timers (ack timeouts, leases, policy ticks, memory observation) run after each wait.
//
// What happens (BRIEF.md "Invariants", "Protocol"):
//   start      host from libvirt; ledger from the state dir (or empty); reconcile with libvirt:
//              managed running VMs are added, gone ones removed, re-pinned ones re-added. A
//              state file that cannot be loaded or was written for another host stops start()
//              with a message saying what to do. The state is saved before anything is sent.
//   hello      key bound to the VM (rpc/); unknown VM -> Error UNKNOWN_VM; else Welcome (floor
//              vCPUs, lease, report period) and the VM's current grant (at least its floor;
//              re-sent with the same generation when nothing changed), then a policy tick.
//   policy     every tick_ms the policy decides a Plan; ledger/PlanExecutor turns it into
//              two-phase steps: revoke at A -> A's ack -> grant at B -> B's ack. Every step is
//              applied to the ledger and saved before the Grant goes out. Agents without a live
//              session are never given more (they can only lose pCPUs).
//   ack        ok=true (and applied vCPUs within the grant) completes the generation; the
//              deferred steps continue at once; emulator/iothreads are re-pinned.
//   ack timeout  a revoke not acked within ack_timeout_ms: the vCPUs pinned to those pCPUs get
//              their host weight lowered (VcpuEnforcer), then EnforceRevoke frees them. If the
//              write fails the pCPU stays held and it is retried next tick.
//   weights    reconciled before grants go out and every tick: the vCPUs on a VM's enforced
//              pCPUs run at the lowest host weight, all its others at the normal weight (so a
//              re-granted pCPU gets its weight back before the grant is sent, and a broker
//              restart repairs whatever an earlier run left lowered).
//   lease      the agent's lease runs from the broker's last message: a live agent not sent a
//              grant for lease_ms / 3 gets its current grant again (same generation: renewal).
//              An agent silent for lease_ms + grace_ms loses its non-floor pCPUs (lowered, then
//              LeaseExpired). Time since start counts for agents not yet seen after a restart.
//   memory     virtio-mem requested sizes through the hypervisor; decreases first, increases
//              only into room that libvirt's *current* sizes leave (PlanExecutor's rule).
//   pinning    emulator and I/O threads onto the reserved pCPUs when there are any, else onto
//              the VM's own granted pCPUs (never onto another VM's).
//   libvirt events  started/stopped/defined/undefined VMs are re-read; reconnects relist.
//
// Thread-safety: every member except requestStop() runs on the thread that calls run()/
// runOnce(). Dependencies passed by reference must outlive the engine.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "common/log/Log.hpp"
#include "common/transport/Transport.hpp"
#include "host-broker/api/AdminBackend.hpp"
#include "host-broker/api/Router.hpp"
#include "host-broker/config/BrokerConfig.hpp"
#include "host-broker/engine/VcpuEnforcer.hpp"
#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/policy/Policy.hpp"
#include "host-broker/rpc/AgentSessions.hpp"
#include "host-broker/state/StateStore.hpp"
#include "host-broker/sys/Hypervisor.hpp"

namespace vnuma::broker {

struct EngineLoggers {
  Logger engine;  // broker.engine
  Logger rpc;     // broker.rpc
  Logger api;     // broker.api
};

struct EngineOptions {
  BrokerConfig config;
  transport::CurveKeyPair brokerKeys;  // the agent endpoint's (and admin TCP's) CURVE identity
  rpc::AgentKeyRing agentKeys;
  std::vector<std::string> adminClientKeys;  // Z85 keys allowed on the admin TCP endpoint
  int signalFd = -1;                         // signalfd for SIGTERM/SIGINT/SIGHUP; -1 = none
  EngineLoggers log;
};

struct EngineCounters {
  std::uint64_t hellos = 0;
  std::uint64_t reports = 0;
  std::uint64_t acks = 0;
  std::uint64_t acksRefused = 0;  // ok=false or applied outside the grant
  std::uint64_t grantsSent = 0;
  std::uint64_t enforcements = 0;  // pCPUs freed by host-side enforcement
  std::uint64_t enforceFailures = 0;
  std::uint64_t leaseRenewals = 0;  // grants re-sent unchanged to keep an agent's lease
  std::uint64_t leaseExpiries = 0;
  std::uint64_t policyTicks = 0;
  std::uint64_t adminRequests = 0;
  std::uint64_t stateSaves = 0;
  std::uint64_t stateSaveFailures = 0;
  std::uint64_t hypervisorErrors = 0;
  std::uint64_t slowRounds = 0;  // engine rounds over 500 ms (logged with their breakdown)
};

class Engine final : public api::AdminBackend {
 public:
  // Builds everything, reconciles, saves the state and binds the sockets. Errors say what to
  // do; kInvalidArgument for configuration problems (main exits with kExitConfigError).
  static Result<std::unique_ptr<Engine>> start(EngineOptions opts, sys::Hypervisor& hv,
                                               VcpuEnforcer& enforcer);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loops until requestStop() or SIGTERM/SIGINT (logs "ready" first); saves on the way out.
  Result<void> run();
  // One wait (at most `maxWait`) plus due timers. For tests and benchmarks that drive the loop.
  Result<void> runOnce(std::chrono::milliseconds maxWait);
  void requestStop() noexcept;  // thread-safe
  bool stopping() const { return stop_; }

  std::string agentEndpoint() const;  // as bound (port 0 resolved)
  std::string adminEndpoint() const;
  std::string adminTcpEndpoint() const;  // "" when off
  const EngineCounters& counters() const { return counters_; }

  // --- api::AdminBackend (engine thread) ---
  api::HealthView health() const override;
  api::HostView host() const override;
  std::vector<api::VmView> vms() const override;
  api::LedgerView ledger() const override;
  api::PolicyView policy() const override;
  std::vector<api::EventView> eventsSince(std::uint64_t since, std::size_t max) const override;
  std::vector<api::MetricSample> metrics() const override;
  Result<api::VmView> updateVm(const std::string& uuid, const api::VmSettingsPatch& patch) override;
  Result<api::RebalanceResult> rebalance() override;
  Result<api::PolicyView> setPolicy(const std::string& name, const std::string& text) override;

 private:
  Engine(EngineOptions opts, sys::Hypervisor& hv, VcpuEnforcer& enforcer);
  Result<void> init();
  Result<void> reconcileWithHypervisor();
  Result<void> bindSockets();

  // Ledger write path: apply, count, remember that a save is due.
  Result<void> apply(const LedgerEdit& edit);
  Result<void> saveState();
  // Saves, then sends the grants queued in pendingSend_ (nothing is sent unsaved).
  void flushGrants();
  // A live session whose agent spoke within lease + grace.
  bool live(const std::string& vm, std::int64_t now) const;
  unsigned liveAgents() const;  // managed VMs whose agent is live()

  void onAgentMessages();
  void onHello(const std::string& vm, const proto::Envelope& env);
  void onReport(const std::string& vm, const proto::Report& r);
  void onAck(const std::string& vm, const proto::Ack& a);
  void onAdmin(transport::Server& server);
  void onHypervisorEvents();
  void onSignal();

  void tick();
  void checkAckTimeouts(std::int64_t now);
  void checkLeases(std::int64_t now);
  // Re-sends the current grant to live agents not sent anything for lease_ms / 3.
  void renewLeases(std::int64_t now);
  Plan decide();
  unsigned advance();  // PlanExecutor steps for the last plan; returns pCPUs moved
  // Sends `target` to `vm` as a new generation (SendGrant + save + Grant + weight restore).
  Result<void> sendGrantTarget(const std::string& vm, const CpuSet& target,
                               std::uint64_t minGeneration);
  void sendGrantMessage(const std::string& vm);
  // Lowers (low) or restores the host weight of every vCPU of `vm` pinned to `pcpus` and
  // records it in lowered_; false when a write failed (that pCPU is retried later).
  bool setWeights(const std::string& vm, const CpuSet& pcpus, bool low);
  // Invariant 4: the vCPUs on a VM's enforced pCPUs run at the lowest host weight, the others
  // at their normal weight. Writes only what changed since the last call.
  void reconcileWeights();
  void repinHelpers(const std::string& vm);
  void observeMemory();
  // ObserveMemoryCurrent for every device of `now` whose current size the ledger does not have.
  void observeCurrent(const VmEntry& entry, const VmSpec& now);
  void noteRevokes(const std::string& vm);
  void addOrUpdateVm(const sys::VmInfo& info);
  void removeVm(const std::string& uuid, const std::string& why);

  std::int64_t nowMs() const;   // steady clock
  std::int64_t wallMs() const;  // system clock (events)

  EngineOptions opts_;
  sys::Hypervisor& hv_;
  VcpuEnforcer& enforcer_;
  Logger log_;
  std::uint64_t epoch_ = 0;
  std::int64_t startMs_ = 0;

  std::optional<Ledger> ledger_;
  StateStore store_;
  bool saveDue_ = false;
  std::unique_ptr<Policy> policy_;
  PolicyParams params_;
  std::string policyText_;
  std::string policyFile_;
  Plan lastPlan_;
  std::int64_t nextTickMs_ = 0;
  std::map<VmId, VmReport> reports_;
  std::map<VmId, sys::VmInfo> vmInfo_;  // last seen from libvirt, every VM (managed or not)
  std::map<VmId, std::string> settingsSource_;
  std::map<VmId, std::int64_t> revokeSinceMs_;    // VM has revoking pCPUs since
  std::map<VmId, CpuSet> pinnedHelpers_;          // last emulator/iothread pinning
  std::map<VmId, CpuSet> lowered_;                // pCPUs whose vCPUs run at lowered host weight
  std::map<VmId, std::int64_t> lastGrantSentMs_;  // steady clock of the last Grant send attempt
  std::map<VmId, std::string> addError_;          // why a managed VM is not in the ledger
  std::set<VmId> pendingSend_;                    // grants applied, waiting for a save to go out
  std::string hostname_;
  bool hypervisorUp_ = true;

  std::unique_ptr<rpc::AgentServer> agents_;
  std::unique_ptr<transport::Server> admin_;
  std::unique_ptr<transport::Server> adminTcp_;
  std::unique_ptr<transport::Waker> waker_;
  transport::Poller poller_;
  std::size_t idxAgents_ = 0, idxAdmin_ = 0, idxAdminTcp_ = SIZE_MAX, idxHv_ = SIZE_MAX,
              idxSignal_ = SIZE_MAX, idxWaker_ = 0;
  std::unique_ptr<api::Router> router_;
  bool stop_ = false;
  EngineCounters counters_;
};

}  // namespace vnuma::broker
