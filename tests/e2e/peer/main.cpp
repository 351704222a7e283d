// vnuma-e2e-peer: a deliberately misbehaving agent-side peer for the e2e scenarios, plus CURVE
// key generation for the test agents. Uses the project's own transport and codec, so what it
// sends is exactly what a real (but wrong) agent could send.
//
//   vnuma-e2e-peer keygen DIR NAME
//       writes DIR/NAME.key (0600) and DIR/NAME.pub; prints the public key
//   vnuma-e2e-peer send --endpoint tcp://127.0.0.1:P --server-pub F --client-key F
//                       --kind garbage|bad-version|wrong-vm|no-session|oversize|hello
//                       [--vm-uuid U] [--wait-ms N]
//       sends one message of the given kind and prints one JSON line describing every reply
//       received within --wait-ms: {"kind":..,"sent":true,"replies":[{"body":"error",
//       "code":"UNAUTHORIZED","message":".."}, ...]}
//       (`hello` is a well-formed Hello for --vm-uuid; the broker answers Welcome when the key
//       is bound to that VM.)
// Exit: 0 when the message was handed to ZeroMQ, 1 on setup errors (message on stderr), 2 usage.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/proto/Codec.hpp"
#include "common/transport/Transport.hpp"

namespace {

using vnuma::transport::Client;
using vnuma::transport::ClientOptions;

std::string jsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string describeReply(const std::string& bytes) {
  auto env = vnuma::codec::decodeEnvelope(bytes);
  if (!env) {
    return "{\"undecodable\":\"" + jsonEscape(env.error().message()) + "\"}";
  }
  std::string out = std::string("{\"body\":\"") + vnuma::codec::bodyName(*env) + "\"";
  if (env->has_error()) {
    out += ",\"code\":\"" + vnuma::proto::Error_Code_Name(env->error().code()) +
           "\",\"message\":\"" + jsonEscape(env->error().message()) + "\"";
  }
  if (env->has_welcome()) {
    out += ",\"session_id\":" + std::to_string(env->welcome().session_id());
  }
  return out + "}";
}

std::string makeHello(const std::string& uuid, unsigned version, std::uint64_t session) {
  vnuma::proto::Envelope env;
  env.set_version(version);
  env.set_seq(1);
  env.set_session_id(session);
  auto* h = env.mutable_hello();
  h->set_vm_uuid(uuid);
  h->set_agent_version("e2e-peer");
  h->set_hostname("e2e-peer");
  h->set_cgroup_mode("v2");
  h->set_mechanism("cgroup");
  for (unsigned v = 0; v < 2; ++v) {
    auto* n = h->add_nodes();
    n->set_id(v);
    n->add_vcpus(v);
    h->add_online_vcpus(v);
  }
  return vnuma::codec::encodeEnvelope(env);
}

int runSend(const std::string& endpoint, const std::string& serverPub, const std::string& clientKey,
            const std::string& kind, const std::string& uuid, int waitMs) {
  auto server = vnuma::transport::loadCurvePublicKey(serverPub);
  if (!server) {
    std::fprintf(stderr, "vnuma-e2e-peer: %s\n", server.error().message().c_str());
    return 1;
  }
  auto keys = vnuma::transport::loadCurveKeyPair(clientKey);
  if (!keys) {
    std::fprintf(stderr, "vnuma-e2e-peer: %s\n", keys.error().message().c_str());
    return 1;
  }
  ClientOptions opts;
  opts.endpoint = endpoint;
  opts.serverPublicKey = *server;
  opts.clientKeys = *keys;
  // Large enough to *send* an oversize frame; the broker's own cap must refuse it.
  opts.maxMessageBytes = 4 * vnuma::transport::kMaxAgentMessageBytes;
  auto client = Client::connect(opts);
  if (!client) {
    std::fprintf(stderr, "vnuma-e2e-peer: %s\n", client.error().message().c_str());
    return 1;
  }
  std::string payload;
  if (kind == "garbage") {
    static constexpr char kGarbage[] = "\x08\x01\xff\xff\xff\xff garbage, not an envelope \x00\x01";
    payload.assign(kGarbage, sizeof kGarbage - 1);
  } else if (kind == "bad-version") {
    payload = makeHello(uuid, 99, 0);
  } else if (kind == "wrong-vm" || kind == "hello") {
    payload = makeHello(uuid, 1, 0);
  } else if (kind == "no-session") {
    vnuma::proto::Envelope env;
    env.set_version(1);
    env.set_seq(7);
    env.set_session_id(123456789);
    env.mutable_report()->set_applied_generation(1);
    env.mutable_report()->add_applied_vcpus(0);
    env.mutable_report()->add_applied_vcpus(1);
    payload = vnuma::codec::encodeEnvelope(env);
  } else if (kind == "oversize") {
    payload.assign(2 * vnuma::transport::kMaxAgentMessageBytes, 'x');
  } else {
    std::fprintf(stderr, "vnuma-e2e-peer: unknown --kind '%s'\n", kind.c_str());
    return 2;
  }
  auto sent = (*client)->send(payload);
  std::vector<std::string> replies;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
  while (sent) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    auto msg = (*client)->receive(left);
    if (!msg || !*msg) {
      break;
    }
    replies.push_back(describeReply(**msg));
  }
  std::string list;
  for (const auto& r : replies) {
    list += (list.empty() ? "" : ",") + r;
  }
  std::printf("{\"kind\":\"%s\",\"sent\":%s,\"replies\":[%s]}\n", kind.c_str(),
              sent ? "true" : "false", list.c_str());
  if (!sent) {
    std::fprintf(stderr, "vnuma-e2e-peer: send failed: %s\n", sent.error().message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vnuma-e2e-peer: misbehaving agent peer and key generation for e2e tests"};
  app.require_subcommand(1);
  std::string dir, name;
  auto* keygen = app.add_subcommand("keygen", "write DIR/NAME.key and DIR/NAME.pub");
  keygen->add_option("DIR", dir)->required();
  keygen->add_option("NAME", name)->required();
  std::string endpoint, serverPub, clientKey, kind, uuid;
  int waitMs = 2000;
  auto* send = app.add_subcommand("send", "send one (bad) message to the broker's agent endpoint");
  send->add_option("--endpoint", endpoint)->required();
  send->add_option("--server-pub", serverPub)->required();
  send->add_option("--client-key", clientKey)->required();
  send->add_option("--kind", kind)
      ->required()
      ->check(
          CLI::IsMember({"garbage", "bad-version", "wrong-vm", "no-session", "oversize", "hello"}));
  send->add_option("--vm-uuid", uuid);
  send->add_option("--wait-ms", waitMs)->check(CLI::Range(0, 60000));
  CLI11_PARSE(app, argc, argv);
  if (*keygen) {
    auto keys = vnuma::transport::generateCurveKeyPair();
    if (!keys) {
      std::fprintf(stderr, "vnuma-e2e-peer: %s\n", keys.error().message().c_str());
      return 1;
    }
    auto written = vnuma::transport::writeCurveKeyPair(*keys, dir, name);
    if (!written) {
      std::fprintf(stderr, "vnuma-e2e-peer: %s\n", written.error().message().c_str());
      return 1;
    }
    std::printf("%s\n", keys->publicKey.c_str());
    return 0;
  }
  return runSend(endpoint, serverPub, clientKey, kind, uuid, waitMs);
}
