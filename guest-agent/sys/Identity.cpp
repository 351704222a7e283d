#include "guest-agent/sys/Identity.hpp"

#include <cctype>

#include "guest-agent/sys/Fs.hpp"

namespace vnuma::agent {

bool isUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : std::isxdigit(static_cast<unsigned char>(s[i])) == 0) return false;
  }
  return true;
}

Result<GuestIdentity> readIdentity(const std::string& fsRoot, const std::string& uuidOverride) {
  GuestIdentity id;
  if (!uuidOverride.empty()) {
    id.vmUuid = uuidOverride;
  } else {
    const std::string path = joinPath(fsRoot, "sys/class/dmi/id/product_uuid");
    auto text = readTrimmed(path);
    if (!text)
      return Error(text.error().code(),
                   "cannot read the VM UUID from " + path + " (set agent.vm_uuid)",
                   text.error().errnum());
    if (!isUuid(text.value()))
      return Error(Errc::kInvalidArgument, path + ": not a UUID: '" + text.value() + "'");
    id.vmUuid = text.value();
  }
  for (auto& c : id.vmUuid) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  id.hostname = readTrimmed(joinPath(fsRoot, "proc/sys/kernel/hostname")).valueOr("");
  const std::string boot =
      readTrimmed(joinPath(fsRoot, "proc/sys/kernel/random/boot_id")).valueOr("");
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : boot) {
    h ^= c;
    h *= 1099511628211ull;
  }
  id.bootIdHash = boot.empty() ? 0 : h;
  return id;
}

}  // namespace vnuma::agent
