#include "host-broker/config/BrokerConfig.hpp"

#include <charconv>
#include <cstdlib>

#include "common/config/ConfigFile.hpp"

namespace vnuma::broker {
namespace {

Error invalid(const std::string& source, const std::string& what) {
  return Error(Errc::kInvalidArgument, source + ": " + what);
}

// tcp://HOST:PORT with a loopback host. Returns an empty string when fine, else what is wrong.
std::string checkLoopbackTcp(const std::string& ep) {
  static constexpr std::string_view kTcp = "tcp://";
  if (ep.rfind(kTcp, 0) != 0) return "expected tcp://127.0.0.1:PORT";
  std::string_view rest = std::string_view(ep).substr(kTcp.size());
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return "missing :PORT";
  std::string_view host = rest.substr(0, colon);
  std::string_view port = rest.substr(colon + 1);
  if (host != "127.0.0.1" && host != "[::1]" && host != "localhost")
    return "host must be loopback (127.0.0.1, [::1] or localhost): guests reach it through QEMU "
           "user networking";
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value > 65535)
    return "bad port '" + std::string(port) + "'";
  return {};
}

template <typename T>
bool take(Result<T> r, T& out, Error& err, bool& failed) {
  if (failed) return false;
  if (!r) {
    err = std::move(r).error();
    failed = true;
    return false;
  }
  out = std::move(r).value();
  return true;
}

}  // namespace

std::string ipcPath(const std::string& endpoint) {
  static constexpr std::string_view kIpc = "ipc://";
  if (endpoint.rfind(kIpc, 0) != 0) return {};
  return endpoint.substr(kIpc.size());
}

Result<void> validateBrokerConfig(const BrokerConfig& cfg, const std::string& source) {
  if (cfg.libvirtUri.empty()) return invalid(source, "broker.libvirt_uri must not be empty");
  if (cfg.stateDir.empty() || cfg.stateDir.front() != '/')
    return invalid(source, "broker.state_dir '" + cfg.stateDir + "' must be an absolute path");

  if (ipcPath(cfg.agentEndpoint).empty()) {
    auto why = checkLoopbackTcp(cfg.agentEndpoint);
    if (!why.empty()) return invalid(source, "agents.endpoint '" + cfg.agentEndpoint + "': " + why);
  }
  if (cfg.brokerKeyFile.empty())
    return invalid(
        source,
        "agents.broker_key_file must be set (create one with vnuma-broker --generate-key DIR)");
  if (cfg.agentKeyDir.empty()) return invalid(source, "agents.key_dir must be set");
  if (cfg.leaseMs < 2 * cfg.reportPeriodMs)
    return invalid(source, "agents.lease_ms (" + std::to_string(cfg.leaseMs) +
                               ") must be at least twice agents.report_period_ms (" +
                               std::to_string(cfg.reportPeriodMs) + ")");
  if (cfg.ackTimeoutMs >= cfg.leaseMs)
    return invalid(source, "agents.ack_timeout_ms (" + std::to_string(cfg.ackTimeoutMs) +
                               ") must be below agents.lease_ms (" + std::to_string(cfg.leaseMs) +
                               ")");

  if (ipcPath(cfg.adminEndpoint).empty())
    return invalid(source, "admin.endpoint '" + cfg.adminEndpoint +
                               "' must be ipc://PATH (file permissions guard it); use "
                               "admin.tcp_endpoint for TCP with CURVE");
  if (cfg.adminSocketMode > 0777)
    return invalid(source, "admin.socket_mode must be a file mode between 0000 and 0777");
  if (!cfg.adminTcpEndpoint.empty()) {
    auto why = checkLoopbackTcp(cfg.adminTcpEndpoint);
    if (!why.empty())
      return invalid(source, "admin.tcp_endpoint '" + cfg.adminTcpEndpoint + "': " + why);
    if (cfg.adminClientKeyDir.empty())
      return invalid(
          source, "admin.tcp_endpoint needs admin.client_key_dir (the admin clients' *.pub keys)");
  }
  if (auto p = cfg.policy.validate(); !p) return std::move(p).error().context(source);
  return okResult();
}

static Result<BrokerConfig> parseBrokerConfigFile(const ConfigFile& file) {
  BrokerConfig cfg;
  Error err(Errc::kInternal, "");
  bool failed = false;
  const BrokerConfig d;

  take(file.getString("broker.libvirt_uri", d.libvirtUri), cfg.libvirtUri, err, failed);
  take(file.getString("broker.state_dir", d.stateDir), cfg.stateDir, err, failed);
  take(file.getEnum("broker.log_level", d.logLevel,
                    {"trace", "debug", "info", "warn", "error", "off"}),
       cfg.logLevel, err, failed);
  take(file.getString("broker.log_file", d.logFile), cfg.logFile, err, failed);

  take(file.getString("agents.endpoint", d.agentEndpoint), cfg.agentEndpoint, err, failed);
  take(file.getString("agents.broker_key_file", d.brokerKeyFile), cfg.brokerKeyFile, err, failed);
  take(file.getString("agents.key_dir", d.agentKeyDir), cfg.agentKeyDir, err, failed);
  std::int64_t v = 0;
  if (take(file.getInt("agents.lease_ms", d.leaseMs, 1000, 600000), v, err, failed))
    cfg.leaseMs = static_cast<std::uint32_t>(v);
  if (take(file.getInt("agents.grace_ms", d.graceMs, 0, 600000), v, err, failed))
    cfg.graceMs = static_cast<std::uint32_t>(v);
  if (take(file.getInt("agents.report_period_ms", d.reportPeriodMs, 100, 60000), v, err, failed))
    cfg.reportPeriodMs = static_cast<std::uint32_t>(v);
  if (take(file.getInt("agents.ack_timeout_ms", d.ackTimeoutMs, 10, 60000), v, err, failed))
    cfg.ackTimeoutMs = static_cast<std::uint32_t>(v);

  take(file.getString("admin.endpoint", d.adminEndpoint), cfg.adminEndpoint, err, failed);
  std::string mode;
  if (take(file.getString("admin.socket_mode", "0660"), mode, err, failed)) {
    char* end = nullptr;
    unsigned long m = std::strtoul(mode.c_str(), &end, 8);
    if (mode.empty() || *end != '\0' || m > 0777) {
      return invalid(file.source(), "admin.socket_mode '" + mode +
                                        "': expected an octal file mode such as \"0660\"");
    }
    cfg.adminSocketMode = static_cast<unsigned>(m);
  }
  take(file.getString("admin.tcp_endpoint", d.adminTcpEndpoint), cfg.adminTcpEndpoint, err, failed);
  take(file.getString("admin.client_key_dir", d.adminClientKeyDir), cfg.adminClientKeyDir, err,
       failed);

  take(file.getCpuList("host.reserved_cpus", d.reservedCpus), cfg.reservedCpus, err, failed);
  if (take(file.getInt("host.memory_reserve_mb", static_cast<std::int64_t>(d.memoryReserveMb), 0,
                       1 << 24),
           v, err, failed))
    cfg.memoryReserveMb = static_cast<std::uint64_t>(v);

  if (failed) return err;
  if (file.has("policy.file")) {
    auto path = file.getString("policy.file", "");
    if (!path) return std::move(path).error();
    cfg.policyFile = *path;
  }
  if (!cfg.policyFile.empty()) {
    static const char* kInline[] = {"policy.name", "policy.tick_ms", "policy.demand",
                                    "policy.placement", "policy.memory"};
    for (const char* key : kInline) {
      if (file.has(key))
        return invalid(file.source(), std::string("policy.file is set, so '") + key +
                                          "' belongs in that file (" + cfg.policyFile +
                                          "), not here");
    }
    auto params = loadPolicyFile(cfg.policyFile);
    if (!params) return std::move(params).error().context(file.source() + ": policy.file");
    cfg.policy = std::move(params).value();
  } else {
    auto params = paramsFromConfig(file);
    if (!params) return std::move(params).error();
    cfg.policy = std::move(params).value();
  }
  if (auto unknown = file.rejectUnknownKeys(); !unknown) return std::move(unknown).error();
  if (auto ok = validateBrokerConfig(cfg, file.source()); !ok) return std::move(ok).error();
  return cfg;
}

Result<BrokerConfig> loadBrokerConfig(const std::string& path) {
  auto file = ConfigFile::load(path);
  if (!file) return std::move(file).error();
  return parseBrokerConfigFile(*file);
}

Result<BrokerConfig> parseBrokerConfig(std::string_view text, const std::string& sourceName) {
  auto file = ConfigFile::parse(text, sourceName);
  if (!file) return std::move(file).error();
  return parseBrokerConfigFile(*file);
}

}  // namespace vnuma::broker
