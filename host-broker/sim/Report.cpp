#include "host-broker/sim/Report.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace vnuma::broker::sim {

namespace {

// `v` with `decimals` digits after the point.
std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string pad(const std::string& s, std::size_t w, bool right = true) {
  if (s.size() >= w) return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

}  // namespace

std::string renderTable(const Scenario& sc, const std::vector<PolicyResult>& results,
                        std::size_t maxVmRows) {
  std::string out = "scenario " + sc.name + ": " + describeHost(sc.host) + ", " +
                    std::to_string(sc.vms.size()) + " VMs, " + fixed(sc.durationS, 0) + " s\n";
  const std::vector<std::string> head = {"policy",   "unmet_cpu_s", "idle_wanted_cpu_s",
                                         "overlaps", "handoffs",    "jain",
                                         "min_sat",  "mean_sat",    "p99_decide_us"};
  std::vector<std::size_t> w = {10, 12, 18, 9, 9, 6, 8, 9, 14};
  for (std::size_t i = 0; i < head.size(); ++i)
    out += pad(head[i], w[i], i != 0) + (i + 1 < head.size() ? " " : "\n");
  for (const auto& r : results) {
    double mn = 1, mean = 0;
    for (const auto& v : r.vms) {
      mn = std::min(mn, v.satisfaction);
      mean += v.satisfaction;
    }
    mean /= static_cast<double>(std::max<std::size_t>(1, r.vms.size()));
    std::vector<std::string> row = {
        r.policy,
        fixed(r.unmetCpuS, 1),
        fixed(r.idleWantedCpuS, 1),
        std::to_string(r.overlaps + r.ledgerViolations + r.refusedEdits),
        std::to_string(r.handoffs),
        fixed(r.jain, 3),
        fixed(mn, 3),
        fixed(mean, 3),
        r.policy == "unmanaged" ? "-" : fixed(r.decisionP99Us, 0)};
    for (std::size_t i = 0; i < row.size(); ++i)
      out += pad(row[i], w[i], i != 0) + (i + 1 < row.size() ? " " : "\n");
  }
  out += "\nsatisfaction per VM (used / demanded CPU-seconds):\n" + pad("vm", 12, false);
  for (const auto& r : results) out += " " + pad(r.policy, 10);
  out += "\n";
  const std::size_t nvm = sc.vms.size();
  for (std::size_t i = 0; i < nvm && i < maxVmRows; ++i) {
    out += pad(sc.vms[i].name, 12, false);
    for (const auto& r : results) out += " " + pad(fixed(r.vms[i].satisfaction, 3), 10);
    out += "\n";
  }
  if (nvm > maxVmRows) out += "(" + std::to_string(nvm - maxVmRows) + " more VMs; see --json)\n";
  return out;
}

std::string renderJson(const Scenario& sc, const std::vector<PolicyResult>& results,
                       bool withSeries) {
  using nlohmann::json;
  json vms = json::array();
  for (const auto& v : sc.vms)
    vms.push_back(
        {{"name", v.name}, {"floor", v.floor}, {"ceiling", v.ceiling}, {"weight", v.weight}});
  json rs = json::array();
  for (const auto& r : results) {
    json jv = json::array();
    for (const auto& v : r.vms)
      jv.push_back({{"name", v.name},
                    {"demand_cpu_s", v.demandCpuS},
                    {"used_cpu_s", v.usedCpuS},
                    {"unmet_cpu_s", v.unmetCpuS},
                    {"satisfaction", v.satisfaction},
                    {"mem_unmet_gib_s", v.memUnmetGbS}});
    json o = {{"policy", r.policy},
              {"unmet_cpu_s", r.unmetCpuS},
              {"idle_while_wanted_cpu_s", r.idleWantedCpuS},
              {"overlap_violations", r.overlaps},
              {"ledger_violations", r.ledgerViolations},
              {"refused_edits", r.refusedEdits},
              {"handoffs", r.handoffs},
              {"grants_sent", r.grantsSent},
              {"enforced_revokes", r.enforcedRevokes},
              {"jain", r.jain},
              {"decision_p50_us", r.decisionP50Us},
              {"decision_p99_us", r.decisionP99Us},
              {"decide_p50_us", r.decideP50Us},
              {"decide_p99_us", r.decideP99Us},
              {"vms", jv}};
    if (withSeries) {
      json t = json::array(), d = json::array(), u = json::array(), g = json::array();
      for (const auto& p : r.series) {
        t.push_back(p.t);
        d.push_back(p.demand);
        u.push_back(p.used);
        g.push_back(p.granted);
      }
      o["series"] = {{"t", t}, {"demand", d}, {"used", u}, {"granted", g}};
    }
    rs.push_back(std::move(o));
  }
  json sj = {{"name", sc.name},
             {"description", sc.description},
             {"host", sc.hostText},
             {"host_summary", describeHost(sc.host)},
             {"duration_s", sc.durationS},
             {"vms", vms}};
  return json{{"scenario", sj}, {"results", rs}}.dump(1);
}

}  // namespace vnuma::broker::sim
