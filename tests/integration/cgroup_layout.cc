#include "tests/integration/cgroup_layout.h"

#include <linux/magic.h>
#include <sys/vfs.h>

#include <doctest/doctest.h>

#include <filesystem>

namespace vpcri::test {

bool unified_cgroups() {
  struct statfs st {};
  return ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

std::vector<std::string> cgroup_hierarchies() {
  if (unified_cgroups()) return {"/sys/fs/cgroup"};  // its subdirectories are cgroups
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/sys/fs/cgroup"))
    if (e.is_directory() && !e.is_symlink()) out.push_back(e.path().string());
  return out;
}

bool cgroup_anywhere(const std::string& cgroup_path) {
  for (const std::string& h : cgroup_hierarchies())
    if (std::filesystem::exists(h + cgroup_path)) return true;
  return false;
}

std::string memory_cgroup_dir(const std::string& cgroup_path) {
  return (unified_cgroups() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory") + cgroup_path;
}

std::string memory_limit_file() { return unified_cgroups() ? "memory.max" : "memory.limit_in_bytes"; }

std::string container_cgroup_path(Daemon& d, const std::string& id) {
  runtime::v1::ContainerStatusRequest req;
  req.set_container_id(id);
  req.set_verbose(true);
  runtime::v1::ContainerStatusResponse resp;
  REQUIRE(d.runtime().ContainerStatus(context().get(), req, &resp).ok());
  const std::string& info = resp.info().at("info");
  auto pos = info.find("\"cgroup\":\"");
  REQUIRE(pos != std::string::npos);
  pos += 10;
  return info.substr(pos, info.find('"', pos) - pos);
}

}  // namespace vpcri::test
