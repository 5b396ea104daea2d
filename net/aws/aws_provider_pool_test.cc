// The aws provider driven by the real pool manager (WarmPool::run_once) and datastore, against
// the stateful fake EC2: what a node does when pods come and go.
#include <doctest/doctest.h>

#include "net/aws/aws_provider.h"
#include "net/aws/aws_test_world.h"
#include "net/ipam/datastore.h"
#include "net/ipam/pool_test_support.h"
#include "net/ipam/warm_pool.h"

using namespace vpcri::net::aws;
using namespace vpcri::net::aws::testing;
using namespace vpcri::net::ipam;
using vpcri::net::ipam::testing::manual_pool_config;
using vpcri::net::ipam::testing::no_free_ip_reason;
using std::chrono::seconds;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A node: fake VPC, aws provider, datastore and pool manager on one manual clock.
struct AwsNode {
  AwsWorld world;
  ManualClock clock;
  AwsProvider provider;
  Datastore datastore;
  WarmPool pool;
  int next_pod = 0;

  explicit AwsNode(WarmTargets targets = {})
      : provider(world.ec2, world.imds, world.options()),
        datastore(Datastore::Options{seconds(30), clock.clock()}),
        pool(provider, datastore, pool_config(targets)) {}

  WarmPoolConfig pool_config(WarmTargets targets) { return manual_pool_config(targets, clock); }
  std::string add_pod() { return vpcri::net::ipam::testing::add_pod(datastore, next_pod); }
  std::string exhaustion() { return no_free_ip_reason(datastore); }
};

// Another provider, datastore and pool over an AwsNode's world and clock.
struct PoolOver {
  AwsProvider provider;
  Datastore datastore;
  WarmPool pool;
  PoolOver(AwsNode& node, AwsProviderOptions options, WarmTargets targets)
      : provider(node.world.ec2, node.world.imds, std::move(options)),
        datastore(Datastore::Options{seconds(30), node.clock.clock()}),
        pool(provider, datastore, node.pool_config(targets)) {}
};

}  // namespace

TEST_CASE("pool growth attaches a new ENI at the next device index with the right tags, SGs and subnet") {
  AwsNode node;  // 3 ENIs x 6 IPv4: 5 pod IPs per ENI; WARM_ENI_TARGET=1
  node.pool.run_once();
  CHECK(node.pool.ready());
  CHECK(node.datastore.stats().total == 5);  // the primary ENI filled
  CHECK(node.world.attached_enis() == 1);

  node.add_pod();  // 4 free < a whole ENI's 5
  node.pool.run_once();
  CHECK(node.world.attached_enis() == 2);
  CHECK(node.datastore.stats().enis == 2);
  CHECK(node.datastore.stats().total == 10);
  NetworkInterface added;
  for (const NetworkInterface& e : node.world.ec2.all_enis()) {
    if (e.device_index == 1) added = e;
  }
  REQUIRE_FALSE(added.id.empty());
  CHECK(added.instance_id == kNodeInstance);
  CHECK(added.subnet_id == kNodeSubnet);
  CHECK(added.security_group_ids == std::vector<std::string>{"sg-node"});
  CHECK(added.delete_on_termination);
  CHECK(tag_of(added, kClusterTag) == "c1");
  CHECK(tag_of(added, kInstanceTag) == kNodeInstance);
  CHECK(added.private_ips.size() == 6);  // its primary + 5 for pods, all in EC2
  auto status = node.pool.status();
  REQUIRE(status.node);
  CHECK(status.node->vpc_cidrs.size() == 2);
  CHECK(status.message.empty());
}

TEST_CASE("subnet exhaustion: the clear cause in the pool status and in the no-free-IP error") {
  AwsNode node;
  node.pool.run_once();
  // Someone else takes every remaining address of the subnet.
  node.world.ec2.consume_addresses(kNodeSubnet, int(node.world.ec2.free_addresses(kNodeSubnet)));
  for (int i = 0; i < 5; ++i) node.add_pod();
  node.pool.run_once();
  CHECK(node.world.attached_enis() == 1);  // nothing created, nothing leaked
  std::string status = node.pool.status().message;
  CHECK(has(status, "no free IP for a new ENI: subnet subnet-0a has 0 free addresses; add subnets to "
                    "network.aws.subnets or enable prefix delegation"));
  CHECK(has(status, "insufficient addresses; next attempt in 120 s"));
  std::string reason = node.exhaustion();
  CHECK(has(reason, "no free IP on this node: 5 of 5 in use"));
  CHECK(has(reason, "subnet subnet-0a has 0 free addresses; add subnets to network.aws.subnets"));
  CHECK(node.world.ec2.calls("create_network_interface") == 0);
}

TEST_CASE("throttling: the pool backs off, pods on warm IPs are unaffected, and it recovers") {
  AwsNode node;
  node.pool.run_once();
  node.add_pod();
  node.world.ec2.fail_next("describe_network_interfaces",
                           ec2_error("RequestLimitExceeded", "Request limit exceeded."), 2);
  node.pool.run_once();  // create_eni's device lookup throttled: backoff 1 s
  CHECK(node.world.attached_enis() == 1);
  CHECK(has(node.pool.status().message, "RequestLimitExceeded"));
  CHECK(has(node.pool.status().message, "throttled; next attempt in 1 s"));
  node.add_pod();  // warm IPs still serve pods
  node.pool.run_once();  // still backing off: no call
  // list_enis and the leaked-ENI sweep at start, then the throttled lookup; none while backing off.
  CHECK(node.world.ec2.calls("describe_network_interfaces") == 3);
  node.clock.advance(seconds(1));
  node.pool.run_once();  // throttled again: backoff doubles
  CHECK(has(node.pool.status().message, "next attempt in 2 s"));
  node.clock.advance(seconds(2));
  node.pool.run_once();
  CHECK(node.world.attached_enis() == 2);
  CHECK(node.pool.status().message.empty());
  CHECK(node.datastore.stats().total == 10);
}

TEST_CASE("a failed attach in the pool leaves no ENI behind and the pool retries") {
  AwsNode node;
  node.pool.run_once();
  node.add_pod();
  node.world.ec2.fail_next("attach_network_interface", Ec2Error("InternalError", "boom", 500));
  node.pool.run_once();
  CHECK(node.world.ec2.all_enis().size() == 1);
  CHECK(node.datastore.stats().enis == 1);
  node.clock.advance(seconds(1));
  node.pool.run_once();
  CHECK(node.world.ec2.all_enis().size() == 2);
  CHECK(node.datastore.stats().enis == 2);
}

TEST_CASE("the pool's reconcile sweeps this node's leaked ENIs after the grace period") {
  AwsNode node;
  node.pool.run_once();
  // Leaked by a crash between create and attach, created "now".
  std::string leaked = node.world.ec2.add_detached_eni(
      kNodeSubnet, {{kInstanceTag, kNodeInstance}, {kCreatedAtTag, "2027-01-15T08:00:00Z"}});
  std::string foreign = node.world.ec2.add_detached_eni(
      kNodeSubnet, {{kInstanceTag, "i-0other"}, {kCreatedAtTag, "2020-01-01T00:00:00Z"}});
  node.clock.advance(seconds(60));
  node.pool.run_once();  // reconcile: too young
  CHECK(node.world.ec2.find_eni(leaked));
  node.world.wall += seconds(301);
  node.clock.advance(seconds(60));
  node.pool.run_once();  // not yet: the sweep interval (300 s) since the first sweep has not passed
  node.world.wall += seconds(300);
  node.clock.advance(seconds(60));
  node.pool.run_once();
  CHECK_FALSE(node.world.ec2.find_eni(leaked));
  CHECK(node.world.ec2.find_eni(foreign));
}

TEST_CASE("prefix delegation through the pool: one /28 fills the warm pool; fallback to single IPs") {
  WarmTargets targets;
  targets.warm_ip_target = 8;
  AwsNode node(targets);  // its world; each subcase builds its own provider with prefix delegation on
  AwsProviderOptions options = node.world.options();
  options.prefix_delegation = true;
  SUBCASE("prefixes") {
    PoolOver prefixed(node, options, targets);
    Datastore& datastore = prefixed.datastore;
    WarmPool& pool = prefixed.pool;
    pool.run_once();
    CHECK(datastore.stats().total == 8);
    CHECK(node.world.ec2.find_eni(node.world.primary_eni)->ipv4_prefixes.size() == 1);
    CHECK(node.world.ec2.calls("assign_ipv4_prefixes") == 1);
    for (int i = 0; i < 8; ++i) datastore.allocate("p" + std::to_string(i), "ns", "p");
    pool.run_once();  // 8 more from the same /28, no EC2 assign
    CHECK(datastore.stats().total == 16);
    CHECK(node.world.ec2.calls("assign_ipv4_prefixes") == 1);
  }
  SUBCASE("fragmented subnet") {
    node.world.ec2.set_no_free_prefixes(kNodeSubnet, true);
    PoolOver prefixed(node, options, targets);
    Datastore& datastore = prefixed.datastore;
    WarmPool& pool = prefixed.pool;
    pool.run_once();
    // Single IPs: the primary ENI's 5 slots, then the pool moves on to a new ENI for the other 3.
    CHECK(node.world.ec2.find_eni(node.world.primary_eni)->private_ips.size() == 6);
    CHECK(datastore.stats().total == 8);
    CHECK(datastore.stats().enis == 2);
    CHECK(node.world.attached_enis() == 2);
    CHECK(pool.status().message.empty());
  }
}
