// libFuzzer target: the agent<->broker envelope and the admin envelope decoders on arbitrary
// bytes. Properties checked besides "no crash, no sanitizer report":
// - whatever decodes re-encodes to bytes that decode again (a broker never emits what it
//   would itself refuse after a round trip), and
// - re-encoding is stable: encode(decode(encode(m))) == encode(m).
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/proto/Codec.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "FuzzEnvelope: %s: %s\n", what, detail.c_str());
  std::abort();
}

template <typename Decode, typename Encode>
void roundTrip(std::string_view bytes, Decode decode, Encode encode, const char* what) {
  auto first = decode(bytes);
  if (!first.ok()) {
    if (first.error().describe().empty()) fail(what, "error without a message");
    return;
  }
  const std::string encoded = encode(*first);
  auto second = decode(encoded);
  if (!second.ok()) fail(what, "re-encoded message refused: " + second.error().describe());
  if (encode(*second) != encoded) fail(what, "re-encoding is not stable");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // libprotobuf logs every invalid UTF-8 string field it refuses; that is expected here.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  using namespace vnuma;
  roundTrip(bytes, codec::decodeEnvelope, codec::encodeEnvelope, "envelope");
  roundTrip(
      bytes, codec::decodeAdminRequest,
      [](const proto::AdminRequest& r) { return codec::encode(r); }, "admin request");
  roundTrip(
      bytes, codec::decodeAdminResponse,
      [](const proto::AdminResponse& r) { return codec::encode(r); }, "admin response");
  if (auto env = codec::decodeEnvelope(bytes); env.ok() && codec::bodyName(*env) == nullptr) {
    fail("envelope", "bodyName returned null");
  }
  return 0;
}
