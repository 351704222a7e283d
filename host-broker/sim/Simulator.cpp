#include "host-broker/sim/Simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <random>

#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/ledger/PlanExecutor.hpp"
#include "host-broker/policy/Policy.hpp"

namespace vnuma::broker::sim {

namespace {

constexpr std::uint64_t kBlock = 2 * kMiB;

std::uint64_t mbToBlocks(double mb) {
  auto bytes = static_cast<std::uint64_t>(mb * static_cast<double>(kMiB));
  return bytes - bytes % kBlock;
}

VmSpec specFor(const HostModel& host, const SimVm& vm, std::size_t index) {
  VmSpec s;
  char uuid[64];
  std::snprintf(uuid, sizeof uuid, "5e5e0000-0000-4000-8000-%012zx", index + 1);
  s.uuid = uuid;
  s.name = vm.name;
  s.floor = vm.floor;
  s.ceiling = vm.ceiling;
  s.weight = vm.weight;
  for (std::size_t i = 0; i < host.pcpus.size(); ++i)
    s.pins[static_cast<unsigned>(i)] = host.pcpus[i].id;  // Full vNUMA
  for (const auto& n : host.nodes) {
    s.guestToHostNode[n.id] = n.id;
    if (vm.bootMemMb > 0) s.bootMemBytes[n.id] = mbToBlocks(vm.bootMemMb);
    if (vm.vmemMb > 0) {
      VirtioMemDevice d;
      d.alias = "virtiomem" + std::to_string(n.id);
      d.guestNode = n.id;
      d.hostNode = n.id;
      d.blockBytes = kBlock;
      d.maxBytes = mbToBlocks(vm.vmemMb);
      s.virtioMem.push_back(d);
    }
  }
  return s;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, idx == 0 ? 0 : idx - 1)];
}

// A series point is due every `period` seconds (never when period is 0).
bool seriesDue(double& next, double period, double t) {
  if (period <= 0 || t < next - 1e-9) return false;
  next = t + period;
  return true;
}

struct Msg {
  double atMs;
  std::uint64_t gen;
  CpuSet target;
};

struct Agent {
  VmId uuid;
  const SimVm* cfg = nullptr;
  CpuSet applied;       // what the guest confines its tasks to
  CpuSet hostEnforced;  // pCPUs where the host lowered its vCPU weight
  std::deque<Msg> inbox;
  std::map<std::uint64_t, double> sentAt;     // generation -> ms
  double periodUsed = 0;                      // CPU-ms in the current report period
  std::map<unsigned, std::uint64_t> plugged;  // node -> virtio-mem current
};

struct MemOp {
  double atMs;
  std::size_t agent;
  unsigned node;
  std::uint64_t bytes;
};

void finish(PolicyResult& res, const std::vector<double>& demand, const std::vector<double>& used,
            const std::vector<double>& memUnmet, const Scenario& sc) {
  std::vector<double> sat;
  for (std::size_t i = 0; i < sc.vms.size(); ++i) {
    VmResult v;
    v.name = sc.vms[i].name;
    v.demandCpuS = demand[i];
    v.usedCpuS = used[i];
    v.unmetCpuS = std::max(0.0, demand[i] - used[i]);
    v.satisfaction = demand[i] > 1e-9 ? std::min(1.0, used[i] / demand[i]) : 1.0;
    v.memUnmetGbS = memUnmet[i];
    sat.push_back(v.satisfaction);
    res.vms.push_back(v);
  }
  res.jain = jainIndex(sat);
}

Result<PolicyResult> simulateUnmanaged(const Scenario& sc, const SimOptions& opts) {
  PolicyResult res;
  res.policy = "unmanaged";
  const auto& host = sc.host;
  const auto grantable = host.grantable().ids();
  const std::size_t S = grantable.size();
  const std::size_t n = sc.vms.size();
  std::mt19937_64 rng(sc.seed * 7919 + 17);
  DemandCursor cursor(sc.trace);
  std::vector<double> demandSum(n), usedSum(n), memUnmet(n);
  const double dt = opts.stepMs / 1000.0;
  std::vector<double> used(n);
  std::vector<std::vector<std::size_t>> placement(n);  // threads -> pCPU index
  double nextSeries = 0, nextShuffle = 0;
  for (double t = 0; t < sc.durationS - 1e-9; t += dt) {
    cursor.advanceTo(t);
    std::vector<double> d(n);
    for (std::size_t i = 0; i < n; ++i) d[i] = cursor.cpu(sc.vms[i].name);
    if (t >= nextShuffle - 1e-9) {
      // The guests' schedulers spread their busy threads over their vCPUs, unaware of each other;
      // re-drawn every 100 ms (guest load balancing).
      nextShuffle = t + 0.1;
      for (std::size_t i = 0; i < n; ++i) {
        auto threads =
            static_cast<std::size_t>(std::min(static_cast<double>(S), std::ceil(d[i] - 1e-9)));
        std::vector<std::size_t> idx(S);
        for (std::size_t k = 0; k < S; ++k) idx[k] = k;
        for (std::size_t k = 0; k < threads; ++k) std::swap(idx[k], idx[k + rng() % (S - k)]);
        placement[i].assign(idx.begin(), idx.begin() + static_cast<long>(threads));
      }
    }
    // Per pCPU: the threads' needs; fair time-slicing when over 1, at the given efficiency.
    std::vector<std::vector<std::pair<std::size_t, double>>> onCpu(S);
    for (std::size_t i = 0; i < n; ++i) {
      auto threads = placement[i].size();
      if (threads == 0) continue;
      double need = std::min(1.0, d[i] / static_cast<double>(threads));
      for (auto c : placement[i]) onCpu[c].push_back({i, need});
    }
    std::fill(used.begin(), used.end(), 0.0);
    double totalUsed = 0;
    for (std::size_t c = 0; c < S; ++c) {
      auto& v = onCpu[c];
      if (v.empty()) continue;
      double load = 0;
      for (auto& [i, need] : v) load += need;
      if (load <= 1.0 + 1e-12) {
        for (auto& [i, need] : v) used[i] += need;
        continue;
      }
      // Max-min fair share of the pCPU among its threads, then the double-scheduling loss.
      std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second < b.second; });
      double left = 1.0;
      for (std::size_t k = 0; k < v.size(); ++k) {
        double share = std::min(v[k].second, left / static_cast<double>(v.size() - k));
        used[v[k].first] += share * opts.unmanagedEfficiency;
        left -= share;
      }
    }
    double unmet = 0;
    for (std::size_t i = 0; i < n; ++i) {
      used[i] = std::min(used[i], d[i]);
      demandSum[i] += d[i] * dt;
      usedSum[i] += used[i] * dt;
      totalUsed += used[i];
      unmet += std::max(0.0, d[i] - used[i]);
      // Memory: unmanaged VMs have only their boot memory (no virtio-mem management).
      if (const auto* m = cursor.memMb(sc.vms[i].name))
        for (double mb : *m) memUnmet[i] += std::max(0.0, mb - sc.vms[i].bootMemMb) / 1024.0 * dt;
    }
    res.unmetCpuS += unmet * dt;
    res.idleWantedCpuS += std::min(std::max(0.0, static_cast<double>(S) - totalUsed), unmet) * dt;
    if (seriesDue(nextSeries, opts.seriesPeriodS, t))
      res.series.push_back({t, d, used, std::vector<double>(n, static_cast<double>(S))});
  }
  finish(res, demandSum, usedSum, memUnmet, sc);
  return res;
}

Result<PolicyResult> simulateManaged(const Scenario& sc, const std::string& model,
                                     const SimOptions& opts) {
  PolicyResult res;
  res.policy = model;
  auto ledgerR = Ledger::create(sc.host);
  if (!ledgerR) return ledgerR.error();
  Ledger ledger = std::move(*ledgerR);
  auto policyR = makePolicy(model);
  if (!policyR) return policyR.error();
  auto policy = std::move(*policyR);
  PolicyParams params = opts.params;
  params.name = model;

  const auto& host = sc.host;
  const std::size_t n = sc.vms.size();
  std::vector<Agent> agents(n);
  std::map<VmId, std::size_t> agentOf;
  for (std::size_t i = 0; i < n; ++i) {
    auto spec = specFor(host, sc.vms[i], i);
    auto r = ledger.apply(AddVm{spec, {}}, 0);
    if (!r)
      return std::move(r).error().context("scenario " + sc.name + ": adding " + sc.vms[i].name);
    agents[i].uuid = spec.uuid;
    agents[i].cfg = &sc.vms[i];
    agentOf[spec.uuid] = i;
  }
  std::mt19937_64 rng(sc.seed);
  std::uniform_real_distribution<double> delay(sc.ackDelayMinMs, sc.ackDelayMaxMs);
  std::map<unsigned, VmId> lastHolder;
  std::deque<MemOp> memOps;
  std::map<VmId, VmReport> reports;
  std::vector<double> decisionUs, decideUs;
  Plan lastPlan;
  bool havePlan = false;
  double now = 0;

  auto applyEdit = [&](const LedgerEdit& e) {
    auto r = ledger.apply(e, static_cast<std::int64_t>(now));
    if (!r) {
      res.refusedEdits++;
      return;
    }
    if (const auto* g = std::get_if<SendGrant>(&e)) {
      auto& a = agents[agentOf.at(g->vm)];
      for (unsigned p : g->target.ids()) {
        auto& last = lastHolder[p];
        if (!last.empty() && last != g->vm) res.handoffs++;
        last = g->vm;
      }
      a.hostEnforced -= g->target;  // weights restored when granted again
      double at = now + delay(rng);
      if (!a.inbox.empty()) at = std::max(at, a.inbox.back().atMs);
      a.inbox.push_back({at, g->generation, g->target});
      a.sentAt[g->generation] = now;
      res.grantsSent++;
    } else if (const auto* m = std::get_if<SetMemoryRequested>(&e)) {
      memOps.push_back({now + opts.memDelayMs, agentOf.at(m->vm), m->node, m->bytes});
    }
  };
  auto execute = [&]() {
    if (!havePlan) return;
    for (const auto& e : planSteps(ledger, lastPlan).edits) applyEdit(e);
  };

  DemandCursor cursor(sc.trace);
  std::vector<double> demandSum(n), usedSum(n), memUnmet(n), d(n), used(n);
  const double dt = opts.stepMs / 1000.0;
  double nextTick = 0, nextReport = sc.reportPeriodMs, nextSeries = 0;
  std::vector<int> count(host.pcpus.size());
  const double S = static_cast<double>(host.grantable().count());

  for (double t = 0; t < sc.durationS - 1e-9; t += dt) {
    now = t * 1000.0;
    cursor.advanceTo(t);
    for (std::size_t i = 0; i < n; ++i) d[i] = cursor.cpu(sc.vms[i].name);

    // Agents apply delivered grants and ack them.
    bool acked = false;
    for (auto& a : agents) {
      while (!a.inbox.empty() && a.inbox.front().atMs <= now + 1e-9) {
        Msg m = std::move(a.inbox.front());
        a.inbox.pop_front();
        if (a.cfg->dropsAcks) {
          // A broken guest: applies only grants that add pCPUs, ignores revokes, never acks.
          a.applied |= m.target;
          continue;
        }
        a.applied = m.target;
        applyEdit(AckGeneration{a.uuid, m.gen});
        acked = true;
      }
    }
    // libvirt stand-in: virtio-mem current follows requested.
    while (!memOps.empty() && memOps.front().atMs <= now + 1e-9) {
      auto op = memOps.front();
      memOps.pop_front();
      agents[op.agent].plugged[op.node] = op.bytes;
      applyEdit(ObserveMemoryCurrent{agents[op.agent].uuid, op.node, op.bytes});
    }
    // Ack timeouts: enforce host-side.
    for (auto& a : agents) {
      const auto* v = ledger.vm(a.uuid);
      CpuSet late;
      for (const auto& [p, h] : v->holds)
        if (h.state == HoldState::kRevoking && a.sentAt.count(h.generation) &&
            a.sentAt[h.generation] + sc.ackTimeoutMs <= now + 1e-9)
          late.add(p);
      if (!late.empty()) {
        applyEdit(EnforceRevoke{a.uuid, late});
        a.hostEnforced |= late;
        res.enforcedRevokes += late.count();
      }
    }
    // Reports.
    if (now >= nextReport - 1e-9) {
      const double period = sc.reportPeriodMs;
      for (std::size_t i = 0; i < n; ++i) {
        auto& a = agents[i];
        VmReport r;
        r.atMs = static_cast<std::int64_t>(now);
        const auto eff = a.applied - a.hostEnforced;
        const double g = static_cast<double>(eff.count());
        const double busyAvg = a.periodUsed / period;  // CPUs
        for (unsigned p : eff.ids()) r.vcpuBusy[p] = g > 0 ? std::min(1.0, busyAvg / g) : 0;
        r.appliedPcpus = a.applied;
        r.runnable = static_cast<unsigned>(std::ceil(d[i] - 1e-9));
        r.cpuPressureSome = d[i] > g && d[i] > 0 ? std::min(100.0, 100.0 * (d[i] - g) / d[i]) : 0;
        const auto* mem = cursor.memMb(sc.vms[i].name);
        for (std::size_t k = 0; k < host.nodes.size(); ++k) {
          unsigned node = host.nodes[k].id;
          NodeMemReport m;
          m.virtioPluggedBytes = a.plugged.count(node) ? a.plugged[node] : 0;
          m.totalBytes = mbToBlocks(sc.vms[i].bootMemMb) + m.virtioPluggedBytes;
          double wantB = mem && k < mem->size() ? (*mem)[k] * static_cast<double>(kMiB) : 0;
          m.freeBytes =
              static_cast<std::uint64_t>(std::max(0.0, static_cast<double>(m.totalBytes) - wantB));
          m.availableBytes = m.freeBytes;
          r.memByGuestNode[node] = m;  // sim VMs mirror the host: guest node = host node
          if (wantB > static_cast<double>(m.totalBytes) && m.totalBytes > 0)
            r.memPressureSome =
                std::max(r.memPressureSome,
                         std::min(100.0, 100.0 * (wantB / static_cast<double>(m.totalBytes) - 1)));
        }
        reports[a.uuid] = std::move(r);
        a.periodUsed = 0;
      }
      nextReport += sc.reportPeriodMs;
    }
    // Policy tick; and after acks, carry on with the current plan (second phase of handoffs).
    if (now >= nextTick - 1e-9) {
      using Us = std::chrono::duration<double, std::micro>;
      auto t0 = std::chrono::steady_clock::now();
      lastPlan =
          policy->decide(PolicyInput{ledger, reports, params, static_cast<std::int64_t>(now)});
      auto t1 = std::chrono::steady_clock::now();
      auto steps = planSteps(ledger, lastPlan);
      decideUs.push_back(Us(t1 - t0).count());
      decisionUs.push_back(Us(std::chrono::steady_clock::now() - t0).count());
      havePlan = true;
      for (const auto& e : steps.edits) applyEdit(e);
      if (!ledger.checkInvariants()) res.ledgerViolations++;
      nextTick += static_cast<double>(params.tickMs);
    } else if (acked) {
      execute();
    }

    // Usage and the independent overlap check.
    std::fill(count.begin(), count.end(), 0);
    double totalUsed = 0, unmet = 0;
    for (std::size_t i = 0; i < n; ++i) {
      auto& a = agents[i];
      const auto eff = a.applied - a.hostEnforced;
      for (unsigned p : eff.ids()) {
        const auto* hp = host.pcpu(p);
        auto pos = static_cast<std::size_t>(hp - host.pcpus.data());
        if (++count[pos] > 1) res.overlaps++;
        if (host.reserved.contains(p)) res.overlaps++;
        if (ledger.holderOf(p) != a.uuid) res.overlaps++;  // running where it holds nothing
      }
      used[i] = std::min(d[i], static_cast<double>(eff.count()));
      a.periodUsed += used[i] * opts.stepMs;
      demandSum[i] += d[i] * dt;
      usedSum[i] += used[i] * dt;
      totalUsed += used[i];
      unmet += std::max(0.0, d[i] - used[i]);
      if (const auto* m = cursor.memMb(sc.vms[i].name))
        for (std::size_t k = 0; k < m->size() && k < host.nodes.size(); ++k) {
          double have = sc.vms[i].bootMemMb + static_cast<double>(a.plugged[host.nodes[k].id]) /
                                                  static_cast<double>(kMiB);
          memUnmet[i] += std::max(0.0, (*m)[k] - have) / 1024.0 * dt;
        }
    }
    res.unmetCpuS += unmet * dt;
    res.idleWantedCpuS += std::min(std::max(0.0, S - totalUsed), unmet) * dt;
    if (seriesDue(nextSeries, opts.seriesPeriodS, t)) {
      std::vector<double> granted;
      for (auto& a : agents)
        granted.push_back(static_cast<double>((a.applied - a.hostEnforced).count()));
      res.series.push_back({t, d, used, std::move(granted)});
    }
  }
  res.decisionP50Us = percentile(decisionUs, 0.5);
  res.decisionP99Us = percentile(decisionUs, 0.99);
  res.decideP50Us = percentile(decideUs, 0.5);
  res.decideP99Us = percentile(decideUs, 0.99);
  finish(res, demandSum, usedSum, memUnmet, sc);
  return res;
}

}  // namespace

double jainIndex(const std::vector<double>& x) {
  if (x.empty()) return 1;
  double s = 0, s2 = 0;
  for (double v : x) {
    s += v;
    s2 += v * v;
  }
  return s2 > 0 ? s * s / (static_cast<double>(x.size()) * s2) : 1;
}

std::vector<std::string> simModels() { return {"static", "demand", "unmanaged"}; }

Result<PolicyResult> simulate(const Scenario& sc, const std::string& model,
                              const SimOptions& opts) {
  if (opts.stepMs <= 0) return Error(Errc::kInvalidArgument, "step must be > 0 ms");
  if (model == "unmanaged") return simulateUnmanaged(sc, opts);
  if (model == "static" || model == "demand") return simulateManaged(sc, model, opts);
  std::string known;
  for (const auto& m : simModels()) known += (known.empty() ? "" : ", ") + m;
  return Error(Errc::kInvalidArgument, "unknown model '" + model + "' (known: " + known + ")");
}

}  // namespace vnuma::broker::sim
