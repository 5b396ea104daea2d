// The cgroupfs driver: vpcri makes the cgroup tree itself (see cgroup.h).
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/path.h"

#include <csignal>

namespace vpcri::runtime::cgroup {
namespace {

class CgroupfsManager final : public CgroupManager {
 public:
  const char* driver_name() const override { return "cgroupfs"; }
  std::string parent_path(std::string_view cgroup_parent) const override { return validate_cgroup_parent(cgroup_parent); }
  std::string cgroup_path(std::string_view parent, std::string_view id) const override {
    return join_cgroup_path(parent, id);
  }
  bool makes_parents() const override { return true; }
  CgroupHold create(const Cgroup& cgroup, const LinuxResources& resources) const override {
    cgroup.create();
    cgroup.apply(resources);
    return {};
  }
  void update(const Cgroup& cgroup, const LinuxResources& resources) const override { cgroup.apply(resources); }
  void remove(const Cgroup& cgroup) const override {
    if (!cgroup.exists()) return;
    cgroup.kill_all(SIGKILL);
    cgroup.remove();
  }
};

}  // namespace

std::unique_ptr<CgroupManager> make_cgroupfs_manager() { return std::make_unique<CgroupfsManager>(); }

}  // namespace vpcri::runtime::cgroup
