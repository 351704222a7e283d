#pragma once
// The broker's hypervisor seam: everything the broker reads from and writes to libvirt.
//
//   Hypervisor          the interface the engine codes against (pure virtual).
//   LibvirtHypervisor   the real one (libvirt C API; qemu:///system, test:///path.xml, remote
//   URIs). FaultyHypervisor    a wrapper injecting errors / timeouts on chosen calls (tests).
//
// Units: memory sizes are BYTES everywhere in this API (libvirt's KiB are converted). CPU ids
// in `CpuSet`s are host pCPU ids unless the field says vCPU.
//
// VM identity: every `vm` argument is a domain name or a UUID string ("1b4e28ba-2fa1-..."); an
// unknown VM gives Errc::kNotFound with the message "unknown VM '<vm>'".
// Errors: libvirt failures are Errc::kHypervisor with libvirt's own message; a lost connection
// that cannot be re-established is Errc::kUnavailable. Nothing here throws.
//
// Thread-safety: a Hypervisor is used from ONE thread (the engine thread): every member is
// called from that thread only. The only exception is eventFd(), whose descriptor may be polled
// from that same thread while libvirt's internal event thread writes to it.
// Lifecycle events are delivered as: eventFd() becomes readable -> drainEvents() returns them
// (and resets the fd; a wakeup may occasionally find nothing new). Connection loss (keepalive
// or server side) queues kConnectionLost; the next call reconnects and queues kReconnected:
// relist everything then, events may have been missed.
//
// Classification (see docs/libvirt.md):
//   managed  = opted in through <vnuma:vm managed='yes' .../> metadata (valid)
//              AND every vCPU is pinned to exactly one pCPU AND no two vCPUs share a pCPU.
//   hostNode of a guest node = the single host node holding all its vCPUs' pCPUs and its
//              <numatune><memnode> nodeset (when present); -1 when they disagree.
//   mirror   = guest node i sits on host node i for every i, one guest node per host node.
//              A non-mirroring VM is still managed; `mismatches` says why it does not mirror.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"
#include "common/log/Log.hpp"

namespace vnuma::sys {

// The XML namespace of our domain metadata: <vnuma:vm xmlns:vnuma="..." managed='yes' .../>.
inline constexpr const char* kVnumaXmlns = "https://vnuma.dev/xmlns/vnuma/1";
inline constexpr const char* kVnumaXmlPrefix = "vnuma";

// ---- host --------------------------------------------------------------------------------

struct HostCpu {
  unsigned id = 0;
  unsigned cell = 0;  // host NUMA node
  int socket = -1;    // -1 when libvirt does not say
  int core = -1;
  CpuSet siblings;  // SMT siblings including itself; {id} when unknown
};

struct HostCell {
  unsigned id = 0;
  CpuSet cpus;
  std::uint64_t memoryBytes = 0;
};

struct HostInfo {
  std::string uri;  // the connection URI actually used
  std::string hostname;
  bool local = false;           // true when the URI's host is this machine (sysfs cross-checked)
  std::vector<HostCell> cells;  // ascending id
  std::vector<HostCpu> cpus;    // ascending id
  std::vector<std::string> mismatches;  // libvirt vs local sysfs, human readable; empty = agree

  const HostCell* cell(unsigned id) const;
  int cellOfCpu(unsigned cpu) const;  // -1 if unknown
};

// ---- VMs ---------------------------------------------------------------------------------

// Per-VM settings from <vnuma:vm managed='yes' floor='1' ceiling='4' weight='100'/>.
struct VnumaSettings {
  bool optedIn = false;   // managed='yes'
  unsigned floor = 1;     // pCPUs always kept; >= 1
  unsigned ceiling = 0;   // max pCPUs; 0 = as many vCPUs as the VM has
  unsigned weight = 100;  // share weight, 1..10000
};

struct VirtioMemDevice {
  std::string
      alias;  // e.g. "virtiomem0" (live XML) or "ua-..." user alias; may be empty when inactive
  unsigned guestNode = 0;            // <target><node>
  std::uint64_t sizeBytes = 0;       // <target><size>: the maximum pluggable
  std::uint64_t blockBytes = 0;      // <target><block>
  std::uint64_t requestedBytes = 0;  // <target><requested>
  std::uint64_t currentBytes = 0;    // <target><current>; 0 when libvirt does not report it
};

struct GuestNode {
  unsigned id = 0;
  CpuSet vcpus;                    // guest vCPU ids (<cell cpus=...>)
  std::uint64_t memoryBytes = 0;   // boot memory of the cell (<cell memory=...>)
  CpuSet pcpus;                    // union of the pins of its vCPUs
  std::optional<CpuSet> memNodes;  // <numatune><memnode cellid=id nodeset=...> (host node ids)
  int hostNode = -1;               // derived (see top of file); -1 when undetermined
};

struct VmInfo {
  std::string uuid;
  std::string name;
  int id = -1;  // libvirt domain id; -1 when inactive
  bool active = false;
  unsigned vcpus = 0;                // current vCPU count
  std::vector<CpuSet> vcpuAffinity;  // [vcpu] -> pCPUs it may run on (libvirt's pin info)
  std::vector<int> pcpuOfVcpu;   // [vcpu] -> the one pCPU it is pinned to, -1 if not exactly one
  std::vector<GuestNode> nodes;  // guest NUMA cells; one implicit node 0 when the XML has none
  std::vector<VirtioMemDevice> memDevices;
  std::optional<CpuSet> emulatorPin;  // <cputune><emulatorpin>, when set
  unsigned iothreads = 0;             // <iothreads> count

  std::optional<VnumaSettings> settings;  // nullopt: no vnuma metadata
  std::string metadataError;  // non-empty: metadata present but invalid (then not managed)

  bool managed = false;
  std::string unmanagedReason;  // why not managed; empty when managed
  bool mirror = false;
  std::vector<std::string> mismatches;  // why guest nodes do not mirror host nodes

  const GuestNode* node(unsigned id) const;
  const VirtioMemDevice* memDeviceForNode(unsigned guestNode) const;
};

// vcpu.N.* from virConnectGetAllDomainStats(VIR_DOMAIN_STATS_VCPU); cumulative nanoseconds.
struct VcpuStat {
  unsigned vcpu = 0;
  int state = -1;             // vcpu.N.state (virVcpuState), -1 unknown
  std::uint64_t timeNs = 0;   // vcpu.N.time: CPU time consumed
  std::uint64_t waitNs = 0;   // vcpu.N.wait (0 when absent)
  std::uint64_t delayNs = 0;  // vcpu.N.delay: runnable but waiting for a pCPU
  bool hasDelay = false;      // false when libvirt/kernel does not report delay
};

// Which virtio-mem device to resize: by alias or by guest node (exactly one of them).
struct MemoryDeviceRef {
  std::string alias;
  std::optional<unsigned> guestNode;
  static MemoryDeviceRef byAlias(std::string a) { return {std::move(a), std::nullopt}; }
  static MemoryDeviceRef byNode(unsigned n) { return {{}, n}; }
  std::string describe() const;  // "alias 'virtiomem0'" / "guest node 1"
};

enum class VmEventKind {
  kDefined,
  kUndefined,
  kStarted,
  kStopped,  // shut off / crashed / destroyed
  kSuspended,
  kResumed,
  kOther,  // pmsuspend, shutdown-in-progress, ...
  kConnectionLost,
  kReconnected,  // relist everything: events may have been missed
};
const char* vmEventKindName(VmEventKind k) noexcept;

struct VmEvent {
  VmEventKind kind = VmEventKind::kOther;
  std::string uuid;  // empty for connection events
  std::string name;
  int detail = 0;  // libvirt's event detail code
};

// ---- the interface -----------------------------------------------------------------------

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual std::string uri() const = 0;

  // Host topology from libvirt capabilities (cross-checked with local sysfs when local).
  virtual Result<HostInfo> hostInfo() = 0;
  // Every domain (active and inactive), classified. A VM whose XML cannot be read is skipped
  // with a warning log; a failure to list at all is an error.
  virtual Result<std::vector<VmInfo>> listVms() = 0;
  // One VM, same data as listVms().
  virtual Result<VmInfo> vm(const std::string& vm) = 0;
  // vcpu.N.time / delay of a running VM; kConflict "VM '<vm>' is not running" when inactive.
  virtual Result<std::vector<VcpuStat>> vcpuStats(const std::string& vm) = 0;
  // virtio-mem resize (<requested>), like `virsh update-memory-device --live` for a running VM
  // (persistent config for a defined-only VM). requestedBytes must be a multiple of the block
  // size and <= size (kInvalidArgument, checked before libvirt is called); no such device ->
  // kNotFound. The new current size shows later in vm()/listVms().
  virtual Result<void> setMemoryRequested(const std::string& vm, const MemoryDeviceRef& dev,
                                          std::uint64_t requestedBytes) = 0;
  // Pinning of the QEMU emulator threads / every I/O thread (live when running, else the
  // persistent config). cpus must be non-empty host CPUs (kInvalidArgument otherwise).
  // A VM without I/O threads: pinIOThreads does nothing and succeeds.
  virtual Result<void> pinEmulator(const std::string& vm, const CpuSet& cpus) = 0;
  virtual Result<void> pinIOThreads(const std::string& vm, const CpuSet& cpus) = 0;
  // Writes the vnuma metadata (persistent config; also live when the VM runs).
  virtual Result<void> setSettings(const std::string& vm, const VnumaSettings& s) = 0;

  // Readable (POLLIN) while events are pending; -1 when this hypervisor has no events.
  virtual int eventFd() const = 0;
  // Takes every pending event (oldest first) and resets eventFd().
  virtual std::vector<VmEvent> drainEvents() = 0;
};

// ---- libvirt -----------------------------------------------------------------------------

struct LibvirtOptions {
  std::string uri = "qemu:///system";
  int keepaliveIntervalS = 5;  // virConnectSetKeepAlive; <= 0 disables (test driver ignores it)
  unsigned keepaliveCount = 3;
  bool events = true;           // register lifecycle events (starts libvirt's event thread)
  std::string sysfsRoot = "/";  // for the local cross-check
  Logger log;                   // required
};

class LibvirtHypervisor final : public Hypervisor {
 public:
  // Opens the connection (kUnavailable "cannot connect to libvirt at '<uri>': <why>").
  static Result<std::unique_ptr<LibvirtHypervisor>> open(LibvirtOptions opts);
  ~LibvirtHypervisor() override;
  LibvirtHypervisor(const LibvirtHypervisor&) = delete;
  LibvirtHypervisor& operator=(const LibvirtHypervisor&) = delete;

  std::string uri() const override;
  Result<HostInfo> hostInfo() override;
  Result<std::vector<VmInfo>> listVms() override;
  Result<VmInfo> vm(const std::string& vm) override;
  Result<std::vector<VcpuStat>> vcpuStats(const std::string& vm) override;
  Result<void> setMemoryRequested(const std::string& vm, const MemoryDeviceRef& dev,
                                  std::uint64_t requestedBytes) override;
  Result<void> pinEmulator(const std::string& vm, const CpuSet& cpus) override;
  Result<void> pinIOThreads(const std::string& vm, const CpuSet& cpus) override;
  Result<void> setSettings(const std::string& vm, const VnumaSettings& s) override;
  int eventFd() const override;
  std::vector<VmEvent> drainEvents() override;

  struct Impl;  // private; public only so the .cpp's libvirt callbacks can name it

 private:
  explicit LibvirtHypervisor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- fault injection ---------------------------------------------------------------------

enum class HvCall {
  kHostInfo,
  kListVms,
  kVm,
  kVcpuStats,
  kSetMemoryRequested,
  kPinEmulator,
  kPinIOThreads,
  kSetSettings,
};
const char* hvCallName(HvCall c) noexcept;

// Wraps another Hypervisor (not owned; must outlive this) and makes chosen calls fail.
// Configure it from the test thread; the wrapped calls happen on the engine thread: the
// fault table is mutex-guarded, so both may run concurrently.
class FaultyHypervisor final : public Hypervisor {
 public:
  explicit FaultyHypervisor(Hypervisor& inner) : inner_(inner) {}

  // The next `times` calls of `call` fail with `error` (without reaching the inner hypervisor).
  void failNext(HvCall call, Error error, unsigned times = 1);
  // Every call of `call` fails with `error` until clear().
  void failAlways(HvCall call, Error error);
  // The next `times` calls of `call` sleep `delay` and then fail with Errc::kTimeout
  // "libvirt call <name> timed out after <ms> ms" (a simulated libvirt timeout).
  void timeoutNext(HvCall call, std::chrono::milliseconds delay, unsigned times = 1);
  void clear();
  // How many times `call` was made (failed or not).
  unsigned calls(HvCall call) const;

  std::string uri() const override { return inner_.uri(); }
  Result<HostInfo> hostInfo() override;
  Result<std::vector<VmInfo>> listVms() override;
  Result<VmInfo> vm(const std::string& vm) override;
  Result<std::vector<VcpuStat>> vcpuStats(const std::string& vm) override;
  Result<void> setMemoryRequested(const std::string& vm, const MemoryDeviceRef& dev,
                                  std::uint64_t requestedBytes) override;
  Result<void> pinEmulator(const std::string& vm, const CpuSet& cpus) override;
  Result<void> pinIOThreads(const std::string& vm, const CpuSet& cpus) override;
  Result<void> setSettings(const std::string& vm, const VnumaSettings& s) override;
  int eventFd() const override { return inner_.eventFd(); }
  std::vector<VmEvent> drainEvents() override { return inner_.drainEvents(); }

 private:
  struct Fault {
    std::optional<Error> error;
    std::chrono::milliseconds delay{0};
    unsigned remaining = 0;  // 0 with `always`
    bool always = false;
  };
  // Returns the injected error for this call, if any, counting the call.
  std::optional<Error> take(HvCall call);

  Hypervisor& inner_;
  mutable std::mutex mu_;
  std::vector<std::pair<HvCall, Fault>> faults_;
  std::vector<std::pair<HvCall, unsigned>> counts_;
};

}  // namespace vnuma::sys
