// vnuma-agent-bench: measurements for docs/benchmarks-agent.md.
//
//   vnuma-agent-bench apply --tasks N [--iterations K]
//       Grant-apply latency on real cgroups: N sleeping tasks spread over 4 top-level cgroups of
//       a sandbox subtree (/sys/fs/cgroup/{cpuset,cpu}/vnuma-test-*), K grants alternating {0}
//       and {0,1} through AgentEngine (validate, apply, verify, read back, ack). Prints p50/p99.
//   vnuma-agent-bench footprint --period-ms P [--seconds S]
//       Runs the real vnuma-agent binary against a stub broker on loopback for S seconds (after a
//       2 s warm-up) and reports its CPU% (utime+stime over wall time) and RSS.
// Bounded: at most 2000 tasks, 10000 iterations, 120 s. Never touches anything outside the
// sandbox subtree (best-effort movers and the memory policy are off).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
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
#include "guest-agent/testutil/TestUtil.hpp"

using namespace vnuma;
using namespace vnuma::agent;
using namespace std::chrono_literals;

namespace {

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

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const std::size_t idx = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[idx];
}

int benchApply(long tasks, long iterations) {
  test::RealCgroupSandbox sandbox;
  if (!sandbox.available()) {
    std::fprintf(stderr, "real cgroups unavailable: %s\n", sandbox.why().c_str());
    return 1;
  }
  const char* groups[] = {"a", "b", "c", "d"};
  for (const char* g : groups) sandbox.makeGroup(g);
  std::vector<std::unique_ptr<test::Child>> children;
  for (long i = 0; i < tasks; ++i)
    children.push_back(std::make_unique<test::Child>(sandbox.procsFiles(groups[i % 4]), false, 600));

  auto writerR = LibcgroupWriter::create();
  if (!writerR) {
    std::fprintf(stderr, "%s\n", writerR.error().describe().c_str());
    return 1;
  }
  auto writer = std::move(writerR).value();
  CgroupLayout layout{"hybrid", CgroupVersion::kV1, "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/cpu", ""};
  test::CapturedLog log;
  log.logger->set_level(spdlog::level::warn);
  CgroupCpuMechanism mech(layout, {"/", sandbox.name(), "vnuma.managed"}, *writer, log.logger);
  EngineInfo info;
  auto topo = Topology::read("/");
  if (!topo) {
    std::fprintf(stderr, "%s\n", topo.error().describe().c_str());
    return 1;
  }
  info.topology = topo.value();
  AgentEngine engine(info, mech, nullptr, nullptr, log.logger);
  (void)engine.hello();
  proto::Envelope w;
  w.set_version(kProtocolVersion);
  w.set_seq(1);
  w.mutable_welcome()->set_session_id(1);
  (void)engine.onMessage(w, Millis(0));

  std::vector<double> wallUs, ackUs;
  std::uint64_t seq = 1;
  for (long i = 0; i < iterations; ++i) {
    proto::Envelope g;
    g.set_version(kProtocolVersion);
    g.set_seq(++seq);
    g.set_session_id(1);
    g.mutable_grant()->set_generation(static_cast<std::uint64_t>(i + 1));
    g.mutable_grant()->add_vcpus(0);
    if (i % 2 == 1) g.mutable_grant()->add_vcpus(1);
    const auto t0 = std::chrono::steady_clock::now();
    auto out = engine.onMessage(g, Millis(0));
    const auto t1 = std::chrono::steady_clock::now();
    if (out.size() != 1 || !out[0].ack().ok()) {
      std::fprintf(stderr, "grant %ld failed: %s\n", i + 1, out.empty() ? "no ack" : out[0].ack().error().c_str());
      return 1;
    }
    wallUs.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    ackUs.push_back(static_cast<double>(out[0].ack().apply_us()));
  }
  // Spot check: every task follows the last grant.
  const std::string want = iterations % 2 == 0 ? "0-1" : "0";
  for (const auto& c : children)
    if (test::cpusAllowed(c->pid()).toList() != want) {
      std::fprintf(stderr, "task %d not confined\n", c->pid());
      return 1;
    }
  std::printf("| cgroup (v1, libcgroup) | %ld | %ld | %.0f | %.0f | %.0f |\n", tasks, iterations,
              percentile(wallUs, 0.50), percentile(wallUs, 0.99), *std::max_element(wallUs.begin(), wallUs.end()));
  return 0;
}

struct ProcStats {
  double cpuSec = 0;
  long rssKb = 0, hwmKb = 0, anonKb = 0;
};

ProcStats readProc(pid_t pid) {
  ProcStats s;
  // On-CPU nanoseconds of every thread (ZeroMQ runs its own I/O thread), from schedstat:
  // finer than the 10 ms ticks of /proc/PID/stat.
  auto tids = listDir("/proc/" + std::to_string(pid) + "/task", true);
  if (tids)
    for (const auto& t : tids.value()) {
      auto st = readFile("/proc/" + std::to_string(pid) + "/task/" + t + "/schedstat");
      if (st) s.cpuSec += static_cast<double>(std::stoull(st.value())) / 1e9;
    }
  auto status = readFile("/proc/" + std::to_string(pid) + "/status");
  if (status) {
    std::istringstream in(status.value());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) s.rssKb = std::stol(line.substr(6));
      if (line.rfind("VmHWM:", 0) == 0) s.hwmKb = std::stol(line.substr(6));
    }
  }
  auto rollup = readFile("/proc/" + std::to_string(pid) + "/smaps_rollup");
  if (rollup) {
    const auto at = rollup->find("\nAnonymous:");
    if (at != std::string::npos) s.anonKb = std::stol(rollup->substr(at + 11));
  }
  return s;
}

int benchFootprint(long periodMs, long seconds) {
  test::RealCgroupSandbox sandbox;
  if (!sandbox.available()) {
    std::fprintf(stderr, "real cgroups unavailable: %s\n", sandbox.why().c_str());
    return 1;
  }
  sandbox.makeGroup("a");
  test::Child inA(sandbox.procsFiles("a"), false, 600);
  transport::ServerOptions so;
  so.endpoint = "tcp://127.0.0.1:0";
  auto server = transport::Server::bind(so);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().describe().c_str());
    return 1;
  }
  test::TempDir dir;
  dir.write("agent.toml", "[broker]\nendpoint = \"" + (*server)->boundEndpoint() +
                              "\"\n[agent]\nvm_uuid = \"1b4e28ba-2fa1-11d2-883f-0016d3cca427\"\nperiod_ms = " +
                              std::to_string(periodMs) + "\nlog_level = \"warn\"\n[cgroup]\nroot = \"" +
                              sandbox.name() +
                              "\"\n[best_effort]\nirq = false\nworkqueue = false\nkthreads = false\n"
                              "[memory]\nensure_movable = false\n");
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cfg = dir.path() + "/agent.toml";
    execl(VNUMA_AGENT_BINARY, "vnuma-agent", "--config", cfg.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::uint64_t seq = 0, reports = 0;
  std::string peer;
  auto sendEnv = [&](proto::Envelope e) {
    e.set_version(kProtocolVersion);
    e.set_seq(++seq);
    e.set_session_id(9);
    (void)(*server)->send(peer, codec::encodeEnvelope(e));
  };
  const auto start = std::chrono::steady_clock::now();
  ProcStats first{};
  bool measuring = false;
  std::chrono::steady_clock::time_point measureStart;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(seconds + 2)) {
    if (!measuring && std::chrono::steady_clock::now() - start >= 2s) {
      measuring = true;
      measureStart = std::chrono::steady_clock::now();
      first = readProc(pid);
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
      sendEnv(w);
      proto::Envelope g;
      g.mutable_grant()->set_generation(1);
      g.mutable_grant()->add_vcpus(0);
      g.mutable_grant()->add_vcpus(1);
      sendEnv(g);
    }
    if (env->has_report()) ++reports;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - measureStart).count();
  const ProcStats last = readProc(pid);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("| %ld ms | %ld s | %lu | %.3f %% | %ld KiB | %ld KiB | %ld KiB | exit %d |\n", periodMs, seconds,
              static_cast<unsigned long>(reports), 100.0 * (last.cpuSec - first.cpuSec) / wall, last.rssKb,
              last.anonKb, last.hwmKb, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s apply --tasks N [--iterations K] | footprint --period-ms P [--seconds S]\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "apply")
    return benchApply(argValue(argc, argv, "--tasks", 10, 1, 2000), argValue(argc, argv, "--iterations", 200, 2, 10000));
  if (mode == "footprint")
    return benchFootprint(argValue(argc, argv, "--period-ms", 1000, 100, 60000), argValue(argc, argv, "--seconds", 10, 1, 120));
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
