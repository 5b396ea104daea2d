// Placeholder for net/aws/clients.cc (the real IMDS, credentials and EC2 clients, built on
// another branch) so that vpcrid links meanwhile: `provider: aws` then fails at start with a
// clear reason. Delete this file (and its line in meson.build) when clients.cc is merged; a
// duplicate-symbol link error says if both are present.
#include "net/aws/clients.h"

#include "common/error.h"

namespace vpcri::net::aws {
namespace {

[[noreturn]] void unavailable() {
  throw Error(Errc::unimplemented, "this vpcrid was built without the AWS clients (net/aws/clients.cc)");
}

}  // namespace

std::unique_ptr<InstanceMetadata> make_imds_client(const AwsClientConfig&) { unavailable(); }
std::unique_ptr<CredentialsProvider> make_credentials_chain(const AwsClientConfig&, InstanceMetadata&) { unavailable(); }
std::unique_ptr<Ec2Api> make_ec2_client(const AwsClientConfig&, const std::string&, CredentialsProvider&) {
  unavailable();
}

}  // namespace vpcri::net::aws
