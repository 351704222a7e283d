#pragma once
// The admin API router: method + path + JSON body -> HTTP-like status + JSON body.
//
// Paths (docs/admin-api.md is the reference):
//   GET       /v1/health            GET /v1/host          GET /v1/vms
//   GET|PATCH /v1/vms/{name-or-uuid}                      GET /v1/ledger
//   POST      /v1/rebalance         GET|PUT /v1/policy    GET /v1/events?since=N&limit=M
//   GET       /v1/metrics           (Prometheus text, content type "text/plain; version=0.0.4")
// Statuses: 200; 400 bad body or values, with {"error": message}; 404 unknown VM or path;
// 405 wrong method, with {"error": ..., "allowed": [...]}; 409 a request conflicts with an
// invariant; 500 an internal failure. Error texts are part of the contract (tested).
//
// Pure logic over an AdminBackend; owns nothing but a reference to it. Not thread-safe: call
// from the thread that owns the backend (the engine loop).

#include <string>
#include <string_view>
#include <vector>

#include "host-broker/api/AdminBackend.hpp"

namespace vnuma::broker::api {

struct Request {
  std::string method;
  std::string path;
  std::string body;
};

struct Response {
  unsigned status = 200;
  std::string body;
  std::string contentType = "application/json";
};

inline constexpr const char* kJsonContentType = "application/json";
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4";

class Router {
 public:
  explicit Router(AdminBackend& backend) : backend_(backend) {}

  Response handle(const Request& req);

  // One admin frame in (serialized AdminRequest), one frame out (serialized AdminResponse).
  // Undecodable requests get status 400 with request_id 0; never throws.
  std::string handleFrame(std::string_view frame);

 private:
  Response vmResource(const Request& req, const std::string& id);
  Response patchVm(const VmView& vm, const std::string& body);
  Response putPolicy(const std::string& body);
  Response events(const std::string& query);

  AdminBackend& backend_;
};

// JSON renderings shared with tests and tools (stable field names, see docs/admin-api.md).
std::string vmToJson(const VmView& vm);
std::string metricsToPrometheus(const std::vector<MetricSample>& samples);

}  // namespace vnuma::broker::api
