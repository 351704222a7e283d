#include "guest-agent/sys/CgroupCpuMechanism.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sstream>

#include "guest-agent/sys/Fs.hpp"
#include "guest-agent/sys/Proc.hpp"

namespace vnuma::agent {

namespace {

constexpr std::size_t kMaxKthreadCache = 4096;

Result<CpuSet> readCpuList(const std::string& path) {
  auto text = readTrimmed(path);
  if (!text) return std::move(text).error();
  auto set = CpuSet::parseList(text.value());
  if (!set) return std::move(set).error().context("parsing " + path);
  return set;
}

bool hasToken(const std::string& text, const std::string& token) {
  std::istringstream in(text);
  std::string t;
  while (in >> t)
    if (t == token) return true;
  return false;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

bool taskGone(const Error& e) { return e.code() == Errc::kNotFound || e.errnum() == ESRCH; }

}  // namespace

CgroupCpuMechanism::CgroupCpuMechanism(CgroupLayout layout, CgroupMechanismOptions opts,
                                       CgroupWriter& writer, Logger log)
    : layout_(std::move(layout)), opts_(std::move(opts)), writer_(writer), log_(std::move(log)) {
  procRoot_ = joinPath(opts_.fsRoot, "proc");
  cpusetRoot_ = joinPath(layout_.cpusetMount, opts_.rootPath);
  if (!layout_.cpuMount.empty()) cpuRoot_ = joinPath(layout_.cpuMount, opts_.rootPath);
}

const char* CgroupCpuMechanism::effectiveFile() const {
  return v2() ? "cpuset.cpus.effective" : "cpuset.effective_cpus";
}

std::string CgroupCpuMechanism::rel(const std::string& dir) const {
  if (dir.size() <= cpusetRoot_.size()) return "cgroup:/";
  return "cgroup:" + dir.substr(cpusetRoot_.size());
}

Result<CpuSet> CgroupCpuMechanism::eligible() const {
  auto online = readCpuList(joinPath(opts_.fsRoot, "sys/devices/system/cpu/online"));
  if (!online) return std::move(online).error().context("reading online CPUs");
  // The agent's root may itself be restricted (a test subtree, a container): CPUs outside it
  // cannot be granted to its children.
  auto rootEff = readCpuList(joinPath(cpusetRoot_, effectiveFile()));
  if (rootEff && !rootEff->empty()) return online.value() & rootEff.value();
  return online;
}

Result<std::vector<std::string>> CgroupCpuMechanism::managedDirs(bool withDescendants) const {
  std::vector<std::string> out;
  std::vector<std::string> stack;
  auto top = listDir(cpusetRoot_, true);
  if (!top) return std::move(top).error().context("listing top-level cgroups");
  for (auto it = top->rbegin(); it != top->rend(); ++it)
    stack.push_back(joinPath(cpusetRoot_, *it));
  while (!stack.empty()) {
    std::string dir = stack.back();
    stack.pop_back();
    out.push_back(dir);
    if (!withDescendants) continue;
    auto kids = listDir(dir, true);
    if (!kids) {
      if (kids.error().code() == Errc::kNotFound) continue;  // removed meanwhile
      return std::move(kids).error();
    }
    for (auto it = kids->rbegin(); it != kids->rend(); ++it) stack.push_back(joinPath(dir, *it));
  }
  return out;
}

Result<std::vector<std::string>> CgroupCpuMechanism::cpuTopLevel() const {
  if (cpuRoot_.empty()) return std::vector<std::string>{};
  auto names = listDir(cpuRoot_, true);
  if (!names)
    return std::move(names).error().context("listing top-level cgroups of the cpu hierarchy");
  std::vector<std::string> out;
  for (const auto& n : names.value()) out.push_back(joinPath(cpuRoot_, n));
  return out;
}

Result<CgroupCpuMechanism::Snapshot> CgroupCpuMechanism::snapshot() const {
  Snapshot snap;
  auto dirs = managedDirs(!v2());
  if (!dirs) return std::move(dirs).error();
  for (const auto& d : dirs.value()) {
    auto cur = readTrimmed(joinPath(d, "cpuset.cpus"));
    if (!cur) {
      // v2 before "+cpuset" reached the root's subtree_control: no file, nothing to restore.
      if (cur.error().code() == Errc::kNotFound) continue;
      return std::move(cur).error().context("saving the current state");
    }
    snap.cpus.emplace_back(d, cur.value());
  }
  auto cpuDirs = cpuTopLevel();
  if (!cpuDirs) return std::move(cpuDirs).error();
  for (const auto& d : cpuDirs.value()) {
    for (const char* f : v2() ? std::vector<const char*>{"cpu.max"}
                              : std::vector<const char*>{"cpu.cfs_period_us", "cpu.cfs_quota_us"}) {
      auto cur = readTrimmed(joinPath(d, f));
      if (cur) snap.quota.emplace_back(joinPath(d, f), cur.value());
    }
  }
  return snap;
}

Result<void> CgroupCpuMechanism::ensureManaged(const CpuSet& target, bool needCpu) {
  const std::string managed = joinPath(cpusetRoot_, opts_.managedName);
  if (!pathExists(managed)) {
    CgroupValues values;
    if (!v2()) {
      auto mems = readTrimmed(joinPath(cpusetRoot_, "cpuset.mems"));
      if (!mems || mems->empty())
        mems = readTrimmed(joinPath(cpusetRoot_, "cpuset.effective_mems"));
      if (!mems) return std::move(mems).error().context("reading the root's memory nodes");
      values = {{"cpuset.cpus", target.toList()}, {"cpuset.mems", mems.value()}};
    }
    VNUMA_TRY_VOID(writer_.create(managed, "cpuset", values));
    log_->info("created managed cgroup dir={}", managed);
  }
  if (!v2() && !cpuRoot_.empty() && cpuRoot_ != cpusetRoot_) {
    const std::string cpuManaged = joinPath(cpuRoot_, opts_.managedName);
    if (!pathExists(cpuManaged)) VNUMA_TRY_VOID(writer_.create(cpuManaged, "cpu", {}));
  }
  (void)needCpu;
  return okResult();
}

Result<void> CgroupCpuMechanism::enableControllers(bool needCpu) {
  if (!v2()) return okResult();
  const std::string file = joinPath(cpusetRoot_, "cgroup.subtree_control");
  auto cur = readTrimmed(file);
  if (!cur) return std::move(cur).error();
  if (!hasToken(cur.value(), "cpuset"))
    VNUMA_TRY_VOID(writer_.setValue(cpusetRoot_, "", "cgroup.subtree_control", "+cpuset"));
  if (needCpu && !cpuRoot_.empty() && !hasToken(cur.value(), "cpu"))
    VNUMA_TRY_VOID(writer_.setValue(cpusetRoot_, "", "cgroup.subtree_control", "+cpu"));
  return okResult();
}

Result<unsigned> CgroupCpuMechanism::moveRootTasksIn(const std::string& root,
                                                     const std::string& controller,
                                                     std::vector<std::string>* failures) {
  const std::string procsFile = joinPath(root, "cgroup.procs");
  auto text = readFile(procsFile);
  if (!text) return std::move(text).error();
  auto pids = parsePidList(text.value(), procsFile);
  if (!pids) return std::move(pids).error();
  if (kthreads_.size() > kMaxKthreadCache) kthreads_.clear();
  const std::string managed = joinPath(root, opts_.managedName);
  unsigned moved = 0;
  for (pid_t pid : pids.value()) {
    if (kthreads_.count(pid) != 0) continue;
    auto flags = taskFlags(procRoot_, pid);
    if (!flags) continue;  // exited, or not visible in this fs root: nothing to move
    if ((flags.value() & kPfKthread) != 0) {
      kthreads_.insert(pid);
      continue;
    }
    const std::vector<pid_t> tids = v2() ? std::vector<pid_t>{pid} : threadsOf(procRoot_, pid);
    bool movedOne = false;
    for (pid_t tid : tids) {
      auto r = writer_.attach(managed, controller, tid, v2());
      if (r) {
        movedOne = true;
      } else if (!taskGone(r.error())) {
        failures->push_back("task " + std::to_string(tid) + ": " + r.error().describe());
      }
    }
    if (movedOne) ++moved;
  }
  return moved;
}

Result<unsigned> CgroupCpuMechanism::moveRootTasks(std::vector<std::string>* failures) {
  auto moved = moveRootTasksIn(cpusetRoot_, "cpuset", failures);
  if (!moved) return moved;
  if (!v2() && !cpuRoot_.empty() && cpuRoot_ != cpusetRoot_) {
    auto more = moveRootTasksIn(cpuRoot_, "cpu", failures);
    if (!more) return more;
  }
  return moved;
}

Result<void> CgroupCpuMechanism::writeCpusets(
    const std::vector<std::pair<std::string, CpuSet>>& desired) {
  std::vector<CpuSet> cur(desired.size());
  for (std::size_t i = 0; i < desired.size(); ++i) {
    auto c = readCpuList(joinPath(desired[i].first, "cpuset.cpus"));
    if (!c) return std::move(c).error();
    cur[i] = c.value();
  }
  if (!v2()) {
    // v1 requires every child to stay within its parent: grow top-down first...
    for (std::size_t i = 0; i < desired.size(); ++i) {
      if (desired[i].second.isSubsetOf(cur[i])) continue;
      const CpuSet grown = cur[i] | desired[i].second;
      VNUMA_TRY_VOID(writer_.setValue(desired[i].first, "cpuset", "cpuset.cpus", grown.toList()));
      cur[i] = grown;
    }
  }
  // ...then shrink bottom-up (v2 accepts any order).
  for (std::size_t k = desired.size(); k-- > 0;) {
    if (cur[k] == desired[k].second) continue;
    VNUMA_TRY_VOID(
        writer_.setValue(desired[k].first, "cpuset", "cpuset.cpus", desired[k].second.toList()));
  }
  return okResult();
}

Result<void> CgroupCpuMechanism::writeQuota(const CpuQuota& quota,
                                            std::vector<std::string>* changed) {
  if (quota.limited() && cpuRoot_.empty())
    return Error(Errc::kUnavailable,
                 "the grant has a CPU quota but no cgroup hierarchy offers the cpu controller");
  auto dirs = cpuTopLevel();
  if (!dirs) return std::move(dirs).error();
  const std::string period = std::to_string(quota.periodUs == 0 ? 100000u : quota.periodUs);
  for (const auto& d : dirs.value()) {
    if (v2()) {
      auto cur = readTrimmed(joinPath(d, "cpu.max"));
      if (!cur) {
        if (!quota.limited()) continue;  // cpu controller not enabled here and nothing to limit
        return std::move(cur).error();
      }
      const std::string want =
          quota.limited() ? std::to_string(quota.quotaUs) + " " + period : "max " + period;
      if (cur.value() == want || (!quota.limited() && cur->rfind("max", 0) == 0)) continue;
      VNUMA_TRY_VOID(writer_.setValue(d, "cpu", "cpu.max", want));
      changed->push_back(rel(d) + " cpu.max " + cur.value() + " -> " + want);
    } else {
      auto curQuota = readTrimmed(joinPath(d, "cpu.cfs_quota_us"));
      auto curPeriod = readTrimmed(joinPath(d, "cpu.cfs_period_us"));
      if (!curQuota || !curPeriod) {
        if (!quota.limited()) continue;
        return !curQuota ? std::move(curQuota).error() : std::move(curPeriod).error();
      }
      if (!quota.limited()) {
        if (curQuota.value() == "-1") continue;
        VNUMA_TRY_VOID(writer_.setValue(d, "cpu", "cpu.cfs_quota_us", "-1"));
        changed->push_back(d + " cpu.cfs_quota_us " + curQuota.value() + " -> -1");
        continue;
      }
      const std::string want = std::to_string(quota.quotaUs);
      if (curQuota.value() == want && curPeriod.value() == period) continue;
      // Lift the old quota first so the new period is never checked against it.
      VNUMA_TRY_VOID(writer_.setValue(d, "cpu", "cpu.cfs_quota_us", "-1"));
      VNUMA_TRY_VOID(writer_.setValue(d, "cpu", "cpu.cfs_period_us", period));
      VNUMA_TRY_VOID(writer_.setValue(d, "cpu", "cpu.cfs_quota_us", want));
      changed->push_back(d + " cfs quota " + curQuota.value() + "/" + curPeriod.value() + " -> " +
                         want + "/" + period);
    }
  }
  return okResult();
}

Result<void> CgroupCpuMechanism::verify(const CpuSet& target) const {
  auto top = managedDirs(false);
  if (!top) return std::move(top).error();
  for (const auto& d : top.value()) {
    auto eff = readCpuList(joinPath(d, effectiveFile()));
    if (!eff) eff = readCpuList(joinPath(d, "cpuset.cpus"));
    if (!eff) return std::move(eff).error().context("verifying");
    if (!(eff.value() == target))
      return Error(Errc::kSystem, "verification failed: " + rel(d) + " has effective CPUs '" +
                                      eff->toList() + "', expected '" + target.toList() + "'");
  }
  if (!v2()) {
    auto all = managedDirs(true);
    if (!all) return std::move(all).error();
    for (const auto& d : all.value()) {
      auto eff = readCpuList(joinPath(d, effectiveFile()));
      if (eff && !eff->isSubsetOf(target))
        return Error(Errc::kSystem, "verification failed: " + rel(d) + " has effective CPUs '" +
                                        eff->toList() + "' outside '" + target.toList() + "'");
    }
  }
  const std::string procsFile = joinPath(cpusetRoot_, "cgroup.procs");
  auto text = readFile(procsFile);
  if (!text) return std::move(text).error();
  auto pids = parsePidList(text.value(), procsFile);
  if (!pids) return std::move(pids).error();
  for (pid_t pid : pids.value()) {
    if (kthreads_.count(pid) != 0) continue;
    auto flags = taskFlags(procRoot_, pid);
    if (flags && (flags.value() & kPfKthread) == 0)
      return Error(Errc::kSystem, "verification failed: task " + std::to_string(pid) +
                                      " is still in the root cgroup " + cpusetRoot_);
  }
  return okResult();
}

std::string CgroupCpuMechanism::restore(const Snapshot& snap) {
  std::vector<std::string> problems;
  std::vector<std::pair<std::string, CpuSet>> desired;
  for (const auto& [dir, text] : snap.cpus) {
    auto set = CpuSet::parseList(text);
    if (set && pathExists(dir)) desired.emplace_back(dir, set.value());
  }
  if (auto r = writeCpusets(desired); !r) problems.push_back(r.error().describe());
  for (const auto& [path, value] : snap.quota) {
    const auto slash = path.rfind('/');
    const std::string dir = path.substr(0, slash), file = path.substr(slash + 1);
    if (file == "cpu.cfs_period_us") {
      // The quota must be lifted before an old period can be put back.
      (void)writer_.setValue(dir, "cpu", "cpu.cfs_quota_us", "-1");
    }
    auto cur = readTrimmed(path);
    if (cur && cur.value() == value) continue;
    if (auto r = writer_.setValue(dir, "cpu", file, value); !r)
      problems.push_back(r.error().describe());
  }
  return join(problems, "; ");
}

Result<std::vector<ItemOutcome>> CgroupCpuMechanism::apply(const CpuSet& target,
                                                           const CpuQuota& quota) {
  if (target.empty()) return Error(Errc::kInvalidArgument, "empty vCPU set");
  auto snap = snapshot();
  if (!snap) return std::move(snap).error();
  auto fail = [&](Error e) -> Error {
    const std::string problems = restore(snap.value());
    if (problems.empty()) return e;
    log_->error("restoring the previous cgroup state failed: {}", problems);
    return Error(e.code(),
                 e.describe() + " (restoring the previous state also failed: " + problems + ")", 0);
  };
  std::vector<ItemOutcome> items;
  std::vector<std::string> failures;
  unsigned moved = 0;
  if (auto r = ensureManaged(target, quota.limited()); !r) return fail(std::move(r).error());
  if (v2()) {
    auto m = moveRootTasks(&failures);
    if (!m) return fail(std::move(m).error());
    moved = m.value();
    if (auto r = enableControllers(quota.limited()); !r) return fail(std::move(r).error());
  }
  auto dirs = managedDirs(!v2());
  if (!dirs) return fail(std::move(dirs).error());
  std::vector<std::pair<std::string, CpuSet>> desired;
  for (const auto& d : dirs.value()) desired.emplace_back(d, target);
  if (auto r = writeCpusets(desired); !r) return fail(std::move(r).error());
  if (!v2()) {
    auto m = moveRootTasks(&failures);
    if (!m) return fail(std::move(m).error());
    moved = m.value();
  }
  if (!failures.empty())
    return fail(
        Error(Errc::kSystem, "cannot move tasks out of the root cgroup: " + join(failures, "; ")));
  std::vector<std::string> quotaChanges;
  if (auto r = writeQuota(quota, &quotaChanges); !r) return fail(std::move(r).error());
  if (auto r = verify(target); !r) return fail(std::move(r).error());
  auto top = managedDirs(false);
  if (top)
    for (const auto& d : top.value())
      items.push_back({rel(d), true, "cpus=" + target.toList(), false});
  if (moved > 0)
    items.push_back({"root-tasks", true,
                     "moved " + std::to_string(moved) + " into /" + opts_.managedName, false});
  if (!quotaChanges.empty() || quota.limited())
    items.push_back({"quota", true,
                     quota.limited()
                         ? std::to_string(quota.quotaUs) + "/" + std::to_string(quota.periodUs)
                         : std::string("unlimited"),
                     false});
  return items;
}

Result<CpuSet> CgroupCpuMechanism::applied() const {
  auto top = managedDirs(false);
  if (!top) return std::move(top).error();
  CpuSet all;
  for (const auto& d : top.value()) {
    auto eff = readCpuList(joinPath(d, effectiveFile()));
    if (!eff) eff = readCpuList(joinPath(d, "cpuset.cpus"));
    if (!eff) return std::move(eff).error();
    all |= eff.value();
  }
  if (top->empty()) return readCpuList(joinPath(cpusetRoot_, effectiveFile()));
  return all;
}

Result<std::vector<std::string>> CgroupCpuMechanism::repair(const CpuSet& target,
                                                            const CpuQuota& quota) {
  std::vector<std::string> lines;
  if (target.empty()) return lines;
  const std::string managed = joinPath(cpusetRoot_, opts_.managedName);
  if (!pathExists(managed)) {
    VNUMA_TRY_VOID(ensureManaged(target, quota.limited()));
    lines.push_back("created " + rel(managed));
  }
  std::vector<std::string> failures;
  unsigned moved = 0;
  if (v2()) {
    auto m = moveRootTasks(&failures);
    if (!m) return std::move(m).error();
    moved = m.value();
    auto sub = readTrimmed(joinPath(cpusetRoot_, "cgroup.subtree_control"));
    if (sub && !hasToken(sub.value(), "cpuset"))
      lines.push_back("re-enabled cpuset in cgroup.subtree_control");
    VNUMA_TRY_VOID(enableControllers(quota.limited()));
  }
  auto dirs = managedDirs(!v2());
  if (!dirs) return std::move(dirs).error();
  std::vector<std::pair<std::string, CpuSet>> desired;
  for (const auto& d : dirs.value()) {
    desired.emplace_back(d, target);
    auto cur = readCpuList(joinPath(d, "cpuset.cpus"));
    if (!cur) {
      if (cur.error().code() == Errc::kNotFound) continue;
      return std::move(cur).error();
    }
    if (!(cur.value() == target))
      lines.push_back(rel(d) + " cpus '" + cur->toList() + "' -> '" + target.toList() + "'");
  }
  if (!lines.empty()) VNUMA_TRY_VOID(writeCpusets(desired));
  if (!v2()) {
    auto m = moveRootTasks(&failures);
    if (!m) return std::move(m).error();
    moved = m.value();
  }
  if (moved > 0)
    lines.push_back("moved " + std::to_string(moved) + " tasks from the root cgroup into " +
                    rel(managed));
  if (!failures.empty())
    return Error(Errc::kSystem,
                 "cannot move tasks out of the root cgroup: " + join(failures, "; "));
  VNUMA_TRY_VOID(writeQuota(quota, &lines));
  return lines;
}

std::vector<std::string> CgroupCpuMechanism::plan(const CpuSet& target,
                                                  const CpuQuota& quota) const {
  std::vector<std::string> out;
  out.push_back("cgroup " + layout_.mode + " root " + cpusetRoot_ +
                (cpuRoot_.empty() ? " (no cpu controller)" : " cpu root " + cpuRoot_));
  const std::string managed = joinPath(cpusetRoot_, opts_.managedName);
  if (!pathExists(managed)) out.push_back("create " + managed);
  auto dirs = managedDirs(!v2());
  if (dirs) {
    for (const auto& d : dirs.value()) {
      auto cur = readTrimmed(joinPath(d, "cpuset.cpus"));
      const std::string now = cur ? cur.value() : "unreadable";
      out.push_back("write cpuset.cpus=" + target.toList() + " to " + d + " (now '" + now + "')");
    }
  } else {
    out.push_back("cannot list cgroups: " + dirs.error().describe());
  }
  auto text = readFile(joinPath(cpusetRoot_, "cgroup.procs"));
  if (text) {
    auto pids = parsePidList(text.value(), "cgroup.procs");
    unsigned user = 0;
    if (pids)
      for (pid_t p : pids.value()) {
        auto f = taskFlags(procRoot_, p);
        if (f && (f.value() & kPfKthread) == 0) ++user;
      }
    out.push_back("move " + std::to_string(user) + " user tasks from the root cgroup into " +
                  managed);
  }
  out.push_back(quota.limited() ? "set quota " + std::to_string(quota.quotaUs) + "/" +
                                      std::to_string(quota.periodUs) + " on each top-level cgroup"
                                : std::string("no quota (remove any quota set before)"));
  return out;
}

}  // namespace vnuma::agent
