#pragma once
// Where the cgroup controllers the agent needs are mounted, discovered from
// <fsRoot>/proc/self/mountinfo (never assumed to be /sys/fs/cgroup).
//
// Mode: "v2"     only a cgroup2 hierarchy carries cpuset;
//       "v1"     cpuset is on a v1 hierarchy and no cgroup2 mount exists;
//       "hybrid" cpuset is on a v1 hierarchy and a cgroup2 mount also exists (systemd's hybrid
//                layout); the agent then works on the v1 hierarchies.
// A cgroup2 mount is used for cpuset only when its root cgroup.controllers lists "cpuset".
// Directories are absolute (they include fsRoot). Plain data; thread-safe once built.

#include <string>

#include "common/core/Result.hpp"

namespace vnuma::agent {

enum class CgroupVersion { kV1, kV2 };

struct CgroupLayout {
  std::string mode;                            // "v1", "v2" or "hybrid"
  CgroupVersion version = CgroupVersion::kV2;  // which hierarchy the agent writes
  std::string cpusetMount;                     // absolute dir of the hierarchy carrying cpuset
  std::string cpuMount;      // absolute dir of the hierarchy carrying cpu (quota); may be empty
  std::string unifiedMount;  // absolute dir of the cgroup2 mount; empty when none

  // Reads <fsRoot>/proc/self/mountinfo. Errors: no mountinfo (kNotFound), no hierarchy with
  // the cpuset controller (kUnavailable: "no cgroup hierarchy with the cpuset controller is
  // mounted (looked in <path>)").
  static Result<CgroupLayout> discover(const std::string& fsRoot);
};

}  // namespace vnuma::agent
