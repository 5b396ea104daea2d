// AWS Signature Version 4 over an HttpRequest: canonical request, string to sign, signing key,
// Authorization header. sign_request adds Host, X-Amz-Date and (for session credentials)
// X-Amz-Security-Token, then signs every header the request carries, so what is signed is
// exactly what is sent.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "net/aws/aws_time.h"
#include "net/aws/credentials.h"
#include "net/aws/http_transport.h"

namespace vpcri::net::aws {

struct SigV4Scope {
  std::string region;   // "us-east-1"
  std::string service;  // "ec2", "sts"
};

// The intermediate values, for tests against published vectors.
struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "content-type;host;x-amz-date"
  std::string authorization;
};

// Signs `request` as it is (it must already carry Host and X-Amz-Date).
SigV4Signature sigv4_signature(const HttpRequest& request, const Credentials& credentials, const SigV4Scope& scope);

// Adds Host (from the URL), X-Amz-Date (`now`), X-Amz-Security-Token and Authorization.
void sign_request(HttpRequest& request, const Credentials& credentials, const SigV4Scope& scope,
                  std::chrono::system_clock::time_point now);

std::string sha256_hex(std::string_view data);
// RFC 3986 unreserved characters kept, everything else %XX (upper case): AWS's URI encoding,
// also right for application/x-www-form-urlencoded bodies of the Query APIs.
std::string aws_uri_encode(std::string_view text, bool keep_slash = false);

}  // namespace vpcri::net::aws
