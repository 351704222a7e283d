// vnuma-agent: parses flags, builds loggers, wires the agent's objects and runs the loop.
// Exit codes: 0 ok, 1 runtime failure (discovery, broker keys), 2 bad command line,
// 78 (vnuma::kExitConfigError) bad configuration.
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <iostream>

#include "common/config/ConfigFile.hpp"
#include "common/core/Version.hpp"
#include "common/log/Log.hpp"
#include "common/transport/Transport.hpp"
#include "guest-agent/config/AgentConfig.hpp"
#include "guest-agent/engine/Agent.hpp"
#include "guest-agent/engine/AgentEngine.hpp"
#include "guest-agent/rpc/BrokerSession.hpp"

namespace {
constexpr int kExitRuntime = 1;
}

int main(int argc, char** argv) {
  CLI::App app{"vnuma-agent: confines this guest to the vCPUs the vnuma broker grants"};
  std::string configPath, logLevel, generateKeyDir, grantList;
  bool checkConfig = false, once = false, dryRun = false, version = false;
  app.add_option("--config", configPath, "TOML config file (defaults apply when omitted)");
  app.add_flag("--check-config", checkConfig, "validate the config and exit (78 when invalid)");
  app.add_flag("--once", once, "discover, sample and print once, then exit (no broker)");
  app.add_flag("--dry-run", dryRun, "with --once: print what would be written, change nothing");
  app.add_option("--grant", grantList,
                 "with --once: vCPU list to apply (or plan with --dry-run), e.g. 0-1");
  app.add_option("--log-level", logLevel, "trace|debug|info|warn|error|off (overrides the config)");
  app.add_option("--generate-key", generateKeyDir,
                 "write DIR/agent.key and DIR/agent.pub (CURVE) and exit");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (version) {
    std::printf("vnuma-agent %s (protocol %u)\n", vnuma::kVersion, vnuma::kProtocolVersion);
    return 0;
  }
  if (!generateKeyDir.empty()) {
    auto keys = vnuma::transport::generateCurveKeyPair();
    if (!keys) {
      std::fprintf(stderr, "vnuma-agent: %s\n", keys.error().describe().c_str());
      return kExitRuntime;
    }
    if (auto r = vnuma::transport::writeCurveKeyPair(keys.value(), generateKeyDir, "agent"); !r) {
      std::fprintf(stderr, "vnuma-agent: %s\n", r.error().describe().c_str());
      return kExitRuntime;
    }
    std::printf("wrote %s/agent.key and %s/agent.pub\npublic key: %s\n", generateKeyDir.c_str(),
                generateKeyDir.c_str(), keys->publicKey.c_str());
    return 0;
  }

  vnuma::agent::AgentConfig cfg;
  if (!configPath.empty()) {
    auto loaded = vnuma::agent::AgentConfig::load(configPath);
    if (!loaded) {
      std::fprintf(stderr, "vnuma-agent: bad config: %s\n", loaded.error().describe().c_str());
      return vnuma::kExitConfigError;
    }
    cfg = std::move(loaded).value();
  }
  if (checkConfig) {
    std::printf("config ok: %s\n", configPath.empty() ? "(defaults)" : configPath.c_str());
    return 0;
  }
  if (!logLevel.empty()) cfg.logLevel = logLevel;
  if (auto r = vnuma::initLogging({cfg.logLevel, true, ""}); !r) {
    std::fprintf(stderr, "vnuma-agent: %s\n", r.error().describe().c_str());
    return vnuma::kExitConfigError;
  }
  vnuma::agent::Loggers logs{vnuma::makeLogger("agent.main"), vnuma::makeLogger("agent.cgroup"),
                             vnuma::makeLogger("agent.sys"), vnuma::makeLogger("agent.engine"),
                             vnuma::makeLogger("agent.rpc")};

  auto agent = vnuma::agent::Agent::build(cfg, logs, once && dryRun);
  if (!agent) {
    logs.main->error("startup failed: {}", agent.error().describe());
    return kExitRuntime;
  }

  if (once) {
    std::optional<vnuma::CpuSet> grant;
    if (!grantList.empty()) {
      auto g = vnuma::CpuSet::parseList(grantList);
      if (!g) {
        std::fprintf(stderr, "vnuma-agent: --grant: %s\n", g.error().describe().c_str());
        return 2;
      }
      grant = g.value();
    }
    return (*agent)->runOnce(std::cout, grant, dryRun) ? 0 : kExitRuntime;
  }
  if (!grantList.empty() || dryRun) {
    std::fprintf(stderr, "vnuma-agent: --grant and --dry-run need --once\n");
    return 2;
  }

  // Housekeeping priority for the session loop (not for --once): see agent.nice.
  errno = 0;
  if (::setpriority(PRIO_PROCESS, 0, cfg.nice) != 0)
    logs.main->warn("setting nice {} failed: {}", cfg.nice,
                    vnuma::Error::fromErrno("setpriority").describe());

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    logs.main->error("signalfd failed: {}", vnuma::Error::fromErrno("signalfd").describe());
    return kExitRuntime;
  }
  auto rc = (*agent)->runSession(sfd);
  ::close(sfd);
  if (!rc) {
    logs.main->error("{}", rc.error().describe());
    return kExitRuntime;
  }
  return 0;
}
