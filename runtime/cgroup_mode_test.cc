#include "runtime/cgroup_mode.h"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

using namespace vpcri::runtime;

namespace {
// A scratch tree with real tmpfs/cgroup2 mounts, unmounted on every path out.
struct MountedTree {
  std::string root;
  std::vector<std::string> mounts;
  MountedTree() {
    char tmpl[] = "/tmp/vpcri-cgmode.XXXXXX";
    root = ::mkdtemp(tmpl);
  }
  void mount(const char* type, const std::string& target) {
    std::filesystem::create_directories(target);
    REQUIRE(::mount(type, target.c_str(), type, 0, nullptr) == 0);
    mounts.push_back(target);
  }
  ~MountedTree() {
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    std::filesystem::remove_all(root);
  }
};
}  // namespace

TEST_CASE("cgroup layouts are told apart by filesystem type") {
  MountedTree t;
  t.mount("tmpfs", t.root + "/cg");
  CHECK(detect_cgroup_mode(t.root + "/cg") == CgroupMode::legacy);
  t.mount("cgroup2", t.root + "/cg/unified");
  CHECK(detect_cgroup_mode(t.root + "/cg") == CgroupMode::hybrid);
  t.mount("cgroup2", t.root + "/v2");
  CHECK(detect_cgroup_mode(t.root + "/v2") == CgroupMode::unified);
  CHECK_THROWS(detect_cgroup_mode(t.root + "/missing"));
}
