#include "guest-agent/sys/CgroupLayout.hpp"

#include <sstream>
#include <vector>

#include "guest-agent/sys/Fs.hpp"

namespace vnuma::agent {

namespace {

// mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (std::size_t k = 1; k <= 3; ++k) {
        const char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool hasOption(const std::string& opts, const std::string& name) {
  std::stringstream ss(opts);
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (tok == name) return true;
  return false;
}

}  // namespace

Result<CgroupLayout> CgroupLayout::discover(const std::string& fsRoot) {
  const std::string path = joinPath(fsRoot, "proc/self/mountinfo");
  auto text = readFile(path);
  if (!text) return std::move(text).error().context("discovering cgroup mounts");
  std::string v1Cpuset, v1Cpu, unified;
  std::istringstream in(text.value());
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    std::string tok;
    while (ls >> tok) f.push_back(tok);
    std::size_t sep = 0;
    for (std::size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") {
        sep = i;
        break;
      }
    if (sep == 0 || sep + 2 >= f.size()) continue;  // not a well-formed line: ignore it
    const std::string& fstype = f[sep + 1];
    const std::string mountPoint = joinPath(fsRoot, unescape(f[4]));
    const std::string superOpts = sep + 3 < f.size() ? f[sep + 3] : "";
    if (fstype == "cgroup2") {
      if (unified.empty()) unified = mountPoint;
    } else if (fstype == "cgroup") {
      if (hasOption(superOpts, "cpuset") && v1Cpuset.empty()) v1Cpuset = mountPoint;
      if (hasOption(superOpts, "cpu") && v1Cpu.empty()) v1Cpu = mountPoint;
    }
  }
  CgroupLayout layout;
  layout.unifiedMount = unified;
  if (!v1Cpuset.empty()) {
    layout.version = CgroupVersion::kV1;
    layout.mode = unified.empty() ? "v1" : "hybrid";
    layout.cpusetMount = v1Cpuset;
    layout.cpuMount = v1Cpu;
    return layout;
  }
  if (!unified.empty()) {
    auto controllers = readTrimmed(joinPath(unified, "cgroup.controllers"));
    const std::string list = controllers ? " " + controllers.value() + " " : "";
    if (list.find(" cpuset ") != std::string::npos) {
      layout.version = CgroupVersion::kV2;
      layout.mode = "v2";
      layout.cpusetMount = unified;
      layout.cpuMount = list.find(" cpu ") != std::string::npos ? unified : "";
      return layout;
    }
    return Error(Errc::kUnavailable,
                 "the cgroup2 hierarchy at " + unified +
                     " does not offer the cpuset controller (cgroup.controllers: '" +
                     (controllers ? controllers.value() : "unreadable") + "')");
  }
  return Error(
      Errc::kUnavailable,
      "no cgroup hierarchy with the cpuset controller is mounted (looked in " + path + ")");
}

}  // namespace vnuma::agent
