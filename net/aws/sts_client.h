// STS AssumeRoleWithWebIdentity (Query API, Version 2011-06-15): the call IRSA relies on. It is
// unsigned (the web identity token is the proof), so it works before we have any credentials.
#pragma once

#include <memory>
#include <string>

#include "net/aws/backoff.h"
#include "net/aws/credentials.h"
#include "net/aws/http_transport.h"

namespace vpcri::net::aws {

struct StsClientOptions {
  std::string endpoint;  // "https://sts.<region>.amazonaws.com"
  int max_retries = 3;
  Backoff backoff;
};

class StsClient {
 public:
  StsClient(std::shared_ptr<HttpTransport> transport, StsClientOptions options);
  // AssumeRoleWithWebIdentityResult/Credentials; throws Ec2Error (e.g. InvalidIdentityToken,
  // AccessDenied) or, for an answer without credentials, Ec2Error "MalformedResponse".
  Credentials assume_role_with_web_identity(const std::string& role_arn, const std::string& session_name,
                                            const std::string& web_identity_token);

 private:
  std::shared_ptr<HttpTransport> transport_;
  StsClientOptions options_;
  std::string url_;
};

}  // namespace vpcri::net::aws
