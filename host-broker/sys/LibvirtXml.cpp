#include "host-broker/sys/LibvirtXml.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <optional>
#include <set>

namespace vnuma::sys {
namespace {

const xmlChar* xc(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

struct DocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocDeleter>;

Result<DocPtr> parseXml(const std::string& xml, const char* what) {
  xmlDoc* doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == nullptr || xmlDocGetRootElement(doc) == nullptr) {
    if (doc != nullptr) xmlFreeDoc(doc);
    const xmlError* e = xmlGetLastError();
    std::string why = e != nullptr && e->message != nullptr ? e->message : "not well-formed";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Error(Errc::kInvalidArgument, std::string("malformed ") + what + " XML: " + why);
  }
  return DocPtr(doc);
}

bool isElement(const xmlNode* n, const char* name) {
  return n != nullptr && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, xc(name)) == 0;
}

const xmlNode* child(const xmlNode* n, const char* name) {
  if (n == nullptr) return nullptr;
  for (const xmlNode* c = n->children; c != nullptr; c = c->next)
    if (isElement(c, name)) return c;
  return nullptr;
}

// child(child(...)) along a path "a/b/c".
const xmlNode* path(const xmlNode* n, std::string_view p) {
  while (n != nullptr && !p.empty()) {
    auto slash = p.find('/');
    std::string part(p.substr(0, slash));
    n = child(n, part.c_str());
    p = slash == std::string_view::npos ? std::string_view{} : p.substr(slash + 1);
  }
  return n;
}

std::vector<const xmlNode*> children(const xmlNode* n, const char* name) {
  std::vector<const xmlNode*> out;
  if (n == nullptr) return out;
  for (const xmlNode* c = n->children; c != nullptr; c = c->next)
    if (isElement(c, name)) out.push_back(c);
  return out;
}

std::optional<std::string> attr(const xmlNode* n, const char* name) {
  if (n == nullptr) return std::nullopt;
  xmlChar* v = xmlGetProp(n, xc(name));
  if (v == nullptr) return std::nullopt;
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return s;
}

std::string text(const xmlNode* n) {
  if (n == nullptr) return {};
  xmlChar* v = xmlNodeGetContent(n);
  if (v == nullptr) return {};
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  auto b = s.find_first_not_of(" \t\r\n");
  auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

Result<std::uint64_t> parseU64(const std::string& s, const std::string& what) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size())
    return Error(Errc::kInvalidArgument, what + "='" + s + "' is not a non-negative integer");
  return v;
}

Result<int> parseInt(const std::string& s, const std::string& what) {
  auto r = parseU64(s, what);
  if (!r) return std::move(r).error();
  if (*r > 1u << 30) return Error(Errc::kInvalidArgument, what + "='" + s + "' is too large");
  return static_cast<int>(*r);
}

// A sized element like <size unit='KiB'>1024</size>.
Result<std::uint64_t> sizeOf(const xmlNode* n, const std::string& what) {
  auto r = parseLibvirtSize(text(n), attr(n, "unit").value_or("KiB"));
  if (!r) return std::move(r).error().context(what);
  return r;
}

std::string joinIds(const std::vector<unsigned>& ids) {
  std::string s;
  for (unsigned i : ids) s += (s.empty() ? "" : ",") + std::to_string(i);
  return s;
}

std::set<unsigned> memNodeSet(const CpuSet& s) {
  auto ids = s.ids();
  return {ids.begin(), ids.end()};
}

std::string serialize(xmlDoc* doc, xmlNode* n) {
  xmlBuffer* buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, n, 0, 0);
  std::string s(reinterpret_cast<const char*>(xmlBufferContent(buf)), xmlBufferLength(buf));
  xmlBufferFree(buf);
  return s;
}

}  // namespace

Result<std::uint64_t> parseLibvirtSize(const std::string& value, const std::string& unit) {
  auto v = parseU64(value, "size");
  if (!v) return std::move(v).error();
  static const std::map<std::string, std::uint64_t> kUnits = {{"b", 1},
                                                              {"bytes", 1},
                                                              {"KB", 1000ULL},
                                                              {"k", 1024ULL},
                                                              {"K", 1024ULL},
                                                              {"KiB", 1024ULL},
                                                              {"MB", 1000ULL * 1000},
                                                              {"M", 1ULL << 20},
                                                              {"MiB", 1ULL << 20},
                                                              {"GB", 1000ULL * 1000 * 1000},
                                                              {"G", 1ULL << 30},
                                                              {"GiB", 1ULL << 30},
                                                              {"TB", 1000ULL * 1000 * 1000 * 1000},
                                                              {"T", 1ULL << 40},
                                                              {"TiB", 1ULL << 40}};
  auto it = kUnits.find(unit.empty() ? "KiB" : unit);
  if (it == kUnits.end())
    return Error(Errc::kInvalidArgument, "unknown memory unit '" + unit + "'");
  if (*v > UINT64_MAX / it->second)
    return Error(Errc::kInvalidArgument, "size " + value + " " + unit + " overflows");
  return *v * it->second;
}

Result<HostInfo> parseCapabilities(const std::string& xml) {
  auto doc = parseXml(xml, "capabilities");
  if (!doc) return std::move(doc).error();
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!isElement(root, "capabilities"))
    return Error(Errc::kInvalidArgument, "capabilities XML: root element is not <capabilities>");
  HostInfo host;
  const xmlNode* cells = path(root, "host/topology/cells");
  for (const xmlNode* c : children(cells, "cell")) {
    HostCell cell;
    auto id = parseInt(attr(c, "id").value_or(""), "cell id");
    if (!id) return std::move(id).error().context("capabilities XML");
    cell.id = static_cast<unsigned>(*id);
    if (const xmlNode* m = child(c, "memory")) {
      auto mem = sizeOf(m, "capabilities XML cell " + std::to_string(cell.id) + " memory");
      if (!mem) return std::move(mem).error();
      cell.memoryBytes = *mem;
    }
    for (const xmlNode* cpuNode : children(child(c, "cpus"), "cpu")) {
      HostCpu cpu;
      auto cid = parseInt(attr(cpuNode, "id").value_or(""), "cpu id");
      if (!cid || static_cast<unsigned>(*cid) > CpuSet::kMaxCpu)
        return Error(Errc::kInvalidArgument,
                     "capabilities XML: bad cpu id in cell " + std::to_string(cell.id));
      cpu.id = static_cast<unsigned>(*cid);
      cpu.cell = cell.id;
      if (auto s = attr(cpuNode, "socket_id")) cpu.socket = parseInt(*s, "socket_id").valueOr(-1);
      if (auto s = attr(cpuNode, "core_id")) cpu.core = parseInt(*s, "core_id").valueOr(-1);
      cpu.siblings = CpuSet{cpu.id};
      if (auto s = attr(cpuNode, "siblings")) {
        auto sib = CpuSet::parseList(*s);
        if (!sib)
          return std::move(sib).error().context("capabilities XML cpu " + std::to_string(cpu.id) +
                                                " siblings");
        if (!sib->empty()) cpu.siblings = *sib;
      }
      cell.cpus.add(cpu.id);
      host.cpus.push_back(cpu);
    }
    host.cells.push_back(cell);
  }
  std::sort(host.cells.begin(), host.cells.end(), [](auto& a, auto& b) { return a.id < b.id; });
  std::sort(host.cpus.begin(), host.cpus.end(), [](auto& a, auto& b) { return a.id < b.id; });
  return host;
}

HostInfo synthesizeHost(unsigned nodes, unsigned sockets, unsigned cores, unsigned threads,
                        std::uint64_t memoryBytes) {
  HostInfo host;
  nodes = std::max(1u, nodes);
  sockets = std::max(1u, sockets);
  cores = std::max(1u, cores);
  threads = std::max(1u, threads);
  // virNodeInfo: sockets is "per node", cores per socket, threads per core.
  const unsigned perNode = sockets * cores * threads;
  unsigned id = 0;
  for (unsigned n = 0; n < nodes; ++n) {
    HostCell cell;
    cell.id = n;
    cell.memoryBytes = memoryBytes / nodes;
    for (unsigned s = 0; s < sockets; ++s) {
      for (unsigned c = 0; c < cores; ++c) {
        CpuSet sib = CpuSet::range(id, id + threads - 1);
        for (unsigned t = 0; t < threads; ++t, ++id) {
          HostCpu cpu;
          cpu.id = id;
          cpu.cell = n;
          cpu.socket = static_cast<int>(n * sockets + s);
          cpu.core = static_cast<int>(c);
          cpu.siblings = sib;
          cell.cpus.add(id);
          host.cpus.push_back(cpu);
        }
      }
    }
    host.cells.push_back(cell);
  }
  (void)perNode;
  return host;
}

Result<VnumaSettings> parseVnumaMetadata(const std::string& xml) {
  auto fail = [](const std::string& m) {
    return Error(Errc::kInvalidArgument, "invalid vnuma metadata: " + m);
  };
  auto doc = parseXml(xml, "vnuma metadata");
  if (!doc) return fail(doc.error().message());
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!isElement(root, "vm"))
    return fail(std::string("expected element <vm>, got <") +
                reinterpret_cast<const char*>(root->name) + ">");
  VnumaSettings s;
  bool hasCeiling = false;
  for (const xmlAttr* a = root->properties; a != nullptr; a = a->next) {
    std::string name = reinterpret_cast<const char*>(a->name);
    std::string value = attr(root, name.c_str()).value_or("");
    if (name == "managed") {
      if (value == "yes")
        s.optedIn = true;
      else if (value == "no")
        s.optedIn = false;
      else
        return fail("managed='" + value + "' (expected 'yes' or 'no')");
    } else if (name == "floor" || name == "ceiling" || name == "weight") {
      auto v = parseU64(value, name);
      if (!v) return fail(v.error().message());
      if (*v > 1000000) return fail(name + " " + value + " is too large");
      unsigned u = static_cast<unsigned>(*v);
      if (name == "floor")
        s.floor = u;
      else if (name == "ceiling") {
        s.ceiling = u;
        hasCeiling = true;
      } else
        s.weight = u;
    } else {
      return fail("unknown attribute '" + name + "'");
    }
  }
  if (s.floor < 1) return fail("floor must be >= 1");
  if (hasCeiling && s.ceiling < 1) return fail("ceiling must be >= 1");
  if (hasCeiling && s.floor > s.ceiling)
    return fail("floor " + std::to_string(s.floor) + " > ceiling " + std::to_string(s.ceiling));
  if (s.weight < 1 || s.weight > 10000)
    return fail("weight " + std::to_string(s.weight) + " out of range 1..10000");
  return s;
}

std::string vnumaMetadataXml(const VnumaSettings& s) {
  std::string x = std::string("<vm managed='") + (s.optedIn ? "yes" : "no") + "' floor='" +
                  std::to_string(s.floor) + "'";
  if (s.ceiling > 0) x += " ceiling='" + std::to_string(s.ceiling) + "'";
  x += " weight='" + std::to_string(s.weight) + "'/>";
  return x;
}

Result<VmInfo> parseDomainXml(const std::string& xml, const CpuSet& allCpus) {
  auto doc = parseXml(xml, "domain");
  if (!doc) return std::move(doc).error();
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!isElement(root, "domain"))
    return Error(Errc::kInvalidArgument, "domain XML: root element is not <domain>");
  VmInfo vm;
  vm.name = text(child(root, "name"));
  vm.uuid = text(child(root, "uuid"));
  auto ctx = "domain '" + vm.name + "' XML";
  if (auto id = attr(root, "id")) {
    auto v = parseInt(*id, "id");
    if (!v) return std::move(v).error().context(ctx);
    vm.id = *v;
  }
  const xmlNode* vcpu = child(root, "vcpu");
  if (vcpu == nullptr) return Error(Errc::kInvalidArgument, ctx + ": no <vcpu>");
  auto maxV = parseInt(text(vcpu), "vcpu");
  if (!maxV) return std::move(maxV).error().context(ctx);
  vm.vcpus = static_cast<unsigned>(*maxV);
  if (auto cur = attr(vcpu, "current")) {
    auto c = parseInt(*cur, "vcpu current");
    if (!c) return std::move(c).error().context(ctx);
    vm.vcpus = static_cast<unsigned>(*c);
  }
  CpuSet defaultAffinity = allCpus;
  if (auto cs = attr(vcpu, "cpuset")) {
    auto set = CpuSet::parseList(*cs);
    if (!set) return std::move(set).error().context(ctx + ": <vcpu cpuset>");
    defaultAffinity = *set;
  }
  vm.vcpuAffinity.assign(vm.vcpus, defaultAffinity);

  const xmlNode* cputune = child(root, "cputune");
  for (const xmlNode* p : children(cputune, "vcpupin")) {
    auto v = parseInt(attr(p, "vcpu").value_or(""), "vcpupin vcpu");
    if (!v) return std::move(v).error().context(ctx);
    auto set = CpuSet::parseList(attr(p, "cpuset").value_or(""));
    if (!set) return std::move(set).error().context(ctx + ": vcpupin " + std::to_string(*v));
    if (static_cast<unsigned>(*v) < vm.vcpus) vm.vcpuAffinity[static_cast<unsigned>(*v)] = *set;
  }
  if (const xmlNode* ep = child(cputune, "emulatorpin")) {
    auto set = CpuSet::parseList(attr(ep, "cpuset").value_or(""));
    if (!set) return std::move(set).error().context(ctx + ": emulatorpin");
    vm.emulatorPin = *set;
  }
  if (const xmlNode* io = child(root, "iothreads")) {
    auto n = parseInt(text(io), "iothreads");
    if (!n) return std::move(n).error().context(ctx);
    vm.iothreads = static_cast<unsigned>(*n);
  }

  for (const xmlNode* c : children(path(root, "cpu/numa"), "cell")) {
    GuestNode node;
    auto id = parseInt(attr(c, "id").value_or(""), "numa cell id");
    if (!id) return std::move(id).error().context(ctx);
    node.id = static_cast<unsigned>(*id);
    if (auto cpus = attr(c, "cpus")) {
      auto set = CpuSet::parseList(*cpus);
      if (!set)
        return std::move(set).error().context(ctx + ": numa cell " + std::to_string(node.id) +
                                              " cpus");
      node.vcpus = *set;
    }
    auto mem = parseLibvirtSize(attr(c, "memory").value_or(""), attr(c, "unit").value_or("KiB"));
    if (!mem)
      return std::move(mem).error().context(ctx + ": numa cell " + std::to_string(node.id) +
                                            " memory");
    node.memoryBytes = *mem;
    vm.nodes.push_back(node);
  }
  if (vm.nodes.empty()) {
    GuestNode node;
    node.vcpus = vm.vcpus > 0 ? CpuSet::range(0, vm.vcpus - 1) : CpuSet{};
    if (const xmlNode* m = child(root, "memory")) {
      auto mem = sizeOf(m, ctx + ": <memory>");
      if (!mem) return std::move(mem).error();
      node.memoryBytes = *mem;
    }
    vm.nodes.push_back(node);
  }
  for (const xmlNode* mn : children(child(root, "numatune"), "memnode")) {
    auto cell = parseInt(attr(mn, "cellid").value_or(""), "memnode cellid");
    if (!cell) return std::move(cell).error().context(ctx);
    auto set = CpuSet::parseList(attr(mn, "nodeset").value_or(""));
    if (!set)
      return std::move(set).error().context(ctx + ": memnode " + std::to_string(*cell) +
                                            " nodeset");
    for (auto& n : vm.nodes)
      if (n.id == static_cast<unsigned>(*cell)) n.memNodes = *set;
  }

  for (const xmlNode* m : children(child(root, "devices"), "memory")) {
    if (attr(m, "model").value_or("") != "virtio-mem") continue;
    VirtioMemDevice d;
    d.alias = attr(child(m, "alias"), "name").value_or("");
    const xmlNode* t = child(m, "target");
    std::string dctx = ctx + ": virtio-mem '" + d.alias + "'";
    auto node = parseInt(text(child(t, "node")), "node");
    if (!node) return std::move(node).error().context(dctx);
    d.guestNode = static_cast<unsigned>(*node);
    struct Field {
      const char* name;
      std::uint64_t* out;
      bool required;
    };
    for (Field f :
         {Field{"size", &d.sizeBytes, true}, Field{"block", &d.blockBytes, false},
          Field{"requested", &d.requestedBytes, false}, Field{"current", &d.currentBytes, false}}) {
      const xmlNode* e = child(t, f.name);
      if (e == nullptr) {
        if (f.required) return Error(Errc::kInvalidArgument, dctx + ": no <" + f.name + ">");
        continue;
      }
      auto v = sizeOf(e, dctx + " <" + f.name + ">");
      if (!v) return std::move(v).error();
      *f.out = *v;
    }
    vm.memDevices.push_back(d);
  }
  return vm;
}

void classifyVm(VmInfo& vm, const HostInfo& host) {
  vm.pcpuOfVcpu.assign(vm.vcpus, -1);
  std::vector<std::string> reasons;
  if (!vm.metadataError.empty())
    reasons.push_back(vm.metadataError);
  else if (!vm.settings)
    reasons.push_back("not opted in (no vnuma metadata)");
  else if (!vm.settings->optedIn)
    reasons.push_back("not opted in (managed='no')");

  std::map<unsigned, unsigned> ownerOfPcpu;
  for (unsigned v = 0; v < vm.vcpus; ++v) {
    const CpuSet& aff = vm.vcpuAffinity.at(v);
    if (aff.count() != 1) {
      reasons.push_back("vCPU " + std::to_string(v) +
                        " is not pinned to exactly one pCPU (affinity '" + aff.toList() + "')");
      continue;
    }
    unsigned p = static_cast<unsigned>(aff.first());
    vm.pcpuOfVcpu[v] = static_cast<int>(p);
    auto [it, fresh] = ownerOfPcpu.emplace(p, v);
    if (!fresh)
      reasons.push_back("vCPUs " + std::to_string(it->second) + " and " + std::to_string(v) +
                        " share pCPU " + std::to_string(p));
    else if (!host.cpus.empty() && host.cellOfCpu(p) < 0)
      reasons.push_back("vCPU " + std::to_string(v) + " is pinned to pCPU " + std::to_string(p) +
                        " which the host does not have");
  }
  vm.managed = reasons.empty();
  vm.unmanagedReason.clear();
  for (auto& r : reasons) vm.unmanagedReason += (vm.unmanagedReason.empty() ? "" : "; ") + r;

  vm.mismatches.clear();
  bool mirror = vm.nodes.size() == host.cells.size();
  if (!mirror)
    vm.mismatches.push_back("guest has " + std::to_string(vm.nodes.size()) +
                            " NUMA node(s), host has " + std::to_string(host.cells.size()));
  for (auto& node : vm.nodes) {
    node.pcpus = CpuSet{};
    std::set<unsigned> cpuNodes;
    for (unsigned v : node.vcpus.ids()) {
      if (v >= vm.vcpus) continue;
      node.pcpus |= vm.vcpuAffinity[v];
      for (unsigned p : vm.vcpuAffinity[v].ids())
        if (int c = host.cellOfCpu(p); c >= 0) cpuNodes.insert(static_cast<unsigned>(c));
    }
    std::set<unsigned> all = cpuNodes;
    if (node.memNodes)
      for (unsigned m : node.memNodes->ids()) all.insert(m);
    node.hostNode = all.size() == 1 ? static_cast<int>(*all.begin()) : -1;
    std::string g = "guest node " + std::to_string(node.id);
    if (node.hostNode < 0) {
      mirror = false;
      if (all.empty()) {
        vm.mismatches.push_back(g + " has no host node (no pinned vCPUs, no memory binding)");
      } else if (node.memNodes && !cpuNodes.empty() && memNodeSet(*node.memNodes) != cpuNodes) {
        vm.mismatches.push_back(g + ": vCPUs on host node(s) " +
                                joinIds({cpuNodes.begin(), cpuNodes.end()}) +
                                " but memory bound to host node(s) " + node.memNodes->toList());
      } else {
        vm.mismatches.push_back(g + " spans host nodes " + joinIds({all.begin(), all.end()}));
      }
    } else if (static_cast<unsigned>(node.hostNode) != node.id) {
      mirror = false;
      vm.mismatches.push_back(g + " is on host node " + std::to_string(node.hostNode));
    }
  }
  vm.mirror = mirror && !vm.nodes.empty();
}

Result<std::string> virtioMemUpdateXml(const std::string& domainXml, const MemoryDeviceRef& dev,
                                       std::uint64_t requestedBytes) {
  auto doc = parseXml(domainXml, "domain");
  if (!doc) return std::move(doc).error();
  xmlNode* root = xmlDocGetRootElement(doc->get());
  xmlNode* found = nullptr;
  for (const xmlNode* m : children(child(root, "devices"), "memory")) {
    if (attr(m, "model").value_or("") != "virtio-mem") continue;
    bool match = dev.guestNode ? text(path(m, "target/node")) == std::to_string(*dev.guestNode)
                               : attr(child(m, "alias"), "name").value_or("") == dev.alias;
    if (match) {
      found = const_cast<xmlNode*>(m);
      break;
    }
  }
  if (found == nullptr)
    return Error(Errc::kNotFound, "no virtio-mem device with " + dev.describe());
  xmlNode* target = const_cast<xmlNode*>(child(found, "target"));
  auto size = sizeOf(child(target, "size"), "virtio-mem size");
  if (!size) return std::move(size).error();
  std::uint64_t block = 0;
  if (const xmlNode* b = child(target, "block")) {
    auto bl = sizeOf(b, "virtio-mem block");
    if (!bl) return std::move(bl).error();
    block = *bl;
  }
  if (block > 0 && requestedBytes % block != 0)
    return Error(Errc::kInvalidArgument, "requested size " + std::to_string(requestedBytes) +
                                             " bytes is not a multiple of the block size " +
                                             std::to_string(block) + " bytes");
  if (requestedBytes > *size)
    return Error(Errc::kInvalidArgument, "requested size " + std::to_string(requestedBytes) +
                                             " bytes exceeds the device size " +
                                             std::to_string(*size) + " bytes");
  if (requestedBytes % 1024 != 0)
    return Error(Errc::kInvalidArgument, "requested size " + std::to_string(requestedBytes) +
                                             " bytes is not a multiple of 1 KiB");
  xmlNode* req = const_cast<xmlNode*>(child(target, "requested"));
  if (req == nullptr) req = xmlNewChild(target, nullptr, xc("requested"), nullptr);
  std::string kib = std::to_string(requestedBytes / 1024);
  xmlNodeSetContent(req, xc(kib.c_str()));
  xmlSetProp(req, xc("unit"), xc("KiB"));
  return serialize(doc->get(), found);
}

std::vector<VcpuStat> vcpuStatsFromFields(
    const std::vector<std::pair<std::string, std::uint64_t>>& fields) {
  std::map<unsigned, VcpuStat> byVcpu;
  for (const auto& [key, v] : fields) {
    if (key.rfind("vcpu.", 0) != 0) continue;
    auto dot = key.find('.', 5);
    if (dot == std::string::npos) continue;  // vcpu.current, vcpu.maximum
    auto idx = parseU64(key.substr(5, dot - 5), "vcpu");
    if (!idx || *idx > CpuSet::kMaxCpu) continue;
    std::string field = key.substr(dot + 1);
    VcpuStat& s = byVcpu[static_cast<unsigned>(*idx)];
    s.vcpu = static_cast<unsigned>(*idx);
    if (field == "state") {
      s.state = static_cast<int>(v);
    } else if (field == "time") {
      s.timeNs = v;
    } else if (field == "wait") {
      s.waitNs = v;
    } else if (field == "delay") {
      s.delayNs = v;
      s.hasDelay = true;
    }
  }
  std::vector<VcpuStat> out;
  for (auto& [_, s] : byVcpu) out.push_back(s);
  return out;
}

}  // namespace vnuma::sys
