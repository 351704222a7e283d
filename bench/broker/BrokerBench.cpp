// broker_bench: the broker under load, over real ZeroMQ on 127.0.0.1 with CURVE, with the real
// engine on libvirt's test driver and simulated agents (host-broker/engine/testing). Every
// number comes with a baseline measured in the same run, interleaved with it, and their ratio:
// the machines these run on are shared and noisy, absolute numbers alone mean little.
//
//   broker_bench handoff [--rounds N] [--state-parents DIR...]
//       pCPU handoff A -> B (revoke at A, A's ack, grant at B, B's ack), one pCPU per round,
//       moved back and forth by PATCHing alpha's weight (3 = 3:1 pCPUs, 1 = 2:2). One broker per
//       --state-parents directory (default: the temp dir and /dev/shm, i.e. state on disk and
//       on tmpfs), rounds interleaved. Baselines, interleaved with the rounds: a raw ZeroMQ
//       round trip through the same transport (CURVE DEALER -> ROUTER -> DEALER on 127.0.0.1,
//       echo thread), and the broker's atomic state write (write + fsync + rename + fsync of
//       the directory) of a file of the state's size next to the first broker's state.
//   broker_bench reports [--agents N] [--seconds S] [--windows W]
//       N simulated agents send Reports as fast as their bounded queues take them, for W windows
//       of S seconds, alternating with raw CURVE clients (as many as the descriptor limit
//       allows, at most N) sending the same bytes to a raw ROUTER that only decodes them
//       (baseline). Reports/s, and the CPU the receiving side used (engine thread + its ZeroMQ
//       I/O threads vs raw receiver + its I/O thread, from /proc/self/task/*/schedstat).
//   broker_bench admin [--requests N]
//       Sequential admin GETs over the admin ipc:// socket (one client) interleaved with raw
//       ZeroMQ round trips of the same request bytes on an ipc:// echo socket.
// Bounded: every wait has a timeout; --rounds <= 10000, --agents <= 1000, S <= 60, W <= 5,
// --requests <= 100000. Network: 127.0.0.1 and ipc:// in a temporary directory only.
// Results and the commands used are in docs/benchmarks-broker.md.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"
#include "host-broker/engine/testing/BrokerHarness.hpp"

namespace {

using namespace vnuma;
using namespace vnuma::broker;
using namespace vnuma::broker::testing;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double msSince(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Summary {
  std::size_t n = 0;
  double p50 = 0, p99 = 0, max = 0, mean = 0;
};

Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    return v[std::min(v.size() - 1,
                      static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
  };
  s.n = v.size();
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  s.max = v.back();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return s;
}

// One table row: name, samples, p50, p99, max, mean.
void printRow(const char* name, const Summary& s) {
  std::printf("| %s | %zu | %.3f | %.3f | %.3f | %.3f |\n", name, s.n, s.p50, s.p99, s.max, s.mean);
}

void printRatio(const char* what, const Summary& num, const Summary& den) {
  std::printf("ratio %s: p50 %.2fx, p99 %.2fx\n", what, den.p50 > 0 ? num.p50 / den.p50 : 0,
              den.p99 > 0 ? num.p99 / den.p99 : 0);
}

// A temporary directory removed on every exit path.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(const std::string& parent = std::filesystem::temp_directory_path().string()) {
    std::string tmpl = (std::filesystem::path(parent) / "vnuma-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

// ---- per-thread CPU of this process ---------------------------------------------------------

struct ThreadSample {
  std::string comm;
  double cpuSec = 0;
};
using ThreadTable = std::map<pid_t, ThreadSample>;

ThreadTable threadTable() {
  ThreadTable out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const std::string dir = e.path().string();
    std::ifstream sched(dir + "/schedstat"), comm(dir + "/comm");
    unsigned long long ns = 0;
    ThreadSample s;
    if (!(sched >> ns)) continue;  // exited meanwhile
    std::getline(comm, s.comm);
    s.cpuSec = static_cast<double>(ns) / 1e9;
    out[static_cast<pid_t>(std::stol(e.path().filename().string()))] = s;
  }
  return out;
}

std::set<pid_t> newThreads(const ThreadTable& before, const ThreadTable& after) {
  std::set<pid_t> out;
  for (const auto& [tid, s] : after)
    if (!before.count(tid)) out.insert(tid);
  return out;
}

double cpuOf(const std::set<pid_t>& tids, const ThreadTable& from, const ThreadTable& to) {
  double sum = 0;
  for (pid_t t : tids) {
    auto a = from.find(t), b = to.find(t);
    if (b != to.end()) sum += b->second.cpuSec - (a == from.end() ? 0 : a->second.cpuSec);
  }
  return sum;
}

std::string describeThreads(const std::set<pid_t>& tids, const ThreadTable& t) {
  std::map<std::string, int> byName;
  for (pid_t tid : tids)
    if (auto it = t.find(tid); it != t.end()) byName[it->second.comm]++;
  std::string out;
  for (const auto& [name, n] : byName)
    out += (out.empty() ? "" : ", ") + std::to_string(n) + "x " + name;
  return out;
}

// ---- raw ZeroMQ baselines ---------------------------------------------------------------------

// A ROUTER on its own thread (like the engine's) that echoes every message back, or only decodes
// it as an agent Envelope and counts it (sink). Bound on the calling thread; from then on the
// socket belongs to the server thread.
class RawServer {
 public:
  enum class Mode { kEcho, kSink };
  static std::unique_ptr<RawServer> start(transport::ServerOptions so, Mode mode) {
    auto s = transport::Server::bind(std::move(so));
    if (!s) {
      std::cerr << "raw server: " << s.error().describe() << "\n";
      return nullptr;
    }
    std::unique_ptr<RawServer> r(new RawServer(std::move(s).value(), mode));
    r->thread_ = std::thread([p = r.get()] { p->run(); });
    while (r->tid_.load() == 0) std::this_thread::sleep_for(1ms);
    return r;
  }
  ~RawServer() {
    stop_ = true;
    thread_.join();
  }
  std::string endpoint() const { return server_->boundEndpoint(); }
  std::uint64_t received() const { return received_.load(); }
  pid_t tid() const { return tid_.load(); }

 private:
  RawServer(std::unique_ptr<transport::Server> s, Mode m) : server_(std::move(s)), mode_(m) {}
  void run() {
    tid_ = static_cast<pid_t>(::syscall(SYS_gettid));
    while (!stop_) {
      auto in = server_->receive(20ms);
      if (!in || !in->has_value()) continue;
      if (mode_ == Mode::kEcho) {
        (void)server_->send((*in)->peer, (*in)->payload);
      } else if (codec::decodeEnvelope((*in)->payload)) {
        ++received_;
      }
    }
  }
  std::unique_ptr<transport::Server> server_;
  Mode mode_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<pid_t> tid_{0};
};

std::unique_ptr<transport::Client> rawClient(const std::string& endpoint,
                                             const transport::CurveKeyPair* serverKeys,
                                             const transport::CurveKeyPair* clientKeys,
                                             std::size_t maxBytes) {
  transport::ClientOptions co;
  co.endpoint = endpoint;
  co.maxMessageBytes = maxBytes;
  if (serverKeys) {
    co.serverPublicKey = serverKeys->publicKey;
    co.clientKeys = *clientKeys;
  }
  auto c = transport::Client::connect(co);
  if (!c) {
    std::cerr << "raw client: " << c.error().describe() << "\n";
    return nullptr;
  }
  return std::move(c).value();
}

// One round trip in ms; negative on failure.
double roundTripMs(transport::Client& c, const std::string& payload) {
  const auto t0 = Clock::now();
  if (!c.send(payload)) return -1;
  auto r = c.receive(5000ms);
  if (!r || !r->has_value()) return -1;
  return msSince(t0, Clock::now());
}

// The broker's StateStore::save sequence on a file of `bytes` bytes in `dir`, in ms.
double atomicWriteMs(const std::string& dir, std::size_t bytes) {
  const std::string data(bytes, 'x'), tmp = dir + "/bench-state.tmp",
                                      dst = dir + "/bench-state.json";
  const auto t0 = Clock::now();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), dst.c_str()) != 0) return -1;
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -1;
  ::fsync(dfd);
  ::close(dfd);
  return msSince(t0, Clock::now());
}

double metric(BrokerHarness& h, const std::string& name) {
  auto r = h.admin("GET", "/v1/metrics");
  auto pos = r.raw.find("\n" + name + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(r.raw.substr(pos + name.size() + 2));
}

// Pumps one agent until pred() holds; false after `timeout`.
bool pumpOne(SimAgent* a, const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    a->pump(5ms);
  }
  return true;
}

// ---- handoff ----------------------------------------------------------------------------------

const std::string kAlpha = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kBeta = "bbbbbbbb-0000-4000-8000-000000000002";

// The engine tests' host: 4 pCPUs shared by alpha and beta (4 vCPUs each, pinned 1:1).
HarnessOptions twoVms(const std::string& fixtureDir) {
  HarnessOptions o;
  o.fixture = fixtureDir + "/host-shared4.xml";
  o.vmUuids = {kAlpha, kBeta};
  o.logLevel = "error";
  return o;
}

// One broker with alpha and beta connected, each granted 2 of the 4 pCPUs; its directory
// (state, keys, sockets) under `parent`.
struct HandoffRig {
  std::string label;
  std::unique_ptr<ScratchDir> dir;
  std::unique_ptr<BrokerHarness> h;
  std::unique_ptr<SimAgent> a, b;
  std::vector<double> handoff;
  double savesBefore = 0;
};

std::string fsTypeOf(const std::string& path) {
  struct statfs sf {};
  if (::statfs(path.c_str(), &sf) != 0) return "?";
  if (sf.f_type == TMPFS_MAGIC) return "tmpfs";
  if (sf.f_type == EXT4_SUPER_MAGIC) return "ext4";
  if (sf.f_type == XFS_SUPER_MAGIC) return "xfs";
  if (sf.f_type == BTRFS_SUPER_MAGIC) return "btrfs";
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(sf.f_type));
  return buf;
}

bool setUpRig(HandoffRig& r, const std::string& fixtureDir, const std::string& parent) {
  r.dir = std::make_unique<ScratchDir>(parent);
  if (r.dir->path.empty()) {
    std::cerr << "cannot create a directory under " << parent << "\n";
    return false;
  }
  r.label += " (" + fsTypeOf(r.dir->path) + " " + parent + ")";
  HarnessOptions o = twoVms(fixtureDir);
  o.dir = r.dir->path;
  o.tickMs = 60000;  // only the admin changes move pCPUs, one per round
  o.leaseMs = 60000;
  o.reportPeriodMs = 60000;
  o.ackTimeoutMs = 5000;
  r.h = std::make_unique<BrokerHarness>(o);
  if (auto s = r.h->start(); !s) {
    std::cerr << s.error().describe() << "\n";
    return false;
  }
  auto a = r.h->agent(kAlpha);
  auto b = r.h->agent(kBeta);
  if (!a || !b) return false;
  r.a = std::move(a).value();
  r.b = std::move(b).value();
  (void)r.a->hello();
  (void)r.b->hello();
  SimAgent* A = r.a.get();
  SimAgent* B = r.b.get();
  if (!pumpUntil(
          {A, B}, [&] { return A->vcpus.size() == 2 && B->vcpus.size() == 2; }, 10s)) {
    std::cerr << r.label << ": agents not granted 2+2 vCPUs (alpha " << A->vcpus.size() << ", beta "
              << B->vcpus.size() << ")\n";
    return false;
  }
  r.savesBefore = metric(*r.h, "vnuma_broker_state_saves_total");
  return true;
}

// Round i moves one pCPU: even rounds beta -> alpha (weight 3 vs 1: 3 and 1 pCPUs), odd rounds
// back (weight 1: 2 and 2). The admin API's weight is the factor (the XML's 100 is 1).
bool handoffRound(HandoffRig& r, int i) {
  const bool toAlpha = i % 2 == 0;
  SimAgent* gainer = toAlpha ? r.a.get() : r.b.get();
  SimAgent* loser = toAlpha ? r.b.get() : r.a.get();
  const std::size_t want = gainer->vcpus.size() + 1, loserHad = loser->vcpus.size();
  const std::size_t loserGrants = loser->grants.size(), gainerGrants = gainer->grants.size();
  auto p = r.h->admin("PATCH", "/v1/vms/alpha", toAlpha ? R"({"weight":3})" : R"({"weight":1})");
  if (p.status != 200) {
    std::cerr << r.label << ": PATCH failed: " << p.raw << "\n";
    return false;
  }
  // Wait on the loser alone, then on the gainer alone: each pump returns as soon as its message
  // arrives, so the polling adds nothing to the measured interval.
  const bool revoked = pumpOne(
      loser, [&] { return loser->grants.size() > loserGrants; }, 5s);
  const bool granted = revoked && pumpOne(
                                      gainer, [&] { return gainer->vcpus.size() == want; }, 5s);
  if (!granted || loser->vcpus.size() + 1 != loserHad ||
      gainer->grants.size() != gainerGrants + 1) {
    std::cerr << r.label << " round " << i << ": no clean handoff (alpha " << r.a->vcpus.size()
              << " vCPUs, beta " << r.b->vcpus.size() << ")\n"
              << r.h->admin("GET", "/v1/ledger").raw << "\n";
    return false;
  }
  const auto grantAt = gainer->grants.back().at;
  if (grantAt < loser->lastAckAt) {
    std::cerr << r.label << " round " << i << ": the grant reached B before A acked its revoke\n";
    return false;
  }
  r.handoff.push_back(msSince(loser->grants[loserGrants].at, gainer->lastAckAt));
  return true;
}

int benchHandoff(const std::string& fixtureDir, int rounds,
                 const std::vector<std::string>& parents) {
  std::vector<HandoffRig> rigs(parents.size());
  for (std::size_t k = 0; k < parents.size(); ++k) {
    rigs[k].label = "broker " + std::to_string(k + 1);
    if (!setUpRig(rigs[k], fixtureDir, parents[k])) return 1;
  }
  auto echoKeys = transport::generateCurveKeyPair();
  auto clientKeys = transport::generateCurveKeyPair();
  if (!echoKeys || !clientKeys) return 1;
  transport::ServerOptions so;
  so.endpoint = "tcp://127.0.0.1:0";
  so.curveSecretKey = echoKeys->secretKey;
  auto echo = RawServer::start(so, RawServer::Mode::kEcho);
  if (!echo) return 1;
  auto rtt =
      rawClient(echo->endpoint(), &*echoKeys, &*clientKeys, transport::kMaxAgentMessageBytes);
  if (!rtt) return 1;
  // The same payload as a Grant of 3 vCPUs (what the broker sends in a handoff).
  proto::Envelope sample;
  sample.set_version(kProtocolVersion);
  sample.set_seq(1);
  sample.set_session_id(1);
  for (unsigned v : {0u, 1u, 2u}) sample.mutable_grant()->add_vcpus(v);
  sample.mutable_grant()->set_generation(7);
  const std::string payload = codec::encodeEnvelope(sample);
  if (roundTripMs(*rtt, payload) < 0) {  // also completes the CURVE handshake
    std::cerr << "raw round trip failed\n";
    return 1;
  }
  std::size_t stateBytes = 4096;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(rigs[0].dir->path + "/state", ec))
    if (e.is_regular_file()) stateBytes = std::max<std::size_t>(e.file_size(), 1);

  std::vector<double> raw, save;
  for (int i = 0; i < rounds; ++i) {
    for (auto& r : rigs)
      if (!handoffRound(r, i)) return 1;
    // Baselines between rounds (also lets each broker take B's ack before its next PATCH).
    for (int k = 0; k < 2; ++k) {
      const double ms = roundTripMs(*rtt, payload);
      if (ms < 0) {
        std::cerr << "raw round trip failed\n";
        return 1;
      }
      raw.push_back(ms);
    }
    const double w = atomicWriteMs(rigs[0].dir->path, stateBytes);
    if (w >= 0) save.push_back(w);
  }
  const Summary rs = summarize(raw), ws = summarize(save);
  std::printf(
      "handoff A->B over 127.0.0.1 + CURVE, %d rounds per broker, brokers and baselines "
      "interleaved "
      "(times in ms)\n\n",
      rounds);
  std::printf("| measured | samples | p50 | p99 | max | mean |\n|---|---|---|---|---|---|\n");
  std::vector<Summary> hs, e2e;
  for (const auto& r : rigs) {
    // Per round: the handoff plus that round's first raw round trip, which stands for the two
    // one-way trips the interval leaves out (the revoke's and B's ack's).
    std::vector<double> sum;
    for (std::size_t i = 0; i < r.handoff.size(); ++i) sum.push_back(r.handoff[i] + raw[2 * i]);
    hs.push_back(summarize(r.handoff));
    e2e.push_back(summarize(sum));
    printRow(("handoff, " + r.label + ": revoke received at A -> B's ack sent").c_str(), hs.back());
    printRow(("end to end estimate, " + r.label + ": handoff + 1 raw round trip").c_str(),
             e2e.back());
  }
  printRow("baseline: raw ZeroMQ CURVE round trip (echo thread)", rs);
  printRow(("baseline: atomic write+fsync+rename+fsync dir, " + std::to_string(stateBytes) +
            " bytes, broker 1's fs")
               .c_str(),
           ws);
  std::printf("\n");
  for (std::size_t k = 0; k < rigs.size(); ++k) {
    printRatio(("handoff / raw round trip, " + rigs[k].label).c_str(), hs[k], rs);
    std::printf(
        "state saves per round, %s (broker counter): %.2f\n", rigs[k].label.c_str(),
        (metric(*rigs[k].h, "vnuma_broker_state_saves_total") - rigs[k].savesBefore) / rounds);
  }
  printRatio(("handoff / atomic write, " + rigs[0].label).c_str(), hs[0], ws);
  if (rigs.size() == 2) printRatio("handoff broker 1 / broker 2", hs[0], hs[1]);
  return 0;
}

// ---- reports ----------------------------------------------------------------------------------

std::string uuidFor(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "dddddddd-0000-4000-8000-%012d", i);
  return buf;
}

// A test-driver host with `n` pCPUs on 8 nodes and `n` one-vCPU VMs, VM i pinned to pCPU i.
std::string writeManyVmFixture(const std::string& dir, int n) {
  const std::string path = dir + "/host-many.xml";
  std::ofstream x(path);
  const int nodes = 8;
  const int perNode = (n + nodes - 1) / nodes;
  x << "<node>\n<cpu><nodes>" << nodes << "</nodes><sockets>1</sockets><cores>" << perNode
    << "</cores><threads>1</threads><active>" << perNode * nodes
    << "</active><mhz>2000</mhz><model>x86_64</model></cpu>\n<memory>" << 256ull * 1024 * 1024
    << "</memory>\n";
  for (int i = 0; i < n; ++i) {
    x << "<domain type='test'><name>vm" << i << "</name><uuid>" << uuidFor(i) << "</uuid>"
      << "<metadata><vnuma:vm xmlns:vnuma='https://vnuma.dev/xmlns/vnuma/1' "
         "managed='yes'/></metadata>"
      << "<memory unit='KiB'>65536</memory><vcpu placement='static'>1</vcpu>"
      << "<cputune><vcpupin vcpu='0' cpuset='" << i << "'/></cputune>"
      << "<os><type arch='x86_64'>hvm</type></os><features><acpi/><apic/></features>"
      << "<cpu><numa><cell id='0' cpus='0' memory='65536' unit='KiB'/></numa></cpu></domain>\n";
  }
  x << "</node>\n";
  return path;
}

// Every simulated agent and raw client owns a ZeroMQ context (I/O thread, mailboxes, epoll) and a
// TCP connection: about a dozen descriptors each, on both sides. Raises this process's limit.
rlim_t raiseFdLimit(rlim_t want) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= want) return rl.rlim_cur;
  rlimit up{want, std::max(want, rl.rlim_max)};
  if (::setrlimit(RLIMIT_NOFILE, &up) != 0) {  // not root: as far as the hard limit allows
    up = {rl.rlim_max, rl.rlim_max};
    (void)::setrlimit(RLIMIT_NOFILE, &up);
  }
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

std::size_t openFds() {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// ESTABLISHED TCP connections whose local port is `port` (127.0.0.1): one descriptor each in the
// process that accepted them.
int acceptedConnections(const std::string& endpoint) {
  const unsigned port = static_cast<unsigned>(std::stoul(endpoint.substr(endpoint.rfind(':') + 1)));
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);
  int n = 0;
  while (std::getline(in, line)) {
    unsigned lport = 0, state = 0;
    char local[64] = {0};
    if (std::sscanf(line.c_str(), " %*d: %63[0-9A-Fa-f:] %*s %x", local, &state) != 2) continue;
    const char* colon = std::strchr(local, ':');
    if (!colon) continue;
    lport = static_cast<unsigned>(std::strtoul(colon + 1, nullptr, 16));
    if (lport == port && state == 1) ++n;
  }
  return n;
}

struct Window {
  double secs = 0;
  std::uint64_t sent = 0;
  double received = 0;
  double receiverCpuSec = 0;
};

// Sends through every sender as fast as its bounded queue takes it for `seconds`, draining
// replies in between; `received()` is asked before and after (after a 300 ms drain).
Window runWindow(int seconds, std::size_t n, const std::function<bool(std::size_t)>& send,
                 const std::function<void(std::size_t)>& drain,
                 const std::function<double()>& received, const std::set<pid_t>& receiverThreads) {
  Window w;
  const double before = received();
  const ThreadTable t0 = threadTable();
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(seconds)) {
    for (std::size_t i = 0; i < n; ++i)
      if (send(i)) ++w.sent;
    for (std::size_t i = 0; i < n; ++i) drain(i);
  }
  w.secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::this_thread::sleep_for(300ms);  // let the receiver take what is queued
  w.receiverCpuSec = cpuOf(receiverThreads, t0, threadTable());
  w.received = received() - before;
  return w;
}

void printWindow(const char* name, const Window& w) {
  std::printf("| %s | %.1f | %llu | %.0f | %.0f | %.1f %% | %.1f |\n", name, w.secs,
              static_cast<unsigned long long>(w.sent), w.received, w.received / w.secs,
              100.0 * w.receiverCpuSec / w.secs,
              w.received > 0 ? 1e6 * w.receiverCpuSec / w.received : 0);
}

int benchReports(int agents, int seconds, int windows) {
  const rlim_t fdLimit = raiseFdLimit(static_cast<rlim_t>(agents) * 2 * 16 + 1024);
  ScratchDir tmp;
  if (tmp.path.empty()) return 1;
  HarnessOptions o;
  o.fixture = writeManyVmFixture(tmp.path, agents);
  for (int i = 0; i < agents; ++i) o.vmUuids.push_back(uuidFor(i));
  o.logLevel = "error";
  o.leaseMs = 600000;
  o.reportPeriodMs = 1000;
  o.tickMs = 1000;
  BrokerHarness h(o);
  const ThreadTable beforeBroker = threadTable();
  auto t0 = Clock::now();
  if (auto r = h.start(); !r) {
    std::cerr << r.error().describe() << "\n";
    return 1;
  }
  const ThreadTable afterBroker = threadTable();
  const std::set<pid_t> brokerThreads = newThreads(beforeBroker, afterBroker);
  std::printf("broker started with %d managed VMs in %.1f s; its threads: %s\n", agents,
              std::chrono::duration<double>(Clock::now() - t0).count(),
              describeThreads(brokerThreads, afterBroker).c_str());
  const std::size_t fdsBeforeAgents = openFds();
  std::vector<std::unique_ptr<SimAgent>> sims;
  std::vector<SimAgent*> ptrs;
  for (int i = 0; i < agents; ++i) {
    auto a = h.agent(uuidFor(i));
    if (!a) {
      std::cerr << "agent " << i << ": " << a.error().describe() << "\n";
      return 1;
    }
    ptrs.push_back(a->get());
    sims.push_back(std::move(a).value());
  }
  for (auto* a : ptrs) (void)a->hello();
  t0 = Clock::now();
  const bool all = pumpUntil(
      ptrs,
      [&] {
        return std::all_of(ptrs.begin(), ptrs.end(),
                           [](SimAgent* a) { return a->welcomed && !a->vcpus.empty(); });
      },
      120s);
  const auto connected =
      std::count_if(ptrs.begin(), ptrs.end(), [](SimAgent* a) { return a->welcomed; });
  std::printf("%ld/%d agents welcomed and granted in %.1f s\n", static_cast<long>(connected),
              agents, std::chrono::duration<double>(Clock::now() - t0).count());
  if (!all) return 1;
  std::printf(
      "descriptors: %zu open (limit %llu) with %d agents; broker-side TCP connections: %d\n",
      openFds(), static_cast<unsigned long long>(fdLimit), agents,
      acceptedConnections(h.agentEndpoint()));

  // Baseline: raw CURVE clients (the agents' keys) to a ROUTER that only decodes.
  transport::ServerOptions so;
  so.endpoint = "tcp://127.0.0.1:0";
  so.curveSecretKey = h.brokerKeys().secretKey;
  so.sendHighWaterMark = 1000;
  const ThreadTable beforeRaw = threadTable();
  auto sink = RawServer::start(so, RawServer::Mode::kSink);
  if (!sink) return 1;
  const std::set<pid_t> rawThreads = newThreads(beforeRaw, threadTable());
  // As many raw clients as the descriptor limit leaves room for (each costs what a SimAgent
  // costs), at most one per agent; a margin stays for the admin calls and /proc reads.
  const std::size_t perClient =
      std::max<std::size_t>(1, (openFds() - fdsBeforeAgents) / static_cast<std::size_t>(agents));
  const std::size_t budget =
      fdLimit > openFds() + 1024 ? (fdLimit - openFds() - 1024) / perClient : 0;
  const int rawCount =
      static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(agents), budget));
  if (rawCount < 1) {
    std::cerr << "no descriptors left for the raw baseline (limit " << fdLimit << ")\n";
    return 1;
  }
  std::printf("raw baseline clients: %d (%zu descriptors per client, limit %llu)\n", rawCount,
              perClient, static_cast<unsigned long long>(fdLimit));
  std::vector<std::unique_ptr<transport::Client>> raws;
  for (int i = 0; i < rawCount; ++i) {
    auto c = rawClient(sink->endpoint(), &h.brokerKeys(), &h.agentKeys(uuidFor(i)),
                       transport::kMaxAgentMessageBytes);
    if (!c) return 1;
    raws.push_back(std::move(c));
  }
  // The bytes a one-vCPU SimAgent's Report has.
  proto::Envelope rep;
  rep.set_version(kProtocolVersion);
  rep.set_seq(1);
  rep.set_session_id(1);
  rep.mutable_report()->set_applied_generation(1);
  rep.mutable_report()->add_applied_vcpus(0);
  auto* c0 = rep.mutable_report()->add_cpus();
  c0->set_vcpu(0);
  c0->set_busy(0.5);
  rep.mutable_report()->set_period_us(1000000);
  rep.mutable_report()->set_runnable(1);
  const std::string repBytes = codec::encodeEnvelope(rep);
  // Connect every raw client (CURVE handshakes) before measuring.
  for (auto& c : raws) (void)c->send(repBytes);
  const auto connectDeadline = Clock::now() + 60s;
  while (sink->received() < static_cast<std::uint64_t>(rawCount) && Clock::now() < connectDeadline)
    std::this_thread::sleep_for(10ms);

  std::printf("\n%d agents and %d raw clients, %d windows of %d s each, alternating\n\n", agents,
              rawCount, windows, seconds);
  std::printf(
      "| receiver | s | sent | received | received/s | receiver CPU (%% of one core) | receiver "
      "CPU us per message |\n"
      "|---|---|---|---|---|---|---|\n");
  Window broker, raw;
  auto add = [](Window& sum, const Window& w) {
    sum.secs += w.secs;
    sum.sent += w.sent;
    sum.received += w.received;
    sum.receiverCpuSec += w.receiverCpuSec;
  };
  for (int w = 0; w < windows; ++w) {
    const Window bw = runWindow(
        seconds, ptrs.size(),
        [&](std::size_t i) { return static_cast<bool>(ptrs[i]->report(0.5, 1)); },
        [&](std::size_t i) { ptrs[i]->pump(0ms); },
        [&] { return metric(h, "vnuma_broker_agent_reports_total"); }, brokerThreads);
    printWindow("broker engine (real Engine, sim agents)", bw);
    add(broker, bw);
    const Window rw = runWindow(
        seconds, raws.size(),
        [&](std::size_t i) { return static_cast<bool>(raws[i]->send(repBytes)); },
        [&](std::size_t i) { (void)raws[i]->receive(0ms); },
        [&] { return static_cast<double>(sink->received()); }, rawThreads);
    printWindow("baseline: raw ROUTER, decode only", rw);
    add(raw, rw);
  }
  printWindow("broker engine, all windows", broker);
  printWindow("baseline raw, all windows", raw);
  const double bRate = broker.received / broker.secs, rRate = raw.received / raw.secs;
  const double bCpu = broker.receiverCpuSec / broker.received,
               rCpu = raw.receiverCpuSec / raw.received;
  std::printf("\nratio broker / raw: throughput %.2fx, receiver CPU per message %.2fx\n",
              bRate / rRate, bCpu / rCpu);
  std::printf("broker reports per second of its own CPU (one core fully busy): %.0f\n", 1.0 / bCpu);
  std::printf("broker accepted %.0f of %llu sent (%.2f %%)\n", broker.received,
              static_cast<unsigned long long>(broker.sent),
              100.0 * broker.received / static_cast<double>(broker.sent));
  raws.clear();
  sink.reset();
  h.stop();
  return 0;
}

// ---- admin ------------------------------------------------------------------------------------

int benchAdmin(const std::string& fixtureDir, int requests) {
  BrokerHarness h(twoVms(fixtureDir));
  if (auto r = h.start(); !r) {
    std::cerr << r.error().describe() << "\n";
    return 1;
  }
  auto client = rawClient(h.adminEndpoint(), nullptr, nullptr, transport::kMaxAdminMessageBytes);
  transport::ServerOptions so;
  so.endpoint = "ipc://" + h.dir() + "/bench-echo.sock";
  so.maxMessageBytes = transport::kMaxAdminMessageBytes;
  auto echo = RawServer::start(so, RawServer::Mode::kEcho);
  if (!client || !echo) return 1;
  auto echoClient = rawClient(echo->endpoint(), nullptr, nullptr, transport::kMaxAdminMessageBytes);
  if (!echoClient) return 1;
  std::printf(
      "%d sequential requests per path, one client, interleaved with raw ipc:// round trips (times "
      "in us)\n\n",
      requests);
  std::printf(
      "| request | req/s | p50 | p99 | raw p50 | raw p99 | ratio p50 | ratio p99 | reply bytes |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  for (const char* path : {"/v1/health", "/v1/vms", "/v1/ledger", "/v1/metrics"}) {
    std::vector<double> us, rawUs;
    double busySec = 0;
    std::size_t replyBytes = 0;
    for (int i = 0; i < requests; ++i) {
      proto::AdminRequest req;
      req.set_version(1);
      req.set_request_id(static_cast<std::uint64_t>(i + 1));
      req.set_method("GET");
      req.set_path(path);
      const std::string bytes = codec::encode(req);
      const auto s = Clock::now();
      if (!client->send(bytes)) return 1;
      auto rep = client->receive(5000ms);
      if (!rep || !rep->has_value()) {
        std::cerr << "no reply to " << path << "\n";
        return 1;
      }
      const double ms = msSince(s, Clock::now());
      busySec += ms / 1e3;
      us.push_back(ms * 1e3);
      replyBytes = (*rep)->size();
      const double raw = roundTripMs(*echoClient, bytes);
      if (raw < 0) return 1;
      rawUs.push_back(raw * 1e3);
    }
    const Summary a = summarize(us), r = summarize(rawUs);
    std::printf("| GET %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.2fx | %.2fx | %zu |\n", path,
                requests / busySec, a.p50, a.p99, r.p50, r.p99, a.p50 / r.p50, a.p99 / r.p99,
                replyBytes);
  }
  std::printf(
      "\nreq/s = requests / time spent in admin round trips (the interleaved raw round trips "
      "excluded)\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"broker_bench: vnuma-broker benchmarks (docs/benchmarks-broker.md)"};
  app.require_subcommand(1);
  std::string fixtureDir = VNUMA_ENGINE_TESTDATA;
  app.add_option("--fixtures", fixtureDir, "directory with host-shared4.xml");
  int rounds = 200, agents = 1000, seconds = 5, windows = 2, requests = 2000;
  std::vector<std::string> stateParents = {std::filesystem::temp_directory_path().string()};
  if (std::filesystem::is_directory("/dev/shm")) stateParents.push_back("/dev/shm");
  auto* handoff = app.add_subcommand("handoff", "pCPU handoff latency");
  handoff->add_option("--rounds", rounds)->check(CLI::Range(2, 10000));
  handoff
      ->add_option("--state-parents", stateParents,
                   "one broker per directory (its state, keys and sockets under it), interleaved")
      ->check(CLI::ExistingDirectory);
  auto* reports = app.add_subcommand("reports", "reports/s with many agents");
  reports->add_option("--agents", agents)->check(CLI::Range(1, 1000));
  reports->add_option("--seconds", seconds)->check(CLI::Range(1, 60));
  reports->add_option("--windows", windows)->check(CLI::Range(1, 5));
  auto* admin = app.add_subcommand("admin", "admin requests/s");
  admin->add_option("--requests", requests)->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::err);
  if (handoff->parsed()) return benchHandoff(fixtureDir, rounds, stateParents);
  if (reports->parsed()) return benchReports(agents, seconds, windows);
  return benchAdmin(fixtureDir, requests);
}
