#include "host-broker/ctl/Ctl.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <vector>

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"
#include "common/topo/Topology.hpp"
#include "common/transport/Transport.hpp"

namespace vnuma::broker::ctl {
namespace {

using nlohmann::json;

// Left-aligned text table; the header is upper-case by convention of the callers.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const {
    std::vector<std::size_t> width;
    for (const auto& r : rows_) {
      if (width.size() < r.size()) width.resize(r.size(), 0);
      for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    }
    for (const auto& r : rows_) {
      std::string line;
      for (std::size_t i = 0; i < r.size(); ++i) {
        line += r[i];
        if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string str(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "-";
  return j.dump();
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string kb(const json& j) {
  if (!j.is_number()) return "-";
  double v = j.get<double>();
  std::ostringstream os;
  os.precision(1);
  os << std::fixed;
  if (v >= 1024.0 * 1024.0)
    os << v / (1024.0 * 1024.0) << "G";
  else if (v >= 1024.0)
    os << v / 1024.0 << "M";
  else
    os << v << "K";
  return os.str();
}

void printKeyValues(std::ostream& out, const json& obj, const std::vector<std::string>& keys) {
  std::size_t w = 0;
  for (const auto& k : keys) w = std::max(w, k.size());
  for (const auto& k : keys) {
    if (!obj.contains(k)) continue;
    out << k << ":" << std::string(w - k.size() + 1, ' ') << str(obj[k]) << "\n";
  }
}

void printHealth(std::ostream& out, const json& j) {
  printKeyValues(out, j,
                 {"status", "version", "epoch", "uptime_ms", "libvirt_connected",
                  "agents_connected", "vms_managed", "policy"});
}

void printNodes(std::ostream& out, const json& nodes) {
  Table t({"NODE", "CPUS", "MEM_TOTAL", "RESERVE", "COMMITTED", "DISTANCES"});
  for (const auto& n : nodes) {
    std::string d;
    for (const auto& x : n.value("distances", json::array())) d += (d.empty() ? "" : " ") + str(x);
    t.add({str(n["id"]), orDash(n.value("cpus", "")), kb(n["mem_total_kb"]),
           kb(n.value("mem_reserve_kb", json())), kb(n.value("mem_committed_kb", json())),
           orDash(d)});
  }
  t.print(out);
}

void printHost(std::ostream& out, const json& j) {
  printKeyValues(out, j, {"hostname", "libvirt_uri", "pcpus", "reserved", "free"});
  out << "\n";
  printNodes(out, j["nodes"]);
}

void printVms(std::ostream& out, const json& j) {
  Table t(
      {"NAME", "UUID", "STATE", "MANAGED", "VCPUS", "FLOOR", "CEILING", "WEIGHT", "HELD", "AGENT"});
  for (const auto& vm : j["vms"]) {
    const json& p = vm["pcpus"];
    std::string agent = vm["agent"].value("connected", false) ? "up" : "down";
    t.add({str(vm["name"]), str(vm["uuid"]), str(vm["state"]),
           vm.value("managed", false) ? "yes" : "no", str(vm["vcpus"]), str(vm["floor"]),
           str(vm["ceiling"]), str(vm["weight"]), orDash(p.value("held", "")), agent});
  }
  t.print(out);
}

void printVm(std::ostream& out, const json& vm) {
  printKeyValues(
      out, vm,
      {"name", "uuid", "state", "managed", "unmanaged_reason", "vcpus", "floor", "ceiling",
       "weight", "settings_source", "generation", "acked_generation", "demand"});
  const json& p = vm["pcpus"];
  out << "pcpus:            held=" << orDash(p.value("held", ""))
      << " granting=" << orDash(p.value("granting", ""))
      << " revoking=" << orDash(p.value("revoking", ""))
      << " floor=" << orDash(p.value("floor", ""))
      << " enforced=" << orDash(p.value("enforced", "")) << "\n";
  const json& a = vm["agent"];
  out << "agent:            " << (a.value("connected", false) ? "connected" : "not connected");
  if (a.value("last_seen_ms_ago", -1) >= 0)
    out << ", last seen " << str(a["last_seen_ms_ago"]) << " ms ago";
  out << "\n";
  if (!vm["memory"].empty()) {
    out << "\n";
    Table t({"HOST_NODE", "GUEST_NODE", "ALIAS", "BOOT", "REQUESTED", "CURRENT", "BLOCK"});
    for (const auto& m : vm["memory"]) {
      t.add({str(m["host_node"]), str(m["guest_node"]), orDash(m.value("alias", "")),
             kb(m["boot_kb"]), kb(m["requested_kb"]), kb(m["current_kb"]), kb(m["block_kb"])});
    }
    t.print(out);
  }
  for (const auto& n : vm.value("notes", json::array())) out << "note: " << str(n) << "\n";
}

void printLedger(std::ostream& out, const json& j) {
  out << "version: " << str(j["version"]) << "\n\n";
  Table t({"PCPU", "NODE", "STATE", "OWNER", "FLOOR", "ENFORCED"});
  for (const auto& p : j["pcpus"]) {
    std::string owner = p.value("owner_name", "");
    if (owner.empty()) owner = p.value("owner", "");
    t.add({str(p["id"]), str(p["node"]), str(p["state"]), orDash(owner),
           p.value("floor", false) ? "yes" : "", p.value("enforced", false) ? "yes" : ""});
  }
  t.print(out);
  out << "\n";
  printNodes(out, j["nodes"]);
}

void printPolicy(std::ostream& out, const json& j) {
  std::string avail;
  for (const auto& a : j.value("available", json::array()))
    avail += (avail.empty() ? "" : ", ") + str(a);
  out << "name:      " << str(j["name"]) << "\n"
      << "file:      " << orDash(j.value("file", "")) << "\n"
      << "available: " << avail << "\n";
  std::string text = j.value("text", "");
  if (!text.empty()) out << "\n" << text << (text.back() == '\n' ? "" : "\n");
}

void printEvents(std::ostream& out, const json& j) {
  Table t({"SEQ", "UNIX_MS", "KIND", "VM", "DETAIL"});
  for (const auto& e : j["events"]) {
    t.add({str(e["seq"]), str(e["unix_ms"]), str(e["kind"]), orDash(e.value("vm", "")),
           e.value("detail", "")});
  }
  t.print(out);
}

void printTopology(std::ostream& out, const Topology& topo) {
  Table t({"NODE", "CPUS", "MEM_TOTAL_KB", "DISTANCES"});
  for (const auto& n : topo.nodes) {
    std::string d;
    for (unsigned x : n.distances) d += (d.empty() ? "" : " ") + std::to_string(x);
    t.add({std::to_string(n.id), orDash(n.cpus.toList()), std::to_string(n.memTotalKb), orDash(d)});
  }
  t.print(out);
  out << "\nonline:   " << orDash(topo.online.toList())
      << "\nisolated: " << orDash(topo.isolated.toList()) << "\n";
}

}  // namespace

Result<AdminReply> adminCall(const AdminClientOptions& opts, const std::string& method,
                             const std::string& path, const std::string& body) {
  transport::ClientOptions co;
  co.endpoint = opts.endpoint;
  co.maxMessageBytes = transport::kMaxAdminMessageBytes;
  if (!opts.serverPublicKeyFile.empty() || !opts.clientSecretKeyFile.empty()) {
    if (opts.serverPublicKeyFile.empty() || opts.clientSecretKeyFile.empty())
      return Error(Errc::kInvalidArgument, "--server-key and --client-key go together (CURVE)");
    auto server = transport::loadCurvePublicKey(opts.serverPublicKeyFile);
    if (!server) return std::move(server).error().context("reading --server-key");
    auto client = transport::loadCurveKeyPair(opts.clientSecretKeyFile);
    if (!client) return std::move(client).error().context("reading --client-key");
    co.serverPublicKey = *server;
    co.clientKeys = *client;
  }
  auto client = transport::Client::connect(co);
  if (!client) return std::move(client).error().context("connecting to " + opts.endpoint);

  proto::AdminRequest req;
  req.set_version(1);
  std::random_device rd;
  const std::uint64_t id = (static_cast<std::uint64_t>(rd()) << 32 | rd()) | 1;
  req.set_request_id(id);
  req.set_method(method);
  req.set_path(path);
  req.set_body(body);
  if (auto s = (*client)->send(codec::encode(req)); !s)
    return std::move(s).error().context("sending to " + opts.endpoint);

  const auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto frame = (*client)->receive(left);
    if (!frame) return std::move(frame).error().context("receiving from " + opts.endpoint);
    if (!frame->has_value()) break;
    auto resp = codec::decodeAdminResponse(**frame);
    if (!resp) return std::move(resp).error().context("reply from " + opts.endpoint);
    if (resp->request_id() != id) continue;  // a stale reply; ours may still come
    return AdminReply{resp->status(), resp->body(), resp->content_type()};
  }
  return Error(Errc::kUnavailable, "no answer from the broker at " + opts.endpoint + " within " +
                                       std::to_string(opts.timeout.count()) +
                                       " ms (is vnuma-broker running?)");
}

int runCtl(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"vnumactl: administer vnuma-broker (docs/admin-api.md)", "vnumactl"};
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(vnuma::kVersion));

  AdminClientOptions opts;
  if (const char* env = std::getenv("VNUMA_ADMIN_ENDPOINT"); env && *env) opts.endpoint = env;
  bool asJson = false;
  unsigned timeoutMs = 5000;
  app.add_option("--endpoint", opts.endpoint,
                 "admin endpoint (default $VNUMA_ADMIN_ENDPOINT or " +
                     std::string(kDefaultAdminEndpoint) + ")");
  app.add_option("--timeout-ms", timeoutMs, "how long to wait for the broker")
      ->check(CLI::Range(1u, 600000u));
  app.add_option("--server-key", opts.serverPublicKeyFile,
                 "broker public key file (admin TCP with CURVE)");
  app.add_option("--client-key", opts.clientSecretKeyFile,
                 "client secret key file (admin TCP with CURVE)");
  app.add_flag("--json", asJson, "print the API's JSON instead of tables");

  auto* health = app.add_subcommand("health", "broker health");
  auto* host = app.add_subcommand("host", "host topology, reserved and free pCPUs");
  auto* vms = app.add_subcommand("vms", "list VMs");
  auto* vm = app.add_subcommand("vm", "one VM");
  vm->require_subcommand(1);
  std::string vmId;
  auto* vmShow = vm->add_subcommand("show", "show a VM");
  vmShow->add_option("ID", vmId, "VM name or UUID")->required();
  auto* vmSet = vm->add_subcommand("set", "change a VM's floor, ceiling or weight");
  vmSet->add_option("ID", vmId, "VM name or UUID")->required();
  std::optional<unsigned> floor, ceiling;
  std::optional<double> weight;
  vmSet->add_option("--floor", floor, "pCPUs the VM always keeps");
  vmSet->add_option("--ceiling", ceiling, "most pCPUs the VM may get");
  vmSet->add_option("--weight", weight, "share weight");
  auto* ledger = app.add_subcommand("ledger", "the pCPU and memory ledger");
  auto* rebalance = app.add_subcommand("rebalance", "run one rebalancing tick now");
  auto* policy = app.add_subcommand("policy", "the rebalancing policy");
  policy->require_subcommand(1);
  auto* policyShow = policy->add_subcommand("show", "show the policy");
  auto* policySet = policy->add_subcommand("set", "load a policy file");
  std::string policyFile, policyName;
  policySet->add_option("FILE", policyFile, "policy parameters file (TOML)")->required();
  policySet->add_option("--name", policyName, "policy name from the registry (default: keep)");
  auto* events = app.add_subcommand("events", "recent events");
  std::uint64_t since = 0;
  unsigned limit = 0;
  events->add_option("--since", since, "only events with seq > N");
  events->add_option("--limit", limit, "at most N events");
  auto* metrics = app.add_subcommand("metrics", "Prometheus metrics");
  auto* topology =
      app.add_subcommand("topology", "this host's NUMA topology from sysfs (no broker needed)");
  std::string sysfsRoot = "/";
  topology->add_option("--sysfs-root", sysfsRoot, "directory holding sys/ (default /)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e, out, err);
    return rc == 0 ? 0 : kExitUsage;
  }
  opts.timeout = std::chrono::milliseconds(timeoutMs);

  if (topology->parsed()) {
    auto topo = Topology::read(sysfsRoot);
    if (!topo) {
      err << "vnumactl: " << topo.error().describe() << "\n";
      return kExitNoInput;
    }
    if (asJson)
      out << topologyToJson(*topo) << "\n";
    else
      printTopology(out, *topo);
    return 0;
  }

  std::string method = "GET", path, body;
  void (*printer)(std::ostream&, const json&) = nullptr;
  if (health->parsed()) {
    path = "/v1/health";
    printer = printHealth;
  } else if (host->parsed()) {
    path = "/v1/host";
    printer = printHost;
  } else if (vms->parsed()) {
    path = "/v1/vms";
    printer = printVms;
  } else if (vmShow->parsed() || vmSet->parsed()) {
    path = "/v1/vms/" + vmId;
    printer = printVm;
    if (vmSet->parsed()) {
      json patch = json::object();
      if (floor) patch["floor"] = *floor;
      if (ceiling) patch["ceiling"] = *ceiling;
      if (weight) patch["weight"] = *weight;
      if (patch.empty()) {
        err << "vnumactl: vm set needs at least one of --floor, --ceiling, --weight\n";
        return kExitUsage;
      }
      method = "PATCH";
      body = patch.dump();
    }
  } else if (ledger->parsed()) {
    path = "/v1/ledger";
    printer = printLedger;
  } else if (rebalance->parsed()) {
    method = "POST";
    path = "/v1/rebalance";
    printer = [](std::ostream& o, const json& j) {
      o << "moves: " << str(j["moves"]) << "\n" << str(j["summary"]) << "\n";
    };
  } else if (policyShow->parsed() || policySet->parsed()) {
    path = "/v1/policy";
    printer = printPolicy;
    if (policySet->parsed()) {
      std::ifstream in(policyFile);
      if (!in) {
        err << "vnumactl: cannot read policy file '" << policyFile << "'\n";
        return kExitNoInput;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      json put{{"text", ss.str()}};
      if (!policyName.empty()) put["name"] = policyName;
      method = "PUT";
      body = put.dump();
    }
  } else if (events->parsed()) {
    path = "/v1/events?since=" + std::to_string(since);
    if (limit > 0) path += "&limit=" + std::to_string(limit);
    printer = printEvents;
  } else if (metrics->parsed()) {
    path = "/v1/metrics";
  }

  auto reply = adminCall(opts, method, path, body);
  if (!reply) {
    err << "vnumactl: " << reply.error().describe() << "\n";
    return reply.error().code() == Errc::kInvalidArgument ? kExitUsage : kExitUnavailable;
  }
  if (reply->status >= 400) {
    json j = json::parse(reply->body, nullptr, false);
    std::string msg =
        (!j.is_discarded() && j.is_object() && j.contains("error")) ? str(j["error"]) : reply->body;
    err << "vnumactl: " << msg << " (status " << reply->status << ")\n";
    if (asJson) out << reply->body << "\n";
    return kExitApiError;
  }
  if (asJson || printer == nullptr) {
    out << reply->body;
    if (reply->body.empty() || reply->body.back() != '\n') out << "\n";
    return 0;
  }
  json j = json::parse(reply->body, nullptr, false);
  if (j.is_discarded()) {
    err << "vnumactl: the broker's reply is not JSON: " << reply->body << "\n";
    return kExitApiError;
  }
  try {
    printer(out, j);
  } catch (const json::exception& e) {
    err << "vnumactl: unexpected reply shape (" << e.what() << "); use --json to see it\n";
    return kExitApiError;
  }
  return 0;
}

}  // namespace vnuma::broker::ctl
