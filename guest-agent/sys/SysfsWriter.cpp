#include "guest-agent/sys/SysfsWriter.hpp"

#include "guest-agent/sys/Fs.hpp"

namespace vnuma::agent {

Result<void> RealSysfsWriter::write(const std::string& path, const std::string& value) {
  return writeExisting(path, value);
}

Result<void> FaultInjectingSysfsWriter::write(const std::string& path, const std::string& value) {
  for (const auto& f : faults_)
    if (path.find(f.substring) != std::string::npos)
      return Error(Errc::kSystem, "injected fault writing " + path, f.errnum);
  auto r = inner_.write(path, value);
  if (r) written.push_back(path);
  return r;
}

}  // namespace vnuma::agent
