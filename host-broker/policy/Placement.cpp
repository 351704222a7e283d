#include "host-broker/policy/Placement.hpp"

#include <algorithm>
#include <numeric>

namespace vnuma::broker {

std::map<unsigned, double> memoryWeights(const VmEntry& v) {
  std::map<unsigned, double> w;
  double total = 0;
  for (const auto& [node, m] : v.memory) {
    double b = static_cast<double>(m.accountedBytes());
    w[node] = b;
    total += b;
  }
  if (total > 0)
    for (auto& [n, x] : w) x /= total;
  return w;
}

namespace {

// Dense per-pCPU view of the host to keep the inner loops cheap.
struct Dense {
  const HostModel& host;
  std::vector<unsigned> ids;                 // position -> pCPU id
  std::vector<unsigned> node;                // position -> node id
  std::vector<std::vector<std::size_t>> sib; // position -> sibling positions (excluding itself)
  explicit Dense(const HostModel& h) : host(h) {
    for (const auto& p : h.pcpus) {
      ids.push_back(p.id);
      node.push_back(p.node);
    }
    sib.resize(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i)
      for (unsigned s : h.pcpus[i].siblings.ids())
        if (s != ids[i])
          if (const auto* sp = h.pcpu(s)) sib[i].push_back(static_cast<std::size_t>(sp - h.pcpus.data()));
  }
  std::size_t pos(unsigned id) const { return static_cast<std::size_t>(host.pcpu(id) - host.pcpus.data()); }
};

}  // namespace

PlacementResult place(const Ledger& ledger, const std::vector<PlacementWant>& wants, const PlacementParams& params) {
  const auto& host = ledger.host();
  Dense d(host);
  const std::size_t n = d.ids.size();
  PlacementResult out;

  // owner[pos]: index into wants of the VM that will hold it after this call; -1 free; -2 blocked
  // (reserved, being revoked, another VM's floor, held by a VM not in `wants`).
  std::vector<int> owner(n, -2);
  std::map<VmId, int> index;
  for (std::size_t w = 0; w < wants.size(); ++w) index[wants[w].vm] = static_cast<int>(w);
  const auto pcpuViews = ledger.pcpus();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& pv = pcpuViews[i];
    if (pv.state == PcpuState::kReserved || pv.state == PcpuState::kRevoking) continue;
    if (pv.state == PcpuState::kFree) {
      if (pv.floorOf.empty()) owner[i] = -1;
      else if (auto it = index.find(pv.floorOf); it != index.end()) owner[i] = it->second;  // its own floor
      continue;
    }
    if (auto it = index.find(pv.holder); it != index.end()) owner[i] = it->second;
  }

  struct Vm {
    const VmEntry* e = nullptr;
    unsigned want = 0;
    std::vector<char> pinned;            // by position
    std::vector<char> floor;             // by position
    std::map<unsigned, double> memW;     // node -> weight
    std::map<unsigned, unsigned> onNode; // node -> pCPUs in the new set
    unsigned have = 0;
  };
  std::vector<Vm> vms(wants.size());
  for (std::size_t w = 0; w < wants.size(); ++w) {
    auto& v = vms[w];
    v.e = ledger.vm(wants[w].vm);
    v.pinned.assign(n, 0);
    v.floor.assign(n, 0);
    if (!v.e) continue;
    for (unsigned p : v.e->spec.pinnedPcpus().ids())
      if (host.pcpu(p)) v.pinned[d.pos(p)] = 1;
    for (unsigned p : v.e->floorPcpus.ids()) v.floor[d.pos(p)] = 1;
    if (params.followMemory) v.memW = memoryWeights(*v.e);
    unsigned ceiling = v.e->spec.effectiveCeiling();
    v.want = std::clamp(wants[w].count, v.e->spec.floor, std::max(ceiling, v.e->spec.floor));
  }
  for (std::size_t i = 0; i < n; ++i)
    if (owner[i] >= 0) {
      auto& v = vms[static_cast<std::size_t>(owner[i])];
      v.have++;
      v.onNode[d.node[i]]++;
    }

  // ---- shrink (largest excess first, within the move budget) ----
  std::vector<std::size_t> order(wants.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return int(vms[a].have) - int(vms[a].want) > int(vms[b].have) - int(vms[b].want);
  });
  unsigned budget = params.moveBudget;
  std::vector<std::size_t> released;
  for (std::size_t w : order) {
    auto& v = vms[w];
    if (!v.e || v.have <= v.want || !wants[w].mayShrink) continue;
    while (v.have > v.want && budget > 0) {
      // Pick the pCPU to release: lowest memory weight node, partial core, minority node, high id.
      long best = -1;
      double bestScore = -1e18;
      for (std::size_t i = 0; i < n; ++i) {
        if (owner[i] != static_cast<int>(w) || v.floor[i]) continue;
        double score = 0;
        double mw = v.memW.count(d.node[i]) ? v.memW[d.node[i]] : 0;
        score -= 100 * mw;
        bool partial = true;
        for (auto s : d.sib[i])
          if (owner[s] == static_cast<int>(w)) partial = false;
        if (params.smtTogether && partial && !d.sib[i].empty()) score += 1000;
        score -= 10.0 * v.onNode[d.node[i]] / std::max(1u, v.have);
        score += 1e-6 * static_cast<double>(i);
        if (score > bestScore) {
          bestScore = score;
          best = static_cast<long>(i);
        }
      }
      if (best < 0) break;
      auto b = static_cast<std::size_t>(best);
      owner[b] = -3;  // released: held (revoking) until the ack; not free for others this call
      v.have--;
      v.onNode[d.node[b]]--;
      budget--;
      out.revoked++;
    }
  }

  // ---- grow (largest relative deficit first; priority breaks ties) ----
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    auto def = [&](std::size_t x) {
      return vms[x].want > vms[x].have ? double(vms[x].want - vms[x].have) / double(vms[x].want) : 0.0;
    };
    if (def(a) != def(b)) return def(a) > def(b);
    return wants[a].priority > wants[b].priority;
  });
  for (std::size_t w : order) {
    auto& v = vms[w];
    if (!v.e) continue;
    while (v.have < v.want) {
      long best = -1;
      double bestScore = -1e18;
      for (std::size_t i = 0; i < n; ++i) {
        if (owner[i] != -1 || !v.pinned[i]) continue;
        double score = 0;
        bool completesCore = false, wholeCoreFree = !d.sib[i].empty();
        for (auto s : d.sib[i]) {
          if (owner[s] == static_cast<int>(w)) completesCore = true;
          if (owner[s] != -1 || !v.pinned[s]) wholeCoreFree = false;
        }
        if (params.smtTogether && completesCore) score += 1000;
        double mw = v.memW.count(d.node[i]) ? v.memW[d.node[i]] : 0;
        score += 100 * mw;
        score += 10.0 * (v.onNode.count(d.node[i]) ? v.onNode[d.node[i]] : 0) / std::max(1u, v.have);
        if (params.smtTogether && wholeCoreFree) score += 5;
        score -= 1e-6 * static_cast<double>(i);
        if (score > bestScore) {
          bestScore = score;
          best = static_cast<long>(i);
        }
      }
      if (best < 0) break;
      auto b = static_cast<std::size_t>(best);
      owner[b] = static_cast<int>(w);
      v.have++;
      v.onNode[d.node[b]]++;
      out.granted++;
    }
    out.unplaced += v.want > v.have ? v.want - v.have : 0;
  }

  for (std::size_t w = 0; w < wants.size(); ++w) out.targets[wants[w].vm] = CpuSet();
  for (std::size_t i = 0; i < n; ++i)
    if (owner[i] >= 0) out.targets[wants[static_cast<std::size_t>(owner[i])].vm].add(d.ids[i]);
  return out;
}

}  // namespace vnuma::broker
