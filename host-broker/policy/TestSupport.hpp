#pragma once
// Test helpers shared by the policy tests and the simulator test (not part of the library):
// real sysfs dumps as hosts, the report an agent would send for a given demand, and driving a
// plan through the executor with every agent acking.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/topo/Topology.hpp"
#include "host-broker/ledger/Ledger.hpp"
#include "host-broker/ledger/PlanExecutor.hpp"
#include "host-broker/model/Plan.hpp"

namespace vnuma {
// gtest prints CpuSets in failure messages as cpulists ("0-3,8") instead of raw bytes.
inline void PrintTo(const CpuSet& s, std::ostream* os) { *os << "{" << s.toList() << "}"; }
}  // namespace vnuma

namespace vnuma::broker::testing {

// A temporary directory on tmpfs when there is one, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "vnuma-policy-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

inline std::string testDataDir() {
  const char* src = std::getenv("VNUMA_SOURCE_DIR");
  return src ? std::string(src) + "/tests/data/hwloc-sysfs" : std::string();
}

// Extracts a dump of tests/data/hwloc-sysfs (it must be listed in MANIFEST.json) into `dir`.
// Returns an empty string on success, else what went wrong.
inline std::string extractDump(const std::string& name, const std::string& dir) {
  const std::string data = testDataDir();
  if (data.empty()) return "VNUMA_SOURCE_DIR is not set (run through ctest)";
  std::ifstream in(data + "/MANIFEST.json");
  bool listed = false;
  for (const auto& d : nlohmann::json::parse(in, nullptr, false))
    listed = listed || (d.is_object() && d.value("name", "") == name);
  if (!listed) return name + " is not in " + data + "/MANIFEST.json";
  const std::string cmd = "tar xzf '" + data + "/" + name + ".tar.gz' -C '" + dir + "'";
  return std::system(cmd.c_str()) == 0 ? std::string() : "failed: " + cmd;
}

// The host of a real machine (no reserved pCPUs, no memory reserve); extracted once per process.
inline const HostModel& sysfsHost(const std::string& name) {
  static std::map<std::string, HostModel> cache;
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  TempDir dir;
  if (auto err = extractDump(name, dir.path()); !err.empty()) throw std::runtime_error(err);
  auto topo = Topology::read(dir.path());
  if (!topo) throw std::runtime_error(name + ": " + topo.error().describe());
  auto host = HostModel::fromTopology(*topo, {}, 0);
  if (!host) throw std::runtime_error(name + ": " + host.error().describe());
  return cache.emplace(name, std::move(*host)).first->second;
}

// What an agent reports when its VM wants `demand` CPUs and the guest runs on `granted`: each
// granted vCPU equally busy, ceil(demand) runnable tasks, CPU pressure for the part not served.
inline VmReport reportFor(const CpuSet& granted, double demand) {
  VmReport r;
  const double g = static_cast<double>(granted.count());
  const double used = std::min(g, demand);
  for (unsigned p : granted.ids()) r.vcpuBusy[p] = g > 0 ? used / g : 0;
  r.appliedPcpus = granted;
  r.runnable = static_cast<unsigned>(
      std::ceil(std::max(0.0, demand) - 1e-9));  // tests pass negative demand too
  r.cpuPressureSome = demand > g && demand > 0 ? 100.0 * (demand - g) / demand : 0;
  return r;
}

// Carries a plan out with agents that ack at once: executor edits, every VM acks its latest
// generation, and again until nothing is left to send (the second phase of each handoff).
// Every edit the executor produces must be accepted by the ledger.
inline void executeAndAck(Ledger& ledger, const Plan& plan) {
  for (int round = 0; round < 4; ++round) {
    auto steps = planSteps(ledger, plan);
    if (steps.edits.empty()) return;
    for (const auto& e : steps.edits) {
      auto r = ledger.apply(e);
      ASSERT_TRUE(r.ok()) << "the executor produced a refused edit: " << r.error().describe();
    }
    std::vector<AckGeneration> acks;
    for (const auto& [u, v] : ledger.vms()) acks.push_back({u, v.lastGeneration});
    for (const auto& a : acks) {
      auto r = ledger.apply(a);
      ASSERT_TRUE(r.ok()) << r.error().describe();
    }
  }
}

}  // namespace vnuma::broker::testing
