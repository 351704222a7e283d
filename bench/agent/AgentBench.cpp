// vnuma-agent-bench: measurements for docs/benchmarks-agent.md. Every number comes with a
// baseline measured in the same run and their ratio (the machines are shared and noisy).
//
//   vnuma-agent-bench apply --tasks N [--iterations K] [--hotplug-cpu C] [--allow-foreign-cpusets]
//       1. cgroup: N sleeping tasks spread over 4 top-level cgroups of a sandbox subtree
//          (/sys/fs/cgroup/{cpuset,cpu}/vnuma-test-<pid>-<n>, removed at exit with its tasks);
//          K revoke/grant pairs (all sandbox CPUs -> the first one -> all) through AgentEngine
//          (validate, apply with libcgroup, verify, read back, ack). Interleaved baseline: the
//          same cpuset.cpus values written with one write(2) per cgroup, nothing else.
//       2. hotplug: the same N tasks (outside any cpuset) and K offline/online pairs of CPU C
//          (default: the highest CPU with an online file) through AgentEngine with
//          HotplugCpuMechanism on the real /sys. Refused, with the reason printed instead of a
//          number, when the CPU cannot be offlined (no online file, EBUSY, EPERM...) or when
//          offlining it would damage what this bench does not own: on cgroup v1 the kernel takes
//          an offlined CPU out of every cpuset and never gives it back, and tasks pinned to it
//          lose their affinity. --allow-foreign-cpusets skips that check (a machine you own).
//       Ratio: hotplug / cgroup, agent / raw write.
//   vnuma-agent-bench footprint --period-ms P [--seconds S]
//       The real vnuma-agent binary (CURVE on) against a stub broker on 127.0.0.1 for S seconds
//       after a 2 s warm-up: CPU (utime+stime of all threads, from schedstat) and memory (RSS,
//       PSS, anonymous, peak). Baseline in the same window: this binary in its `idle` mode (the
//       same libraries mapped, wakes every P ms and does nothing else).
// Bounded: at most 2000 tasks, 10000 iterations, 120 s. Children exit by themselves (alarm).
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"
#include "common/transport/Transport.hpp"
#include "guest-agent/engine/AgentEngine.hpp"
#include "guest-agent/sys/CgroupCpuMechanism.hpp"
#include "guest-agent/sys/Fs.hpp"
#include "guest-agent/sys/HotplugCpuMechanism.hpp"
#include "guest-agent/sys/Proc.hpp"
#include "guest-agent/testutil/TestUtil.hpp"

using namespace vnuma;
using namespace vnuma::agent;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

long argValue(int argc, char** argv, const char* name, long fallback, long min, long max) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) {
      const long v = std::strtol(argv[i + 1], nullptr, 10);
      if (v < min || v > max) {
        std::fprintf(stderr, "%s must be in [%ld, %ld]\n", name, min, max);
        std::exit(2);
      }
      return v;
    }
  return fallback;
}

bool argFlag(int argc, char** argv, const char* name) {
  for (int i = 2; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

struct Dist {
  std::vector<double> us;
  double at(double p) const {
    std::vector<double> v = us;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1,
                      static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
  }
  double p50() const { return at(0.50); }
  double p99() const { return at(0.99); }
  double max() const { return *std::max_element(us.begin(), us.end()); }
};

void printDist(const std::string& what, long tasks, const Dist& d) {
  std::printf("| %s | %ld | %zu | %.0f | %.0f | %.0f |\n", what.c_str(), tasks, d.us.size(),
              d.p50(), d.p99(), d.max());
}

void printRatio(const std::string& what, const Dist& num, const Dist& den) {
  std::printf("ratio %s: p50 %.1fx, p99 %.1fx\n", what.c_str(), num.p50() / den.p50(),
              num.p99() / den.p99());
}

double usSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// An AgentEngine with a session, fed Grants with increasing generations.
class GrantDriver {
 public:
  GrantDriver(CpuMechanism& mech, Logger log) {
    EngineInfo info;
    auto topo = Topology::read("/");
    if (topo) info.topology = topo.value();
    engine_ = std::make_unique<AgentEngine>(info, mech, nullptr, nullptr, log);
    (void)engine_->hello();
    proto::Envelope w;
    w.set_version(kProtocolVersion);
    w.set_seq(1);
    w.mutable_welcome()->set_session_id(1);
    w.mutable_welcome()->set_lease_ms(600000);
    (void)engine_->onMessage(w, Millis(0));
  }
  // Applies `vcpus`; the wall time in us, or the error from the Ack.
  Result<double> grant(const CpuSet& vcpus) {
    proto::Envelope g;
    g.set_version(kProtocolVersion);
    g.set_seq(++seq_);
    g.set_session_id(1);
    g.mutable_grant()->set_generation(++generation_);
    for (unsigned v : vcpus.ids()) g.mutable_grant()->add_vcpus(v);
    const auto t0 = Clock::now();
    auto out = engine_->onMessage(g, Millis(0));
    const double us = usSince(t0);
    if (out.size() != 1 || !out[0].has_ack()) return Error(Errc::kInternal, "no ack");
    if (!out[0].ack().ok()) return Error(Errc::kSystem, out[0].ack().error());
    return us;
  }

 private:
  std::unique_ptr<AgentEngine> engine_;
  std::uint64_t seq_ = 1, generation_ = 0;
};

// Tasks confined to exactly `want` (Cpus_allowed_list); the first task that is not, or -1.
pid_t firstUnconfined(const std::vector<std::unique_ptr<test::Child>>& children,
                      const CpuSet& want) {
  for (const auto& c : children)
    if (!(test::cpusAllowed(c->pid()) == want)) return c->pid();
  return -1;
}

// ---- apply: cgroup ----------------------------------------------------------------------------

struct ApplyResult {
  Dist revoke, grant;
};

// One timed revoke (to `narrow`) and one timed grant (back to `wide`) through `apply`.
Result<void> revokeAndGrant(const std::function<Result<double>(const CpuSet&)>& apply,
                            const CpuSet& narrow, const CpuSet& wide, ApplyResult& out) {
  for (const CpuSet* set : {&narrow, &wide}) {
    auto us = apply(*set);
    if (!us) return std::move(us).error().context("applying " + set->toList());
    (set == &narrow ? out.revoke : out.grant).us.push_back(*us);
  }
  return okResult();
}

std::optional<ApplyResult> cgroupPhase(long tasks, long iterations) {
  test::RealCgroupSandbox sandbox;
  if (!sandbox.available()) {
    std::fprintf(stderr, "real cgroups unavailable: %s\n", sandbox.why().c_str());
    return std::nullopt;
  }
  const char* groups[] = {"a", "b", "c", "d"};
  for (const char* g : groups) sandbox.makeGroup(g);
  std::vector<std::unique_ptr<test::Child>> children;
  for (long i = 0; i < tasks; ++i)
    children.push_back(
        std::make_unique<test::Child>(sandbox.procsFiles(groups[i % 4]), false, 600));

  auto writerR = LibcgroupWriter::create();
  if (!writerR) {
    std::fprintf(stderr, "%s\n", writerR.error().describe().c_str());
    return std::nullopt;
  }
  auto writer = std::move(writerR).value();
  CgroupLayout layout{"hybrid", CgroupVersion::kV1, "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/cpu",
                      ""};
  test::CapturedLog log;
  log.logger->set_level(spdlog::level::warn);
  CgroupCpuMechanism mech(layout, {"/", sandbox.name(), "vnuma.managed"}, *writer, log.logger);
  auto eligible = mech.eligible();
  if (!eligible || eligible->count() < 2) {
    std::fprintf(stderr, "the sandbox needs at least 2 CPUs (has '%s')\n",
                 eligible ? eligible->toList().c_str() : "?");
    return std::nullopt;
  }
  const CpuSet all = eligible.value(), one{all.ids().front()};
  GrantDriver driver(mech, log.logger);
  if (auto r = driver.grant(all); !r) {  // first apply also creates vnuma.managed
    std::fprintf(stderr, "first grant failed: %s\n", r.error().describe().c_str());
    return std::nullopt;
  }
  // The raw baseline writes the same files the agent manages: every top-level cgroup.
  std::vector<std::string> cpusFiles;
  if (auto top = listDir(sandbox.cpusetDir(), true))
    for (const auto& d : top.value()) cpusFiles.push_back(sandbox.cpusetDir(d) + "/cpuset.cpus");
  auto rawWrite = [&](const CpuSet& s) -> Result<double> {
    const std::string v = s.toList();
    const auto t0 = Clock::now();
    for (const auto& f : cpusFiles) VNUMA_TRY_VOID(writeExisting(f, v));
    return usSince(t0);
  };

  ApplyResult agent, raw;
  for (long i = 0; i < iterations; ++i) {
    auto a = revokeAndGrant([&](const CpuSet& c) { return driver.grant(c); }, one, all, agent);
    auto r = a ? revokeAndGrant(rawWrite, one, all, raw) : a;
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().describe().c_str());
      return std::nullopt;
    }
  }
  // Every task follows the agent: on `all` now, on `one` after one more (untimed) revoke.
  pid_t stray = firstUnconfined(children, all);
  if (stray < 0 && driver.grant(one)) stray = firstUnconfined(children, one);
  if (stray >= 0) {
    std::fprintf(stderr, "task %d does not follow the agent's grants\n", stray);
    return std::nullopt;
  }
  const std::string n = std::to_string(cpusFiles.size());
  printDist("agent, cgroup v1 (libcgroup): revoke " + all.toList() + " -> " + one.toList(), tasks,
            agent.revoke);
  printDist("agent, cgroup v1 (libcgroup): grant " + one.toList() + " -> " + all.toList(), tasks,
            agent.grant);
  printDist("baseline: raw write(2) of cpuset.cpus x" + n + ": revoke", tasks, raw.revoke);
  printDist("baseline: raw write(2) of cpuset.cpus x" + n + ": grant", tasks, raw.grant);
  std::printf("\n");
  printRatio("agent / raw, revoke", agent.revoke, raw.revoke);
  printRatio("agent / raw, grant", agent.grant, raw.grant);
  return agent;
}

// ---- apply: hotplug ---------------------------------------------------------------------------

struct CpusetMount {
  std::string path;
  bool v2Mode = false;  // cgroup v1 mounted with cpuset_v2_mode: CPUs come back after online
};

std::optional<CpusetMount> cpusetV1Mount() {
  std::ifstream in("/proc/mounts");
  std::string dev, dir, type, opts;
  while (in >> dev >> dir >> type >> opts) {
    std::string rest;
    std::getline(in, rest);
    if (type != "cgroup") continue;
    std::stringstream ss(opts);
    std::string o;
    bool cpuset = false, v2 = false;
    while (std::getline(ss, o, ',')) {
      cpuset |= o == "cpuset";
      v2 |= o == "cpuset_v2_mode";
    }
    if (cpuset) return CpusetMount{dir, v2};
  }
  return std::nullopt;
}

// cgroup v1 cpusets (below the mount root) whose cpuset.cpus contains `cpu`.
std::vector<std::string> cpusetsWith(const std::string& root, const std::string& rel,
                                     unsigned cpu) {
  std::vector<std::string> out;
  auto kids = listDir(root + rel, true);
  if (!kids) return out;
  for (const auto& k : kids.value()) {
    const std::string child = rel + "/" + k;
    auto text = readTrimmed(root + child + "/cpuset.cpus");
    auto set = text ? CpuSet::parseList(text.value()) : Result<CpuSet>(CpuSet{});
    if (set && set->contains(cpu)) out.push_back(child);
    for (auto& d : cpusetsWith(root, child, cpu)) out.push_back(std::move(d));
  }
  return out;
}

// User-space threads allowed on `cpu` only ("pid (comm)").
std::vector<std::string> tasksPinnedTo(unsigned cpu) {
  std::vector<std::string> out;
  auto pids = listDir("/proc", true);
  if (!pids) return out;
  const CpuSet only{cpu};
  for (const auto& p : pids.value()) {
    if (p.find_first_not_of("0123456789") != std::string::npos) continue;
    for (pid_t tid : threadsOf("/proc", static_cast<pid_t>(std::stol(p)))) {
      auto flags = taskFlags("/proc", tid);
      if (!flags || (flags.value() & kPfKthread) != 0) continue;
      if (!(test::cpusAllowed(tid) == only)) continue;
      auto comm = readTrimmed("/proc/" + std::to_string(tid) + "/comm");
      out.push_back(std::to_string(tid) + " (" + (comm ? comm.value() : "?") + ")");
    }
  }
  return out;
}

std::string listSome(const std::vector<std::string>& v, std::size_t n = 4) {
  std::string out;
  for (std::size_t i = 0; i < std::min(n, v.size()); ++i) out += (i ? ", " : "") + v[i];
  if (v.size() > n) out += ", ... (" + std::to_string(v.size()) + " in all)";
  return out;
}

// Why offlining `cpu` must not be tried here; empty when it may.
std::string hotplugRefusal(unsigned cpu, bool allowForeign) {
  const std::string online = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/online";
  if (!pathExists(online))
    return "not supported: " + online + " does not exist (this CPU cannot be offlined)";
  auto state = readTrimmed(online);
  if (!state) return "cannot read " + online + ": " + state.error().describe();
  if (state.value() != "1") return "cpu" + std::to_string(cpu) + " is offline already";
  if (::access(online.c_str(), W_OK) != 0)
    return "not permitted: " + online + " is not writable (" + std::strerror(errno) + ")";
  if (allowForeign) return "";
  auto mount = cpusetV1Mount();
  if (mount && !mount->v2Mode) {
    auto foreign = cpusetsWith(mount->path, "", cpu);
    if (!foreign.empty())
      return "refused: offlining cpu" + std::to_string(cpu) + " would permanently remove it from " +
             std::to_string(foreign.size()) +
             " cgroup v1 cpuset(s) this bench does not own (v1 does not give a CPU "
             "back to a cpuset when it comes online again): " +
             listSome(foreign) + "; run it on a machine you own with --allow-foreign-cpusets";
  }
  auto pinned = tasksPinnedTo(cpu);
  if (!pinned.empty())
    return "refused: " + std::to_string(pinned.size()) + " user thread(s) are pinned to cpu" +
           std::to_string(cpu) + " only and would lose their affinity: " + listSome(pinned) +
           "; run it on a machine you own with "
           "--allow-foreign-cpusets";
  return "";
}

// Puts the CPU back online whatever happens.
struct OnlineGuard {
  std::string file;
  ~OnlineGuard() {
    auto v = readTrimmed(file);
    if (v && v.value() == "0" && !writeExisting(file, "1"))
      std::fprintf(stderr, "WARNING: could not bring %s back online\n", file.c_str());
  }
};

std::optional<ApplyResult> hotplugPhase(long tasks, long iterations, long cpuArg,
                                        bool allowForeign) {
  RealSysfsWriter writer;
  test::CapturedLog log;
  log.logger->set_level(spdlog::level::warn);
  HotplugCpuMechanism mech("/", writer, log.logger);
  auto online = mech.applied();
  if (!online) {
    std::printf("hotplug: not measured: cannot read the online CPUs: %s\n",
                online.error().describe().c_str());
    return std::nullopt;
  }
  const CpuSet all = online.value();
  unsigned cpu = 0;
  if (cpuArg >= 0) {
    cpu = static_cast<unsigned>(cpuArg);
  } else {
    for (unsigned c : all.ids())
      if (pathExists("/sys/devices/system/cpu/cpu" + std::to_string(c) + "/online")) cpu = c;
  }
  if (const std::string why = hotplugRefusal(cpu, allowForeign); !why.empty()) {
    std::printf("hotplug (cpu%u offline/online): not measured: %s\n", cpu, why.c_str());
    return std::nullopt;
  }
  const CpuSet without = all - CpuSet{cpu};
  if (without.empty()) {
    std::printf("hotplug: not measured: cpu%u is the only online CPU\n", cpu);
    return std::nullopt;
  }
  OnlineGuard guard{"/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/online"};
  std::vector<std::unique_ptr<test::Child>> children;
  for (long i = 0; i < tasks; ++i)
    children.push_back(std::make_unique<test::Child>(std::vector<std::string>{}, false, 600));
  GrantDriver driver(mech, log.logger);
  ApplyResult r;
  for (long i = 0; i < iterations; ++i) {
    if (auto a = revokeAndGrant([&](const CpuSet& c) { return driver.grant(c); }, without, all, r);
        !a) {
      std::printf("hotplug (cpu%u offline/online): not measured: the kernel refused: %s\n", cpu,
                  a.error().describe().c_str());
      return std::nullopt;
    }
  }
  printDist("agent, hotplug: cpu" + std::to_string(cpu) + " offline (" + all.toList() + " -> " +
                without.toList() + ")",
            tasks, r.revoke);
  printDist("agent, hotplug: cpu" + std::to_string(cpu) + " online", tasks, r.grant);
  return r;
}

int benchApply(long tasks, long iterations, long hotplugCpu, bool allowForeign) {
  std::printf(
      "| mechanism | tasks | applies | p50 us | p99 us | max us |\n|---|---|---|---|---|---|\n");
  auto cg = cgroupPhase(tasks, iterations);
  if (!cg) return 1;
  std::printf("\n");
  auto hp = hotplugPhase(tasks, iterations, hotplugCpu, allowForeign);
  if (hp) {
    std::printf("\n");
    printRatio("hotplug / cgroup, revoke (offline vs cpuset shrink)", hp->revoke, cg->revoke);
    printRatio("hotplug / cgroup, grant (online vs cpuset grow)", hp->grant, cg->grant);
  } else {
    std::printf("ratio hotplug / cgroup: n/a (hotplug not measured)\n");
  }
  return 0;
}

// ---- footprint --------------------------------------------------------------------------------

struct ProcStats {
  double cpuSec = 0;
  long rssKb = 0, hwmKb = 0, anonKb = 0, pssKb = 0;
};

long rollupField(const std::string& text, const char* name) {
  const auto at = text.find(std::string("\n") + name);
  return at == std::string::npos ? 0 : std::stol(text.substr(at + std::strlen(name) + 1));
}

ProcStats readProc(pid_t pid) {
  ProcStats s;
  const std::string dir = "/proc/" + std::to_string(pid);
  // On-CPU nanoseconds of every thread (ZeroMQ runs its own I/O thread), from schedstat:
  // finer than the 10 ms ticks of /proc/PID/stat.
  if (auto tids = listDir(dir + "/task", true))
    for (const auto& t : tids.value())
      if (auto st = readFile(dir + "/task/" + t + "/schedstat"))
        s.cpuSec += static_cast<double>(std::stoull(st.value())) / 1e9;
  if (auto status = readFile(dir + "/status")) {
    s.rssKb = rollupField("\n" + status.value(), "VmRSS:");
    s.hwmKb = rollupField("\n" + status.value(), "VmHWM:");
  }
  if (auto rollup = readFile(dir + "/smaps_rollup")) {
    s.anonKb = rollupField(rollup.value(), "Anonymous:");
    s.pssKb = rollupField(rollup.value(), "Pss:");
  }
  return s;
}

pid_t spawn(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int stopChild(pid_t pid) {
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

int benchFootprint(long periodMs, long seconds) {
  test::RealCgroupSandbox sandbox;
  if (!sandbox.available()) {
    std::fprintf(stderr, "real cgroups unavailable: %s\n", sandbox.why().c_str());
    return 1;
  }
  sandbox.makeGroup("a");
  test::Child inA(sandbox.procsFiles("a"), false, 600);
  test::TempDir dir;
  auto brokerKeys = transport::generateCurveKeyPair();
  auto agentKeys = transport::generateCurveKeyPair();
  if (!brokerKeys || !agentKeys ||
      !transport::writeCurveKeyPair(*brokerKeys, dir.path(), "broker") ||
      !transport::writeCurveKeyPair(*agentKeys, dir.path(), "agent")) {
    std::fprintf(stderr, "cannot create CURVE keys\n");
    return 1;
  }
  transport::ServerOptions so;
  so.endpoint = "tcp://127.0.0.1:0";
  so.curveSecretKey = brokerKeys->secretKey;
  auto server = transport::Server::bind(so);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().describe().c_str());
    return 1;
  }
  dir.write("agent.toml",
            "[broker]\nendpoint = \"" + (*server)->boundEndpoint() + "\"\npublic_key_file = \"" +
                dir.path() + "/broker.pub\"\nagent_key_file = \"" + dir.path() +
                "/agent.key\"\n[agent]\nvm_uuid = "
                "\"1b4e28ba-2fa1-11d2-883f-0016d3cca427\"\nperiod_ms = " +
                std::to_string(periodMs) + "\nlog_level = \"warn\"\n[cgroup]\nroot = \"" +
                sandbox.name() +
                "\"\n[best_effort]\nirq = false\nworkqueue = false\nkthreads = false\n"
                "[memory]\nensure_movable = false\n");
  const pid_t agent = spawn({VNUMA_AGENT_BINARY, "--config", dir.path() + "/agent.toml"});
  const pid_t idle = spawn({"/proc/self/exe", "idle", "--period-ms", std::to_string(periodMs),
                            "--seconds", std::to_string(seconds + 10)});
  std::uint64_t seq = 0, reports = 0;
  std::string peer;
  auto sendEnv = [&](proto::Envelope e) {
    e.set_version(kProtocolVersion);
    e.set_seq(++seq);
    e.set_session_id(9);
    (void)(*server)->send(peer, codec::encodeEnvelope(e));
  };
  const auto start = Clock::now();
  ProcStats firstAgent{}, firstIdle{};
  bool measuring = false, granted = false;
  Clock::time_point measureStart;
  while (Clock::now() - start < std::chrono::seconds(seconds + 2)) {
    if (!measuring && Clock::now() - start >= 2s) {
      measuring = true;
      measureStart = Clock::now();
      firstAgent = readProc(agent);
      firstIdle = readProc(idle);
      reports = 0;
    }
    auto m = (*server)->receive(50ms);
    if (!m || !m->has_value()) continue;
    peer = (*m)->peer;
    auto env = codec::decodeEnvelope((*m)->payload);
    if (!env) continue;
    if (env->has_hello()) {
      proto::Envelope w;
      w.mutable_welcome()->set_session_id(9);
      w.mutable_welcome()->add_floor_vcpus(0);
      w.mutable_welcome()->set_lease_ms(600000);
      w.mutable_welcome()->set_report_period_ms(static_cast<std::uint32_t>(periodMs));
      sendEnv(w);
      proto::Envelope g;
      g.mutable_grant()->set_generation(1);
      g.mutable_grant()->add_vcpus(0);
      g.mutable_grant()->add_vcpus(1);
      sendEnv(g);
    }
    if (env->has_ack()) granted = granted || env->ack().ok();
    if (env->has_report()) ++reports;
  }
  const double wall = std::chrono::duration<double>(Clock::now() - measureStart).count();
  const ProcStats lastAgent = readProc(agent), lastIdle = readProc(idle);
  const int agentExit = stopChild(agent), idleExit = stopChild(idle);
  const double periods = wall * 1000.0 / static_cast<double>(periodMs);
  const double agentCpu = lastAgent.cpuSec - firstAgent.cpuSec,
               idleCpu = lastIdle.cpuSec - firstIdle.cpuSec;
  std::printf(
      "| process | period | measured s | reports | CPU %% of one core | CPU us per period | RSS "
      "KiB | PSS KiB | "
      "anon KiB | peak RSS KiB | exit |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  auto row = [&](const char* name, double cpu, const ProcStats& s, std::uint64_t n, int exitCode) {
    std::printf("| %s | %ld ms | %.1f | %s | %.4f %% | %.1f | %ld | %ld | %ld | %ld | %d |\n", name,
                periodMs, wall, n == 0 ? "-" : std::to_string(n).c_str(), 100.0 * cpu / wall,
                1e6 * cpu / periods, s.rssKb, s.pssKb, s.anonKb, s.hwmKb, exitCode);
  };
  row("vnuma-agent (CURVE, cgroup v1 sandbox)", agentCpu, lastAgent, reports, agentExit);
  row("baseline: idle process, same libraries, wakes every period", idleCpu, lastIdle, 0, idleExit);
  std::printf("\nratio agent / idle: CPU %.1fx, RSS %.2fx, PSS %.2fx, anon %.2fx\n",
              agentCpu / idleCpu,
              static_cast<double>(lastAgent.rssKb) / static_cast<double>(lastIdle.rssKb),
              static_cast<double>(lastAgent.pssKb) / static_cast<double>(lastIdle.pssKb),
              static_cast<double>(lastAgent.anonKb) / static_cast<double>(lastIdle.anonKb));
  std::printf(
      "ratio agent CPU / the brief's budget (1 %% of one core): %.3fx; agent CPU time per period / "
      "the "
      "period: %.2e\n",
      100.0 * agentCpu / wall, agentCpu / wall);
  std::printf("grant acked: %s; reports expected ~%.0f, received %llu\n", granted ? "yes" : "NO",
              periods, static_cast<unsigned long long>(reports));
  return granted && reports > 0 && agentExit == 0 ? 0 : 1;
}

// The footprint baseline: wakes every period, does nothing; exits after `seconds` or on SIGTERM.
int idleLoop(long periodMs, long seconds) {
  alarm(static_cast<unsigned>(seconds));
  signal(SIGTERM, [](int) { _exit(0); });
  timespec next{};
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (;;) {
    next.tv_nsec += (periodMs % 1000) * 1000000L;
    next.tv_sec += periodMs / 1000 + next.tv_nsec / 1000000000L;
    next.tv_nsec %= 1000000000L;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: %s apply --tasks N [--iterations K] [--hotplug-cpu C] [--allow-foreign-cpusets]\n"
        "       %s footprint --period-ms P [--seconds S]\n",
        argv[0], argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "apply")
    return benchApply(argValue(argc, argv, "--tasks", 10, 1, 2000),
                      argValue(argc, argv, "--iterations", 200, 2, 10000),
                      argValue(argc, argv, "--hotplug-cpu", -1, 0, CpuSet::kMaxCpu),
                      argFlag(argc, argv, "--allow-foreign-cpusets"));
  if (mode == "footprint")
    return benchFootprint(argValue(argc, argv, "--period-ms", 1000, 100, 60000),
                          argValue(argc, argv, "--seconds", 10, 1, 120));
  if (mode == "idle")
    return idleLoop(argValue(argc, argv, "--period-ms", 1000, 100, 60000),
                    argValue(argc, argv, "--seconds", 20, 1, 200));
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
