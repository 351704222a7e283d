#pragma once
// Small file helpers for the kernel seam: every path is absolute and already includes the fs
// root (callers build it with joinPath(fsRoot, "proc/stat")). Nothing here throws.
// Errors are Errc::kNotFound for ENOENT, Errc::kSystem (errnum set) otherwise; messages name
// the path. Thread-safety: stateless.

#include <string>
#include <string_view>
#include <vector>

#include "common/core/Result.hpp"

namespace vnuma::agent {

// Joins a root and a relative (or absolute) path with exactly one '/' between them.
std::string joinPath(std::string_view root, std::string_view rel);

// Reads a whole (small) file. Kernel files report size 0, so this reads until EOF.
Result<std::string> readFile(const std::string& path);
// readFile + trailing whitespace/NULs stripped.
Result<std::string> readTrimmed(const std::string& path);
// Writes `value` with one write(2) to an existing file (O_WRONLY|O_TRUNC like a shell
// redirect, never O_CREAT); the kernel's errno is preserved (EINVAL, EBUSY, ENOSPC...).
Result<void> writeExisting(const std::string& path, std::string_view value);
// Names of entries in a directory (no "." and ".."), sorted; `dirsOnly` keeps directories
// (following symlinks).
Result<std::vector<std::string>> listDir(const std::string& path, bool dirsOnly);
bool pathExists(const std::string& path);

}  // namespace vnuma::agent
