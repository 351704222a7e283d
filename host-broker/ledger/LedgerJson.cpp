#include "host-broker/ledger/LedgerJson.hpp"

#include <nlohmann/json.hpp>

namespace vnuma::broker {

using nlohmann::json;

namespace {

json hostJson(const HostModel& h) {
  json pcpus = json::array();
  for (const auto& p : h.pcpus)
    pcpus.push_back({{"id", p.id},
                     {"node", p.node},
                     {"package", p.package},
                     {"core", p.core},
                     {"siblings", p.siblings.toList()}});
  json nodes = json::array();
  for (const auto& n : h.nodes)
    nodes.push_back({{"id", n.id},
                     {"cpus", n.cpus.toList()},
                     {"mem_bytes", n.memBytes},
                     {"mem_reserve_bytes", n.memReserveBytes},
                     {"distances", n.distances}});
  return {{"pcpus", pcpus}, {"nodes", nodes}, {"reserved", h.reserved.toList()}};
}

json specJson(const VmSpec& s) {
  json pins = json::array();
  for (const auto& [v, p] : s.pins) pins.push_back({v, p});
  json g2h = json::array();
  for (const auto& [g, h] : s.guestToHostNode) g2h.push_back({g, h});
  json boot = json::array();
  for (const auto& [n, b] : s.bootMemBytes) boot.push_back({n, b});
  json vmem = json::array();
  for (const auto& d : s.virtioMem)
    vmem.push_back({{"alias", d.alias},
                    {"guest_node", d.guestNode},
                    {"host_node", d.hostNode},
                    {"block_bytes", d.blockBytes},
                    {"max_bytes", d.maxBytes},
                    {"requested_bytes", d.requestedBytes},
                    {"current_bytes", d.currentBytes}});
  return {
      {"uuid", s.uuid},     {"name", s.name}, {"floor", s.floor},          {"ceiling", s.ceiling},
      {"weight", s.weight}, {"pins", pins},   {"guest_to_host_node", g2h}, {"boot_mem_bytes", boot},
      {"virtio_mem", vmem}};
}

json memoryJson(const VmEntry& v) {
  json mem = json::array();
  for (const auto& [node, m] : v.memory)
    mem.push_back({{"guest_node", node},
                   {"host_node", m.hostNode},
                   {"boot_bytes", m.bootBytes},
                   {"requested_bytes", m.requestedBytes},
                   {"current_bytes", m.currentBytes}});
  return mem;
}

json vmJson(const VmEntry& v) {
  return {{"uuid", v.spec.uuid},
          {"name", v.spec.name},
          {"floor", v.spec.floor},
          {"ceiling", v.spec.ceiling},
          {"effective_ceiling", v.spec.effectiveCeiling()},
          {"weight", v.spec.weight},
          {"pinned_pcpus", v.pinned.toList()},
          {"floor_pcpus", v.floorPcpus.toList()},
          {"granting", v.inState(HoldState::kGranting).toList()},
          {"granted", v.inState(HoldState::kGranted).toList()},
          {"revoking", v.inState(HoldState::kRevoking).toList()},
          {"enforced", v.enforced.toList()},
          {"last_generation", v.lastGeneration},
          {"acked_generation", v.ackedGeneration},
          {"memory", memoryJson(v)}};
}

// --- strict decoding -------------------------------------------------------------------------

struct Bad {
  std::string msg;
};

const json& field(const json& o, const std::string& path, const char* key) {
  if (!o.is_object()) throw Bad{path + ": expected an object"};
  auto it = o.find(key);
  if (it == o.end()) throw Bad{path + ": missing '" + key + "'"};
  return *it;
}

std::uint64_t u64(const json& o, const std::string& path, const char* key) {
  const auto& v = field(o, path, key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
    throw Bad{path + "." + key + ": expected a non-negative integer"};
  return v.get<std::uint64_t>();
}

unsigned u32(const json& o, const std::string& path, const char* key) {
  auto v = u64(o, path, key);
  if (v > 0xffffffffull) throw Bad{path + "." + key + ": value too large"};
  return static_cast<unsigned>(v);
}

int i32(const json& o, const std::string& path, const char* key) {
  const auto& v = field(o, path, key);
  if (!v.is_number_integer()) throw Bad{path + "." + key + ": expected an integer"};
  return v.get<int>();
}

double num(const json& o, const std::string& path, const char* key) {
  const auto& v = field(o, path, key);
  if (!v.is_number()) throw Bad{path + "." + key + ": expected a number"};
  return v.get<double>();
}

std::string str(const json& o, const std::string& path, const char* key) {
  const auto& v = field(o, path, key);
  if (!v.is_string()) throw Bad{path + "." + key + ": expected a string"};
  return v.get<std::string>();
}

CpuSet cpus(const json& o, const std::string& path, const char* key) {
  auto s = str(o, path, key);
  auto r = CpuSet::parseList(s);
  if (!r) throw Bad{path + "." + key + ": " + r.error().describe()};
  return *r;
}

const json& arr(const json& o, const std::string& path, const char* key) {
  const auto& v = field(o, path, key);
  if (!v.is_array()) throw Bad{path + "." + key + ": expected an array"};
  return v;
}

std::map<unsigned, std::uint64_t> pairs(const json& o, const std::string& path, const char* key) {
  std::map<unsigned, std::uint64_t> m;
  const auto& a = arr(o, path, key);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& e = a[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_unsigned() || !e[1].is_number_unsigned())
      throw Bad{path + "." + key + "[" + std::to_string(i) + "]: expected [id, value]"};
    if (!m.emplace(e[0].get<unsigned>(), e[1].get<std::uint64_t>()).second)
      throw Bad{path + "." + key + "[" + std::to_string(i) + "]: duplicate id " +
                std::to_string(e[0].get<unsigned>())};
  }
  return m;
}

HostModel decodeHost(const json& j) {
  HostModel h;
  const std::string path = "state.host";
  const auto& pc = arr(j, path, "pcpus");
  for (std::size_t i = 0; i < pc.size(); ++i) {
    auto p = path + ".pcpus[" + std::to_string(i) + "]";
    HostPcpu x;
    x.id = u32(pc[i], p, "id");
    x.node = u32(pc[i], p, "node");
    x.package = i32(pc[i], p, "package");
    x.core = i32(pc[i], p, "core");
    x.siblings = cpus(pc[i], p, "siblings");
    h.pcpus.push_back(std::move(x));
  }
  const auto& nd = arr(j, path, "nodes");
  for (std::size_t i = 0; i < nd.size(); ++i) {
    auto p = path + ".nodes[" + std::to_string(i) + "]";
    HostNode n;
    n.id = u32(nd[i], p, "id");
    n.cpus = cpus(nd[i], p, "cpus");
    n.memBytes = u64(nd[i], p, "mem_bytes");
    n.memReserveBytes = u64(nd[i], p, "mem_reserve_bytes");
    for (const auto& d : arr(nd[i], p, "distances")) {
      if (!d.is_number_unsigned()) throw Bad{p + ".distances: expected integers"};
      n.distances.push_back(d.get<unsigned>());
    }
    h.nodes.push_back(std::move(n));
  }
  h.reserved = cpus(j, path, "reserved");
  return h;
}

VmSpec decodeSpec(const json& j, const std::string& path) {
  VmSpec s;
  s.uuid = str(j, path, "uuid");
  s.name = str(j, path, "name");
  s.floor = u32(j, path, "floor");
  s.ceiling = u32(j, path, "ceiling");
  s.weight = num(j, path, "weight");
  for (const auto& [v, p] : pairs(j, path, "pins")) s.pins[v] = static_cast<unsigned>(p);
  for (const auto& [g, h] : pairs(j, path, "guest_to_host_node"))
    s.guestToHostNode[g] = static_cast<unsigned>(h);
  s.bootMemBytes = pairs(j, path, "boot_mem_bytes");
  const auto& vm = arr(j, path, "virtio_mem");
  for (std::size_t i = 0; i < vm.size(); ++i) {
    auto p = path + ".virtio_mem[" + std::to_string(i) + "]";
    VirtioMemDevice d;
    d.alias = str(vm[i], p, "alias");
    d.guestNode = u32(vm[i], p, "guest_node");
    d.hostNode = u32(vm[i], p, "host_node");
    d.blockBytes = u64(vm[i], p, "block_bytes");
    d.maxBytes = u64(vm[i], p, "max_bytes");
    d.requestedBytes = u64(vm[i], p, "requested_bytes");
    d.currentBytes = u64(vm[i], p, "current_bytes");
    s.virtioMem.push_back(std::move(d));
  }
  return s;
}

}  // namespace

std::string hostToJson(const HostModel& host) { return hostJson(host).dump(); }

std::string vmEntryToJson(const VmEntry& vm) { return vmJson(vm).dump(); }

std::string ledgerToJson(const Ledger& ledger) {
  json pcpus = json::array();
  for (const auto& p : ledger.pcpus()) {
    json e = {{"id", p.id},
              {"node", p.node},
              {"state", pcpuStateName(p.state)},
              {"vm", p.holder},
              {"vm_name", p.holder.empty() ? "" : ledger.vm(p.holder)->spec.name},
              {"floor", !p.floorOf.empty()},
              {"floor_of", p.floorOf},
              {"generation", p.generation},
              {"enforced", p.enforced}};
    pcpus.push_back(std::move(e));
  }
  json nodes = json::array();
  for (const auto& n : ledger.nodeMemories())
    nodes.push_back({{"id", n.node},
                     {"capacity_bytes", n.capacityBytes},
                     {"reserve_bytes", n.reserveBytes},
                     {"accounted_bytes", n.accountedBytes},
                     {"free_bytes", n.freeBytes()}});
  json vms = json::array();
  for (const auto& [u, v] : ledger.vms()) vms.push_back(vmJson(v));
  return json{{"host", hostJson(ledger.host())},
              {"pcpus", pcpus},
              {"nodes", nodes},
              {"vms", vms},
              {"last_seq", ledger.lastSeq()}}
      .dump();
}

std::string eventsToJson(const std::vector<LedgerEvent>& events, std::uint64_t lastSeq,
                         std::uint64_t firstRetainedSeq) {
  json a = json::array();
  for (const auto& e : events)
    a.push_back({{"seq", e.seq},
                 {"at_ms", e.atMs},
                 {"kind", e.kind},
                 {"vm", e.vm},
                 {"vm_name", e.vmName},
                 {"detail", e.detail}});
  return json{{"events", a}, {"last_seq", lastSeq}, {"first_retained_seq", firstRetainedSeq}}
      .dump();
}

std::string stateToJson(const LedgerState& st) {
  json vms = json::array();
  for (const auto& [u, v] : st.vms) {
    json holds = json::array();
    for (const auto& [p, h] : v.holds)
      holds.push_back(
          {{"pcpu", p}, {"state", holdStateName(h.state)}, {"generation", h.generation}});
    vms.push_back({{"spec", specJson(v.spec)},
                   {"floor_pcpus", v.floorPcpus.toList()},
                   {"holds", holds},
                   {"enforced", v.enforced.toList()},
                   {"last_generation", v.lastGeneration},
                   {"acked_generation", v.ackedGeneration},
                   {"memory", memoryJson(v)}});
  }
  return json{{"host", hostJson(st.host)}, {"vms", vms}, {"last_seq", st.lastSeq}}.dump();
}

Result<LedgerState> stateFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error(Errc::kInvalidArgument, "state: not valid JSON");
  try {
    LedgerState st;
    st.host = decodeHost(field(j, "state", "host"));
    st.lastSeq = u64(j, "state", "last_seq");
    const auto& vms = arr(j, "state", "vms");
    for (std::size_t i = 0; i < vms.size(); ++i) {
      auto p = "state.vms[" + std::to_string(i) + "]";
      VmEntry v;
      v.spec = decodeSpec(field(vms[i], p, "spec"), p + ".spec");
      v.floorPcpus = cpus(vms[i], p, "floor_pcpus");
      v.enforced = cpus(vms[i], p, "enforced");
      v.lastGeneration = u64(vms[i], p, "last_generation");
      v.ackedGeneration = u64(vms[i], p, "acked_generation");
      const auto& holds = arr(vms[i], p, "holds");
      for (std::size_t k = 0; k < holds.size(); ++k) {
        auto hp = p + ".holds[" + std::to_string(k) + "]";
        unsigned pcpu = u32(holds[k], hp, "pcpu");
        auto s = str(holds[k], hp, "state");
        Hold h;
        if (s == "granting")
          h.state = HoldState::kGranting;
        else if (s == "granted")
          h.state = HoldState::kGranted;
        else if (s == "revoking")
          h.state = HoldState::kRevoking;
        else
          throw Bad{hp + ".state: unknown state '" + s + "' (known: granting, granted, revoking)"};
        h.generation = u64(holds[k], hp, "generation");
        if (!v.holds.emplace(pcpu, h).second)
          throw Bad{hp + ": pCPU " + std::to_string(pcpu) + " listed twice"};
      }
      const auto& mem = arr(vms[i], p, "memory");
      for (std::size_t k = 0; k < mem.size(); ++k) {
        auto mp = p + ".memory[" + std::to_string(k) + "]";
        NodeMemory m;
        unsigned node = u32(mem[k], mp, "guest_node");
        m.hostNode = u32(mem[k], mp, "host_node");
        m.bootBytes = u64(mem[k], mp, "boot_bytes");
        m.requestedBytes = u64(mem[k], mp, "requested_bytes");
        m.currentBytes = u64(mem[k], mp, "current_bytes");
        if (!v.memory.emplace(node, m).second)
          throw Bad{mp + ": guest node " + std::to_string(node) + " listed twice"};
      }
      auto uuid = v.spec.uuid;
      if (!st.vms.emplace(uuid, std::move(v)).second)
        throw Bad{p + ": vm " + uuid + " listed twice"};
    }
    return st;
  } catch (const Bad& b) {
    return Error(Errc::kInvalidArgument, b.msg);
  } catch (const json::exception& e) {
    return Error(Errc::kInvalidArgument, std::string("state: ") + e.what());
  }
}

}  // namespace vnuma::broker
