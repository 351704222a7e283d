#include <gtest/gtest.h>

#include "tests/e2e/loadtool/Control.hpp"
#include "tests/e2e/loadtool/Latency.hpp"

namespace vnuma::e2e {
namespace {

TEST(Latency, PercentileNearestRank) {
  const std::vector<double> v{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(percentile(v, 0.5), 5);
  EXPECT_DOUBLE_EQ(percentile(v, 0.9), 9);
  EXPECT_DOUBLE_EQ(percentile(v, 0.99), 10);
  EXPECT_DOUBLE_EQ(percentile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 1.0), 10);
  EXPECT_DOUBLE_EQ(percentile({}, 0.5), 0);
}

TEST(Latency, SummarizeSortsAndKeepsMissed) {
  std::vector<double> v;
  for (int i = 200; i >= 1; --i) {
    v.push_back(i);
  }
  const LatencySummary s = summarize(v, 3);
  EXPECT_EQ(s.samples, 200u);
  EXPECT_EQ(s.missedPeriods, 3u);
  EXPECT_DOUBLE_EQ(s.p50Us, 100);
  EXPECT_DOUBLE_EQ(s.p99Us, 198);
  EXPECT_DOUBLE_EQ(s.maxUs, 200);
  EXPECT_DOUBLE_EQ(s.meanUs, 100.5);
  EXPECT_EQ(toJson(s),
            "{\"samples\":200,\"missed\":3,\"mean_us\":100.5,\"p50_us\":100.0,\"p90_us\":180.0,"
            "\"p99_us\":198.0,\"max_us\":200.0}");
}

TEST(Latency, EveryPassedDeadlineIsASample) {
  std::vector<double> v;
  std::size_t missed = 0;
  // On time (50 us late): one sample, next deadline one period on.
  EXPECT_EQ(recordWake(1000000, 1000000, 1050000, v, missed), 2000000);
  EXPECT_EQ(v, (std::vector<double>{50}));
  EXPECT_EQ(missed, 0u);
  // Woke 3.5 periods late: the deadlines at 2, 3, 4 and 5 ms have passed, one sample each.
  EXPECT_EQ(recordWake(2000000, 1000000, 5500000, v, missed), 6000000);
  EXPECT_EQ(v, (std::vector<double>{50, 3500, 2500, 1500, 500}));
  EXPECT_EQ(missed, 3u);
  // Exactly on the next deadline: that deadline has passed too.
  EXPECT_EQ(recordWake(6000000, 1000000, 7000000, v, missed), 8000000);
  EXPECT_EQ(v.back(), 0);
  EXPECT_EQ(missed, 4u);
}

TEST(Latency, EmptySummaryIsZero) {
  const LatencySummary s = summarize({}, 0);
  EXPECT_EQ(s.samples, 0u);
  EXPECT_DOUBLE_EQ(s.maxUs, 0);
}

struct BadLine {
  const char* description;
  std::string line;
  const char* error;
};

TEST(Control, ParsesRunLine) {
  std::string error;
  auto req = parseRunLine("RUN 42 30 cat /proc/stat | head -1", error);
  ASSERT_TRUE(req) << error;
  EXPECT_EQ(req->id, 42u);
  EXPECT_EQ(req->timeoutSeconds, 30u);
  EXPECT_EQ(req->command, "cat /proc/stat | head -1");
  req = parseRunLine("RUN 1 5 true\r", error);
  ASSERT_TRUE(req) << error;
  EXPECT_EQ(req->command, "true");
}

TEST(Control, RejectsBadLines) {
  const BadLine cases[] = {
      {"empty", "", "not a RUN request"},
      {"wrong verb", "EXEC 1 5 true", "not a RUN request"},
      {"lowercase verb", "run 1 5 true", "not a RUN request"},
      {"non-numeric id", "RUN x 5 true", "bad id"},
      {"negative id", "RUN -1 5 true", "bad id"},
      {"missing timeout", "RUN 1", "bad timeout"},
      {"zero timeout", "RUN 1 0 true", "bad timeout"},
      {"huge timeout", "RUN 1 999999 true", "bad timeout"},
      {"timeout with junk", "RUN 1 5s true", "bad timeout"},
      {"no command", "RUN 1 5", "empty command"},
      {"blank command", "RUN 1 5    ", "empty command"},
      {"too long", "RUN 1 5 " + std::string(kMaxRequestLine, 'x'), "line too long"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(parseRunLine(c.line, error)) << c.description;
    EXPECT_EQ(error, c.error) << c.description;
  }
}

TEST(Control, DoneHeader) { EXPECT_EQ(doneHeader(7, 124, 13), "DONE 7 124 13\n"); }

}  // namespace
}  // namespace vnuma::e2e
