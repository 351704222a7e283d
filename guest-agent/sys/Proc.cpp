#include "guest-agent/sys/Proc.hpp"

#include <charconv>
#include <sstream>

#include "guest-agent/sys/Fs.hpp"

namespace vnuma::agent {

Result<unsigned long> taskFlags(const std::string& procRoot, pid_t pid) {
  const std::string path = joinPath(procRoot, std::to_string(pid) + "/stat");
  auto text = readFile(path);
  if (!text) return std::move(text).error();
  const auto close = text->rfind(')');
  if (close == std::string::npos) return Error(Errc::kInvalidArgument, "no ')' in " + path);
  std::istringstream in(text->substr(close + 1));
  std::string tok;
  unsigned long flags = 0;
  for (int i = 0; i < 7; ++i) {
    if (!(in >> tok)) return Error(Errc::kInvalidArgument, "too few fields in " + path);
  }
  auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), flags);
  if (ec != std::errc() || p != tok.data() + tok.size())
    return Error(Errc::kInvalidArgument, "bad flags field '" + tok + "' in " + path);
  return flags;
}

std::vector<pid_t> threadsOf(const std::string& procRoot, pid_t pid) {
  auto names = listDir(joinPath(procRoot, std::to_string(pid) + "/task"), false);
  std::vector<pid_t> out;
  if (names) {
    for (const auto& n : names.value()) {
      pid_t t = 0;
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), t);
      if (ec == std::errc() && p == n.data() + n.size()) out.push_back(t);
    }
  }
  if (out.empty()) out.push_back(pid);
  return out;
}

Result<std::vector<pid_t>> parsePidList(const std::string& text, const std::string& source) {
  std::vector<pid_t> out;
  std::istringstream in(text);
  std::string line;
  unsigned lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty()) continue;
    pid_t v = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (ec != std::errc() || p != line.data() + line.size() || v <= 0)
      return Error(Errc::kInvalidArgument,
                   source + ":" + std::to_string(lineNo) + ": not a task id: '" + line + "'");
    out.push_back(v);
  }
  return out;
}

}  // namespace vnuma::agent
