#include "net/datapath/host_veth_name.h"

#include <doctest/doctest.h>

#include "common/error.h"

using vpcri::Errc;
using vpcri::Error;
using vpcri::net::host_veth_name;

// Expected values from `printf 'default.nginx' | sha1sum` = c440f455693b69cdd48a37aa5ecd78038f50413d.
TEST_CASE("host veth name is the prefix plus 11 hex chars of sha1(namespace.pod)") {
  CHECK(host_veth_name("default", "nginx") == "enic440f455693");
  // printf 'kube-system.coredns-5d78c9869d-abcde' | sha1sum = 4d5f75c480cc7f4e...
  CHECK(host_veth_name("kube-system", "coredns-5d78c9869d-abcde") == "eni4d5f75c480c");
  CHECK(host_veth_name("default", "nginx").size() == 14);
}

TEST_CASE("host veth name prefix is configurable within the 15-character limit") {
  CHECK(host_veth_name("default", "nginx", "pod") == "podc440f455693");
  CHECK(host_veth_name("default", "nginx", "vpcr") == "vpcrc440f455693");
  CHECK(host_veth_name("default", "nginx", "vpcr").size() == 15);
}

TEST_CASE("host veth name refuses prefixes that cannot or must not be used") {
  for (const char* bad : {"", "toolong", "e-n", "eth", "lo", "vlan", "a/b"}) {
    CAPTURE(bad);
    try {
      host_veth_name("default", "nginx", bad);
      FAIL("accepted prefix");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK(std::string(e.what()).find("prefix") != std::string::npos);
    }
  }
}

TEST_CASE("different pods get different names, the same pod always the same") {
  CHECK(host_veth_name("default", "a") != host_veth_name("default", "b"));
  CHECK(host_veth_name("ns1", "a") != host_veth_name("ns2", "a"));
  CHECK(host_veth_name("ns1", "a") == host_veth_name("ns1", "a"));
}
