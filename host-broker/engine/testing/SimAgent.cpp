#include "host-broker/engine/testing/SimAgent.hpp"

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"

namespace vnuma::broker::testing {

Result<std::unique_ptr<SimAgent>> SimAgent::connect(SimAgentOptions opts) {
  std::unique_ptr<SimAgent> a(new SimAgent(std::move(opts)));
  a->autoAck = a->opts_.autoAck;
  transport::ClientOptions co;
  co.endpoint = a->opts_.endpoint;
  co.serverPublicKey = a->opts_.brokerPublicKey;
  co.clientKeys = a->opts_.keys;
  co.reconnectInterval = std::chrono::milliseconds(20);
  co.reconnectIntervalMax = std::chrono::milliseconds(200);
  auto c = transport::Client::connect(co);
  if (!c) return std::move(c).error();
  a->client_ = std::move(c).value();
  return a;
}

Result<void> SimAgent::send(proto::Envelope env) {
  env.set_version(kProtocolVersion);
  env.set_seq(++seq_);
  env.set_session_id(sessionId);
  return client_->send(codec::encodeEnvelope(env));
}

Result<void> SimAgent::sendRaw(const std::string& bytes) { return client_->send(bytes); }

Result<void> SimAgent::hello(std::uint64_t appliedGeneration,
                             const std::vector<std::uint32_t>& applied) {
  welcomed = false;
  sessionId = 0;
  proto::Envelope env;
  auto* h = env.mutable_hello();
  h->set_vm_uuid(opts_.vmUuid);
  h->set_agent_version("sim");
  h->set_hostname("sim-" + opts_.vmUuid.substr(0, 8));
  h->set_cgroup_mode("v2");
  h->set_mechanism("cgroup");
  h->set_applied_generation(appliedGeneration);
  for (auto v : applied) h->add_applied_vcpus(v);
  return send(std::move(env));
}

Result<void> SimAgent::report(double busy, std::uint32_t runnable) {
  proto::Envelope env;
  auto* r = env.mutable_report();
  r->set_applied_generation(generation);
  for (auto v : vcpus) {
    r->add_applied_vcpus(v);
    auto* c = r->add_cpus();
    c->set_vcpu(v);
    c->set_busy(busy);
  }
  r->set_period_us(1000000);
  r->set_runnable(runnable);
  return send(std::move(env));
}

Result<void> SimAgent::ack(std::uint64_t gen, const std::vector<std::uint32_t>& applied, bool ok) {
  proto::Envelope env;
  auto* a = env.mutable_ack();
  a->set_generation(gen);
  a->set_ok(ok);
  if (!ok) a->set_error("simulated refusal");
  for (auto v : applied) a->add_applied_vcpus(v);
  lastAckAt = std::chrono::steady_clock::now();
  return send(std::move(env));
}

void SimAgent::handle(const std::string& frame) {
  auto env = codec::decodeEnvelope(frame);
  if (!env) return;
  if (env->has_welcome()) {
    welcomed = true;
    sessionId = env->welcome().session_id();
    floorVcpus.assign(env->welcome().floor_vcpus().begin(), env->welcome().floor_vcpus().end());
  } else if (env->has_grant()) {
    const auto& g = env->grant();
    grants.push_back(ReceivedGrant{g, std::chrono::steady_clock::now()});
    if (g.generation() >= generation) {
      generation = g.generation();
      vcpus.assign(g.vcpus().begin(), g.vcpus().end());
    }
    if (autoAck) (void)ack(g.generation(), {g.vcpus().begin(), g.vcpus().end()});
  } else if (env->has_error()) {
    errors.push_back(env->error());
  }
}

int SimAgent::pump(std::chrono::milliseconds timeout) {
  int n = 0;
  auto first = client_->receive(timeout);
  if (!first || !first->has_value()) return 0;
  handle(**first);
  ++n;
  while (true) {
    auto more = client_->receive(std::chrono::milliseconds(0));
    if (!more || !more->has_value()) break;
    handle(**more);
    ++n;
  }
  return n;
}

}  // namespace vnuma::broker::testing
