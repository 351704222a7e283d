#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/cpu/CpuSet.hpp"

namespace vnuma {
namespace {

struct ParseOk {
  const char* description;
  std::string text;
  std::vector<unsigned> ids;
  const char* canonical;  // toList()/toMask() of the result
};

struct ParseBad {
  const char* description;
  std::string text;
  const char* message;
};

std::vector<unsigned> v(std::initializer_list<unsigned> l) { return l; }

TEST(CpuSetParseList, AcceptsValidLists) {
  const ParseOk cases[] = {
      {"empty string is the empty set", "", {}, ""},
      {"only whitespace is the empty set", " \t", {}, ""},
      {"lone newline is the empty set", "\n", {}, ""},
      {"single id", "5", v({5}), "5"},
      {"zero", "0", v({0}), "0"},
      {"simple range", "0-3", v({0, 1, 2, 3}), "0-3"},
      {"range of one", "4-4", v({4}), "4"},
      {"mixed", "0-3,8,10-11", v({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11"},
      {"unsorted and overlapping are merged", "8,0-2,1-3", v({0, 1, 2, 3, 8}), "0-3,8"},
      {"adjacent singles collapse to a range", "1,2,3", v({1, 2, 3}), "1-3"},
      {"trailing newline tolerated", "0-1\n", v({0, 1}), "0-1"},
      {"trailing NULs tolerated", std::string("2\0\0\0", 4), v({2}), "2"},
      {"newline then NUL padding tolerated", std::string("2-3\n\0\0", 6), v({2, 3}), "2-3"},
      {"leading zeros are decimal", "007", v({7}), "7"},
      {"maximum id", "8191", v({8191}), "8191"},
      {"word boundaries", "63-64,127,128", v({63, 64, 127, 128}), "63-64,127-128"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto r = CpuSet::parseList(c.text);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->ids(), c.ids);
    EXPECT_EQ(r->toList(), c.canonical);
  }
}

TEST(CpuSetParseList, RefusesGarbageWithExactMessages) {
  const ParseBad cases[] = {
      {"reversed range", "3-1", "invalid cpulist '3-1': bad range '3-1': start is above end"},
      {"non-digit", "a",
       "invalid cpulist 'a': bad element 'a': expected a CPU id or a range like 0-3"},
      {"empty element between commas", "1,,2", "invalid cpulist '1,,2': empty element at offset 2"},
      {"leading comma", ",1", "invalid cpulist ',1': empty element at offset 0"},
      {"trailing comma", "1,", "invalid cpulist '1,': empty element at offset 2"},
      {"id above kMaxCpu", "8192", "invalid cpulist '8192': CPU id 8192 exceeds the maximum 8191"},
      {"range end above kMaxCpu", "0-9000",
       "invalid cpulist '0-9000': CPU id 9000 exceeds the maximum 8191"},
      {"huge number does not wrap", "99999999999999999999",
       "invalid cpulist '99999999999999999999': CPU id 99999999999999999999 exceeds the maximum "
       "8191"},
      {"trailing junk after id", "3x", "invalid cpulist '3x': trailing junk 'x' after '3'"},
      {"trailing junk after range", "0-3abc",
       "invalid cpulist '0-3abc': trailing junk 'abc' after '0-3'"},
      {"double range", "1-2-3", "invalid cpulist '1-2-3': trailing junk '-3' after '1-2'"},
      {"range without end", "1-", "invalid cpulist '1-': bad range '1-': missing end"},
      {"negative", "-1",
       "invalid cpulist '-1': bad element '-1': expected a CPU id or a range like 0-3"},
      {"two newlines", "1\n\n", "invalid cpulist '1\\x0a\\x0a': trailing junk '\\x0a' after '1'"},
      {"space inside", "1, 2",
       "invalid cpulist '1, 2': bad element ' 2': expected a CPU id or a range like 0-3"},
      {"embedded NUL",
       std::string("1\0"
                   "2",
                   3),
       "invalid cpulist '1\\x002': trailing junk '\\x002' after '1'"},
      {"hex is not a list", "0xff", "invalid cpulist '0xff': trailing junk 'xff' after '0'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto r = CpuSet::parseList(c.text);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(r.error().describe(), c.message);
  }
}

TEST(CpuSetParseList, LongInputIsCutInMessage) {
  std::string text(100, '7');
  auto r = CpuSet::parseList("x" + text);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().find("...") != std::string::npos, true);
  EXPECT_LT(r.error().message().size(), 200U);
}

TEST(CpuSetParseMask, AcceptsValidMasks) {
  const ParseOk cases[] = {
      {"empty string is the empty set", "", {}, "0"},
      {"zero", "0", {}, "0"},
      {"zero words", "00000000,00000000", {}, "0"},
      {"one word", "ff", v({0, 1, 2, 3, 4, 5, 6, 7}), "ff"},
      {"two words, most significant first", "ff,00000001", v({0, 32, 33, 34, 35, 36, 37, 38, 39}),
       "ff,00000001"},
      {"uppercase hex", "F0", v({4, 5, 6, 7}), "f0"},
      {"short low word", "1,1", v({0, 32}), "1,00000001"},
      {"leading zero words dropped", "00000000,00000002", v({1}), "2"},
      {"trailing newline", "3\n", v({0, 1}), "3"},
      {"trailing NULs", std::string("3\0\0", 3), v({0, 1}), "3"},
      {"bit 63 and 64", "1,80000000,00000000", v({63, 64}), "1,80000000,00000000"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto r = CpuSet::parseMask(c.text);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->ids(), c.ids);
    EXPECT_EQ(r->toMask(), c.canonical);
  }
}

TEST(CpuSetParseMask, RefusesGarbageWithExactMessages) {
  const ParseBad cases[] = {
      {"word longer than 8 digits", "123456789",
       "invalid cpumask '123456789': word '123456789' has more than 8 hex digits"},
      {"empty word", "ff,,1", "invalid cpumask 'ff,,1': empty word 2"},
      {"trailing comma", "ff,", "invalid cpumask 'ff,': empty word 2"},
      {"non-hex digit", "fg", "invalid cpumask 'fg': bad hex digit 'g' in word 'fg'"},
      {"0x prefix", "0xff", "invalid cpumask '0xff': bad hex digit 'x' in word '0xff'"},
      {"trailing junk", "ff zz", "invalid cpumask 'ff zz': bad hex digit ' ' in word 'ff zz'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto r = CpuSet::parseMask(c.text);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(r.error().describe(), c.message);
  }
}

TEST(CpuSetParseMask, RefusesBitAboveMaxCpu) {
  std::string mask = "1";
  for (int i = 0; i < 256; ++i) mask += ",00000000";  // bit 8192
  auto r = CpuSet::parseMask(mask);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "invalid cpumask '" + mask.substr(0, 48) +
                                      "...': CPU id 8192 exceeds the maximum 8191");
  // Bit 8191 itself is fine, and so are leading zero words beyond it.
  std::string top = "80000000";
  for (int i = 0; i < 255; ++i) top += ",00000000";
  auto ok = CpuSet::parseMask("0,00000000," + top);
  ASSERT_TRUE(ok.ok()) << ok.error().describe();
  EXPECT_EQ(ok->ids(), v({8191}));
  EXPECT_EQ(ok->toMask(), top);
}

TEST(CpuSetFormat, RoundTripsRandomSets) {
  std::mt19937 rng(12345);  // fixed seed: deterministic
  for (int iter = 0; iter < 300; ++iter) {
    CpuSet s;
    std::uniform_int_distribution<unsigned> idDist(0, iter % 3 == 0 ? CpuSet::kMaxCpu : 200);
    std::uniform_int_distribution<int> nDist(0, 40);
    int n = nDist(rng);
    for (int k = 0; k < n; ++k) s.add(idDist(rng));
    SCOPED_TRACE(s.toList());
    auto fromList = CpuSet::parseList(s.toList());
    ASSERT_TRUE(fromList.ok()) << fromList.error().describe();
    EXPECT_EQ(*fromList, s);
    auto fromMask = CpuSet::parseMask(s.toMask());
    ASSERT_TRUE(fromMask.ok()) << fromMask.error().describe();
    EXPECT_EQ(*fromMask, s);
    EXPECT_EQ(fromMask->count(), s.count());
  }
}

TEST(CpuSetFormat, ListAndMaskAgree) {
  auto a = CpuSet::parseList("0-3,8,10-11,32,63-65");
  auto b = CpuSet::parseMask("3,80000001,00000d0f");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(b->toList(), "0-3,8,10-11,32,63-65");
}

TEST(CpuSetBasics, AddRemoveContainsCountFirstLast) {
  CpuSet s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.first(), -1);
  EXPECT_EQ(s.last(), -1);
  EXPECT_EQ(s.count(), 0U);
  s.add(70);
  s.add(3);
  s.add(3);
  EXPECT_FALSE(s.empty());
  EXPECT_TRUE(s.contains(70));
  EXPECT_FALSE(s.contains(71));
  EXPECT_FALSE(s.contains(100000));
  EXPECT_EQ(s.count(), 2U);
  EXPECT_EQ(s.first(), 3);
  EXPECT_EQ(s.last(), 70);
  s.remove(70);
  s.remove(5000);  // absent: no-op
  EXPECT_EQ(s.last(), 3);
  EXPECT_EQ(s, CpuSet({3}));
  s.remove(3);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s, CpuSet());
}

TEST(CpuSetBasics, EqualityIgnoresStorageSize) {
  CpuSet a{1, 200};
  a.remove(200);
  CpuSet b;
  b.add(1);
  b.add(500);
  b -= CpuSet{500};
  EXPECT_EQ(a, CpuSet{1});
  EXPECT_EQ(b, CpuSet{1});
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == CpuSet({1, 2}));
  EXPECT_EQ(CpuSet::range(2, 5), CpuSet({2, 3, 4, 5}));
  EXPECT_EQ(CpuSet::range(7, 7).toList(), "7");
}

TEST(CpuSetAlgebra, SetOperations) {
  struct Case {
    const char* description;
    CpuSet a, b;
    const char* unionList;
    const char* interList;
    const char* diffList;
    bool aSubsetB;
    bool intersects;
  };
  const Case cases[] = {
      {"disjoint", {0, 1}, {2, 3}, "0-3", "", "0-1", false, false},
      {"overlap", CpuSet::range(0, 5), CpuSet::range(4, 9), "0-9", "4-5", "0-3", false, true},
      {"subset", {1, 2}, CpuSet::range(0, 3), "0-3", "1-2", "", true, true},
      {"empty a", {}, {5}, "5", "", "", true, false},
      {"empty b", {5}, {}, "5", "", "5", false, false},
      {"different word counts", {1, 130}, {1}, "1,130", "1", "130", false, true},
      {"equal", {64, 65}, {64, 65}, "64-65", "64-65", "", true, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    EXPECT_EQ((c.a | c.b).toList(), c.unionList);
    EXPECT_EQ((c.a & c.b).toList(), c.interList);
    EXPECT_EQ((c.a - c.b).toList(), c.diffList);
    EXPECT_EQ(c.a.isSubsetOf(c.b), c.aSubsetB);
    EXPECT_EQ(c.a.intersects(c.b), c.intersects);
    EXPECT_EQ(c.b.intersects(c.a), c.intersects);
    CpuSet u = c.a;
    u |= c.b;
    EXPECT_EQ(u, c.a | c.b);
    CpuSet i = c.a;
    i &= c.b;
    EXPECT_EQ(i, c.a & c.b);
    CpuSet d = c.a;
    d -= c.b;
    EXPECT_EQ(d, c.a - c.b);
    EXPECT_TRUE((c.a & c.b).isSubsetOf(c.a));
    EXPECT_FALSE((c.a - c.b).intersects(c.b));
  }
}

}  // namespace
}  // namespace vnuma
