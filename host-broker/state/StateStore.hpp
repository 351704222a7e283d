#pragma once
// StateStore: the ledger on disk, written atomically and loaded with validation.
//
// File: <dir>/ledger.json, one JSON document:
//   {"format":"vnuma-broker-state","version":1,"crc32":"<8 hex digits>","state":{...}}
// where crc32 (IEEE 802.3, as zlib's crc32) covers the exact bytes of the "state" value as
// written (stateToJson, ledger/LedgerJson.hpp).
//
// save(): write <dir>/ledger.json.tmp, fsync it, rename over ledger.json, fsync the directory.
// A crash at any point leaves either the old or the new complete file; a leftover .tmp is
// ignored (and overwritten by the next save).
// load(): missing file -> Errc::kNotFound (a fresh start); otherwise any problem is an error
// whose message names the file, says what is wrong and what to do, e.g.
//   "state file /var/lib/vnuma/ledger.json: checksum mismatch (stored 1a2b3c4d, computed
//    5e6f7a8b); move it aside to start fresh (the broker re-learns grants from agents)"
// Inconsistent content (a pCPU in two VMs, an overcommitted node, ...) is refused the same way.
// Thread-safety: none; one StateStore per broker.

#include <string>

#include "common/core/Result.hpp"
#include "host-broker/ledger/Ledger.hpp"

namespace vnuma::broker {

inline constexpr int kStateFormatVersion = 1;

class StateStore {
 public:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string path() const;      // <dir>/ledger.json
  std::string tempPath() const;  // <dir>/ledger.json.tmp

  // Atomically replaces the state file. Errc::kSystem with errno on I/O failure (the old file
  // stays intact). Creates `dir` (mode 0700) if missing.
  Result<void> save(const Ledger& ledger) const;
  Result<Ledger> load() const;
  // The serialized form (also used by tests to build damaged files).
  static std::string encode(const Ledger& ledger);
  // Decodes and validates text as read from `sourceName`.
  static Result<Ledger> decode(const std::string& text, const std::string& sourceName);

 private:
  std::string dir_;
};

// IEEE CRC-32 (poly 0xEDB88320, init/xorout 0xFFFFFFFF): crc32("123456789") == 0xCBF43926.
std::uint32_t crc32(std::string_view data) noexcept;

}  // namespace vnuma::broker
