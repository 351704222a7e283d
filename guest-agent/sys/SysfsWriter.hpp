#pragma once
// SysfsWriter: writes to single-value kernel files outside cgroupfs (CPU online files, IRQ
// affinity, the workqueue cpumask). Real implementation: one write(2), errno preserved. A
// fault-injecting wrapper fails chosen paths (tests). Thread-safety: none.

#include <string>
#include <vector>

#include "common/core/Result.hpp"

namespace vnuma::agent {

class SysfsWriter {
 public:
  virtual ~SysfsWriter() = default;
  virtual Result<void> write(const std::string& path, const std::string& value) = 0;
};

class RealSysfsWriter : public SysfsWriter {
 public:
  Result<void> write(const std::string& path, const std::string& value) override;
};

class FaultInjectingSysfsWriter : public SysfsWriter {
 public:
  explicit FaultInjectingSysfsWriter(SysfsWriter& inner) : inner_(inner) {}
  void failOn(std::string pathSubstring, int errnum) {
    faults_.push_back({std::move(pathSubstring), errnum});
  }
  void clearFaults() { faults_.clear(); }
  Result<void> write(const std::string& path, const std::string& value) override;
  std::vector<std::string> written;  // every path written successfully, in order

 private:
  struct Fault {
    std::string substring;
    int errnum;
  };
  SysfsWriter& inner_;
  std::vector<Fault> faults_;
};

}  // namespace vnuma::agent
