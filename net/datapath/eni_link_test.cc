// The node side of an attached ENI, against real kernel objects: a node netns and a "VPC"
// netns the test makes, the ENI standing in as a veth whose node end carries the ENI's MAC
// (as the fake EC2 attaches one). Everything goes with the namespaces, also when a check fails.
#include "net/datapath/eni_link.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "common/error.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/netns.h"
#include "net/datapath/sysctl.h"
#include "net/datapath/test_support.h"

using nlohmann::json;
using vpcri::Errc;
using vpcri::Error;
using namespace vpcri::net;
namespace t = vpcri::net::testing;

namespace {

constexpr const char* kMac = "02:ee:00:00:00:02";

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
Cidr cidr(const char* text) { return *Cidr::parse(text); }

EniLink eni_spec(int device = 2, std::string mac = kMac) {
  EniLink eni;
  eni.eni_id = "eni-0test";
  eni.mac = std::move(mac);
  eni.device_number = device;
  eni.subnet_cidr = cidr("10.77.0.0/24");
  eni.primary_ip = ip("10.77.0.20");
  eni.mtu = 9001;
  return eni;
}

struct EniBed {
  std::string tag = t::random_tag();
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + tag + "-node");
  NamedNetNs vpc = NamedNetNs::create("vpcri-t-" + tag + "-vpc");
  NetNs node_ns = node.open();

  EniBed() {
    for (const auto* ns : {&node, &vpc}) t::run_ok({"ip", "-n", ns->name(), "link", "set", "lo", "up"});
  }

  template <class F>
  auto in_node(F&& fn) {
    return run_in_netns(node_ns, std::forward<F>(fn));
  }

  // "Attaches" an ENI: a veth born with its node end named `name` and carrying `mac`, the other
  // end (up, carrying the subnet gateway) in the VPC netns.
  void attach(const std::string& name, const std::string& mac) {
    t::run_ok({"ip", "-n", vpc.name(), "link", "add", "vpc0", "type", "veth", "peer", "name", name, "address", mac,
               "netns", node.name()});
    t::run_ok({"ip", "-n", vpc.name(), "addr", "add", "10.77.0.1/24", "dev", "vpc0"});
    t::run_ok({"ip", "-n", vpc.name(), "link", "set", "vpc0", "up"});
  }

  // Routes of one numbered table (`ip route show table N` fails once the table is empty).
  json routes(uint32_t table) {
    json out = json::array();
    for (const auto& r : t::ip_json(node.name(), {"route", "show", "table", "all"})) {
      if (r.value("table", "") == std::to_string(table)) out.push_back(r);
    }
    return out;
  }
  json rules() { return t::ip_json(node.name(), {"rule", "show"}); }
  json rules_at(int priority) {
    json out = json::array();
    for (const auto& r : rules()) {
      if (r.value("priority", -1) == priority) out.push_back(r);
    }
    return out;
  }
  json link(const std::string& name) {
    auto l = t::ip_json(node.name(), {"link", "show", "dev", name});
    REQUIRE(l.size() == 1);
    return l[0];
  }
};

bool has_flag(const json& link, const char* flag) {
  const auto& flags = link["flags"];
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

json find_route(const json& routes, const std::string& dst) {
  for (const auto& r : routes) {
    if (r.value("dst", "") == dst) return r;
  }
  return json();
}

void check_eni_table(EniBed& bed, const std::string& ifname) {
  auto routes = bed.routes(3);
  CHECK(routes.size() == 3);
  json gw = find_route(routes, "10.77.0.1");
  REQUIRE_FALSE(gw.is_null());
  CHECK(gw["dev"] == ifname);
  CHECK(gw["scope"] == "link");
  json subnet = find_route(routes, "10.77.0.0/24");
  REQUIRE_FALSE(subnet.is_null());
  CHECK(subnet["dev"] == ifname);
  CHECK(subnet["scope"] == "link");
  json def = find_route(routes, "default");
  REQUIRE_FALSE(def.is_null());
  CHECK(def["dev"] == ifname);
  CHECK(def["gateway"] == "10.77.0.1");

  auto rules = bed.rules_at(32765);
  REQUIRE(rules.size() == 1);
  CHECK(rules[0]["src"] == "10.77.0.20");
  CHECK(rules[0]["table"] == "3");
}

}  // namespace

TEST_CASE("parse_mac and subnet_gateway") {
  CHECK(nl::format_mac(parse_mac("0A:1b:2c:3D:4e:5f")) == "0a:1b:2c:3d:4e:5f");
  for (const char* bad : {"", "0a:1b:2c:3d:4e", "0a:1b:2c:3d:4e:5g", "0a-1b-2c-3d-4e-5f", "0a:1b:2c:3d:4e:5f:"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_mac(bad), Error);
  }
  CHECK(subnet_gateway(cidr("10.77.0.0/24")).to_string() == "10.77.0.1");
  CHECK(subnet_gateway(cidr("172.31.240.0/20")).to_string() == "172.31.240.1");
}

TEST_CASE("an ENI interface already attached is set up whatever its name: up, MTU, rp_filter, table, rule") {
  EniBed bed;
  bed.attach("ens6", kMac);
  CHECK_FALSE(has_flag(bed.link("ens6"), "UP"));

  EniLink eni = eni_spec(2, "02:EE:00:00:00:02");  // upper case as some tools print it
  EniInterface found = bed.in_node([&] { return setup_eni_link(eni); });
  CHECK(found.name == "ens6");

  json link = bed.link("ens6");
  CHECK(has_flag(link, "UP"));
  CHECK(link["mtu"] == 9001);
  CHECK(link["ifindex"] == found.ifindex);
  CHECK(bed.in_node([] { return read_net_sysctl("ipv4/conf/ens6/rp_filter"); }) == "2");
  check_eni_table(bed, "ens6");
  // The main table is not touched.
  CHECK(t::ip_json(bed.node.name(), {"route", "show", "table", "main"}).empty());

  // The node's traffic from the ENI's own address goes out through the ENI, through nothing else:
  // the node netns has no other route out.
  t::run_ok({"ip", "-n", bed.node.name(), "addr", "add", "10.77.0.20/32", "dev", "ens6"});
  t::run_ok({"ip", "-n", bed.vpc.name(), "addr", "add", "198.51.100.1/32", "dev", "lo"});
  auto ping = t::run(t::in_netns(bed.node.name(), {"/bin/busybox", "ping", "-c1", "-W2", "-I", "10.77.0.20",
                                                    "198.51.100.1"}));
  CHECK_MESSAGE(ping.exit_code == 0, ping.output);
}

TEST_CASE("an ENI interface appearing after the wait started is found by its MAC") {
  EniBed bed;
  bool created = false;
  EniInterface found = bed.in_node([&] {
    return wait_for_interface_by_mac(parse_mac(kMac), std::chrono::seconds(20), [&] {
      bed.attach("eth1", kMac);  // while the waiter listens for link events
      created = true;
    });
  });
  CHECK(created);
  CHECK(found.name == "eth1");
  CHECK(bed.link("eth1")["ifindex"] == found.ifindex);

  bed.in_node([&] { setup_eni_link(eni_spec()); });
  CHECK(has_flag(bed.link("eth1"), "UP"));
  check_eni_table(bed, "eth1");
}

TEST_CASE("re-applying changes nothing; teardown removes exactly what setup added") {
  EniBed bed;
  bed.attach("eth1", kMac);
  // Somebody else's rule and route in other tables: teardown must leave them.
  t::run_ok({"ip", "-n", bed.node.name(), "rule", "add", "priority", "32765", "from", "10.77.0.99", "lookup", "7"});
  t::run_ok({"ip", "-n", bed.node.name(), "link", "set", "eth1", "up"});
  t::run_ok({"ip", "-n", bed.node.name(), "route", "add", "192.0.2.0/24", "dev", "eth1", "table", "7"});
  EniLink eni = eni_spec();
  bed.in_node([&] { setup_eni_link(eni); });
  json routes = bed.routes(3);
  json rules = bed.rules();

  bed.in_node([&] { setup_eni_link(eni); });
  CHECK(bed.routes(3) == routes);
  CHECK(bed.rules() == rules);

  bed.in_node([&] { teardown_eni_link(eni); });
  CHECK(bed.routes(3).empty());
  auto left = bed.rules_at(32765);
  REQUIRE(left.size() == 1);
  CHECK(left[0]["src"] == "10.77.0.99");
  CHECK(bed.routes(7).size() == 1);
  bed.in_node([&] { teardown_eni_link(eni); });  // twice is fine

  // After a detach the interface is gone, and with it the routes; the rule is still removed.
  bed.in_node([&] { setup_eni_link(eni); });
  t::run_ok({"ip", "-n", bed.vpc.name(), "link", "del", "vpc0"});
  bed.in_node([&] { teardown_eni_link(eni); });
  CHECK(bed.routes(3).empty());
  CHECK(bed.rules_at(32765).size() == 1);
}

TEST_CASE("the primary ENI (device 0) keeps the main table: only rp_filter") {
  EniBed bed;
  bed.attach("eth0", kMac);
  auto rules = bed.rules();
  bed.in_node([&] { setup_eni_link(eni_spec(0)); });
  CHECK(bed.in_node([] { return read_net_sysctl("ipv4/conf/eth0/rp_filter"); }) == "2");
  CHECK(bed.rules() == rules);
  CHECK(bed.routes(1).empty());
  bed.in_node([&] { teardown_eni_link(eni_spec(0)); });
  CHECK(bed.rules() == rules);
}

TEST_CASE("an ENI whose interface never appears times out with a clear error and leaves nothing") {
  EniBed bed;
  bed.attach("eth1", "02:ee:00:00:00:09");  // another ENI
  auto rules = bed.rules();
  try {
    bed.in_node([&] { setup_eni_link(eni_spec(), std::chrono::milliseconds(200)); });
    FAIL("setup succeeded without the interface");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::deadline_exceeded);
    std::string message = e.what();
    CHECK(message.find("02:ee:00:00:00:02") != std::string::npos);
    CHECK(message.find("eni-0test") != std::string::npos);
  }
  CHECK(bed.routes(3).empty());
  CHECK(bed.rules() == rules);
}

TEST_CASE("bad ENI specs are refused before touching the kernel") {
  EniBed bed;
  auto refuse = [&](EniLink eni, const char* what) {
    CAPTURE(what);
    try {
      bed.in_node([&] { setup_eni_link(eni, std::chrono::milliseconds(10)); });
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
    }
  };
  EniLink eni = eni_spec();
  eni.mac = "nope";
  refuse(eni, "bad MAC");
  eni = eni_spec(251);
  refuse(eni, "table would be reserved");
  eni = eni_spec(-1);
  refuse(eni, "negative device");
  eni = eni_spec();
  eni.primary_ip = ip("10.78.0.5");
  refuse(eni, "primary IP outside the subnet");
  eni = eni_spec();
  eni.mtu = 10000;
  refuse(eni, "MTU");
  eni = eni_spec();
  eni.subnet_cidr = cidr("fd00::/64");
  refuse(eni, "IPv6 subnet");
}
