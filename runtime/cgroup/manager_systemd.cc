// The systemd driver: each container (and pause) is a transient scope "vpcri-<id>.scope" in the
// slice kubelet named, made and limited through systemd's D-Bus API (as runc's systemd driver
// does); vpcri then works on the scope's cgroup directory like any other.
#include <systemd/sd-daemon.h>

#include <csignal>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/path.h"
#include "runtime/cgroup/systemd_bus.h"
#include "runtime/cgroup/systemd_names.h"

namespace vpcri::runtime::cgroup {
namespace {

// "/a.slice/a-b.slice/vpcri-1.scope" -> ("a-b.slice", "vpcri-1.scope").
std::pair<std::string, std::string> slice_and_scope(const Cgroup& cgroup) {
  const std::string& path = cgroup.path();
  std::string scope = unit_of_cgroup_path(path);
  size_t slash = path.rfind('/');
  std::string slice = slash == 0 ? std::string() : unit_of_cgroup_path(path.substr(0, slash));
  if (!scope.ends_with(".scope") || !slice.ends_with(".slice"))
    throw Error(Errc::invalid_argument, "cgroup " + path + " is not a systemd scope in a slice");
  return {slice, scope};
}

class SystemdManager final : public CgroupManager {
 public:
  const char* driver_name() const override { return "systemd"; }
  std::string parent_path(std::string_view cgroup_parent) const override { return expand_slice(cgroup_parent); }
  std::string cgroup_path(std::string_view parent, std::string_view id) const override {
    return join_cgroup_path(parent, scope_unit_name(id));
  }
  bool makes_parents() const override { return false; }

  CgroupHold create(const Cgroup& cgroup, const LinuxResources& resources) const override {
    auto [slice, scope] = slice_and_scope(cgroup);
    auto properties = resource_properties(resources);  // validates before anything starts
    CgroupHold hold = CgroupHold::with_placeholder_process();
    SystemdBus bus;
    bus.start_transient_unit(scope, scope_properties("vpcri " + scope, slice, {hold.pid()}, resources));
    try {
      if (!cgroup.exists())
        throw Error(Errc::internal, "systemd started " + scope + " but its cgroup " + cgroup.unified_dir() + " is missing");
      // What systemd has no property for (hugepages, raw unified keys), and the exact CFS quota
      // (systemd rounds it to 10 ms per second).
      cgroup.apply(resources);
    } catch (...) {
      hold.release();
      try {
        bus.stop_unit(scope);
      } catch (const std::exception&) {
        // The first error says more; an empty scope is collected by systemd anyway.
      }
      throw;
    }
    return hold;
  }

  // A cgroup that is no scope was made by the cgroupfs driver before the config changed: it is
  // limited and removed as that driver would, so its container can still be updated and removed.
  void update(const Cgroup& cgroup, const LinuxResources& resources) const override {
    auto properties = resource_properties(resources);
    const std::string scope = unit_of_cgroup_path(cgroup.path());
    if (!properties.empty() && scope.ends_with(".scope")) SystemdBus().set_unit_properties(scope, properties);
    cgroup.apply(resources);
  }

  void remove(const Cgroup& cgroup) const override {
    // Killed first, so stopping the scope does not wait for systemd's SIGTERM grace period.
    if (cgroup.exists()) cgroup.kill_all(SIGKILL);
    const std::string scope = unit_of_cgroup_path(cgroup.path());
    if (scope.ends_with(".scope")) SystemdBus().stop_unit(scope);
    cgroup.remove();  // what systemd left (nothing, normally)
  }
};

}  // namespace

std::unique_ptr<CgroupManager> make_systemd_manager(CgroupMode mode) {
  if (sd_booted() <= 0)
    throw Error(Errc::failed_precondition, "cgroup_driver: systemd needs systemd as init, and this host was not booted "
                                           "with it; use cgroup_driver: cgroupfs");
  if (mode != CgroupMode::unified)
    throw Error(Errc::failed_precondition, std::string("cgroup_driver: systemd is supported on cgroup v2-only hosts; "
                                                       "this one is ") + cgroup_mode_name(mode));
  return std::make_unique<SystemdManager>();
}

}  // namespace vpcri::runtime::cgroup
