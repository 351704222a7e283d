#include "host-broker/state/StateStore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host-broker/ledger/LedgerJson.hpp"

namespace vnuma::broker {

namespace {

constexpr const char* kFormat = "vnuma-broker-state";
constexpr const char* kFreshHint =
    "; move it aside to start fresh (the broker re-learns grants from agents)";

std::array<std::uint32_t, 256> makeTable() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

std::string hex8(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

Result<void> writeAll(int fd, const std::string& data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("writing " + path);
    }
    off += static_cast<std::size_t>(n);
  }
  return okResult();
}

}  // namespace

std::uint32_t crc32(std::string_view data) noexcept {
  static const auto table = makeTable();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string StateStore::path() const { return dir_ + "/ledger.json"; }
std::string StateStore::tempPath() const { return dir_ + "/ledger.json.tmp"; }

std::string StateStore::encode(const Ledger& ledger) {
  // The checksum covers the exact bytes of the state value; the envelope is written by hand so
  // those bytes appear verbatim in the file.
  std::string state = stateToJson(ledger.state());
  return std::string("{\"format\":\"") + kFormat +
         "\",\"version\":" + std::to_string(kStateFormatVersion) + ",\"crc32\":\"" +
         hex8(crc32(state)) + "\",\"state\":" + state + "}\n";
}

Result<Ledger> StateStore::decode(const std::string& text, const std::string& sourceName) {
  const std::string where = "state file " + sourceName + ": ";
  auto bad = [&](const std::string& what, Errc code = Errc::kInvalidArgument) {
    return Error(code, where + what + kFreshHint);
  };
  // Locate the raw "state" bytes: the envelope is
  // {"format":..,"version":..,"crc32":"..","state":<raw>} followed by "}" and optional whitespace.
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not valid JSON (truncated or damaged)");
  if (!j.contains("format") || j["format"] != kFormat)
    return bad("not a vnuma broker state file (no \"format\":\"vnuma-broker-state\")");
  if (!j.contains("version") || !j["version"].is_number_integer())
    return bad("missing format version");
  if (j["version"].get<int>() != kStateFormatVersion)
    return Error(Errc::kInvalidArgument,
                 where + "format version " + std::to_string(j["version"].get<int>()) +
                     " is not supported (this broker reads version " +
                     std::to_string(kStateFormatVersion) + "); use a matching broker, or" +
                     std::string(kFreshHint).substr(1));
  if (!j.contains("crc32") || !j["crc32"].is_string()) return bad("missing checksum");
  const std::string key = "\"state\":";
  auto pos = text.find(key);
  auto end = text.find_last_of('}');
  if (pos == std::string::npos || end == std::string::npos || end <= pos + key.size())
    return bad("no state");
  std::string raw = text.substr(pos + key.size(), end - pos - key.size());
  std::string stored = j["crc32"].get<std::string>();
  std::string computed = hex8(crc32(raw));
  if (stored != computed)
    return bad("checksum mismatch (stored " + stored + ", computed " + computed + ")");
  auto st = stateFromJson(raw);
  if (!st) return bad(st.error().describe());
  auto ledger = Ledger::fromState(std::move(*st));
  if (!ledger) return bad("inconsistent ledger: " + ledger.error().describe(), Errc::kConflict);
  return ledger;
}

Result<void> StateStore::save(const Ledger& ledger) const {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::fromErrno("creating state dir " + dir_);
  const std::string data = encode(ledger);
  const std::string tmp = tempPath();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::fromErrno("opening " + tmp);
  auto w = writeAll(fd, data, tmp);
  if (w && ::fsync(fd) != 0) w = Error::fromErrno("fsync " + tmp);
  if (::close(fd) != 0 && w) w = Error::fromErrno("closing " + tmp);
  if (!w) {
    ::unlink(tmp.c_str());
    return w;
  }
  if (::rename(tmp.c_str(), path().c_str()) != 0) {
    auto e = Error::fromErrno("renaming " + tmp + " to " + path());
    ::unlink(tmp.c_str());
    return e;
  }
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Error::fromErrno("opening state dir " + dir_);
  int rc = ::fsync(dfd);
  auto e = rc != 0 ? Result<void>(Error::fromErrno("fsync state dir " + dir_)) : okResult();
  ::close(dfd);
  return e;
}

Result<Ledger> StateStore::load() const {
  const std::string p = path();
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    struct stat sb {};
    if (::stat(p.c_str(), &sb) != 0 && errno == ENOENT)
      return Error(Errc::kNotFound, "state file " + p + " does not exist");
    return Error::fromErrno("state file " + p + ": cannot open");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error::fromErrno("state file " + p + ": read failed");
  return decode(ss.str(), p);
}

}  // namespace vnuma::broker
