// The seed's picture, on one host: a 3-node VPC (tests/aws/world.py: a fabric netns running the
// fake EC2 + IMDS, and one netns per node with its primary ENI as eth0), one real vpcrid per node
// with `network.provider: aws` talking HTTPS + SigV4 to the fake exactly as to EC2, pods on every
// node. Checks: a pod's IP is a secondary IP of an ENI attached to its node (in the fake's state);
// inside the pod a /32 and a default via 169.254.1.1; on the node a /32 route to the pod's eni
// veth; every pod reaches every pod and node without NAT; a new ENI is attached when the pool
// runs low and its pods are reachable both ways; a throttling storm does not fail pod starts the
// warm pool serves; kill -9 and restart keeps every IP and leaks no ENI, and sweeps a leaked one;
// subnet exhaustion gives the clear error. Observed through each node's /metrics and /v1/pods:
// EC2 calls counted by action as the fake saw them, an injected EC2 error counted under its
// code, and a secondary-ENI pod's routes and rules as the kernel holds them.
// Everything (pods, daemons, netns, the fake) is removed however the test ends.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/aws/aws_world.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/net_checks.h"
#include "tests/integration/pods.h"
#include "tests/integration/scrape.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// vpcrid's config for a node of the world: the aws provider against the fake. Credentials come
// from the instance role through IMDS (no AWS_* variables are set), as on a real node.
std::string aws_config(const AwsWorld& world, const std::string& extra = "") {
  return pods_config_yaml() +
         "network:\n"
         "  provider: aws\n"
         "  mtu: 9001\n"
         "  snat_exclude: [" + std::string(kAwsVpcCidr) + "]\n" + extra +
         "  aws:\n"
         "    region: " + kAwsRegion + "\n"
         "    ec2_endpoint: " + kAwsEc2Endpoint + "\n"
         "    imds_endpoint: " + kAwsImdsEndpoint + "\n"
         "    ca_file: " + world.ca_file() + "\n"
         "    cluster_name: vpcri-cluster-test\n";
}

struct Node {
  int index;
  std::unique_ptr<Daemon> daemon;
  std::vector<std::unique_ptr<Pod>> pods;  // removed before the daemon stops
};

struct PodRef {
  int node;
  std::string ip, netns, id;
};

std::string cmd_out(const std::string& netns, std::vector<std::string> argv) {
  RunResult r = run(in_netns(netns, std::move(argv)));
  return r.out + r.err;
}

void check_pod_picture(const AwsWorld& world, Node& node, const PodRef& pod) {
  INFO("pod " << pod.ip << " on node" << node.index);
  // The fake's state: a secondary IP of an ENI attached (and attached for real) to this node.
  json eni = world.eni_holding(pod.ip);
  REQUIRE_MESSAGE(!eni.is_null(), pod.ip << " is no ENI's secondary IP in EC2");
  CHECK(eni["Attachment"]["InstanceId"] == world.instance_id(node.index));
  CHECK(eni["Attachment"]["Status"] == "attached");
  // Inside the pod: the IP as a /32 on eth0, default via 169.254.1.1.
  CHECK(contains(cmd_out(pod.netns, {kIp, "-4", "-o", "addr", "show", "dev", "eth0"}), pod.ip + "/32"));
  CHECK(contains(cmd_out(pod.netns, {kIp, "route", "show", "default"}), "via 169.254.1.1"));
  // On the node: a /32 route to the pod through its eni veth.
  const std::string route = cmd_out(world.node_netns(node.index), {kIp, "route", "show", pod.ip});
  CHECK_MESSAGE(contains(route, "dev eni"), route);
}

}  // namespace

// One pass (no SUBCASEs: each would bring the whole world up again), the exhaustion last.
TEST_CASE("a 3-node VPC: pods get ENI secondary IPs and reach every pod and node without NAT") {
  AwsWorld world(3);
  std::vector<Node> nodes;
  for (int i = 0; i < 3; ++i) {
    Node n{i, std::make_unique<Daemon>(), {}};
    n.daemon->set_netns(world.node_netns(i));
    n.daemon->set_config(aws_config(world));
    nodes.push_back(std::move(n));
  }
  for (auto& n : nodes) {
    n.daemon->start();
    REQUIRE_MESSAGE(wait_network_ready(*n.daemon, 30s), network_condition(*n.daemon).message());
  }

  {  // every node described itself through EC2 at start, each call timed
    for (int i = 0; i < 3; ++i) {
      Scrape m = scrape(world.node_netns(i));
      const double described = m.at("vpcri_ec2_api_calls_total{action=\"DescribeInstances\"}");
      CHECK(described >= 1);
      CHECK(m.at("vpcri_ec2_api_call_duration_seconds_count{action=\"DescribeInstances\"}") == described);
    }
  }

  std::vector<PodRef> pods;
  auto add_pod = [&](int node, const std::string& name) {
    Node& n = nodes[node];
    n.pods.push_back(std::make_unique<Pod>(*n.daemon, pod_config(name)));
    const std::string& id = n.pods.back()->id();
    pods.push_back({node, pod_ip(*n.daemon, id), pod_netns(*n.daemon, id), id});
    return pods.back();
  };
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 2; ++k) add_pod(i, "p" + std::to_string(i) + "-" + std::to_string(k));
  }
  std::set<std::string> ips;
  for (const auto& p : pods) ips.insert(p.ip);
  CHECK(ips.size() == pods.size());

  {  // each pod's IP is an ENI secondary IP of its node; /32 in the pod, /32 route on the node
    for (const auto& p : pods) check_pod_picture(world, nodes[p.node], p);
  }

  {  // every pod reaches every pod and node, and is reached by every node
    for (const auto& from : pods) {
      for (const auto& to : pods) {
        if (&from != &to) CHECK(ping(from.netns, to.ip));
      }
      for (int i = 0; i < 3; ++i) {
        CHECK(ping(from.netns, world.node_ip(i)));
        CHECK(ping(world.node_netns(i), from.ip));
      }
    }
  }

  {  // pod to pod across nodes keeps the sender's pod IP (no NAT), both ways
    for (size_t i = 0; i < pods.size(); ++i) {
      const PodRef& from = pods[i];
      const PodRef& to = pods[(i + 2) % pods.size()];  // a pod on the next node
      REQUIRE(from.node != to.node);
      TcpServer server(to.netns, 8080);
      CHECK(contains(nc_send(from.netns, to.ip, 8080), "hello-vpcri"));
      CHECK(server.peer() == from.ip);
    }
  }

  {  // traceroute from a pod to a pod on another node: source node, then target node, then the pod
    const PodRef& from = pods[0];
    const PodRef& to = pods[2];
    const std::string trace = cmd_out(from.netns, {kBusybox, "traceroute", "-n", "-q", "1", "-w", "2", to.ip});
    INFO(trace);
    const size_t a = trace.find(world.node_ip(from.node)), b = trace.find(world.node_ip(to.node));
    CHECK(a != std::string::npos);
    CHECK(b != std::string::npos);
    CHECK(a < b);
    CHECK(trace.rfind(to.ip) > b);
  }

  {  // a new ENI is attached when the pool runs low; its pods are reached both ways
    // t3.medium: 6 IPv4 per ENI, so eth0 holds at most 5 pod IPs.
    for (int k = 0; k < 5; ++k) add_pod(0, "more-" + std::to_string(k));
    std::vector<json> enis;
    for (int i = 0; i < 100 && (enis = world.enis_of(0)).size() < 2; ++i) std::this_thread::sleep_for(100ms);
    REQUIRE(enis.size() >= 2);
    // Every secondary ENI of node0 was created and attached by node0's vpcrid: its counters
    // hold at least those calls (read after the ENIs, and a call is counted before it is sent).
    // The fake saw at least every call the three vpcrids counted (it also counts retries).
    std::map<std::string, double> counted;  // action -> summed over the nodes
    for (int i = 0; i < 3; ++i) {
      const Scrape m = scrape(world.node_netns(i));
      for (const char* action : {"CreateNetworkInterface", "AttachNetworkInterface"}) {
        const double n = m.get(std::string("vpcri_ec2_api_calls_total{action=\"") + action + "\"}");
        if (i == 0) CHECK(n >= static_cast<double>(enis.size() - 1));
        counted[action] += n;
      }
    }
    for (const auto& entry : counted) {
      const std::string action = entry.first;
      const double n = entry.second;
      CAPTURE(action);
      auto seen = [&] { return world.control(json::object()).at("calls").value(action, 0.0); };
      double by_fake = seen();
      for (int i = 0; i < 50 && by_fake < n; ++i) {  // a counted call may still be on its way
        std::this_thread::sleep_for(100ms);
        by_fake = seen();
      }
      CHECK(by_fake >= n);
    }
    const PodRef* on_secondary = nullptr;
    for (const auto& p : pods) {
      json eni = world.eni_holding(p.ip);
      if (p.node == 0 && !eni.is_null() && eni["Attachment"]["DeviceIndex"].get<int>() >= 1) on_secondary = &p;
    }
    REQUIRE_MESSAGE(on_secondary != nullptr, "no pod of node0 holds an IP of a secondary ENI");
    check_pod_picture(world, nodes[0], *on_secondary);
    {  // /v1/pods: the kernel's routes and rules for it, as the datapath made them (datapath.h)
      const int table = world.eni_holding(on_secondary->ip)["Attachment"]["DeviceIndex"].get<int>() + 1;
      const std::string host = on_secondary->ip + "/32";
      json view;
      for (const auto& p : introspect(world.node_netns(0), "/v1/pods")) {
        if (p["id"] == on_secondary->id) view = p;
      }
      REQUIRE(view.is_object());
      INFO(view.dump());
      CHECK(view.at("route_table") == table);
      CHECK(view.at("routes") ==
            json::array({{{"destination", host}, {"device", view.at("host_veth")}, {"table", "main"}}}));
      const json rules = view.at("rules");
      CHECK(rules.size() == 2);
      CHECK(std::count(rules.begin(), rules.end(),
                       json{{"priority", 512}, {"selector", "to " + host}, {"table", "main"}}) == 1);
      CHECK(std::count(rules.begin(), rules.end(),
                       json{{"priority", 1536}, {"selector", "from " + host}, {"table", std::to_string(table)}}) == 1);
      CHECK(view.at("drift") == json::array());
    }
    const PodRef& remote = pods[2];  // on node1
    CHECK(ping(on_secondary->netns, remote.ip));
    CHECK(ping(remote.netns, on_secondary->ip));
    CHECK(ping(world.node_netns(2), on_secondary->ip));
    TcpServer server(remote.netns, 8081);
    CHECK(contains(nc_send(on_secondary->netns, remote.ip, 8081), "hello-vpcri"));
    CHECK(server.peer() == on_secondary->ip);
  }

  {  // a throttling storm: every EC2 call answers RequestLimitExceeded, pod starts from the warm pool still work
    world.control({{"throttle_fraction", 1.0}});
    add_pod(2, "storm-0");
    add_pod(2, "storm-1");
    world.control({{"throttle_fraction", 0}});
    check_pod_picture(world, nodes[2], pods.back());
    CHECK(ping(pods.back().netns, pods[0].ip));
  }

  {  // kill -9 of node1's vpcrid and a restart: every pod keeps its IP, no ENI leaks; a leaked ENI is swept
    // An ENI that an earlier crash of node1 "leaked": created and tagged for it, never attached, old.
    auto tag = [](const std::string& key, const std::string& value) { return json{{"Key", key}, {"Value", value}}; };
    json leaked = world.control({{"create_network_interface",
                                  {{"SubnetId", world.subnet(0)},
                                   {"TagSpecifications", json::array({{{"ResourceType", "network-interface"},
                                                                       {"Tags", json::array({
                                       tag("cluster.k8s.amazonaws.com/name", "vpcri-cluster-test"),
                                       tag("node.k8s.amazonaws.com/instance_id", world.instance_id(1)),
                                       tag("node.k8s.amazonaws.com/createdAt", "2026-01-01T00:00:00Z")})}}})}}}})
                        .at("network_interface");
    const std::string leaked_id = leaked.at("NetworkInterfaceId");
    const size_t enis_before = world.enis_of(1).size();
    std::vector<std::pair<std::string, std::string>> ips_before;  // pod id, IP
    for (const auto& p : nodes[1].pods) ips_before.emplace_back(p->id(), pod_ip(*nodes[1].daemon, p->id()));
    nodes[1].daemon->kill9();
    // An EC2 error injected for the restart: DescribeInstanceTypes refused (vpcrid falls back to
    // its built-in limits), counted under the code the fake answered with.
    world.control({{"deny", {"DescribeInstanceTypes"}}});
    nodes[1].daemon->start();
    REQUIRE_MESSAGE(wait_network_ready(*nodes[1].daemon, 30s), network_condition(*nodes[1].daemon).message());
    {
      const Scrape m = scrape(world.node_netns(1));
      world.control({{"deny", json::array()}});
      const double denied =
          m.at("vpcri_ec2_api_errors_total{action=\"DescribeInstanceTypes\",code=\"UnauthorizedOperation\"}");
      CHECK(denied >= 1);
      CHECK(m.at("vpcri_ec2_api_calls_total{action=\"DescribeInstanceTypes\"}") == denied);
      CHECK(m.sum("vpcri_ec2_api_errors_total{action=\"DescribeInstances\"") == 0);
    }
    for (const auto& [id, ip] : ips_before) CHECK(pod_ip(*nodes[1].daemon, id) == ip);
    CHECK(world.enis_of(1).size() == enis_before);
    auto exists = [&] {
      const json dump = world.state();
      for (const auto& eni : dump.at("network_interfaces")) {
        if (eni.at("NetworkInterfaceId") == leaked_id) return true;
      }
      return false;
    };
    for (int i = 0; i < 100 && exists(); ++i) std::this_thread::sleep_for(100ms);
    CHECK_MESSAGE(!exists(), "the leaked ENI " << leaked_id << " is still there");
    for (const auto& [id, ip] : ips_before) CHECK(ping(pods[0].netns, ip));
  }

  {  // subnet exhaustion: RunPodSandbox fails naming the cause and the subnet
    world.control({{"fill_subnet", world.subnet(0)}, {"leave", 0}});
    struct Started {  // pods that still got an IP; removed however the check ends
      Daemon& d;
      std::vector<std::string> ids;
      ~Started() {
        for (const auto& id : ids) {
          stop_pod(d, id);
          remove_pod(d, id);
        }
      }
    } started{*nodes[2].daemon, {}};
    grpc::Status failed;
    // A pod asked for while the pool manager is still adding addresses is told to retry shortly
    // (faster pod starts outrun it); kubelet retries, and so does this loop until the answer says
    // why no address can come.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int k = 0; k < 40 && failed.ok();) {
      std::string id;
      failed = run_pod(*nodes[2].daemon, pod_config("fill-" + std::to_string(k)), &id);
      if (failed.ok()) {
        started.ids.push_back(id);
        ++k;
      } else if (contains(failed.error_message(), "is adding addresses") && std::chrono::steady_clock::now() < deadline) {
        failed = grpc::Status::OK;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    world.control({{"free_subnet", world.subnet(0)}});
    REQUIRE_FALSE(failed.ok());
    CHECK_MESSAGE(contains(failed.error_message(), "no free IP"), failed.error_message());
    CHECK_MESSAGE(contains(failed.error_message(), world.subnet(0)), failed.error_message());

  }
}
