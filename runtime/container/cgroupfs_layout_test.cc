// The host's cgroup layout as containers mount it again: v1 hierarchies with their controllers
// as mount data (without the first mount's options), hybrid's cgroup2, or one unified cgroup2.
#include "runtime/container/cgroupfs_layout.h"

#include <doctest/doctest.h>

using namespace vpcri::runtime::container;

TEST_CASE("a hybrid host: each hierarchy with its controllers, and the co-mount symlinks") {
  const std::string mountinfo =
      "24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
      "28 24 0:25 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
      "29 28 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
      "30 28 0:27 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
      "33 28 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct\n"
      "34 28 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory,release_agent=/x\n"
      "90 1 0:50 / /var/lib/x rw - ext4 /dev/vda rw\n";
  CgroupfsLayout layout = cgroupfs_layout_from(mountinfo, {{"cpu", "cpu,cpuacct"}, {"cpuacct", "cpu,cpuacct"}});
  CHECK_FALSE(layout.unified());
  CHECK(layout.mounts == std::vector<CgroupfsMount>{{"/sys/fs/cgroup/unified", "cgroup2", ""},
                                                     {"/sys/fs/cgroup/systemd", "cgroup", "xattr,name=systemd"},
                                                     {"/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cpu,cpuacct"},
                                                     {"/sys/fs/cgroup/memory", "cgroup", "memory"}});
  CHECK(layout.symlinks == std::vector<CgroupfsSymlink>{{"cpu", "cpu,cpuacct"}, {"cpuacct", "cpu,cpuacct"}});
}

TEST_CASE("a unified host: one cgroup2 mount; no cgroupfs: nothing") {
  const std::string unified = "28 24 0:25 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
  CgroupfsLayout layout = cgroupfs_layout_from(unified, {{"stray", "x"}});
  CHECK(layout.unified());
  CHECK(layout.mounts == std::vector<CgroupfsMount>{{"/sys/fs/cgroup", "cgroup2", ""}});
  CHECK(layout.symlinks.empty());

  CgroupfsLayout none = cgroupfs_layout_from("24 1 0:22 / /sys rw - sysfs sysfs rw\n", {});
  CHECK(none.mounts.empty());
  CHECK_FALSE(none.unified());
}

TEST_CASE("this machine's layout reads as its mountinfo says") {
  CgroupfsLayout layout = read_cgroupfs_layout();
  for (const CgroupfsMount& m : layout.mounts) {
    CHECK(m.mountpoint.rfind(kCgroupfsRoot, 0) == 0);
    CHECK((m.fstype == "cgroup" || m.fstype == "cgroup2"));
    CHECK(m.data.find("release_agent") == std::string::npos);
  }
  if (layout.unified()) CHECK(layout.symlinks.empty());
}
