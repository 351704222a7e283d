#include "common/core/Result.hpp"

#include <cstring>

namespace vnuma {

const char* errcName(Errc c) noexcept {
  switch (c) {
    case Errc::kInvalidArgument:
      return "invalid-argument";
    case Errc::kNotFound:
      return "not-found";
    case Errc::kConflict:
      return "conflict";
    case Errc::kSystem:
      return "system";
    case Errc::kHypervisor:
      return "hypervisor";
    case Errc::kTimeout:
      return "timeout";
    case Errc::kProtocol:
      return "protocol";
    case Errc::kUnsupportedVersion:
      return "version";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string out;
  for (auto it = context_.rbegin(); it != context_.rend(); ++it) {
    out += *it;
    out += ": ";
  }
  out += message_;
  if (errnum_ != 0) {
    out += ": ";
    out += std::strerror(errnum_);
  }
  return out;
}

}  // namespace vnuma
