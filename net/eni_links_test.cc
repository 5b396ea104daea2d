// EniLinks as IPAM's observer, against real kernel objects: a node netns made here, ENIs standing
// in as veths whose node end carries the ENI's MAC (their other end in a "vpc" netns).
#include "net/eni_links.h"

#include <doctest/doctest.h>

#include "net/datapath/named_netns.h"
#include "net/datapath/netns.h"
#include "net/datapath/test_support.h"

using nlohmann::json;
using namespace vpcri::net;
namespace t = vpcri::net::testing;
using namespace std::chrono_literals;

namespace {

ipam::EniInfo eni(const std::string& id, const std::string& mac, int device, const char* primary_ip) {
  ipam::EniInfo e;
  e.id = id;
  e.mac = mac;
  e.device_number = device;
  e.subnet_cidr = *Cidr::parse("10.77.0.0/24");
  e.primary_ip = *IpAddress::parse(primary_ip);
  return e;
}

struct Node {
  std::string tag = t::random_tag();
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + tag + "-node");
  NamedNetNs vpc = NamedNetNs::create("vpcri-t-" + tag + "-vpc");
  NetNs node_ns = node.open();
  EniLinks links;
  explicit Node(std::chrono::milliseconds wait = 300ms) : links(9001, wait) {}

  void attach(const std::string& vpc_end, const std::string& name, const std::string& mac) {
    t::run_ok({"ip", "-n", vpc.name(), "link", "add", vpc_end, "type", "veth", "peer", "name", name, "address", mac,
               "netns", node.name()});
    t::run_ok({"ip", "-n", vpc.name(), "link", "set", vpc_end, "up"});
  }
  void changed(const std::vector<ipam::EniInfo>& enis) {
    run_in_netns(node_ns, [&] { links.enis_changed(enis); });
  }
  // (priority, src, table) of the rules at 32765, and the numbered tables holding routes.
  std::vector<std::string> eni_rules() {
    std::vector<std::string> out;
    for (const auto& r : t::ip_json(node.name(), {"rule", "show"})) {
      if (r.value("priority", -1) == 32765) out.push_back(r.value("src", "") + " " + r.value("table", ""));
    }
    return out;
  }
  std::vector<std::string> tables() {
    std::vector<std::string> out;
    for (const auto& r : t::ip_json(node.name(), {"route", "show", "table", "all"})) {
      std::string table = r.value("table", "main");
      if (table != "main" && table != "local" && std::find(out.begin(), out.end(), table) == out.end()) {
        out.push_back(table);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

}  // namespace

TEST_CASE("secondary ENIs with a MAC are wired as IPAM reports them, and unwired when it lets them go") {
  Node n;
  n.attach("vpc1", "eth1", "02:ee:00:00:00:01");
  n.attach("vpc2", "eth2", "02:ee:00:00:00:02");
  auto primary = eni("eni-0", "02:ee:00:00:00:00", 0, "10.77.0.10");  // main table: nothing to wire
  auto first = eni("eni-1", "02:ee:00:00:00:01", 1, "10.77.0.11");
  auto second = eni("eni-2", "02:ee:00:00:00:02", 2, "10.77.0.12");

  n.changed({primary, first});
  CHECK(n.links.wired() == std::vector<std::string>{"eni-1"});
  CHECK(n.eni_rules() == std::vector<std::string>{"10.77.0.11 2"});
  CHECK(n.tables() == std::vector<std::string>{"2"});
  CHECK(n.links.pod_route_table("eni-1") == 2u);
  CHECK_FALSE(n.links.pod_route_table("eni-0"));
  CHECK_FALSE(n.links.pod_route_table("eni-2"));

  n.changed({primary, first, second});
  n.changed({primary, first, second});  // nothing new: nothing done
  CHECK(n.links.wired() == std::vector<std::string>{"eni-1", "eni-2"});
  CHECK(n.tables() == std::vector<std::string>{"2", "3"});
  CHECK(n.links.pod_route_table("eni-2") == 3u);

  n.changed({primary, second});  // eni-1 freed: its table and rule go, eni-2's stay
  CHECK(n.links.wired() == std::vector<std::string>{"eni-2"});
  CHECK(n.eni_rules() == std::vector<std::string>{"10.77.0.12 3"});
  CHECK(n.tables() == std::vector<std::string>{"3"});
  CHECK_FALSE(n.links.pod_route_table("eni-1"));

  n.changed({primary});
  CHECK(n.links.wired().empty());
  CHECK(n.eni_rules().empty());
  CHECK(n.tables().empty());
}

TEST_CASE("an ENI whose interface is late is retried at the next report, and pods already get its table") {
  Node n;
  auto late = eni("eni-3", "02:ee:00:00:00:03", 3, "10.77.0.13");
  n.changed({late});  // no interface yet: logged, not thrown
  CHECK(n.links.wired().empty());
  CHECK(n.links.pod_route_table("eni-3") == 4u);
  CHECK(n.eni_rules().empty());

  n.attach("vpc3", "ens7", "02:ee:00:00:00:03");
  n.changed({late});
  CHECK(n.links.wired() == std::vector<std::string>{"eni-3"});
  CHECK(n.tables() == std::vector<std::string>{"4"});
  n.changed({});
  CHECK(n.tables().empty());
  CHECK(n.eni_rules().empty());
}

TEST_CASE("the local provider's ENIs (no MAC) need no link work") {
  Node n;
  auto virtual_eni = eni("eni-local-1", "", 1, "10.77.0.11");
  n.changed({eni("eni-local-0", "", 0, "10.77.0.10"), virtual_eni});
  CHECK(n.links.wired().empty());
  CHECK_FALSE(n.links.pod_route_table("eni-local-1"));
  CHECK(n.eni_rules().empty());
  CHECK(n.tables().empty());
}

TEST_CASE("restore: a checkpoint ENI detached while vpcrid was down costs no wait, and its old rule goes") {
  // A wait of an hour: waiting at restore would hang this test (meson's timeout fails it).
  Node n(std::chrono::hours(1));
  auto gone = eni("eni-4", "02:ee:00:00:00:04", 4, "10.77.0.14");
  // What the run before the crash left: gone's rule (its interface and routes left with the ENI)
  // and somebody else's rule at the same priority.
  t::run_ok({"ip", "-n", n.node.name(), "rule", "add", "priority", "32765", "from", "10.77.0.14", "lookup", "5"});
  t::run_ok({"ip", "-n", n.node.name(), "rule", "add", "priority", "32765", "from", "10.77.0.99", "lookup", "7"});

  n.changed({gone});  // IPAM's restore, from the checkpoint
  CHECK(n.links.wired().empty());

  n.changed({});  // the reconcile: EC2 no longer lists it
  CHECK(n.eni_rules() == std::vector<std::string>{"10.77.0.99 7"});
}

TEST_CASE("restore: an interface that is there is wired at once") {
  Node n(std::chrono::hours(1));
  n.attach("vpc5", "eth5", "02:ee:00:00:00:05");
  n.changed({eni("eni-5", "02:ee:00:00:00:05", 5, "10.77.0.15")});
  CHECK(n.links.wired() == std::vector<std::string>{"eni-5"});
  CHECK(n.eni_rules() == std::vector<std::string>{"10.77.0.15 6"});
  n.changed({});
  CHECK(n.eni_rules().empty());
}
