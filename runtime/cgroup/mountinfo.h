// The cgroup filesystems the host has mounted, from /proc/self/mountinfo text. Used by the
// daemon (where the v1 hierarchies are) and by vpcri-init (to mount the same layout in a
// container's private cgroup namespace).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vpcri::runtime::cgroup {

struct CgroupMountEntry {
  std::string mountpoint;                  // "/sys/fs/cgroup/memory" (unescaped)
  std::string fstype;                      // "cgroup" (v1) or "cgroup2"
  std::vector<std::string> super_options;  // "rw", "memory", "name=systemd", "nsdelegate", ...
};

// Every cgroup / cgroup2 mount at or under `root`, in mountinfo order.
std::vector<CgroupMountEntry> parse_cgroup_mounts(std::string_view mountinfo, std::string_view root);

}  // namespace vpcri::runtime::cgroup
