#include "net/datapath/conntrack.h"

#include <doctest/doctest.h>

#include "net/datapath/datapath.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/netns.h"
#include "net/datapath/sysctl.h"
#include "net/datapath/test_support.h"

using namespace vpcri::net;
namespace t = vpcri::net::testing;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// `conntrack -L` in the namespace (an independent view of the table).
std::string conntrack_list(const std::string& netns) {
  return t::run_ok(t::in_netns(netns, {"conntrack", "-L"}));
}

void inject(const std::string& netns, const char* src, const char* dst, const char* reply_src, const char* reply_dst,
            const char* sport) {
  t::run_ok(t::in_netns(netns, {"conntrack", "-I", "-p", "udp", "-s", src, "-d", dst, "-r", reply_src, "-q", reply_dst,
                                "--sport", sport, "--dport", "53", "--reply-port-src", "53", "--reply-port-dst", sport,
                                "-t", "120"}));
}

}  // namespace

TEST_CASE("flush_conntrack deletes entries whose original or reply tuple names the IP") {
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + t::random_tag() + "-node");
  NetNs ns = node.open();
  inject(node.name(), "10.99.2.5", "10.99.9.9", "10.99.9.9", "10.99.2.5", "1001");  // orig src
  inject(node.name(), "10.99.9.8", "10.99.2.5", "10.99.2.5", "10.99.9.8", "1002");  // orig dst
  inject(node.name(), "10.99.3.7", "10.99.9.9", "10.99.9.9", "10.99.2.5", "1003");  // reply dst only (SNAT)
  inject(node.name(), "10.99.3.7", "10.99.9.7", "10.99.9.7", "10.99.3.7", "1004");  // unrelated
  REQUIRE(conntrack_list(node.name()).find("sport=1004") != std::string::npos);

  auto listed = run_in_netns(ns, [] { return list_conntrack(ip("10.99.2.5")); });
  CHECK(listed.size() == 3);
  for (const auto& e : listed) CHECK(e.protocol == 17);

  size_t deleted = run_in_netns(ns, [] { return flush_conntrack(ip("10.99.2.5")); });
  CHECK(deleted == 3);
  std::string after = conntrack_list(node.name());
  CHECK(after.find("10.99.2.5") == std::string::npos);
  CHECK(after.find("sport=1004") != std::string::npos);  // other IPs' entries stay

  CHECK(run_in_netns(ns, [] { return flush_conntrack(ip("10.99.2.5")); }) == 0);  // nothing left: fine
}

TEST_CASE("flush_conntrack of several IPs deletes each one's entries in one call, and only theirs") {
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + t::random_tag() + "-node");
  NetNs ns = node.open();
  inject(node.name(), "10.99.5.1", "10.99.9.9", "10.99.9.9", "10.99.5.1", "2001");
  inject(node.name(), "10.99.9.8", "10.99.5.2", "10.99.5.2", "10.99.9.8", "2002");
  inject(node.name(), "10.99.5.3", "10.99.9.9", "10.99.9.9", "10.99.5.3", "2003");  // not asked for
  size_t deleted = run_in_netns(ns, [] { return flush_conntrack(std::vector<IpAddress>{ip("10.99.5.1"), ip("10.99.5.2")}); });
  CHECK(deleted == 2);
  std::string after = conntrack_list(node.name());
  CHECK(after.find("sport=2001") == std::string::npos);
  CHECK(after.find("sport=2002") == std::string::npos);
  CHECK(after.find("sport=2003") != std::string::npos);
  CHECK(run_in_netns(ns, [] { return flush_conntrack(std::vector<IpAddress>{}); }) == 0);
}

TEST_CASE("flush_conntrack removes the entries real pod traffic created on the node") {
  std::string tag = t::random_tag();
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + tag + "-node");
  NamedNetNs pod1 = NamedNetNs::create("vpcri-t-" + tag + "-pod1");
  NamedNetNs pod2 = NamedNetNs::create("vpcri-t-" + tag + "-pod2");
  NetNs node_ns = node.open(), pod1_ns = pod1.open(), pod2_ns = pod2.open();
  run_in_netns(node_ns, [] { enable_ipv4_forwarding(); });
  // Conntrack only tracks a namespace once a ruleset needs it (as kube-proxy's or SNAT's does).
  t::run_ok(t::in_netns(node.name(), {"nft", "-f", "-"}),
            "table ip vpcri_test {\n"
            "  chain forward {\n"
            "    type filter hook forward priority 0;\n"
            "    ct state new counter accept\n"
            "  }\n"
            "}\n");

  PodNetwork a{host_veth_name("default", "ct-a-" + tag), pod1_ns.fd(), ip("10.99.4.1"), kDefaultPodMtu, std::nullopt};
  PodNetwork b{host_veth_name("default", "ct-b-" + tag), pod2_ns.fd(), ip("10.99.4.2"), kDefaultPodMtu, std::nullopt};
  run_in_netns(node_ns, [&] {
    setup_pod_network(a);
    setup_pod_network(b);
  });
  auto ping = t::run(t::in_netns(pod1.name(), {"/bin/busybox", "ping", "-c1", "-W1", "10.99.4.2"}));
  REQUIRE_MESSAGE(ping.exit_code == 0, ping.output);

  REQUIRE(conntrack_list(node.name()).find("src=10.99.4.1") != std::string::npos);
  CHECK(run_in_netns(node_ns, [] { return list_conntrack(ip("10.99.4.1")).size(); }) >= 1);
  CHECK(run_in_netns(node_ns, [] { return flush_conntrack(ip("10.99.4.1")); }) >= 1);
  CHECK(conntrack_list(node.name()).find("10.99.4.1") == std::string::npos);
  CHECK(run_in_netns(node_ns, [] { return list_conntrack(ip("10.99.4.1")).size(); }) == 0);
}
