#include "common/cpu/CpuSet.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <optional>

namespace vnuma {

namespace {

constexpr unsigned kWordBits = 64;
constexpr std::size_t kQuoteLimit = 48;

// Echoes (part of) the refused input in a message: non-printable bytes as \xNN, long inputs
// cut, so a garbage file cannot flood a log line.
std::string quote(std::string_view text) {
  std::string out = "'";
  std::size_t n = std::min(text.size(), kQuoteLimit);
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kQuoteLimit) out += "...";
  out += "'";
  return out;
}

// Strips the NUL padding some sysfs readers leave and at most one trailing newline.
std::string_view stripTrailer(std::string_view text) {
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text;
}

bool allSpace(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  });
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads a decimal CPU id at text[pos...]; advances pos. Saturates above kMaxCpu so a huge
// number is reported as "exceeds" rather than overflowing.
unsigned readNumber(std::string_view text, std::size_t& pos) {
  unsigned long v = 0;
  while (pos < text.size() && isDigit(text[pos])) {
    if (v <= CpuSet::kMaxCpu) v = v * 10 + static_cast<unsigned long>(text[pos] - '0');
    ++pos;
  }
  return static_cast<unsigned>(std::min<unsigned long>(v, CpuSet::kMaxCpu + 1UL));
}

// Calls f(field, offset, index) for each comma-separated field of text (index from 1); stops
// at the first error f returns. Empty fields are passed on: the callers name them.
template <typename F>
std::optional<Error> forEachField(std::string_view text, F&& f) {
  std::size_t start = 0;
  for (std::size_t index = 1;; ++index) {
    std::size_t comma = text.find(',', start);
    std::size_t len = comma == std::string_view::npos ? std::string_view::npos : comma - start;
    if (auto err = f(text.substr(start, len), start, index)) return err;
    if (comma == std::string_view::npos) return std::nullopt;
    start = comma + 1;
  }
}

Error listError(std::string_view whole, const std::string& what) {
  return Error(Errc::kInvalidArgument, "invalid cpulist " + quote(whole) + ": " + what);
}

Error maskError(std::string_view whole, const std::string& what) {
  return Error(Errc::kInvalidArgument, "invalid cpumask " + quote(whole) + ": " + what);
}

// `digits` is the id as written, so a huge number is shown as given, not wrapped.
std::string tooLarge(std::string_view digits) {
  return "CPU id " + std::string(digits.substr(0, 24)) + (digits.size() > 24 ? "..." : "") +
         " exceeds the maximum " + std::to_string(CpuSet::kMaxCpu);
}

}  // namespace

CpuSet::CpuSet(std::initializer_list<unsigned> ids) {
  for (unsigned id : ids) add(id);
}

CpuSet CpuSet::range(unsigned first, unsigned last) {
  CpuSet s;
  for (unsigned id = first; id <= last; ++id) s.add(id);
  return s;
}

Result<CpuSet> CpuSet::parseList(std::string_view text) {
  const std::string_view whole = text;
  text = stripTrailer(text);
  CpuSet out;
  if (allSpace(text)) return out;

  auto err = forEachField(
      text, [&](std::string_view elem, std::size_t offset, std::size_t) -> std::optional<Error> {
        if (elem.empty())
          return listError(whole, "empty element at offset " + std::to_string(offset));
        if (!isDigit(elem[0])) {
          return listError(
              whole, "bad element " + quote(elem) + ": expected a CPU id or a range like 0-3");
        }
        std::size_t pos = 0;
        unsigned lo = readNumber(elem, pos);
        unsigned hi = lo;
        std::string_view loDigits = elem.substr(0, pos);
        std::string_view hiDigits = loDigits;
        if (pos < elem.size() && elem[pos] == '-') {
          ++pos;
          if (pos >= elem.size() || !isDigit(elem[pos])) {
            return listError(whole, "bad range " + quote(elem) + ": missing end");
          }
          std::size_t hiStart = pos;
          hi = readNumber(elem, pos);
          hiDigits = elem.substr(hiStart, pos - hiStart);
        }
        if (pos < elem.size()) {
          return listError(whole, "trailing junk " + quote(elem.substr(pos)) + " after " +
                                      quote(elem.substr(0, pos)));
        }
        if (lo > kMaxCpu) return listError(whole, tooLarge(loDigits));
        if (hi > kMaxCpu) return listError(whole, tooLarge(hiDigits));
        if (lo > hi) return listError(whole, "bad range " + quote(elem) + ": start is above end");
        for (unsigned id = lo; id <= hi; ++id) out.add(id);
        return std::nullopt;
      });
  if (err) return std::move(*err);
  return out;
}

Result<CpuSet> CpuSet::parseMask(std::string_view text) {
  const std::string_view whole = text;
  text = stripTrailer(text);
  CpuSet out;
  if (allSpace(text)) return out;

  // Words are most significant first; collect them, then place from the least significant.
  std::vector<std::uint32_t> words;
  auto err = forEachField(
      text, [&](std::string_view word, std::size_t, std::size_t index) -> std::optional<Error> {
        if (word.empty()) return maskError(whole, "empty word " + std::to_string(index));
        if (word.size() > 8) {
          return maskError(whole, "word " + quote(word) + " has more than 8 hex digits");
        }
        std::uint32_t v = 0;
        for (char c : word) {
          int h = hexValue(c);
          if (h < 0) {
            return maskError(whole, "bad hex digit " + quote(std::string_view(&c, 1)) +
                                        " in word " + quote(word));
          }
          v = (v << 4) | static_cast<std::uint32_t>(h);
        }
        words.push_back(v);
        return std::nullopt;
      });
  if (err) return std::move(*err);
  const std::size_t n = words.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t v = words[n - 1 - i];
    if (v == 0) continue;
    std::size_t base = i * 32;
    std::size_t highest = base + 31U - static_cast<std::size_t>(std::countl_zero(v));
    if (highest > kMaxCpu) {
      return maskError(whole, "CPU id " + std::to_string(highest) + " exceeds the maximum " +
                                  std::to_string(kMaxCpu));
    }
    for (unsigned b = 0; b < 32; ++b) {
      if ((v >> b) & 1U) out.add(static_cast<unsigned>(base) + b);
    }
  }
  return out;
}

std::string CpuSet::toList() const {
  std::string out;
  int cur = first();
  const int top = last();
  while (cur >= 0 && cur <= top) {
    auto lo = static_cast<unsigned>(cur);
    unsigned hi = lo;
    while (hi < kMaxCpu && contains(hi + 1)) ++hi;
    if (!out.empty()) out += ',';
    out += std::to_string(lo);
    if (hi != lo) {
      out += '-';
      out += std::to_string(hi);
    }
    // Next member after hi.
    cur = -1;
    for (unsigned id = hi + 1; id <= static_cast<unsigned>(top); ++id) {
      if (contains(id)) {
        cur = static_cast<int>(id);
        break;
      }
    }
  }
  return out;
}

std::string CpuSet::toMask() const {
  if (empty()) return "0";
  const auto top = static_cast<unsigned>(last());
  const unsigned nwords = top / 32 + 1;
  std::string out;
  for (unsigned w = nwords; w-- > 0;) {
    std::uint64_t word64 = words_[w / 2];
    auto v = static_cast<std::uint32_t>((w % 2 == 0) ? word64 : (word64 >> 32));
    char buf[16];
    if (w == nwords - 1) {
      std::snprintf(buf, sizeof buf, "%x", v);
    } else {
      std::snprintf(buf, sizeof buf, ",%08x", v);
    }
    out += buf;
  }
  return out;
}

void CpuSet::add(unsigned cpu) {
  std::size_t w = cpu / kWordBits;
  if (words_.size() <= w) words_.resize(w + 1, 0);
  words_[w] |= std::uint64_t{1} << (cpu % kWordBits);
}

void CpuSet::remove(unsigned cpu) {
  std::size_t w = cpu / kWordBits;
  if (w >= words_.size()) return;
  words_[w] &= ~(std::uint64_t{1} << (cpu % kWordBits));
  trim();
}

bool CpuSet::contains(unsigned cpu) const noexcept {
  std::size_t w = cpu / kWordBits;
  return w < words_.size() && ((words_[w] >> (cpu % kWordBits)) & 1U) != 0;
}

std::size_t CpuSet::count() const noexcept {
  std::size_t n = 0;
  for (auto w : words_) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

bool CpuSet::empty() const noexcept {
  return std::all_of(words_.begin(), words_.end(), [](std::uint64_t w) { return w == 0; });
}

int CpuSet::first() const noexcept {
  for (std::size_t i = 0; i < words_.size(); ++i) {
    if (words_[i] != 0) return static_cast<int>(i * kWordBits) + std::countr_zero(words_[i]);
  }
  return -1;
}

int CpuSet::last() const noexcept {
  for (std::size_t i = words_.size(); i-- > 0;) {
    if (words_[i] != 0) return static_cast<int>(i * kWordBits) + 63 - std::countl_zero(words_[i]);
  }
  return -1;
}

std::vector<unsigned> CpuSet::ids() const {
  std::vector<unsigned> out;
  out.reserve(count());
  for (std::size_t i = 0; i < words_.size(); ++i) {
    std::uint64_t w = words_[i];
    while (w != 0) {
      out.push_back(static_cast<unsigned>(i * kWordBits) +
                    static_cast<unsigned>(std::countr_zero(w)));
      w &= w - 1;
    }
  }
  return out;
}

bool CpuSet::isSubsetOf(const CpuSet& other) const noexcept {
  for (std::size_t i = 0; i < words_.size(); ++i) {
    std::uint64_t o = i < other.words_.size() ? other.words_[i] : 0;
    if ((words_[i] & ~o) != 0) return false;
  }
  return true;
}

bool CpuSet::intersects(const CpuSet& other) const noexcept {
  std::size_t n = std::min(words_.size(), other.words_.size());
  for (std::size_t i = 0; i < n; ++i) {
    if ((words_[i] & other.words_[i]) != 0) return true;
  }
  return false;
}

CpuSet CpuSet::operator|(const CpuSet& o) const {
  CpuSet r = *this;
  r |= o;
  return r;
}

CpuSet CpuSet::operator&(const CpuSet& o) const {
  CpuSet r = *this;
  r &= o;
  return r;
}

CpuSet CpuSet::operator-(const CpuSet& o) const {
  CpuSet r = *this;
  r -= o;
  return r;
}

CpuSet& CpuSet::operator|=(const CpuSet& o) {
  if (words_.size() < o.words_.size()) words_.resize(o.words_.size(), 0);
  for (std::size_t i = 0; i < o.words_.size(); ++i) words_[i] |= o.words_[i];
  trim();
  return *this;
}

CpuSet& CpuSet::operator&=(const CpuSet& o) {
  if (words_.size() > o.words_.size()) words_.resize(o.words_.size());
  for (std::size_t i = 0; i < words_.size(); ++i) words_[i] &= o.words_[i];
  trim();
  return *this;
}

CpuSet& CpuSet::operator-=(const CpuSet& o) {
  std::size_t n = std::min(words_.size(), o.words_.size());
  for (std::size_t i = 0; i < n; ++i) words_[i] &= ~o.words_[i];
  trim();
  return *this;
}

bool CpuSet::operator==(const CpuSet& o) const noexcept {
  // Compare as if both were trimmed: add() does not trim, so sizes may differ by zero words.
  std::size_t n = std::max(words_.size(), o.words_.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t a = i < words_.size() ? words_[i] : 0;
    std::uint64_t b = i < o.words_.size() ? o.words_[i] : 0;
    if (a != b) return false;
  }
  return true;
}

void CpuSet::trim() {
  while (!words_.empty() && words_.back() == 0) words_.pop_back();
}

}  // namespace vnuma
