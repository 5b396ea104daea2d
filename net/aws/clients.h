// How the daemon builds the real AWS clients: IMDS first (it knows the region), then the
// credentials chain, then the EC2 client. Implemented in net/aws/clients.cc; the provider's unit
// tests use the in-memory fakes instead (fake_ec2_api.h, fake_instance_metadata.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "net/aws/credentials.h"
#include "net/aws/ec2_api.h"
#include "net/aws/instance_metadata.h"

namespace vpcri::net::aws {

struct AwsClientConfig {
  std::string region;         // empty: meta-data/placement/region
  std::string ec2_endpoint;   // empty: https://ec2.<region>.amazonaws.com
  std::string sts_endpoint;   // empty: https://sts.<region>.amazonaws.com
  std::string imds_endpoint = "http://169.254.169.254";
  std::string ca_file;        // empty: the system's CA bundle
  // Client-side token bucket in front of every EC2 call, shared by all callers of one client.
  double ec2_requests_per_second = 5;
  int ec2_burst = 20;
  int max_retries = 5;  // of a throttled / 5xx / transport failure, with jittered exponential backoff
  std::chrono::milliseconds request_timeout{10000};
};

std::unique_ptr<InstanceMetadata> make_imds_client(const AwsClientConfig& config);
// The chain described in credentials.h; `imds` must outlive the result.
std::unique_ptr<CredentialsProvider> make_credentials_chain(const AwsClientConfig& config, InstanceMetadata& imds);
// `region` resolved (config or IMDS); `credentials` must outlive the result.
std::unique_ptr<Ec2Api> make_ec2_client(const AwsClientConfig& config, const std::string& region,
                                        CredentialsProvider& credentials);

// "https://<service>.<region>.amazonaws.com" (".amazonaws.com.cn" in the China regions).
std::string default_endpoint(const std::string& service, const std::string& region);

}  // namespace vpcri::net::aws
