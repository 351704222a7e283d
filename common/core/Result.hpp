#pragma once
// vnuma's one error currency: Result<T> holds either a value or an Error.
//
// Nothing that touches the kernel, libvirt or the network throws; it returns a Result.
// Parsers may throw internally but convert at their boundary. Context is added on the way up:
//   return r.error().context("reading " + path);
// and Error::describe() renders "reading /sys/x: parsing cpulist: bad range '3-1'".
// Thread-safety: value types, no shared state.

#include <cerrno>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vnuma {

// Error domains, so callers can branch without string matching.
enum class Errc {
  kInvalidArgument,     // bad input: a parser or validator refused it
  kNotFound,            // a file, VM, cgroup or key that does not exist
  kConflict,            // would break an invariant (e.g. a pCPU already held)
  kSystem,              // an OS call failed; errnum holds errno
  kHypervisor,          // libvirt failed
  kTimeout,             // a deadline passed
  kProtocol,            // a peer sent something malformed or out of order
  kUnsupportedVersion,  // a peer speaks a protocol version we do not
  kUnavailable,         // a dependency is not there (no cgroup controller, no libvirt)
  kInternal,            // a bug: an invariant check fired
};

const char* errcName(Errc c) noexcept;

class Error {
 public:
  Error(Errc code, std::string message, int errnum = 0)
      : code_(code), message_(std::move(message)), errnum_(errnum) {}

  // Builds a kSystem error from the current errno (call right after the failing call).
  static Error fromErrno(std::string message) {
    return Error(Errc::kSystem, std::move(message), errno);
  }

  Errc code() const noexcept { return code_; }
  int errnum() const noexcept { return errnum_; }
  const std::string& message() const noexcept { return message_; }
  const std::vector<std::string>& contexts() const noexcept { return context_; }

  // Adds what the caller was doing; outermost context is printed first.
  Error& context(std::string what) & {
    context_.push_back(std::move(what));
    return *this;
  }
  Error&& context(std::string what) && {
    context_.push_back(std::move(what));
    return std::move(*this);
  }

  // "ctx-outer: ctx-inner: message: strerror(errnum)"
  std::string describe() const;

 private:
  Errc code_;
  std::string message_;
  int errnum_ = 0;
  std::vector<std::string> context_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Preconditions: ok() for value(), !ok() for error().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  Error& error() & { return std::get<1>(v_); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  T valueOr(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  Error& error() & { return err_; }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_{Errc::kInternal, ""};
  bool ok_ = true;
};

inline Result<void> okResult() { return {}; }

}  // namespace vnuma

// Propagates an error from an expression returning Result<...>, adding no context.
#define VNUMA_TRY_VOID(expr)                                   \
  do {                                                         \
    auto vnuma_try_r_ = (expr);                                \
    if (!vnuma_try_r_) return std::move(vnuma_try_r_).error(); \
  } while (0)
