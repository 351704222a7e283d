#include "host-broker/rpc/AgentSessions.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "common/core/Version.hpp"
#include "common/proto/Codec.hpp"

namespace vnuma::broker::rpc {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

bool isUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

Result<AgentKeyRing> AgentKeyRing::load(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error(Errc::kNotFound,
                 "agent key directory " + dir + " does not exist (agents.key_dir)");
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".pub") files.push_back(it->path());
  }
  if (ec) return Error(Errc::kSystem, "reading agent key directory " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  AgentKeyRing ring;
  for (const auto& f : files) {
    std::string uuid = f.stem().string();
    if (!isUuid(uuid))
      return Error(Errc::kInvalidArgument, "agent key " + f.string() +
                                               ": file name must be <vm-uuid>.pub, '" + uuid +
                                               "' is not a uuid");
    auto key = transport::loadCurvePublicKey(f.string());
    if (!key) return std::move(key).error().context("agent key " + f.string());
    if (auto r = ring.add(*key, uuid); !r)
      return std::move(r).error().context("agent key " + f.string());
  }
  return ring;
}

Result<void> AgentKeyRing::add(const std::string& publicKey, const std::string& uuidAnyCase) {
  const std::string uuid = lower(uuidAnyCase);
  if (auto it = byKey_.find(publicKey); it != byKey_.end())
    return Error(Errc::kConflict, "the same public key is already bound to vm " + it->second +
                                      "; every agent needs its own key");
  if (byVm_.count(uuid)) return Error(Errc::kConflict, "vm " + uuid + " already has a key");
  byKey_[publicKey] = uuid;
  byVm_[uuid] = publicKey;
  return okResult();
}

std::optional<std::string> AgentKeyRing::vmOfKey(const std::string& publicKey) const {
  auto it = byKey_.find(publicKey);
  if (it == byKey_.end()) return std::nullopt;
  return it->second;
}

AgentServer::AgentServer(AgentServerOptions opts, AgentKeyRing keys)
    : opts_(std::move(opts)), keys_(std::move(keys)) {
  // Session ids differ across broker starts so a reconnecting agent's stale id never matches.
  nextSession_ = (opts_.epoch << 20) + 1;
}

Result<std::unique_ptr<AgentServer>> AgentServer::bind(AgentServerOptions opts, AgentKeyRing keys) {
  std::unique_ptr<AgentServer> self(new AgentServer(std::move(opts), std::move(keys)));
  transport::ServerOptions so;
  so.endpoint = self->opts_.endpoint;
  so.curveSecretKey = self->opts_.brokerSecretKey;
  AgentServer* raw = self.get();
  so.authorize = [raw](const std::string& clientKey) {
    bool ok = raw->keys_.vmOfKey(clientKey).has_value();
    if (!ok) raw->opts_.log->warn("agent refused: unknown CURVE key key={}", clientKey);
    return ok;
  };
  so.maxMessageBytes = transport::kMaxAgentMessageBytes;
  auto server = transport::Server::bind(std::move(so));
  if (!server)
    return std::move(server).error().context("binding the agent endpoint " + self->opts_.endpoint);
  self->server_ = std::move(server).value();
  return self;
}

std::vector<AgentMessage> AgentServer::drain(std::int64_t nowMs) {
  std::vector<AgentMessage> out;
  while (true) {
    auto in = server_->receive(std::chrono::milliseconds(0));
    if (!in) {
      opts_.log->error("agent socket receive failed: {}", in.error().describe());
      break;
    }
    if (!in->has_value()) break;
    handleFrame(**in, nowMs, out);
  }
  return out;
}

void AgentServer::handleFrame(const transport::Incoming& in, std::int64_t nowMs,
                              std::vector<AgentMessage>& out) {
  ++stats_.received;
  auto vmOfKey = keys_.vmOfKey(in.clientKey);
  if (!vmOfKey) {
    // Keys can be removed on SIGHUP while a connection is still up: refuse its messages.
    ++stats_.unauthorized;
    opts_.log->warn("agent message refused: key no longer authorized key={}", in.clientKey);
    replyError(in.peer, proto::Error::UNAUTHORIZED, "this key is not bound to any VM", 0);
    return;
  }
  const std::string& vm = *vmOfKey;
  auto env = codec::decodeEnvelope(in.payload);
  if (!env) {
    ++stats_.malformed;
    opts_.log->warn("malformed agent message vm={} bytes={} error={}", vm, in.payload.size(),
                    env.error().describe());
    replyError(in.peer,
               env.error().code() == Errc::kUnsupportedVersion ? proto::Error::VERSION
                                                               : proto::Error::MALFORMED,
               env.error().describe(), 0);
    return;
  }
  proto::Envelope& e = *env;
  if (e.has_hello()) {
    const std::string claimed = lower(e.hello().vm_uuid());
    if (claimed != vm) {
      ++stats_.unauthorized;
      opts_.log->warn("agent hello refused: key bound to vm={} claims vm={}", vm, claimed);
      replyError(in.peer, proto::Error::UNAUTHORIZED,
                 "this key is bound to another VM than " + claimed, e.seq());
      return;
    }
    Session s;
    s.peer = in.peer;
    s.id = nextSession_++;
    s.lastSeq = e.seq();
    s.lastSeenMs = nowMs;
    sessions_[vm] = s;
    lastSeen_[vm] = nowMs;
    out.push_back(AgentMessage{vm, std::move(e)});
    return;
  }
  auto it = sessions_.find(vm);
  if (it == sessions_.end() || it->second.id != e.session_id() || it->second.peer != in.peer) {
    ++stats_.noSession;
    opts_.log->info("agent message without a live session vm={} body={} session={}", vm,
                    codec::bodyName(e), e.session_id());
    replyError(in.peer, proto::Error::NO_SESSION, "no live session: send Hello", e.seq());
    return;
  }
  Session& s = it->second;
  if (e.seq() <= s.lastSeq) {
    ++stats_.duplicates;
    return;
  }
  s.lastSeq = e.seq();
  s.lastSeenMs = nowMs;
  lastSeen_[vm] = nowMs;
  if (e.has_bye()) {
    opts_.log->info("agent said bye vm={} reason={}", vm, e.bye().reason());
    out.push_back(AgentMessage{vm, std::move(e)});
    sessions_.erase(it);
    return;
  }
  if (e.has_welcome() || e.has_grant()) {
    ++stats_.malformed;
    opts_.log->warn("agent sent a broker-only message vm={} body={}", vm, codec::bodyName(e));
    replyError(in.peer, proto::Error::BAD_REQUEST,
               std::string("agents do not send ") + codec::bodyName(e), e.seq());
    return;
  }
  out.push_back(AgentMessage{vm, std::move(e)});
}

Result<void> AgentServer::sendRaw(const std::string& peer, std::uint64_t sessionId,
                                  std::uint64_t seq, proto::Envelope env) {
  env.set_version(kProtocolVersion);
  env.set_seq(seq);
  env.set_session_id(sessionId);
  auto r = server_->send(peer, codec::encodeEnvelope(env));
  if (!r) {
    ++stats_.sendFailures;
    return r;
  }
  ++stats_.sent;
  return okResult();
}

void AgentServer::replyError(const std::string& peer, proto::Error::Code code,
                             const std::string& message, std::uint64_t refSeq) {
  proto::Envelope env;
  auto* err = env.mutable_error();
  err->set_code(code);
  err->set_message(message);
  err->set_ref_seq(refSeq);
  if (auto r = sendRaw(peer, 0, 0, std::move(env)); !r)
    opts_.log->debug("could not send error to agent: {}", r.error().describe());
}

Result<void> AgentServer::sendWelcome(const std::string& vm, const proto::Welcome& w) {
  auto it = sessions_.find(vm);
  if (it == sessions_.end()) return Error(Errc::kNotFound, "no session for vm " + vm);
  proto::Envelope env;
  *env.mutable_welcome() = w;
  env.mutable_welcome()->set_session_id(it->second.id);
  return sendRaw(it->second.peer, it->second.id, ++it->second.sendSeq, std::move(env));
}

Result<void> AgentServer::sendGrant(const std::string& vm, const proto::Grant& g) {
  auto it = sessions_.find(vm);
  if (it == sessions_.end()) return Error(Errc::kNotFound, "no session for vm " + vm);
  proto::Envelope env;
  *env.mutable_grant() = g;
  return sendRaw(it->second.peer, it->second.id, ++it->second.sendSeq, std::move(env));
}

Result<void> AgentServer::sendError(const std::string& vm, proto::Error::Code code,
                                    const std::string& message, std::uint64_t refSeq) {
  auto it = sessions_.find(vm);
  if (it == sessions_.end()) return Error(Errc::kNotFound, "no session for vm " + vm);
  proto::Envelope env;
  auto* err = env.mutable_error();
  err->set_code(code);
  err->set_message(message);
  err->set_ref_seq(refSeq);
  return sendRaw(it->second.peer, it->second.id, ++it->second.sendSeq, std::move(env));
}

std::optional<std::int64_t> AgentServer::lastSeen(const std::string& vm) const {
  auto it = lastSeen_.find(vm);
  if (it == lastSeen_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t AgentServer::sessionId(const std::string& vm) const {
  auto it = sessions_.find(vm);
  return it == sessions_.end() ? 0 : it->second.id;
}

AgentServerStats AgentServer::stats() const {
  AgentServerStats s = stats_;
  s.refusedKeys = server_->refusedClients();
  return s;
}

}  // namespace vnuma::broker::rpc
