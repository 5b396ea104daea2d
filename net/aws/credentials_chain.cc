#include "net/aws/credentials_chain.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"

namespace vpcri::net::aws {

CredentialsChain::CredentialsChain(std::unique_ptr<StsClient> sts, InstanceMetadata& imds,
                                   CredentialsChainOptions options)
    : sts_(std::move(sts)), imds_(imds), options_(std::move(options)) {}

std::optional<std::string> CredentialsChain::env(const std::string& name) const {
  if (options_.getenv) return options_.getenv(name);
  const char* value = std::getenv(name.c_str());
  if (!value || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::chrono::system_clock::time_point CredentialsChain::now() const {
  return options_.now ? options_.now() : std::chrono::system_clock::now();
}

std::string CredentialsChain::source() const {
  std::lock_guard lock(mutex_);
  return source_;
}

Credentials CredentialsChain::resolve(std::string& source) {
  auto key = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (key && secret) {
    source = "environment";
    return {*key, *secret, env("AWS_SESSION_TOKEN").value_or(""), std::nullopt};
  }

  auto role_arn = env("AWS_ROLE_ARN");
  auto token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
  if (role_arn && token_file) {
    // Configured: its failure is the answer (falling back to the node's role would act with
    // other permissions than the operator asked for). The file is read each time: it rotates.
    std::ifstream file(*token_file);
    std::stringstream token;
    token << file.rdbuf();
    if (!file || trim(token.str()).empty()) {
      throw Error(Errc::unavailable, "AWS credentials: cannot read the web identity token file " + *token_file);
    }
    if (!sts_) throw Error(Errc::unavailable, "AWS credentials: web identity configured but no STS endpoint");
    std::string session = env("AWS_ROLE_SESSION_NAME")
                              .value_or("vpcri-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                                      now().time_since_epoch())
                                                                      .count()));
    try {
      source = "web identity";
      return sts_->assume_role_with_web_identity(*role_arn, session, trim(token.str()));
    } catch (const Error& error) {
      throw Error(Errc::unavailable, std::string("AWS credentials: AssumeRoleWithWebIdentity for ") + *role_arn +
                                         " failed: " + error.what());
    }
  }

  std::optional<Credentials> role;
  try {
    role = imds_.role_credentials();
  } catch (const Error& error) {
    throw Error(Errc::unavailable, std::string("AWS credentials: the instance role: ") + error.what());
  }
  if (role) {
    source = "instance role";
    return *role;
  }
  throw Error(Errc::unavailable,
              "no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY not set, AWS_ROLE_ARN/"
              "AWS_WEB_IDENTITY_TOKEN_FILE not set, and the instance has no IAM role");
}

Credentials CredentialsChain::get() {
  std::lock_guard lock(mutex_);
  auto current = now();
  if (cached_ && (!cached_->expiration || current + options_.refresh_before < *cached_->expiration)) return *cached_;
  try {
    std::string source;
    Credentials fresh = resolve(source);
    if (fresh.expiration && *fresh.expiration <= current) {
      throw Error(Errc::unavailable, "AWS credentials from the " + source + " have already expired");
    }
    cached_ = fresh;
    source_ = source;
    return fresh;
  } catch (const Error& error) {
    if (cached_ && cached_->expiration && current < *cached_->expiration) {
      log::warn("AWS credentials refresh failed; using the current ones until they expire",
                {{"source", source_}, {"error", error.what()}});
      return *cached_;
    }
    throw;
  }
}

}  // namespace vpcri::net::aws
