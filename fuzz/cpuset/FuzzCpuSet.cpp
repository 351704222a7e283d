// libFuzzer target for the two CpuSet text forms. Properties checked on every input:
//  - the parsers never crash, hang or trip a sanitizer;
//  - a refusal is kInvalidArgument with a non-empty, printable one-line message;
//  - an accepted set round-trips: parse(toList(x)) == x and parseMask(toMask(x)) == x;
//  - count() agrees with ids(), and first()/last() with the ends of ids().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/cpu/CpuSet.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void checkRefusal(const vnuma::Error& e) {
  check(e.code() == vnuma::Errc::kInvalidArgument);
  const std::string& m = e.message();
  check(!m.empty());
  for (char c : m) check(c >= 0x20 && c < 0x7f);
}

void checkSet(const vnuma::CpuSet& s) {
  auto ids = s.ids();
  check(ids.size() == s.count());
  check(s.empty() == ids.empty());
  if (!ids.empty()) {
    check(s.first() == static_cast<int>(ids.front()));
    check(s.last() == static_cast<int>(ids.back()));
  }
  auto fromList = vnuma::CpuSet::parseList(s.toList());
  check(fromList.ok() && *fromList == s);
  auto fromMask = vnuma::CpuSet::parseMask(s.toMask());
  check(fromMask.ok() && *fromMask == s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto list = vnuma::CpuSet::parseList(text);
  if (list.ok()) {
    checkSet(*list);
  } else {
    checkRefusal(list.error());
  }
  auto mask = vnuma::CpuSet::parseMask(text);
  if (mask.ok()) {
    checkSet(*mask);
  } else {
    checkRefusal(mask.error());
  }
  return 0;
}
