// Pod networking through the CRI against the real vpcrid, run inside a "node" network namespace
// made here, whose primary interface up0 is a veth to an "outside" namespace (as in
// net/pod_network_test.cc). All traffic stays inside these namespaces; they are deleted at the
// end, pods first, also when a check fails.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/integration/daemon_fixture.h"
#include "tests/integration/net_checks.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string network_config(const std::string& network_yaml) {
  return pods_config_yaml() + "network:\n" + network_yaml;
}

void stop_and_remove_container(Daemon& d, const std::string& id) {
  v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(0);
  v1::StopContainerResponse stopped;
  auto s = d.runtime().StopContainer(context(60s).get(), stop, &stopped);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  v1::RemoveContainerRequest rm;
  rm.set_container_id(id);
  v1::RemoveContainerResponse removed;
  s = d.runtime().RemoveContainer(context(60s).get(), rm, &removed);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
}

v1::ExecSyncResponse exec(Daemon& d, const std::string& id, const std::string& script) {
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  req.add_cmd("/bin/sh");
  req.add_cmd("-c");
  req.add_cmd(script);
  req.set_timeout(20);
  v1::ExecSyncResponse resp;
  auto s = d.runtime().ExecSync(context(30s).get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp;
}

}  // namespace

TEST_CASE("pods on a node: IPs, reachability without NAT, localhost, container restart, host ports, teardown") {
  NodeNet node;
  Daemon d;
  d.set_netns(node.node_path());
  d.set_config(network_config("  node_range: 10.99.0.0/24\n  snat_exclude: [10.0.0.0/8]\n  mtu: 1500\n"));
  d.start();
  REQUIRE_MESSAGE(wait_network_ready(d), network_condition(d).message());

  auto web_config = pod_config("web");
  auto* hp = web_config.add_port_mappings();
  hp->set_protocol(v1::TCP);
  hp->set_container_port(8080);
  hp->set_host_port(18080);
  Pod web(d, web_config);
  Pod client(d, pod_config("client"));
  const std::string web_ip = pod_ip(d, web.id()), client_ip = pod_ip(d, client.id());
  CHECK(contains(web_ip, "10.99.0."));
  CHECK(contains(client_ip, "10.99.0."));
  CHECK(web_ip != client_ip);
  const std::string web_ns = pod_netns(d, web.id()), client_ns = pod_netns(d, client.id());

  SUBCASE("reachability") {
    CHECK(ping(web_ns, client_ip));
    CHECK(ping(client_ns, web_ip));
    CHECK(ping(web_ns, kNodeIp));
    CHECK(ping(node.node_path(), web_ip));
    // TCP between pods keeps the sender's pod IP as the source (no NAT).
    TcpServer server(web_ns, 8080);
    CHECK(contains(nc_send(client_ns, web_ip, 8080), "hello-vpcri"));
    CHECK(server.peer() == client_ip);
  }

  SUBCASE("host port reachable from outside the node") {
    TcpServer server(web_ns, 8080);
    CHECK(contains(nc_send(node.outside_path(), kNodeIp, 18080), "hello-vpcri"));
    CHECK(server.peer() == kOutsideIp);
  }

  SUBCASE("host port at 127.0.0.1 and at the node IP from the node itself; gone with the pod") {
    {
      TcpServer server(web_ns, 8080);
      CHECK(contains(nc_send(node.node_path(), "127.0.0.1", 18080), "hello-vpcri"));
      CHECK(server.peer() == kNodeIp);  // a pod cannot answer 127.0.0.1: the node IP is the source
    }
    {
      TcpServer server(web_ns, 8080);
      CHECK(contains(nc_send(node.node_path(), kNodeIp, 18080), "hello-vpcri"));
      CHECK(server.peer() == kNodeIp);
    }
    // route_localnet only on the host port pod's veth, never node-wide.
    CHECK(node.node_cmd({"cat", "/proc/sys/net/ipv4/conf/all/route_localnet"}) == "0\n");
    int localnet = 0;
    for (const auto& veth : node.eni_links()) {
      localnet += node.node_cmd({"cat", "/proc/sys/net/ipv4/conf/" + veth + "/route_localnet"}) == "1\n";
    }
    CHECK(localnet == 1);

    REQUIRE(stop_pod(d, web.id()).ok());
    REQUIRE(remove_pod(d, web.id()).ok());
    web.forget();
    CHECK_FALSE(contains(nc_send(node.node_path(), "127.0.0.1", 18080), "hello-vpcri"));
    const std::string table = node.node_cmd({"nft", "list", "table", "ip", "vpcri"});
    CHECK(contains(table, "chain localnet"));  // the table itself stays for the other pods
    CHECK_FALSE(contains(table, "18080"));
    CHECK_FALSE(contains(table, web_ip));
    CHECK_FALSE(contains(table, "127.0.0.0/8 drop"));
  }

  SUBCASE("attack: a pod sends to the node's 127.0.0.1 through its route_localnet veth, and is dropped") {
    // The pod (root in its netns, as with NET_ADMIN) routes 127.0.0.1 out of eth0 to the node.
    const std::string script =
        "set -e; sysctl -qw net.ipv4.conf.eth0.route_localnet=1; "
        "ip rule add pref 10 to 127.0.0.1 lookup 100; ip route add 127.0.0.1/32 via 169.254.1.1 dev eth0 table 100; "
        "ip rule add pref 200 lookup local; ip rule del pref 0 lookup local";
    RunResult set_up = run(in_netns(web_ns, {"/bin/sh", "-c", script}));
    REQUIRE_MESSAGE(set_up.exit_code == 0, set_up.err);
    auto attack = [&] {
      TcpServer node_loopback_service(node.node_path(), 18999);
      bool reached = contains(nc_send(web_ns, "127.0.0.1", 18999), "hello-vpcri");
      if (reached) node_loopback_service.peer();
      return reached;
    };
    CHECK_FALSE(attack());
    // Without vpcri's localnet chain the same packets get through: the attack above is real.
    run_ok(in_netns(node.node_path(), {"nft", "flush", "chain", "ip", "vpcri", "localnet"}));
    CHECK(attack());
  }

  SUBCASE("containers of one pod talk over localhost; a restarted container keeps the pod IP") {
    run_shell_container(d, client, "server", "while true; do nc -l -p 9000 -e echo from-server; done");
    std::string other = run_shell_container(d, client, "other", "sleep 1000");
    std::string got;
    for (int i = 0; i < 50 && !contains(got, "from-server"); ++i) {
      got = exec(d, other, "nc 127.0.0.1 9000 </dev/null").stdout();
      if (!contains(got, "from-server")) std::this_thread::sleep_for(100ms);
    }
    CHECK(contains(got, "from-server"));
    CHECK(contains(exec(d, other, "ip -4 addr show eth0").stdout(), client_ip + "/32"));
    stop_and_remove_container(d, other);
    other = run_shell_container(d, client, "other", "sleep 1000");
    CHECK(contains(exec(d, other, "ip -4 addr show eth0").stdout(), client_ip + "/32"));
    CHECK(pod_ip(d, client.id()) == client_ip);
    CHECK(exec(d, other, "ping -c1 -W3 " + web_ip).exit_code() == 0);
  }

  SUBCASE("teardown leaves no veth, route, rule or nft rule; stop is idempotent") {
    CHECK(node.eni_links().size() == 2);
    CHECK(contains(node.node_cmd({"nft", "list", "ruleset"}), web_ip));
    for (Pod* p : {&web, &client}) {
      REQUIRE(stop_pod(d, p->id()).ok());
      CHECK(stop_pod(d, p->id()).ok());
      CHECK(pod_ip(d, p->id()).empty());
      REQUIRE(remove_pod(d, p->id()).ok());
      p->forget();
    }
    CHECK(node.eni_links().empty());
    for (const auto& ip : {web_ip, client_ip}) {
      CHECK_FALSE(contains(node.node_cmd({kIp, "route", "show", "table", "all"}), ip));
      CHECK_FALSE(contains(node.node_cmd({kIp, "rule", "show"}), ip));
      CHECK_FALSE(contains(node.node_cmd({"nft", "list", "ruleset"}), ip));
    }
    CHECK_FALSE(contains(node.node_cmd({"nft", "list", "ruleset"}), "18080"));
  }
}

TEST_CASE("vpcrid killed and restarted: pods keep their IPs, nothing twice; exhaustion; cooldown") {
  NodeNet node;
  Daemon d;
  d.set_netns(node.node_path());
  // One ENI of 4 addresses, its first never given to a pod: 3 pod IPs.
  constexpr int kCooldown = 5;
  d.set_config(network_config("  node_range: 10.99.0.0/28\n  max_enis: 1\n  ips_per_eni: 4\n  mtu: 1500\n"
                              "  cooldown_seconds: " + std::to_string(kCooldown) + "\n"));
  d.start();
  REQUIRE_MESSAGE(wait_network_ready(d), network_condition(d).message());
  Pod a(d, pod_config("a"));
  Pod b(d, pod_config("b"));
  const std::string ip_a = pod_ip(d, a.id()), ip_b = pod_ip(d, b.id());
  REQUIRE(!ip_a.empty());
  REQUIRE(ip_a != ip_b);

  d.kill9();
  d.start();
  REQUIRE_MESSAGE(wait_network_ready(d), network_condition(d).message());
  CHECK(pod_ip(d, a.id()) == ip_a);
  CHECK(pod_ip(d, b.id()) == ip_b);
  CHECK(pod_status(d, a.id()).status().state() == v1::SANDBOX_READY);
  CHECK(ping(pod_netns(d, a.id()), ip_b));

  Pod c(d, pod_config("c"));
  const std::string ip_c = pod_ip(d, c.id());
  CHECK(!ip_c.empty());
  CHECK(ip_c != ip_a);
  CHECK(ip_c != ip_b);

  // The pool is full: the next pod fails at once with the cause, and leaves nothing behind.
  std::string id;
  grpc::Status s = run_pod(d, pod_config("d"), &id);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_MESSAGE(contains(s.error_message(), "no free IP on this node"), s.error_message());
  CHECK(node.eni_links().size() == 3);

  // c's IP cools down before anyone gets it again.
  REQUIRE(remove_pod(d, c.id()).ok());
  c.forget();
  auto released = std::chrono::steady_clock::now();
  s = run_pod(d, pod_config("d"), &id);
  if (std::chrono::steady_clock::now() - released < std::chrono::seconds(kCooldown - 2)) {
    CHECK_MESSAGE(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED, s.error_message());
    CHECK_MESSAGE(contains(s.error_message(), "cooling down"), s.error_message());
  }
  if (s.ok()) REQUIRE(remove_pod(d, id).ok());
  std::this_thread::sleep_until(released + std::chrono::seconds(kCooldown + 2));
  Pod later(d, pod_config("d"));
  CHECK(pod_ip(d, later.id()) == ip_c);
}

TEST_CASE("no pod range yet: the daemon serves, NetworkReady says why; kubelet's pod CIDR makes it ready") {
  NodeNet node;
  Daemon d;
  d.set_netns(node.node_path());
  d.set_config(network_config("  mtu: 1500\n"));
  d.start();
  v1::RuntimeCondition c = network_condition(d);
  CHECK_FALSE(c.status());
  CHECK(c.reason() == "NetworkPluginNotReady");
  CHECK_MESSAGE(contains(c.message(), "pod CIDR"), c.message());
  std::string id;
  grpc::Status s = run_pod(d, pod_config("early"), &id);
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(node.eni_links().empty());

  v1::UpdateRuntimeConfigRequest req;
  req.mutable_runtime_config()->mutable_network_config()->set_pod_cidr("10.99.0.0/24");
  v1::UpdateRuntimeConfigResponse resp;
  s = d.runtime().UpdateRuntimeConfig(context(30s).get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  REQUIRE_MESSAGE(wait_network_ready(d), network_condition(d).message());
  Pod pod(d, pod_config("late"));
  CHECK(contains(pod_ip(d, pod.id()), "10.99.0."));

  // Verbose Status carries the pod network's status.
  v1::StatusRequest status_req;
  status_req.set_verbose(true);
  v1::StatusResponse status_resp;
  REQUIRE(d.runtime().Status(context().get(), status_req, &status_resp).ok());
  auto network = nlohmann::json::parse(status_resp.info().at("network"));
  CHECK(network.at("ready") == true);
  CHECK(network.at("pod_network").at("node_range") == "10.99.0.0/24");
  CHECK(network.at("pod_network").at("primary_interface") == "up0");

  // A host-network pod gets no IP and no veth.
  auto host_config = pod_config("host");
  host_config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  Pod host(d, host_config);
  CHECK(pod_ip(d, host.id()).empty());
  CHECK(node.eni_links().size() == 1);
}
