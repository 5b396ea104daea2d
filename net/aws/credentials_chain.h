// The credentials chain of credentials.h: the environment, then a web identity token through
// STS, then the instance role through IMDS. The answer is cached and fetched again when it
// expires within `refresh_before`; if that fetch fails while the cached credentials are still
// valid, they keep being used (and the failure is logged). Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "net/aws/credentials.h"
#include "net/aws/instance_metadata.h"
#include "net/aws/sts_client.h"

namespace vpcri::net::aws {

struct CredentialsChainOptions {
  std::chrono::seconds refresh_before{300};
  // Environment lookup; empty: ::getenv. Tests inject their own.
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  std::function<std::chrono::system_clock::time_point()> now;  // empty: the system clock
};

class CredentialsChain : public CredentialsProvider {
 public:
  // `sts` is used only when AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are set; `imds` must
  // outlive the chain.
  CredentialsChain(std::unique_ptr<StsClient> sts, InstanceMetadata& imds, CredentialsChainOptions options = {});

  Credentials get() override;
  // Where the last credentials came from: "environment", "web identity", "instance role" ("" before).
  std::string source() const;

 private:
  std::optional<std::string> env(const std::string& name) const;
  std::chrono::system_clock::time_point now() const;
  Credentials resolve(std::string& source);

  std::unique_ptr<StsClient> sts_;
  InstanceMetadata& imds_;
  CredentialsChainOptions options_;
  mutable std::mutex mutex_;
  std::optional<Credentials> cached_;
  std::string source_;
};

}  // namespace vpcri::net::aws
