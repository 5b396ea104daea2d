#include "cri/server/aws_network_config.h"

namespace vpcri::cri {

net::aws::AwsClientConfig aws_client_config(const AwsNetworkConfig& aws) {
  net::aws::AwsClientConfig c;
  c.region = aws.region;
  c.ec2_endpoint = aws.ec2_endpoint;
  c.sts_endpoint = aws.sts_endpoint;
  c.imds_endpoint = aws.imds_endpoint;
  c.ca_file = aws.ca_file;
  c.ec2_requests_per_second = aws.ec2_requests_per_second;
  c.ec2_burst = aws.ec2_burst;
  return c;
}

net::aws::AwsProviderOptions aws_provider_options(const AwsNetworkConfig& aws) {
  net::aws::AwsProviderOptions o;
  o.subnets = aws.subnets;
  o.security_groups = aws.security_groups;
  o.cluster_name = aws.cluster_name;
  o.prefix_delegation = aws.prefix_delegation;
  o.leaked_eni_grace = std::chrono::seconds(aws.leaked_eni_grace_seconds);
  return o;
}

}  // namespace vpcri::cri
