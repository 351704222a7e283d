// broker_bench: the broker under load, over real ZeroMQ on 127.0.0.1 with CURVE, with the real
// engine on libvirt's test driver and simulated agents (host-broker/engine/testing).
//
//   broker_bench handoff [--rounds N]              pCPU handoff A -> B latency, p50/p99
//   broker_bench reports [--agents N] [--seconds S]  Report messages/s the broker sustains
//   broker_bench admin   [--requests N]            admin API round trips/s (one client)
// Results and the commands used are in docs/benchmarks-broker.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/proto/Codec.hpp"
#include "host-broker/engine/testing/BrokerHarness.hpp"

namespace {

using namespace vnuma;
using namespace vnuma::broker;
using namespace vnuma::broker::testing;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

const std::string kAlpha = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kBeta = "bbbbbbbb-0000-4000-8000-000000000002";

int benchHandoff(const std::string& fixtureDir, int rounds) {
  HarnessOptions o;
  o.fixture = fixtureDir + "/host-shared4.xml";
  o.vmUuids = {kAlpha, kBeta};
  o.logLevel = "error";
  o.tickMs = 60000;  // only admin changes move pCPUs, one per round
  o.leaseMs = 60000;
  o.ackTimeoutMs = 5000;
  BrokerHarness h(o);
  if (auto r = h.start(); !r) {
    std::cerr << r.error().describe() << "\n";
    return 1;
  }
  auto a = h.agent(kAlpha);
  auto b = h.agent(kBeta);
  if (!a || !b) return 1;
  (void)(*a)->hello();
  (void)(*b)->hello();
  SimAgent* A = a->get();
  SimAgent* B = b->get();
  pumpUntil({A, B}, [&] { return A->vcpus.size() == 2 && B->vcpus.size() == 2; },
            10s);
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    // Alternate the direction: weight 3:1 moves one pCPU to alpha, 1:1 moves it back.
    const bool toAlpha = i % 2 == 0;
    SimAgent* gainer = toAlpha ? A : B;
    SimAgent* loser = toAlpha ? B : A;
    const std::size_t want = gainer->vcpus.size() + 1;
    const std::size_t loserGrants = loser->grants.size();
    auto r = h.admin("PATCH", "/v1/vms/alpha", toAlpha ? R"({"weight":3})" : R"({"weight":1})");
    if (r.status != 200) {
      std::cerr << "PATCH failed: " << r.raw << "\n";
      return 1;
    }
    if (!pumpUntil({loser, gainer}, [&] { return gainer->vcpus.size() == want; }, 5s)) {
      std::cerr << "round " << i << ": no handoff (alpha " << A->vcpus.size() << " vCPUs, beta " << B->vcpus.size()
                << ")\n" << h.admin("GET", "/v1/ledger").raw << "\n";
      return 1;
    }
    if (loser->grants.size() <= loserGrants) continue;
    const auto revokeAt = loser->grants[loserGrants].at;
    ms.push_back(std::chrono::duration<double, std::milli>(gainer->lastAckAt - revokeAt).count());
  }
  std::printf("handoff A->B (revoke, ack, grant, ack) over loopback+CURVE, %zu rounds:\n", ms.size());
  std::printf("  p50 %.3f ms   p99 %.3f ms   max %.3f ms   mean %.3f ms\n", percentile(ms, 50), percentile(ms, 99),
              *std::max_element(ms.begin(), ms.end()),
              std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size()));
  return 0;
}

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
    << "</active><mhz>2000</mhz><model>x86_64</model></cpu>\n<memory>" << 256ull * 1024 * 1024 << "</memory>\n";
  for (int i = 0; i < n; ++i) {
    x << "<domain type='test'><name>vm" << i << "</name><uuid>" << uuidFor(i) << "</uuid>"
      << "<metadata><vnuma:vm xmlns:vnuma='https://vnuma.dev/xmlns/vnuma/1' managed='yes'/></metadata>"
      << "<memory unit='KiB'>65536</memory><vcpu placement='static'>1</vcpu>"
      << "<cputune><vcpupin vcpu='0' cpuset='" << i << "'/></cputune>"
      << "<os><type arch='x86_64'>hvm</type></os><features><acpi/><apic/></features>"
      << "<cpu><numa><cell id='0' cpus='0' memory='65536' unit='KiB'/></numa></cpu></domain>\n";
  }
  x << "</node>\n";
  return path;
}

double metric(BrokerHarness& h, const std::string& name) {
  auto r = h.admin("GET", "/v1/metrics");
  auto pos = r.raw.find("\n" + name + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(r.raw.substr(pos + name.size() + 2));
}

int benchReports(int agents, int seconds) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "vnuma-bench-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return 1;
  HarnessOptions o;
  o.fixture = writeManyVmFixture(tmpl, agents);
  for (int i = 0; i < agents; ++i) o.vmUuids.push_back(uuidFor(i));
  o.logLevel = "error";
  o.leaseMs = 600000;
  o.reportPeriodMs = 1000;
  o.tickMs = 1000;
  BrokerHarness h(o);
  auto t0 = Clock::now();
  if (auto r = h.start(); !r) {
    std::cerr << r.error().describe() << "\n";
    return 1;
  }
  std::printf("broker started with %d managed VMs in %.1f s\n", agents,
              std::chrono::duration<double>(Clock::now() - t0).count());
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
  pumpUntil(ptrs, [&] {
    return std::all_of(ptrs.begin(), ptrs.end(), [](SimAgent* a) { return a->welcomed && !a->vcpus.empty(); });
  }, 120s);
  const auto connected = std::count_if(ptrs.begin(), ptrs.end(), [](SimAgent* a) { return a->welcomed; });
  std::printf("%ld/%d agents welcomed and granted in %.1f s\n", static_cast<long>(connected), agents,
              std::chrono::duration<double>(Clock::now() - t0).count());

  // Every agent sends reports as fast as its bounded queue takes them; the broker's own counter
  // tells how many it accepted.
  const double before = metric(h, "vnuma_broker_agent_reports_total");
  t0 = Clock::now();
  std::uint64_t sent = 0;
  while (Clock::now() - t0 < std::chrono::seconds(seconds)) {
    for (auto* a : ptrs) {
      if (a->report(0.5, 1)) ++sent;
    }
    for (auto* a : ptrs) a->pump(0ms);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(300ms);  // let the broker drain what is queued
  const double after = metric(h, "vnuma_broker_agent_reports_total");
  std::printf("reports: %d agents, %.1f s: sent %llu, broker accepted %.0f -> %.0f reports/s\n", agents, secs,
              static_cast<unsigned long long>(sent), after - before, (after - before) / secs);
  h.stop();
  std::filesystem::remove_all(tmpl);
  return 0;
}

int benchAdmin(const std::string& fixtureDir, int requests) {
  HarnessOptions o;
  o.fixture = fixtureDir + "/host-shared4.xml";
  o.vmUuids = {kAlpha, kBeta};
  o.logLevel = "error";
  BrokerHarness h(o);
  if (auto r = h.start(); !r) {
    std::cerr << r.error().describe() << "\n";
    return 1;
  }
  transport::ClientOptions co;
  co.endpoint = h.adminEndpoint();
  co.maxMessageBytes = transport::kMaxAdminMessageBytes;
  auto client = transport::Client::connect(co);
  if (!client) return 1;
  for (const char* path : {"/v1/health", "/v1/vms", "/v1/ledger", "/v1/metrics"}) {
    std::vector<double> us;
    const auto t0 = Clock::now();
    for (int i = 0; i < requests; ++i) {
      proto::AdminRequest req;
      req.set_version(1);
      req.set_request_id(static_cast<std::uint64_t>(i + 1));
      req.set_method("GET");
      req.set_path(path);
      const auto s = Clock::now();
      if (!(*client)->send(codec::encode(req))) return 1;
      auto rep = (*client)->receive(5000ms);
      if (!rep || !rep->has_value()) {
        std::cerr << "no reply\n";
        return 1;
      }
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("admin GET %-12s %d sequential requests: %.0f req/s, p50 %.0f us, p99 %.0f us\n", path, requests,
                requests / secs, percentile(us, 50), percentile(us, 99));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"broker_bench: vnuma-broker benchmarks (docs/benchmarks-broker.md)"};
  app.require_subcommand(1);
  std::string fixtureDir = VNUMA_ENGINE_TESTDATA;
  app.add_option("--fixtures", fixtureDir, "directory with host-shared4.xml");
  int rounds = 200, agents = 1000, seconds = 5, requests = 2000;
  auto* handoff = app.add_subcommand("handoff", "pCPU handoff latency");
  handoff->add_option("--rounds", rounds)->check(CLI::Range(2, 100000));
  auto* reports = app.add_subcommand("reports", "reports/s with many agents");
  reports->add_option("--agents", agents)->check(CLI::Range(1, 1000));
  reports->add_option("--seconds", seconds)->check(CLI::Range(1, 60));
  auto* admin = app.add_subcommand("admin", "admin requests/s");
  admin->add_option("--requests", requests)->check(CLI::Range(1, 1000000));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::err);
  if (handoff->parsed()) return benchHandoff(fixtureDir, rounds);
  if (reports->parsed()) return benchReports(agents, seconds);
  return benchAdmin(fixtureDir, requests);
}
