#include "host-broker/sys/HostCpuEnforcer.hpp"

#include <fstream>
#include <sstream>

namespace vnuma::sys {
namespace {

std::string joinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

bool readFile(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace

HostCpuEnforcer::HostCpuEnforcer(CgroupWriter& writer, EnforcerOptions opts)
    : writer_(writer), opts_(std::move(opts)) {}

Result<VcpuCgroup> HostCpuEnforcer::locate(const std::string& vmName, unsigned vcpu) const {
  if (vmName.empty() || vmName.find('/') != std::string::npos)
    return Error(Errc::kInvalidArgument, "bad VM name '" + vmName + "'");
  std::string pidFile = joinPath(joinPath(opts_.fsRoot, opts_.runDir), vmName + ".pid");
  std::string pidText;
  if (!readFile(pidFile, pidText))
    return Error(Errc::kNotFound,
                 "VM '" + vmName + "' has no QEMU pid file " + pidFile + " (not running?)");
  pidText = trim(pidText);
  if (pidText.empty() || pidText.find_first_not_of("0123456789") != std::string::npos)
    return Error(Errc::kInvalidArgument,
                 "QEMU pid file " + pidFile + " holds '" + pidText + "', not a pid");
  std::string cgFile = joinPath(opts_.fsRoot, "proc/" + pidText + "/cgroup");
  std::string cgText;
  if (!readFile(cgFile, cgText))
    return Error(Errc::kNotFound,
                 "QEMU of VM '" + vmName + "' (pid " + pidText + ") is gone: no " + cgFile);

  std::optional<std::string> v1, v2;
  std::istringstream lines(cgText);
  for (std::string line; std::getline(lines, line);) {
    auto a = line.find(':');
    auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1);
    std::string p = trim(line.substr(b + 1));
    if (line.substr(0, a) == "0" && ctrls.empty()) {
      v2 = p;
      continue;
    }
    std::istringstream cs(ctrls);
    for (std::string c; std::getline(cs, c, ',');)
      if (c == "cpu") v1 = p;
  }
  VcpuCgroup out;
  std::string base;
  if (v1 && *v1 != "/") {
    out.version = CgroupVersion::kV1;
    out.file = "cpu.shares";
    out.minValue = "2";
    out.defaultValue = "1024";
    base = *v1;
  } else if (v2 && *v2 != "/") {
    out.version = CgroupVersion::kV2;
    out.file = "cpu.weight";
    out.minValue = "1";
    out.defaultValue = "100";
    base = *v2;
  } else {
    return Error(Errc::kNotFound, "no cpu cgroup for VM '" + vmName + "' in " + cgFile);
  }
  out.controller = "cpu";
  // QEMU's main thread sits in <vm>/emulator; the vCPU cgroups are its siblings.
  const std::string kEmu = "/emulator";
  if (base.size() > kEmu.size() && base.compare(base.size() - kEmu.size(), kEmu.size(), kEmu) == 0)
    base.resize(base.size() - kEmu.size());
  while (!base.empty() && base.front() == '/') base.erase(0, 1);
  out.path = joinPath(base, "vcpu" + std::to_string(vcpu));
  return out;
}

Result<void> HostCpuEnforcer::lower(const std::string& vmName, unsigned vcpu) {
  std::string ctx = "lowering vCPU " + std::to_string(vcpu) + " of VM '" + vmName + "'";
  auto key = std::make_pair(vmName, vcpu);
  if (previous_.count(key) != 0) return okResult();
  auto cg = locate(vmName, vcpu);
  if (!cg) return std::move(cg).error().context(ctx);
  auto cur = writer_.read(cg->controller, cg->path, cg->file);
  if (!cur) return std::move(cur).error().context(ctx);
  if (auto w = writer_.write(cg->controller, cg->path, cg->file, cg->minValue); !w)
    return std::move(w).error().context(ctx);
  previous_[key] = *cur;
  opts_.log->info("vcpu weight lowered vm={} vcpu={} cgroup={} {}={} was={}", vmName, vcpu,
                  cg->path, cg->file, cg->minValue, *cur);
  return okResult();
}

Result<void> HostCpuEnforcer::restore(const std::string& vmName, unsigned vcpu) {
  std::string ctx = "restoring vCPU " + std::to_string(vcpu) + " of VM '" + vmName + "'";
  auto key = std::make_pair(vmName, vcpu);
  auto it = previous_.find(key);
  auto cg = locate(vmName, vcpu);
  if (!cg) return std::move(cg).error().context(ctx);
  std::string value;
  if (it != previous_.end()) {
    value = it->second;
    // A remembered minimum would "restore" to lowered: the value predates us, use the default.
    if (value == cg->minValue) value = cg->defaultValue;
  } else {
    auto cur = writer_.read(cg->controller, cg->path, cg->file);
    if (!cur) return std::move(cur).error().context(ctx);
    if (*cur != cg->minValue) return okResult();  // not lowered: nothing to do
    value = cg->defaultValue;                     // lowered before a restart: value unknown
  }
  if (auto w = writer_.write(cg->controller, cg->path, cg->file, value); !w)
    return std::move(w).error().context(ctx);
  if (it != previous_.end()) previous_.erase(it);
  opts_.log->info("vcpu weight restored vm={} vcpu={} cgroup={} {}={}", vmName, vcpu, cg->path,
                  cg->file, value);
  return okResult();
}

bool HostCpuEnforcer::isLowered(const std::string& vmName, unsigned vcpu) const {
  return previous_.count({vmName, vcpu}) != 0;
}

std::vector<std::pair<std::string, unsigned>> HostCpuEnforcer::lowered() const {
  std::vector<std::pair<std::string, unsigned>> out;
  for (const auto& [k, _] : previous_) out.push_back(k);
  return out;
}

void HostCpuEnforcer::forgetVm(const std::string& vmName) {
  for (auto it = previous_.begin(); it != previous_.end();)
    it = it->first.first == vmName ? previous_.erase(it) : std::next(it);
}

}  // namespace vnuma::sys
