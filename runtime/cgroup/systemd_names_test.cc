#include "runtime/cgroup/systemd_names.h"

#include <doctest/doctest.h>

#include <string>

#include "common/error.h"

using namespace vpcri::runtime::cgroup;
using vpcri::Errc;
using vpcri::Error;

TEST_CASE("a slice name expands the way systemd nests slices") {
  CHECK(expand_slice("kubepods.slice") == "/kubepods.slice");
  CHECK(expand_slice("kubepods-burstable.slice") == "/kubepods.slice/kubepods-burstable.slice");
  CHECK(expand_slice("kubepods-burstable-pod0b1c_2d3e.slice") ==
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b1c_2d3e.slice");
  CHECK(expand_slice("kubepods-besteffort-pod1.slice") ==
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice");
  CHECK(expand_slice("a.b-c.slice") == "/a.b.slice/a.b-c.slice");
}

TEST_CASE("slice names kubelet would never send are refused") {
  struct Case {
    std::string in, reason;
  } cases[] = {
      {"", "empty"},
      {"-.slice", "root slice"},
      {".slice", "not a slice unit name"},
      {"kubepods", "not a slice unit name"},
      {"kubepods.scope", "not a slice unit name"},
      {"/kubepods/burstable/pod1", "no '/'"},
      {"kubepods.slice/x.slice", "no '/'"},
      {"a--b.slice", "empty part"},
      {"-a.slice", "empty part"},
      {"a-.slice", "empty part"},
      {"kube\\x2dpods.slice", "letters, digits"},
      {"a b.slice", "letters, digits"},
      {"a:b:c", "letters, digits"},
      {std::string("a\0b.slice", 9), "letters, digits"},
      {"p\xc3\xbc.slice", "letters, digits"},
      {std::string(250, 'a') + ".slice", "255-byte"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    try {
      expand_slice(c.in);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK(std::string(e.what()).find(c.reason) != std::string::npos);
      CHECK(std::string(e.what()).find("cgroup_driver: systemd") != std::string::npos);
    }
  }
}

TEST_CASE("each container gets a scope named after its id") {
  CHECK(scope_unit_name("0123abcd") == "vpcri-0123abcd.scope");
  for (const char* bad : {"", "a/b", "a.b", "a b", "x\\y"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(scope_unit_name(bad), Error);
  }
  CHECK_THROWS_AS(scope_unit_name(std::string(250, 'a')), Error);
}

TEST_CASE("the unit of a cgroup path is its last component") {
  CHECK(unit_of_cgroup_path("/kubepods.slice/kubepods-pod1.slice/vpcri-ab.scope") == "vpcri-ab.scope");
  CHECK(unit_of_cgroup_path("/kubepods.slice/kubepods-pod1.slice") == "kubepods-pod1.slice");
  CHECK(unit_of_cgroup_path("/kubepods/pod1/ab") == "");
  CHECK(unit_of_cgroup_path("/a/.scope") == "");
}
