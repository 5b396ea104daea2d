// The `aws` provider with the clients it runs on, as the daemon builds it: the real IMDS,
// credentials and EC2 clients (net/aws/clients.h) and an AwsProvider owning them, plus what the
// rest of pod networking needs from instance metadata before the pool manager starts (the VPC's
// CIDRs: pod traffic to them keeps the pod IP as source).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "net/aws/aws_provider.h"
#include "net/aws/clients.h"
#include "net/aws/credentials.h"

namespace vpcri::net::aws {

struct AwsClients {
  std::unique_ptr<InstanceMetadata> imds;
  std::unique_ptr<CredentialsProvider> credentials;  // used by ec2; may be null when ec2 needs none
  std::unique_ptr<Ec2Api> ec2;
};

struct AwsStack {
  std::unique_ptr<ipam::Provider> provider;  // an AwsProvider that owns the clients
  std::string region;
  std::vector<Cidr> vpc_cidrs;  // of the primary ENI, from instance metadata
};

// Reads instance metadata once (the region when `config.region` is empty, the VPC CIDRs), then
// builds the provider over `clients`. Throws Error(unavailable) naming IMDS if it does not answer.
AwsStack assemble_aws_stack(AwsClients clients, AwsProviderOptions options);

// The real thing: IMDS client, then (knowing the region) the credentials chain and the EC2 client.
// The only caller of the client factories in clients.h.
AwsStack make_aws_stack(const AwsClientConfig& config, AwsProviderOptions options);

}  // namespace vpcri::net::aws
