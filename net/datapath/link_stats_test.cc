// read_interface_counters against real namespaces: a veth pair between two test namespaces,
// real pings across it, counters read from inside each.
#include "net/datapath/link_stats.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/test_support.h"

using namespace vpcri::net;
namespace t = vpcri::net::testing;

namespace {

const InterfaceCounters* find(const std::vector<InterfaceCounters>& all, const std::string& name) {
  for (const auto& c : all) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("interface counters of a namespace grow with the traffic through it; loopback is left out") {
  const std::string tag = t::random_tag();
  NamedNetNs a = NamedNetNs::create("vpcri-t-" + tag + "-a");
  NamedNetNs b = NamedNetNs::create("vpcri-t-" + tag + "-b");
  t::run_ok({"ip", "-n", a.name(), "link", "add", "eth0", "type", "veth", "peer", "name", "peer0", "netns", b.name()});
  t::run_ok({"ip", "-n", a.name(), "link", "add", "extra0", "type", "veth", "peer", "name", "extra1"});
  t::run_ok({"ip", "-n", a.name(), "addr", "add", "10.98.0.1/30", "dev", "eth0"});
  t::run_ok({"ip", "-n", b.name(), "addr", "add", "10.98.0.2/30", "dev", "peer0"});
  for (const auto& [ns, dev] : {std::pair{a.name(), "lo"}, {a.name(), "eth0"}, {b.name(), "peer0"}}) {
    t::run_ok({"ip", "-n", ns, "link", "set", dev, "up"});
  }

  const auto before = read_interface_counters(a.path());
  REQUIRE(before.size() == 3);  // eth0, extra0, extra1; not lo
  CHECK(before[0].name == "eth0");
  CHECK(find(before, "lo") == nullptr);
  CHECK(find(before, "extra1") != nullptr);

  t::run_ok(t::in_netns(a.name(), {"busybox", "ping", "-c", "3", "-W", "2", "-s", "1000", "10.98.0.2"}));
  const auto after = read_interface_counters(a.path());
  const InterfaceCounters* eth0 = find(after, "eth0");
  REQUIRE(eth0 != nullptr);
  // Three 1000-byte echo requests out, three replies in (plus ARP): at least 3 KB each way.
  CHECK(eth0->tx_packets >= before[0].tx_packets + 3);
  CHECK(eth0->rx_packets >= before[0].rx_packets + 3);
  CHECK(eth0->tx_bytes >= before[0].tx_bytes + 3000);
  CHECK(eth0->rx_bytes >= before[0].rx_bytes + 3000);
  CHECK(eth0->rx_errors == 0);
  // The peer saw the same traffic the other way round.
  const auto peer = read_interface_counters(b.path());
  REQUIRE(find(peer, "peer0") != nullptr);
  CHECK(find(peer, "peer0")->rx_bytes >= 3000);
}

TEST_CASE("interface counters of a namespace that does not exist: not_found") {
  try {
    read_interface_counters("/run/netns/vpcri-t-does-not-exist");
    FAIL("no error");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
  }
}
