// The host's cgroup filesystems under /sys/fs/cgroup, as a container's private cgroup namespace
// mounts them again (init_rootfs.cc). vpcrid reads the layout once and hands it to every
// vpcri-init in its spec: reading /proc/self/mountinfo costs a container start time that grows
// with every mount of every pod on the node.
#pragma once

#include <string>
#include <vector>

namespace vpcri::runtime::container {

struct CgroupfsMount {
  std::string mountpoint;  // "/sys/fs/cgroup/memory", or "/sys/fs/cgroup" for a pure cgroup2 host
  std::string fstype;      // "cgroup" (v1) or "cgroup2"
  std::string data;        // mount data: a v1 hierarchy's controllers and name=, else empty
  bool operator==(const CgroupfsMount&) const = default;
};

struct CgroupfsSymlink {
  std::string name;    // "cpu", in /sys/fs/cgroup
  std::string target;  // "cpu,cpuacct"
  bool operator==(const CgroupfsSymlink&) const = default;
};

struct CgroupfsLayout {
  std::vector<CgroupfsMount> mounts;      // in the host's mount order; empty: none to mirror
  std::vector<CgroupfsSymlink> symlinks;  // how co-mounted v1 hierarchies are reached
  bool operator==(const CgroupfsLayout&) const = default;

  // A cgroup2 mount at /sys/fs/cgroup itself (unified hierarchy): nothing else to mount.
  bool unified() const;
};

constexpr const char* kCgroupfsRoot = "/sys/fs/cgroup";

// From this mount namespace's /proc/self/mountinfo and /sys/fs/cgroup. Throws vpcri::Error.
CgroupfsLayout read_cgroupfs_layout();

// The layout from mountinfo text and the symlinks found in /sys/fs/cgroup (pure, for tests).
CgroupfsLayout cgroupfs_layout_from(const std::string& mountinfo, std::vector<CgroupfsSymlink> symlinks);

}  // namespace vpcri::runtime::container
