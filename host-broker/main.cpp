// vnuma-broker: parses flags, loads the config and keys, builds loggers, wires the libvirt and
// cgroup seams into the engine and runs its loop. Everything else lives in vnuma_broker_core.
//
// Exit codes: 0 stopped by SIGTERM/SIGINT; 78 (kExitConfigError) bad config, keys, or a state
// file that needs an admin (restarting cannot help; the unit sets RestartPreventExitStatus=78);
// 1 anything else (libvirt unreachable, ...; worth a restart).
#include <sys/signalfd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "common/config/ConfigFile.hpp"
#include "common/core/Version.hpp"
#include "common/log/Log.hpp"
#include "common/transport/Transport.hpp"
#include "host-broker/config/BrokerConfig.hpp"
#include "host-broker/engine/Engine.hpp"
#include "host-broker/engine/VcpuEnforcer.hpp"
#include "host-broker/rpc/AgentSessions.hpp"
#include "host-broker/sys/CgroupWriter.hpp"
#include "host-broker/sys/HostCpuEnforcer.hpp"
#include "host-broker/sys/Hypervisor.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/vnuma/vnuma-broker.toml";

int fail(int code, const std::string& what) {
  std::cerr << "vnuma-broker: " << what << "\n";
  return code;
}

vnuma::Result<std::vector<std::string>> loadKeyDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> keys;
  if (!fs::is_directory(dir, ec))
    return vnuma::Error(vnuma::Errc::kNotFound, "key directory " + dir + " does not exist");
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".pub") continue;
    auto k = vnuma::transport::loadCurvePublicKey(it->path().string());
    if (!k) return std::move(k).error();
    keys.push_back(*k);
  }
  return keys;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vnuma;
  using namespace vnuma::broker;

  CLI::App app{"vnuma-broker: hands out exclusive pCPUs and node memory to Full vNUMA VMs",
               "vnuma-broker"};
  std::string configPath, libvirtUri, adminEndpoint, agentEndpoint, stateDir, generateKeyDir,
      logLevel;
  bool checkConfig = false;
  app.add_option("--config", configPath,
                 std::string("config file (default ") + kDefaultConfig + " when present)");
  app.add_option("--libvirt-uri", libvirtUri, "overrides broker.libvirt_uri");
  app.add_option("--admin-endpoint", adminEndpoint, "overrides admin.endpoint");
  app.add_option("--agent-endpoint", agentEndpoint, "overrides agents.endpoint");
  app.add_option("--state-dir", stateDir, "overrides broker.state_dir");
  app.add_option("--log-level", logLevel, "overrides broker.log_level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_flag("--check-config", checkConfig,
               "validate the config, keys and key directory, then exit");
  app.add_option("--generate-key", generateKeyDir,
                 "write DIR/broker.key and DIR/broker.pub, then exit");
  app.set_version_flag("--version", std::string("vnuma-broker ") + kVersion);
  CLI11_PARSE(app, argc, argv);

  if (!generateKeyDir.empty()) {
    auto keys = transport::generateCurveKeyPair();
    if (!keys) return fail(1, keys.error().describe());
    if (auto w = transport::writeCurveKeyPair(*keys, generateKeyDir, "broker"); !w)
      return fail(1, w.error().describe());
    std::cout << "wrote " << generateKeyDir << "/broker.key and " << generateKeyDir
              << "/broker.pub\n";
    return 0;
  }

  // ---- config: file, then flags, then validation (the same path as --check-config) ----
  BrokerConfig cfg;
  std::error_code ec;
  if (configPath.empty() && std::filesystem::exists(kDefaultConfig, ec))
    configPath = kDefaultConfig;
  if (!configPath.empty()) {
    auto loaded = loadBrokerConfig(configPath);
    if (!loaded) return fail(kExitConfigError, loaded.error().describe());
    cfg = std::move(loaded).value();
  }
  if (!libvirtUri.empty()) cfg.libvirtUri = libvirtUri;
  if (!adminEndpoint.empty()) cfg.adminEndpoint = adminEndpoint;
  if (!agentEndpoint.empty()) cfg.agentEndpoint = agentEndpoint;
  if (!stateDir.empty()) cfg.stateDir = stateDir;
  if (!logLevel.empty()) cfg.logLevel = logLevel;
  if (auto v = validateBrokerConfig(
          cfg, configPath.empty() ? "command line" : configPath + " + command line");
      !v)
    return fail(kExitConfigError, v.error().describe());

  auto brokerKeys = transport::loadCurveKeyPair(cfg.brokerKeyFile);
  if (!brokerKeys)
    return fail(kExitConfigError,
                brokerKeys.error().describe() +
                    " (agents.broker_key_file; create one with: vnuma-broker --generate-key DIR)");
  auto agentKeys = rpc::AgentKeyRing::load(cfg.agentKeyDir);
  if (!agentKeys) return fail(kExitConfigError, agentKeys.error().describe());
  std::vector<std::string> adminKeys;
  if (!cfg.adminTcpEndpoint.empty()) {
    auto k = loadKeyDir(cfg.adminClientKeyDir);
    if (!k) return fail(kExitConfigError, k.error().context("admin.client_key_dir").describe());
    adminKeys = std::move(k).value();
  }
  if (checkConfig) {
    std::cout << "configuration OK"
              << (configPath.empty() ? " (built-in defaults)" : ": " + configPath) << "; "
              << agentKeys->size() << " agent key(s), policy " << cfg.policy.name << "\n";
    return 0;
  }

  // ---- logging ----
  LogOptions lo;
  lo.level = cfg.logLevel;
  lo.file = cfg.logFile;
  if (auto l = initLogging(lo); !l) return fail(kExitConfigError, l.error().describe());
  Logger mainLog = makeLogger("broker.main");
  EngineLoggers loggers{makeLogger("broker.engine"), makeLogger("broker.rpc"),
                        makeLogger("broker.api")};

  // ---- signals are part of the wait (signalfd in the engine's poll set) ----
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return fail(1, "blocking signals failed");
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) return fail(1, "signalfd failed");

  // ---- seams ----
  sys::LibvirtOptions lv;
  lv.uri = cfg.libvirtUri;
  lv.log = makeLogger("broker.libvirt");
  auto hv = sys::LibvirtHypervisor::open(lv);
  if (!hv) return fail(1, hv.error().describe());
  auto writer = sys::LibcgroupWriter::create();
  if (!writer)
    return fail(1, writer.error().context("host-side enforcement needs cgroups").describe());
  sys::EnforcerOptions eo;
  eo.log = makeLogger("broker.enforce");
  sys::HostCpuEnforcer hostEnforcer(**writer, eo);
  HostCpuVcpuEnforcer enforcer(hostEnforcer);

  EngineOptions opts;
  opts.config = cfg;
  opts.brokerKeys = *brokerKeys;
  opts.agentKeys = std::move(agentKeys).value();
  opts.adminClientKeys = std::move(adminKeys);
  opts.signalFd = sfd;
  opts.log = loggers;
  auto engine = Engine::start(std::move(opts), **hv, enforcer);
  if (!engine) {
    const Errc c = engine.error().code();
    mainLog->critical("not starting: {}", engine.error().describe());
    return (c == Errc::kInvalidArgument || c == Errc::kConflict) ? kExitConfigError : 1;
  }
  auto r = (*engine)->run();
  ::close(sfd);
  return r ? 0 : 1;
}
