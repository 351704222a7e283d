#pragma once
// Helpers shared by the host-broker/sys tests (test-only header).
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "common/log/Log.hpp"

namespace vnuma::sys::testing {

// A logger writing into a string stream (so tests can assert on log lines).
struct CapturedLog {
  std::shared_ptr<std::ostringstream> out = std::make_shared<std::ostringstream>();
  Logger log;
  explicit CapturedLog(const std::string& name = "broker.sys") {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out);
    sink->set_pattern("%l %v");
    log = std::make_shared<spdlog::logger>(name, sink);
    log->set_level(spdlog::level::debug);
    log->flush_on(spdlog::level::trace);
  }
  std::string text() const { return out->str(); }
};

inline std::string sourceDir() {
  const char* src = std::getenv("VNUMA_SOURCE_DIR");
  return src != nullptr ? src : VNUMA_TEST_SOURCE_DIR;
}

inline std::string fixture(const std::string& name) {
  return sourceDir() + "/tests/data/libvirt/" + name;
}

}  // namespace vnuma::sys::testing
