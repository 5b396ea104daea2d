// Pod stats kubelet takes from the runtime (PodSandboxStats, ListPodSandboxStats) with the real vpcrid inside a test node
// namespace (NodeNet): traffic pinged at a pod from the node must show in the pod's counters.
#include <doctest/doctest.h>


#include <map>
#include <string>

#include "tests/integration/daemon_fixture.h"
#include "tests/integration/net_checks.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;

namespace {

v1::PodSandboxStats pod_stats(Daemon& d, const std::string& id) {
  v1::PodSandboxStatsRequest req;
  req.set_pod_sandbox_id(id);
  v1::PodSandboxStatsResponse resp;
  auto s = d.runtime().PodSandboxStats(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.stats();
}

std::map<std::string, v1::PodSandboxStats> list_pod_stats(Daemon& d) {
  v1::ListPodSandboxStatsRequest req;
  v1::ListPodSandboxStatsResponse resp;
  auto s = d.runtime().ListPodSandboxStats(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  std::map<std::string, v1::PodSandboxStats> out;
  for (const auto& st : resp.stats()) out[st.attributes().id()] = st;
  return out;
}

// 20 pings of 1000 bytes from the node to the pod: 20 KB each way through the pod's eth0.
void send_traffic(const NodeNet& node, const std::string& ip) {
  run_ok(in_netns(node.node_path(), {kBusybox, "ping", "-c", "20", "-i", "0.05", "-s", "1000", "-W", "3", ip}));
}

struct Node {
  NodeNet net;
  Daemon d;
  Node() {
    d.set_netns(net.node_path());
    d.set_config(pods_config_yaml() + "network:\n  node_range: 10.99.0.0/24\n  mtu: 1500\n");
    d.start();
    REQUIRE_MESSAGE(wait_network_ready(d), network_condition(d).message());
  }
};

}  // namespace

TEST_CASE("a pod's network stats come from its own namespace and grow with the traffic sent to it") {
  Node node;
  Pod pod(node.d, pod_config("netstats"));
  const std::string ip = pod_ip(node.d, pod.id());

  const v1::PodSandboxStats before = pod_stats(node.d, pod.id());
  REQUIRE(before.linux().has_network());
  const auto& net_before = before.linux().network();
  CHECK(net_before.timestamp() > 0);
  CHECK(net_before.default_interface().name() == "eth0");
  for (const auto& other : net_before.interfaces()) CHECK(other.name() != "lo");  // loopback is not the pod's traffic

  send_traffic(node.net, ip);
  const v1::PodSandboxStats after = pod_stats(node.d, pod.id());
  const auto& eth0 = after.linux().network().default_interface();
  const auto& eth0_before = net_before.default_interface();
  CHECK(after.linux().network().timestamp() > net_before.timestamp());
  CHECK(eth0.rx_bytes().value() >= eth0_before.rx_bytes().value() + 20 * 1000);
  CHECK(eth0.tx_bytes().value() >= eth0_before.tx_bytes().value() + 20 * 1000);
  CHECK(eth0.rx_errors().value() == 0);
  CHECK(eth0.tx_errors().value() == 0);

  // ListPodSandboxStats reports the same counters (nothing else talks to the pod meanwhile).
  auto listed = list_pod_stats(node.d);
  REQUIRE(listed.contains(pod.id()));
  const auto& listed_eth0 = listed[pod.id()].linux().network().default_interface();
  CHECK(listed_eth0.name() == "eth0");
  CHECK(listed_eth0.rx_bytes().value() >= eth0.rx_bytes().value());
  CHECK(listed_eth0.rx_bytes().value() < eth0.rx_bytes().value() + 1000);

  // A second pod is counted apart: none of that traffic went through its namespace.
  Pod quiet(node.d, pod_config("netstats-quiet"));
  CHECK(pod_stats(node.d, quiet.id()).linux().network().default_interface().rx_bytes().value() < 20 * 1000);

  // A stopped pod has no namespace any more: stats without a network section, not an error.
  REQUIRE(stop_pod(node.d, quiet.id()).ok());
  CHECK_FALSE(pod_stats(node.d, quiet.id()).linux().has_network());
}
