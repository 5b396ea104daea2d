// Parsing of WWW-Authenticate challenges (RFC 7235) as registries send them:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"
//   Basic realm="Registry Realm"
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"

namespace vpcri::runtime::registry {

struct Challenge {
  std::string scheme;                         // lower-cased: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lower-cased, values unquoted
  std::string param(const std::string& name) const;
};

// All challenges in one header value; malformed parts are skipped, never thrown on.
std::vector<Challenge> parse_www_authenticate(std::string_view header);

// Base64 for the Basic scheme and Docker's `auth` field: common/text.h's.
using vpcri::base64_decode;
using vpcri::base64_encode;

}  // namespace vpcri::runtime::registry
