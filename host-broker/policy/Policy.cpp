#include "host-broker/policy/Policy.hpp"

#include <algorithm>
#include <cmath>

#include "host-broker/policy/FairShare.hpp"
#include "host-broker/policy/Placement.hpp"

namespace vnuma::broker {

namespace {

ShareInput limitsOf(const VmEntry& v, double demand) {
  ShareInput s;
  s.floor = v.spec.floor;
  double ceiling = std::max<double>(v.spec.effectiveCeiling(), v.spec.floor);
  s.cap = std::clamp(demand, s.floor, ceiling);
  s.weight = v.spec.weight;
  return s;
}

// static: weights only, demand is ignored (every VM wants its ceiling).
class StaticPolicy final : public Policy {
 public:
  std::string name() const override { return "static"; }
  Plan decide(const PolicyInput& in) override {
    const auto& vms = in.ledger.vms();
    const unsigned supply = static_cast<unsigned>(in.ledger.host().grantable().count());
    std::vector<ShareInput> inputs;
    for (const auto& [u, v] : vms) inputs.push_back(limitsOf(v, 1e9));
    auto shares = weightedMaxMinShares(supply, inputs);
    auto counts = roundShares(shares, inputs, supply);
    std::vector<PlacementWant> wants;
    std::size_t i = 0;
    for (const auto& [u, v] : vms) {
      wants.push_back({u, counts[i], true, v.spec.weight});
      ++i;
    }
    auto placed = place(in.ledger, wants, in.params.placement);
    Plan plan;
    plan.policy = name();
    plan.moves = placed.revoked;
    i = 0;
    for (const auto& [u, v] : vms) {
      VmTarget t;
      t.pcpus = placed.targets[u];
      t.share = shares[i];
      t.demand = shares[i];
      t.reason = "static share " + std::to_string(counts[i]);
      plan.targets[u] = std::move(t);
      ++i;
    }
    return plan;
  }
};

class DemandPolicy final : public Policy {
 public:
  std::string name() const override { return "demand"; }

  void forget(const VmId& vm) override { state_.erase(vm); }

  Plan decide(const PolicyInput& in) override {
    const auto& vms = in.ledger.vms();
    const auto& dp = in.params.demand;
    const auto& pp = in.params.placement;
    for (auto it = state_.begin(); it != state_.end();)
      it = vms.count(it->first) ? std::next(it) : state_.erase(it);

    const unsigned supply = static_cast<unsigned>(in.ledger.host().grantable().count());
    std::vector<ShareInput> inputs;
    std::vector<double> smoothed;
    double wanted = 0;
    for (const auto& [u, v] : vms) {
      const double current = static_cast<double>(v.grantTarget().count());
      auto rit = in.reports.find(u);
      double raw;
      if (rit != in.reports.end()) {
        const auto& r = rit->second;
        double busy = 0;
        for (const auto& [vcpu, b] : r.vcpuBusy)
          if (b >= dp.minBusyFraction) busy += std::clamp(b, 0.0, 1.0);
        const double g = std::max(1.0, current);
        const double beyond = std::max(0.0, static_cast<double>(r.runnable) - g);
        raw = busy + dp.runnableGain * beyond + dp.pressureGain * std::clamp(r.cpuPressureSome, 0.0, 100.0) * g;
      } else {
        raw = std::max<double>(current, v.spec.floor);  // no report yet: hold steady
      }
      auto& st = state_[u];
      if (!st.init) {
        st.smoothed = raw;
        st.init = true;
        st.lastChangeMs = in.nowMs - pp.cooldownMs;
      } else {
        const double a = raw > st.smoothed ? dp.growAlpha : dp.shrinkAlpha;
        st.smoothed += a * (raw - st.smoothed);
      }
      smoothed.push_back(st.smoothed);
      inputs.push_back(limitsOf(v, st.smoothed * (1.0 + dp.headroom)));
      wanted += limitsOf(v, st.smoothed).cap;
    }
    // Headroom only while there is room for it: under contention shares follow bare demand, so
    // no VM holds spare pCPUs while another is short.
    const bool contended = wanted > supply + 1e-9;
    if (contended) {
      std::size_t k = 0;
      for (const auto& [u, v] : vms) inputs[k] = limitsOf(v, smoothed[k]), ++k;
    }
    auto shares = weightedMaxMinShares(supply, inputs);
    auto counts = roundShares(shares, inputs, supply);

    std::vector<PlacementWant> wants;
    std::size_t i = 0;
    for (const auto& [u, v] : vms) {
      const unsigned current = static_cast<unsigned>(v.grantTarget().count());
      unsigned c = counts[i];
      if (c < current && !contended) {
        // Voluntary shrink: keep up to hysteresis CPUs above the share.
        auto keep = static_cast<unsigned>(std::ceil(shares[i] + pp.hysteresisCpus - 1e-9));
        c = std::min(current, std::max(c, keep));
      }
      const auto& st = state_[u];
      const bool cooled = in.nowMs - st.lastChangeMs >= pp.cooldownMs;
      wants.push_back({u, c, contended || cooled, shares[i]});
      ++i;
    }
    auto placed = place(in.ledger, wants, pp);

    Plan plan;
    plan.policy = name();
    plan.moves = placed.revoked;
    i = 0;
    for (const auto& [u, v] : vms) {
      VmTarget t;
      t.pcpus = placed.targets[u];
      t.demand = smoothed[i];
      t.share = shares[i];
      const auto current = v.grantTarget();
      if (!(t.pcpus == current)) state_[u].lastChangeMs = in.nowMs;
      t.reason = (t.pcpus.count() > current.count()   ? "grow"
                  : t.pcpus.count() < current.count() ? "shrink"
                                                      : "keep") +
                 std::string(": demand ") + std::to_string(smoothed[i]).substr(0, 5) + " share " +
                 std::to_string(shares[i]).substr(0, 5);
      if (in.params.memory.enabled) memoryTargets(in, v, t);
      plan.targets[u] = std::move(t);
      ++i;
    }
    return plan;
  }

 private:
  struct VmState {
    bool init = false;
    double smoothed = 0;
    std::int64_t lastChangeMs = 0;
  };

  // Memory per host node: grow under pressure or when little is free, shrink when much is free;
  // growth goes to the nodes where the VM's CPUs are (followMemory), see docs/policy.md.
  static void memoryTargets(const PolicyInput& in, const VmEntry& v, VmTarget& t) {
    auto rit = in.reports.find(v.spec.uuid);
    if (rit == in.reports.end() || v.spec.virtioMem.empty()) return;
    const auto& r = rit->second;
    const auto& mp = in.params.memory;
    const auto& host = in.ledger.host();
    std::map<unsigned, unsigned> cpusOnNode;
    for (unsigned p : t.pcpus.ids()) cpusOnNode[static_cast<unsigned>(host.nodeOfPcpu(p))]++;
    std::map<unsigned, std::uint64_t> target;
    std::uint64_t growElsewhere = 0;
    for (const auto& d : v.spec.virtioMem) {
      if (target.count(d.hostNode)) continue;
      std::uint64_t req = 0;
      if (auto it = v.memory.find(d.hostNode); it != v.memory.end()) req = it->second.requestedBytes;
      target[d.hostNode] = req;
      auto mit = r.memByHostNode.find(d.hostNode);
      if (mit == r.memByHostNode.end() || mit->second.totalBytes == 0) continue;
      const auto& m = mit->second;
      const double total = static_cast<double>(m.totalBytes);
      const double freeB = static_cast<double>(std::max(m.availableBytes, m.freeBytes));
      const double ff = freeB / total;
      if (r.memPressureSome >= mp.growPressure || ff < mp.growFreeFraction) {
        if (in.params.placement.followMemory && cpusOnNode[d.hostNode] == 0 && !cpusOnNode.empty()) {
          growElsewhere += mp.stepBytes;  // this node has none of its CPUs: grow where they are
        } else {
          target[d.hostNode] = req + mp.stepBytes;
        }
      } else if (ff > mp.shrinkFreeFraction && r.memPressureSome < mp.growPressure / 2) {
        const double mid = 0.5 * (mp.shrinkFreeFraction + mp.growFreeFraction);
        auto give = static_cast<std::uint64_t>(std::max(0.0, freeB - mid * total));
        give = std::min<std::uint64_t>({give, mp.stepBytes, req});
        target[d.hostNode] = req - give;
      }
    }
    if (growElsewhere > 0) {
      // The node with most of its CPUs that still has device room.
      unsigned best = 0;
      unsigned bestCpus = 0;
      bool found = false;
      for (const auto& [node, cnt] : cpusOnNode)
        if (v.spec.virtioMemOnNode(node) && target[node] < v.spec.virtioMemMaxOnNode(node) && cnt > bestCpus) {
          best = node;
          bestCpus = cnt;
          found = true;
        }
      if (found) target[best] += growElsewhere;
    }
    for (auto& [node, bytes] : target) {
      const auto* d = v.spec.virtioMemOnNode(node);
      bytes = std::min(bytes, v.spec.virtioMemMaxOnNode(node));
      bytes -= bytes % d->blockBytes;
    }
    t.memRequestedBytes = std::move(target);
  }

  std::map<VmId, VmState> state_;
};

}  // namespace

std::vector<std::string> policyNames() { return {"demand", "static"}; }

Result<std::unique_ptr<Policy>> makePolicy(std::string_view name) {
  if (name == "demand") return std::unique_ptr<Policy>(std::make_unique<DemandPolicy>());
  if (name == "static") return std::unique_ptr<Policy>(std::make_unique<StaticPolicy>());
  std::string list;
  for (const auto& n : policyNames()) list += (list.empty() ? "" : ", ") + n;
  return Error(Errc::kInvalidArgument, "unknown policy '" + std::string(name) + "' (known: " + list + ")");
}

}  // namespace vnuma::broker
