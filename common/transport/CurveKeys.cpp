// CURVE key generation and key files. Uses libzmq's C API only (zmq_curve_keypair & co.).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "common/transport/KeyUtil.hpp"
#include "common/transport/Transport.hpp"

namespace vnuma::transport {

namespace detail {

namespace {
constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
}  // namespace

Result<std::string> decodeZ85Key(std::string_view z85) {
  if (z85.size() != 40) {
    return Error(Errc::kInvalidArgument,
                 "key has " + std::to_string(z85.size()) + " characters, expected 40");
  }
  for (std::size_t i = 0; i < z85.size(); ++i) {
    if (kZ85Alphabet.find(z85[i]) == std::string_view::npos) {
      const unsigned char c = static_cast<unsigned char>(z85[i]);
      char shown[8];
      if (c >= 0x21 && c < 0x7f) {
        std::snprintf(shown, sizeof shown, "'%c'", c);
      } else {
        std::snprintf(shown, sizeof shown, "0x%02x", c);
      }
      return Error(Errc::kInvalidArgument, std::string("invalid character ") + shown +
                                               " at position " + std::to_string(i) + " (not Z85)");
    }
  }
  const std::string text(z85);
  std::string raw(32, '\0');
  if (zmq_z85_decode(reinterpret_cast<std::uint8_t*>(raw.data()), text.c_str()) == nullptr) {
    return Error(Errc::kInvalidArgument, "key is not valid Z85");
  }
  return raw;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

}  // namespace detail

namespace {

constexpr off_t kMaxKeyFileBytes = 4096;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Error openError(const std::string& what, const std::string& path) {
  const int err = errno;
  return Error(err == ENOENT ? Errc::kNotFound : Errc::kSystem, "cannot " + what + " " + path, err);
}

// Reads a key file: one 40-character Z85 key; empty lines and lines starting with '#' are
// ignored. `mode` receives the file's permission bits.
Result<std::string> readKeyFile(const std::string& path, mode_t* mode) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (f.fd < 0) return openError("open key file", path);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return Error::fromErrno("stat " + path);
  if (!S_ISREG(st.st_mode))
    return Error(Errc::kInvalidArgument, "key file " + path + " is not a regular file");
  if (st.st_size > kMaxKeyFileBytes) {
    return Error(Errc::kInvalidArgument, "key file " + path + " is larger than " +
                                             std::to_string(kMaxKeyFileBytes) + " bytes");
  }
  if (mode != nullptr) *mode = st.st_mode & 07777;
  std::string text(static_cast<std::size_t>(kMaxKeyFileBytes) + 1, '\0');
  std::size_t got = 0;
  for (;;) {
    const ssize_t n = ::read(f.fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("reading " + path);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
    if (got == text.size()) {
      return Error(Errc::kInvalidArgument, "key file " + path + " is larger than " +
                                               std::to_string(kMaxKeyFileBytes) + " bytes");
    }
  }
  text.resize(got);

  std::string key;
  bool found = false;
  std::size_t lineNo = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    ++lineNo;
    pos = end + 1;
    if (line.empty() || line.front() == '#') continue;
    if (found) {
      return Error(Errc::kInvalidArgument,
                   "key file " + path + " line " + std::to_string(lineNo) + ": more than one key");
    }
    auto raw = detail::decodeZ85Key(line);
    if (!raw) {
      return std::move(raw).error().context("key file " + path + " line " + std::to_string(lineNo));
    }
    key = std::string(line);
    found = true;
  }
  if (!found) return Error(Errc::kInvalidArgument, "key file " + path + " holds no key");
  return key;
}

Result<std::string> publicFromSecret(const std::string& secret) {
  char pub[41] = {};
  if (zmq_curve_public(pub, secret.c_str()) != 0) {
    if (errno == ENOTSUP)
      return Error(Errc::kUnavailable, "libzmq was built without CURVE support");
    return Error(Errc::kInvalidArgument, "secret key is not valid Z85");
  }
  return std::string(pub, 40);
}

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<void> writeNewFile(const std::string& path, const std::string& content, mode_t mode) {
  Fd f;
  f.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (f.fd < 0) {
    if (errno == EEXIST) {
      return Error(Errc::kConflict, path + " already exists; refusing to overwrite a key file");
    }
    return openError("create", path);
  }
  // The umask may have narrowed (never widened) the mode; state it exactly.
  if (::fchmod(f.fd, mode) != 0) return Error::fromErrno("chmod " + path);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(f.fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("writing " + path);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(f.fd) != 0) return Error::fromErrno("fsync " + path);
  return okResult();
}

}  // namespace

Result<CurveKeyPair> generateCurveKeyPair() {
  char pub[41] = {};
  char sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0) {
    if (errno == ENOTSUP)
      return Error(Errc::kUnavailable, "libzmq was built without CURVE support");
    return Error::fromErrno("zmq_curve_keypair");
  }
  return CurveKeyPair{std::string(pub, 40), std::string(sec, 40)};
}

Result<std::string> loadCurvePublicKey(const std::string& publicKeyFile) {
  return readKeyFile(publicKeyFile, nullptr);
}

Result<CurveKeyPair> loadCurveKeyPair(const std::string& secretKeyFile) {
  mode_t mode = 0;
  auto secret = readKeyFile(secretKeyFile, &mode);
  if (!secret) return std::move(secret).error();
  if ((mode & 077) != 0) {
    char octal[16];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
    return Error(Errc::kInvalidArgument, "secret key file " + secretKeyFile +
                                             " is accessible by group or others (mode " + octal +
                                             "); run chmod 600 on it");
  }
  auto pub = publicFromSecret(*secret);
  if (!pub) return std::move(pub).error().context("key file " + secretKeyFile);
  if (endsWith(secretKeyFile, ".key")) {
    const std::string pubFile = secretKeyFile.substr(0, secretKeyFile.size() - 4) + ".pub";
    struct stat st {};
    if (::stat(pubFile.c_str(), &st) == 0) {
      auto stored = readKeyFile(pubFile, nullptr);
      if (!stored) return std::move(stored).error();
      if (*stored != *pub) {
        return Error(
            Errc::kInvalidArgument,
            "public key in " + pubFile + " does not match the secret key in " + secretKeyFile);
      }
    }
  }
  return CurveKeyPair{std::move(*pub), std::move(*secret)};
}

Result<void> writeCurveKeyPair(const CurveKeyPair& keys, const std::string& dir,
                               const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return Error(Errc::kInvalidArgument, "key name '" + name + "' is not a plain file name");
  }
  auto pubRaw = detail::decodeZ85Key(keys.publicKey);
  if (!pubRaw) return std::move(pubRaw).error().context("public key");
  auto secRaw = detail::decodeZ85Key(keys.secretKey);
  if (!secRaw) return std::move(secRaw).error().context("secret key");
  auto derived = publicFromSecret(keys.secretKey);
  if (!derived) return std::move(derived).error();
  if (*derived != keys.publicKey) {
    return Error(Errc::kInvalidArgument, "public key does not belong to the secret key");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return openError("use key directory", dir);
  if (!S_ISDIR(st.st_mode))
    return Error(Errc::kInvalidArgument, "key directory " + dir + " is not a directory");

  const std::string base = dir + (endsWith(dir, "/") ? "" : "/") + name;
  const std::string keyFile = base + ".key";
  const std::string pubFile = base + ".pub";
  // Check both first so that a conflict on .pub does not leave a fresh .key behind.
  for (const std::string* p : {&keyFile, &pubFile}) {
    if (::lstat(p->c_str(), &st) == 0) {
      return Error(Errc::kConflict, *p + " already exists; refusing to overwrite a key file");
    }
  }
  VNUMA_TRY_VOID(writeNewFile(keyFile, keys.secretKey + "\n", 0600));
  auto r = writeNewFile(pubFile, keys.publicKey + "\n", 0644);
  if (!r) {
    ::unlink(keyFile.c_str());
    return r;
  }
  return okResult();
}

}  // namespace vnuma::transport
