#pragma once
// Logger construction. Loggers are built in main() and injected; components never call
// spdlog::get() or the default logger. Names are "<daemon>.<component>" (agent.cgroup,
// broker.ledger). Messages use key=value fields: log->info("grant applied gen={} cpus={}", ...).
// Per-period chatter goes at debug.

#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/core/Result.hpp"

namespace vnuma {

using Logger = std::shared_ptr<spdlog::logger>;

struct LogOptions {
  std::string level = "info";  // trace, debug, info, warn, error, off
  bool toStderr = true;
  std::string file;            // also log here when non-empty
};

// Builds the shared sinks; call once in main(). Bad level -> error.
Result<void> initLogging(const LogOptions& opts);
// A named logger on the shared sinks (stderr when initLogging was not called).
Logger makeLogger(const std::string& name);
// A logger writing into `sink` only (tests capture output with an ostream_sink).
Logger makeLogger(const std::string& name, spdlog::sink_ptr sink);

}  // namespace vnuma
