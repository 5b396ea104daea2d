#include "net/cidr.h"

#include <doctest/doctest.h>

using vpcri::net::Cidr;
using vpcri::net::IpAddress;

TEST_CASE("IPv4 and IPv6 CIDRs parse and print back") {
  CHECK(Cidr::parse("10.244.1.0/24")->to_string() == "10.244.1.0/24");
  CHECK(Cidr::parse("fd00:10::/64")->to_string() == "fd00:10::/64");
  CHECK(Cidr::parse("0.0.0.0/0")->prefix_len == 0);
}

TEST_CASE("bad CIDRs are refused with a reason") {
  std::string why;
  CHECK_FALSE(Cidr::parse("10.244.1.0", &why));
  CHECK(why.find("prefix") != std::string::npos);
  CHECK_FALSE(Cidr::parse("10.244.1.1/24", &why));
  CHECK(why.find("host bits") != std::string::npos);
  CHECK_FALSE(Cidr::parse("10.244.1.0/33", &why));
  CHECK_FALSE(Cidr::parse("10.244.1.0/-1", &why));
  CHECK_FALSE(Cidr::parse("10.244.1.0/2x", &why));
  CHECK_FALSE(Cidr::parse("nope/8", &why));
  CHECK_FALSE(Cidr::parse("fd00::1/64", &why));
}

TEST_CASE("contains checks the prefix bits only") {
  auto c = *Cidr::parse("10.244.0.0/15");
  CHECK(c.contains(*IpAddress::parse("10.245.3.4")));
  CHECK_FALSE(c.contains(*IpAddress::parse("10.246.0.1")));
  CHECK_FALSE(c.contains(*IpAddress::parse("::1")));
}
