#include "host-broker/sim/Scenario.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

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
  std::stable_sort(t.samples.begin(), t.samples.end(),
                   [](const Sample& a, const Sample& b) { return a.timeS < b.timeS; });
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
      return Error(Errc::kInvalidArgument,
                   where + "expected time_s,vm,cpu_demand[,mem_node0_mb,...], got '" + line + "'");
    Sample s;
    if (!parseDouble(cols[0], s.timeS) || s.timeS < 0)
      return Error(Errc::kInvalidArgument,
                   where + "time_s must be a number >= 0, got '" + cols[0] + "'");
    s.vm = cols[1];
    if (s.vm.empty()) return Error(Errc::kInvalidArgument, where + "vm name is empty");
    if (!parseDouble(cols[2], s.cpuDemand) || s.cpuDemand < 0)
      return Error(Errc::kInvalidArgument,
                   where + "cpu_demand must be a number >= 0, got '" + cols[2] + "'");
    for (std::size_t i = 3; i < cols.size(); ++i) {
      double m = 0;
      if (!parseDouble(cols[i], m) || m < 0)
        return Error(Errc::kInvalidArgument, where + "mem_node" + std::to_string(i - 3) +
                                                 "_mb must be a number >= 0, got '" + cols[i] +
                                                 "'");
      s.memMb.push_back(m);
    }
    t.samples.push_back(std::move(s));
  }
  if (t.samples.empty()) return Error(Errc::kInvalidArgument, src + ": no samples");
  sortTrace(t);
  return t;
}

// lhs = the value of a Result-returning expr, or return its error.
#define TRY_ASSIGN(lhs, expr)                      \
  do {                                             \
    auto try_r_ = (expr);                          \
    if (!try_r_) return std::move(try_r_).error(); \
    lhs = std::move(*try_r_);                      \
  } while (0)

namespace {

std::string fmtNum(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

// Parses JSON text; the error names the file, line and column.
Result<json> parseJson(const std::string& text, const std::string& src) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos)
      what = what.substr(p + 2);
    return Error(Errc::kInvalidArgument, src + ": not valid JSON: " + what);
  }
}

// Typed reads of the keys of one JSON object. Errors start with `where` ("file: vms[2]: ") and
// name the key, what it must be and what it was; a missing key gives the default.
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  Error bad(const std::string& msg) const { return Error(Errc::kInvalidArgument, where_ + msg); }
  bool has(const std::string& k) const { return j_.contains(k); }
  const json& at(const std::string& k) const { return j_.at(k); }

  Result<void> onlyKeys(const std::vector<std::string>& known) const {
    for (const auto& [k, v] : j_.items())
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        std::string list;
        for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
        return bad("unknown key '" + k + "' (known: " + list + ")");
      }
    return okResult();
  }
  // max = infinity: "a number >= min".
  Result<double> number(const std::string& k, std::optional<double> def, double min,
                        double max = std::numeric_limits<double>::infinity()) const {
    if (!has(k)) return def ? Result<double>(*def) : bad("'" + k + "' is required");
    const auto& v = j_[k];
    if (v.is_number() && v.get<double>() >= min && v.get<double>() <= max) return v.get<double>();
    return bad(
        "'" + k + "' must be a number " +
        (std::isinf(max) ? ">= " + fmtNum(min) : "in [" + fmtNum(min) + ", " + fmtNum(max) + "]") +
        ", got " + v.dump());
  }
  Result<std::uint64_t> integer(const std::string& k, std::uint64_t def, std::uint64_t min,
                                std::uint64_t max) const {
    if (!has(k)) return def;
    const auto& v = j_[k];
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::uint64_t>() >= min &&
        v.get<std::uint64_t>() <= max)
      return v.get<std::uint64_t>();
    return bad("'" + k + "' must be an integer in [" + std::to_string(min) + ", " +
               std::to_string(max) + "], got " + v.dump());
  }
  Result<std::string> text(const std::string& k, std::optional<std::string> def) const {
    if (!has(k)) return def ? Result<std::string>(*def) : bad("'" + k + "' is required");
    const auto& v = j_[k];
    if (v.is_string() && !v.get<std::string>().empty()) return v.get<std::string>();
    return bad("'" + k + "' must be a non-empty string, got " + v.dump());
  }
  Result<bool> flag(const std::string& k, bool def) const {
    if (!has(k)) return def;
    if (j_[k].is_boolean()) return j_[k].get<bool>();
    return bad("'" + k + "' must be true or false, got " + j_[k].dump());
  }

 private:
  const json& j_;
  std::string where_;
};

Result<Trace> samplesFromJson(const json& arr, const std::string& src) {
  Trace t;
  if (!arr.is_array()) return Error(Errc::kInvalidArgument, src + ": 'samples' must be an array");
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& e = arr[i];
    Fields f(e, src + ": samples[" + std::to_string(i) + "]: ");
    if (!e.is_object()) return f.bad("expected an object, got " + e.dump());
    VNUMA_TRY_VOID(f.onlyKeys({"time_s", "vm", "cpu_demand", "mem_mb"}));
    Sample s;
    TRY_ASSIGN(s.timeS, f.number("time_s", std::nullopt, 0));
    TRY_ASSIGN(s.vm, f.text("vm", std::nullopt));
    TRY_ASSIGN(s.cpuDemand, f.number("cpu_demand", std::nullopt, 0));
    if (f.has("mem_mb")) {
      const auto& m = f.at("mem_mb");
      for (std::size_t k = 0; m.is_array() && k < m.size(); ++k)
        if (m[k].is_number() && m[k].get<double>() >= 0) s.memMb.push_back(m[k].get<double>());
      if (!m.is_array() || s.memMb.size() != m.size())
        return f.bad("'mem_mb' must be an array of numbers >= 0 (MiB per host node), got " +
                     m.dump());
    }
    t.samples.push_back(std::move(s));
  }
  if (t.samples.empty()) return Error(Errc::kInvalidArgument, src + ": no samples");
  sortTrace(t);
  return t;
}

// Seeded random bursty demand: every step_s each VM is bursting with burst_probability, at a
// uniform level in [burst_cpus_min, burst_cpus_max], else at base_cpus.
Result<Trace> generate(const json& g, const std::vector<SimVm>& vms, double durationS,
                       const std::string& src) {
  Fields f(g, src + ": generator: ");
  if (!g.is_object()) return f.bad("expected an object, got " + g.dump());
  VNUMA_TRY_VOID(f.onlyKeys({"kind", "seed", "step_s", "base_cpus", "burst_cpus_min",
                             "burst_cpus_max", "burst_probability"}));
  std::string kind;
  TRY_ASSIGN(kind, f.text("kind", std::nullopt));
  if (kind != "random_bursty") return f.bad("unknown kind '" + kind + "' (known: random_bursty)");
  std::uint64_t seed = 0;
  double step = 0, base = 0, lo = 0, hi = 0, p = 0;
  TRY_ASSIGN(seed, f.integer("seed", 1, 0, std::numeric_limits<std::uint32_t>::max()));
  TRY_ASSIGN(step, f.number("step_s", 10, 0.01, 86400));
  TRY_ASSIGN(base, f.number("base_cpus", 0.5, 0));
  TRY_ASSIGN(lo, f.number("burst_cpus_min", 2, 0));
  TRY_ASSIGN(hi, f.number("burst_cpus_max", 8, 0));
  TRY_ASSIGN(p, f.number("burst_probability", 0.3, 0, 1));
  if (lo > hi)
    return f.bad("'burst_cpus_min' (" + fmtNum(lo) + ") must not be above 'burst_cpus_max' (" +
                 fmtNum(hi) + ")");
  std::mt19937_64 rng(seed);
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

Result<std::vector<SimVm>> vmsFromJson(const json& arr, const std::string& path) {
  if (!arr.is_array() || arr.empty())
    return Error(Errc::kInvalidArgument, path + ": 'vms' must be a non-empty array");
  std::vector<SimVm> out;
  std::set<std::string> names;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    Fields f(arr[i], path + ": vms[" + std::to_string(i) + "]: ");
    if (!arr[i].is_object()) return f.bad("expected an object, got " + arr[i].dump());
    VNUMA_TRY_VOID(f.onlyKeys(
        {"name", "floor", "ceiling", "weight", "boot_mem_mb", "vmem_mb", "drops_acks", "count"}));
    SimVm vm;
    std::uint64_t floor = 0, ceiling = 0, count = 0;
    TRY_ASSIGN(vm.name, f.text("name", std::nullopt));
    TRY_ASSIGN(floor, f.integer("floor", 1, 1, CpuSet::kMaxCpu + 1));
    TRY_ASSIGN(ceiling, f.integer("ceiling", 0, 0, CpuSet::kMaxCpu + 1));
    TRY_ASSIGN(vm.weight, f.number("weight", 1.0, 0.001, 1000));
    TRY_ASSIGN(vm.bootMemMb, f.number("boot_mem_mb", 1024, 0, 1 << 24));
    TRY_ASSIGN(vm.vmemMb, f.number("vmem_mb", 0, 0, 1 << 24));
    TRY_ASSIGN(vm.dropsAcks, f.flag("drops_acks", false));
    TRY_ASSIGN(count, f.integer("count", 1, 1, 4096));  // "count": N expands to name1..nameN
    vm.floor = static_cast<unsigned>(floor);
    vm.ceiling = static_cast<unsigned>(ceiling);
    for (std::uint64_t c = 1; c <= count; ++c) {
      auto copy = vm;
      if (count > 1) copy.name += std::to_string(c);
      if (!names.insert(copy.name).second) return f.bad("duplicate vm name '" + copy.name + "'");
      out.push_back(std::move(copy));
    }
  }
  return out;
}

Result<HostModel> hostFromJson(const Fields& f, const std::string& path, std::string& hostText) {
  if (f.has("host") == f.has("sysfs"))
    return f.bad("give exactly one of 'host' (a spec) or 'sysfs' (a dump directory)");
  if (f.has("host")) {
    if (f.has("reserved"))
      return f.bad("'reserved' goes with 'sysfs'; with 'host', put reserved=CPULIST in the spec");
    TRY_ASSIGN(hostText, f.text("host", std::nullopt));
    auto h = HostModel::fromSpec(hostText);
    if (!h) return std::move(h).error().context(path);
    return h;
  }
  std::string sysfs, reservedText;
  TRY_ASSIGN(sysfs, f.text("sysfs", std::nullopt));
  TRY_ASSIGN(reservedText, f.text("reserved", "0-0"));
  hostText = (std::filesystem::path(path).parent_path() / sysfs).string();
  auto topo = Topology::read(hostText);
  if (!topo) return std::move(topo).error().context(path);
  CpuSet reserved;
  if (f.has("reserved")) {
    auto r = CpuSet::parseList(reservedText);
    if (!r) return std::move(r).error().context(path + ": reserved");
    reserved = *r;
  }
  auto h = HostModel::fromTopology(*topo, reserved, 0);
  if (!h) return std::move(h).error().context(path);
  return h;
}

}  // namespace

Result<Trace> parseTraceJson(const std::string& text, const std::string& src) {
  json j;
  TRY_ASSIGN(j, parseJson(text, src));
  if (j.is_array()) return samplesFromJson(j, src);
  if (!j.is_object() || !j.contains("samples"))
    return Error(Errc::kInvalidArgument, src + ": expected {\"samples\":[...]}");
  VNUMA_TRY_VOID(Fields(j, src + ": ").onlyKeys({"samples"}));
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

Result<void> checkTrace(const Trace& trace, const std::vector<SimVm>& vms, const HostModel& host,
                        const std::string& src) {
  std::set<std::string> names;
  for (const auto& vm : vms) names.insert(vm.name);
  for (const auto& s : trace.samples) {
    auto where = src + ": sample at time_s " + fmtNum(s.timeS) + " for vm '" + s.vm + "': ";
    if (!names.count(s.vm)) return Error(Errc::kInvalidArgument, where + "no such vm in 'vms'");
    if (s.memMb.size() > host.nodes.size())
      return Error(Errc::kInvalidArgument, where + std::to_string(s.memMb.size()) +
                                               " memory values but the host has " +
                                               std::to_string(host.nodes.size()) + " nodes");
  }
  return okResult();
}

Result<Scenario> loadScenario(const std::string& path) {
  auto text = readFile(path);
  if (!text) return text.error();
  json j;
  TRY_ASSIGN(j, parseJson(*text, path));
  Fields f(j, path + ": ");
  if (!j.is_object()) return f.bad("expected a JSON object");
  VNUMA_TRY_VOID(f.onlyKeys({"name", "description", "host", "sysfs", "reserved", "duration_s",
                             "seed", "ack_delay_ms", "ack_timeout_ms", "report_period_ms", "vms",
                             "trace", "samples", "generator"}));
  Scenario s;
  const auto dir = std::filesystem::path(path).parent_path();
  TRY_ASSIGN(s.name, f.text("name", std::filesystem::path(path).stem().string()));
  if (f.has("description")) TRY_ASSIGN(s.description, f.text("description", std::nullopt));
  TRY_ASSIGN(s.host, hostFromJson(f, path, s.hostText));
  TRY_ASSIGN(s.durationS, f.number("duration_s", 300, 1, 86400));
  TRY_ASSIGN(s.seed, f.integer("seed", 1, 0, std::numeric_limits<std::uint32_t>::max()));
  TRY_ASSIGN(s.ackTimeoutMs, f.number("ack_timeout_ms", 500, 1, 60000));
  TRY_ASSIGN(s.reportPeriodMs, f.number("report_period_ms", 1000, 10, 60000));
  if (f.has("ack_delay_ms")) {
    const auto& a = f.at("ack_delay_ms");
    if (!a.is_array() || a.size() != 2 || !a[0].is_number() || !a[1].is_number() ||
        a[0].get<double>() < 0 || a[1].get<double>() < a[0].get<double>() ||
        a[1].get<double>() > 60000)
      return f.bad("'ack_delay_ms' must be [min, max] with 0 <= min <= max <= 60000, got " +
                   a.dump());
    s.ackDelayMinMs = a[0].get<double>();
    s.ackDelayMaxMs = a[1].get<double>();
  }
  if (!f.has("vms")) return f.bad("'vms' is required");
  TRY_ASSIGN(s.vms, vmsFromJson(f.at("vms"), path));
  int sources = int(f.has("trace")) + int(f.has("samples")) + int(f.has("generator"));
  if (sources != 1) return f.bad("give exactly one of 'trace', 'samples' or 'generator'");
  if (f.has("trace")) {
    std::string trace;
    TRY_ASSIGN(trace, f.text("trace", std::nullopt));
    auto tr = loadTrace((dir / trace).string());
    if (!tr) return std::move(tr).error().context(path);
    s.trace = std::move(*tr);
  } else if (f.has("samples")) {
    TRY_ASSIGN(s.trace, samplesFromJson(f.at("samples"), path));
  } else {
    TRY_ASSIGN(s.trace, generate(f.at("generator"), s.vms, s.durationS, path));
  }
  VNUMA_TRY_VOID(checkTrace(s.trace, s.vms, s.host, path));
  return s;
}

#undef TRY_ASSIGN

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
