#pragma once
// vnumactl: the admin CLI. `runCtl` is the whole program minus process plumbing, so tests can
// run it in-process with captured output.
//
//   vnumactl [--endpoint E] [--timeout-ms N] [--server-key F --client-key F]
//            health | host | vms | vm show ID | vm set ID [--floor N] [--ceiling N] [--weight W]
//            | ledger | rebalance | policy show | policy set FILE [--name NAME]
//            | events [--since N] [--limit N] | metrics | topology [--sysfs-root DIR]
// every command takes --json (print the API's JSON body as is); otherwise human tables.
// Endpoint: --endpoint, else $VNUMA_ADMIN_ENDPOINT, else ipc:///run/vnuma/admin.sock.
// Exit codes: 0 ok; 1 the API answered with an error (its message on stderr); 2 usage;
// 69 (EX_UNAVAILABLE) the broker did not answer; 66 (EX_NOINPUT) a file could not be read.
// `topology` reads sysfs under --sysfs-root (default "/") and needs no broker.

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>

#include "common/core/Result.hpp"

namespace vnuma::broker::ctl {

inline constexpr int kExitApiError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNoInput = 66;
inline constexpr int kExitUnavailable = 69;

inline constexpr const char* kDefaultAdminEndpoint = "ipc:///run/vnuma/admin.sock";

struct AdminReply {
  unsigned status = 0;
  std::string body;
  std::string contentType;
};

struct AdminClientOptions {
  std::string endpoint = kDefaultAdminEndpoint;
  std::chrono::milliseconds timeout{5000};
  std::string serverPublicKeyFile;  // CURVE (admin TCP): broker's public key
  std::string clientSecretKeyFile;  // CURVE: this client's secret key (its .pub must be authorized)
};

// One request, one reply. kUnavailable when nothing answers within the timeout, kProtocol when
// the reply cannot be decoded or does not echo the request id.
Result<AdminReply> adminCall(const AdminClientOptions& opts, const std::string& method,
                             const std::string& path, const std::string& body);

int runCtl(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace vnuma::broker::ctl
