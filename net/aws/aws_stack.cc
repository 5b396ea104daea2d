#include "net/aws/aws_stack.h"

namespace vpcri::net::aws {
namespace {

// Bases are built in declaration order: the clients exist before the provider that refers to them.
struct ClientsOwner {
  AwsClients clients;
};

class OwningAwsProvider : private ClientsOwner, public AwsProvider {
 public:
  OwningAwsProvider(AwsClients owned, AwsProviderOptions options)
      : ClientsOwner{std::move(owned)}, AwsProvider(*clients.ec2, *clients.imds, std::move(options)) {}
};

struct Metadata {
  InstanceIdentity identity;
  std::vector<Cidr> vpc_cidrs;
};

Metadata read_metadata(InstanceMetadata& imds, const std::string& endpoint) {
  Metadata out;
  try {
    out.identity = imds.identity();
    for (const MetadataEni& eni : imds.enis()) {
      if (eni.mac == out.identity.primary_mac) out.vpc_cidrs = eni.vpc_cidrs;
    }
  } catch (const std::exception& e) {
    throw Error(Errc::unavailable, "aws provider: instance metadata at " + endpoint + " did not answer: " + e.what() +
                                       "; run vpcrid on an EC2 instance with IMDSv2 enabled (hop limit 2 or more) "
                                       "or set network.aws.imds_endpoint");
  }
  if (out.vpc_cidrs.empty()) {
    throw Error(Errc::unavailable, "aws provider: instance metadata lists no vpc-ipv4-cidr-blocks for the primary "
                                   "interface " + out.identity.primary_mac);
  }
  return out;
}

}  // namespace

AwsStack assemble_aws_stack(AwsClients clients, AwsProviderOptions options) {
  if (!clients.imds || !clients.ec2) throw Error(Errc::internal, "aws provider: clients missing");
  Metadata m = read_metadata(*clients.imds, "the configured endpoint");
  AwsStack stack;
  stack.region = m.identity.region;
  stack.vpc_cidrs = std::move(m.vpc_cidrs);
  stack.provider = std::make_unique<OwningAwsProvider>(std::move(clients), std::move(options));
  return stack;
}

AwsStack make_aws_stack(const AwsClientConfig& config, AwsProviderOptions options) {
  AwsClients clients;
  clients.imds = make_imds_client(config);
  std::string region = config.region;
  if (region.empty()) region = read_metadata(*clients.imds, config.imds_endpoint).identity.region;
  clients.credentials = make_credentials_chain(config, *clients.imds);
  clients.ec2 = make_ec2_client(config, region, *clients.credentials);
  AwsStack stack = assemble_aws_stack(std::move(clients), std::move(options));
  stack.region = region;
  return stack;
}

}  // namespace vpcri::net::aws
