#include "runtime/cgroup/path.h"

#include <doctest/doctest.h>

#include <string>

#include "common/error.h"
#include "runtime/cgroup/apply.h"
#include "runtime/cgroup/cgroup.h"

using namespace vpcri::runtime::cgroup;
using vpcri::Errc;
using vpcri::Error;

namespace {
// The Errc and message of what `fn` threw; fails the test when it did not throw a vpcri::Error.
template <class Fn>
std::pair<Errc, std::string> error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  FAIL("expected a vpcri::Error");
  return {Errc::internal, ""};
}
}  // namespace

TEST_CASE("valid cgroup paths are canonicalised") {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"/kubepods/burstable/pod1234/abcdef", "/kubepods/burstable/pod1234/abcdef"},
      {"kubepods/pod1", "/kubepods/pod1"},
      {"//kubepods///pod1/", "/kubepods/pod1"},
      {"/kubepods/p\xc3\xbc", "/kubepods/p\xc3\xbc"},   // UTF-8 ü
      {"/a/b.c", "/a/b.c"},                              // "b" is no controller
      {"/a/memory_x", "/a/memory_x"},                    // no dot, no interface file
      {"/a/cpufoo.x/y", "/a/cpufoo.x/y"},
      {"/a/...", "/a/..."},                              // just a name
      {"/a/" + std::string(255, 'x'), "/a/" + std::string(255, 'x')},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    CHECK(validate_cgroup_path(c.in) == c.out);
  }
}

TEST_CASE("cgroup paths that could escape or collide are refused with the reason") {
  struct Case {
    std::string in, reason;
  } cases[] = {
      {"", "empty"},
      {"/", "root cgroup"},
      {"///", "root cgroup"},
      {"/a/../b", "\"..\" is not allowed"},
      {"../a", "\"..\" is not allowed"},
      {"/a/..", "\"..\" is not allowed"},
      {"/a/./b", "\".\" is not allowed"},
      {std::string("/a\0b", 4), "NUL or control"},
      {"/a\nb", "NUL or control"},
      {"/a/\x7f", "NUL or control"},
      {"/a/\xff", "not valid UTF-8"},
      {"/a/\xc0\xaf", "not valid UTF-8"},          // overlong '/'
      {"/a/\xed\xa0\x80", "not valid UTF-8"},      // UTF-16 surrogate
      {"/a/\xe2\x82", "not valid UTF-8"},          // truncated
      {"/a/" + std::string(256, 'x'), "NAME_MAX"},
      {"/a/cgroup.procs", "reserved"},
      {"/a/cgroup.kill", "reserved"},
      {"/a/memory.limit_in_bytes", "reserved"},
      {"/a/cpu.max", "reserved"},
      {"/a/cpuset.cpus/b", "reserved"},
      {"/a/hugetlb.2MB.max", "reserved"},
      {"/a/tasks", "interface file"},
      {"/a/release_agent", "interface file"},
      {"/a/notify_on_release", "interface file"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    auto [code, message] = error_of([&] { validate_cgroup_path(c.in); });
    CHECK(code == Errc::invalid_argument);
    CHECK(message.find(c.reason) != std::string::npos);
    CHECK(message.find("invalid cgroup path") != std::string::npos);
  }
}

TEST_CASE("the systemd driver's expanded slices and scopes are valid paths") {
  CHECK(validate_cgroup_path("/kubepods.slice/kubepods-pod1.slice/vpcri-ab.scope") ==
        "/kubepods.slice/kubepods-pod1.slice/vpcri-ab.scope");
}

TEST_CASE("a cgroup parent from a request must look like one kubelet's cgroupfs driver makes") {
  CHECK(validate_cgroup_parent("/kubepods/burstable/pod0b1c-2d_3.x") == "/kubepods/burstable/pod0b1c-2d_3.x");
  CHECK(validate_cgroup_parent("kubepods//besteffort/") == "/kubepods/besteffort");
  struct Case {
    std::string in, reason;
  } cases[] = {
      {"/vpcri-fuzz.slice:cri:x", "systemd driver"},      // left behind by a fuzzer once
      {"/kubepods:burstable", "systemd driver"},
      {"kubepods-burstable-pod1.slice", "systemd slice"},
      {"/kubepods.slice/x", "systemd slice"},
      {"/kubepods/p\xc3\xbc", "letters, digits"},           // UTF-8, yet no name kubelet makes
      {"/a b", "letters, digits"},
      {"/a/$x", "letters, digits"},
      {"/a/../b", "\"..\" is not allowed"},                // validate_cgroup_path's rules first
      {"/", "root cgroup"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    auto [code, message] = error_of([&] { validate_cgroup_parent(c.in); });
    CHECK(code == Errc::invalid_argument);
    CHECK(message.find(c.reason) != std::string::npos);
  }
}

TEST_CASE("child cgroup names join as one component") {
  CHECK(join_cgroup_path("/kubepods/pod1", "abc") == "/kubepods/pod1/abc");
  for (std::string bad : {"", "a/b", "..", "/abc", "cgroup.procs"}) {
    CAPTURE(bad);
    CHECK(error_of([&] { join_cgroup_path("/kubepods/pod1", bad); }).first == Errc::invalid_argument);
  }
}

TEST_CASE("a Cgroup handle resolves its directories under the mountpoints only") {
  CgroupRoot v1;
  v1.mode = vpcri::runtime::CgroupMode::hybrid;
  v1.v1_mounts = {{"cpu", "/cg/cpu,cpuacct"}, {"cpuacct", "/cg/cpu,cpuacct"}, {"memory", "/cg/memory"}};
  v1.unified_mount = "/cg/unified";
  Cgroup cg(v1, "kubepods//pod1/c1/");
  CHECK(cg.path() == "/kubepods/pod1/c1");
  CHECK(cg.controller_dir("memory") == "/cg/memory/kubepods/pod1/c1");
  CHECK(cg.controller_dir("cpuacct") == "/cg/cpu,cpuacct/kubepods/pod1/c1");
  CHECK(cg.controller_dir("hugetlb").empty());
  CHECK(cg.unified_dir() == "/cg/unified/kubepods/pod1/c1");
  CHECK(cg.directories() == std::vector<std::string>{"/cg/cpu,cpuacct/kubepods/pod1/c1", "/cg/memory/kubepods/pod1/c1",
                                                      "/cg/unified/kubepods/pod1/c1"});

  CHECK(error_of([&] { Cgroup(v1, "/kubepods/../../etc"); }).first == Errc::invalid_argument);

  CgroupRoot v2;
  v2.mode = vpcri::runtime::CgroupMode::unified;
  v2.unified_mount = "/cg";
  CHECK(Cgroup(v2, "/k/c").controller_dir("memory") == "/cg/k/c");
  CgroupRoot broken;  // unified mode without a mountpoint
  CHECK(error_of([&] { Cgroup(broken, "/k/c"); }).first == Errc::invalid_argument);
}

TEST_CASE("cpu.shares convert to cpu.weight as runc does") {
  struct Case {
    uint64_t shares, weight;
  } cases[] = {{2, 1}, {0, 1}, {1, 1}, {102, 4}, {512, 20}, {1024, 39}, {2048, 79}, {262144, 10000}, {1000000, 10000}};
  for (const auto& c : cases) {
    CAPTURE(c.shares);
    CHECK(cpu_shares_to_weight(c.shares) == c.weight);
  }
}

TEST_CASE("the memory+swap limit converts to memory.swap.max") {
  struct Case {
    int64_t swap, memory, expected;
  } cases[] = {
      {0, 0, 0},          {0, 100, 0},     // unset stays unset
      {-1, 100, -1},      {-1, 0, -1},     // unlimited
      {0, -1, -1},                         // unlimited memory, swap unset: both unlimited
      {300, 100, 200},    {100, 100, 0},   // equal: no swap
  };
  for (const auto& c : cases) {
    CAPTURE(c.swap);
    CAPTURE(c.memory);
    CHECK(memory_swap_to_v2(c.swap, c.memory) == c.expected);
  }
  CHECK(error_of([] { memory_swap_to_v2(50, 100); }).second.find("below memory_limit_in_bytes") != std::string::npos);
  CHECK(error_of([] { memory_swap_to_v2(100, 0); }).first == Errc::invalid_argument);
  CHECK(error_of([] { memory_swap_to_v2(100, -1); }).first == Errc::invalid_argument);
}

TEST_CASE("resource requests are validated before anything is written") {
  LinuxResources ok;
  ok.hugepage_limits = {{"2MB", 0}, {"1GB", 1 << 30}, {"64KB", 65536}};
  ok.cpuset_cpus = "0-3,6";
  ok.unified = {{"memory.high", "max"}, {"io.max", "8:0 rbps=1000"}, {"hugetlb.2MB.rsvd.max", "0"}};
  CHECK_NOTHROW(validate_resources(ok, true));

  auto refused = [](const LinuxResources& r, bool v2, const std::string& reason) {
    auto [code, message] = error_of([&] { validate_resources(r, v2); });
    CHECK(code == Errc::invalid_argument);
    CHECK(message.find(reason) != std::string::npos);
  };
  for (std::string size : {"2M", "2mb", "0MB", "MB", "2MB/../x", "-2MB"}) {
    CAPTURE(size);
    LinuxResources r;
    r.hugepage_limits = {{size, 1}};
    refused(r, true, "invalid hugepage size");
  }
  LinuxResources cpus;
  cpus.cpuset_cpus = "0\n1";
  refused(cpus, true, "invalid cpuset_cpus");
  for (std::string key : {"cgroup.procs", "cgroup.subtree_control", "memory", "../memory.max", "memory/x.max",
                          "memory high", "memory.high\n", ".max", "memory.", "memory..max"}) {
    CAPTURE(key);
    LinuxResources r;
    r.unified = {{key, "1"}};
    refused(r, true, "invalid unified cgroup key");
  }
  LinuxResources nul;
  nul.unified = {{"memory.high", std::string("1\0", 2)}};
  refused(nul, true, "NUL");
  LinuxResources on_v1;
  on_v1.unified = {{"memory.high", "1"}};
  refused(on_v1, false, "v1");
}
