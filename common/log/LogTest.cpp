#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/log/Log.hpp"

namespace vnuma {
namespace {

const std::regex kLine(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} (\w+) ([\w.]+): (.*))");

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

TEST(Log, CapturesThroughOstreamSinkWithPattern) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  Logger log = makeLogger("agent.cgroup", sink);
  log->info("grant applied gen={} cpus={}", 3, "0-1");
  log->debug("period tick");  // below the default level (info)
  log->warn("write failed path={}", "/x");
  log->flush();

  auto got = lines(out.str());
  ASSERT_EQ(got.size(), 2U) << out.str();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(got[0], m, kLine)) << got[0];
  EXPECT_EQ(m[1], "info");
  EXPECT_EQ(m[2], "agent.cgroup");
  EXPECT_EQ(m[3], "grant applied gen=3 cpus=0-1");
  ASSERT_TRUE(std::regex_match(got[1], m, kLine)) << got[1];
  EXPECT_EQ(m[1], "warning");
  EXPECT_EQ(m[3], "write failed path=/x");

  log->set_level(spdlog::level::debug);
  log->debug("period tick");
  EXPECT_NE(out.str().find(" debug agent.cgroup: period tick\n"), std::string::npos);
}

TEST(Log, RefusesUnknownLevel) {
  auto r = initLogging({"verbose", true, ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(r.error().describe(),
            "unknown log level 'verbose' (expected one of trace, debug, info, warn, error, off)");
}

TEST(Log, RefusesUnopenableFile) {
  // A path under a regular file: spdlog would create missing directories, so use /dev/null.
  auto r = initLogging({"info", false, "/dev/null/vnuma.log"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kSystem);
  EXPECT_EQ(r.error().describe().rfind("cannot open log file /dev/null/vnuma.log: ", 0), 0U)
      << r.error().describe();
}

TEST(Log, SharedFileSinkAndLevel) {
  const auto path = std::filesystem::temp_directory_path() / "vnuma-log-test.log";
  std::filesystem::remove(path);
  ASSERT_TRUE(initLogging({"debug", false, path.string()}).ok());
  Logger a = makeLogger("broker.ledger");
  Logger b = makeLogger("broker.api");
  a->debug("reserved cpus={}", "4-7");
  b->trace("not shown");
  b->error("bad request id={}", 9);
  a->flush();
  b->flush();

  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto got = lines(ss.str());
  ASSERT_EQ(got.size(), 2U) << ss.str();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(got[0], m, kLine));
  EXPECT_EQ(m[1], "debug");
  EXPECT_EQ(m[2], "broker.ledger");
  EXPECT_EQ(m[3], "reserved cpus=4-7");
  ASSERT_TRUE(std::regex_match(got[1], m, kLine));
  EXPECT_EQ(m[1], "error");
  EXPECT_EQ(m[2], "broker.api");
  EXPECT_EQ(m[3], "bad request id=9");

  // Back to defaults for any later test in this binary.
  ASSERT_TRUE(initLogging({}).ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vnuma
