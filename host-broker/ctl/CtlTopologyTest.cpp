// Runs the real `vnumactl topology --sysfs-root <dump> --json` binary on every real sysfs dump in
// tests/data/hwloc-sysfs/ and compares with MANIFEST.json (what a correct reader must find).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct RunResult {
  int status = -1;
  std::string out;
};

RunResult run(const std::string& cmd) {
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class TempDir {
 public:
  TempDir() {
    // tmpfs when there is one: extracting 37 trees is I/O-bound on a busy disk.
    std::error_code ec;
    fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "vnumactl-topo-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(VnumactlTopology, MatchesManifestForEveryDump) {
  const fs::path dir = VNUMA_TEST_DUMP_DIR;
  std::ifstream in(dir / "MANIFEST.json");
  ASSERT_TRUE(in) << "missing " << (dir / "MANIFEST.json");
  json manifest = json::parse(in);
  ASSERT_EQ(manifest.size(), 37u);

  for (const auto& entry : manifest) {
    const std::string name = entry["name"];
    SCOPED_TRACE(name);
    TempDir tmp;
    ASSERT_EQ(
        run("tar xzf '" + (dir / (name + ".tar.gz")).string() + "' -C '" + tmp.path() + "'").status,
        0);
    RunResult r = run(std::string("'") + VNUMACTL_PATH + "' topology --sysfs-root '" + tmp.path() +
                      "' --json");
    ASSERT_EQ(r.status, 0) << r.out;
    json topo = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(topo.is_discarded()) << r.out;

    const json& nodes = entry["nodes"];
    ASSERT_EQ(topo["nodes"].size(), nodes.size());
    for (const auto& node : topo["nodes"]) {
      const std::string id = std::to_string(node["id"].get<unsigned>());
      ASSERT_TRUE(nodes.contains(id)) << "unexpected node " << id;
      const json& want = nodes[id];
      EXPECT_EQ(node["cpus"], want["cpus"]) << "node " << id;
      EXPECT_EQ(node["mem_total_kb"], want["mem_total_kb"]) << "node " << id;
      std::string dist;
      for (const auto& d : node["distances"])
        dist += (dist.empty() ? "" : " ") + std::to_string(d.get<unsigned>());
      if (!want["distance"].is_null()) {
        EXPECT_EQ(dist, want["distance"]) << "node " << id;
      }
    }
    if (!entry["cpu_online"].is_null()) {
      EXPECT_EQ(topo["online"], entry["cpu_online"]);
    }
  }
}

TEST(VnumactlTopology, MissingRootIsAnErrorNotACrash) {
  RunResult r = run(std::string("'") + VNUMACTL_PATH +
                    "' topology --sysfs-root /nonexistent-vnuma-root 2>&1");
  EXPECT_EQ(r.status, 66) << r.out;
  EXPECT_NE(r.out.find("vnumactl: "), std::string::npos) << r.out;
}

TEST(VnumactlTopology, HumanTableOnOneDump) {
  const fs::path dir = VNUMA_TEST_DUMP_DIR;
  TempDir tmp;
  ASSERT_EQ(run("tar xzf '" + (dir / "8ia64-2n2s2c.tar.gz").string() + "' -C '" + tmp.path() + "'")
                .status,
            0);
  RunResult r =
      run(std::string("'") + VNUMACTL_PATH + "' topology --sysfs-root '" + tmp.path() + "'");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("NODE  CPUS", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\n0     0-3"), std::string::npos) << r.out;
}

}  // namespace
