#include "tests/e2e/loadtool/Control.hpp"

#include <charconv>

namespace vnuma::e2e {
namespace {

// Splits off the next space-separated token; returns it and advances `rest` past one space.
std::string_view nextToken(std::string_view& rest) {
  auto sp = rest.find(' ');
  std::string_view tok = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  return tok;
}

template <typename T>
bool parseNumber(std::string_view tok, T& out) {
  if (tok.empty()) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), out);
  return ec == std::errc{} && ptr == tok.data() + tok.size();
}

}  // namespace

std::optional<RunRequest> parseRunLine(std::string_view line, std::string& error) {
  if (line.size() > kMaxRequestLine) {
    error = "line too long";
    return std::nullopt;
  }
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  std::string_view rest = line;
  if (nextToken(rest) != "RUN") {
    error = "not a RUN request";
    return std::nullopt;
  }
  RunRequest req;
  if (!parseNumber(nextToken(rest), req.id)) {
    error = "bad id";
    return std::nullopt;
  }
  if (!parseNumber(nextToken(rest), req.timeoutSeconds) || req.timeoutSeconds == 0 ||
      req.timeoutSeconds > kMaxTimeoutSeconds) {
    error = "bad timeout";
    return std::nullopt;
  }
  if (rest.find_first_not_of(' ') == std::string_view::npos) {
    error = "empty command";
    return std::nullopt;
  }
  req.command = std::string(rest);
  return req;
}

std::string doneHeader(std::uint64_t id, int exitCode, std::size_t outputBytes) {
  return "DONE " + std::to_string(id) + " " + std::to_string(exitCode) + " " +
         std::to_string(outputBytes) + "\n";
}

}  // namespace vnuma::e2e
