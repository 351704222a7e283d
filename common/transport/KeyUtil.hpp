#pragma once
// Private helpers of common/transport (not for other modules): Z85 key checks shared by the
// key-file functions and the socket setup. No ZeroMQ types here.

#include <string>
#include <string_view>

#include "common/core/Result.hpp"

namespace vnuma::transport::detail {

// Checks a 40-character Z85 CURVE key and returns its 32 raw bytes. Errors (kInvalidArgument):
// "key has N characters, expected 40", "invalid character 'c' at position N (not Z85)",
// "key is not valid Z85".
Result<std::string> decodeZ85Key(std::string_view z85);

// Lowercase hex of binary bytes (ZeroMQ routing ids in messages).
std::string hex(std::string_view bytes);

}  // namespace vnuma::transport::detail
