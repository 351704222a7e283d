#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"
#include "common/transport/Transport.hpp"

namespace vnuma::codec {
namespace {

// Version mismatches have their own code (the broker answers them with Error VERSION).
Errc expectedCode(std::string_view message) {
  return message.find(" version ") != std::string_view::npos ? Errc::kUnsupportedVersion
                                                             : Errc::kProtocol;
}

constexpr const char* kUuid = "6f1c2a3e-4b5d-4e6f-8a9b-0c1d2e3f4a5b";

proto::Envelope envelopeWith(const std::function<void(proto::Envelope&)>& fill) {
  proto::Envelope env;
  env.set_version(kProtocolVersion);
  env.set_seq(7);
  env.set_session_id(3);
  fill(env);
  return env;
}

proto::Envelope validHello() {
  return envelopeWith([](proto::Envelope& e) {
    auto* h = e.mutable_hello();
    h->set_vm_uuid(kUuid);
    h->set_agent_version("0.1.0");
    auto* n = h->add_nodes();
    n->set_id(0);
    n->add_vcpus(0);
    n->add_vcpus(1);
    h->add_online_vcpus(0);
    h->add_online_vcpus(1);
    h->add_applied_vcpus(1);
  });
}

struct EnvelopeCase {
  const char* description;
  std::function<void(proto::Envelope&)> fill;
  const char* error;  // nullptr = must decode
};

class EnvelopeCases : public ::testing::TestWithParam<EnvelopeCase> {};

TEST_P(EnvelopeCases, DecodeAfterEncode) {
  const EnvelopeCase& c = GetParam();
  const std::string bytes = encodeEnvelope(envelopeWith(c.fill));
  auto r = decodeEnvelope(bytes);
  if (c.error == nullptr) {
    ASSERT_TRUE(r.ok()) << c.description << ": " << r.error().describe();
    EXPECT_EQ(encodeEnvelope(*r), bytes) << c.description;
  } else {
    ASSERT_FALSE(r.ok()) << c.description;
    EXPECT_EQ(r.error().code(), expectedCode(c.error)) << c.description;
    EXPECT_EQ(r.error().describe(), c.error) << c.description;
  }
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

const EnvelopeCase kEnvelopeCases[] = {
    {"hello, lowercase uuid", [](proto::Envelope& e) { e.mutable_hello()->set_vm_uuid(kUuid); },
     nullptr},
    {"hello, uppercase uuid",
     [](proto::Envelope& e) {
       e.mutable_hello()->set_vm_uuid("6F1C2A3E-4B5D-4E6F-8A9B-0C1D2E3F4A5B");
     },
     nullptr},
    {"hello, full topology", [](proto::Envelope& e) { e = validHello(); }, nullptr},
    {"hello without vm_uuid", [](proto::Envelope& e) { e.mutable_hello(); },
     "hello: vm_uuid is empty"},
    {"hello, uuid without dashes",
     [](proto::Envelope& e) { e.mutable_hello()->set_vm_uuid("6f1c2a3e4b5d4e6f8a9b0c1d2e3f4a5b"); },
     "hello: vm_uuid '6f1c2a3e4b5d4e6f8a9b0c1d2e3f4a5b' is not a UUID (8-4-4-4-12 hex digits)"},
    {"hello, non-hex digit",
     [](proto::Envelope& e) {
       e.mutable_hello()->set_vm_uuid("6f1c2a3e-4b5d-4e6f-8a9b-0c1d2e3f4a5g");
     },
     "hello: vm_uuid '6f1c2a3e-4b5d-4e6f-8a9b-0c1d2e3f4a5g' is not a UUID (8-4-4-4-12 hex digits)"},
    {"hello, dash misplaced",
     [](proto::Envelope& e) {
       e.mutable_hello()->set_vm_uuid("6f1c2a3e4-b5d-4e6f-8a9b-0c1d2e3f4a5b");
     },
     "hello: vm_uuid '6f1c2a3e4-b5d-4e6f-8a9b-0c1d2e3f4a5b' is not a UUID (8-4-4-4-12 hex digits)"},
    {"hello, long non-printable uuid is shortened and sanitised",
     [](proto::Envelope& e) { e.mutable_hello()->set_vm_uuid(std::string(50, 'x') + "\n"); },
     "hello: vm_uuid 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not a UUID (8-4-4-4-12 hex "
     "digits)"},
    {"hello, online vCPU above kMaxCpu",
     [](proto::Envelope& e) {
       e.mutable_hello()->set_vm_uuid(kUuid);
       e.mutable_hello()->add_online_vcpus(8192);
     },
     "hello: online_vcpus: vCPU id 8192 is above 8191"},
    {"hello, duplicate applied vCPU",
     [](proto::Envelope& e) {
       e.mutable_hello()->set_vm_uuid(kUuid);
       e.mutable_hello()->add_applied_vcpus(3);
       e.mutable_hello()->add_applied_vcpus(3);
     },
     "hello: applied_vcpus: duplicate vCPU id 3"},
    {"hello, duplicate node id",
     [](proto::Envelope& e) {
       e.mutable_hello()->set_vm_uuid(kUuid);
       e.mutable_hello()->add_nodes()->set_id(1);
       e.mutable_hello()->add_nodes()->set_id(1);
     },
     "hello: nodes: duplicate node id 1"},
    {"hello, node vCPU above kMaxCpu",
     [](proto::Envelope& e) {
       e.mutable_hello()->set_vm_uuid(kUuid);
       auto* n = e.mutable_hello()->add_nodes();
       n->set_id(2);
       n->add_vcpus(100000);
     },
     "hello: nodes[2].vcpus: vCPU id 100000 is above 8191"},
    {"welcome",
     [](proto::Envelope& e) {
       e.mutable_welcome()->set_session_id(9);
       e.mutable_welcome()->add_floor_vcpus(0);
     },
     nullptr},
    {"welcome with session 0", [](proto::Envelope& e) { e.mutable_welcome(); },
     "welcome: session_id is 0"},
    {"welcome, duplicate floor vCPU",
     [](proto::Envelope& e) {
       e.mutable_welcome()->set_session_id(9);
       e.mutable_welcome()->add_floor_vcpus(0);
       e.mutable_welcome()->add_floor_vcpus(0);
     },
     "welcome: floor_vcpus: duplicate vCPU id 0"},
    {"empty report", [](proto::Envelope& e) { e.mutable_report(); }, nullptr},
    {"report with busy 0 and 1 and pressures",
     [](proto::Envelope& e) {
       auto* r = e.mutable_report();
       auto* c = r->add_cpus();
       c->set_vcpu(0);
       c->set_busy(0.0);
       c = r->add_cpus();
       c->set_vcpu(8191);
       c->set_busy(1.0);
       r->mutable_cpu_pressure()->set_some_avg10(100.0);
       r->mutable_io_pressure()->set_full_avg10(0.5);
     },
     nullptr},
    {"report, busy above 1",
     [](proto::Envelope& e) {
       auto* c = e.mutable_report()->add_cpus();
       c->set_vcpu(2);
       c->set_busy(1.5);
     },
     "report: cpus: busy 1.500000 of vCPU 2 is outside [0,1]"},
    {"report, negative busy",
     [](proto::Envelope& e) {
       auto* c = e.mutable_report()->add_cpus();
       c->set_vcpu(2);
       c->set_busy(-0.1);
     },
     "report: cpus: busy -0.100000 of vCPU 2 is outside [0,1]"},
    {"report, NaN busy",
     [](proto::Envelope& e) {
       auto* c = e.mutable_report()->add_cpus();
       c->set_vcpu(4);
       c->set_busy(kNaN);
     },
     "report: cpus: busy nan of vCPU 4 is outside [0,1]"},
    {"report, duplicate cpu entry",
     [](proto::Envelope& e) {
       e.mutable_report()->add_cpus()->set_vcpu(1);
       e.mutable_report()->add_cpus()->set_vcpu(1);
     },
     "report: cpus: duplicate vCPU id 1"},
    {"report, cpu entry above kMaxCpu",
     [](proto::Envelope& e) { e.mutable_report()->add_cpus()->set_vcpu(9000); },
     "report: cpus: vCPU id 9000 is above 8191"},
    {"report, NaN cpu pressure",
     [](proto::Envelope& e) { e.mutable_report()->mutable_cpu_pressure()->set_some_avg10(kNaN); },
     "report: cpu_pressure.some_avg10 nan is not a percentage in [0,100]"},
    {"report, infinite memory pressure",
     [](proto::Envelope& e) {
       e.mutable_report()->mutable_memory_pressure()->set_full_avg10(kInf);
     },
     "report: memory_pressure.full_avg10 inf is not a percentage in [0,100]"},
    {"report, negative io pressure",
     [](proto::Envelope& e) { e.mutable_report()->mutable_io_pressure()->set_some_avg10(-1.0); },
     "report: io_pressure.some_avg10 -1.000000 is not a percentage in [0,100]"},
    {"report, duplicate applied vCPU",
     [](proto::Envelope& e) {
       e.mutable_report()->add_applied_vcpus(5);
       e.mutable_report()->add_applied_vcpus(5);
     },
     "report: applied_vcpus: duplicate vCPU id 5"},
    {"grant",
     [](proto::Envelope& e) {
       auto* g = e.mutable_grant();
       g->set_generation(1);
       g->add_vcpus(0);
       g->add_vcpus(8191);
       g->set_quota_us(50000);
       g->set_period_us(100000);
     },
     nullptr},
    {"grant with empty vcpus decodes (the agent refuses it)",
     [](proto::Envelope& e) { e.mutable_grant()->set_generation(4); }, nullptr},
    {"grant with generation 0", [](proto::Envelope& e) { e.mutable_grant()->add_vcpus(1); },
     "grant: generation is 0"},
    {"grant, vCPU above kMaxCpu",
     [](proto::Envelope& e) {
       e.mutable_grant()->set_generation(2);
       e.mutable_grant()->add_vcpus(8192);
     },
     "grant: vcpus: vCPU id 8192 is above 8191"},
    {"grant, duplicate vCPU",
     [](proto::Envelope& e) {
       e.mutable_grant()->set_generation(2);
       e.mutable_grant()->add_vcpus(1);
       e.mutable_grant()->add_vcpus(2);
       e.mutable_grant()->add_vcpus(1);
     },
     "grant: vcpus: duplicate vCPU id 1"},
    {"grant, quota without period",
     [](proto::Envelope& e) {
       e.mutable_grant()->set_generation(2);
       e.mutable_grant()->set_quota_us(1000);
     },
     "grant: quota_us 1000 without period_us"},
    {"ack ok",
     [](proto::Envelope& e) {
       e.mutable_ack()->set_generation(3);
       e.mutable_ack()->set_ok(true);
       e.mutable_ack()->add_applied_vcpus(0);
     },
     nullptr},
    {"ack with generation 0", [](proto::Envelope& e) { e.mutable_ack()->set_ok(false); },
     "ack: generation is 0"},
    {"ack, duplicate applied vCPU",
     [](proto::Envelope& e) {
       e.mutable_ack()->set_generation(3);
       e.mutable_ack()->add_applied_vcpus(7);
       e.mutable_ack()->add_applied_vcpus(7);
     },
     "ack: applied_vcpus: duplicate vCPU id 7"},
    {"bye", [](proto::Envelope& e) { e.mutable_bye()->set_reason("shutdown"); }, nullptr},
    {"error", [](proto::Envelope& e) { e.mutable_error()->set_code(proto::Error::MALFORMED); },
     nullptr},
    {"no body", [](proto::Envelope&) {}, "envelope has no body"},
    {"version 0",
     [](proto::Envelope& e) {
       e.set_version(0);
       e.mutable_bye();
     },
     "unsupported protocol version 0 (expected 1)"},
    {"version 2",
     [](proto::Envelope& e) {
       e.set_version(2);
       e.mutable_bye();
     },
     "unsupported protocol version 2 (expected 1)"},
};

INSTANTIATE_TEST_SUITE_P(Codec, EnvelopeCases, ::testing::ValuesIn(kEnvelopeCases));

struct BytesCase {
  const char* description;
  std::string bytes;
  const char* error;
};

TEST(Codec, RawEnvelopeBytesAreRefused) {
  const std::vector<BytesCase> cases = {
      {"empty frame", "", "empty frame"},
      {"frame one byte over the cap", std::string(transport::kMaxAgentMessageBytes + 1, '\0'),
       "frame of 65537 bytes exceeds the limit of 65536 bytes"},
      {"truncated varint", std::string("\x08\xff", 2), "not a protobuf Envelope"},
      {"field number 0", std::string("\x00\x01", 2), "not a protobuf Envelope"},
      {"length-delimited body longer than the frame", std::string("\x52\x10\x0a", 3),
       "not a protobuf Envelope"},
      {"end-group without start", std::string("\x0c", 1), "not a protobuf Envelope"},
  };
  for (const auto& c : cases) {
    auto r = decodeEnvelope(c.bytes);
    ASSERT_FALSE(r.ok()) << c.description;
    EXPECT_EQ(r.error().code(), expectedCode(c.error)) << c.description;
    EXPECT_EQ(r.error().describe(), c.error) << c.description;
  }
}

TEST(Codec, UnknownFieldsAreKeptForForwardCompatibility) {
  std::string bytes = encodeEnvelope(validHello());
  bytes += std::string("\xa8\x1f\x05", 3);  // field 500, varint 5: not in version 1
  auto r = decodeEnvelope(bytes);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->hello().vm_uuid(), kUuid);
  EXPECT_EQ(encodeEnvelope(*r), bytes);
}

TEST(Codec, FrameExactlyAtTheCapIsParsed) {
  proto::Envelope env = envelopeWith([](proto::Envelope& e) { e.mutable_bye(); });
  env.mutable_bye()->set_reason(std::string(transport::kMaxAgentMessageBytes, 'r'));
  const std::size_t excess = encodeEnvelope(env).size() - transport::kMaxAgentMessageBytes;
  env.mutable_bye()->set_reason(std::string(transport::kMaxAgentMessageBytes - excess, 'r'));
  const std::string bytes = encodeEnvelope(env);
  ASSERT_EQ(bytes.size(), transport::kMaxAgentMessageBytes);
  EXPECT_TRUE(decodeEnvelope(bytes).ok());
}

TEST(Codec, BodyNames) {
  EXPECT_STREQ(bodyName(validHello()), "hello");
  EXPECT_STREQ(bodyName(envelopeWith([](proto::Envelope& e) { e.mutable_welcome(); })), "welcome");
  EXPECT_STREQ(bodyName(envelopeWith([](proto::Envelope& e) { e.mutable_report(); })), "report");
  EXPECT_STREQ(bodyName(envelopeWith([](proto::Envelope& e) { e.mutable_grant(); })), "grant");
  EXPECT_STREQ(bodyName(envelopeWith([](proto::Envelope& e) { e.mutable_ack(); })), "ack");
  EXPECT_STREQ(bodyName(envelopeWith([](proto::Envelope& e) { e.mutable_bye(); })), "bye");
  EXPECT_STREQ(bodyName(envelopeWith([](proto::Envelope& e) { e.mutable_error(); })), "error");
  EXPECT_STREQ(bodyName(proto::Envelope()), "unset");
}

proto::AdminRequest adminRequest(const char* method, const char* path) {
  proto::AdminRequest req;
  req.set_version(1);
  req.set_request_id(42);
  req.set_method(method);
  req.set_path(path);
  return req;
}

struct AdminCase {
  const char* description;
  proto::AdminRequest request;
  const char* error;
};

TEST(Codec, AdminRequests) {
  proto::AdminRequest v2 = adminRequest("GET", "/v1/vms");
  v2.set_version(2);
  proto::AdminRequest v0 = adminRequest("GET", "/v1/vms");
  v0.set_version(0);
  proto::AdminRequest withBody = adminRequest("PATCH", "/v1/vms/web1?x=y");
  withBody.set_body(R"({"floor": 2})");
  const std::vector<AdminCase> cases = {
      {"GET", adminRequest("GET", "/v1/vms"), nullptr},
      {"PUT", adminRequest("PUT", "/v1/policy"), nullptr},
      {"PATCH with body and query", withBody, nullptr},
      {"POST", adminRequest("POST", "/v1/rebalance"), nullptr},
      {"DELETE", adminRequest("DELETE", "/v1/vms/web1"), nullptr},
      {"lowercase method", adminRequest("get", "/v1/vms"),
       "unsupported method 'get' (expected GET, PUT, PATCH, POST or DELETE)"},
      {"HEAD", adminRequest("HEAD", "/v1/vms"),
       "unsupported method 'HEAD' (expected GET, PUT, PATCH, POST or DELETE)"},
      {"empty method", adminRequest("", "/v1/vms"),
       "unsupported method '' (expected GET, PUT, PATCH, POST or DELETE)"},
      {"relative path", adminRequest("GET", "v1/vms"), "path 'v1/vms' does not start with '/'"},
      {"empty path", adminRequest("GET", ""), "path '' does not start with '/'"},
      {"version 2", v2, "unsupported admin version 2 (expected 1)"},
      {"version 0", v0, "unsupported admin version 0 (expected 1)"},
  };
  for (const auto& c : cases) {
    const std::string bytes = encode(c.request);
    auto r = decodeAdminRequest(bytes);
    if (c.error == nullptr) {
      ASSERT_TRUE(r.ok()) << c.description << ": " << r.error().describe();
      EXPECT_EQ(encode(*r), bytes) << c.description;
    } else {
      ASSERT_FALSE(r.ok()) << c.description;
      EXPECT_EQ(r.error().code(), expectedCode(c.error)) << c.description;
      EXPECT_EQ(r.error().describe(), c.error) << c.description;
    }
  }
}

TEST(Codec, AdminRequestBytes) {
  EXPECT_EQ(decodeAdminRequest("").error().describe(), "empty frame");
  EXPECT_EQ(
      decodeAdminRequest(std::string(transport::kMaxAdminMessageBytes + 1, 'x')).error().describe(),
      "frame of 1048577 bytes exceeds the limit of 1048576 bytes");
  EXPECT_EQ(decodeAdminRequest(std::string("\x1a\x05GE", 4)).error().describe(),
            "not a protobuf AdminRequest");
  // A body just under the cap fits.
  proto::AdminRequest big = adminRequest("PUT", "/v1/policy");
  big.set_body(std::string(transport::kMaxAdminMessageBytes - 64, ' '));
  EXPECT_TRUE(decodeAdminRequest(encode(big)).ok());
}

TEST(Codec, AdminResponses) {
  proto::AdminResponse resp;
  resp.set_version(1);
  resp.set_request_id(42);
  resp.set_status(200);
  resp.set_body("{}");
  resp.set_content_type("application/json");
  auto r = decodeAdminResponse(encode(resp));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->request_id(), 42u);
  EXPECT_EQ(r->body(), "{}");

  resp.set_status(99);
  EXPECT_EQ(decodeAdminResponse(encode(resp)).error().describe(),
            "status 99 is not an HTTP status (100-599)");
  resp.set_status(600);
  EXPECT_EQ(decodeAdminResponse(encode(resp)).error().describe(),
            "status 600 is not an HTTP status (100-599)");
  resp.set_status(503);
  resp.set_version(3);
  EXPECT_EQ(decodeAdminResponse(encode(resp)).error().describe(),
            "unsupported admin version 3 (expected 1)");
  EXPECT_EQ(decodeAdminResponse("").error().describe(), "empty frame");
  EXPECT_EQ(decodeAdminResponse(std::string("\x22\x09{}", 4)).error().describe(),
            "not a protobuf AdminResponse");
}

}  // namespace
}  // namespace vnuma::codec
