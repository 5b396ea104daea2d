#include "runtime/container/cgroupfs_layout.h"

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/cgroup/mountinfo.h"

namespace vpcri::runtime::container {
namespace {

// v1 mount data for the same hierarchy as the host's: its controllers and name=, without the
// options that only the first mount may set.
std::string cgroup_v1_data(const std::vector<std::string>& super_options) {
  std::string data;
  for (const std::string& o : super_options) {
    if (o == "rw" || o == "ro" || o.rfind("release_agent=", 0) == 0) continue;
    data += (data.empty() ? "" : ",") + o;
  }
  return data;
}

}  // namespace

bool CgroupfsLayout::unified() const {
  return !mounts.empty() && mounts.front().mountpoint == kCgroupfsRoot && mounts.front().fstype == "cgroup2";
}

CgroupfsLayout cgroupfs_layout_from(const std::string& mountinfo, std::vector<CgroupfsSymlink> symlinks) {
  CgroupfsLayout layout;
  for (const cgroup::CgroupMountEntry& m : cgroup::parse_cgroup_mounts(mountinfo, kCgroupfsRoot)) {
    layout.mounts.push_back({m.mountpoint, m.fstype, m.fstype == "cgroup" ? cgroup_v1_data(m.super_options) : ""});
  }
  if (!layout.unified() && !layout.mounts.empty()) layout.symlinks = std::move(symlinks);
  return layout;
}

CgroupfsLayout read_cgroupfs_layout() {
  std::string mountinfo = fs::read_file("/proc/self/mountinfo");
  std::vector<CgroupfsSymlink> symlinks;
  namespace stdfs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(kCgroupfsRoot, ec)) {
    if (!entry.is_symlink(ec)) continue;
    std::string target = stdfs::read_symlink(entry.path(), ec).string();
    if (ec || target.empty()) continue;
    symlinks.push_back({entry.path().filename().string(), target});
  }
  return cgroupfs_layout_from(mountinfo, std::move(symlinks));
}

}  // namespace vpcri::runtime::container
