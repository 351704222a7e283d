#include "host-broker/sim/Scenario.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/topo/Topology.hpp"

namespace vnuma::broker::sim {

namespace {

using nlohmann::json;

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::kNotFound, "cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool parseDouble(const std::string& s, double& out) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e && std::isfinite(out);
}

void sortTrace(Trace& t) {
  std::stable_sort(t.samples.begin(), t.samples.end(), [](const Sample& a, const Sample& b) { return a.timeS < b.timeS; });
}

}  // namespace

std::vector<std::string> Trace::vmNames() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& s : samples)
    if (seen.insert(s.vm).second) out.push_back(s.vm);
  return out;
}

Result<Trace> parseTraceCsv(const std::string& text, const std::string& src) {
  Trace t;
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("time_s", 0) == 0) continue;  // header
    std::vector<std::string> cols;
    std::stringstream ls(line);
    std::string c;
    while (std::getline(ls, c, ',')) cols.push_back(trim(c));
    if (!line.empty() && line.back() == ',') cols.push_back("");
    auto where = src + ":" + std::to_string(lineNo) + ": ";
    if (cols.size() < 3)
      return Error(Errc::kInvalidArgument, where + "expected time_s,vm,cpu_demand[,mem_node0_mb,...], got '" + line + "'");
    Sample s;
    if (!parseDouble(cols[0], s.timeS) || s.timeS < 0)
      return Error(Errc::kInvalidArgument, where + "time_s must be a number >= 0, got '" + cols[0] + "'");
    s.vm = cols[1];
    if (s.vm.empty()) return Error(Errc::kInvalidArgument, where + "vm name is empty");
    if (!parseDouble(cols[2], s.cpuDemand) || s.cpuDemand < 0)
      return Error(Errc::kInvalidArgument, where + "cpu_demand must be a number >= 0, got '" + cols[2] + "'");
    for (std::size_t i = 3; i < cols.size(); ++i) {
      double m = 0;
      if (!parseDouble(cols[i], m) || m < 0)
        return Error(Errc::kInvalidArgument, where + "mem_node" + std::to_string(i - 3) + "_mb must be a number >= 0, got '" + cols[i] + "'");
      s.memMb.push_back(m);
    }
    t.samples.push_back(std::move(s));
  }
  if (t.samples.empty()) return Error(Errc::kInvalidArgument, src + ": no samples");
  sortTrace(t);
  return t;
}

namespace {

Result<Trace> samplesFromJson(const json& arr, const std::string& src) {
  Trace t;
  if (!arr.is_array()) return Error(Errc::kInvalidArgument, src + ": 'samples' must be an array");
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& e = arr[i];
    auto where = src + ": samples[" + std::to_string(i) + "]: ";
    if (!e.is_object()) return Error(Errc::kInvalidArgument, where + "expected an object");
    Sample s;
    if (!e.contains("time_s") || !e["time_s"].is_number() || e["time_s"].get<double>() < 0)
      return Error(Errc::kInvalidArgument, where + "'time_s' must be a number >= 0");
    s.timeS = e["time_s"].get<double>();
    if (!e.contains("vm") || !e["vm"].is_string() || e["vm"].get<std::string>().empty())
      return Error(Errc::kInvalidArgument, where + "'vm' must be a non-empty string");
    s.vm = e["vm"].get<std::string>();
    if (!e.contains("cpu_demand") || !e["cpu_demand"].is_number() || e["cpu_demand"].get<double>() < 0)
      return Error(Errc::kInvalidArgument, where + "'cpu_demand' must be a number >= 0");
    s.cpuDemand = e["cpu_demand"].get<double>();
    if (e.contains("mem_mb")) {
      if (!e["mem_mb"].is_array()) return Error(Errc::kInvalidArgument, where + "'mem_mb' must be an array of numbers");
      for (const auto& m : e["mem_mb"]) {
        if (!m.is_number() || m.get<double>() < 0) return Error(Errc::kInvalidArgument, where + "'mem_mb' must be an array of numbers >= 0");
        s.memMb.push_back(m.get<double>());
      }
    }
    for (const auto& [k, v] : e.items())
      if (k != "time_s" && k != "vm" && k != "cpu_demand" && k != "mem_mb")
        return Error(Errc::kInvalidArgument, where + "unknown key '" + k + "' (known: time_s, vm, cpu_demand, mem_mb)");
    t.samples.push_back(std::move(s));
  }
  if (t.samples.empty()) return Error(Errc::kInvalidArgument, src + ": no samples");
  sortTrace(t);
  return t;
}

// Seeded random bursty demand: every step_s each VM is bursting with burst_probability, at a
// uniform level in [burst_cpus_min, burst_cpus_max], else at base_cpus.
Result<Trace> generate(const json& g, const std::vector<SimVm>& vms, double durationS, const std::string& src) {
  auto num = [&](const char* k, double def) { return g.contains(k) && g[k].is_number() ? g[k].get<double>() : def; };
  std::string kind = g.contains("kind") && g["kind"].is_string() ? g["kind"].get<std::string>() : "";
  if (kind != "random_bursty")
    return Error(Errc::kInvalidArgument, src + ": generator.kind must be \"random_bursty\", got '" + kind + "'");
  std::mt19937_64 rng(static_cast<std::uint64_t>(num("seed", 1)));
  const double step = num("step_s", 10);
  if (step <= 0) return Error(Errc::kInvalidArgument, src + ": generator.step_s must be > 0");
  const double base = num("base_cpus", 0.5), lo = num("burst_cpus_min", 2), hi = num("burst_cpus_max", 8),
               p = num("burst_probability", 0.3);
  if (lo > hi || p < 0 || p > 1 || base < 0)
    return Error(Errc::kInvalidArgument, src + ": generator needs 0 <= base_cpus, burst_cpus_min <= burst_cpus_max, 0 <= burst_probability <= 1");
  Trace t;
  std::uniform_real_distribution<double> u01(0, 1);
  for (double ts = 0; ts < durationS; ts += step)
    for (const auto& vm : vms) {
      bool burst = u01(rng) < p;
      double level = burst ? lo + (hi - lo) * u01(rng) : base;
      t.samples.push_back({ts, vm.name, std::round(level * 100) / 100, {}});
    }
  sortTrace(t);
  return t;
}

}  // namespace

Result<Trace> parseTraceJson(const std::string& text, const std::string& src) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error(Errc::kInvalidArgument, src + ": not valid JSON");
  if (j.is_array()) return samplesFromJson(j, src);
  if (!j.is_object() || !j.contains("samples")) return Error(Errc::kInvalidArgument, src + ": expected {\"samples\":[...]}");
  return samplesFromJson(j["samples"], src);
}

Result<Trace> loadTrace(const std::string& path) {
  auto text = readFile(path);
  if (!text) return text.error();
  auto ext = std::filesystem::path(path).extension().string();
  if (ext == ".csv") return parseTraceCsv(*text, path);
  if (ext == ".json") return parseTraceJson(*text, path);
  return Error(Errc::kInvalidArgument, path + ": unknown trace format (use .csv or .json)");
}

Result<Scenario> loadScenario(const std::string& path) {
  auto text = readFile(path);
  if (!text) return text.error();
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::kInvalidArgument, path + ": not a JSON object");
  static const std::set<std::string> known{"name", "description", "host", "sysfs", "reserved", "duration_s", "seed",
                                           "ack_delay_ms", "ack_timeout_ms", "report_period_ms", "vms", "trace",
                                           "samples", "generator"};
  for (const auto& [k, v] : j.items())
    if (!known.count(k)) return Error(Errc::kInvalidArgument, path + ": unknown key '" + k + "'");
  Scenario s;
  const auto dir = std::filesystem::path(path).parent_path();
  s.name = j.value("name", std::filesystem::path(path).stem().string());
  s.description = j.value("description", "");
  if (j.contains("host") == j.contains("sysfs"))
    return Error(Errc::kInvalidArgument, path + ": give exactly one of 'host' (a spec) or 'sysfs' (a dump directory)");
  if (j.contains("host")) {
    s.hostText = j["host"].get<std::string>();
    auto h = HostModel::fromSpec(s.hostText);
    if (!h) return std::move(h).error().context(path);
    s.host = std::move(*h);
  } else {
    auto root = (dir / j["sysfs"].get<std::string>()).string();
    s.hostText = root;
    auto topo = Topology::read(root);
    if (!topo) return std::move(topo).error().context(path);
    CpuSet reserved;
    if (j.contains("reserved")) {
      auto r = CpuSet::parseList(j["reserved"].get<std::string>());
      if (!r) return std::move(r).error().context(path + ": reserved");
      reserved = *r;
    }
    auto h = HostModel::fromTopology(*topo, reserved, 0);
    if (!h) return std::move(h).error().context(path);
    s.host = std::move(*h);
  }
  auto number = [&](const char* k, double def, double min, double max) -> Result<double> {
    if (!j.contains(k)) return def;
    if (!j[k].is_number()) return Error(Errc::kInvalidArgument, path + ": '" + k + "' must be a number");
    double v = j[k].get<double>();
    if (v < min || v > max)
      return Error(Errc::kInvalidArgument, path + ": '" + k + "' must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return v;
  };
  auto d = number("duration_s", 300, 1, 86400);
  if (!d) return d.error();
  s.durationS = *d;
  auto seed = number("seed", 1, 0, 1e15);
  if (!seed) return seed.error();
  s.seed = static_cast<std::uint64_t>(*seed);
  auto to = number("ack_timeout_ms", 500, 1, 60000);
  if (!to) return to.error();
  s.ackTimeoutMs = *to;
  auto rp = number("report_period_ms", 1000, 10, 60000);
  if (!rp) return rp.error();
  s.reportPeriodMs = *rp;
  if (j.contains("ack_delay_ms")) {
    const auto& a = j["ack_delay_ms"];
    if (!a.is_array() || a.size() != 2 || !a[0].is_number() || !a[1].is_number() || a[0].get<double>() < 0 ||
        a[1].get<double>() < a[0].get<double>())
      return Error(Errc::kInvalidArgument, path + ": 'ack_delay_ms' must be [min, max] with 0 <= min <= max");
    s.ackDelayMinMs = a[0].get<double>();
    s.ackDelayMaxMs = a[1].get<double>();
  }
  if (!j.contains("vms") || !j["vms"].is_array() || j["vms"].empty())
    return Error(Errc::kInvalidArgument, path + ": 'vms' must be a non-empty array");
  static const std::set<std::string> vmKeys{"name", "floor", "ceiling", "weight", "boot_mem_mb", "vmem_mb", "drops_acks", "count"};
  for (std::size_t i = 0; i < j["vms"].size(); ++i) {
    const auto& v = j["vms"][i];
    auto where = path + ": vms[" + std::to_string(i) + "]: ";
    if (!v.is_object() || !v.contains("name") || !v["name"].is_string())
      return Error(Errc::kInvalidArgument, where + "needs a 'name'");
    for (const auto& [k, x] : v.items())
      if (!vmKeys.count(k)) return Error(Errc::kInvalidArgument, where + "unknown key '" + k + "'");
    SimVm vm;
    vm.name = v["name"].get<std::string>();
    vm.floor = v.value("floor", 1u);
    vm.ceiling = v.value("ceiling", 0u);
    vm.weight = v.value("weight", 1.0);
    vm.bootMemMb = v.value("boot_mem_mb", 1024.0);
    vm.vmemMb = v.value("vmem_mb", 0.0);
    vm.dropsAcks = v.value("drops_acks", false);
    unsigned count = v.value("count", 1u);  // "count": N expands to name1..nameN
    if (count == 1) {
      s.vms.push_back(vm);
    } else {
      for (unsigned c = 1; c <= count; ++c) {
        auto copy = vm;
        copy.name = vm.name + std::to_string(c);
        s.vms.push_back(copy);
      }
    }
  }
  int sources = int(j.contains("trace")) + int(j.contains("samples")) + int(j.contains("generator"));
  if (sources != 1) return Error(Errc::kInvalidArgument, path + ": give exactly one of 'trace', 'samples' or 'generator'");
  Result<Trace> tr = Trace{};
  if (j.contains("trace")) tr = loadTrace((dir / j["trace"].get<std::string>()).string());
  else if (j.contains("samples")) tr = samplesFromJson(j["samples"], path);
  else tr = generate(j["generator"], s.vms, s.durationS, path);
  if (!tr) return tr.error();
  s.trace = std::move(*tr);
  std::set<std::string> names;
  for (const auto& vm : s.vms) names.insert(vm.name);
  for (const auto& n : s.trace.vmNames())
    if (!names.count(n)) return Error(Errc::kInvalidArgument, path + ": trace mentions vm '" + n + "' which is not in 'vms'");
  return s;
}

DemandCursor::DemandCursor(const Trace& trace) : trace_(trace) {}

void DemandCursor::advanceTo(double t) {
  while (next_ < trace_.samples.size() && trace_.samples[next_].timeS <= t + 1e-9) {
    const auto& s = trace_.samples[next_++];
    cpu_[s.vm] = s.cpuDemand;
    if (!s.memMb.empty()) mem_[s.vm] = s.memMb;
  }
}

double DemandCursor::cpu(const std::string& vm) const {
  auto it = cpu_.find(vm);
  return it == cpu_.end() ? 0.0 : it->second;
}

const std::vector<double>* DemandCursor::memMb(const std::string& vm) const {
  auto it = mem_.find(vm);
  return it == mem_.end() ? nullptr : &it->second;
}

}  // namespace vnuma::broker::sim
