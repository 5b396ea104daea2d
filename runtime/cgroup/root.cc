#include "runtime/cgroup/root.h"

#include <algorithm>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/cgroup/mountinfo.h"

namespace vpcri::runtime::cgroup {

const std::vector<std::string>& v1_controllers() {
  static const std::vector<std::string> list = {"cpu",     "cpuacct", "cpuset",  "memory", "pids",
                                                "hugetlb", "blkio",   "devices", "freezer"};
  return list;
}

const std::vector<std::string>& default_v2_controllers() {
  static const std::vector<std::string> list = {"cpu", "cpuset", "io", "memory", "hugetlb", "pids"};
  return list;
}

std::map<std::string, std::string> parse_v1_mounts(std::string_view mountinfo, std::string_view root) {
  std::map<std::string, std::string> mounts;
  for (const CgroupMountEntry& m : parse_cgroup_mounts(mountinfo, root)) {
    if (m.fstype != "cgroup") continue;
    for (const std::string& opt : m.super_options) {
      bool wanted = std::find(v1_controllers().begin(), v1_controllers().end(), opt) != v1_controllers().end();
      // The first mount of a hierarchy wins; bind mounts of it elsewhere add nothing.
      if (wanted) mounts.emplace(opt, m.mountpoint);
    }
  }
  return mounts;
}

CgroupRoot discover_cgroup_root(const std::string& root, const std::string& mountinfo_path) {
  CgroupRoot out;
  out.mode = detect_cgroup_mode(root);
  switch (out.mode) {
    case CgroupMode::unified:
      out.unified_mount = root;
      return out;
    case CgroupMode::hybrid:
      out.unified_mount = root + "/unified";
      out.v2_controllers.clear();  // hybrid's cgroup2 carries no controllers; it only tracks
      break;
    case CgroupMode::legacy:
      out.v2_controllers.clear();
      break;
  }
  out.v1_mounts = parse_v1_mounts(fs::read_file(mountinfo_path), root);
  if (out.v1_mounts.empty())
    throw Error(Errc::failed_precondition, "no cgroup v1 controller is mounted under " + root + " (per " +
                                               mountinfo_path + "), yet " + root + " is not a cgroup2 mount");
  return out;
}

}  // namespace vpcri::runtime::cgroup
