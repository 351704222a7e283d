#include "host-broker/api/Router.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/proto/Codec.hpp"

namespace vnuma::broker::api {
namespace {

using nlohmann::json;

constexpr std::size_t kDefaultEventLimit = 1000;
constexpr std::size_t kMaxEventLimit = 10000;
// The domain metadata keeps weight x 100 as an integer in 1..10000 (docs/libvirt.md).
constexpr double kMinWeight = 0.01;
constexpr double kMaxWeight = 100.0;

Response jsonResponse(unsigned status, const json& body) {
  return Response{status, body.dump(), kJsonContentType};
}

Response errorResponse(unsigned status, const std::string& message) {
  return jsonResponse(status, json{{"error", message}});
}

Response methodNotAllowed(const std::string& method, const std::string& path,
                          const std::vector<std::string>& allowed) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return jsonResponse(405, json{{"error", "method " + method + " not allowed on " + path +
                                              " (allowed: " + list + ")"},
                                {"allowed", allowed}});
}

unsigned statusFor(const Error& e) {
  switch (e.code()) {
    case Errc::kNotFound:
      return 404;
    case Errc::kInvalidArgument:
      return 400;
    case Errc::kConflict:
      return 409;
    case Errc::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

Response fromError(const Error& e) { return errorResponse(statusFor(e), e.describe()); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Percent-decoding of one path segment; nullopt on a broken escape.
std::optional<std::string> percentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

json nodeJson(const NodeView& n) {
  return json{{"id", n.id},
              {"cpus", n.cpus.toList()},
              {"mem_total_kb", n.memTotalKb},
              {"mem_reserve_kb", n.memReserveKb},
              {"mem_committed_kb", n.memCommittedKb},
              {"distances", n.distances}};
}

json vmJson(const VmView& vm) {
  json mem = json::array();
  for (const auto& m : vm.memory) {
    mem.push_back(json{{"host_node", m.hostNode},
                       {"guest_node", m.guestNode},
                       {"alias", m.alias},
                       {"boot_kb", m.bootKb},
                       {"requested_kb", m.requestedKb},
                       {"current_kb", m.currentKb},
                       {"block_kb", m.blockKb}});
  }
  json j{{"uuid", vm.uuid},
         {"name", vm.name},
         {"state", vm.state},
         {"managed", vm.managed},
         {"vcpus", vm.vcpus},
         {"floor", vm.floor},
         {"ceiling", vm.ceiling},
         {"weight", vm.weight},
         {"settings_source", vm.settingsSource},
         {"pcpus", json{{"held", vm.held.toList()},
                        {"granting", vm.granting.toList()},
                        {"revoking", vm.revoking.toList()},
                        {"floor", vm.floorPcpus.toList()},
                        {"enforced", vm.enforced.toList()}}},
         {"generation", vm.generation},
         {"acked_generation", vm.ackedGeneration},
         {"agent", json{{"connected", vm.agentConnected}, {"last_seen_ms_ago", vm.lastSeenMsAgo}}},
         {"demand", vm.demand},
         {"memory", mem},
         {"notes", vm.notes}};
  if (!vm.managed) j["unmanaged_reason"] = vm.unmanagedReason;
  return j;
}

json policyJson(const PolicyView& p) {
  return json{{"name", p.name}, {"file", p.file}, {"text", p.text}, {"available", p.available}};
}

// Parses a JSON object body; an error message on failure.
std::optional<std::string> parseObject(const std::string& body, json& out,
                                       const std::string& what) {
  if (body.empty()) return "body must be a JSON object with " + what;
  out = json::parse(body, nullptr, false);
  if (out.is_discarded()) return "body is not valid JSON";
  if (!out.is_object()) return "body must be a JSON object with " + what;
  return std::nullopt;
}

std::optional<std::string> rejectUnknownFields(const json& obj,
                                               const std::vector<std::string>& allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return "unknown field '" + it.key() + "' (allowed: " + list + ")";
    }
  }
  return std::nullopt;
}

// A JSON integer in [min, max]; nullopt with `err` set otherwise.
std::optional<unsigned> uintField(const json& obj, const char* name, unsigned min,
                                  std::string& err) {
  const json& v = obj.at(name);
  if (!v.is_number_integer() || v.get<std::int64_t>() < static_cast<std::int64_t>(min) ||
      v.get<std::int64_t>() > static_cast<std::int64_t>(CpuSet::kMaxCpu + 1)) {
    err = std::string(name) + " must be an integer >= " + std::to_string(min);
    return std::nullopt;
  }
  return static_cast<unsigned>(v.get<std::int64_t>());
}

std::optional<std::uint64_t> parseUint(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string formatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

std::string escapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string vmToJson(const VmView& vm) { return vmJson(vm).dump(); }

std::string metricsToPrometheus(const std::vector<MetricSample>& samples) {
  std::string out;
  std::string lastName;
  for (const auto& s : samples) {
    if (s.name != lastName) {
      out += "# HELP " + s.name + " " + s.help + "\n";
      out += "# TYPE " + s.name + " " + s.type + "\n";
      lastName = s.name;
    }
    out += s.name;
    if (!s.labels.empty()) {
      out += "{";
      bool first = true;
      for (const auto& [k, v] : s.labels) {
        out += (first ? "" : ",") + k + "=\"" + escapeLabel(v) + "\"";
        first = false;
      }
      out += "}";
    }
    out += " " + formatDouble(s.value) + "\n";
  }
  return out;
}

Response Router::handle(const Request& req) {
  std::string path = req.path;
  std::string query;
  if (auto q = path.find('?'); q != std::string::npos) {
    query = path.substr(q + 1);
    path.resize(q);
  }
  const std::string& m = req.method;
  static const std::vector<std::string> kMethods = {"GET", "PUT", "PATCH", "POST", "DELETE"};
  if (std::find(kMethods.begin(), kMethods.end(), m) == kMethods.end())
    return errorResponse(400,
                         "unknown method '" + m + "' (expected GET, PUT, PATCH, POST or DELETE)");
  if (!query.empty() && path != "/v1/events")
    return errorResponse(400, "unexpected query '" + query + "' on " + path);

  auto simpleGet = [&](auto&& render) -> Response {
    if (m != "GET") return methodNotAllowed(m, path, {"GET"});
    return jsonResponse(200, render());
  };

  if (path == "/v1/health") {
    return simpleGet([&] {
      HealthView h = backend_.health();
      return json{{"status", h.status},
                  {"version", h.version},
                  {"epoch", h.epoch},
                  {"uptime_ms", h.uptimeMs},
                  {"libvirt_connected", h.libvirtConnected},
                  {"agents_connected", h.agentsConnected},
                  {"vms_managed", h.vmsManaged},
                  {"policy", h.policy}};
    });
  }
  if (path == "/v1/host") {
    return simpleGet([&] {
      HostView h = backend_.host();
      json nodes = json::array();
      for (const auto& n : h.nodes) nodes.push_back(nodeJson(n));
      return json{{"hostname", h.hostname},    {"libvirt_uri", h.libvirtUri},
                  {"pcpus", h.pcpus.toList()}, {"reserved", h.reserved.toList()},
                  {"free", h.free.toList()},   {"nodes", nodes}};
    });
  }
  if (path == "/v1/vms") {
    return simpleGet([&] {
      json list = json::array();
      for (const auto& vm : backend_.vms()) list.push_back(vmJson(vm));
      return json{{"vms", list}};
    });
  }
  static constexpr std::string_view kVmPrefix = "/v1/vms/";
  if (path.rfind(kVmPrefix, 0) == 0 && path.size() > kVmPrefix.size()) {
    std::string_view raw = std::string_view(path).substr(kVmPrefix.size());
    if (raw.find('/') != std::string_view::npos) return errorResponse(404, "no such path: " + path);
    auto id = percentDecode(raw);
    if (!id) return errorResponse(400, "bad percent-encoding in '" + std::string(raw) + "'");
    return vmResource(Request{m, path, req.body}, *id);
  }
  if (path == "/v1/ledger") {
    return simpleGet([&] {
      LedgerView l = backend_.ledger();
      json pcpus = json::array();
      for (const auto& p : l.pcpus) {
        pcpus.push_back(json{{"id", p.id},
                             {"node", p.node},
                             {"state", p.state},
                             {"owner", p.ownerUuid},
                             {"owner_name", p.ownerName},
                             {"floor", p.floor},
                             {"enforced", p.enforced}});
      }
      json nodes = json::array();
      for (const auto& n : l.nodes) nodes.push_back(nodeJson(n));
      return json{{"version", l.version}, {"pcpus", pcpus}, {"nodes", nodes}};
    });
  }
  if (path == "/v1/rebalance") {
    if (m != "POST") return methodNotAllowed(m, path, {"POST"});
    if (!req.body.empty()) {
      json b = json::parse(req.body, nullptr, false);
      if (b.is_discarded() || !b.is_object() || !b.empty())
        return errorResponse(400, "POST /v1/rebalance takes no body (or {})");
    }
    auto r = backend_.rebalance();
    if (!r) return fromError(r.error());
    return jsonResponse(200, json{{"moves", r->moves}, {"summary", r->summary}});
  }
  if (path == "/v1/policy") {
    if (m == "GET") return jsonResponse(200, policyJson(backend_.policy()));
    if (m == "PUT") return putPolicy(req.body);
    return methodNotAllowed(m, path, {"GET", "PUT"});
  }
  if (path == "/v1/events") {
    if (m != "GET") return methodNotAllowed(m, path, {"GET"});
    return events(query);
  }
  if (path == "/v1/metrics") {
    if (m != "GET") return methodNotAllowed(m, path, {"GET"});
    return Response{200, metricsToPrometheus(backend_.metrics()), kPrometheusContentType};
  }
  return errorResponse(404, "no such path: " + path);
}

Response Router::vmResource(const Request& req, const std::string& id) {
  std::vector<VmView> vms = backend_.vms();
  const std::string want = lower(id);
  const VmView* found = nullptr;
  for (const auto& vm : vms) {
    if (lower(vm.uuid) == want || vm.name == id) {
      found = &vm;
      break;
    }
  }
  if (req.method != "GET" && req.method != "PATCH")
    return methodNotAllowed(req.method, req.path, {"GET", "PATCH"});
  if (!found) return errorResponse(404, "no such VM: '" + id + "'");
  if (req.method == "GET") return jsonResponse(200, vmJson(*found));
  return patchVm(*found, req.body);
}

Response Router::patchVm(const VmView& vm, const std::string& body) {
  json obj;
  if (auto e = parseObject(body, obj, "floor, ceiling and/or weight"))
    return errorResponse(400, *e);
  if (auto e = rejectUnknownFields(obj, {"floor", "ceiling", "weight"}))
    return errorResponse(400, *e);
  if (obj.empty())
    return errorResponse(400, "body must set at least one of floor, ceiling, weight");

  VmSettingsPatch patch;
  std::string err;
  if (obj.contains("floor")) {
    patch.floor = uintField(obj, "floor", 1, err);
    if (!patch.floor) return errorResponse(400, err);
  }
  if (obj.contains("ceiling")) {
    patch.ceiling = uintField(obj, "ceiling", 1, err);
    if (!patch.ceiling) return errorResponse(400, err);
  }
  if (obj.contains("weight")) {
    const json& w = obj.at("weight");
    if (!w.is_number() || !(w.get<double>() >= kMinWeight) || w.get<double>() > kMaxWeight)
      return errorResponse(400, "weight must be a number between 0.01 and 100");
    patch.weight = w.get<double>();
  }
  const unsigned floor = patch.floor.value_or(vm.floor);
  const unsigned ceiling = patch.ceiling.value_or(vm.ceiling == 0 ? vm.vcpus : vm.ceiling);
  if (floor > ceiling)
    return errorResponse(400, "floor (" + std::to_string(floor) + ") must not exceed ceiling (" +
                                  std::to_string(ceiling) + ")");
  if (vm.vcpus > 0 && ceiling > vm.vcpus)
    return errorResponse(400, "ceiling (" + std::to_string(ceiling) + ") exceeds the VM's " +
                                  std::to_string(vm.vcpus) + " vCPUs");
  if (!vm.managed)
    return errorResponse(409,
                         "VM '" + vm.name + "' is not managed by vnuma: " + vm.unmanagedReason);

  auto r = backend_.updateVm(vm.uuid, patch);
  if (!r) return fromError(r.error());
  return jsonResponse(200, vmJson(*r));
}

Response Router::putPolicy(const std::string& body) {
  json obj;
  if (auto e = parseObject(body, obj, "name and/or text")) return errorResponse(400, *e);
  if (auto e = rejectUnknownFields(obj, {"name", "text"})) return errorResponse(400, *e);
  PolicyView current = backend_.policy();
  std::string name;  // empty: the name in `text`, else the current policy
  std::string text;
  if (obj.contains("name")) {
    if (!obj["name"].is_string() || obj["name"].get<std::string>().empty())
      return errorResponse(400, "name must be a non-empty string");
    name = obj["name"].get<std::string>();
  }
  if (obj.contains("text")) {
    if (!obj["text"].is_string())
      return errorResponse(400, "text must be a string (the policy file's content)");
    text = obj["text"].get<std::string>();
  }
  if (!name.empty() && std::find(current.available.begin(), current.available.end(), name) ==
                           current.available.end()) {
    std::string list;
    for (const auto& a : current.available) list += (list.empty() ? "" : ", ") + a;
    return errorResponse(400, "unknown policy '" + name + "' (available: " + list + ")");
  }
  auto r = backend_.setPolicy(name, text);
  if (!r) return fromError(r.error());
  return jsonResponse(200, policyJson(*r));
}

Response Router::events(const std::string& query) {
  std::uint64_t since = 0;
  std::size_t limit = kDefaultEventLimit;
  std::string_view rest = query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    auto eq = kv.find('=');
    std::string_view key = kv.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1);
    if (key == "since") {
      auto v = parseUint(val);
      if (!v)
        return errorResponse(
            400, "since must be a non-negative integer, got '" + std::string(val) + "'");
      since = *v;
    } else if (key == "limit") {
      auto v = parseUint(val);
      if (!v || *v == 0 || *v > kMaxEventLimit)
        return errorResponse(
            400, "limit must be an integer between 1 and 10000, got '" + std::string(val) + "'");
      limit = static_cast<std::size_t>(*v);
    } else {
      return errorResponse(
          400, "unknown query parameter '" + std::string(key) + "' (allowed: since, limit)");
    }
  }
  json list = json::array();
  std::uint64_t next = since;
  for (const auto& e : backend_.eventsSince(since, limit)) {
    list.push_back(json{{"seq", e.seq},
                        {"unix_ms", e.unixMs},
                        {"kind", e.kind},
                        {"vm", e.vm},
                        {"detail", e.detail}});
    next = std::max(next, e.seq);
  }
  return jsonResponse(200, json{{"events", list}, {"next_since", next}});
}

std::string Router::handleFrame(std::string_view frame) {
  proto::AdminResponse resp;
  resp.set_version(1);
  auto req = codec::decodeAdminRequest(frame);
  if (!req) {
    resp.set_request_id(0);
    resp.set_status(400);
    resp.set_body(json{{"error", "bad admin request: " + req.error().describe()}}.dump());
    resp.set_content_type(kJsonContentType);
    return codec::encode(resp);
  }
  Response r = handle(Request{req->method(), req->path(), req->body()});
  resp.set_request_id(req->request_id());
  resp.set_status(r.status);
  resp.set_body(r.body);
  resp.set_content_type(r.contentType);
  return codec::encode(resp);
}

}  // namespace vnuma::broker::api
