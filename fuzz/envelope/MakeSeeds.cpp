// Writes the seed corpus of fuzz_envelope: one valid encoded message per file.
// Usage: fuzz_envelope_seeds <dir>   (the committed corpus/ was made this way)
#include <cstdio>
#include <fstream>
#include <string>

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"

namespace {

using namespace vnuma;

bool write(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out << bytes;
  return static_cast<bool>(out);
}

proto::Envelope envelope(std::uint64_t seq) {
  proto::Envelope e;
  e.set_version(kProtocolVersion);
  e.set_seq(seq);
  e.set_session_id(seq == 1 ? 0 : 77);
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  bool ok = true;

  proto::Envelope hello = envelope(1);
  auto* h = hello.mutable_hello();
  h->set_vm_uuid("6f1c2a3e-4b5d-4e6f-8a9b-0c1d2e3f4a5b");
  h->set_agent_version(kVersion);
  h->set_hostname("guest1");
  for (unsigned node = 0; node < 2; ++node) {
    auto* n = h->add_nodes();
    n->set_id(node);
    n->add_vcpus(node * 2);
    n->add_vcpus(node * 2 + 1);
    n->set_mem_total_kb(2097152);
    n->set_mem_free_kb(1048576);
    n->set_mem_available_kb(1572864);
  }
  for (unsigned v = 0; v < 4; ++v) h->add_online_vcpus(v);
  h->set_cgroup_mode("v2");
  h->set_mechanism("cgroup");
  h->set_applied_generation(3);
  h->add_applied_vcpus(0);
  auto* vm = h->add_virtio_mem();
  vm->set_node(1);
  vm->set_device("virtio3");
  vm->set_plugged_kb(524288);
  h->set_boot_id_hash(0x1234abcd5678ef00ULL);
  ok &= write(dir, "hello", codec::encodeEnvelope(hello));

  proto::Envelope welcome = envelope(1);
  welcome.mutable_welcome()->set_session_id(77);
  welcome.mutable_welcome()->add_floor_vcpus(0);
  welcome.mutable_welcome()->set_lease_ms(10000);
  welcome.mutable_welcome()->set_report_period_ms(1000);
  welcome.mutable_welcome()->set_broker_epoch(5);
  ok &= write(dir, "welcome", codec::encodeEnvelope(welcome));

  proto::Envelope report = envelope(2);
  auto* r = report.mutable_report();
  r->set_applied_generation(4);
  r->add_applied_vcpus(0);
  r->add_applied_vcpus(1);
  r->set_period_us(1000000);
  for (unsigned v = 0; v < 2; ++v) {
    auto* c = r->add_cpus();
    c->set_vcpu(v);
    c->set_busy(v == 0 ? 0.25 : 1.0);
  }
  r->set_runnable(3);
  r->mutable_cpu_pressure()->set_some_avg10(12.5);
  r->mutable_cpu_pressure()->set_some_total_us(123456);
  r->mutable_memory_pressure()->set_full_avg10(0.5);
  r->mutable_io_pressure()->set_some_avg10(1.0);
  r->add_nodes()->set_id(0);
  r->set_drift_repairs(1);
  r->set_agent_cpu_permille(2);
  r->set_agent_rss_kb(4096);
  ok &= write(dir, "report", codec::encodeEnvelope(report));

  proto::Envelope grant = envelope(3);
  grant.mutable_grant()->set_generation(5);
  grant.mutable_grant()->add_vcpus(0);
  grant.mutable_grant()->add_vcpus(2);
  grant.mutable_grant()->set_quota_us(150000);
  grant.mutable_grant()->set_period_us(100000);
  grant.mutable_grant()->set_lease_ms(10000);
  ok &= write(dir, "grant", codec::encodeEnvelope(grant));

  proto::Envelope ack = envelope(4);
  auto* a = ack.mutable_ack();
  a->set_generation(5);
  a->set_ok(true);
  a->add_applied_vcpus(0);
  a->add_applied_vcpus(2);
  auto* item = a->add_items();
  item->set_item("irq/24");
  item->set_ok(false);
  item->set_detail("EIO");
  a->set_best_effort_ok(3);
  a->set_best_effort_failed(1);
  a->set_apply_us(850);
  ok &= write(dir, "ack", codec::encodeEnvelope(ack));

  proto::Envelope bye = envelope(5);
  bye.mutable_bye()->set_reason("agent shutting down");
  ok &= write(dir, "bye", codec::encodeEnvelope(bye));

  proto::Envelope error = envelope(6);
  error.mutable_error()->set_code(proto::Error::NO_SESSION);
  error.mutable_error()->set_message("no session");
  error.mutable_error()->set_ref_seq(9);
  ok &= write(dir, "error", codec::encodeEnvelope(error));

  proto::AdminRequest get;
  get.set_version(1);
  get.set_request_id(1);
  get.set_method("GET");
  get.set_path("/v1/vms");
  ok &= write(dir, "admin-get", codec::encode(get));

  proto::AdminRequest patch;
  patch.set_version(1);
  patch.set_request_id(2);
  patch.set_method("PATCH");
  patch.set_path("/v1/vms/web1?dry_run=1");
  patch.set_body(R"({"floor": 2, "ceiling": 8, "weight": 100})");
  ok &= write(dir, "admin-patch", codec::encode(patch));

  proto::AdminResponse resp;
  resp.set_version(1);
  resp.set_request_id(2);
  resp.set_status(409);
  resp.set_body(R"({"error": "floor above ceiling"})");
  resp.set_content_type("application/json");
  ok &= write(dir, "admin-response", codec::encode(resp));

  if (!ok) {
    std::fprintf(stderr, "writing seeds to %s failed\n", dir.c_str());
    return 1;
  }
  return 0;
}
