// Small string helpers (the HTTP clients, ids, binary data inside JSON).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vpcri {

// Without leading and trailing whitespace.
std::string trim(std::string_view text);
// ASCII lower case.
std::string to_lower(std::string_view text);
// RFC 3986: unreserved characters (A-Z a-z 0-9 - _ . ~) kept, every other byte as %XX (upper
// case hex); `keep_slash` keeps '/' too (URI paths).
std::string percent_encode(std::string_view text, bool keep_slash = false);
// Every byte as two lower case hex digits.
std::string hex_encode(std::string_view bytes);
// hex_encode's inverse (either case); false, with `out` unspecified, when `hex` is not pairs of
// hex digits.
bool hex_decode(std::string_view hex, std::string& out);

// Standard base64 (RFC 4648), with padding.
std::string base64_encode(std::string_view data);
// Standard alphabet; padding optional; whitespace ignored. nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace vpcri
