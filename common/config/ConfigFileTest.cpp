#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/config/ConfigFile.hpp"

namespace vnuma {
namespace {

ConfigFile mustParse(const std::string& text) {
  auto f = ConfigFile::parse(text, "test.toml");
  if (!f.ok()) throw std::runtime_error(f.error().describe());
  return std::move(f).value();
}

// A getter call turned into text: the value as a string, or "error: <describe()>".
using Probe = std::function<std::string(const ConfigFile&)>;

template <typename T>
std::string show(const Result<T>& r, std::function<std::string(const T&)> fmt) {
  if (!r.ok()) return "error: " + r.error().describe();
  return fmt(r.value());
}

Probe intOf(std::string key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  return [=](const ConfigFile& f) {
    return show<std::int64_t>(f.getInt(key, fallback, min, max),
                              [](const std::int64_t& v) { return std::to_string(v); });
  };
}
Probe doubleOf(std::string key, double fallback, double min, double max) {
  return [=](const ConfigFile& f) {
    return show<double>(f.getDouble(key, fallback, min, max),
                        [](const double& v) { return std::to_string(v); });
  };
}
Probe stringOf(std::string key, std::string fallback) {
  return [=](const ConfigFile& f) {
    return show<std::string>(f.getString(key, fallback), [](const std::string& v) { return v; });
  };
}
Probe enumOf(std::string key, std::string fallback, std::vector<std::string> allowed) {
  return [=](const ConfigFile& f) {
    return show<std::string>(f.getEnum(key, fallback, allowed),
                             [](const std::string& v) { return v; });
  };
}
Probe boolOf(std::string key, bool fallback) {
  return [=](const ConfigFile& f) {
    return show<bool>(f.getBool(key, fallback), [](const bool& v) { return v ? "true" : "false"; });
  };
}
Probe listOf(std::string key) {
  return [=](const ConfigFile& f) {
    return show<std::vector<std::string>>(f.getStringList(key),
                                          [](const std::vector<std::string>& v) {
                                            std::string out = "[";
                                            for (const auto& s : v)
                                              out += (out.size() > 1 ? "," : "") + s;
                                            return out + "]";
                                          });
  };
}
Probe cpusOf(std::string key, CpuSet fallback) {
  return [=](const ConfigFile& f) {
    return show<CpuSet>(f.getCpuList(key, fallback),
                        [](const CpuSet& v) { return "cpus " + v.toList(); });
  };
}

struct GetterCase {
  const char* description;
  std::string toml;
  Probe probe;
  std::string expected;
};

TEST(ConfigFileGetters, TableDriven) {
  const GetterCase cases[] = {
      {"int in range", "[agent]\nperiod_ms = 500\n", intOf("agent.period_ms", 1000, 100, 60000),
       "500"},
      {"int missing uses fallback", "[agent]\n", intOf("agent.period_ms", 1000, 100, 60000),
       "1000"},
      {"int table missing uses fallback", "", intOf("agent.period_ms", 1000, 100, 60000), "1000"},
      {"int below range is refused, not clamped", "[agent]\nperiod_ms = 5\n",
       intOf("agent.period_ms", 1000, 100, 60000),
       "error: test.toml:2:13: agent.period_ms: expected integer in [100, 60000], got 5"},
      {"int above range", "[agent]\nperiod_ms = 60001\n",
       intOf("agent.period_ms", 1000, 100, 60000),
       "error: test.toml:2:13: agent.period_ms: expected integer in [100, 60000], got 60001"},
      {"int given as string", "[agent]\nperiod_ms = \"500\"\n",
       intOf("agent.period_ms", 1000, 100, 60000),
       "error: test.toml:2:13: agent.period_ms: expected integer in [100, 60000], got string "
       "\"500\""},
      {"int given as float", "[agent]\nperiod_ms = 5.5\n",
       intOf("agent.period_ms", 1000, 100, 60000),
       "error: test.toml:2:13: agent.period_ms: expected integer in [100, 60000], got float 5.5"},
      {"negative range", "x = -3\n", intOf("x", 0, -5, -1), "-3"},
      {"prefix is not a table", "agent = 3\n", intOf("agent.period_ms", 1000, 100, 60000),
       "error: test.toml:1:9: agent: expected table, got integer 3"},
      {"double in range", "ratio = 0.75\n", doubleOf("ratio", 1.0, 0.5, 2.0), "0.750000"},
      {"double accepts an integer", "ratio = 2\n", doubleOf("ratio", 1.0, 0.5, 2.0), "2.000000"},
      {"double out of range", "ratio = 3.5\n", doubleOf("ratio", 1.0, 0.5, 2.0),
       "error: test.toml:1:9: ratio: expected number in [0.5, 2], got 3.5"},
      {"double nan refused", "ratio = nan\n", doubleOf("ratio", 1.0, 0.5, 2.0),
       "error: test.toml:1:9: ratio: expected number in [0.5, 2], got nan"},
      {"double given as bool", "ratio = true\n", doubleOf("ratio", 1.0, 0.5, 2.0),
       "error: test.toml:1:9: ratio: expected number in [0.5, 2], got boolean true"},
      {"string", "[broker]\nendpoint = \"tcp://127.0.0.1:5555\"\n",
       stringOf("broker.endpoint", "x"), "tcp://127.0.0.1:5555"},
      {"string missing", "", stringOf("broker.endpoint", "ipc:///run/vnuma"), "ipc:///run/vnuma"},
      {"string given as int", "[broker]\nendpoint = 5\n", stringOf("broker.endpoint", "x"),
       "error: test.toml:2:12: broker.endpoint: expected string, got integer 5"},
      {"string given as array", "[broker]\nendpoint = [1]\n", stringOf("broker.endpoint", "x"),
       "error: test.toml:2:12: broker.endpoint: expected string, got array"},
      {"enum allowed", "mode = \"strict\"\n", enumOf("mode", "loose", {"strict", "loose"}),
       "strict"},
      {"enum missing", "", enumOf("mode", "loose", {"strict", "loose"}), "loose"},
      {"enum not allowed lists choices", "mode = \"medium\"\n",
       enumOf("mode", "loose", {"strict", "loose"}),
       "error: test.toml:1:8: mode: expected one of [strict, loose], got \"medium\""},
      {"enum wrong type", "mode = 1\n", enumOf("mode", "loose", {"strict", "loose"}),
       "error: test.toml:1:8: mode: expected one of [strict, loose], got integer 1"},
      {"bool", "dry_run = true\n", boolOf("dry_run", false), "true"},
      {"bool missing", "", boolOf("dry_run", true), "true"},
      {"bool given as string", "dry_run = \"yes\"\n", boolOf("dry_run", false),
       "error: test.toml:1:11: dry_run: expected boolean (true or false), got string \"yes\""},
      {"string list", "vms = [\"a\", \"b\"]\n", listOf("vms"), "[a,b]"},
      {"string list missing is empty", "", listOf("vms"), "[]"},
      {"string list with a non-string", "vms = [\"a\", 2]\n", listOf("vms"),
       "error: test.toml:1:13: vms[1]: expected string, got integer 2"},
      {"string list given as string", "vms = \"a\"\n", listOf("vms"),
       "error: test.toml:1:7: vms: expected array of strings, got string \"a\""},
      {"cpu list", "[broker]\nreserved = \"0-1,8\"\n", cpusOf("broker.reserved", {}), "cpus 0-1,8"},
      {"cpu list missing", "", cpusOf("broker.reserved", {0}), "cpus 0"},
      {"cpu list reversed range", "[broker]\nreserved = \"3-1\"\n", cpusOf("broker.reserved", {}),
       "error: test.toml:2:12: broker.reserved: invalid cpulist '3-1': bad range '3-1': start is "
       "above end"},
      {"cpu list given as int", "[broker]\nreserved = 3\n", cpusOf("broker.reserved", {}),
       "error: test.toml:2:12: broker.reserved: expected a cpulist string like \"0-3,8\", got "
       "integer 3"},
      {"long string value is cut", "s = \"" + std::string(60, 'x') + "\"\n", intOf("s", 0, 0, 1),
       "error: test.toml:1:5: s: expected integer in [0, 1], got string \"" + std::string(40, 'x') +
           "...\""},
      {"inline table and dotted keys", "agent = { period_ms = 200 }\n",
       intOf("agent.period_ms", 1000, 100, 60000), "200"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto f = ConfigFile::parse(c.toml, "test.toml");
    ASSERT_TRUE(f.ok()) << f.error().describe();
    EXPECT_EQ(c.probe(*f), c.expected);
  }
}

TEST(ConfigFileParse, SyntaxErrorsCarryFileLineColumn) {
  // The "file:line:col: " prefix is ours; the description after it is toml++ 3.3's.
  struct Case {
    const char* description;
    std::string toml;
    std::string expected;
  };
  const Case cases[] = {
      {"unterminated string", "[agent]\nname = \"abc\n",
       "test.toml:2:12: Error while parsing string: unescaped control characters other than TAB "
       "(U+0009) "
       "are explicitly prohibited"},
      {"duplicate key", "a = 1\na = 2\n",
       "test.toml:2:5: Error while parsing key-value pair: cannot redefine existing integer 'a'"},
      {"missing value", "a = \n",
       "test.toml:1:5: Error while parsing key-value pair: expected value, saw '\\n'"},
      {"garbage header", "[[[\n",
       "test.toml:1:3: Error while parsing key: expected bare key starting character or string "
       "delimiter, saw '['"},
      {"value redefined as table", "a = 1\n[a]\n",
       "test.toml:2:1: Error while parsing table header: cannot redefine existing integer 'a' as "
       "table"},
      {"integer overflow", "x = 99999999999999999999\n",
       "test.toml:1:25: Error while parsing decimal integer: '99999999999999999999' is not "
       "representable in 64 bits"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto f = ConfigFile::parse(c.toml, "test.toml");
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(f.error().describe(), c.expected);
  }
}

struct UnknownCase {
  const char* description;
  std::string toml;
  std::function<void(const ConfigFile&)> reads;
  std::string expected;  // "" = no unknown keys
};

TEST(ConfigFileUnknownKeys, TableDriven) {
  auto readAgent = [](const ConfigFile& f) {
    (void)f.getInt("agent.period_ms", 1000, 100, 60000);
    (void)f.getString("agent.cgroup_root", "/sys/fs/cgroup");
    (void)f.getString("log.level", "info");
  };
  const UnknownCase cases[] = {
      {"everything read", "[agent]\nperiod_ms = 200\n[log]\nlevel = \"debug\"\n", readAgent, ""},
      {"typo in a key", "[agent]\nperod_ms = 200\n", readAgent,
       "test.toml:2:1: unknown key 'agent.perod_ms' (known in [agent]: cgroup_root, period_ms)"},
      {"unknown table", "[agnt]\nperiod_ms = 200\n", readAgent,
       "test.toml:1:2: unknown key 'agnt' (known at top level: agent, log)"},
      {"unknown top-level key", "verbose = true\n", readAgent,
       "test.toml:1:1: unknown key 'verbose' (known at top level: agent, log)"},
      {"nothing known", "x = 1\n", [](const ConfigFile&) {},
       "test.toml:1:1: unknown key 'x' (no keys are known at top level)"},
      {"first unknown is reported", "[agent]\nperiod_ms = 200\nzzz = 1\naaa = 2\n", readAgent,
       "test.toml:4:1: unknown key 'agent.aaa' (known in [agent]: cgroup_root, period_ms)"},
      {"empty known table is fine", "[agent]\n", readAgent, ""},
      {"per-VM tables via tableNames",
       "[vm.web1]\ncpus = \"0-1\"\n[vm.db]\ncpus = \"2\"\nmemroy_mb = 4\n",
       [](const ConfigFile& f) {
         for (const auto& name : f.tableNames("vm")) (void)f.getCpuList("vm." + name + ".cpus", {});
       },
       "test.toml:5:1: unknown key 'vm.db.memroy_mb' (known in [vm.db]: cpus)"},
      {"a value under a per-VM parent is not a table", "[vm]\nx = 1\n",
       [](const ConfigFile& f) { (void)f.tableNames("vm"); },
       "test.toml:2:1: unknown key 'vm.x' (no keys are known in [vm])"},
      {"an empty per-VM table is known", "[vm.web1]\n",
       [](const ConfigFile& f) { (void)f.tableNames("vm"); }, ""},
      {"has() marks as read", "[agent]\nperiod_ms = 200\n",
       [](const ConfigFile& f) { (void)f.has("agent.period_ms"); }, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto f = ConfigFile::parse(c.toml, "test.toml");
    ASSERT_TRUE(f.ok()) << f.error().describe();
    c.reads(*f);
    auto r = f->rejectUnknownKeys();
    if (c.expected.empty()) {
      EXPECT_TRUE(r.ok()) << r.error().describe();
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
      EXPECT_EQ(r.error().describe(), c.expected);
    }
  }
}

TEST(ConfigFileMisc, TableNamesHasAndSource) {
  ConfigFile f = mustParse("[vm.b]\n[vm.a]\nx = 1\n[vm]\nflag = true\n");
  EXPECT_EQ(f.tableNames("vm"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(f.tableNames("nope").empty());
  EXPECT_TRUE(f.tableNames("vm.a.x").empty());
  EXPECT_TRUE(f.has("vm.a.x"));
  EXPECT_FALSE(f.has("vm.a.y"));
  EXPECT_FALSE(f.has("vm.a.x.deeper"));
  EXPECT_EQ(f.source(), "test.toml");
}

TEST(ConfigFileLoad, ReadsAFileAndNamesMissingOnes) {
  auto missing = ConfigFile::load("/nonexistent/vnuma.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::kNotFound);
  EXPECT_EQ(missing.error().describe(),
            "cannot open config file /nonexistent/vnuma.toml: No such file or directory");

  std::string path = (std::filesystem::temp_directory_path() / "vnuma-config-test.toml").string();
  {
    std::ofstream out(path);
    out << "# comment\n[agent]\nperiod_ms = 50\n";
  }
  auto f = ConfigFile::load(path);
  ASSERT_TRUE(f.ok()) << f.error().describe();
  auto v = f->getInt("agent.period_ms", 1000, 100, 60000);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().describe(),
            path + ":3:13: agent.period_ms: expected integer in [100, 60000], got 50");
  std::filesystem::remove(path);
}

TEST(ConfigFileMisc, MovedFromKeepsWorking) {
  ConfigFile a = mustParse("k = 1\n");
  ConfigFile b = std::move(a);
  auto v = b.getInt("k", 0, 0, 5);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 1);
  EXPECT_TRUE(b.rejectUnknownKeys().ok());
}

}  // namespace
}  // namespace vnuma
