// vnuma-sim: trace-driven comparison of rebalancing policies on the real ledger and policy code.
// See docs/policy.md ("Simulator") for the model, the metrics and the shipped scenarios.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/config/ConfigFile.hpp"
#include "common/topo/Topology.hpp"
#include "host-broker/policy/PolicyParams.hpp"
#include "host-broker/sim/Report.hpp"
#include "host-broker/sim/Scenario.hpp"
#include "host-broker/sim/Simulator.hpp"

#ifndef VNUMA_SIM_PLOT_SCRIPT
#define VNUMA_SIM_PLOT_SCRIPT "vnuma-sim-plot.py"
#endif
#ifndef VNUMA_SIM_PLOT_SCRIPT_SRC
#define VNUMA_SIM_PLOT_SCRIPT_SRC VNUMA_SIM_PLOT_SCRIPT
#endif

using namespace vnuma;
using namespace vnuma::broker;

namespace {

int fail(const std::string& msg, int code = 2) {
  std::cerr << "vnuma-sim: " << msg << "\n";
  return code;
}

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ','))
    if (!x.empty()) out.push_back(x);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vnuma-sim: compare rebalancing policies on a host topology and a demand trace"};
  std::string scenarioPath, hostSpec, sysfsDir, tracePath,
      policiesText = "static,demand,unmanaged", policyFile, plotPath, plotScript, reserved;
  double duration = 0, efficiency = 0.75, stepMs = 10;
  bool json = false;
  std::uint64_t seed = 0;
  app.add_option("--scenario", scenarioPath,
                 "scenario JSON (host, VMs, trace); see docs/policy.md");
  app.add_option("--host", hostSpec,
                 "host spec, e.g. nodes=8,cpus_per_node=64,smt=2,mem_per_node_gb=256");
  app.add_option("--sysfs", sysfsDir,
                 "host topology from a sysfs dump (directory containing sys/)");
  app.add_option("--reserved", reserved, "reserved pCPUs (cpulist) with --sysfs");
  app.add_option("--trace", tracePath, "demand trace (.csv or .json); VMs are taken from it");
  app.add_option("--policies", policiesText, "comma-separated models: static,demand,unmanaged");
  app.add_option("--policy-file", policyFile, "policy parameters (TOML, [policy] tables)");
  app.add_option("--duration", duration,
                 "seconds to simulate (default: scenario or last sample + 60)");
  app.add_option("--seed", seed, "override the scenario seed");
  app.add_option("--step-ms", stepMs, "simulation step in ms")->check(CLI::Range(0.1, 1000.0));
  app.add_option("--unmanaged-efficiency", efficiency,
                 "useful fraction of a time-sliced vCPU slice (unmanaged model)")
      ->check(CLI::Range(0.01, 1.0));
  app.add_flag("--json", json, "print JSON instead of the table");
  app.add_option("--plot", plotPath, "write a PNG plot (python3 + matplotlib)");
  app.add_option("--plot-script", plotScript, "the plot script");
  CLI11_PARSE(app, argc, argv);
  if (plotScript.empty())  // installed copy first, else the one in the source tree
    plotScript = ::access(VNUMA_SIM_PLOT_SCRIPT, R_OK) == 0 ? VNUMA_SIM_PLOT_SCRIPT
                                                            : VNUMA_SIM_PLOT_SCRIPT_SRC;

  sim::Scenario sc;
  if (!scenarioPath.empty()) {
    if (!hostSpec.empty() || !sysfsDir.empty() || !tracePath.empty())
      return fail(
          "--scenario already names the host and trace; do not combine it with "
          "--host/--sysfs/--trace");
    auto s = sim::loadScenario(scenarioPath);
    if (!s) return fail(s.error().describe());
    sc = std::move(*s);
  } else {
    if (tracePath.empty())
      return fail("give --scenario FILE, or --trace FILE with --host SPEC or --sysfs DIR");
    if (hostSpec.empty() == sysfsDir.empty())
      return fail("give exactly one of --host SPEC or --sysfs DIR");
    if (!hostSpec.empty()) {
      auto h = HostModel::fromSpec(hostSpec);
      if (!h) return fail(h.error().describe());
      sc.host = std::move(*h);
      sc.hostText = hostSpec;
    } else {
      auto topo = Topology::read(sysfsDir);
      if (!topo) return fail(topo.error().describe());
      auto r = CpuSet::parseList(reserved);
      if (!r) return fail(r.error().context("--reserved").describe());
      auto h = HostModel::fromTopology(*topo, *r, 0);
      if (!h) return fail(h.error().describe());
      sc.host = std::move(*h);
      sc.hostText = sysfsDir;
    }
    auto t = sim::loadTrace(tracePath);
    if (!t) return fail(t.error().describe());
    sc.trace = std::move(*t);
    sc.name = tracePath;
    for (const auto& n : sc.trace.vmNames()) sc.vms.push_back(sim::SimVm{n});
    sc.durationS = sc.trace.samples.back().timeS + 60;
    if (auto c = sim::checkTrace(sc.trace, sc.vms, sc.host, tracePath); !c)
      return fail(c.error().describe());
  }
  if (duration > 0) sc.durationS = duration;
  if (seed) sc.seed = seed;

  sim::SimOptions opts;
  opts.unmanagedEfficiency = efficiency;
  opts.stepMs = stepMs;
  if (!policyFile.empty()) {
    auto p = loadPolicyFile(policyFile);
    if (!p) return fail(p.error().describe(), kExitConfigError);
    opts.params = *p;
  }
  std::vector<sim::PolicyResult> results;
  for (const auto& m : splitComma(policiesText)) {
    auto r = sim::simulate(sc, m, opts);
    if (!r) return fail(r.error().describe());
    results.push_back(std::move(*r));
  }
  if (results.empty()) return fail("--policies is empty");

  if (json)
    std::cout << sim::renderJson(sc, results, false) << "\n";
  else
    std::cout << sim::renderTable(sc, results);

  if (!plotPath.empty()) {
    char tmpl[] = "/tmp/vnuma-sim-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0) return fail("cannot create a temporary file for the plot data");
    ::close(fd);
    {
      std::ofstream out(tmpl);
      out << sim::renderJson(sc, results, true);
    }
    // The distribution's interpreter (with python3-matplotlib) before whatever python3 is on PATH.
    const std::string python =
        ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    std::string cmd = python + " '" + plotScript + "' '" + tmpl + "' '" + plotPath + "'";
    int rc = std::system(cmd.c_str());
    ::unlink(tmpl);
    if (rc != 0) return fail("plot failed: " + cmd + " (exit " + std::to_string(rc) + ")");
    std::cerr << "vnuma-sim: wrote " << plotPath << "\n";
  }
  // Non-zero exit when an invariant broke, so scripts notice.
  for (const auto& r : results)
    if (r.overlaps || r.ledgerViolations || r.refusedEdits) return 1;
  return 0;
}
