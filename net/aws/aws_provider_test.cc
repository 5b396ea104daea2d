#include "net/aws/aws_provider.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "net/aws/aws_test_world.h"

using namespace vpcri::net::aws;
using namespace vpcri::net::aws::testing;
using vpcri::net::Cidr;
using vpcri::net::IpAddress;
using vpcri::net::ipam::EniInfo;
using vpcri::net::ipam::NodeInfo;
using vpcri::net::ipam::ProviderErrc;
using vpcri::net::ipam::ProviderError;

namespace {

// Runs fn, returns the ProviderError it throws (fails the test if it does not throw one).
template <typename Fn>
ProviderError provider_failure(Fn&& fn) {
  try {
    fn();
  } catch (const ProviderError& e) {
    return e;
  }
  FAIL("expected a ProviderError");
  return ProviderError(ProviderErrc::other, "");
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("describe_node: identity from IMDS, limits from DescribeInstanceTypes, primary ENI from EC2") {
  AwsWorld world("x9.test", 4, 7);  // a type the built-in table does not know: the numbers can only come from EC2
  AwsProvider provider(world.ec2, world.imds, world.options());
  NodeInfo node = provider.describe_node();
  CHECK(node.instance_id == kNodeInstance);
  CHECK(node.instance_type == "x9.test");
  CHECK(node.max_enis == 4);
  CHECK(node.ips_per_eni == 7);
  CHECK(node.primary_eni_id == world.primary_eni);
  CHECK(node.subnet_id == kNodeSubnet);
  CHECK(node.subnet_cidr.to_string() == "10.0.1.0/24");
  CHECK(node.primary_ip.to_string() == "10.0.1.4");  // the first address AWS does not reserve
  REQUIRE(node.vpc_cidrs.size() == 2);
  CHECK(node.vpc_cidrs[1].to_string() == "100.64.0.0/16");
  CHECK(world.ec2.calls("describe_instance_types") == 1);
}

TEST_CASE("describe_node without ec2:DescribeInstanceTypes falls back to the built-in table") {
  AwsWorld world("m5.large", 9, 99);  // EC2 would say 9 x 99; the table says 3 x 10
  world.ec2.deny("describe_instance_types");
  AwsProvider provider(world.ec2, world.imds, world.options());
  NodeInfo node = provider.describe_node();
  CHECK(node.max_enis == 3);
  CHECK(node.ips_per_eni == 10);

  SUBCASE("a type the table does not know is a clear error naming the permission") {
    AwsWorld unknown("x9.test", 4, 7);
    unknown.ec2.deny("describe_instance_types");
    AwsProvider p(unknown.ec2, unknown.imds, unknown.options());
    ProviderError e = provider_failure([&] { p.describe_node(); });
    CHECK(e.kind() == ProviderErrc::other);
    CHECK(has(e.what(), "instance type x9.test"));
    CHECK(has(e.what(), "grant ec2:DescribeInstanceTypes"));
  }
}

TEST_CASE("describe_node: a denied DescribeInstances names the missing IAM action") {
  AwsWorld world;
  world.ec2.deny("describe_instance");
  AwsProvider provider(world.ec2, world.imds, world.options());
  ProviderError e = provider_failure([&] { provider.describe_node(); });
  CHECK(e.kind() == ProviderErrc::other);
  CHECK(has(e.what(), "UnauthorizedOperation"));
  CHECK(has(e.what(), "lacks ec2:DescribeInstances"));
}

TEST_CASE("create_eni: node's subnet and security groups, tags, next device index, DeleteOnTermination") {
  AwsWorld world;
  AwsProvider provider(world.ec2, world.imds, world.options());
  provider.describe_node();
  EniInfo first = provider.create_eni();
  CHECK(first.device_number == 1);
  CHECK(first.subnet_id == kNodeSubnet);
  CHECK(first.subnet_cidr.to_string() == "10.0.1.0/24");
  CHECK(first.secondary_ips.empty());
  auto eni = world.ec2.find_eni(first.id);
  REQUIRE(eni);
  CHECK(first.mac == eni->mac_address);
  CHECK(first.primary_ip == eni->private_ips.front().address);
  CHECK(eni->instance_id == kNodeInstance);
  CHECK(eni->device_index == 1);
  CHECK(eni->delete_on_termination);
  CHECK(eni->security_group_ids == std::vector<std::string>{"sg-node"});
  CHECK(tag_of(*eni, kClusterTag) == "c1");
  CHECK(tag_of(*eni, kInstanceTag) == kNodeInstance);
  CHECK(tag_of(*eni, kCreatedAtTag) == "2027-01-15T08:00:00Z");  // the injected wall time, RFC 3339
  CHECK(has(eni->description, kNodeInstance));

  EniInfo second = provider.create_eni();
  CHECK(second.device_number == 2);
  auto requests = world.ec2.create_requests();
  REQUIRE(requests.size() == 2);
  CHECK_FALSE(requests[0].client_token.empty());
  CHECK(requests[0].client_token != requests[1].client_token);

  // 3 ENIs is the type's limit: refused before any create, so nothing is left behind.
  ProviderError e = provider_failure([&] { provider.create_eni(); });
  CHECK(e.kind() == ProviderErrc::eni_limit_reached);
  CHECK(has(e.what(), "has all 3 ENIs"));
  CHECK(world.ec2.calls("create_network_interface") == 2);

  // A device index freed in the middle is reused first.
  provider.delete_eni(first.id);
  CHECK(provider.create_eni().device_number == 1);
}

TEST_CASE("create_eni: configured subnets (the one with most free addresses) and security groups") {
  AwsWorld world;
  world.ec2.add_subnet("subnet-0b", "10.0.2.0/24");
  world.ec2.add_subnet("subnet-0c", "10.0.3.0/24");
  world.ec2.consume_addresses("subnet-0b", 100);
  AwsProviderOptions options = world.options();
  options.subnets = {"subnet-0b", "subnet-0c"};
  options.security_groups = {"sg-pods", "sg-extra"};
  AwsProvider provider(world.ec2, world.imds, options);
  provider.describe_node();
  EniInfo eni = provider.create_eni();
  CHECK(eni.subnet_id == "subnet-0c");
  CHECK(eni.subnet_cidr.to_string() == "10.0.3.0/24");
  CHECK(world.ec2.find_eni(eni.id)->security_group_ids == std::vector<std::string>{"sg-pods", "sg-extra"});

  SUBCASE("all configured subnets full: the message names them and the fix") {
    world.ec2.consume_addresses("subnet-0b", int(world.ec2.free_addresses("subnet-0b")));
    world.ec2.consume_addresses("subnet-0c", int(world.ec2.free_addresses("subnet-0c")));
    ProviderError e = provider_failure([&] { provider.create_eni(); });
    CHECK(e.kind() == ProviderErrc::insufficient_addresses);
    CHECK(has(e.what(), "subnet subnet-0b has 0, subnet-0c has 0 free addresses"));
    CHECK(has(e.what(), "add subnets to network.aws.subnets or enable prefix delegation"));
    CHECK(world.ec2.calls("create_network_interface") == 1);
  }
}

TEST_CASE("create_eni: a failed attach deletes the new ENI, no leak") {
  AwsWorld world;
  AwsProvider provider(world.ec2, world.imds, world.options());
  provider.describe_node();
  long free_before = world.ec2.free_addresses(kNodeSubnet);
  size_t enis_before = world.ec2.all_enis().size();

  SUBCASE("attach refused") {
    world.ec2.fail_next("attach_network_interface", ec2_error("AttachmentLimitExceeded", "limit"));
    ProviderError e = provider_failure([&] { provider.create_eni(); });
    CHECK(e.kind() == ProviderErrc::eni_limit_reached);
    CHECK(has(e.what(), "AttachNetworkInterface"));
    CHECK(world.ec2.calls("delete_network_interface") == 1);
  }
  SUBCASE("DeleteOnTermination refused after the attach: detached and deleted") {
    world.ec2.set_detach_delay(2);
    world.ec2.deny("set_delete_on_termination");
    ProviderError e = provider_failure([&] { provider.create_eni(); });
    CHECK(has(e.what(), "lacks ec2:ModifyNetworkInterfaceAttribute"));
    CHECK(world.ec2.calls("detach_network_interface") == 1);
    CHECK(world.ec2.calls("delete_network_interface") == 1);
  }
  CHECK(world.ec2.all_enis().size() == enis_before);
  CHECK(world.ec2.free_addresses(kNodeSubnet) == free_before);
  CHECK(world.attached_enis() == 1);
}

TEST_CASE("delete_eni: detach, wait until available (bounded), delete") {
  AwsWorld world;
  AwsProviderOptions options = world.options();
  options.detach_timeout = std::chrono::milliseconds(2000);
  options.detach_poll_interval = std::chrono::milliseconds(500);
  AwsProvider provider(world.ec2, world.imds, options);
  provider.describe_node();
  EniInfo eni = provider.create_eni();
  provider.assign_ips(eni.id, 3);

  SUBCASE("the detach completes after a few polls") {
    world.ec2.set_detach_delay(3);
    provider.delete_eni(eni.id);
    CHECK_FALSE(world.ec2.find_eni(eni.id));
    CHECK(world.slept == std::chrono::milliseconds(1000));  // available at the third look, two sleeps
    CHECK(world.ec2.free_addresses(kNodeSubnet) == 251 - 1);  // only the node's primary IP is left in use
  }
  SUBCASE("a detach that never completes fails with the reason, the ENI stays for the sweep") {
    world.ec2.set_detach_delay(1000);
    ProviderError e = provider_failure([&] { provider.delete_eni(eni.id); });
    CHECK(has(e.what(), "still in-use 2 s after its detach"));
    CHECK(world.ec2.find_eni(eni.id));
    CHECK(world.slept == std::chrono::milliseconds(2000));
  }
  SUBCASE("an ENI already gone is deleted") {
    world.ec2.set_detach_delay(0);
    provider.delete_eni(eni.id);
    CHECK_NOTHROW(provider.delete_eni(eni.id));
  }
  SUBCASE("the primary ENI is never deleted") {
    ProviderError e = provider_failure([&] { provider.delete_eni(world.primary_eni); });
    CHECK(has(e.what(), "primary ENI"));
    CHECK(world.ec2.calls("detach_network_interface") == 0);
  }
}

TEST_CASE("list_enis: EC2 is the truth (metadata lags), with MACs, devices and secondary IPs") {
  AwsWorld world;
  AwsProvider provider(world.ec2, world.imds, world.options());
  provider.describe_node();
  world.ec2.assign_private_ips(world.primary_eni, 2);
  EniInfo created = provider.create_eni();
  std::vector<IpAddress> ips = provider.assign_ips(created.id, 4);
  CHECK(ips.size() == 4);
  // IMDS still shows only the primary ENI.
  REQUIRE(world.imds.enis_value.size() == 1);

  std::vector<EniInfo> enis = provider.list_enis();
  REQUIRE(enis.size() == 2);
  CHECK(enis[0].id == world.primary_eni);
  CHECK(enis[0].device_number == 0);
  CHECK(enis[0].secondary_ips.size() == 2);
  CHECK(enis[1].id == created.id);
  CHECK(enis[1].mac == created.mac);
  CHECK(enis[1].secondary_ips == ips);
  CHECK(std::find(enis[1].secondary_ips.begin(), enis[1].secondary_ips.end(), enis[1].primary_ip) ==
        enis[1].secondary_ips.end());

  // A detaching ENI is not offered to the pool.
  world.ec2.set_detach_delay(5);
  world.ec2.detach_network_interface(world.ec2.find_eni(created.id)->attachment_id, false);
  CHECK(provider.list_enis().size() == 1);
}

TEST_CASE("assign_ips: errors carry the cause and the fix") {
  AwsWorld world;
  AwsProvider provider(world.ec2, world.imds, world.options());
  provider.describe_node();

  SUBCASE("throttled") {
    world.ec2.fail_next("assign_private_ips", ec2_error("RequestLimitExceeded", "Request limit exceeded."));
    ProviderError e = provider_failure([&] { provider.assign_ips(world.primary_eni, 2); });
    CHECK(e.kind() == ProviderErrc::throttled);
    CHECK(has(e.what(), "ec2_requests_per_second"));
  }
  SUBCASE("subnet exhausted: the subnet, its free count and the fix") {
    world.ec2.consume_addresses(kNodeSubnet, int(world.ec2.free_addresses(kNodeSubnet)));
    ProviderError e = provider_failure([&] { provider.assign_ips(world.primary_eni, 2); });
    CHECK(e.kind() == ProviderErrc::insufficient_addresses);
    CHECK(has(e.what(), "no free IP: subnet subnet-0a has 0 free addresses; add subnets to network.aws.subnets "
                        "or enable prefix delegation"));
    CHECK(has(e.what(), "InsufficientFreeAddressesInSubnet"));
  }
  SUBCASE("the ENI is full") {
    ProviderError e = provider_failure([&] { provider.assign_ips(world.primary_eni, 6); });  // 1 + 6 > 6
    CHECK(e.kind() == ProviderErrc::eni_limit_reached);
    CHECK(has(e.what(), "PrivateIpAddressLimitExceeded"));
  }
}

TEST_CASE("prefix delegation: /28s handed out by count, the rest parked, a prefix returned only whole") {
  AwsWorld world;
  AwsProviderOptions options = world.options();
  options.prefix_delegation = true;
  AwsProvider provider(world.ec2, world.imds, options);
  NodeInfo node = provider.describe_node();
  CHECK(provider.prefix_delegation());
  CHECK(node.ips_per_eni == 5 * 16 + 1);  // 5 slots of the 6 hold a /28 each

  std::vector<IpAddress> first = provider.assign_ips(world.primary_eni, 5);
  CHECK(first.size() == 5);
  auto eni = *world.ec2.find_eni(world.primary_eni);
  REQUIRE(eni.ipv4_prefixes.size() == 1);
  Cidr prefix = eni.ipv4_prefixes.front();
  CHECK(prefix.prefix_len == 28);
  for (const IpAddress& ip : first) CHECK(prefix.contains(ip));
  CHECK(provider.list_enis()[0].secondary_ips == first);  // the 11 parked ones are not the pool's

  std::vector<IpAddress> rest = provider.assign_ips(world.primary_eni, 11);  // from the parked addresses
  CHECK(rest.size() == 11);
  CHECK(world.ec2.calls("assign_ipv4_prefixes") == 1);
  CHECK(provider.list_enis()[0].secondary_ips.size() == 16);

  std::vector<IpAddress> all = first;
  all.insert(all.end(), rest.begin(), rest.end());
  provider.unassign_ips(world.primary_eni, std::vector<IpAddress>(all.begin(), all.end() - 1));
  CHECK(world.ec2.calls("unassign_ipv4_prefixes") == 0);  // one address still in use
  CHECK(world.ec2.find_eni(world.primary_eni)->ipv4_prefixes.size() == 1);
  CHECK(provider.list_enis()[0].secondary_ips == std::vector<IpAddress>{all.back()});
  provider.unassign_ips(world.primary_eni, {all.back()});
  CHECK(world.ec2.find_eni(world.primary_eni)->ipv4_prefixes.empty());
  CHECK(provider.list_enis()[0].secondary_ips.empty());

  SUBCASE("no free /28 in the subnet: single IPs instead") {
    world.ec2.set_no_free_prefixes(kNodeSubnet, true);
    std::vector<IpAddress> singles = provider.assign_ips(world.primary_eni, 3);
    CHECK(singles.size() == 3);
    eni = *world.ec2.find_eni(world.primary_eni);
    CHECK(eni.ipv4_prefixes.empty());
    CHECK(eni.private_ips.size() == 4);
    provider.unassign_ips(world.primary_eni, singles);
    CHECK(world.ec2.find_eni(world.primary_eni)->private_ips.size() == 1);
  }
  SUBCASE("a non-nitro type ignores prefix delegation") {
    AwsWorld xen("t2.medium", 3, 6);
    xen.ec2.add_instance_type({"t2.medium", 3, 6, false});
    AwsProvider p(xen.ec2, xen.imds, options);
    CHECK(p.describe_node().ips_per_eni == 6);
    CHECK_FALSE(p.prefix_delegation());
  }
}

TEST_CASE("sweep_leaked deletes only this node's old detached ENIs, at most once per interval") {
  AwsWorld world;
  AwsProviderOptions options = world.options();
  options.leaked_eni_grace = std::chrono::seconds(300);
  options.sweep_interval = std::chrono::seconds(600);
  AwsProvider provider(world.ec2, world.imds, options);
  provider.describe_node();
  auto stamp = [&](int seconds_ago) {
    auto t = world.wall - std::chrono::seconds(seconds_ago);
    std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf);
  };
  std::string mine_old = world.ec2.add_detached_eni(kNodeSubnet, {{kInstanceTag, kNodeInstance}, {kCreatedAtTag, stamp(600)}});
  std::string mine_young = world.ec2.add_detached_eni(kNodeSubnet, {{kInstanceTag, kNodeInstance}, {kCreatedAtTag, stamp(60)}});
  std::string other_node = world.ec2.add_detached_eni(kNodeSubnet, {{kInstanceTag, "i-0other"}, {kCreatedAtTag, stamp(9000)}});
  std::string untagged = world.ec2.add_detached_eni(kNodeSubnet, {});
  std::string no_time = world.ec2.add_detached_eni(kNodeSubnet, {{kInstanceTag, kNodeInstance}});
  // One of ours, old, but attached (in use): never touched.
  world.wall -= std::chrono::seconds(3600);
  EniInfo attached = provider.create_eni();
  world.wall += std::chrono::seconds(3600);

  CHECK(provider.sweep_leaked() == 1);
  CHECK_FALSE(world.ec2.find_eni(mine_old));
  for (const std::string& id : {mine_young, other_node, untagged, no_time, attached.id}) {
    CHECK(world.ec2.find_eni(id));
  }

  world.wall += std::chrono::seconds(300);  // mine_young is old enough now, but the interval has not passed
  CHECK(provider.sweep_leaked() == 0);
  CHECK(world.ec2.find_eni(mine_young));
  world.wall += std::chrono::seconds(300);
  CHECK(provider.sweep_leaked() == 1);
  CHECK_FALSE(world.ec2.find_eni(mine_young));
}
