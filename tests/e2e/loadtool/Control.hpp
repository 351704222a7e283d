#pragma once
// The e2e control channel between a test guest and the host-side driver (tests/e2e/vmctl.py).
//
// The guest's `vnuma-load control` connects out to the driver (10.0.2.2:PORT under QEMU user
// networking, i.e. the host's 127.0.0.1:PORT) and speaks a line protocol:
//   guest -> host   HELLO <vm-name>\n                          once per connection
//   host  -> guest  RUN <id> <timeout-s> <shell command>\n     one request at a time
//   guest -> host   DONE <id> <exit-code> <nbytes>\n<nbytes of combined stdout+stderr>
// exit-code is the shell's status, 124 when the timeout killed it, 127 when it could not start.
// Long-running work is started in the background by the command itself (`... >f 2>&1 &`).
// Pure parsing here; thread-compatible.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vnuma::e2e {

struct RunRequest {
  std::uint64_t id = 0;
  unsigned timeoutSeconds = 0;
  std::string command;
};

/// Largest request line accepted (bytes, without the newline).
inline constexpr std::size_t kMaxRequestLine = 64 * 1024;
/// Largest timeout a request may ask for.
inline constexpr unsigned kMaxTimeoutSeconds = 3600;

/// Parses one request line (without its newline). On failure returns nullopt and sets `error`
/// to a message naming what was wrong ("not a RUN request", "bad id", "bad timeout",
/// "empty command", "line too long").
std::optional<RunRequest> parseRunLine(std::string_view line, std::string& error);

/// Formats the DONE header for a reply.
std::string doneHeader(std::uint64_t id, int exitCode, std::size_t outputBytes);

}  // namespace vnuma::e2e
