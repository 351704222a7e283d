#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "common/topo/Topology.hpp"
#include "host-broker/sys/Hypervisor.hpp"
#include "host-broker/sys/LibvirtXml.hpp"

namespace vnuma::sys {
namespace {

// libvirt prints every error to stderr by default; we report them through Result instead.
void silentErrorHandler(void*, virErrorPtr) {}

std::string lastLibvirtError() {
  const char* m = virGetLastErrorMessage();
  return m != nullptr ? m : "unknown libvirt error";
}

int lastLibvirtCode() {
  virErrorPtr e = virGetLastError();
  return e != nullptr ? e->code : 0;
}

Error hvError(const std::string& what) {
  return Error(Errc::kHypervisor, what + ": " + lastLibvirtError());
}

// One default event loop per process (libvirt requires registering it before any connection
// is opened); its thread lives as long as the process.
std::once_flag gEventLoopOnce;
bool gEventLoopOk = false;

void startEventLoopOnce() {
  std::call_once(gEventLoopOnce, [] {
    virSetErrorFunc(nullptr, silentErrorHandler);
    if (virEventRegisterDefaultImpl() < 0) return;
    gEventLoopOk = true;
    std::thread([] {
      for (;;)
        if (virEventRunDefaultImpl() < 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }).detach();
  });
}

// libvirt calls are synchronous and made on the engine thread: one that waits on QEMU (its
// monitor, or a domain job held by another client) holds up the whole broker. Every public
// call is timed; a slow one is logged with what it was, so an operator can see the cause.
constexpr std::chrono::milliseconds kSlowCall{1000};

class SlowCallWarning {
 public:
  SlowCallWarning(const Logger& log, const char* op, const std::string& vm)
      : log_(log), op_(op), vm_(vm), start_(std::chrono::steady_clock::now()) {}
  ~SlowCallWarning() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start_);
    if (ms >= kSlowCall && log_)
      log_->warn("slow libvirt call op={} vm={} ms={}", op_, vm_.empty() ? "-" : vm_, ms.count());
  }
  SlowCallWarning(const SlowCallWarning&) = delete;
  SlowCallWarning& operator=(const SlowCallWarning&) = delete;

 private:
  const Logger& log_;
  const char* op_;
  std::string vm_;
  std::chrono::steady_clock::time_point start_;
};

struct DomainDeleter {
  void operator()(virDomain* d) const { virDomainFree(d); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainDeleter>;

bool looksLikeUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

VmEventKind kindOf(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
      return VmEventKind::kDefined;
    case VIR_DOMAIN_EVENT_UNDEFINED:
      return VmEventKind::kUndefined;
    case VIR_DOMAIN_EVENT_STARTED:
      return VmEventKind::kStarted;
    case VIR_DOMAIN_EVENT_SUSPENDED:
      return VmEventKind::kSuspended;
    case VIR_DOMAIN_EVENT_RESUMED:
      return VmEventKind::kResumed;
    case VIR_DOMAIN_EVENT_STOPPED:
      return VmEventKind::kStopped;
    default:
      return VmEventKind::kOther;
  }
}

// Driver name of a URI ("qemu+ssh://h/system" -> "qemu") and whether it names a remote host.
std::pair<std::string, bool> parseUri(const std::string& uri) {
  auto scheme = uri.find("://");
  if (scheme == std::string::npos) return {uri, false};
  std::string driver = uri.substr(0, scheme);
  driver = driver.substr(0, driver.find('+'));
  std::string rest = uri.substr(scheme + 3);
  std::string host = rest.substr(0, rest.find('/'));
  bool remote = !host.empty() && host != "localhost" && host != "127.0.0.1";
  return {driver, remote};
}

}  // namespace

// Everything libvirt's event thread touches lives here. libvirt holds its own reference (the
// callbacks' opaque, released through their free callback), so a callback still running while
// the hypervisor is destroyed never touches freed memory.
struct EventQueue {
  std::mutex mu;
  std::deque<VmEvent> events;
  int fd = -1;
  Logger log;
  std::string uri;
  std::atomic<bool> lost{false};

  ~EventQueue() {
    if (fd >= 0) ::close(fd);
  }

  void push(VmEvent e) {
    {
      std::lock_guard lock(mu);
      if (events.size() >= 10000) events.pop_front();  // bounded: the engine relists anyway
      events.push_back(std::move(e));
    }
    std::uint64_t one = 1;
    ssize_t n = ::write(fd, &one, sizeof one);
    (void)n;
  }

  static void* ref(const std::shared_ptr<EventQueue>& q) {
    return new std::shared_ptr<EventQueue>(q);
  }
  static EventQueue& of(void* opaque) {
    return **static_cast<std::shared_ptr<EventQueue>*>(opaque);
  }
  static void unref(void* opaque) { delete static_cast<std::shared_ptr<EventQueue>*>(opaque); }
};

struct LibvirtHypervisor::Impl {
  LibvirtOptions opts;
  Logger log;
  virConnectPtr conn = nullptr;
  int lifecycleCallback = -1;
  bool closeCallback = false;
  void* closeRef = nullptr;  // our EventQueue reference handed to the close callback
  std::shared_ptr<EventQueue> queue = std::make_shared<EventQueue>();
  std::optional<HostInfo> host;  // cached: the host's topology does not change under us

  ~Impl() { disconnect(); }

  static void onLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
    EventQueue& q = EventQueue::of(opaque);
    VmEvent e;
    e.kind = kindOf(event);
    e.detail = detail;
    if (const char* n = virDomainGetName(dom)) e.name = n;
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (virDomainGetUUIDString(dom, uuid) == 0) e.uuid = uuid;
    q.log->debug("libvirt event vm={} kind={} detail={}", e.name, vmEventKindName(e.kind), detail);
    q.push(std::move(e));
  }

  static void onClose(virConnectPtr, int reason, void* opaque) {
    EventQueue& q = EventQueue::of(opaque);
    q.lost = true;
    q.log->warn("libvirt connection closed uri={} reason={}", q.uri, reason);
    VmEvent e;
    e.kind = VmEventKind::kConnectionLost;
    e.detail = reason;
    q.push(std::move(e));
  }

  void disconnect() {
    if (conn == nullptr) return;
    if (lifecycleCallback >= 0) virConnectDomainEventDeregisterAny(conn, lifecycleCallback);
    if (closeCallback) virConnectUnregisterCloseCallback(conn, onClose);
    if (closeRef != nullptr) EventQueue::unref(closeRef);
    closeRef = nullptr;
    lifecycleCallback = -1;
    closeCallback = false;
    virConnectClose(conn);
    conn = nullptr;
  }

  Result<void> connect() {
    conn = virConnectOpen(opts.uri.c_str());
    if (conn == nullptr)
      return Error(Errc::kUnavailable,
                   "cannot connect to libvirt at '" + opts.uri + "': " + lastLibvirtError());
    queue->lost = false;
    if (opts.events && gEventLoopOk) {
      if (opts.keepaliveIntervalS > 0 &&
          virConnectSetKeepAlive(conn, opts.keepaliveIntervalS, opts.keepaliveCount) < 0)
        log->warn("libvirt keepalive not enabled uri={} error={}", opts.uri, lastLibvirtError());
      lifecycleCallback = virConnectDomainEventRegisterAny(
          conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(onLifecycle),
          EventQueue::ref(queue), EventQueue::unref);
      if (lifecycleCallback < 0)
        log->warn("libvirt lifecycle events unavailable uri={} error={}", opts.uri,
                  lastLibvirtError());
      // No free callback here: drivers without close callbacks (the test driver) report success
      // without keeping it, so we own this reference and drop it after unregistering.
      closeRef = EventQueue::ref(queue);
      closeCallback = virConnectRegisterCloseCallback(conn, onClose, closeRef, nullptr) == 0;
    }
    return okResult();
  }

  // Called at the top of every operation: re-establishes a lost connection once.
  Result<void> ensureConnected() {
    bool alive = conn != nullptr && !queue->lost && virConnectIsAlive(conn) == 1;
    if (alive) return okResult();
    log->warn("libvirt connection to {} lost; reconnecting", opts.uri);
    disconnect();
    if (auto r = connect(); !r) {
      log->error("libvirt reconnect failed uri={} error={}", opts.uri, r.error().message());
      return Error(Errc::kUnavailable, "libvirt connection to '" + opts.uri +
                                           "' lost and reconnect failed: " + r.error().message());
    }
    log->info("libvirt reconnected uri={}", opts.uri);
    VmEvent e;
    e.kind = VmEventKind::kReconnected;
    queue->push(std::move(e));
    return okResult();
  }

  Result<DomainPtr> lookup(const std::string& vm) {
    VNUMA_TRY_VOID(ensureConnected());
    virDomainPtr d = looksLikeUuid(vm) ? virDomainLookupByUUIDString(conn, vm.c_str()) : nullptr;
    if (d == nullptr) d = virDomainLookupByName(conn, vm.c_str());
    if (d == nullptr) {
      if (lastLibvirtCode() == VIR_ERR_NO_DOMAIN || lastLibvirtCode() == VIR_ERR_INVALID_ARG)
        return Error(Errc::kNotFound, "unknown VM '" + vm + "'");
      return hvError("looking up VM '" + vm + "'");
    }
    return DomainPtr(d);
  }

  Result<HostInfo> readHost() {
    VNUMA_TRY_VOID(ensureConnected());
    char* caps = virConnectGetCapabilities(conn);
    if (caps == nullptr) return hvError("reading libvirt capabilities");
    std::string xml(caps);
    std::free(caps);
    auto h = parseCapabilities(xml);
    if (!h) return std::move(h).error().context("libvirt capabilities of '" + opts.uri + "'");
    if (h->cells.empty()) {
      // libvirt's test driver with a custom file: no <cells>; derive them from the node info.
      virNodeInfo ni{};
      if (virNodeGetInfo(conn, &ni) < 0) return hvError("reading libvirt node info");
      *h = synthesizeHost(ni.nodes, ni.sockets, ni.cores, ni.threads,
                          static_cast<std::uint64_t>(ni.memory) * 1024);
      log->info("libvirt reports no NUMA cells; synthesized {} cell(s) from node info uri={}",
                h->cells.size(), opts.uri);
    }
    h->uri = opts.uri;
    if (char* u = virConnectGetURI(conn)) {
      h->uri = u;
      std::free(u);
    }
    if (char* hn = virConnectGetHostname(conn)) {
      h->hostname = hn;
      std::free(hn);
    }
    auto [driver, remote] = parseUri(h->uri);
    h->local = !remote && driver != "test";
    if (h->local) crossCheck(*h);
    return h;
  }

  void crossCheck(HostInfo& info) {
    auto topo = Topology::read(opts.sysfsRoot);
    if (!topo) {
      info.mismatches.push_back("cannot read sysfs for the cross-check: " +
                                topo.error().describe());
      return;
    }
    if (topo->nodes.size() != info.cells.size())
      info.mismatches.push_back("libvirt reports " + std::to_string(info.cells.size()) +
                                " NUMA cell(s), sysfs " + std::to_string(topo->nodes.size()));
    for (const auto& cell : info.cells) {
      const NodeInfo* n = topo->node(cell.id);
      if (n == nullptr) {
        info.mismatches.push_back("libvirt cell " + std::to_string(cell.id) + " is not in sysfs");
        continue;
      }
      CpuSet sysCpus = n->cpus & topo->online;
      if (!(sysCpus == cell.cpus))
        info.mismatches.push_back("node " + std::to_string(cell.id) + ": libvirt cpus '" +
                                  cell.cpus.toList() + "', sysfs online cpus '" + sysCpus.toList() +
                                  "'");
      std::uint64_t sysBytes = n->memTotalKb * 1024;
      std::uint64_t diff =
          sysBytes > cell.memoryBytes ? sysBytes - cell.memoryBytes : cell.memoryBytes - sysBytes;
      if (sysBytes > 0 && diff * 100 > sysBytes)
        info.mismatches.push_back("node " + std::to_string(cell.id) + ": libvirt memory " +
                                  std::to_string(cell.memoryBytes) + " bytes, sysfs " +
                                  std::to_string(sysBytes) + " bytes");
    }
    for (const auto& m : info.mismatches) log->warn("host topology mismatch: {}", m);
  }

  Result<const HostInfo*> cachedHost() {
    if (!host) {
      auto h = readHost();
      if (!h) return std::move(h).error();
      host = std::move(*h);
    }
    return &*host;
  }

  Result<VmInfo> readVm(virDomainPtr dom) {
    auto h = cachedHost();
    if (!h) return std::move(h).error();
    CpuSet all;
    for (const auto& c : (*h)->cpus) all.add(c.id);
    char* xmlC = virDomainGetXMLDesc(dom, 0);
    const char* nm = virDomainGetName(dom);
    std::string name = nm != nullptr ? nm : "?";
    if (xmlC == nullptr) return hvError("reading the XML of VM '" + name + "'");
    std::string xml(xmlC);
    std::free(xmlC);
    auto vm = parseDomainXml(xml, all);
    if (!vm) return std::move(vm).error();
    vm->active = virDomainIsActive(dom) == 1;
    if (!vm->active) vm->id = -1;
    char* md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, kVnumaXmlns,
                                    VIR_DOMAIN_AFFECT_CURRENT);
    if (md != nullptr) {
      auto s = parseVnumaMetadata(md);
      std::free(md);
      if (s)
        vm->settings = *s;
      else
        vm->metadataError = s.error().message();
    } else if (lastLibvirtCode() != VIR_ERR_NO_DOMAIN_METADATA) {
      vm->metadataError = "cannot read vnuma metadata: " + lastLibvirtError();
    }
    if (!vm->metadataError.empty()) log->warn("vm={} {}", vm->name, vm->metadataError);
    classifyVm(*vm, **h);
    return vm;
  }

  Result<std::vector<unsigned char>> cpumap(const CpuSet& cpus) {
    if (cpus.empty()) return Error(Errc::kInvalidArgument, "empty CPU set");
    auto h = cachedHost();
    if (!h) return std::move(h).error();
    CpuSet all;
    for (const auto& c : (*h)->cpus) all.add(c.id);
    if (!cpus.isSubsetOf(all))
      return Error(Errc::kInvalidArgument, "CPUs '" + (cpus - all).toList() +
                                               "' are not host CPUs (host has '" + all.toList() +
                                               "')");
    std::vector<unsigned char> map(VIR_CPU_MAPLEN(all.last() + 1), 0);
    for (unsigned c : cpus.ids())
      map[c / 8] = static_cast<unsigned char>(map[c / 8] | (1u << (c % 8)));
    return map;
  }
};

Result<std::unique_ptr<LibvirtHypervisor>> LibvirtHypervisor::open(LibvirtOptions opts) {
  if (!opts.log) return Error(Errc::kInvalidArgument, "LibvirtHypervisor needs a logger");
  if (opts.events) startEventLoopOnce();
  virSetErrorFunc(nullptr, silentErrorHandler);
  auto impl = std::make_unique<Impl>();
  impl->log = opts.log;
  impl->opts = std::move(opts);
  impl->queue->log = impl->log;
  impl->queue->uri = impl->opts.uri;
  impl->queue->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->queue->fd < 0) return Error::fromErrno("creating the libvirt event fd");
  VNUMA_TRY_VOID(impl->connect());
  impl->log->info("libvirt connected uri={} events={}", impl->opts.uri,
                  impl->lifecycleCallback >= 0);
  return std::unique_ptr<LibvirtHypervisor>(new LibvirtHypervisor(std::move(impl)));
}

LibvirtHypervisor::LibvirtHypervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LibvirtHypervisor::~LibvirtHypervisor() = default;

std::string LibvirtHypervisor::uri() const { return impl_->opts.uri; }

Result<HostInfo> LibvirtHypervisor::hostInfo() {
  SlowCallWarning slow(impl_->log, "hostInfo", {});
  auto h = impl_->readHost();
  if (h) impl_->host = *h;
  return h;
}

Result<std::vector<VmInfo>> LibvirtHypervisor::listVms() {
  SlowCallWarning slow(impl_->log, "listVms", {});
  VNUMA_TRY_VOID(impl_->ensureConnected());
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(impl_->conn, &doms, 0);
  if (n < 0) return hvError("listing libvirt domains");
  std::vector<DomainPtr> owned;
  for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
  std::free(doms);
  std::vector<VmInfo> out;
  for (auto& d : owned) {
    auto vm = impl_->readVm(d.get());
    if (!vm) {
      const char* nm = virDomainGetName(d.get());
      impl_->log->warn("skipping vm={} error={}", nm != nullptr ? nm : "?", vm.error().describe());
      if (vm.error().code() == Errc::kUnavailable) return std::move(vm).error();
      continue;
    }
    out.push_back(std::move(*vm));
  }
  return out;
}

Result<VmInfo> LibvirtHypervisor::vm(const std::string& vm) {
  SlowCallWarning slow(impl_->log, "readVm", vm);
  auto d = impl_->lookup(vm);
  if (!d) return std::move(d).error();
  return impl_->readVm(d->get());
}

Result<std::vector<VcpuStat>> LibvirtHypervisor::vcpuStats(const std::string& vm) {
  SlowCallWarning slow(impl_->log, "vcpuStats", vm);
  auto d = impl_->lookup(vm);
  if (!d) return std::move(d).error();
  if (virDomainIsActive(d->get()) != 1)
    return Error(Errc::kConflict, "VM '" + vm + "' is not running");
  virDomainPtr list[] = {d->get(), nullptr};
  virDomainStatsRecordPtr* records = nullptr;
  int n = virDomainListGetStats(list, VIR_DOMAIN_STATS_VCPU, &records, 0);
  if (n < 0) return hvError("reading vCPU stats of VM '" + vm + "'");
  std::vector<std::pair<std::string, std::uint64_t>> fields;
  for (int r = 0; r < n; ++r) {
    for (int i = 0; i < records[r]->nparams; ++i) {
      const virTypedParameter& p = records[r]->params[i];
      if (p.type == VIR_TYPED_PARAM_ULLONG)
        fields.emplace_back(p.field, p.value.ul);
      else if (p.type == VIR_TYPED_PARAM_INT)
        fields.emplace_back(p.field, static_cast<std::uint64_t>(p.value.i));
      else if (p.type == VIR_TYPED_PARAM_UINT)
        fields.emplace_back(p.field, p.value.ui);
    }
  }
  virDomainStatsRecordListFree(records);
  return vcpuStatsFromFields(fields);
}

Result<void> LibvirtHypervisor::setMemoryRequested(const std::string& vm,
                                                   const MemoryDeviceRef& dev,
                                                   std::uint64_t requestedBytes) {
  SlowCallWarning slow(impl_->log, "setMemoryRequested", vm);
  auto d = impl_->lookup(vm);
  if (!d) return std::move(d).error();
  bool active = virDomainIsActive(d->get()) == 1;
  // Running: resize live (what the ledger is about). Defined only: change the persistent config.
  char* xmlC = virDomainGetXMLDesc(d->get(), active ? 0 : VIR_DOMAIN_XML_INACTIVE);
  if (xmlC == nullptr) return hvError("reading the XML of VM '" + vm + "'");
  std::string xml(xmlC);
  std::free(xmlC);
  auto devXml = virtioMemUpdateXml(xml, dev, requestedBytes);
  if (!devXml) return std::move(devXml).error().context("resizing virtio-mem of VM '" + vm + "'");
  unsigned flags = active ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
  if (virDomainUpdateDeviceFlags(d->get(), devXml->c_str(), flags) < 0)
    return hvError("resizing virtio-mem " + dev.describe() + " of VM '" + vm + "' to " +
                   std::to_string(requestedBytes) + " bytes");
  impl_->log->info("virtio-mem resize vm={} dev=\"{}\" requested_bytes={} live={}", vm,
                   dev.describe(), requestedBytes, active);
  return okResult();
}

Result<void> LibvirtHypervisor::pinEmulator(const std::string& vm, const CpuSet& cpus) {
  SlowCallWarning slow(impl_->log, "pinEmulator", vm);
  auto d = impl_->lookup(vm);
  if (!d) return std::move(d).error();
  auto map = impl_->cpumap(cpus);
  if (!map) return std::move(map).error().context("pinning the emulator of VM '" + vm + "'");
  if (virDomainPinEmulator(d->get(), map->data(), static_cast<int>(map->size()),
                           VIR_DOMAIN_AFFECT_CURRENT) < 0)
    return hvError("pinning the emulator of VM '" + vm + "' to '" + cpus.toList() + "'");
  impl_->log->info("emulator pinned vm={} cpus={}", vm, cpus.toList());
  return okResult();
}

Result<void> LibvirtHypervisor::pinIOThreads(const std::string& vm, const CpuSet& cpus) {
  SlowCallWarning slow(impl_->log, "pinIOThreads", vm);
  auto d = impl_->lookup(vm);
  if (!d) return std::move(d).error();
  auto map = impl_->cpumap(cpus);
  if (!map) return std::move(map).error().context("pinning the I/O threads of VM '" + vm + "'");
  virDomainIOThreadInfoPtr* info = nullptr;
  int n = virDomainGetIOThreadInfo(d->get(), &info, VIR_DOMAIN_AFFECT_CURRENT);
  if (n < 0) return hvError("listing the I/O threads of VM '" + vm + "'");
  std::vector<unsigned> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(info[i]->iothread_id);
    virDomainIOThreadInfoFree(info[i]);
  }
  std::free(info);
  for (unsigned id : ids)
    if (virDomainPinIOThread(d->get(), id, map->data(), static_cast<int>(map->size()),
                             VIR_DOMAIN_AFFECT_CURRENT) < 0)
      return hvError("pinning I/O thread " + std::to_string(id) + " of VM '" + vm + "' to '" +
                     cpus.toList() + "'");
  impl_->log->info("iothreads pinned vm={} count={} cpus={}", vm, ids.size(), cpus.toList());
  return okResult();
}

Result<void> LibvirtHypervisor::setSettings(const std::string& vm, const VnumaSettings& s) {
  SlowCallWarning slow(impl_->log, "setSettings", vm);
  std::string xml = vnumaMetadataXml(s);
  if (auto v = parseVnumaMetadata(xml); !v) return std::move(v).error();
  auto d = impl_->lookup(vm);
  if (!d) return std::move(d).error();
  unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
  if (virDomainIsActive(d->get()) == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
  if (virDomainSetMetadata(d->get(), VIR_DOMAIN_METADATA_ELEMENT, xml.c_str(), kVnumaXmlPrefix,
                           kVnumaXmlns, flags) < 0)
    return hvError("writing the vnuma metadata of VM '" + vm + "'");
  return okResult();
}

int LibvirtHypervisor::eventFd() const { return impl_->queue->fd; }

std::vector<VmEvent> LibvirtHypervisor::drainEvents() {
  std::uint64_t cnt = 0;
  ssize_t r =
      ::read(impl_->queue->fd, &cnt, sizeof cnt);  // resets the eventfd (EAGAIN when already 0)
  (void)r;
  std::lock_guard lock(impl_->queue->mu);
  std::vector<VmEvent> out(impl_->queue->events.begin(), impl_->queue->events.end());
  impl_->queue->events.clear();
  return out;
}

}  // namespace vnuma::sys
