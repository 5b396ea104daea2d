// The real AWS clients of net/aws (common/http + SigV4 + pugixml, IMDSv2, the credentials chain)
// against the fake EC2 + IMDS of tests/aws, from inside a node of a 1-node world: the calls the
// aws provider makes, over HTTPS with the world's CA, with the instance role's credentials from
// IMDS; EC2's error codes surface as Ec2Error; injected throttling is retried away.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "net/aws/credentials_chain.h"
#include "net/aws/ec2_client.h"
#include "net/aws/http_transport.h"
#include "net/aws/imds_client.h"
#include "tests/aws/aws_world.h"
#include "tests/integration/net_checks.h"

using namespace vpcri::test;
using namespace vpcri::net::aws;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

Backoff quick_backoff() { return Backoff{1ms, 20ms, {}}; }

struct Clients {
  explicit Clients(const AwsWorld& world, const std::string& secret_override = "") {
    ImdsClientOptions imds_options;
    imds_options.endpoint = kAwsImdsEndpoint;
    imds_options.backoff = quick_backoff();
    TransportOptions link_local;
    link_local.use_proxy = false;
    imds = std::make_unique<ImdsClient>(std::make_shared<ClientTransport>(link_local), imds_options);
    CredentialsChainOptions chain_options;
    chain_options.getenv = [&world, secret_override](const std::string& name) -> std::optional<std::string> {
      if (secret_override.empty()) return std::nullopt;  // no environment: the instance role from IMDS
      if (name == "AWS_ACCESS_KEY_ID") return world.credentials().at("access_key").get<std::string>();
      if (name == "AWS_SECRET_ACCESS_KEY") return secret_override;
      return std::nullopt;
    };
    chain = std::make_unique<CredentialsChain>(nullptr, *imds, chain_options);
    Ec2ClientOptions ec2_options;
    ec2_options.endpoint = kAwsEc2Endpoint;
    ec2_options.region = kAwsRegion;
    ec2_options.requests_per_second = 1000;
    ec2_options.burst = 1000;
    ec2_options.max_retries = 3;
    ec2_options.backoff = quick_backoff();
    TransportOptions tls;
    tls.ca_file = world.ca_file();
    ec2 = std::make_unique<Ec2Client>(std::make_shared<ClientTransport>(tls), *chain, ec2_options);
  }
  std::unique_ptr<ImdsClient> imds;
  std::unique_ptr<CredentialsChain> chain;
  std::unique_ptr<Ec2Client> ec2;
};

std::string aws_code_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Ec2Error& e) {
    return e.aws_code();
  }
  return "(no error)";
}

bool link_exists(const std::string& netns, const std::string& name) {
  return run(in_netns(netns, {kIp, "link", "show", name})).exit_code == 0;
}

}  // namespace

TEST_CASE("the real IMDS, credentials and EC2 clients against the fake, from inside a node") {
  AwsWorld world(1);
  const json& node = world.node(0);
  ScopedNetns in_node(world.node_netns(0));
  Clients clients(world);

  InstanceIdentity id = clients.imds->identity();
  CHECK(id.instance_id == world.instance_id(0));
  CHECK(id.instance_type == "t3.medium");
  CHECK(id.region == kAwsRegion);
  CHECK(id.availability_zone == std::string(kAwsRegion) + "a");
  CHECK(id.primary_mac == node.at("mac"));
  std::vector<MetadataEni> enis = clients.imds->enis();
  REQUIRE(enis.size() == 1);
  CHECK(enis[0].interface_id == node.at("eni_id"));
  CHECK(enis[0].device_number == 0);
  CHECK(enis[0].subnet_id == world.subnet(0));
  CHECK(enis[0].subnet_cidr.to_string() == "10.42.0.0/24");
  REQUIRE(enis[0].local_ipv4s.size() == 1);
  CHECK(enis[0].local_ipv4s[0].to_string() == world.node_ip(0));
  CHECK(enis[0].ipv4_prefixes.empty());
  auto role = clients.imds->role_credentials();
  REQUIRE(role.has_value());
  CHECK(role->access_key_id == world.role().at("access_key"));
  CHECK(clients.chain->get().session_token == world.role().at("token"));

  Ec2Api& ec2 = *clients.ec2;
  Instance instance = ec2.describe_instance(world.instance_id(0));
  CHECK(instance.private_ip.to_string() == world.node_ip(0));
  REQUIRE(instance.network_interfaces.size() == 1);
  CHECK(instance.network_interfaces[0].device_index == 0);
  auto types = ec2.describe_instance_types({"t3.medium"});
  REQUIRE(types.size() == 1);
  CHECK(types[0].maximum_network_interfaces == 3);
  CHECK(types[0].ipv4_addresses_per_interface == 6);
  CHECK(types[0].nitro);
  auto subnets = ec2.describe_subnets({world.subnet(0)});
  REQUIRE(subnets.size() == 1);
  CHECK(subnets[0].cidr.to_string() == "10.42.0.0/24");

  CreateNetworkInterfaceRequest create;
  create.subnet_id = world.subnet(0);
  create.description = "vpcri test";
  create.tags = {{"cluster.k8s.amazonaws.com/name", "c1"}, {"node.k8s.amazonaws.com/instance_id", id.instance_id}};
  create.client_token = "clients-test-1";
  NetworkInterface eni = ec2.create_network_interface(create);
  CHECK(eni.status == "available");
  CHECK(ec2.create_network_interface(create).id == eni.id);  // the retried create: same ENI
  auto tagged = ec2.describe_network_interfaces({}, {Filter{"tag:cluster.k8s.amazonaws.com/name", {"c1"}},
                                                     Filter{"status", {"available"}}});
  REQUIRE(tagged.size() == 1);
  CHECK(tagged[0].id == eni.id);
  CHECK(tagged[0].tags == create.tags);

  const std::string attachment = ec2.attach_network_interface(eni.id, id.instance_id, 1);
  ec2.set_delete_on_termination(eni.id, attachment, true);
  CHECK(link_exists(world.node_netns(0), "eth1"));
  auto ips = ec2.assign_private_ips(eni.id, 2);
  CHECK(ips.size() == 2);
  auto prefixes = ec2.assign_ipv4_prefixes(eni.id, 1);
  REQUIRE(prefixes.size() == 1);
  CHECK(prefixes[0].prefix_len == 28);
  auto mine = ec2.describe_network_interfaces({}, {Filter{"attachment.instance-id", {id.instance_id}}});
  REQUIRE(mine.size() == 2);
  const NetworkInterface& described = mine[0].id == eni.id ? mine[0] : mine[1];
  CHECK(described.attachment_id == attachment);
  CHECK(described.device_index == 1);
  CHECK(described.delete_on_termination);
  CHECK(described.private_ips.size() == 3);
  CHECK(described.ipv4_prefixes == prefixes);
  // IMDS now shows the second ENI too.
  auto metadata = clients.imds->enis();
  REQUIRE(metadata.size() == 2);
  CHECK(metadata[1].interface_id == eni.id);
  CHECK(metadata[1].local_ipv4s.size() == 3);
  CHECK(metadata[1].ipv4_prefixes == prefixes);

  CHECK(aws_code_of([&] { ec2.assign_private_ips(eni.id, 3); }) == "PrivateIpAddressLimitExceeded");
  CHECK(aws_code_of([&] { ec2.delete_network_interface(eni.id); }) == "InvalidNetworkInterface.InUse");
  CHECK(aws_code_of([&] { ec2.describe_network_interfaces({"eni-00000000000000000"}); }) ==
        "InvalidNetworkInterfaceID.NotFound");

  // Throttling: two RequestLimitExceeded are retried away; more than max_retries surface.
  world.control({{"throttle_next", 2}, {"reset_calls", true}});
  CHECK(ec2.describe_subnets({world.subnet(0)}).size() == 1);
  CHECK(world.control(json::object()).at("throttled") == 2);
  world.control({{"throttle_next", 10}});
  try {
    ec2.describe_subnets({world.subnet(0)});
    FAIL("throttled call succeeded");
  } catch (const Ec2Error& e) {
    CHECK(e.aws_code() == "RequestLimitExceeded");
    CHECK(e.throttled());
  }
  world.control({{"throttle_next", 0}});
  world.control({{"deny", {"DescribeInstanceTypes"}}});
  CHECK(aws_code_of([&] { ec2.describe_instance_types({"t3.medium"}); }) == "UnauthorizedOperation");
  world.control({{"deny", json::array()}});

  ec2.unassign_private_ips(eni.id, ips);
  ec2.unassign_ipv4_prefixes(eni.id, prefixes);
  ec2.detach_network_interface(attachment, false);
  CHECK_FALSE(link_exists(world.node_netns(0), "eth1"));
  ec2.delete_network_interface(eni.id);
  CHECK(ec2.describe_network_interfaces({}, {Filter{"tag:cluster.k8s.amazonaws.com/name", {"c1"}}}).empty());

  // A wrong secret key is refused by the signature check.
  Clients forged(world, "not-the-secret");
  CHECK(aws_code_of([&] { forged.ec2->describe_subnets({}); }) == "SignatureDoesNotMatch");
}
