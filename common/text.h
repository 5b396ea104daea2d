// Small string helpers shared by the HTTP clients (registry, AWS).
#pragma once

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

}  // namespace vpcri
