#include "common/log/Log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <array>
#include <mutex>

namespace vnuma {

namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e %l %n: %v";

struct SharedSinks {
  std::mutex mu;
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::level::level_enum level = spdlog::level::info;
  bool initialized = false;
};

SharedSinks& shared() {
  static SharedSinks s;
  return s;
}

spdlog::sink_ptr stderrSink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_pattern(kPattern);
  return sink;
}

// spdlog::level::from_str maps unknown names to "off"; we want a refusal instead.
bool parseLevel(const std::string& name, spdlog::level::level_enum& out) {
  static const std::array<std::pair<const char*, spdlog::level::level_enum>, 6> kLevels{{
      {"trace", spdlog::level::trace},
      {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},
      {"off", spdlog::level::off},
  }};
  for (const auto& [n, l] : kLevels) {
    if (name == n) {
      out = l;
      return true;
    }
  }
  return false;
}

}  // namespace

Result<void> initLogging(const LogOptions& opts) {
  spdlog::level::level_enum level{};
  if (!parseLevel(opts.level, level)) {
    return Error(Errc::kInvalidArgument,
                 "unknown log level '" + opts.level +
                     "' (expected one of trace, debug, info, warn, error, off)");
  }
  std::vector<spdlog::sink_ptr> sinks;
  if (opts.toStderr) sinks.push_back(stderrSink());
  if (!opts.file.empty()) {
    try {
      auto file =
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(opts.file, /*truncate=*/false);
      file->set_pattern(kPattern);
      sinks.push_back(std::move(file));
    } catch (const spdlog::spdlog_ex& e) {
      return Error(Errc::kSystem, "cannot open log file " + opts.file + ": " + e.what());
    }
  }
  auto& s = shared();
  std::lock_guard<std::mutex> lock(s.mu);
  s.sinks = std::move(sinks);
  s.level = level;
  s.initialized = true;
  return okResult();
}

Logger makeLogger(const std::string& name) {
  auto& s = shared();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.initialized) {
    s.sinks = {stderrSink()};
    s.initialized = true;
  }
  auto log = std::make_shared<spdlog::logger>(name, s.sinks.begin(), s.sinks.end());
  log->set_level(s.level);
  // Warnings and errors reach the file even if the process dies right after.
  log->flush_on(spdlog::level::warn);
  return log;
}

Logger makeLogger(const std::string& name, spdlog::sink_ptr sink) {
  auto log = std::make_shared<spdlog::logger>(name, std::move(sink));
  log->set_pattern(kPattern);
  auto& s = shared();
  std::lock_guard<std::mutex> lock(s.mu);
  log->set_level(s.level);
  return log;
}

}  // namespace vnuma
