#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/topo/Topology.hpp"

namespace vnuma {
namespace {

namespace fs = std::filesystem;

using Files = std::map<std::string, std::string>;  // path relative to the root -> content

class TempDir {
 public:
  TempDir() {
    // tmpfs when there is one: extracting 37 dumps of thousands of small files onto a disk
    // filesystem takes minutes under load, on /dev/shm about a second.
    std::error_code ec;
    fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "vnuma-topo-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

  void write(const Files& files) const {
    for (const auto& [rel, content] : files) {
      fs::path p = path_ / rel;
      fs::create_directories(p.parent_path());
      std::ofstream out(p, std::ios::binary);
      out << content;
    }
  }

 private:
  fs::path path_;
};

const std::string kCpu = "sys/devices/system/cpu/";
const std::string kNode = "sys/devices/system/node/";

std::string meminfo(unsigned node, std::uint64_t kb) {
  return "Node " + std::to_string(node) + " MemTotal:       " + std::to_string(kb) + " kB\nNode " +
         std::to_string(node) + " MemFree:        1024 kB\n";
}

// A CPU with a topology directory.
void addCpu(Files& f, unsigned id, int package, int core, const std::string& siblings) {
  const std::string d = kCpu + "cpu" + std::to_string(id) + "/";
  if (id != 0) f[d + "online"] = "1\n";
  f[d + "topology/physical_package_id"] = std::to_string(package) + "\n";
  f[d + "topology/core_id"] = std::to_string(core) + "\n";
  f[d + "topology/thread_siblings_list"] = siblings + "\n";
}

void addNode(Files& f, unsigned id, const std::string& cpulist, std::uint64_t kb,
             const std::string& distance) {
  const std::string d = kNode + "node" + std::to_string(id) + "/";
  f[d + "cpulist"] = cpulist + "\n";
  f[d + "meminfo"] = meminfo(id, kb);
  f[d + "distance"] = distance + "\n";
}

struct ExpectNode {
  unsigned id;
  std::string cpus;
  std::string from;
  std::uint64_t memKb;
  std::vector<unsigned> distances;
};

struct ExpectCpu {
  unsigned id;
  bool online;
  int node;
  int package;
  int core;
  std::string siblings;
};

struct FixtureCase {
  const char* description;
  Files files;
  std::vector<ExpectNode> nodes;
  std::string online;
  std::string isolated;
  std::vector<ExpectCpu> cpus;  // every CPU, ascending
};

std::vector<FixtureCase> fixtureCases() {
  std::vector<FixtureCase> cases;
  {
    FixtureCase c{"two nodes, SMT pairs", {}, {}, "0-3", "", {}};
    c.files[kCpu + "online"] = "0-3\n";
    c.files[kCpu + "present"] = "0-3\n";
    addCpu(c.files, 0, 0, 0, "0,2");
    addCpu(c.files, 1, 1, 0, "1,3");
    addCpu(c.files, 2, 0, 0, "0,2");
    addCpu(c.files, 3, 1, 0, "1,3");
    addNode(c.files, 0, "0,2", 4096, "10 20");
    addNode(c.files, 1, "1,3", 8192, "20 10");
    c.nodes = {{0, "0,2", "cpulist", 4096, {10, 20}}, {1, "1,3", "cpulist", 8192, {20, 10}}};
    c.cpus = {{0, true, 0, 0, 0, "0,2"},
              {1, true, 1, 1, 0, "1,3"},
              {2, true, 0, 0, 0, "0,2"},
              {3, true, 1, 1, 0, "1,3"}};
    cases.push_back(std::move(c));
  }
  {
    FixtureCase c{"sparse node ids with CPU-less memory nodes", {}, {}, "0-1", "", {}};
    c.files[kCpu + "online"] = "0-1\n";
    addCpu(c.files, 0, 0, 0, "0");
    addCpu(c.files, 1, 0, 1, "1");
    addNode(c.files, 0, "0", 1000, "10 40 80");
    addNode(c.files, 8, "1", 2000, "40 10 80");
    addNode(c.files, 250, "", 3000, "80 80 10");
    c.nodes = {{0, "0", "cpulist", 1000, {10, 40, 80}},
               {8, "1", "cpulist", 2000, {40, 10, 80}},
               {250, "", "cpulist", 3000, {80, 80, 10}}};
    c.cpus = {{0, true, 0, 0, 0, "0"}, {1, true, 8, 0, 1, "1"}};
    cases.push_back(std::move(c));
  }
  {
    FixtureCase c{"memory-less node with CPUs", {}, {}, "0-1", "", {}};
    c.files[kCpu + "online"] = "0-1\n";
    addCpu(c.files, 0, 0, 0, "0");
    addCpu(c.files, 1, 0, 1, "1");
    addNode(c.files, 0, "0", 1000, "10 20");
    addNode(c.files, 1, "1", 0, "20 10");
    c.nodes = {{0, "0", "cpulist", 1000, {10, 20}}, {1, "1", "cpulist", 0, {20, 10}}};
    c.cpus = {{0, true, 0, 0, 0, "0"}, {1, true, 1, 0, 1, "1"}};
    cases.push_back(std::move(c));
  }
  {
    FixtureCase c{"offline CPUs have no topology dir; isolated CPUs", {}, {}, "0-1,3", "3", {}};
    c.files[kCpu + "online"] = "0-1,3\n";
    c.files[kCpu + "present"] = "0-3\n";
    c.files[kCpu + "isolated"] = "3\n";
    addCpu(c.files, 0, 0, 0, "0");
    addCpu(c.files, 1, 0, 1, "1");
    c.files[kCpu + "cpu2/online"] = "0\n";
    addCpu(c.files, 3, 0, 3, "3");
    addNode(c.files, 0, "0-3", 1000, "10");
    c.nodes = {{0, "0-3", "cpulist", 1000, {10}}};
    c.cpus = {{0, true, 0, 0, 0, "0"},
              {1, true, 0, 0, 1, "1"},
              {2, false, 0, -1, -1, "2"},
              {3, true, 0, 0, 3, "3"}};
    cases.push_back(std::move(c));
  }
  {
    FixtureCase c{
        "old kernel: cpumap and thread_siblings masks, no cpu/online", {}, {}, "0-2", "", {}};
    for (unsigned id = 0; id < 4; ++id) {
      const std::string d = kCpu + "cpu" + std::to_string(id) + "/";
      c.files[d + "topology/physical_package_id"] = "0\n";
      c.files[d + "topology/core_id"] = std::to_string(id / 2) + "\n";
      c.files[d + "topology/thread_siblings"] = id < 2 ? "00000003\n" : "0000000c\n";
    }
    c.files[kCpu + "cpu3/online"] = "0\n";
    c.files[kNode + "node0/cpumap"] = "00000000,0000000f\n";
    c.files[kNode + "node0/meminfo"] = meminfo(0, 5000);
    c.files[kNode + "node0/distance"] = "10\n";
    c.nodes = {{0, "0-3", "cpumap", 5000, {10}}};
    c.cpus = {{0, true, 0, 0, 0, "0-1"},
              {1, true, 0, 0, 0, "0-1"},
              {2, true, 0, 0, 1, "2-3"},
              {3, false, 0, 0, 1, "2-3"}};
    cases.push_back(std::move(c));
  }
  {
    FixtureCase c{"NUL-padded files", {}, {}, "0-1", "", {}};
    const std::string pad(8, '\0');
    c.files[kCpu + "online"] = "0-1\n" + pad;
    c.files[kCpu + "cpu0/topology/physical_package_id"] = "0\n" + pad;
    c.files[kCpu + "cpu0/topology/core_id"] = "0" + pad;
    c.files[kCpu + "cpu0/topology/thread_siblings_list"] = "0-1\n" + pad;
    c.files[kCpu + "cpu1/online"] = "1" + pad;
    c.files[kCpu + "cpu1/topology/physical_package_id"] = "0\n" + pad;
    c.files[kCpu + "cpu1/topology/core_id"] = "0\n" + pad;
    c.files[kCpu + "cpu1/topology/thread_siblings_list"] = "0-1" + pad;
    c.files[kNode + "node0/cpulist"] = "0-1\n" + pad;
    c.files[kNode + "node0/meminfo"] = meminfo(0, 777) + pad;
    c.files[kNode + "node0/distance"] = "10\n" + pad;
    c.nodes = {{0, "0-1", "cpulist", 777, {10}}};
    c.cpus = {{0, true, 0, 0, 0, "0-1"}, {1, true, 0, 0, 0, "0-1"}};
    cases.push_back(std::move(c));
  }
  {
    FixtureCase c{
        "no node directory: one implicit node, MemTotal from proc/meminfo", {}, {}, "0-1", "", {}};
    c.files[kCpu + "online"] = "0-1\n";
    c.files[kCpu + "present"] = "0-1\n";
    addCpu(c.files, 0, 0, 0, "0");
    addCpu(c.files, 1, 0, 1, "1");
    c.files["proc/meminfo"] = "MemTotal:        2048000 kB\nMemFree:  100 kB\n";
    c.nodes = {{0, "0-1", "implicit", 2048000, {10}}};
    c.cpus = {{0, true, 0, 0, 0, "0"}, {1, true, 0, 0, 1, "1"}};
    cases.push_back(std::move(c));
  }
  {
    FixtureCase c{
        "overlapping node cpus (buggy firmware): lowest node wins", {}, {}, "0-1", "", {}};
    c.files[kCpu + "online"] = "0-1\n";
    addCpu(c.files, 0, 0, 0, "0");
    addCpu(c.files, 1, 0, 1, "1");
    addNode(c.files, 3, "0-1", 10, "10 10");
    addNode(c.files, 1, "1", 10, "10 10");
    c.nodes = {{1, "1", "cpulist", 10, {10, 10}}, {3, "0-1", "cpulist", 10, {10, 10}}};
    c.cpus = {{0, true, 3, 0, 0, "0"}, {1, true, 1, 0, 1, "1"}};
    cases.push_back(std::move(c));
  }
  {
    FixtureCase c{"present CPU without a directory; stray entries ignored", {}, {}, "0", "", {}};
    c.files[kCpu + "online"] = "0\n";
    c.files[kCpu + "present"] = "0-1\n";
    c.files[kCpu + "cpufreq/boost"] = "1\n";
    c.files[kCpu + "cpu0x/junk"] = "x\n";
    c.files[kNode + "nodeA/cpulist"] = "zz\n";
    addCpu(c.files, 0, 0, 0, "0");
    addNode(c.files, 0, "0-1", 10, "10");
    c.nodes = {{0, "0-1", "cpulist", 10, {10}}};
    c.cpus = {{0, true, 0, 0, 0, "0"}, {1, false, 0, -1, -1, "1"}};
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST(TopologyFixtures, ReadsLiteralTrees) {
  for (const auto& c : fixtureCases()) {
    SCOPED_TRACE(c.description);
    TempDir dir;
    dir.write(c.files);
    auto topo = Topology::read(dir.path().string());
    ASSERT_TRUE(topo.ok()) << topo.error().describe();
    ASSERT_EQ(topo->nodes.size(), c.nodes.size());
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
      const auto& n = topo->nodes[i];
      const auto& e = c.nodes[i];
      SCOPED_TRACE("node " + std::to_string(e.id));
      EXPECT_EQ(n.id, e.id);
      EXPECT_EQ(n.cpus.toList(), e.cpus);
      EXPECT_EQ(n.cpusFrom, e.from);
      EXPECT_EQ(n.memTotalKb, e.memKb);
      EXPECT_EQ(n.distances, e.distances);
      ASSERT_NE(topo->node(e.id), nullptr);
      EXPECT_EQ(topo->node(e.id)->id, e.id);
    }
    EXPECT_EQ(topo->online.toList(), c.online);
    EXPECT_EQ(topo->isolated.toList(), c.isolated);
    ASSERT_EQ(topo->cpus.size(), c.cpus.size());
    for (std::size_t i = 0; i < c.cpus.size(); ++i) {
      const auto& got = topo->cpus[i];
      const auto& e = c.cpus[i];
      SCOPED_TRACE("cpu " + std::to_string(e.id));
      EXPECT_EQ(got.id, e.id);
      EXPECT_EQ(got.online, e.online);
      EXPECT_EQ(got.node, e.node);
      EXPECT_EQ(got.package, e.package);
      EXPECT_EQ(got.core, e.core);
      EXPECT_EQ(got.siblings.toList(), e.siblings);
      EXPECT_EQ(topo->nodeOfCpu(e.id), e.node);
      ASSERT_NE(topo->cpu(e.id), nullptr);
    }
    EXPECT_EQ(topo->cpu(5000), nullptr);
    EXPECT_EQ(topo->node(5000), nullptr);
    EXPECT_EQ(topo->nodeOfCpu(5000), -1);
  }
}

struct BrokenCase {
  const char* description;
  Files files;
  std::string message;  // "{root}" stands for the fixture root
};

TEST(TopologyFixtures, BrokenFilesAreNamedInTheError) {
  Files base;
  base[kCpu + "online"] = "0-1\n";
  addCpu(base, 0, 0, 0, "0");
  addCpu(base, 1, 0, 1, "1");
  addNode(base, 0, "0-1", 1000, "10");
  auto with = [&](std::initializer_list<std::pair<const std::string, std::string>> changes) {
    Files f = base;
    for (const auto& [k, v] : changes) f[k] = v;
    return f;
  };
  auto cpumapOnly = [&](const std::string& mask) {
    Files f = base;
    f.erase(kNode + "node0/cpulist");  // cpumap is only read when cpulist is absent
    f[kNode + "node0/cpumap"] = mask;
    return f;
  };
  const BrokenCase cases[] = {
      {"bad node cpulist", with({{kNode + "node0/cpulist", "0-x\n"}}),
       "reading {root}/" + kNode +
           "node0/cpulist: invalid cpulist '0-x\\x0a': bad range '0-x': missing end"},
      {"reversed range in cpu/online", with({{kCpu + "online", "1-0\n"}}),
       "reading {root}/" + kCpu +
           "online: invalid cpulist '1-0\\x0a': bad range '1-0': start is above end"},
      {"bad cpumap", cpumapOnly("zz\n"),
       "reading {root}/" + kNode +
           "node0/cpumap: invalid cpumask 'zz\\x0a': bad hex digit 'z' in word 'zz'"},
      {"meminfo without MemTotal", with({{kNode + "node0/meminfo", "Node 0 MemFree: 5 kB\n"}}),
       "{root}/" + kNode + "node0/meminfo: no MemTotal line"},
      {"meminfo with a bad number", with({{kNode + "node0/meminfo", "Node 0 MemTotal: lots kB\n"}}),
       "{root}/" + kNode + "node0/meminfo: malformed MemTotal line 'Node 0 MemTotal: lots kB'"},
      {"meminfo with a bad unit", with({{kNode + "node0/meminfo", "Node 0 MemTotal: 12 MB\n"}}),
       "{root}/" + kNode + "node0/meminfo: malformed MemTotal line 'Node 0 MemTotal: 12 MB'"},
      {"distance with junk", with({{kNode + "node0/distance", "10 2x\n"}}),
       "{root}/" + kNode + "node0/distance: expected space-separated distances, got '10 2x'"},
      {"core_id not a number", with({{kCpu + "cpu1/topology/core_id", "one\n"}}),
       "{root}/" + kCpu + "cpu1/topology/core_id: expected an integer, got 'one'"},
      {"empty physical_package_id", with({{kCpu + "cpu0/topology/physical_package_id", "\n"}}),
       "{root}/" + kCpu + "cpu0/topology/physical_package_id: expected an integer, got ''"},
      {"bad thread_siblings_list", with({{kCpu + "cpu0/topology/thread_siblings_list", "0,,1\n"}}),
       "reading {root}/" + kCpu +
           "cpu0/topology/thread_siblings_list: invalid cpulist '0,,1\\x0a': empty element at "
           "offset 2"},
      {"bad isolated", with({{kCpu + "isolated", "a\n"}}),
       "reading {root}/" + kCpu +
           "isolated: invalid cpulist 'a\\x0a': bad element 'a': expected a CPU id or a range like "
           "0-3"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    TempDir dir;
    dir.write(c.files);
    std::string expected = c.message;
    auto pos = expected.find("{root}");
    expected.replace(pos, 6, dir.path().string());
    auto topo = Topology::read(dir.path().string());
    ASSERT_FALSE(topo.ok());
    EXPECT_EQ(topo.error().describe(), expected);
  }
}

TEST(TopologyFixtures, MissingRootAndNodeWithoutCpuFiles) {
  TempDir dir;
  auto none = Topology::read((dir.path() / "nope").string());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Errc::kNotFound);
  EXPECT_EQ(none.error().describe(), (dir.path() / "nope").string() +
                                         "/sys/devices/system/cpu: no such directory (is " +
                                         (dir.path() / "nope").string() + " a sysfs root?)");

  Files f;
  addCpu(f, 0, 0, 0, "0");
  f[kNode + "node0/meminfo"] = meminfo(0, 1);
  dir.write(f);
  auto topo = Topology::read(dir.path().string());
  ASSERT_FALSE(topo.ok());
  EXPECT_EQ(topo.error().describe(),
            dir.path().string() + "/" + kNode + "node0: neither cpulist nor cpumap present");
}

TEST(TopologyJson, MatchesDocumentedShape) {
  TempDir dir;
  Files f;
  f[kCpu + "online"] = "0\n";
  f[kCpu + "present"] = "0-1\n";
  f[kCpu + "isolated"] = "0\n";
  addCpu(f, 0, 0, 0, "0");
  addNode(f, 0, "0-1", 1024, "10 20");
  addNode(f, 2, "", 2048, "20 10");
  dir.write(f);
  auto topo = Topology::read(dir.path().string());
  ASSERT_TRUE(topo.ok()) << topo.error().describe();
  EXPECT_EQ(
      topologyToJson(*topo),
      R"({"cpus":[{"core":0,"id":0,"node":0,"online":true,"package":0,"siblings":"0"},)"
      R"({"core":-1,"id":1,"node":0,"online":false,"package":-1,"siblings":"1"}],)"
      R"("isolated":"0","nodes":[{"cpus":"0-1","distances":[10,20],"id":0,"mem_total_kb":1024},)"
      R"({"cpus":"","distances":[20,10],"id":2,"mem_total_kb":2048}],"online":"0"})");
}

std::string sourceDir() {
  const char* env = std::getenv("VNUMA_SOURCE_DIR");
  return env != nullptr ? env : "";
}

std::string joinDistances(const std::vector<unsigned>& d) {
  std::string out;
  for (unsigned v : d) {
    if (!out.empty()) out += ' ';
    out += std::to_string(v);
  }
  return out;
}

TEST(TopologyRealDumps, MatchesManifestForEveryDump) {
  const std::string src = sourceDir();
  ASSERT_FALSE(src.empty()) << "VNUMA_SOURCE_DIR is not set (run through ctest)";
  const fs::path data = fs::path(src) / "tests/data/hwloc-sysfs";
  std::ifstream in(data / "MANIFEST.json");
  ASSERT_TRUE(in.good()) << "cannot open " << (data / "MANIFEST.json");
  const auto manifest = nlohmann::json::parse(in);
  ASSERT_EQ(manifest.size(), 37U);

  for (const auto& dump : manifest) {
    const std::string name = dump.at("name").get<std::string>();
    SCOPED_TRACE(name);
    TempDir dir;
    const std::string cmd =
        "tar xzf '" + (data / (name + ".tar.gz")).string() + "' -C '" + dir.path().string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

    auto topo = Topology::read(dir.path().string());
    ASSERT_TRUE(topo.ok()) << topo.error().describe();

    const auto& nodes = dump.at("nodes");
    ASSERT_EQ(topo->nodes.size(), nodes.size());
    for (const auto& [key, expect] : nodes.items()) {
      const unsigned id = static_cast<unsigned>(std::stoul(key));
      SCOPED_TRACE("node " + key);
      const NodeInfo* n = topo->node(id);
      ASSERT_NE(n, nullptr);
      auto cpus = CpuSet::parseList(expect.at("cpus").get<std::string>());
      ASSERT_TRUE(cpus.ok());
      EXPECT_EQ(n->cpus, *cpus) << n->cpus.toList();
      EXPECT_EQ(n->cpus.count(), expect.at("cpu_count").get<std::size_t>());
      EXPECT_EQ(n->cpusFrom, expect.at("cpus_from").get<std::string>());
      EXPECT_EQ(n->memTotalKb, expect.at("mem_total_kb").get<std::uint64_t>());
      if (expect.at("distance").is_null()) {
        EXPECT_TRUE(n->distances.empty());  // the dump has no distance file
      } else {
        EXPECT_EQ(joinDistances(n->distances), expect.at("distance").get<std::string>());
      }
    }
    if (!dump.at("cpu_online").is_null()) {
      EXPECT_EQ(topo->online.toList(), dump.at("cpu_online").get<std::string>());
    }
    // Consistency that holds on every machine: each online CPU is a known CPU, every CPU's
    // node (when set) lists it, and every CPU is among its own siblings.
    for (unsigned id : topo->online.ids()) EXPECT_NE(topo->cpu(id), nullptr) << "cpu " << id;
    for (const auto& c : topo->cpus) {
      if (c.node >= 0) {
        const NodeInfo* n = topo->node(static_cast<unsigned>(c.node));
        ASSERT_NE(n, nullptr);
        EXPECT_TRUE(n->cpus.contains(c.id)) << "cpu " << c.id;
      }
      EXPECT_TRUE(c.siblings.contains(c.id)) << "cpu " << c.id;
    }
    // The JSON form is valid and agrees on the counts.
    auto j = nlohmann::json::parse(topologyToJson(*topo));
    EXPECT_EQ(j.at("nodes").size(), topo->nodes.size());
    EXPECT_EQ(j.at("cpus").size(), topo->cpus.size());
  }
}

TEST(TopologyRealDumps, SpotChecksCpuDetails) {
  const std::string src = sourceDir();
  ASSERT_FALSE(src.empty());
  const fs::path data = fs::path(src) / "tests/data/hwloc-sysfs";
  TempDir dir;
  const std::string cmd = "tar xzf '" + (data / "offline-cpu0-node0.tar.gz").string() + "' -C '" +
                          dir.path().string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto topo = Topology::read(dir.path().string());
  ASSERT_TRUE(topo.ok()) << topo.error().describe();
  ASSERT_NE(topo->cpu(0), nullptr);
  EXPECT_FALSE(topo->cpu(0)->online);  // cpu0 offline, a case naive readers get wrong
  EXPECT_EQ(topo->cpu(0)->node, -1);   // node0 is gone from this dump
  EXPECT_EQ(topo->cpu(0)->package, -1);
  ASSERT_NE(topo->cpu(5), nullptr);
  EXPECT_TRUE(topo->cpu(5)->online);
  EXPECT_EQ(topo->cpu(5)->node, 1);
  EXPECT_EQ(topo->cpus.size(), 24U);
}

TEST(TopologyLive, ReadsThisMachine) {
  auto topo = Topology::read("/");
  ASSERT_TRUE(topo.ok()) << topo.error().describe();
  EXPECT_FALSE(topo->nodes.empty());
  EXPECT_FALSE(topo->cpus.empty());
  EXPECT_FALSE(topo->online.empty());
  // Whatever this machine is, the CPU we run on is online and known.
  EXPECT_NE(topo->cpu(static_cast<unsigned>(topo->online.first())), nullptr);
  for (const auto& c : topo->cpus) {
    if (c.node >= 0) {
      EXPECT_TRUE(topo->node(static_cast<unsigned>(c.node))->cpus.contains(c.id));
    }
  }
  EXPECT_EQ(nlohmann::json::parse(topologyToJson(*topo)).at("cpus").size(), topo->cpus.size());
}

}  // namespace
}  // namespace vnuma
