#include "guest-agent/config/AgentConfig.hpp"

#include <cctype>
#include <type_traits>

#include "common/config/ConfigFile.hpp"

namespace vnuma::agent {

namespace {

#define VNUMA_CFG(dst, expr)                                              \
  do {                                                                    \
    auto vnuma_cfg_r_ = (expr);                                           \
    if (!vnuma_cfg_r_) return std::move(vnuma_cfg_r_).error();            \
    dst = static_cast<std::decay_t<decltype(dst)>>(vnuma_cfg_r_.value()); \
  } while (0)

Result<AgentConfig> fromFile(const ConfigFile& f) {
  AgentConfig c;
  VNUMA_CFG(c.brokerEndpoint, f.getString("broker.endpoint", c.brokerEndpoint));
  VNUMA_CFG(c.brokerPublicKeyFile, f.getString("broker.public_key_file", c.brokerPublicKeyFile));
  VNUMA_CFG(c.agentKeyFile, f.getString("broker.agent_key_file", c.agentKeyFile));
  VNUMA_CFG(c.reconnectMinMs, f.getInt("broker.reconnect_min_ms", c.reconnectMinMs, 10, 60000));
  VNUMA_CFG(c.reconnectMaxMs, f.getInt("broker.reconnect_max_ms", c.reconnectMaxMs, 10, 600000));
  VNUMA_CFG(c.vmUuid, f.getString("agent.vm_uuid", c.vmUuid));
  VNUMA_CFG(c.periodMs, f.getInt("agent.period_ms", c.periodMs, 100, 60000));
  VNUMA_CFG(c.mechanism, f.getEnum("agent.mechanism", c.mechanism, {"cgroup", "hotplug"}));
  VNUMA_CFG(c.fsRoot, f.getString("agent.fs_root", c.fsRoot));
  VNUMA_CFG(c.logLevel, f.getEnum("agent.log_level", c.logLevel,
                                  {"trace", "debug", "info", "warn", "error", "off"}));
  VNUMA_CFG(c.sendQueue, f.getInt("agent.send_queue", c.sendQueue, 1, 10000));
  VNUMA_CFG(c.nice, f.getInt("agent.nice", c.nice, -20, 19));
  VNUMA_CFG(c.cgroupRoot, f.getString("cgroup.root", c.cgroupRoot));
  VNUMA_CFG(c.managedName, f.getString("cgroup.managed_name", c.managedName));
  VNUMA_CFG(c.irq, f.getBool("best_effort.irq", c.irq));
  VNUMA_CFG(c.workqueue, f.getBool("best_effort.workqueue", c.workqueue));
  VNUMA_CFG(c.kthreads, f.getBool("best_effort.kthreads", c.kthreads));
  VNUMA_CFG(c.ensureMovable, f.getBool("memory.ensure_movable", c.ensureMovable));
  if (auto r = f.rejectUnknownKeys(); !r) return std::move(r).error();

  const std::string& src = f.source();
  auto bad = [&](const std::string& key, const std::string& why) {
    return Error(Errc::kInvalidArgument, src + ": " + key + ": " + why);
  };
  if (c.brokerEndpoint.rfind("tcp://", 0) != 0 && c.brokerEndpoint.rfind("ipc://", 0) != 0)
    return bad("broker.endpoint",
               "must start with tcp:// or ipc:// (got '" + c.brokerEndpoint + "')");
  if (c.brokerPublicKeyFile.empty() != c.agentKeyFile.empty())
    return bad(c.agentKeyFile.empty() ? "broker.agent_key_file" : "broker.public_key_file",
               "CURVE needs both broker.public_key_file and broker.agent_key_file (or neither)");
  if (c.reconnectMinMs > c.reconnectMaxMs)
    return bad("broker.reconnect_min_ms", "must not exceed broker.reconnect_max_ms");
  if (c.fsRoot.empty() || c.fsRoot.front() != '/')
    return bad("agent.fs_root", "must be an absolute path");
  if (c.cgroupRoot.empty() || c.cgroupRoot.front() != '/' ||
      c.cgroupRoot.find("..") != std::string::npos)
    return bad("cgroup.root", "must be an absolute path inside the hierarchy without '..'");
  if (c.managedName.empty() || c.managedName.find('/') != std::string::npos ||
      c.managedName == "." || c.managedName == "..")
    return bad("cgroup.managed_name", "must be a single directory name");
  if (!c.vmUuid.empty()) {
    bool ok = c.vmUuid.size() == 36;
    for (std::size_t i = 0; ok && i < c.vmUuid.size(); ++i) {
      const char ch = c.vmUuid[i];
      ok = (i == 8 || i == 13 || i == 18 || i == 23)
               ? ch == '-'
               : std::isxdigit(static_cast<unsigned char>(ch)) != 0;
    }
    if (!ok)
      return bad("agent.vm_uuid",
                 "not a UUID like 1b4e28ba-2fa1-11d2-883f-0016d3cca427: '" + c.vmUuid + "'");
    for (auto& ch : c.vmUuid) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return c;
}

}  // namespace

Result<AgentConfig> AgentConfig::load(const std::string& path) {
  auto f = ConfigFile::load(path);
  if (!f) return std::move(f).error();
  return fromFile(f.value());
}

Result<AgentConfig> AgentConfig::parse(const std::string& text, const std::string& sourceName) {
  auto f = ConfigFile::parse(text, sourceName);
  if (!f) return std::move(f).error();
  return fromFile(f.value());
}

}  // namespace vnuma::agent
