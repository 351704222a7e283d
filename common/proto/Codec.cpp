#include "common/proto/Codec.hpp"

#include <google/protobuf/repeated_field.h>

#include <cmath>
#include <string>
#include <unordered_set>

#include "common/core/Version.hpp"
#include "common/cpu/CpuSet.hpp"
#include "common/transport/Transport.hpp"

namespace vnuma::codec {
namespace {

// The admin envelope has its own version, independent of the agent protocol's.
constexpr unsigned kAdminProtocolVersion = 1;

using U32List = google::protobuf::RepeatedField<std::uint32_t>;

Error protocolError(std::string message) { return Error(Errc::kProtocol, std::move(message)); }

// Peer-supplied text echoed in an error: short and printable, so a hostile peer cannot flood or
// garble the log.
std::string printable(std::string_view text) {
  constexpr std::size_t kMaxShown = 40;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (text.size() > kMaxShown) out += "...";
  return out;
}

bool isUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

// vCPU ids: each <= CpuSet::kMaxCpu and, when `unique`, no id twice. `what` names the field.
Result<void> checkCpuIds(const U32List& ids, const std::string& what, bool unique = true) {
  std::unordered_set<std::uint32_t> seen;
  for (const std::uint32_t id : ids) {
    if (id > CpuSet::kMaxCpu) {
      return protocolError(what + ": vCPU id " + std::to_string(id) + " is above " +
                           std::to_string(CpuSet::kMaxCpu));
    }
    if (unique && !seen.insert(id).second) {
      return protocolError(what + ": duplicate vCPU id " + std::to_string(id));
    }
  }
  return okResult();
}

Result<void> checkPressure(const proto::Pressure& p, const std::string& what) {
  const double values[] = {p.some_avg10(), p.full_avg10()};
  const char* names[] = {"some_avg10", "full_avg10"};
  for (int i = 0; i < 2; ++i) {
    if (!std::isfinite(values[i]) || values[i] < 0.0 || values[i] > 100.0) {
      return protocolError(what + "." + names[i] + " " + std::to_string(values[i]) +
                           " is not a percentage in [0,100]");
    }
  }
  return okResult();
}

Result<void> checkNodes(const google::protobuf::RepeatedPtrField<proto::GuestNode>& nodes,
                        const std::string& what) {
  std::unordered_set<std::uint32_t> ids;
  for (const auto& n : nodes) {
    if (!ids.insert(n.id()).second) {
      return protocolError(what + ": duplicate node id " + std::to_string(n.id()));
    }
    VNUMA_TRY_VOID(checkCpuIds(n.vcpus(), what + "[" + std::to_string(n.id()) + "].vcpus"));
  }
  return okResult();
}

Result<void> checkHello(const proto::Hello& h) {
  if (h.vm_uuid().empty()) return protocolError("hello: vm_uuid is empty");
  if (!isUuid(h.vm_uuid())) {
    return protocolError("hello: vm_uuid '" + printable(h.vm_uuid()) +
                         "' is not a UUID (8-4-4-4-12 hex digits)");
  }
  VNUMA_TRY_VOID(checkNodes(h.nodes(), "hello: nodes"));
  VNUMA_TRY_VOID(checkCpuIds(h.online_vcpus(), "hello: online_vcpus"));
  VNUMA_TRY_VOID(checkCpuIds(h.applied_vcpus(), "hello: applied_vcpus"));
  return okResult();
}

Result<void> checkWelcome(const proto::Welcome& w) {
  if (w.session_id() == 0) return protocolError("welcome: session_id is 0");
  return checkCpuIds(w.floor_vcpus(), "welcome: floor_vcpus");
}

Result<void> checkReport(const proto::Report& r) {
  VNUMA_TRY_VOID(checkCpuIds(r.applied_vcpus(), "report: applied_vcpus"));
  std::unordered_set<std::uint32_t> seen;
  for (const auto& c : r.cpus()) {
    if (c.vcpu() > CpuSet::kMaxCpu) {
      return protocolError("report: cpus: vCPU id " + std::to_string(c.vcpu()) + " is above " +
                           std::to_string(CpuSet::kMaxCpu));
    }
    if (!seen.insert(c.vcpu()).second) {
      return protocolError("report: cpus: duplicate vCPU id " + std::to_string(c.vcpu()));
    }
    if (!std::isfinite(c.busy()) || c.busy() < 0.0 || c.busy() > 1.0) {
      return protocolError("report: cpus: busy " + std::to_string(c.busy()) + " of vCPU " +
                           std::to_string(c.vcpu()) + " is outside [0,1]");
    }
  }
  VNUMA_TRY_VOID(checkPressure(r.cpu_pressure(), "report: cpu_pressure"));
  VNUMA_TRY_VOID(checkPressure(r.memory_pressure(), "report: memory_pressure"));
  VNUMA_TRY_VOID(checkPressure(r.io_pressure(), "report: io_pressure"));
  return checkNodes(r.nodes(), "report: nodes");
}

Result<void> checkGrant(const proto::Grant& g) {
  if (g.generation() == 0) return protocolError("grant: generation is 0");
  if (g.quota_us() != 0 && g.period_us() == 0) {
    return protocolError("grant: quota_us " + std::to_string(g.quota_us()) + " without period_us");
  }
  // An empty vcpus list decodes: the agent refuses it itself with Ack(ok=false).
  return checkCpuIds(g.vcpus(), "grant: vcpus");
}

Result<void> checkAck(const proto::Ack& a) {
  if (a.generation() == 0) return protocolError("ack: generation is 0");
  return checkCpuIds(a.applied_vcpus(), "ack: applied_vcpus");
}

Result<void> checkBody(const proto::Envelope& env) {
  switch (env.body_case()) {
    case proto::Envelope::kHello:
      return checkHello(env.hello());
    case proto::Envelope::kWelcome:
      return checkWelcome(env.welcome());
    case proto::Envelope::kReport:
      return checkReport(env.report());
    case proto::Envelope::kGrant:
      return checkGrant(env.grant());
    case proto::Envelope::kAck:
      return checkAck(env.ack());
    case proto::Envelope::kBye:
    case proto::Envelope::kError:
      return okResult();
    case proto::Envelope::BODY_NOT_SET:
      break;
  }
  return protocolError("envelope has no body");
}

Result<void> checkFrameSize(std::string_view bytes, std::size_t limit) {
  if (bytes.empty()) return protocolError("empty frame");
  if (bytes.size() > limit) {
    return protocolError("frame of " + std::to_string(bytes.size()) +
                         " bytes exceeds the limit of " + std::to_string(limit) + " bytes");
  }
  return okResult();
}

// Size cap, protobuf parse and version check shared by every decoder. `what` names the message
// type and `versionName` the version in errors.
template <typename Message>
Result<Message> parseFrame(std::string_view bytes, std::size_t limit, const char* what,
                           const char* versionName, unsigned expectedVersion) {
  VNUMA_TRY_VOID(checkFrameSize(bytes, limit));
  Message m;
  // The size is capped far below INT_MAX above.
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return protocolError(std::string("not a protobuf ") + what);
  }
  if (m.version() != expectedVersion) {
    return Error(Errc::kUnsupportedVersion, std::string("unsupported ") + versionName + " " +
                                                std::to_string(m.version()) + " (expected " +
                                                std::to_string(expectedVersion) + ")");
  }
  return m;
}

}  // namespace

Result<proto::Envelope> decodeEnvelope(std::string_view bytes) {
  auto env = parseFrame<proto::Envelope>(bytes, transport::kMaxAgentMessageBytes, "Envelope",
                                         "protocol version", kProtocolVersion);
  if (env.ok()) VNUMA_TRY_VOID(checkBody(*env));
  return env;
}

std::string encodeEnvelope(const proto::Envelope& env) { return env.SerializeAsString(); }

const char* bodyName(const proto::Envelope& env) {
  switch (env.body_case()) {
    case proto::Envelope::kHello:
      return "hello";
    case proto::Envelope::kWelcome:
      return "welcome";
    case proto::Envelope::kReport:
      return "report";
    case proto::Envelope::kGrant:
      return "grant";
    case proto::Envelope::kAck:
      return "ack";
    case proto::Envelope::kBye:
      return "bye";
    case proto::Envelope::kError:
      return "error";
    case proto::Envelope::BODY_NOT_SET:
      break;
  }
  return "unset";
}

Result<proto::AdminRequest> decodeAdminRequest(std::string_view bytes) {
  auto req =
      parseFrame<proto::AdminRequest>(bytes, transport::kMaxAdminMessageBytes, "AdminRequest",
                                      "admin version", kAdminProtocolVersion);
  if (!req.ok()) return req;
  const std::string& m = req->method();
  if (m != "GET" && m != "PUT" && m != "PATCH" && m != "POST" && m != "DELETE") {
    return protocolError("unsupported method '" + printable(m) +
                         "' (expected GET, PUT, PATCH, POST or DELETE)");
  }
  if (req->path().empty() || req->path().front() != '/') {
    return protocolError("path '" + printable(req->path()) + "' does not start with '/'");
  }
  return req;
}

Result<proto::AdminResponse> decodeAdminResponse(std::string_view bytes) {
  auto resp =
      parseFrame<proto::AdminResponse>(bytes, transport::kMaxAdminMessageBytes, "AdminResponse",
                                       "admin version", kAdminProtocolVersion);
  if (resp.ok() && (resp->status() < 100 || resp->status() > 599)) {
    return protocolError("status " + std::to_string(resp->status()) +
                         " is not an HTTP status (100-599)");
  }
  return resp;
}

std::string encode(const proto::AdminRequest& req) { return req.SerializeAsString(); }
std::string encode(const proto::AdminResponse& resp) { return resp.SerializeAsString(); }

}  // namespace vnuma::codec
