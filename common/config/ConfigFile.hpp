#pragma once
// ConfigFile: TOML config (toml++) with typed, range-checked getters and unknown-key refusal.
//
// Pattern (parse -> plain structs -> validate):
//   auto file = ConfigFile::load(path);            // syntax errors: "file:line:col: message"
//   auto period = file->getInt("agent.period_ms", 1000, 100, 60000);
//   ...                                            // read every key into a plain struct
//   auto unknown = file->rejectUnknownKeys();      // "file:line:col: unknown key 'agent.perod_ms'
//                                                  //  (known in [agent]: period_ms, ...)"
// Errors name file:line:col of the offending value and say what was expected, never clamp:
//   "vnuma.toml:2:13: agent.period_ms: expected integer in [100, 60000], got 5"
// Missing keys give the fallback (defaults are not range-checked). Errors are
// Errc::kInvalidArgument (load(): kNotFound / kSystem when the file cannot be read). Keys are
// dotted paths of bare names (no quoted keys containing dots). Every getter and has() marks its key
// as known for rejectUnknownKeys(). Not thread-safe (records which keys were read).

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/Result.hpp"
#include "common/cpu/CpuSet.hpp"

namespace vnuma {

class ConfigFile {
 public:
  static Result<ConfigFile> load(const std::string& path);
  static Result<ConfigFile> parse(std::string_view text, std::string sourceName);

  ConfigFile(ConfigFile&&) noexcept;
  ConfigFile& operator=(ConfigFile&&) noexcept;
  ~ConfigFile();

  bool has(std::string_view key) const;
  Result<std::string> getString(std::string_view key, std::string fallback) const;
  // Value must be one of `allowed`; the error lists them.
  Result<std::string> getEnum(std::string_view key, std::string fallback,
                              const std::vector<std::string>& allowed) const;
  Result<std::int64_t> getInt(std::string_view key, std::int64_t fallback, std::int64_t min,
                              std::int64_t max) const;
  Result<double> getDouble(std::string_view key, double fallback, double min, double max) const;
  Result<bool> getBool(std::string_view key, bool fallback) const;
  Result<std::vector<std::string>> getStringList(std::string_view key) const;  // missing -> {}
  Result<CpuSet> getCpuList(std::string_view key, CpuSet fallback) const;      // "0-3,8"
  // Names of sub-tables under `key` (e.g. per-VM sections "vm.web1"), marked as known.
  std::vector<std::string> tableNames(std::string_view key) const;

  // Every key present in the file but never asked for is an error (the first one, with a hint
  // listing the known keys of its table).
  Result<void> rejectUnknownKeys() const;
  const std::string& source() const;

 private:
  struct Impl;
  explicit ConfigFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Exit code for a configuration error; units set RestartPreventExitStatus= to it.
inline constexpr int kExitConfigError = 78;  // EX_CONFIG from sysexits.h

}  // namespace vnuma
