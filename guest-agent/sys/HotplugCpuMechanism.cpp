#include "guest-agent/sys/HotplugCpuMechanism.hpp"

#include <algorithm>
#include <charconv>

#include "guest-agent/sys/Fs.hpp"

namespace vnuma::agent {

HotplugCpuMechanism::HotplugCpuMechanism(std::string fsRoot, SysfsWriter& writer, Logger log)
    : cpuDir_(joinPath(fsRoot, "sys/devices/system/cpu")), writer_(writer), log_(std::move(log)) {}

std::string HotplugCpuMechanism::onlineFile(unsigned cpu) const {
  return joinPath(cpuDir_, "cpu" + std::to_string(cpu) + "/online");
}

Result<std::vector<HotplugCpuMechanism::CpuState>> HotplugCpuMechanism::states() const {
  auto names = listDir(cpuDir_, true);
  if (!names) return std::move(names).error();
  auto globalText = readTrimmed(joinPath(cpuDir_, "online"));
  CpuSet global;
  if (globalText) {
    auto g = CpuSet::parseList(globalText.value());
    if (g) global = g.value();
  }
  std::vector<CpuState> out;
  for (const auto& n : names.value()) {
    unsigned id = 0;
    if (n.size() <= 3 || n.compare(0, 3, "cpu") != 0) continue;
    auto [p, ec] = std::from_chars(n.data() + 3, n.data() + n.size(), id);
    if (ec != std::errc() || p != n.data() + n.size() || id > CpuSet::kMaxCpu) continue;
    CpuState s{id, global.contains(id), false};
    auto v = readTrimmed(onlineFile(id));
    if (v) {
      s.pluggable = true;
      s.online = v.value() == "1";
    }
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(),
            [](const CpuState& a, const CpuState& b) { return a.id < b.id; });
  return out;
}

Result<CpuSet> HotplugCpuMechanism::eligible() const {
  auto st = states();
  if (!st) return std::move(st).error();
  CpuSet out;
  for (const auto& s : st.value())
    if (s.online || s.pluggable) out.add(s.id);
  return out;
}

Result<CpuSet> HotplugCpuMechanism::applied() const {
  auto st = states();
  if (!st) return std::move(st).error();
  CpuSet out;
  for (const auto& s : st.value())
    if (s.online) out.add(s.id);
  return out;
}

Result<std::vector<ItemOutcome>> HotplugCpuMechanism::apply(const CpuSet& target,
                                                            const CpuQuota& quota) {
  if (target.empty()) return Error(Errc::kInvalidArgument, "empty vCPU set");
  auto st = states();
  if (!st) return std::move(st).error();
  std::vector<unsigned> up, down;
  for (const auto& s : st.value()) {
    const bool want = target.contains(s.id);
    if (want == s.online) continue;
    if (!s.pluggable)
      return Error(Errc::kInvalidArgument, "vCPU " + std::to_string(s.id) + " cannot be taken " +
                                               (want ? "online" : "offline") + " (no online file)");
    (want ? up : down).push_back(s.id);
  }
  std::vector<std::pair<unsigned, const char*>> done;  // for rollback
  auto rollback = [&](Error e) -> Error {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      if (auto r = writer_.write(onlineFile(it->first), it->second); !r)
        log_->error("hotplug rollback failed cpu={} error=\"{}\"", it->first, r.error().describe());
    }
    return e;
  };
  std::vector<ItemOutcome> items;
  for (unsigned c : up) {
    if (auto r = writer_.write(onlineFile(c), "1"); !r) return rollback(std::move(r).error());
    done.emplace_back(c, "0");
    items.push_back({"cpu" + std::to_string(c), true, "online", false});
  }
  for (unsigned c : down) {
    if (auto r = writer_.write(onlineFile(c), "0"); !r) return rollback(std::move(r).error());
    done.emplace_back(c, "1");
    items.push_back({"cpu" + std::to_string(c), true, "offline", false});
  }
  auto now = applied();
  if (!now) return rollback(std::move(now).error());
  if (!(now.value() == target))
    return rollback(Error(Errc::kSystem, "verification failed: online CPUs '" + now->toList() +
                                             "', expected '" + target.toList() + "'"));
  if (quota.limited())
    items.push_back({"quota", false, "the hotplug mechanism cannot apply a CPU quota", true});
  return items;
}

Result<std::vector<std::string>> HotplugCpuMechanism::repair(const CpuSet& target,
                                                             const CpuQuota& quota) {
  std::vector<std::string> lines;
  auto now = applied();
  if (!now) return std::move(now).error();
  if (target.empty() || now.value() == target) return lines;
  auto r = apply(target, quota);
  if (!r) return std::move(r).error();
  lines.push_back("online CPUs '" + now->toList() + "' -> '" + target.toList() + "'");
  return lines;
}

std::vector<std::string> HotplugCpuMechanism::plan(const CpuSet& target, const CpuQuota&) const {
  std::vector<std::string> out;
  auto st = states();
  if (!st) return {"cannot read CPU states: " + st.error().describe()};
  for (const auto& s : st.value()) {
    const bool want = target.contains(s.id);
    if (want == s.online) continue;
    out.push_back(std::string(want ? "online" : "offline") + " cpu" + std::to_string(s.id) +
                  (s.pluggable ? "" : " (impossible: no online file)"));
  }
  if (out.empty()) out.push_back("online CPUs already equal " + target.toList());
  return out;
}

}  // namespace vnuma::agent
