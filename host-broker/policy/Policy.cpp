#include "host-broker/policy/Policy.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "host-broker/policy/FairShare.hpp"
#include "host-broker/policy/Placement.hpp"

namespace vnuma::broker {

namespace {

ShareInput limitsOf(const VmEntry& v, unsigned ceiling, double demand) {
  ShareInput s;
  s.floor = v.spec.floor;
  s.cap = std::clamp<double>(demand, s.floor, ceiling);
  s.weight = v.spec.weight;
  s.held = static_cast<unsigned>(v.grantTarget().count());
  return s;
}

// Each VM's pinned pCPUs, once per decision (see PlacementWant::pinned).
std::vector<CpuSet> pinnedSets(const std::map<VmId, VmEntry>& vms) {
  std::vector<CpuSet> out;
  out.reserve(vms.size());
  for (const auto& [u, v] : vms) out.push_back(v.pinned);
  return out;
}

// The plan skeleton both policies fill in: name, moves, and each VM's placed set.
Plan planOf(const std::string& policy, PlacementResult& placed) {
  Plan plan;
  plan.policy = policy;
  plan.moves = placed.revoked;
  for (auto& [u, set] : placed.targets) plan.targets[u].pcpus = std::move(set);
  return plan;
}

// static: weights only, demand is ignored (every VM wants its ceiling).
class StaticPolicy final : public Policy {
 public:
  std::string name() const override { return "static"; }
  Plan decide(const PolicyInput& in) override {
    const auto& vms = in.ledger.vms();
    const unsigned supply = static_cast<unsigned>(in.ledger.host().grantable().count());
    auto pinned = pinnedSets(vms);
    std::vector<ShareInput> inputs;
    std::size_t i = 0;
    for (const auto& [u, v] : vms)
      inputs.push_back(limitsOf(v, ceilingFor(v.spec, pinned[i++]), 1e9));
    auto shares = weightedMaxMinShares(supply, inputs);
    auto counts = roundShares(shares, inputs, supply);
    std::vector<PlacementWant> wants;
    i = 0;
    for (const auto& [u, v] : vms) {
      wants.push_back({u, counts[i], true, v.spec.weight, std::move(pinned[i])});
      ++i;
    }
    auto placed = place(in.ledger, wants, in.params.placement);
    Plan plan = planOf(name(), placed);
    i = 0;  // plan.targets and vms are both ordered by uuid
    for (auto& [u, t] : plan.targets) {
      t.share = t.demand = shares[i];
      t.reason = "static share " + std::to_string(counts[i++]);
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
    auto pinned = pinnedSets(vms);
    std::vector<double> smoothed, need, head;
    std::vector<unsigned> ceiling;
    double wanted = 0;
    for (const auto& [u, v] : vms) {
      ceiling.push_back(ceilingFor(v.spec, pinned[ceiling.size()]));
      const double current = static_cast<double>(v.grantTarget().count());
      auto rit = in.reports.find(u);
      const bool reported = rit != in.reports.end();
      double raw;
      if (reported) {
        const auto& r = rit->second;
        double busy = 0;
        for (const auto& [vcpu, b] : r.vcpuBusy)
          if (b >= dp.minBusyFraction) busy += std::clamp(b, 0.0, 1.0);
        const double g = std::max(1.0, current);
        const double beyond = std::max(0.0, static_cast<double>(r.runnable) - g);
        raw = busy + dp.runnableGain * beyond +
              dp.pressureGain * std::clamp(r.cpuPressureSome, 0.0, 100.0) * g;
      } else {
        raw = std::max<double>(current, v.spec.floor);  // no report yet: hold steady
      }
      auto [sit, fresh] = state_.try_emplace(u);
      auto& st = sit->second;
      if (fresh) st.lastChangeMs = in.nowMs - pp.cooldownMs;
      if (reported && st.fromReport) {
        const double a = raw > st.smoothed ? dp.growAlpha : dp.shrinkAlpha;
        st.smoothed += a * (raw - st.smoothed);
      } else {
        // A first report starts the average. Without a report (yet, or any more) the VM is taken
        // to want exactly what it holds, without headroom: with it, rounding up would grow it
        // every tick.
        st.smoothed = raw;
      }
      st.fromReport = reported;
      smoothed.push_back(st.smoothed);
      // What it needs now: the average, except after a drop larger than the hysteresis, which
      // counts at once. The pCPUs it no longer needs it keeps only while nobody else wants them
      // (the second round below): shrinking slowly must not leave pCPUs idle that others want.
      need.push_back(raw < st.smoothed - pp.hysteresisCpus ? raw : st.smoothed);
      head.push_back(reported ? 1.0 + dp.headroom : 1.0);
      wanted += limitsOf(v, ceiling.back(), need.back()).cap;
    }
    // Headroom only while there is room for it: under contention shares follow bare need, so no
    // VM holds spare pCPUs while another is short.
    const bool contended = wanted > supply + 1e-9;
    std::vector<ShareInput> inputs;
    std::size_t k = 0;
    for (const auto& [u, v] : vms)
      inputs.push_back(limitsOf(v, ceiling[k], need[k] * (contended ? 1.0 : head[k]))), ++k;
    auto shares = weightedMaxMinShares(supply, inputs);
    if (!contended) {
      // Second round: what the needs leave goes by the average (shrink slowly).
      std::vector<ShareInput> keep;
      k = 0;
      for (const auto& [u, v] : vms) {
        inputs[k].cap = std::max(inputs[k].cap, limitsOf(v, ceiling[k], smoothed[k] * head[k]).cap);
        keep.push_back({shares[k], std::max(shares[k], inputs[k].cap), inputs[k].weight});
        ++k;
      }
      shares = weightedMaxMinShares(supply, keep);
    }
    auto counts = roundShares(shares, inputs, supply);

    // Shrinks are voluntary (hysteresis, cooldown) unless other VMs' growth needs the pCPUs.
    long growth = 0, held = 0;
    k = 0;
    for (const auto& [u, v] : vms) {
      const long current = static_cast<long>(v.grantTarget().count());
      held += current;
      growth += std::max(0L, static_cast<long>(counts[k++]) - current);
    }
    const bool othersShort = growth > static_cast<long>(supply) - held;
    std::vector<PlacementWant> wants;
    std::size_t i = 0;
    for (const auto& [u, v] : vms) {
      const unsigned current = static_cast<unsigned>(v.grantTarget().count());
      unsigned c = counts[i];
      if (c < current && !othersShort) {
        // Voluntary shrink: keep up to hysteresis CPUs above the share.
        auto keepCount = static_cast<unsigned>(std::floor(shares[i] + pp.hysteresisCpus + 1e-9));
        c = std::min(current, std::max(c, keepCount));
      }
      const auto& st = state_[u];
      const bool cooled = in.nowMs - st.lastChangeMs >= pp.cooldownMs;
      wants.push_back({u, c, othersShort || cooled, shares[i], std::move(pinned[i])});
      ++i;
    }
    auto placed = place(in.ledger, wants, pp);

    Plan plan = planOf(name(), placed);
    i = 0;
    for (const auto& [u, v] : vms) {
      auto& t = plan.targets[u];
      t.demand = smoothed[i];
      t.share = shares[i];
      const auto current = v.grantTarget();
      if (!(t.pcpus == current)) state_[u].lastChangeMs = in.nowMs;
      t.reason = (t.pcpus.count() > current.count()   ? "grow"
                  : t.pcpus.count() < current.count() ? "shrink"
                                                      : "keep") +
                 std::string(": demand ") + std::to_string(smoothed[i]).substr(0, 5) + " share " +
                 std::to_string(shares[i]).substr(0, 5);
      if (in.params.memory.enabled) memoryTargets(in, v, state_[u], t);
      ++i;
    }
    return plan;
  }

 private:
  struct VmState {
    bool fromReport = false;  // `smoothed` comes from reports (else: what the VM held)
    double smoothed = 0;
    std::int64_t lastChangeMs = 0;
    std::map<unsigned, std::int64_t> memChangedMs;  // guest node -> when its target last changed
  };

  // Memory per guest node (one virtio-mem device each): grow a node that is low on free memory
  // (or, under memory pressure with no node low, the one with the least free), shrink a node
  // with much free; growth goes to host nodes where the VM's CPUs are (followMemory). Several
  // guest nodes may share a host node; the executor keeps each host node within its room.
  // A device is left alone while it moves (libvirt's current != requested) and for the
  // placement cooldown after its target changed: the guest's report lags the resize, and
  // acting on it made grow and shrink alternate every tick (seen on the e2e guests).
  static void memoryTargets(const PolicyInput& in, const VmEntry& v, VmState& st, VmTarget& t) {
    auto rit = in.reports.find(v.spec.uuid);
    if (rit == in.reports.end() || v.spec.virtioMem.empty()) return;
    const auto& r = rit->second;
    const auto& mp = in.params.memory;
    const auto& host = in.ledger.host();
    std::map<unsigned, unsigned> cpusOnNode;  // host node -> the VM's target pCPUs there
    for (unsigned p : t.pcpus.ids()) cpusOnNode[static_cast<unsigned>(host.nodeOfPcpu(p))]++;
    std::map<unsigned, std::uint64_t> target;  // guest node -> requested bytes
    std::vector<unsigned> grow;                // guest nodes asking for more
    std::optional<unsigned> tightest;          // guest node with the least free fraction
    double tightestFf = 2;
    for (const auto& d : v.spec.virtioMem) {
      std::uint64_t req = 0;
      if (auto it = v.memory.find(d.guestNode); it != v.memory.end())
        req = it->second.requestedBytes;
      target[d.guestNode] = req;
      auto mit = r.memByGuestNode.find(d.guestNode);
      if (mit == r.memByGuestNode.end() || mit->second.totalBytes == 0) continue;
      const auto& m = mit->second;
      const double total = static_cast<double>(m.totalBytes);
      const double freeB = static_cast<double>(std::max(m.availableBytes, m.freeBytes));
      const double ff = freeB / total;
      if (ff < tightestFf) {
        tightestFf = ff;
        tightest = d.guestNode;
      }
      if (ff < mp.growFreeFraction) {
        grow.push_back(d.guestNode);
      } else if (ff > mp.shrinkFreeFraction && r.memPressureSome < mp.growPressure / 2) {
        const double mid = 0.5 * (mp.shrinkFreeFraction + mp.growFreeFraction);
        auto give = static_cast<std::uint64_t>(std::max(0.0, freeB - mid * total));
        target[d.guestNode] = req - std::min<std::uint64_t>({give, mp.stepBytes, req});
      }
    }
    if (grow.empty() && tightest && r.memPressureSome >= mp.growPressure) grow.push_back(*tightest);
    for (unsigned g : grow) {
      const VirtioMemDevice* d = v.spec.virtioMemOfGuestNode(g);
      if (in.params.placement.followMemory && cpusOnNode[d->hostNode] == 0 && !cpusOnNode.empty()) {
        // This guest node's host node has none of the VM's CPUs: grow the device on the host node
        // with most of them that still has room.
        const VirtioMemDevice* best = nullptr;
        unsigned bestCpus = 0;
        for (const auto& o : v.spec.virtioMem)
          if (cpusOnNode[o.hostNode] > bestCpus && target[o.guestNode] < o.maxBytes) {
            best = &o;
            bestCpus = cpusOnNode[o.hostNode];
          }
        if (best) target[best->guestNode] += mp.stepBytes;
      } else {
        target[g] += mp.stepBytes;
      }
    }
    for (auto& [g, bytes] : target) {
      const VirtioMemDevice* d = v.spec.virtioMemOfGuestNode(g);
      bytes = std::min(bytes, d->maxBytes);
      bytes -= bytes % d->blockBytes;
      std::uint64_t req = 0, cur = 0;
      if (auto it = v.memory.find(g); it != v.memory.end()) {
        req = it->second.requestedBytes;
        cur = it->second.currentBytes;
      }
      if (bytes == req) continue;
      auto changed = st.memChangedMs.find(g);
      const bool cooling = changed != st.memChangedMs.end() &&
                           in.nowMs - changed->second < in.params.placement.cooldownMs;
      if (req != cur || cooling) {
        bytes = req;
        continue;
      }
      st.memChangedMs[g] = in.nowMs;
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
  return Error(Errc::kInvalidArgument,
               "unknown policy '" + std::string(name) + "' (known: " + list + ")");
}

}  // namespace vnuma::broker
