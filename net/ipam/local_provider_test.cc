#include "net/ipam/local_provider.h"

#include <doctest/doctest.h>

#include <functional>

#include "common/error.h"

using namespace vpcri::net::ipam;
using vpcri::Errc;
using vpcri::Error;
using vpcri::net::Cidr;
using vpcri::net::IpAddress;

namespace {

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }

LocalProviderConfig config(const std::string& range, int max_enis = 3, int ips_per_eni = 10) {
  LocalProviderConfig c;
  c.node_range = *Cidr::parse(range);
  c.max_enis = max_enis;
  c.ips_per_eni = ips_per_eni;
  return c;
}

ProviderErrc provider_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ProviderError& e) {
    return e.kind();
  }
  FAIL("expected a ProviderError");
  return ProviderErrc::other;
}

}  // namespace

TEST_CASE("the node range is carved into ENIs of ips_per_eni addresses, primary IP first") {
  LocalProvider p(config("10.1.0.0/24"));
  NodeInfo node = p.describe_node();
  CHECK(node.max_enis == 3);
  CHECK(node.ips_per_eni == 10);
  CHECK(node.primary_eni_id == "eni-local-0");
  CHECK(node.primary_device_number == 0);
  CHECK(node.primary_ip == ip("10.1.0.1"));
  CHECK(node.subnet_cidr == *Cidr::parse("10.1.0.0/24"));

  auto enis = p.list_enis();
  REQUIRE(enis.size() == 1);
  CHECK(enis[0].id == "eni-local-0");
  CHECK(enis[0].secondary_ips.empty());

  CHECK(p.assign_ips("eni-local-0", 3) == std::vector<IpAddress>{ip("10.1.0.2"), ip("10.1.0.3"), ip("10.1.0.4")});
  EniInfo eni1 = p.create_eni();
  CHECK(eni1.id == "eni-local-1");
  CHECK(eni1.device_number == 1);
  CHECK(eni_route_table(eni1.device_number) == 2);
  CHECK(eni1.primary_ip == ip("10.1.0.11"));
  auto ips = p.assign_ips("eni-local-1", 9);
  CHECK(ips.front() == ip("10.1.0.12"));
  CHECK(ips.back() == ip("10.1.0.20"));
  // The ENI is full: its 10 addresses include the primary.
  CHECK(provider_error_of([&] { p.assign_ips("eni-local-1", 1); }) == ProviderErrc::eni_limit_reached);
  CHECK(p.create_eni().primary_ip == ip("10.1.0.21"));
  CHECK(provider_error_of([&] { p.create_eni(); }) == ProviderErrc::eni_limit_reached);
  CHECK(p.list_enis().size() == 3);
}

TEST_CASE("the same range and the same calls give the same ENIs and IPs") {
  auto run = [] {
    LocalProvider p(config("192.168.8.0/24", 4, 8));
    p.assign_ips("eni-local-0", 5);
    EniInfo a = p.create_eni();
    p.assign_ips(a.id, 7);
    p.unassign_ips(a.id, {ip("192.168.8.11"), ip("192.168.8.13")});
    p.create_eni();
    p.delete_eni(a.id);
    EniInfo again = p.create_eni();  // the lowest free device number comes back
    CHECK(again.id == a.id);
    CHECK(again.primary_ip == a.primary_ip);
    p.assign_ips(again.id, 2);
    return p.list_enis();
  };
  auto first = run();
  auto second = run();
  CHECK(first == second);
  REQUIRE(first.size() == 3);
  CHECK(first[1].secondary_ips == std::vector<IpAddress>{ip("192.168.8.10"), ip("192.168.8.11")});
}

TEST_CASE("unassigned IPs come back lowest first; bad calls change nothing") {
  LocalProvider p(config("10.1.0.0/24"));
  p.assign_ips("eni-local-0", 4);  // .2 .3 .4 .5
  p.unassign_ips("eni-local-0", {ip("10.1.0.3")});
  CHECK(p.assign_ips("eni-local-0", 1) == std::vector<IpAddress>{ip("10.1.0.3")});

  // One unknown IP in the batch: nothing is unassigned.
  CHECK(provider_error_of([&] { p.unassign_ips("eni-local-0", {ip("10.1.0.2"), ip("10.1.0.9")}); }) ==
        ProviderErrc::other);
  CHECK(p.list_enis()[0].secondary_ips.size() == 4);
  CHECK(provider_error_of([&] { p.delete_eni("eni-local-0"); }) == ProviderErrc::other);
  CHECK(provider_error_of([&] { p.delete_eni("eni-local-2"); }) == ProviderErrc::other);
  CHECK(provider_error_of([&] { p.assign_ips("eni-other", 1); }) == ProviderErrc::other);
  CHECK(provider_error_of([&] { p.assign_ips("eni-local-01", 1); }) == ProviderErrc::other);
  CHECK(provider_error_of([&] { p.assign_ips("eni-local-0", 0); }) == ProviderErrc::other);
}

TEST_CASE("small ranges get fewer ENIs; unusable configurations are refused") {
  CHECK(LocalProvider(config("10.1.0.0/27")).max_enis() == 3);   // 30 usable
  CHECK(LocalProvider(config("10.1.0.0/28")).max_enis() == 1);   // 14 usable
  CHECK(LocalProvider(config("10.1.0.0/28", 3, 4)).max_enis() == 3);
  auto code_of = [](const LocalProviderConfig& c) {
    try {
      LocalProvider p(c);
    } catch (const Error& e) {
      return e.code();
    }
    FAIL("configuration accepted");
    return Errc::internal;
  };
  CHECK(code_of(config("10.1.0.0/30")) == Errc::invalid_argument);
  CHECK(code_of(config("10.1.0.0/24", 0)) == Errc::invalid_argument);
  CHECK(code_of(config("10.1.0.0/24", 3, 1)) == Errc::invalid_argument);
  CHECK(code_of(config("fd00::/64")) == Errc::unimplemented);
}

TEST_CASE("adopt_enis takes the state back from a checkpoint, or refuses it whole") {
  LocalProvider before(config("10.1.0.0/24"));
  before.assign_ips("eni-local-0", 9);
  EniInfo eni1 = before.create_eni();
  before.assign_ips(eni1.id, 2);
  auto saved = before.list_enis();

  LocalProvider after(config("10.1.0.0/24"));
  after.adopt_enis(saved);
  CHECK(after.list_enis() == saved);
  CHECK(after.assign_ips(eni1.id, 1) == std::vector<IpAddress>{ip("10.1.0.14")});
  CHECK(after.create_eni().id == "eni-local-2");

  // The node range changed: every mismatch names the ENI, and nothing is adopted.
  LocalProvider moved(config("10.2.0.0/24"));
  try {
    moved.adopt_enis(saved);
    FAIL("adopted ENIs of another range");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::failed_precondition);
    std::string msg = e.what();
    CHECK(msg.find("checkpoint ENI eni-local-0") != std::string::npos);
    CHECK(msg.find("node range 10.2.0.0/24") != std::string::npos);
  }
  CHECK(moved.list_enis().size() == 1);
  CHECK(moved.list_enis()[0].secondary_ips.empty());

  // Fewer ENIs configured than the checkpoint has.
  LocalProvider fewer(config("10.1.0.0/24", 1));
  CHECK_THROWS_AS(fewer.adopt_enis(saved), Error);

  auto bad = saved;
  bad[1].secondary_ips.push_back(ip("10.1.0.5"));  // an address of another ENI's block
  CHECK_THROWS_AS(after.adopt_enis(bad), Error);
}
