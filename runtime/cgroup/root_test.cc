#include "runtime/cgroup/root.h"

#include <doctest/doctest.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include "common/error.h"
#include "runtime/cgroup/test_support.h"

using namespace vpcri::runtime::cgroup;
using vpcri::runtime::CgroupMode;

namespace {
const char* kMountinfo =
    "25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
    "33 25 0:28 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
    "34 33 0:29 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "35 33 0:30 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
    "36 33 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct\n"
    "37 33 0:32 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory\n"
    "38 33 0:33 / /sys/fs/cgroup/net_cls,net_prio rw shared:14 - cgroup cgroup rw,net_cls,net_prio\n"
    "39 33 0:34 / /sys/fs/cgroup/pids rw shared:15 - cgroup cgroup rw,pids\n"
    "40 33 0:35 / /sys/fs/cgroup/odd\\040name rw shared:16 - cgroup cgroup rw,hugetlb\n"
    "41 30 0:32 / /elsewhere/memory rw shared:13 - cgroup cgroup rw,memory\n"
    "42 33 0:36 / /sys/fs/cgroup/freezer rw shared:17 master:3 - cgroup cgroup rw,freezer\n"
    "garbage line\n";
}  // namespace

TEST_CASE("v1 controller mountpoints come from mountinfo") {
  auto mounts = parse_v1_mounts(kMountinfo, "/sys/fs/cgroup");
  CHECK(mounts == std::map<std::string, std::string>{
                      {"cpu", "/sys/fs/cgroup/cpu,cpuacct"},
                      {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
                      {"memory", "/sys/fs/cgroup/memory"},
                      {"pids", "/sys/fs/cgroup/pids"},
                      {"hugetlb", "/sys/fs/cgroup/odd name"},
                      {"freezer", "/sys/fs/cgroup/freezer"},
                  });
  // Mounts outside the root are ignored, even of a wanted controller.
  CHECK(parse_v1_mounts(kMountinfo, "/elsewhere") == std::map<std::string, std::string>{{"memory", "/elsewhere/memory"}});
  CHECK(parse_v1_mounts(kMountinfo, "/sys/fs/cgroupx").empty());
}

TEST_CASE("discovery on a plain directory reads v1 mounts from the given mountinfo") {
  testing::FakeTree t;
  t.put("mountinfo", "1 0 0:1 / " + t.root() + "/cg/memory rw - cgroup cgroup rw,memory\n");
  t.put("cg/memory/.keep", "");
  auto root = discover_cgroup_root(t.root() + "/cg", t.root() + "/mountinfo");
  CHECK(root.mode == CgroupMode::legacy);  // a tmp dir is no cgroup2 mount
  CHECK(root.v1_mounts == std::map<std::string, std::string>{{"memory", t.root() + "/cg/memory"}});
  CHECK(root.unified_mount.empty());
  CHECK(root.v2_controllers.empty());

  t.put("empty-mountinfo", "");
  try {
    discover_cgroup_root(t.root() + "/cg", t.root() + "/empty-mountinfo");
    FAIL("discovery without any cgroup mount must fail");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::failed_precondition);
    CHECK(std::string(e.what()).find("no cgroup v1 controller is mounted") != std::string::npos);
  }
}

TEST_CASE("discovery of this host matches the filesystems mounted there") {
  auto root = discover_cgroup_root();
  CHECK(root.mode == vpcri::runtime::detect_cgroup_mode("/sys/fs/cgroup"));
  for (const auto& [controller, mount] : root.v1_mounts) {
    CAPTURE(controller);
    struct statfs st {};
    REQUIRE(::statfs(mount.c_str(), &st) == 0);
    CHECK(st.f_type == CGROUP_SUPER_MAGIC);
  }
  if (!root.unified_mount.empty()) {
    struct statfs st {};
    REQUIRE(::statfs(root.unified_mount.c_str(), &st) == 0);
    CHECK(st.f_type == CGROUP2_SUPER_MAGIC);
  }
  CHECK((root.mode == CgroupMode::unified) == root.v1_mounts.empty());
}
