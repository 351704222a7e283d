#include "common/topo/Topology.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

namespace vnuma {

namespace fs = std::filesystem;

namespace {

// Files larger than this are not sysfs attributes; refuse rather than read a runaway file.
constexpr std::size_t kMaxAttrBytes = 1 << 20;

bool pathExists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

Result<std::string> readFile(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Error(err == ENOENT ? Errc::kNotFound : Errc::kSystem, "cannot open " + p.string(), err);
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Error(Errc::kSystem, "cannot read " + p.string(), err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMaxAttrBytes) {
      ::close(fd);
      return Error(Errc::kInvalidArgument,
                   p.string() + ": larger than 1 MiB, not a sysfs attribute");
    }
  }
  ::close(fd);
  return out;
}

// Drops NUL padding and surrounding whitespace (sysfs ends values with "\n", some dumps pad
// with NULs).
std::string_view trimValue(std::string_view s) {
  while (!s.empty() &&
         (s.back() == '\0' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool isBlank(const fs::path& p) {
  auto text = readFile(p);
  return text.ok() && trimValue(*text).empty();
}

Error badFile(const fs::path& p, const std::string& what) {
  return Error(Errc::kInvalidArgument, p.string() + ": " + what);
}

// Reads a cpulist (CpuSet::parseList) or cpumask (CpuSet::parseMask) file.
Result<CpuSet> readCpuSet(const fs::path& p, Result<CpuSet> (*parse)(std::string_view)) {
  auto text = readFile(p);
  if (!text) return std::move(text).error();
  auto set = parse(*text);
  if (!set) return std::move(set).error().context("reading " + p.string());
  return set;
}

Result<CpuSet> readCpuList(const fs::path& p) { return readCpuSet(p, &CpuSet::parseList); }
Result<CpuSet> readCpuMask(const fs::path& p) { return readCpuSet(p, &CpuSet::parseMask); }

Result<std::int64_t> readInt(const fs::path& p) {
  auto text = readFile(p);
  if (!text) return std::move(text).error();
  std::string_view v = trimValue(*text);
  std::int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
    std::string shown(v.substr(0, 32));
    return badFile(p, "expected an integer, got '" + shown + "'");
  }
  return out;
}

// Parses "name<digits>" (node12, cpu7); -1 when the name has another shape.
long idFromName(const std::string& name, std::string_view prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  unsigned long id = 0;
  const char* b = name.data() + prefix.size();
  const char* e = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(b, e, id);
  if (ec != std::errc() || ptr != e || id > CpuSet::kMaxCpu) return -1;
  return static_cast<long>(id);
}

std::vector<unsigned> listIds(const fs::path& dir, std::string_view prefix) {
  std::vector<unsigned> ids;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    long id = idFromName(it->path().filename().string(), prefix);
    if (id >= 0 && it->is_directory(ec)) ids.push_back(static_cast<unsigned>(id));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// "Node 3 MemTotal:  123 kB" (nodeN/meminfo) or "MemTotal:  123 kB" (proc/meminfo).
Result<std::uint64_t> readMemTotal(const fs::path& p) {
  auto text = readFile(p);
  if (!text) return std::move(text).error();
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    auto pos = line.find("MemTotal:");
    if (pos == std::string::npos) continue;
    std::string_view rest = std::string_view(line).substr(pos + 9);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    std::uint64_t kb = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kb);
    std::string_view unit =
        trimValue(std::string_view(ptr, static_cast<std::size_t>(rest.data() + rest.size() - ptr)));
    if (ec != std::errc() || ptr == rest.data() || unit != "kB") {
      return badFile(
          p, "malformed MemTotal line '" + std::string(trimValue(line).substr(0, 64)) + "'");
    }
    return kb;
  }
  return badFile(p, "no MemTotal line");
}

Result<std::vector<unsigned>> readDistances(const fs::path& p) {
  auto text = readFile(p);
  if (!text) return std::move(text).error();
  std::string_view v = trimValue(*text);
  std::vector<unsigned> out;
  std::size_t pos = 0;
  while (pos < v.size()) {
    if (v[pos] == ' ') {
      ++pos;
      continue;
    }
    unsigned d = 0;
    auto [ptr, ec] = std::from_chars(v.data() + pos, v.data() + v.size(), d);
    if (ec != std::errc() || (ptr != v.data() + v.size() && *ptr != ' ')) {
      return badFile(
          p, "expected space-separated distances, got '" + std::string(v.substr(0, 64)) + "'");
    }
    out.push_back(d);
    pos = static_cast<std::size_t>(ptr - v.data());
  }
  return out;
}

Result<NodeInfo> readNode(const fs::path& dir, unsigned id) {
  NodeInfo node;
  node.id = id;
  if (pathExists(dir / "cpulist")) {
    auto cpus = readCpuList(dir / "cpulist");
    if (!cpus) return std::move(cpus).error();
    node.cpus = std::move(cpus).value();
    node.cpusFrom = "cpulist";
  } else if (pathExists(dir / "cpumap")) {
    auto cpus = readCpuMask(dir / "cpumap");
    if (!cpus) return std::move(cpus).error();
    node.cpus = std::move(cpus).value();
    node.cpusFrom = "cpumap";
  } else {
    return Error(Errc::kNotFound, dir.string() + ": neither cpulist nor cpumap present");
  }
  // A trimmed dump may lack meminfo/distance; the kernel always has them. Missing means
  // unknown (0 / empty), malformed is an error.
  if (pathExists(dir / "meminfo")) {
    auto mem = readMemTotal(dir / "meminfo");
    if (!mem) return std::move(mem).error();
    node.memTotalKb = *mem;
  }
  if (pathExists(dir / "distance")) {
    auto dist = readDistances(dir / "distance");
    if (!dist) return std::move(dist).error();
    node.distances = std::move(dist).value();
  }
  return node;
}

Result<CpuInfo> readCpu(const fs::path& cpuRoot, unsigned id,
                        const std::optional<CpuSet>& globalOnline) {
  CpuInfo cpu;
  cpu.id = id;
  const fs::path dir = cpuRoot / ("cpu" + std::to_string(id));
  if (globalOnline) {
    // cpu/online is the kernel's own view; per-CPU files in dumps can disagree (cpuset-restricted
    // captures), and the global file wins.
    cpu.online = globalOnline->contains(id);
  } else if (pathExists(dir / "online") && !isBlank(dir / "online")) {
    auto on = readInt(dir / "online");
    if (!on) return std::move(on).error();
    if (*on != 0 && *on != 1)
      return badFile(dir / "online", "expected 0 or 1, got " + std::to_string(*on));
    cpu.online = *on == 1;
  } else {
    // No (or an empty, as in some captured dumps) per-CPU file: the CPU cannot be offlined.
    cpu.online = pathExists(dir);
  }
  const fs::path topo = dir / "topology";
  if (pathExists(topo / "physical_package_id")) {
    auto pkg = readInt(topo / "physical_package_id");
    if (!pkg) return std::move(pkg).error();
    cpu.package = static_cast<int>(*pkg);
  }
  if (pathExists(topo / "core_id")) {
    auto core = readInt(topo / "core_id");
    if (!core) return std::move(core).error();
    cpu.core = static_cast<int>(*core);
  }
  if (pathExists(topo / "thread_siblings_list")) {
    auto sib = readCpuList(topo / "thread_siblings_list");
    if (!sib) return std::move(sib).error();
    cpu.siblings = std::move(sib).value();
  } else if (pathExists(topo / "thread_siblings")) {
    auto sib = readCpuMask(topo / "thread_siblings");
    if (!sib) return std::move(sib).error();
    cpu.siblings = std::move(sib).value();
  }
  if (cpu.siblings.empty()) cpu.siblings = CpuSet{id};
  return cpu;
}

}  // namespace

const NodeInfo* Topology::node(unsigned id) const {
  auto it = std::lower_bound(nodes.begin(), nodes.end(), id,
                             [](const NodeInfo& n, unsigned v) { return n.id < v; });
  return it != nodes.end() && it->id == id ? &*it : nullptr;
}

const CpuInfo* Topology::cpu(unsigned id) const {
  auto it = std::lower_bound(cpus.begin(), cpus.end(), id,
                             [](const CpuInfo& c, unsigned v) { return c.id < v; });
  return it != cpus.end() && it->id == id ? &*it : nullptr;
}

int Topology::nodeOfCpu(unsigned cpuId) const {
  const CpuInfo* c = cpu(cpuId);
  if (c != nullptr) return c->node;
  for (const auto& n : nodes) {
    if (n.cpus.contains(cpuId)) return static_cast<int>(n.id);
  }
  return -1;
}

Result<Topology> Topology::read(const std::string& fsRoot) {
  const fs::path root(fsRoot);
  const fs::path cpuRoot = root / "sys/devices/system/cpu";
  const fs::path nodeRoot = root / "sys/devices/system/node";
  if (!pathExists(cpuRoot)) {
    return Error(Errc::kNotFound,
                 cpuRoot.string() + ": no such directory (is " + fsRoot + " a sysfs root?)");
  }
  Topology topo;

  // Which CPUs exist: cpuN directories plus the present mask (a present CPU may lack a dir in
  // trimmed dumps).
  CpuSet known;
  for (unsigned id : listIds(cpuRoot, "cpu")) known.add(id);
  if (pathExists(cpuRoot / "present")) {
    auto present = readCpuList(cpuRoot / "present");
    if (!present) return std::move(present).error();
    known |= *present;
  }

  std::optional<CpuSet> globalOnline;
  if (pathExists(cpuRoot / "online")) {
    auto on = readCpuList(cpuRoot / "online");
    if (!on) return std::move(on).error();
    globalOnline = std::move(on).value();
  }
  if (pathExists(cpuRoot / "isolated")) {
    auto iso = readCpuList(cpuRoot / "isolated");
    if (!iso) return std::move(iso).error();
    topo.isolated = std::move(iso).value();
  }

  for (unsigned id : listIds(nodeRoot, "node")) {
    auto node = readNode(nodeRoot / ("node" + std::to_string(id)), id);
    if (!node) return std::move(node).error();
    topo.nodes.push_back(std::move(node).value());
  }
  if (topo.nodes.empty()) {
    // Kernel without NUMA (no node/): one implicit node holding every CPU.
    NodeInfo node;
    node.cpus = known;
    node.cpusFrom = "implicit";
    node.distances = {10};
    if (pathExists(root / "proc/meminfo")) {
      auto mem = readMemTotal(root / "proc/meminfo");
      if (!mem) return std::move(mem).error();
      node.memTotalKb = *mem;
    }
    topo.nodes.push_back(std::move(node));
  }

  CpuSet online;
  for (unsigned id : known.ids()) {
    auto cpu = readCpu(cpuRoot, id, globalOnline);
    if (!cpu) return std::move(cpu).error();
    // Broken firmware can put a CPU in several nodes; the lowest node id wins, as in the
    // kernel's cpu_to_node() for such tables.
    for (const auto& n : topo.nodes) {
      if (n.cpus.contains(id)) {
        cpu->node = static_cast<int>(n.id);
        break;
      }
    }
    if (cpu->online) online.add(id);
    topo.cpus.push_back(std::move(cpu).value());
  }
  topo.online = globalOnline ? *globalOnline : online;
  return topo;
}

std::string topologyToJson(const Topology& topo) {
  nlohmann::json j;
  j["nodes"] = nlohmann::json::array();
  for (const auto& n : topo.nodes) {
    j["nodes"].push_back({{"id", n.id},
                          {"cpus", n.cpus.toList()},
                          {"mem_total_kb", n.memTotalKb},
                          {"distances", n.distances}});
  }
  j["cpus"] = nlohmann::json::array();
  for (const auto& c : topo.cpus) {
    j["cpus"].push_back({{"id", c.id},
                         {"online", c.online},
                         {"node", c.node},
                         {"package", c.package},
                         {"core", c.core},
                         {"siblings", c.siblings.toList()}});
  }
  j["online"] = topo.online.toList();
  j["isolated"] = topo.isolated.toList();
  return j.dump();
}

}  // namespace vnuma
