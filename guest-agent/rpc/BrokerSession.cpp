#include "guest-agent/rpc/BrokerSession.hpp"

#include <algorithm>

#include "common/proto/Codec.hpp"

namespace vnuma::agent {

namespace {
Millis monoNow() {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch());
}
}  // namespace

BrokerSession::BrokerSession(SessionOptions opts, AgentEngine& engine, Logger log)
    : opts_(std::move(opts)), engine_(engine), log_(std::move(log)) {}

Result<void> BrokerSession::reconnect() {
  client_.reset();
  auto c = transport::Client::connect(opts_.client);
  if (!c)
    return std::move(c).error().context("connecting to the broker at " + opts_.client.endpoint);
  client_ = std::move(c).value();
  ++stats_.hellos;
  send({engine_.hello()});
  log_->info("hello sent endpoint={}", opts_.client.endpoint);
  return okResult();
}

void BrokerSession::send(const std::vector<proto::Envelope>& msgs) {
  for (const auto& m : msgs) {
    auto r = client_->send(codec::encodeEnvelope(m));
    if (r) {
      ++stats_.sent;
    } else {
      ++stats_.sendDropped;
      log_->debug("send dropped body={} error=\"{}\"", codec::bodyName(m), r.error().describe());
    }
  }
}

void BrokerSession::handleFrame(const std::string& payload, Millis now) {
  ++stats_.received;
  auto env = codec::decodeEnvelope(payload);
  if (!env) {
    ++stats_.malformed;
    send(engine_.onMalformed(env.error().describe()));
    return;
  }
  send(engine_.onMessage(env.value(), now));
}

Result<void> BrokerSession::run() {
  VNUMA_TRY_VOID(reconnect());
  const Millis start = monoNow();
  Millis helloAt = start;
  Millis backoff = opts_.reconnectMin;
  Millis nextTick = start + Millis(engine_.periodMs());
  for (;;) {
    Millis now = monoNow();
    if (opts_.runFor && now - start >= *opts_.runFor) break;
    Millis deadline = nextTick;
    if (!engine_.hasSession()) deadline = std::min(deadline, helloAt + backoff);
    if (opts_.runFor) deadline = std::min(deadline, start + *opts_.runFor);
    transport::Poller poller;
    const std::size_t clientIdx = poller.add(*client_);
    const std::size_t stopIdx = opts_.stopFd >= 0 ? poller.addFd(opts_.stopFd) : SIZE_MAX;
    auto ready = poller.wait(std::max(Millis(0), deadline - now));
    if (!ready) {
      log_->warn("poll failed error=\"{}\"", ready.error().describe());
      continue;
    }
    bool stop = false;
    for (std::size_t idx : ready.value()) {
      if (idx == stopIdx) stop = true;
      if (idx != clientIdx) continue;
      // Drain what is queued, bounded so a flood cannot starve ticks.
      for (int i = 0; i < 256; ++i) {
        auto msg = client_->receive(Millis(0));
        if (!msg) {
          log_->warn("receive failed error=\"{}\"", msg.error().describe());
          break;
        }
        if (!msg->has_value()) break;
        const bool hadSession = engine_.hasSession();
        handleFrame(**msg, monoNow());
        if (!hadSession && engine_.hasSession()) {
          backoff = opts_.reconnectMin;
          nextTick = std::min(nextTick, monoNow() + Millis(engine_.periodMs()));
        }
      }
    }
    if (stop) {
      log_->info("stopping");
      break;
    }
    now = monoNow();
    if (now >= nextTick) {
      ++stats_.ticks;
      send(engine_.tick(now));
      nextTick += Millis(engine_.periodMs());
      if (nextTick <= now) nextTick = now + Millis(engine_.periodMs());
    }
    if (engine_.hasSession() && engine_.lastBrokerMessage()) {
      const Millis silence = now - *engine_.lastBrokerMessage();
      const Millis limit = std::max(Millis(engine_.leaseMs()), Millis(3 * engine_.periodMs()));
      if (silence > limit) {
        log_->warn("broker silent for {} ms (limit {} ms): reconnecting", silence.count(),
                   limit.count());
        engine_.resetSession();
        helloAt = now - backoff;  // retry right away, then back off
      }
    }
    if (!engine_.hasSession() && now >= helloAt + backoff) {
      helloAt = now;
      if (auto r = reconnect(); !r)
        log_->warn("reconnect failed error=\"{}\"", r.error().describe());
      backoff = std::min(backoff * 2, opts_.reconnectMax);
    }
  }
  if (client_ && engine_.hasSession()) send({engine_.bye("agent stopping")});
  return okResult();
}

}  // namespace vnuma::agent
