#include "guest-agent/testutil/SimulatedCgroupV2.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <sstream>

#include "guest-agent/sys/Fs.hpp"

namespace vnuma::agent::test {

namespace {
void put(const std::string& path, const std::string& v) { TempDir::writeAbsolute(path, v); }
std::string get(const std::string& path) { return readTrimmed(path).valueOr(""); }
bool has(const std::string& text, const std::string& tok) {
  std::istringstream in(text);
  std::string t;
  while (in >> t)
    if (t == tok) return true;
  return false;
}
}  // namespace

void makeV2Fixture(const TempDir& dir, const std::string& cpus) {
  dir.write("proc/self/mountinfo",
            "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
            "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 "
            "rw,nsdelegate\n");
  dir.write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
  dir.write("sys/fs/cgroup/cgroup.subtree_control", "\n");
  dir.write("sys/fs/cgroup/cpuset.cpus.effective", cpus + "\n");
  dir.write("sys/fs/cgroup/cgroup.procs", "1\n2\n50\n");
  dir.write("sys/devices/system/cpu/online", cpus + "\n");
  // comm with a space and a ')' to exercise the stat parser; flags 0x400100 (user), 0x208040
  // (kthread)
  dir.write("proc/1/stat", "1 (init) S 0 1 1 0 -1 4194560 0 0\n");
  dir.write("proc/2/stat", "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0\n");
  dir.write("proc/50/stat", "50 (sh (x) y) S 1 50 50 0 -1 4194560 0 0\n");
}

void addV2Group(const TempDir& dir, const std::string& rel, const std::string& pids) {
  const std::string base = "sys/fs/cgroup/" + rel + "/";
  const auto slash = rel.rfind('/');
  const std::string parent =
      slash == std::string::npos ? "sys/fs/cgroup" : "sys/fs/cgroup/" + rel.substr(0, slash);
  const std::string parentEff = dir.read(parent + "/cpuset.cpus.effective");
  dir.write(base + "cgroup.procs", pids);
  dir.write(base + "cgroup.subtree_control", "\n");
  if (has(dir.read(parent + "/cgroup.subtree_control"), "cpuset")) {
    dir.write(base + "cpuset.cpus", "\n");
    dir.write(base + "cpuset.cpus.effective", parentEff);
  }
}

Result<void> SimulatedCgroupV2Writer::create(const std::string& dir, const std::string&,
                                             const CgroupValues& values) {
  ++writes;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Error::fromErrno("mkdir " + dir);
  put(joinPath(dir, "cgroup.procs"), "");
  put(joinPath(dir, "cgroup.subtree_control"), "");
  const std::string parent = dir.substr(0, dir.rfind('/'));
  const std::string sub = get(joinPath(parent, "cgroup.subtree_control"));
  if (has(sub, "cpuset")) {
    put(joinPath(dir, "cpuset.cpus"), "");
    recompute(dir);
  }
  if (has(sub, "cpu")) put(joinPath(dir, "cpu.max"), "max 100000");
  for (const auto& [f, v] : values) VNUMA_TRY_VOID(setValue(dir, "", f, v));
  return okResult();
}

void SimulatedCgroupV2Writer::recompute(const std::string& dir) {
  if (pathExists(joinPath(dir, "cpuset.cpus"))) {
    const std::string parent = dir.substr(0, dir.rfind('/'));
    auto parentEff = CpuSet::parseList(get(joinPath(parent, "cpuset.cpus.effective"))).valueOr({});
    auto own = CpuSet::parseList(get(joinPath(dir, "cpuset.cpus"))).valueOr({});
    CpuSet eff = own & parentEff;
    if (own.empty() || eff.empty()) eff = parentEff;
    put(joinPath(dir, "cpuset.cpus.effective"), eff.toList());
  }
  auto kids = listDir(dir, true);
  if (kids)
    for (const auto& k : kids.value()) recompute(joinPath(dir, k));
}

Result<void> SimulatedCgroupV2Writer::setValue(const std::string& dir, const std::string&,
                                               const std::string& file, const std::string& value) {
  ++writes;
  const std::string path = joinPath(dir, file);
  if (!pathExists(path)) return Error(Errc::kNotFound, "cannot open for writing " + path, ENOENT);
  if (ignoreWrites.count(path) != 0) return okResult();
  if (file == "cgroup.subtree_control") {
    if (dir != mount_ && !get(joinPath(dir, "cgroup.procs")).empty())
      return Error(Errc::kSystem, "cannot write '" + value + "' to " + path, EBUSY);
    const std::string ctrl = value.substr(1);
    std::string cur = get(path);
    if (!has(cur, ctrl)) cur += (cur.empty() ? "" : " ") + ctrl;
    put(path, cur);
    auto kids = listDir(dir, true);
    if (kids)
      for (const auto& k : kids.value()) {
        const std::string kd = joinPath(dir, k);
        if (ctrl == "cpuset" && !pathExists(joinPath(kd, "cpuset.cpus")))
          put(joinPath(kd, "cpuset.cpus"), "");
        if (ctrl == "cpu" && !pathExists(joinPath(kd, "cpu.max")))
          put(joinPath(kd, "cpu.max"), "max 100000");
      }
    recompute(dir);
    return okResult();
  }
  if (file == "cpuset.cpus") {
    auto set = CpuSet::parseList(value);
    if (!set) return Error(Errc::kSystem, "cannot write '" + value + "' to " + path, EINVAL);
    put(path, set->toList());
    recompute(dir);
    return okResult();
  }
  put(path, value);
  return okResult();
}

Result<void> SimulatedCgroupV2Writer::attach(const std::string& dir, const std::string&, pid_t tid,
                                             bool) {
  ++writes;
  const std::string line = std::to_string(tid);
  // Remove from wherever it is (the root or any child), then append here.
  std::vector<std::string> stack{mount_};
  while (!stack.empty()) {
    const std::string d = stack.back();
    stack.pop_back();
    std::istringstream in(get(joinPath(d, "cgroup.procs")));
    std::string out, l;
    bool found = false;
    while (std::getline(in, l)) {
      if (l == line) {
        found = true;
        continue;
      }
      if (!l.empty()) out += l + "\n";
    }
    if (found) put(joinPath(d, "cgroup.procs"), out);
    auto kids = listDir(d, true);
    if (kids)
      for (const auto& k : kids.value()) stack.push_back(joinPath(d, k));
  }
  std::string cur = readFile(joinPath(dir, "cgroup.procs")).valueOr("");
  put(joinPath(dir, "cgroup.procs"), cur + line + "\n");
  return okResult();
}

}  // namespace vnuma::agent::test
