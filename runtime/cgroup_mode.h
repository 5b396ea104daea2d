// Which cgroup hierarchy layout the host uses. Decides how container cgroups are created.
#pragma once

#include <string>

namespace vpcri::runtime {

enum class CgroupMode {
  legacy,   // v1 controllers only
  hybrid,   // v1 controllers, plus a controller-less cgroup2 at <root>/unified (systemd's hybrid)
  unified,  // cgroup2 only
};

const char* cgroup_mode_name(CgroupMode mode);

// Inspects the filesystem types under `root` (normally /sys/fs/cgroup).
CgroupMode detect_cgroup_mode(const std::string& root = "/sys/fs/cgroup");

}  // namespace vpcri::runtime
