#include "host-broker/policy/Placement.hpp"

#include <algorithm>
#include <numeric>

namespace vnuma::broker {

std::map<unsigned, double> memoryWeights(const VmEntry& v) {
  std::map<unsigned, double> w;
  double total = 0;
  for (const auto& [guestNode, m] : v.memory) {
    double b = static_cast<double>(m.accountedBytes());
    w[m.hostNode] += b;
    total += b;
  }
  if (total > 0)
    for (auto& [n, x] : w) x /= total;
  return w;
}

unsigned ceilingFor(const VmSpec& spec, const CpuSet& pinned) {
  const auto n = static_cast<unsigned>(pinned.count());
  return std::max(spec.ceiling == 0 ? n : std::min(spec.ceiling, n), spec.floor);
}

namespace {

// Dense per-pCPU view of the host to keep the inner loops cheap.
struct Dense {
  std::vector<unsigned> ids;                  // position -> pCPU id
  std::vector<unsigned> node;                 // position -> node id
  std::vector<std::vector<std::size_t>> sib;  // position -> sibling positions (excluding itself)
  explicit Dense(const HostModel& h) {
    for (const auto& p : h.pcpus) {
      ids.push_back(p.id);
      node.push_back(p.node);
    }
    sib.resize(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i)
      for (unsigned s : h.pcpus[i].siblings.ids())
        if (s != ids[i])
          if (const auto* sp = h.pcpu(s))
            sib[i].push_back(static_cast<std::size_t>(sp - h.pcpus.data()));
  }
};

}  // namespace

PlacementResult place(const Ledger& ledger, const std::vector<PlacementWant>& wants,
                      const PlacementParams& params) {
  const auto& host = ledger.host();
  Dense d(host);
  const std::size_t n = d.ids.size();
  PlacementResult out;

  // owner[pos]: index into wants of the VM that will hold it after this call; -1 available to a
  // growing VM; -2 blocked (reserved, another VM's floor, held by a VM not in `wants`).
  // pending[pos]: available but not free yet (being revoked, now or by this call). Handing it to
  // a grower in the same plan lets the executor finish the handoff on the owner's ack instead of
  // leaving the pCPU idle until the next tick.
  std::vector<int> owner(n, -2);
  std::vector<char> pending(n, 0);
  std::map<VmId, int> index;
  for (std::size_t w = 0; w < wants.size(); ++w) index[wants[w].vm] = static_cast<int>(w);
  const auto pcpuViews = ledger.pcpus();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& pv = pcpuViews[i];
    if (pv.state == PcpuState::kReserved) continue;
    if (pv.state == PcpuState::kRevoking) {
      owner[i] = -1;
      pending[i] = 1;
      continue;
    }
    if (pv.state == PcpuState::kFree) {
      if (pv.floorOf.empty())
        owner[i] = -1;
      else if (auto it = index.find(pv.floorOf); it != index.end())
        owner[i] = it->second;  // its own floor
      continue;
    }
    if (auto it = index.find(pv.holder); it != index.end()) owner[i] = it->second;
  }

  struct Vm {
    const VmEntry* e = nullptr;
    unsigned want = 0;
    CpuSet pinned;                        // the pCPUs its vCPUs are pinned to
    std::map<unsigned, double> memW;      // node -> weight
    std::map<unsigned, unsigned> onNode;  // node -> pCPUs in the new set
    unsigned have = 0;
  };
  std::vector<Vm> vms(wants.size());
  for (std::size_t w = 0; w < wants.size(); ++w) {
    auto& v = vms[w];
    v.e = ledger.vm(wants[w].vm);
    if (!v.e) continue;
    v.pinned = wants[w].pinned.empty() ? v.e->pinned : wants[w].pinned;
    if (params.followMemory) v.memW = memoryWeights(*v.e);
    v.want = std::clamp(wants[w].count, v.e->spec.floor, ceilingFor(v.e->spec, v.pinned));
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
        if (owner[i] != static_cast<int>(w) || v.e->floorPcpus.contains(d.ids[i])) continue;
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
      owner[b] = -1;  // released: held (revoking) until the ack, then the executor grants it
      pending[b] = 1;
      v.have--;
      v.onNode[d.node[b]]--;
      budget--;
      out.revoked++;
    }
  }

  // ---- grow (largest relative deficit first; priority breaks ties) ----
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    auto def = [&](std::size_t x) {
      return vms[x].want > vms[x].have ? double(vms[x].want - vms[x].have) / double(vms[x].want)
                                       : 0.0;
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
        if (owner[i] != -1 || !v.pinned.contains(d.ids[i])) continue;
        double score = 0;
        bool completesCore = false, wholeCoreFree = !d.sib[i].empty();
        for (auto s : d.sib[i]) {
          if (owner[s] == static_cast<int>(w)) completesCore = true;
          if (owner[s] != -1 || !v.pinned.contains(d.ids[s])) wholeCoreFree = false;
        }
        if (params.smtTogether && completesCore) score += 1000;
        double mw = v.memW.count(d.node[i]) ? v.memW[d.node[i]] : 0;
        score += 100 * mw;
        score +=
            10.0 * (v.onNode.count(d.node[i]) ? v.onNode[d.node[i]] : 0) / std::max(1u, v.have);
        if (params.smtTogether && wholeCoreFree) score += 5;
        if (pending[i]) score -= 1;  // usable now beats usable after someone's ack
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
