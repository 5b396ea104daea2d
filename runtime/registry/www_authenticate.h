// Parsing of WWW-Authenticate challenges (RFC 7235) as registries send them:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"
//   Basic realm="Registry Realm"
// plus the base64 the Basic scheme and Docker's `auth` field need.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpcri::runtime::registry {

struct Challenge {
  std::string scheme;                         // lower-cased: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lower-cased, values unquoted
  std::string param(const std::string& name) const;
};

// All challenges in one header value; malformed parts are skipped, never thrown on.
std::vector<Challenge> parse_www_authenticate(std::string_view header);

std::string base64_encode(std::string_view data);
// Standard alphabet; padding optional; whitespace ignored. nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace vpcri::runtime::registry
