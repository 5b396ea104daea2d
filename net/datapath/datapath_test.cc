// End-to-end tests of the pod datapath. Each test builds its own node netns and pod netns
// (vpcri-t-<random>-*), wires pods exactly as production does, checks the kernel state with
// `ip -j` and real traffic, and deletes the namespaces at the end, also when a check fails.
#include "net/datapath/datapath.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/netns.h"
#include "net/datapath/routing_view.h"
#include "net/datapath/sysctl.h"
#include "net/datapath/test_support.h"

using nlohmann::json;
using vpcri::Errc;
using vpcri::Error;
using vpcri::UniqueFd;
using namespace vpcri::net;
namespace t = vpcri::net::testing;

namespace {

constexpr const char* kNodeIp = "10.99.0.1";

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

struct Pod {
  NamedNetNs netns;
  NetNs handle;
  PodNetwork spec;
};

// A node netns with an address on lo and forwarding on (as a node would have), plus pods.
struct Testbed {
  std::string tag = t::random_tag();
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + tag + "-node");
  NetNs node_ns = node.open();

  template <class F>
  auto in_node(F&& fn) {
    return run_in_netns(node_ns, std::forward<F>(fn));
  }

  Testbed() {
    t::run_ok({"ip", "-n", node.name(), "link", "set", "lo", "up"});
    t::run_ok({"ip", "-n", node.name(), "addr", "add", std::string(kNodeIp) + "/32", "dev", "lo"});
    in_node([] { enable_ipv4_forwarding(); });
  }

  Pod make_pod(const std::string& pod_name, const char* pod_ip, std::optional<uint32_t> table = std::nullopt) {
    NamedNetNs ns = NamedNetNs::create("vpcri-t-" + tag + "-" + pod_name);
    NetNs handle = ns.open();
    PodNetwork spec;
    spec.host_veth = host_veth_name("default", pod_name + "-" + tag);
    spec.pod_netns_fd = handle.fd();
    spec.pod_ip = ip(pod_ip);
    spec.eni_route_table = table;
    return Pod{std::move(ns), std::move(handle), spec};
  }

  void setup(const Pod& pod) {
    in_node([&] { setup_pod_network(pod.spec); });
  }
  void teardown(const Pod& pod) {
    in_node([&] { teardown_pod_network(pod.spec.host_veth, pod.spec.pod_ip, pod.spec.eni_route_table); });
  }

  json node_links() { return t::ip_json(node.name(), {"link", "show"}); }
  json node_routes() { return t::ip_json(node.name(), {"route", "show", "table", "main"}); }
  json node_rules() { return t::ip_json(node.name(), {"rule", "show"}); }
  bool node_has_link(const std::string& name) {
    auto links = node_links();
    return std::any_of(links.begin(), links.end(), [&](const json& l) { return l["ifname"] == name; });
  }
  json rules_for(const IpAddress& pod_ip) {
    json out = json::array();
    for (const auto& r : node_rules()) {
      if (r.value("src", "") == pod_ip.to_string() || r.value("dst", "") == pod_ip.to_string()) out.push_back(r);
    }
    return out;
  }
  json routes_to(const IpAddress& pod_ip) {
    json out = json::array();
    for (const auto& r : node_routes()) {
      if (r.value("dst", "") == pod_ip.to_string()) out.push_back(r);
    }
    return out;
  }
};

bool ping(const std::string& from_netns, const std::string& to) {
  auto r = t::run(t::in_netns(from_netns, {"/bin/busybox", "ping", "-c1", "-W1", to}));
  if (r.exit_code != 0) MESSAGE("ping " << to << " from " << from_netns << " failed: " << r.output);
  return r.exit_code == 0;
}

void check_no_trace(Testbed& bed, const Pod& pod) {
  CHECK_FALSE(bed.node_has_link(pod.spec.host_veth));
  CHECK(bed.routes_to(pod.spec.pod_ip).empty());
  CHECK(bed.rules_for(pod.spec.pod_ip).empty());
}

// The error of a setup that must fail.
Error failed_setup(Testbed& bed, const Pod& pod) {
  try {
    bed.setup(pod);
  } catch (const Error& e) {
    return e;
  }
  FAIL("setup succeeded");
  return Error(Errc::internal, "unreachable");
}

}  // namespace

TEST_CASE("setup wires the pod side: eth0 with IP/32, gateway routes, permanent neighbour") {
  Testbed bed;
  Pod pod = bed.make_pod("one", "10.99.1.11");
  bed.setup(pod);

  auto host = t::ip_json(bed.node.name(), {"link", "show", "dev", pod.spec.host_veth});
  REQUIRE(host.size() == 1);
  std::string host_mac = host[0]["address"];

  auto eth0 = t::ip_json(pod.netns.name(), {"addr", "show", "dev", "eth0"});
  REQUIRE(eth0.size() == 1);
  CHECK(eth0[0]["mtu"] == 9001);
  auto flags = eth0[0]["flags"];
  CHECK(std::find(flags.begin(), flags.end(), "UP") != flags.end());
  int inet = 0;
  for (const auto& a : eth0[0]["addr_info"]) {
    if (a["family"] != "inet") continue;
    ++inet;
    CHECK(a["local"] == "10.99.1.11");
    CHECK(a["prefixlen"] == 32);
  }
  CHECK(inet == 1);
  std::string pod_mac = eth0[0]["address"];
  CHECK(pod_mac != host_mac);
  // Locally administered unicast MACs: bit 1 set, bit 0 clear in the first octet.
  for (const std::string& mac : {host_mac, pod_mac}) {
    int first = std::stoi(mac.substr(0, 2), nullptr, 16);
    CHECK((first & 0x03) == 0x02);
  }

  auto lo = t::ip_json(pod.netns.name(), {"link", "show", "dev", "lo"});
  auto lo_flags = lo.at(0)["flags"];
  CHECK(std::find(lo_flags.begin(), lo_flags.end(), "UP") != lo_flags.end());

  auto routes = t::ip_json(pod.netns.name(), {"route", "show"});
  REQUIRE(routes.size() == 2);
  bool gw_route = false, default_route = false;
  for (const auto& r : routes) {
    CHECK(r["dev"] == "eth0");
    if (r["dst"] == "169.254.1.1") {
      gw_route = true;
      CHECK(r["scope"] == "link");
    }
    if (r["dst"] == "default") {
      default_route = true;
      CHECK(r["gateway"] == "169.254.1.1");
    }
  }
  CHECK(gw_route);
  CHECK(default_route);

  auto neigh = t::ip_json(pod.netns.name(), {"neigh", "show", "dev", "eth0"});
  REQUIRE(neigh.size() == 1);
  CHECK(neigh[0]["dst"] == "169.254.1.1");
  CHECK(neigh[0]["lladdr"] == host_mac);
  CHECK(neigh[0]["state"] == json::array({"PERMANENT"}));
}

TEST_CASE("setup wires the node side: veth up without IPv4, /32 route, rules 512 and 1536") {
  Testbed bed;
  Pod primary = bed.make_pod("primary", "10.99.1.11");
  Pod secondary = bed.make_pod("secondary", "10.99.1.12", 2);
  bed.setup(primary);
  bed.setup(secondary);

  for (const Pod* pod : {&primary, &secondary}) {
    CAPTURE(pod->spec.host_veth);
    auto host = t::ip_json(bed.node.name(), {"addr", "show", "dev", pod->spec.host_veth});
    REQUIRE(host.size() == 1);
    auto flags = host[0]["flags"];
    CHECK(std::find(flags.begin(), flags.end(), "UP") != flags.end());
    CHECK(host[0]["mtu"] == 9001);
    for (const auto& a : host[0]["addr_info"]) CHECK(a["family"] != "inet");

    auto routes = bed.routes_to(pod->spec.pod_ip);
    REQUIRE(routes.size() == 1);
    CHECK(routes[0]["dev"] == pod->spec.host_veth);
    CHECK(routes[0]["scope"] == "link");
    CHECK_FALSE(routes[0].contains("gateway"));
  }

  auto primary_rules = bed.rules_for(primary.spec.pod_ip);
  REQUIRE(primary_rules.size() == 1);
  CHECK(primary_rules[0]["priority"] == 512);
  CHECK(primary_rules[0]["dst"] == "10.99.1.11");
  CHECK(primary_rules[0]["table"] == "main");

  auto secondary_rules = bed.rules_for(secondary.spec.pod_ip);
  REQUIRE(secondary_rules.size() == 2);
  std::sort(secondary_rules.begin(), secondary_rules.end(),
            [](const json& a, const json& b) { return a["priority"] < b["priority"]; });
  CHECK(secondary_rules[0]["priority"] == 512);
  CHECK(secondary_rules[0]["dst"] == "10.99.1.12");
  CHECK(secondary_rules[0]["table"] == "main");
  CHECK(secondary_rules[1]["priority"] == 1536);
  CHECK(secondary_rules[1]["src"] == "10.99.1.12");
  CHECK(secondary_rules[1]["table"] == "2");

  auto veths = bed.in_node([] { return list_host_veths("eni"); });
  auto expected = std::vector<std::string>{primary.spec.host_veth, secondary.spec.host_veth};
  std::sort(expected.begin(), expected.end());
  CHECK(veths == expected);
  CHECK(bed.in_node([] { return list_host_veths("zzz"); }).empty());
}

TEST_CASE("the kernel's routes and rules per pod IP, read back over netlink (routing_view.h)") {
  Testbed bed;
  Pod secondary = bed.make_pod("view", "10.99.1.13", 3);
  bed.setup(secondary);
  auto seen = bed.in_node([&] {
    KernelRoutingSnapshot kernel;
    return std::make_pair(kernel.for_ip(secondary.spec.pod_ip), kernel.for_ip(ip("10.99.1.99")));
  });
  const KernelPodRouting& routing = seen.first;
  REQUIRE(routing.routes.size() == 1);
  CHECK(routing.routes[0].destination == "10.99.1.13/32");
  CHECK(routing.routes[0].device == secondary.spec.host_veth);
  CHECK(routing.routes[0].table == "main");
  CHECK(routing.routes[0].gateway.empty());
  REQUIRE(routing.rules.size() == 2);
  auto rules = routing.rules;
  std::sort(rules.begin(), rules.end(), [](const KernelRule& a, const KernelRule& b) { return a.priority < b.priority; });
  CHECK(rules[0].priority == 512);
  CHECK(rules[0].selector == "to 10.99.1.13/32");
  CHECK(rules[0].table == "main");
  CHECK(rules[1].priority == 1536);
  CHECK(rules[1].selector == "from 10.99.1.13/32");
  CHECK(rules[1].table == "3");
  // Another IP: nothing of this pod's.
  CHECK(seen.second.routes.empty());
  CHECK(seen.second.rules.empty());
  bed.teardown(secondary);
  auto after = bed.in_node([&] { return KernelRoutingSnapshot().for_ip(secondary.spec.pod_ip); });
  CHECK(after.routes.empty());
  CHECK(after.rules.empty());
}

TEST_CASE("pods reach each other and the node") {
  Testbed bed;
  Pod one = bed.make_pod("one", "10.99.1.11");
  Pod two = bed.make_pod("two", "10.99.1.12", 2);
  bed.setup(one);
  bed.setup(two);

  CHECK(ping(one.netns.name(), "10.99.1.12"));
  CHECK(ping(two.netns.name(), "10.99.1.11"));
  CHECK(ping(one.netns.name(), kNodeIp));
  CHECK(ping(two.netns.name(), kNodeIp));
  CHECK(ping(bed.node.name(), "10.99.1.11"));
}

TEST_CASE("TCP between pods keeps the sender's pod IP as source (no NAT)") {
  Testbed bed;
  Pod client = bed.make_pod("client", "10.99.1.21");
  Pod server = bed.make_pod("server", "10.99.1.22");
  bed.setup(client);
  bed.setup(server);

  // The listening socket is made inside the server pod's netns and stays bound to it.
  UniqueFd listener = run_in_netns(server.handle, [] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) vpcri::throw_errno("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(5050);
    ::inet_pton(AF_INET, "10.99.1.22", &addr.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) vpcri::throw_errno("bind");
    if (::listen(fd.get(), 1) != 0) vpcri::throw_errno("listen");
    return fd;
  });

  std::string peer_ip, received;
  std::thread server_thread([&] {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 20000) != 1) return;  // the client failing shows up in its own check
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    UniqueFd conn(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
    if (!conn) return;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
    peer_ip = text;
    char buf[256];
    while (received.find('\n') == std::string::npos) {
      pollfd rp{conn.get(), POLLIN, 0};
      if (::poll(&rp, 1, 20000) != 1) return;
      ssize_t n = ::read(conn.get(), buf, sizeof buf);
      if (n <= 0) break;
      received.append(buf, static_cast<size_t>(n));
    }
    std::string reply = "echo:" + received;
    (void)!::write(conn.get(), reply.data(), reply.size());
  });
  // busybox nc: sends stdin, prints what comes back, exits when the server closes.
  auto r = t::run(t::in_netns(client.netns.name(), {"/bin/busybox", "nc", "10.99.1.22", "5050"}), "hello\n");
  server_thread.join();

  CHECK(peer_ip == "10.99.1.21");
  CHECK(received == "hello\n");
  CHECK(r.output.find("echo:hello") != std::string::npos);
}

TEST_CASE("teardown removes veth, route and rules, and may run twice") {
  Testbed bed;
  Pod keep = bed.make_pod("keep", "10.99.1.31");
  Pod gone = bed.make_pod("gone", "10.99.1.32", 3);
  bed.setup(keep);
  bed.setup(gone);
  REQUIRE(bed.node_has_link(gone.spec.host_veth));
  REQUIRE(bed.rules_for(gone.spec.pod_ip).size() == 2);

  bed.teardown(gone);
  check_no_trace(bed, gone);
  CHECK(t::ip_json(gone.netns.name(), {"link", "show"}).size() == 1);  // only lo: eth0 went with the veth
  bed.teardown(gone);  // twice is fine
  check_no_trace(bed, gone);

  // The other pod is untouched and still reachable.
  CHECK(bed.node_has_link(keep.spec.host_veth));
  CHECK(bed.rules_for(keep.spec.pod_ip).size() == 1);
  CHECK(ping(bed.node.name(), "10.99.1.31"));

  // Teardown of a pod that was never set up is fine too.
  Pod never = bed.make_pod("never", "10.99.1.33");
  bed.teardown(never);
  check_no_trace(bed, never);
}

TEST_CASE("teardown cleans up after a half-done setup") {
  Testbed bed;
  Pod pod = bed.make_pod("half", "10.99.1.41", 4);
  SUBCASE("veth created, nothing else") {
    t::run_ok({"ip", "-n", bed.node.name(), "link", "add", pod.spec.host_veth, "type", "veth", "peer", "name", "eth0",
               "netns", pod.netns.path()});
  }
  SUBCASE("veth and route, no rules") {
    t::run_ok({"ip", "-n", bed.node.name(), "link", "add", pod.spec.host_veth, "type", "veth", "peer", "name", "eth0",
               "netns", pod.netns.path()});
    t::run_ok({"ip", "-n", bed.node.name(), "link", "set", pod.spec.host_veth, "up"});
    t::run_ok({"ip", "-n", bed.node.name(), "route", "add", "10.99.1.41/32", "dev", pod.spec.host_veth, "scope", "link"});
  }
  SUBCASE("rules left behind, veth already gone") {
    t::run_ok({"ip", "-n", bed.node.name(), "rule", "add", "prio", "512", "to", "10.99.1.41", "lookup", "main"});
    t::run_ok({"ip", "-n", bed.node.name(), "rule", "add", "prio", "1536", "from", "10.99.1.41", "lookup", "4"});
  }
  bed.teardown(pod);
  check_no_trace(bed, pod);
  // And the pod can be set up again from scratch.
  bed.setup(pod);
  CHECK(ping(bed.node.name(), "10.99.1.41"));
}

TEST_CASE("teardown without the ENI table still removes the from-pod rule") {
  Testbed bed;
  Pod pod = bed.make_pod("notable", "10.99.1.45", 7);
  bed.setup(pod);
  bed.in_node([&] { teardown_pod_network(pod.spec.host_veth, pod.spec.pod_ip); });
  check_no_trace(bed, pod);
}

TEST_CASE("setup replaces a stale host veth of the same pod") {
  Testbed bed;
  Pod pod = bed.make_pod("stale", "10.99.1.51");
  NamedNetNs old_netns = NamedNetNs::create("vpcri-t-" + bed.tag + "-old");
  t::run_ok({"ip", "-n", bed.node.name(), "link", "add", pod.spec.host_veth, "type", "veth", "peer", "name", "eth0",
             "netns", old_netns.path()});
  bed.setup(pod);
  CHECK(t::ip_json(old_netns.name(), {"link", "show"}).size() == 1);  // the old pair is gone
  CHECK(ping(bed.node.name(), "10.99.1.51"));
}

TEST_CASE("a failed setup leaves nothing behind and says why") {
  Testbed bed;
  Pod pod = bed.make_pod("taken", "10.99.1.61", 5);
  t::run_ok({"ip", "-n", pod.netns.name(), "link", "add", "eth0", "type", "veth", "peer", "name", "spare"});
  Error e = failed_setup(bed, pod);
  CHECK(e.code() == Errc::already_exists);
  std::string what = e.what();
  CHECK(what.find(pod.spec.host_veth) != std::string::npos);
  CHECK(what.find("eth0") != std::string::npos);
  check_no_trace(bed, pod);
}

TEST_CASE("a setup failing after the veth exists rolls the veth back") {
  Testbed bed;
  // Make the pod side fail after the veth exists: the pod netns already routes the gateway
  // address (via lo), so adding the pod's gateway route is refused.
  Pod pod = bed.make_pod("rollback", "10.99.1.71", 6);
  t::run_ok({"ip", "-n", pod.netns.name(), "link", "set", "lo", "up"});
  t::run_ok({"ip", "-n", pod.netns.name(), "route", "add", "169.254.1.1/32", "dev", "lo"});
  CHECK(std::string(failed_setup(bed, pod).what()).find("adding pod route 169.254.1.1 dev eth0") != std::string::npos);
  check_no_trace(bed, pod);
  CHECK(t::ip_json(pod.netns.name(), {"link", "show"}).size() == 1);  // only lo: eth0 went with the veth
}

// The pod side goes to the kernel as one batch: a step in the middle of it failing must still
// be named, and what the steps before it made must not outlive the failure.
TEST_CASE("a step failing in the middle of the pod-side batch is named and nothing is left") {
  Testbed bed;
  Pod pod = bed.make_pod("midbatch", "10.99.1.73", 7);
  // A default route already there: the EXCL add of the pod's default route (after the address
  // and the gateway route succeeded) is refused.
  t::run_ok({"ip", "-n", pod.netns.name(), "link", "set", "lo", "up"});
  t::run_ok({"ip", "-n", pod.netns.name(), "route", "add", "default", "dev", "lo"});
  Error e = failed_setup(bed, pod);
  CHECK(e.code() == Errc::already_exists);
  std::string what = e.what();
  CHECK(what.find("adding pod default route via 169.254.1.1") != std::string::npos);
  CHECK(what.find(pod.spec.host_veth) != std::string::npos);
  check_no_trace(bed, pod);
  CHECK(t::ip_json(pod.netns.name(), {"link", "show"}).size() == 1);
  json addrs = t::ip_json(pod.netns.name(), {"-4", "addr", "show"});
  for (const auto& link : addrs) {
    for (const auto& a : link["addr_info"]) CHECK(a["local"] != "10.99.1.73");
  }
  // The pod's own default route did not replace the one that was there.
  json routes = t::ip_json(pod.netns.name(), {"route", "show"});
  REQUIRE(routes.size() == 1);
  CHECK(routes[0]["dev"] == "lo");
}

// The node side is one batch too: a rule already there answers EEXIST inside it, which means
// "correct as is", not a failure of the batch.
TEST_CASE("a rule already there does not fail the node-side batch") {
  Testbed bed;
  Pod pod = bed.make_pod("nodebatch", "10.99.1.75", 8);
  t::run_ok({"ip", "-n", bed.node.name(), "rule", "add", "priority", "1536", "from", "10.99.1.75/32", "lookup", "8"});
  bed.setup(pod);
  CHECK(bed.rules_for(pod.spec.pod_ip).size() == 2);
  bed.teardown(pod);
  check_no_trace(bed, pod);
}

TEST_CASE("teardown of an old pod keeps the rules of a newer pod that reuses its IP") {
  Testbed bed;
  Pod old_pod = bed.make_pod("old", "10.99.1.81");
  bed.setup(old_pod);
  // The old pod's veth vanishes (crash), the IP goes to a new pod, then the old teardown runs.
  t::run_ok({"ip", "-n", bed.node.name(), "link", "del", old_pod.spec.host_veth});
  Pod new_pod = bed.make_pod("new", "10.99.1.81");
  bed.setup(new_pod);
  bed.teardown(old_pod);
  CHECK(bed.rules_for(new_pod.spec.pod_ip).size() == 1);
  REQUIRE(bed.routes_to(new_pod.spec.pod_ip).size() == 1);
  CHECK(bed.routes_to(new_pod.spec.pod_ip)[0]["dev"] == new_pod.spec.host_veth);
  CHECK(ping(bed.node.name(), "10.99.1.81"));
}

TEST_CASE("setup refuses bad specs before touching the kernel") {
  Testbed bed;
  Pod pod = bed.make_pod("bad", "10.99.1.91");
  auto refused = [&](PodNetwork spec, const char* needle) {
    CAPTURE(needle);
    try {
      bed.in_node([&] { setup_pod_network(spec); });
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  PodNetwork spec = pod.spec;
  spec.mtu = 100;
  refused(spec, "MTU");
  spec = pod.spec;
  spec.pod_ip = ip("fd00::1");
  refused(spec, "IPv4");
  spec = pod.spec;
  spec.host_veth = "much-too-long-name0";
  refused(spec, "host veth name");
  spec = pod.spec;
  spec.eni_route_table = 254;
  refused(spec, "reserved");
  spec = pod.spec;
  spec.pod_netns_fd = -1;
  refused(spec, "network namespace");
  CHECK_FALSE(bed.node_has_link(pod.spec.host_veth));
}
