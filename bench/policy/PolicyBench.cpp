// policy_bench: how long one rebalancing decision takes on a big host, for
// docs/benchmarks-policy.md.
//
//   policy_bench [--models demand,static] [--step-ms 50] [--duration S] [SCENARIO.json ...]
//
// Each scenario (default: the host*-vm*.json files beside this source) runs through vnuma-sim's
// simulator: the real ledger, plan executor and policy, simulated agents that report every
// second and ack after 2-20 ms, random bursty demand. A decision is one policy tick: decide()
// plus planSteps() on the live ledger, timed with steady_clock; p50 and p99 over every tick of
// the run, for decide() alone and for both. The baselines are measured in the same run: the static
// policy on the same host and VMs, and the 100-VM scenario on the same host as the 500-VM one. A
// third baseline attributes the cost: one VmSpec::pinnedPcpus() per VM, timed alone. Prints a
// Markdown table (the one in docs/benchmarks-policy.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "host-broker/model/Vm.hpp"
#include "host-broker/sim/Scenario.hpp"
#include "host-broker/sim/Simulator.hpp"

using namespace vnuma;
using namespace vnuma::broker;

namespace {

// What one VmSpec::pinnedPcpus() per VM costs (the walk of a Full vNUMA VM's vCPU -> pCPU map;
// decide() makes one per VM, planSteps() three more): the median of 21 rounds over freshly built
// specs, so with better memory locality than in a long-running ledger.
double pinWalkUs(const sim::Scenario& sc) {
  std::vector<VmSpec> specs(sc.vms.size());
  for (auto& s : specs)
    for (const auto& p : sc.host.pcpus) s.pins[static_cast<unsigned>(s.pins.size())] = p.id;
  std::vector<double> us;
  std::size_t sink = 0;
  for (int round = 0; round < 21; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& s : specs) sink += s.pinnedPcpus().count();
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return sink > 0 ? us[us.size() / 2] : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"policy_bench: policy decision time per tick (vnuma-sim's simulator)"};
  std::vector<std::string> scenarios;
  std::string models = "demand,static";
  double stepMs = 50;
  double duration = 0;
  app.add_option("scenarios", scenarios, "scenario files (default: bench/policy/host*-vm*.json)");
  app.add_option("--models", models, "comma-separated: demand, static");
  app.add_option("--step-ms", stepMs, "simulation step (the decision timing does not depend on it)")
      ->check(CLI::Range(1.0, 1000.0));
  app.add_option("--duration", duration, "seconds to simulate (default: the scenario's)")
      ->check(CLI::Range(1.0, 86400.0));
  CLI11_PARSE(app, argc, argv);
  if (scenarios.empty()) {
    for (const auto& e : std::filesystem::directory_iterator(VNUMA_POLICY_BENCH_DIR))
      if (e.path().extension() == ".json") scenarios.push_back(e.path().string());
    std::sort(scenarios.begin(), scenarios.end());
  }

  std::printf(
      "| scenario | host | VMs | policy | ticks | decide p50 / p99 (us) | decide + plan p50 / p99 "
      "(us) | "
      "handoffs/tick | one pin walk per VM (us) | simulated in (s) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  std::stringstream list(models);
  std::vector<std::string> modelList;
  for (std::string m; std::getline(list, m, ',');) modelList.push_back(m);
  for (const auto& path : scenarios) {
    auto sc = sim::loadScenario(path);
    if (!sc) {
      std::cerr << "policy_bench: " << sc.error().describe() << "\n";
      return 2;
    }
    if (duration > 0) sc->durationS = duration;
    for (const auto& model : modelList) {
      if (model == "unmanaged") {
        std::cerr << "policy_bench: the unmanaged model makes no decisions\n";
        return 2;
      }
      sim::SimOptions opts;
      opts.stepMs = stepMs;
      opts.seriesPeriodS = 0;
      const auto t0 = std::chrono::steady_clock::now();
      auto r = sim::simulate(*sc, model, opts);
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!r) {
        std::cerr << "policy_bench: " << path << ": " << r.error().describe() << "\n";
        return 2;
      }
      if (r->overlaps || r->ledgerViolations || r->refusedEdits) {
        std::cerr << "policy_bench: " << path << " " << model << ": invariant broken (overlaps "
                  << r->overlaps << ")\n";
        return 1;
      }
      // One tick at 0, tick_ms, 2 tick_ms, ... while t < duration.
      const double ticks =
          std::ceil(sc->durationS * 1000.0 / static_cast<double>(opts.params.tickMs) - 1e-9);
      std::printf(
          "| %s | %s | %zu | %s | %.0f | %.0f / %.0f | %.0f / %.0f | %.1f | %.0f | %.1f |\n",
          sc->name.c_str(), describeHost(sc->host).c_str(), sc->vms.size(), model.c_str(), ticks,
          r->decideP50Us, r->decideP99Us, r->decisionP50Us, r->decisionP99Us,
          static_cast<double>(r->handoffs) / ticks, pinWalkUs(*sc), wall);
      std::fflush(stdout);
    }
  }
  return 0;
}
