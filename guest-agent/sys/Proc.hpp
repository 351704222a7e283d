#pragma once
// Per-task facts read from <procRoot> ("/proc" on a live system). Stateless.

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/core/Result.hpp"

namespace vnuma::agent {

inline constexpr unsigned long kPfKthread = 0x00200000;        // PF_KTHREAD
inline constexpr unsigned long kPfNoSetAffinity = 0x04000000;  // PF_NO_SETAFFINITY

// Flags field (9th) of <procRoot>/<pid>/stat; robust to ')' and spaces in comm.
Result<unsigned long> taskFlags(const std::string& procRoot, pid_t pid);
// Thread ids of a process (<procRoot>/<pid>/task); {pid} when the directory is absent.
std::vector<pid_t> threadsOf(const std::string& procRoot, pid_t pid);
// Parses a cgroup.procs / tasks file: one decimal id per line. Bad lines -> kInvalidArgument.
Result<std::vector<pid_t>> parsePidList(const std::string& text, const std::string& source);

}  // namespace vnuma::agent
