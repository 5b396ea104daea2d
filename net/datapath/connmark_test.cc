// Connmark steering with real traffic: a pod holding a secondary ENI's IP reaches the VPC through
// its ENI with its own address, and the outside world through the primary interface and its SNAT,
// which only the connmark chain + ip rule 1024 make happen (its from-pod rule points at the ENI's
// table). Namespaces made here: node, pod, "vpc" (behind the ENI), "wan" (behind the primary
// interface); everything goes with them.
#include "net/datapath/connmark.h"

#include <doctest/doctest.h>

#include "net/datapath/datapath.h"
#include "net/datapath/eni_link.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/nat_table.h"
#include "net/datapath/netns.h"
#include "net/datapath/sysctl.h"
#include "net/datapath/test_support.h"

using namespace vpcri::net;
namespace t = vpcri::net::testing;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
Cidr cidr(const char* text) { return *Cidr::parse(text); }

struct World {
  std::string tag = t::random_tag();
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + tag + "-node");
  NamedNetNs vpc = NamedNetNs::create("vpcri-t-" + tag + "-vpc");
  NamedNetNs wan = NamedNetNs::create("vpcri-t-" + tag + "-wan");
  NamedNetNs pod = NamedNetNs::create("vpcri-t-" + tag + "-pod");
  NetNs node_ns = node.open();
  NetNs pod_ns = pod.open();

  void ip_in(const NamedNetNs& ns, std::vector<std::string> args) {
    args.insert(args.begin(), {"ip", "-n", ns.name()});
    t::run_ok(args);
  }

  World() {
    for (const auto* ns : {&node, &vpc, &wan}) ip_in(*ns, {"link", "set", "lo", "up"});
    // The primary interface, towards the outside world (which knows only the node's address).
    ip_in(wan, {"link", "add", "wan0", "type", "veth", "peer", "name", "up0", "netns", node.name()});
    ip_in(wan, {"addr", "add", "192.168.50.2/24", "dev", "wan0"});
    ip_in(wan, {"addr", "add", "203.0.113.1/32", "dev", "lo"});
    ip_in(wan, {"link", "set", "wan0", "up"});
    ip_in(node, {"addr", "add", "192.168.50.1/24", "dev", "up0"});
    ip_in(node, {"link", "set", "up0", "up"});
    ip_in(node, {"route", "add", "default", "via", "192.168.50.2", "dev", "up0"});
    // A secondary ENI (device 2) into the VPC subnet 10.77.0.0/24, gateway 10.77.0.1.
    ip_in(vpc, {"link", "add", "vpc0", "type", "veth", "peer", "name", "eth1", "address", "02:ee:00:00:00:02", "netns",
                node.name()});
    ip_in(vpc, {"addr", "add", "10.77.0.1/24", "dev", "vpc0"});
    ip_in(vpc, {"link", "set", "vpc0", "up"});
    // As EC2's fabric: the pod's IP belongs to the ENI's MAC (no ARP from the node for it), and
    // the ENI carries its own primary IP, as the node's OS configures it.
    ip_in(vpc, {"neigh", "add", "10.77.0.30", "lladdr", "02:ee:00:00:00:02", "dev", "vpc0", "nud", "permanent"});
    ip_in(node, {"addr", "add", "10.77.0.20/32", "dev", "eth1"});
    run_in_netns(node_ns, [&] {
      enable_ipv4_forwarding();
      EniLink eni;
      eni.eni_id = "eni-0second";
      eni.mac = "02:ee:00:00:00:02";
      eni.device_number = 2;
      eni.subnet_cidr = cidr("10.77.0.0/24");
      eni.primary_ip = ip("10.77.0.20");
      setup_eni_link(eni);
      PodNetwork spec;
      spec.host_veth = host_veth_name("default", "pod-" + tag);
      spec.pod_netns_fd = pod_ns.fd();
      spec.pod_ip = ip("10.77.0.30");  // a secondary IP of that ENI
      spec.eni_route_table = 3;  // device 2 + 1
      setup_pod_network(spec);
    });
  }

  bool ping_from_pod(const char* to) {
    auto r = t::run(t::in_netns(pod.name(), {"/bin/busybox", "ping", "-c1", "-W1", to}));
    if (r.exit_code != 0) MESSAGE("ping " << to << " from the pod failed: " << r.output);
    return r.exit_code == 0;
  }
};

SnatConfig snat() {
  SnatConfig s;
  s.interface = "up0";
  s.node_ip = ip("192.168.50.1");
  s.pod_cidrs = {cidr("10.77.0.0/24")};
  s.excluded = {cidr("10.77.0.0/16")};
  s.host_veth_prefix = std::string(kDefaultHostVethPrefix);
  return s;
}

}  // namespace

TEST_CASE("a secondary-ENI pod: the VPC through its ENI, the outside through the primary interface's SNAT") {
  World w;
  NatTable table(snat());
  run_in_netns(w.node_ns, [&] {
    table.apply();
    apply_connmark_rule(true);
  });
  CHECK(w.ping_from_pod("10.77.0.1"));    // in the VPC: out of eth1 with the pod's own IP
  CHECK(w.ping_from_pod("203.0.113.1"));  // outside: marked, main table, up0, SNAT

  // Without the rule the outside-bound packets follow the pod's rule into the ENI's table and
  // leave through eth1, unSNATed, where nothing answers: the steering is what makes it work.
  run_in_netns(w.node_ns, [] { apply_connmark_rule(false); });
  CHECK_FALSE(w.ping_from_pod("203.0.113.1"));
  CHECK(w.ping_from_pod("10.77.0.1"));
}
