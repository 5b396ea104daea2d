#include "net/datapath/netns.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "common/error.h"
#include "common/fs.h"
#include "net/datapath/named_netns.h"
#include "net/datapath/netns_file.h"
#include "net/datapath/test_support.h"

using vpcri::Errc;
using vpcri::Error;
using vpcri::net::NamedNetNs;
using vpcri::net::NetNs;
using vpcri::net::NetNsGuard;
using vpcri::net::run_in_netns;
namespace t = vpcri::net::testing;

namespace {

Errc error_code_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("no vpcri::Error thrown");
  return Errc::internal;
}

}  // namespace

TEST_CASE("NetNs opens namespaces and compares them") {
  NetNs self = NetNs::current();
  CHECK(self.fd() >= 0);
  CHECK(self.same_as(NetNs::of_pid(::getpid())));
  CHECK(self.same_as(NetNs::open("/proc/self/ns/net")));
  NetNs copy = NetNs::dup_fd(self.fd(), "copy");
  CHECK(copy.fd() != self.fd());
  CHECK(copy.same_as(self));
}

TEST_CASE("NetNs refuses what is not a network namespace") {
  CHECK(error_code_of([] { NetNs::open("/run/netns/vpcri-t-does-not-exist"); }) == Errc::not_found);
  CHECK(error_code_of([] { NetNs::open("/proc/self/ns/uts"); }) == Errc::invalid_argument);
  CHECK(error_code_of([] { NetNs::open("/proc/self/status"); }) == Errc::invalid_argument);
  CHECK(error_code_of([] { NetNs::named("../etc"); }) == Errc::invalid_argument);
  CHECK(error_code_of([] { NetNs::dup_fd(-1, "nothing"); }) == Errc::invalid_argument);
}

TEST_CASE("NamedNetNs makes a namespace like ip netns add, and removes it") {
  std::string name = "vpcri-t-" + t::random_tag();
  std::string path = "/run/netns/" + name;
  {
    NamedNetNs ns = NamedNetNs::create(name);
    CHECK(ns.path() == path);
    CHECK(vpcri::fs::exists(path));
    CHECK_FALSE(ns.open().same_as(NetNs::current()));
    CHECK(ns.open().same_as(NetNs::named(name)));
    // iproute2 sees it, and it holds nothing but lo.
    auto links = t::ip_json(name, {"link", "show"});
    REQUIRE(links.size() == 1);
    CHECK(links[0]["ifname"] == "lo");
    CHECK(error_code_of([&] { NamedNetNs::create(name); }) == Errc::already_exists);
    NamedNetNs moved(std::move(ns));
    CHECK(vpcri::fs::exists(path));
  }
  CHECK_FALSE(vpcri::fs::exists(path));
}

TEST_CASE("run_in_netns runs on another thread inside the namespace and leaves the caller alone") {
  NamedNetNs named = NamedNetNs::create("vpcri-t-" + t::random_tag());
  NetNs target = named.open();
  NetNs before = NetNs::current();

  bool inside = run_in_netns(target, [&] { return NetNs::current().same_as(target); });
  CHECK(inside);
  CHECK(NetNs::current().same_as(before));

  CHECK_THROWS_AS(run_in_netns(target, [] { throw std::logic_error("boom"); }), std::logic_error);
  CHECK(NetNs::current().same_as(before));

  int calls = 0;
  run_in_netns(target, [&] { ++calls; });
  CHECK(calls == 1);
}

TEST_CASE("NetNsGuard enters a namespace and returns even when unwinding") {
  NamedNetNs named = NamedNetNs::create("vpcri-t-" + t::random_tag());
  NetNs target = named.open();
  NetNs before = NetNs::current();
  {
    NetNsGuard guard(target);
    CHECK(NetNs::current().same_as(target));
  }
  CHECK(NetNs::current().same_as(before));
  try {
    NetNsGuard guard(target);
    throw std::runtime_error("unwind");
  } catch (const std::runtime_error&) {
  }
  CHECK(NetNs::current().same_as(before));
}

TEST_CASE("a pod's netns file comes with lo up; a plain one with lo down") {
  char dir_template[] = "/tmp/vpcri-t-netnsfile-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  std::string dir = dir_template;
  std::string pod = dir + "/pod", plain = dir + "/plain";
  auto lo_flags = [](const std::string& path) {
    auto links = nlohmann::json::parse(t::run_ok({"nsenter", "--net=" + path, "ip", "-j", "link", "show", "lo"}));
    return links.at(0).at("flags");
  };
  auto has_up = [](const nlohmann::json& flags) {
    return std::find(flags.begin(), flags.end(), "UP") != flags.end();
  };
  try {
    vpcri::net::create_pod_netns_file(pod);
    vpcri::net::create_netns_file(plain);
    CHECK(has_up(lo_flags(pod)));
    CHECK_FALSE(has_up(lo_flags(plain)));
  } catch (...) {
    vpcri::net::remove_netns_file(pod);
    vpcri::net::remove_netns_file(plain);
    ::rmdir(dir.c_str());
    throw;
  }
  vpcri::net::remove_netns_file(pod);
  vpcri::net::remove_netns_file(plain);
  CHECK_FALSE(vpcri::fs::exists(pod));
  ::rmdir(dir.c_str());
}
