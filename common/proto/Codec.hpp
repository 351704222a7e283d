#pragma once
// Decoding and encoding of protocol messages at the boundary. Every decoder refuses garbage with
// a message that names what was wrong and never throws or crashes (fuzzed: fuzz/).

#include <string>
#include <string_view>

#include "admin.pb.h"
#include "agent.pb.h"
#include "common/core/Result.hpp"

namespace vnuma::codec {

// Decodes one agent<->broker frame. Errors: Errc::kUnsupportedVersion when version !=
// kProtocolVersion; Errc::kProtocol for an empty frame, a frame larger than kMaxAgentMessageBytes,
// not a protobuf Envelope, body unset, and per-body structural checks (e.g. Hello without vm_uuid,
// Grant with generation 0, vCPU ids above CpuSet::kMaxCpu, duplicate vCPU ids, busy outside 0..1,
// NaN pressures).
Result<proto::Envelope> decodeEnvelope(std::string_view bytes);
std::string encodeEnvelope(const proto::Envelope& env);

// Which body an envelope carries, for logs ("hello", "grant", ...; "unset").
const char* bodyName(const proto::Envelope& env);

Result<proto::AdminRequest> decodeAdminRequest(std::string_view bytes);
Result<proto::AdminResponse> decodeAdminResponse(std::string_view bytes);
std::string encode(const proto::AdminRequest& req);
std::string encode(const proto::AdminResponse& resp);

}  // namespace vnuma::codec
