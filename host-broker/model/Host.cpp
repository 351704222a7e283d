#include "host-broker/model/Host.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

namespace vnuma::broker {

const HostPcpu* HostModel::pcpu(unsigned id) const {
  auto it = std::lower_bound(pcpus.begin(), pcpus.end(), id,
                             [](const HostPcpu& p, unsigned v) { return p.id < v; });
  return (it != pcpus.end() && it->id == id) ? &*it : nullptr;
}

const HostNode* HostModel::node(unsigned id) const {
  auto it = std::lower_bound(nodes.begin(), nodes.end(), id,
                             [](const HostNode& n, unsigned v) { return n.id < v; });
  return (it != nodes.end() && it->id == id) ? &*it : nullptr;
}

int HostModel::nodeOfPcpu(unsigned id) const {
  const auto* p = pcpu(id);
  return p ? static_cast<int>(p->node) : -1;
}

CpuSet HostModel::allPcpus() const {
  CpuSet s;
  for (const auto& p : pcpus) s.add(p.id);
  return s;
}

CpuSet HostModel::grantable() const { return allPcpus() - reserved; }

std::uint64_t HostModel::memAvailableForVms(unsigned id) const {
  const auto* n = node(id);
  if (!n || n->memReserveBytes >= n->memBytes) return 0;
  return n->memBytes - n->memReserveBytes;
}

Result<void> HostModel::validate() const {
  auto bad = [](const std::string& m) { return Error(Errc::kInvalidArgument, "host: " + m); };
  if (pcpus.empty()) return bad("no pCPUs");
  if (nodes.empty()) return bad("no NUMA nodes");
  for (std::size_t i = 1; i < nodes.size(); ++i)
    if (nodes[i].id <= nodes[i - 1].id)
      return bad("node ids not ascending at node " + std::to_string(nodes[i].id));
  for (std::size_t i = 1; i < pcpus.size(); ++i)
    if (pcpus[i].id <= pcpus[i - 1].id)
      return bad("pCPU ids not ascending at pCPU " + std::to_string(pcpus[i].id));
  for (const auto& p : pcpus) {
    const auto* n = node(p.node);
    if (!n)
      return bad("pCPU " + std::to_string(p.id) + " is on node " + std::to_string(p.node) +
                 " which does not exist");
    if (!n->cpus.contains(p.id))
      return bad("node " + std::to_string(p.node) + " does not list its pCPU " +
                 std::to_string(p.id));
    if (!p.siblings.contains(p.id))
      return bad("pCPU " + std::to_string(p.id) + ": siblings do not include itself");
    for (unsigned s : p.siblings.ids()) {
      if (!pcpu(s)) continue;  // an offline sibling is simply not usable
      if (nodeOfPcpu(s) != static_cast<int>(p.node))
        return bad("pCPU " + std::to_string(p.id) + ": SMT sibling " + std::to_string(s) +
                   " is on another node");
    }
  }
  auto all = allPcpus();
  for (const auto& n : nodes) {
    auto extra = n.cpus - all;
    if (!extra.empty())
      return bad("node " + std::to_string(n.id) + " lists unknown pCPUs " + extra.toList());
    if (n.memReserveBytes > n.memBytes)
      return bad("node " + std::to_string(n.id) + ": memory reserve exceeds capacity");
  }
  auto unknown = reserved - all;
  if (!unknown.empty())
    return bad("reserved pCPUs " + unknown.toList() + " are not pCPUs of this host");
  if ((all - reserved).empty()) return bad("every pCPU is reserved; nothing left to grant");
  return okResult();
}

Result<HostModel> HostModel::fromTopology(const Topology& topo, const CpuSet& reserved,
                                          std::uint64_t memReservePerNodeBytes) {
  HostModel h;
  for (const auto& n : topo.nodes) {
    HostNode hn;
    hn.id = n.id;
    hn.memBytes = n.memTotalKb * 1024;
    hn.memReserveBytes = std::min(memReservePerNodeBytes, hn.memBytes);
    hn.distances = n.distances;
    h.nodes.push_back(std::move(hn));
  }
  if (h.nodes.empty()) {
    HostNode hn;  // no NUMA info at all: one implicit node
    h.nodes.push_back(hn);
  }
  for (const auto& c : topo.cpus) {
    if (!c.online) continue;
    HostPcpu p;
    p.id = c.id;
    int node = c.node >= 0 ? c.node : static_cast<int>(h.nodes.front().id);
    p.node = static_cast<unsigned>(node);
    p.package = c.package;
    p.core = c.core;
    p.siblings = c.siblings.empty() ? CpuSet{c.id} : c.siblings;
    if (!p.siblings.contains(c.id)) p.siblings.add(c.id);
    auto* hn = const_cast<HostNode*>(h.node(p.node));
    if (!hn)
      return Error(Errc::kInvalidArgument, "topology: CPU " + std::to_string(c.id) +
                                               " is on unknown node " + std::to_string(node));
    hn->cpus.add(c.id);
    h.pcpus.push_back(std::move(p));
  }
  std::sort(h.pcpus.begin(), h.pcpus.end(),
            [](const HostPcpu& a, const HostPcpu& b) { return a.id < b.id; });
  // Siblings on another node (broken firmware tables) would confuse placement: drop them.
  for (auto& p : h.pcpus) {
    CpuSet keep{p.id};
    for (unsigned s : p.siblings.ids())
      if (h.nodeOfPcpu(s) == static_cast<int>(p.node)) keep.add(s);
    p.siblings = keep;
  }
  auto all = h.allPcpus();
  for (unsigned r : reserved.ids())
    if (!all.contains(r))
      return Error(Errc::kInvalidArgument,
                   "reserved pCPU " + std::to_string(r) + " is not an online CPU of this host");
  h.reserved = reserved;
  VNUMA_TRY_VOID(h.validate());
  return h;
}

HostModel HostModel::uniform(unsigned nodes, unsigned cpusPerNode, unsigned smt,
                             std::uint64_t memPerNodeBytes) {
  HostModel h;
  if (smt == 0) smt = 1;
  for (unsigned n = 0; n < nodes; ++n) {
    HostNode hn;
    hn.id = n;
    hn.memBytes = memPerNodeBytes;
    for (unsigned n2 = 0; n2 < nodes; ++n2) hn.distances.push_back(n == n2 ? 10 : 20);
    for (unsigned c = 0; c < cpusPerNode; ++c) {
      unsigned id = n * cpusPerNode + c;
      hn.cpus.add(id);
      HostPcpu p;
      p.id = id;
      p.node = n;
      p.package = static_cast<int>(n);
      p.core = static_cast<int>(c / smt);
      unsigned base = n * cpusPerNode + (c / smt) * smt;
      for (unsigned t = 0; t < smt && base + t < (n + 1) * cpusPerNode; ++t)
        p.siblings.add(base + t);
      h.pcpus.push_back(std::move(p));
    }
    h.nodes.push_back(std::move(hn));
  }
  return h;
}

namespace {

Result<double> parseNumber(std::string_view key, std::string_view v) {
  double d = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || ptr != v.data() + v.size() || !std::isfinite(d))
    return Error(Errc::kInvalidArgument, "host spec: '" + std::string(key) +
                                             "' must be a number, got '" + std::string(v) + "'");
  return d;
}

Result<unsigned> parseUnsigned(std::string_view key, std::string_view v, unsigned min,
                               unsigned max) {
  unsigned u = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), u);
  if (ec != std::errc() || ptr != v.data() + v.size() || v.empty())
    return Error(Errc::kInvalidArgument, "host spec: '" + std::string(key) +
                                             "' must be an integer, got '" + std::string(v) + "'");
  if (u < min || u > max)
    return Error(Errc::kInvalidArgument, "host spec: '" + std::string(key) + "' must be in " +
                                             std::to_string(min) + ".." + std::to_string(max) +
                                             ", got " + std::to_string(u));
  return u;
}

}  // namespace

Result<HostModel> HostModel::fromSpec(std::string_view spec) {
  static const char* kKnown =
      "nodes, cpus_per_node, smt, mem_per_node_gb, reserved, reserve_mem_gb";
  std::map<std::string, std::string> kv;
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    auto comma = spec.find(',', pos);
    // A cpulist value ("reserved=0-1,8") contains commas: a part without '=' continues it.
    auto part =
        spec.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      if (kv.count("reserved") && !kv["reserved"].empty() &&
          part.find_first_not_of("0123456789-") == std::string_view::npos) {
        kv["reserved"] += "," + std::string(part);
        continue;
      }
      return Error(Errc::kInvalidArgument,
                   "host spec: expected key=value, got '" + std::string(part) + "'");
    }
    std::string key(part.substr(0, eq));
    std::string val(part.substr(eq + 1));
    if (key != "nodes" && key != "cpus_per_node" && key != "smt" && key != "mem_per_node_gb" &&
        key != "reserved" && key != "reserve_mem_gb")
      return Error(Errc::kInvalidArgument,
                   "host spec: unknown key '" + key + "' (known: " + kKnown + ")");
    if (kv.count(key))
      return Error(Errc::kInvalidArgument, "host spec: key '" + key + "' given twice");
    kv[key] = val;
  }
  if (!kv.count("nodes")) return Error(Errc::kInvalidArgument, "host spec: 'nodes' is required");
  if (!kv.count("cpus_per_node"))
    return Error(Errc::kInvalidArgument, "host spec: 'cpus_per_node' is required");
  auto nodes = parseUnsigned("nodes", kv["nodes"], 1, 64);
  if (!nodes) return nodes.error();
  auto cpn = parseUnsigned("cpus_per_node", kv["cpus_per_node"], 1, 1024);
  if (!cpn) return cpn.error();
  unsigned smt = 1;
  if (kv.count("smt")) {
    auto s = parseUnsigned("smt", kv["smt"], 1, 8);
    if (!s) return s.error();
    smt = *s;
  }
  if (*cpn % smt != 0)
    return Error(Errc::kInvalidArgument, "host spec: cpus_per_node " + std::to_string(*cpn) +
                                             " is not a multiple of smt " + std::to_string(smt));
  if (*nodes * *cpn > CpuSet::kMaxCpu + 1)
    return Error(Errc::kInvalidArgument,
                 "host spec: more than " + std::to_string(CpuSet::kMaxCpu + 1) + " pCPUs");
  double memGb = 16;
  if (kv.count("mem_per_node_gb")) {
    auto m = parseNumber("mem_per_node_gb", kv["mem_per_node_gb"]);
    if (!m) return m.error();
    if (*m <= 0 || *m > 1e6)
      return Error(Errc::kInvalidArgument, "host spec: 'mem_per_node_gb' must be in (0, 1e6]");
    memGb = *m;
  }
  double reserveGb = 0;
  if (kv.count("reserve_mem_gb")) {
    auto m = parseNumber("reserve_mem_gb", kv["reserve_mem_gb"]);
    if (!m) return m.error();
    if (*m < 0 || *m > memGb)
      return Error(Errc::kInvalidArgument,
                   "host spec: 'reserve_mem_gb' must be in [0, mem_per_node_gb]");
    reserveGb = *m;
  }
  auto h =
      uniform(*nodes, *cpn, smt, static_cast<std::uint64_t>(memGb * static_cast<double>(kGiB)));
  for (auto& n : h.nodes)
    n.memReserveBytes = static_cast<std::uint64_t>(reserveGb * static_cast<double>(kGiB));
  if (kv.count("reserved")) {
    auto r = CpuSet::parseList(kv["reserved"]);
    if (!r) return std::move(r).error().context("host spec: 'reserved'");
    h.reserved = *r;
  }
  auto v = h.validate();
  if (!v) return std::move(v).error().context("host spec");
  return h;
}

std::string describeHost(const HostModel& host) {
  unsigned smt = 1;
  for (const auto& p : host.pcpus)
    smt = std::max<unsigned>(smt, static_cast<unsigned>(p.siblings.count()));
  std::uint64_t mem = 0;
  for (const auto& n : host.nodes) mem += n.memBytes;
  return std::to_string(host.nodes.size()) + " nodes, " + std::to_string(host.pcpus.size()) +
         " pCPUs (smt " + std::to_string(smt) + "), " + std::to_string(host.reserved.count()) +
         " reserved, " + std::to_string(mem / kGiB) + " GiB";
}

}  // namespace vnuma::broker
