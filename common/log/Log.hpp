#pragma once
// Logger construction. Loggers are built in main() and injected; components never call
// spdlog::get() or the default logger. Names are "<daemon>.<component>" (agent.cgroup,
// broker.ledger). Messages use key=value fields: log->info("grant applied gen={} cpus={}", ...).
// Per-period chatter goes at debug.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

#include "common/core/Result.hpp"

namespace vnuma {

using Logger = std::shared_ptr<spdlog::logger>;

struct LogOptions {
  std::string level = "info";  // trace, debug, info, warn, error, off
  bool toStderr = true;
  std::string file;  // also log here when non-empty
};

// Line format: "2026-11-23T12:00:00.123 info agent.cgroup: grant applied gen=3".
// Builds the shared sinks; call once in main(), before makeLogger. Errors: bad level ->
// kInvalidArgument, log file that cannot be opened (appended to) -> kSystem; on error nothing
// changes. Loggers made earlier keep the sinks and level they were made with.
Result<void> initLogging(const LogOptions& opts);
// A named logger on the shared sinks (stderr at info when initLogging was not called). Not
// registered with spdlog's registry. Thread-safe.
Logger makeLogger(const std::string& name);
// A logger writing into `sink` only (tests capture output with an ostream_sink). Takes the
// level set by initLogging (info by default); call set_level() on it to capture debug lines.
Logger makeLogger(const std::string& name, spdlog::sink_ptr sink);

}  // namespace vnuma
