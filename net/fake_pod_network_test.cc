// The fake must behave like PodNetworks where the CRI layer can tell: error codes, idempotence.
#include "net/fake_pod_network.h"

#include <doctest/doctest.h>

using vpcri::Errc;
using vpcri::Error;
using namespace vpcri::net;

TEST_CASE("fake pod network: IPs, host port conflicts, exhaustion, restore") {
  FakePodNetwork net(2);
  CHECK_FALSE(net.ready());
  net.restore({});
  CHECK(net.ready());
  PortMapping port{PortProtocol::tcp, 80, 8080, ""};
  AttachResult a = net.attach({"a", "default", "pa", "/proc/1/ns/net", {port}});
  CHECK(net.lookup("a")->ip == a.ip);
  try {
    net.attach({"b", "default", "pb", "/proc/1/ns/net", {port}});
    FAIL("no conflict");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::already_exists);
  }
  AttachResult b = net.attach({"b", "default", "pb", "/proc/1/ns/net", {}});
  CHECK(a.ip != b.ip);
  try {
    net.attach({"c", "default", "pc", "/proc/1/ns/net", {}});
    FAIL("no exhaustion");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::resource_exhausted);
  }
  net.detach("b");
  net.detach("b");
  auto summary = net.restore({LiveSandbox{"a", {port}}, LiveSandbox{"z", {}}});
  CHECK(summary.kept == std::vector<std::string>{"a"});
  CHECK(summary.live_without_ip == std::vector<std::string>{"z"});
  net.not_ready_reason_override = "testing";
  CHECK_FALSE(net.ready());
}
