#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "common/core/Result.hpp"

namespace vnuma {
namespace {

Result<int> parsePositive(int v) {
  if (v <= 0) return Error(Errc::kInvalidArgument, "not positive: " + std::to_string(v));
  return v;
}

Result<void> needsPositive(int v) {
  VNUMA_TRY_VOID(parsePositive(v));
  return okResult();
}

TEST(Result, ValueAndError) {
  auto ok = parsePositive(3);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(*ok, 3);
  EXPECT_EQ(ok.valueOr(7), 3);

  auto bad = parsePositive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "not positive: -1");
  EXPECT_EQ(bad.valueOr(7), 7);
}

TEST(Result, ContextIsPrintedOutermostFirst) {
  Error e(Errc::kInvalidArgument, "bad range '3-1'");
  e.context("parsing cpulist").context("reading /sys/x");
  EXPECT_EQ(e.describe(), "reading /sys/x: parsing cpulist: bad range '3-1'");
  EXPECT_EQ(e.contexts().size(), 2U);

  Result<int> r = Error(Errc::kNotFound, "no such VM");
  Error moved = std::move(r).error().context("granting web1");
  EXPECT_EQ(moved.describe(), "granting web1: no such VM");
}

TEST(Result, FromErrnoAppendsStrerror) {
  errno = ENOENT;
  Error e = Error::fromErrno("open /x");
  EXPECT_EQ(e.code(), Errc::kSystem);
  EXPECT_EQ(e.errnum(), ENOENT);
  EXPECT_EQ(e.describe(), "open /x: No such file or directory");
}

TEST(Result, VoidAndTryMacro) {
  EXPECT_TRUE(needsPositive(1).ok());
  auto r = needsPositive(0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "not positive: 0");
}

TEST(Result, ErrcNames) {
  const std::pair<Errc, const char*> cases[] = {
      {Errc::kInvalidArgument, "invalid-argument"},
      {Errc::kNotFound, "not-found"},
      {Errc::kConflict, "conflict"},
      {Errc::kSystem, "system"},
      {Errc::kHypervisor, "hypervisor"},
      {Errc::kTimeout, "timeout"},
      {Errc::kProtocol, "protocol"},
      {Errc::kUnavailable, "unavailable"},
      {Errc::kInternal, "internal"},
      {Errc::kUnsupportedVersion, "version"},
  };
  for (const auto& [code, name] : cases) EXPECT_STREQ(errcName(code), name);
}

}  // namespace
}  // namespace vnuma
