#include "net/aws/aws_stack.h"

#include <doctest/doctest.h>

#include "net/aws/aws_test_world.h"

using namespace vpcri::net::aws;
using namespace vpcri::net::aws::testing;

namespace {

// Fakes handed over to the stack (it owns its clients).
AwsClients fake_clients(std::unique_ptr<FakeEc2Api> ec2, std::unique_ptr<FakeInstanceMetadata> imds) {
  AwsClients c;
  c.ec2 = std::move(ec2);
  c.imds = std::move(imds);
  return c;
}

}  // namespace

TEST_CASE("the aws stack reads region and VPC CIDRs from metadata and owns a working provider") {
  AwsWorld world;
  auto ec2 = std::make_unique<FakeEc2Api>();
  ec2->add_subnet(kNodeSubnet, "10.0.1.0/24");
  ec2->add_instance_type({"t3.medium", 3, 6, true});
  std::string primary = ec2->add_instance(kNodeInstance, "t3.medium", kNodeSubnet, {"sg-node"});
  FakeEc2Api* ec2_view = ec2.get();
  auto imds = std::make_unique<FakeInstanceMetadata>();
  imds->identity_value = world.imds.identity_value;
  imds->identity_value.primary_mac = ec2->find_eni(primary)->mac_address;
  imds->enis_value = world.imds.enis_value;
  imds->enis_value[0].mac = imds->identity_value.primary_mac;

  AwsStack stack = assemble_aws_stack(fake_clients(std::move(ec2), std::move(imds)), world.options());
  CHECK(stack.region == "us-east-1");
  REQUIRE(stack.vpc_cidrs.size() == 2);
  CHECK(stack.vpc_cidrs[0].to_string() == "10.0.0.0/16");
  REQUIRE(stack.provider);
  CHECK(stack.provider->name() == "aws");
  CHECK(stack.provider->describe_node().primary_eni_id == primary);
  CHECK(stack.provider->create_eni().device_number == 1);
  CHECK(ec2_view->all_enis().size() == 2);
}

TEST_CASE("the aws stack refuses to start without metadata, naming IMDS and the fix") {
  AwsWorld world;
  auto imds = std::make_unique<FakeInstanceMetadata>();
  imds->identity_value = world.imds.identity_value;  // but no interfaces: no VPC CIDRs
  try {
    assemble_aws_stack(fake_clients(std::make_unique<FakeEc2Api>(), std::move(imds)), world.options());
    FAIL("assembled without VPC CIDRs");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::unavailable);
    CHECK(std::string(e.what()).find("no vpc-ipv4-cidr-blocks") != std::string::npos);
  }
}
