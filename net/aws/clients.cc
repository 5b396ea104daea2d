// The three factories of clients.h: each real client gets its own HTTP transport (connection pool).
#include "net/aws/clients.h"

#include <cstdlib>

#include "common/log.h"
#include "net/aws/credentials_chain.h"
#include "net/aws/ec2_client.h"
#include "net/aws/imds_client.h"
#include "net/aws/sts_client.h"

namespace vpcri::net::aws {
namespace {

std::shared_ptr<HttpTransport> transport_for(const AwsClientConfig& config, bool use_proxy) {
  TransportOptions options;
  options.timeout = config.request_timeout;
  options.ca_file = config.ca_file;
  options.use_proxy = use_proxy;
  return std::make_shared<ClientTransport>(options);
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// The region STS is called in: configured, else the SDKs' variables, else (only when web
// identity will need STS) the instance's own region from IMDS.
std::string sts_region(const AwsClientConfig& config, InstanceMetadata& imds) {
  if (!config.region.empty()) return config.region;
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (!env_or_empty(name).empty()) return env_or_empty(name);
  }
  if (env_or_empty("AWS_ROLE_ARN").empty() || env_or_empty("AWS_WEB_IDENTITY_TOKEN_FILE").empty()) return "";
  try {
    return imds.identity().region;
  } catch (const Error& error) {
    log::warn("AWS: no region for STS from instance metadata; using the global endpoint", {{"error", error.what()}});
    return "";
  }
}

}  // namespace

std::string default_endpoint(const std::string& service, const std::string& region) {
  return "https://" + service + "." + region + (region.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com");
}

std::unique_ptr<InstanceMetadata> make_imds_client(const AwsClientConfig& config) {
  ImdsClientOptions options;
  options.endpoint = config.imds_endpoint;
  options.max_retries = config.max_retries;
  return std::make_unique<ImdsClient>(transport_for(config, false), options);
}

std::unique_ptr<CredentialsProvider> make_credentials_chain(const AwsClientConfig& config, InstanceMetadata& imds) {
  StsClientOptions sts;
  sts.endpoint = config.sts_endpoint;
  if (sts.endpoint.empty()) {
    std::string region = sts_region(config, imds);
    sts.endpoint = region.empty() ? "https://sts.amazonaws.com" : default_endpoint("sts", region);
  }
  sts.max_retries = config.max_retries;
  return std::make_unique<CredentialsChain>(std::make_unique<StsClient>(transport_for(config, true), sts), imds);
}

std::unique_ptr<Ec2Api> make_ec2_client(const AwsClientConfig& config, const std::string& region,
                                        CredentialsProvider& credentials) {
  if (region.empty()) throw Error(Errc::invalid_argument, "EC2 client: no region (instance metadata gave none); set network.aws.region");
  Ec2ClientOptions options;
  options.endpoint = config.ec2_endpoint.empty() ? default_endpoint("ec2", region) : config.ec2_endpoint;
  options.region = region;
  options.requests_per_second = config.ec2_requests_per_second;
  options.burst = config.ec2_burst;
  options.max_retries = config.max_retries;
  return std::make_unique<Ec2Client>(transport_for(config, true), credentials, options);
}

}  // namespace vpcri::net::aws
