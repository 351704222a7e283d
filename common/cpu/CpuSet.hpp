#pragma once
// CpuSet: a set of CPU ids (pCPUs on the host, vCPUs in a guest) with Linux's two text forms.
//
//   cpulist: "0-3,8,10-11"        (sysfs cpulist files, cpuset.cpus, Cpus_allowed_list)
//   cpumask: "ff,00000001"        (32-bit hex words, most significant first;
//   /proc/irq/*/smp_affinity)
//
// Parsers refuse garbage with a message naming what was wrong ("3-1", "a", "1,,2", ids above
// kMaxCpu, trailing junk); trailing NUL padding and one trailing newline are tolerated, an
// empty string (or only whitespace) is the empty set.
// Value type, cheap to copy for hundreds of CPUs; not thread-safe for concurrent mutation.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/Result.hpp"

namespace vnuma {

class CpuSet {
 public:
  // Largest CPU id accepted by the parsers (Linux NR_CPUS max is 8192).
  static constexpr unsigned kMaxCpu = 8191;

  CpuSet() = default;
  CpuSet(std::initializer_list<unsigned> ids);
  static CpuSet range(unsigned first, unsigned last);  // inclusive; first <= last

  static Result<CpuSet> parseList(std::string_view text);
  static Result<CpuSet> parseMask(std::string_view text);

  std::string toList() const;  // "" for the empty set
  std::string toMask() const;  // "0" for the empty set, else minimal 32-bit words

  void add(unsigned cpu);  // precondition: cpu <= kMaxCpu
  void remove(unsigned cpu);
  bool contains(unsigned cpu) const noexcept;
  std::size_t count() const noexcept;
  bool empty() const noexcept;
  int first() const noexcept;         // -1 when empty
  int last() const noexcept;          // -1 when empty
  std::vector<unsigned> ids() const;  // ascending

  bool isSubsetOf(const CpuSet& other) const noexcept;
  bool intersects(const CpuSet& other) const noexcept;

  CpuSet operator|(const CpuSet& o) const;
  CpuSet operator&(const CpuSet& o) const;
  CpuSet operator-(const CpuSet& o) const;  // difference
  CpuSet& operator|=(const CpuSet& o);
  CpuSet& operator&=(const CpuSet& o);
  CpuSet& operator-=(const CpuSet& o);
  bool operator==(const CpuSet& o) const noexcept;

 private:
  void trim();  // drops trailing zero words so equality is structural
  std::vector<std::uint64_t> words_;
};

}  // namespace vnuma
