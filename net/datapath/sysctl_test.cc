#include "net/datapath/sysctl.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/test_support.h"

using vpcri::net::NamedNetNs;
using vpcri::net::read_net_sysctl;
using vpcri::net::run_in_netns;
namespace t = vpcri::net::testing;

TEST_CASE("sysctls are set in the calling thread's namespace only") {
  std::string host_forwarding = read_net_sysctl("ipv4/ip_forward");
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + t::random_tag() + "-node");
  auto ns = node.open();

  run_in_netns(ns, [] {
    vpcri::net::enable_ipv4_forwarding();
    vpcri::net::set_rp_filter_loose("lo");
  });
  CHECK(run_in_netns(ns, [] { return read_net_sysctl("ipv4/ip_forward"); }) == "1");
  CHECK(run_in_netns(ns, [] { return read_net_sysctl("ipv4/conf/lo/rp_filter"); }) == "2");
  CHECK(read_net_sysctl("ipv4/ip_forward") == host_forwarding);  // the host was not touched
}

TEST_CASE("rp_filter refuses names that would escape /proc/sys") {
  CHECK_THROWS_AS(vpcri::net::set_rp_filter_loose("../all"), vpcri::Error);
  CHECK_THROWS_AS(vpcri::net::set_rp_filter_loose(""), vpcri::Error);
  CHECK_THROWS_AS(vpcri::net::set_rp_filter_loose(".."), vpcri::Error);
}

TEST_CASE("rp_filter on a missing interface fails with not_found") {
  NamedNetNs node = NamedNetNs::create("vpcri-t-" + t::random_tag() + "-node");
  try {
    run_in_netns(node.open(), [] { vpcri::net::set_rp_filter_loose("eth9"); });
    FAIL("no error");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::not_found);
    CHECK(std::string(e.what()).find("eth9") != std::string::npos);
  }
}
