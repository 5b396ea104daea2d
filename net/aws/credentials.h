// AWS credentials and where they come from. The chain, first that answers: the environment
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN), a web identity token
// (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE through STS AssumeRoleWithWebIdentity, as IRSA
// gives a pod), then the instance role through IMDS. Temporary credentials are refreshed before
// they expire. Implemented in net/aws/credentials.cc.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace vpcri::net::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  std::optional<std::chrono::system_clock::time_point> expiration;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Valid credentials now (refreshing if they expire within a few minutes); throws
  // Error(unavailable) with the reason when no source answers.
  virtual Credentials get() = 0;
};

}  // namespace vpcri::net::aws
