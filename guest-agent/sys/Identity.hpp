#pragma once
// Who this guest is: the VM UUID (SMBIOS system UUID = libvirt domain UUID), hostname, and a
// hash of the boot id (changes on every guest reboot). Read from <fsRoot>. Stateless.

#include <cstdint>
#include <string>

#include "common/core/Result.hpp"

namespace vnuma::agent {

struct GuestIdentity {
  std::string vmUuid;    // lowercase
  std::string hostname;  // "" when unknown
  std::uint64_t bootIdHash = 0;
};

// `uuidOverride` (from config) wins over <fsRoot>/sys/class/dmi/id/product_uuid. Errors: no
// UUID anywhere ("cannot read the VM UUID from <path> (set agent.vm_uuid)"), or a file that is
// not a UUID.
Result<GuestIdentity> readIdentity(const std::string& fsRoot, const std::string& uuidOverride);
bool isUuid(const std::string& s);

}  // namespace vnuma::agent
