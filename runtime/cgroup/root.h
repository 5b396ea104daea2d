// Where the host's cgroup hierarchies are mounted. Every cgroup operation goes through a
// CgroupRoot, so tests can point it at a fake directory tree instead of /sys/fs/cgroup.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cgroup_mode.h"

namespace vpcri::runtime::cgroup {

// The v1 controllers a container is placed in (one directory per hierarchy holding them).
const std::vector<std::string>& v1_controllers();

// The controllers vpcri asks for on a cgroup2-only host (enabled down the path when offered).
const std::vector<std::string>& default_v2_controllers();

struct CgroupRoot {
  CgroupMode mode = CgroupMode::unified;
  // legacy / hybrid: controller -> mountpoint of the v1 hierarchy holding it. Co-mounted
  // controllers ("cpu,cpuacct") map to the same directory. Absent = not available on this host.
  std::map<std::string, std::string> v1_mounts;
  // The cgroup2 mountpoint: the whole hierarchy in unified mode; in hybrid mode the
  // controller-less tree used only to track processes; empty in legacy mode.
  std::string unified_mount;
  // unified mode: controllers to enable in cgroup.subtree_control on the way down to a cgroup.
  // Those a level does not offer (cgroup.controllers) are skipped, not an error.
  std::vector<std::string> v2_controllers = default_v2_controllers();
};

// Inspects the host: layout from detect_cgroup_mode(root), v1 mountpoints from the cgroup
// mounts under `root` listed in `mountinfo_path`. Throws vpcri::Error if nothing is mounted.
CgroupRoot discover_cgroup_root(const std::string& root = "/sys/fs/cgroup",
                                const std::string& mountinfo_path = "/proc/self/mountinfo");

// The v1 part of discovery, on mountinfo text: controller -> mountpoint for the "cgroup"
// (v1) mounts at or under `root`. Exposed for tests.
std::map<std::string, std::string> parse_v1_mounts(std::string_view mountinfo, std::string_view root);

}  // namespace vpcri::runtime::cgroup
