// The cgroup driver: who names, makes, limits and removes container and pod cgroups. cgroupfs:
// vpcri writes the cgroup tree itself. systemd: each container is a transient scope unit that
// systemd makes in the slice kubelet named, with the limits as unit properties (as kubelet's
// cgroupDriver: systemd expects). Either way the result is a Cgroup (a directory under
// /sys/fs/cgroup) that the rest of vpcri reads stats from, signals and watches directly.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/resources.h"

namespace vpcri::runtime::cgroup {

// Keeps a new cgroup alive until the container's first process has joined it: a systemd scope
// is started with a process in it and goes away when it is empty, so a placeholder process
// (stopped here, in the destructor) holds it meanwhile. Empty for cgroupfs.
class CgroupHold {
 public:
  CgroupHold() = default;
  static CgroupHold with_placeholder_process();
  ~CgroupHold();
  CgroupHold(CgroupHold&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  CgroupHold& operator=(CgroupHold&& other) noexcept;
  CgroupHold(const CgroupHold&) = delete;
  CgroupHold& operator=(const CgroupHold&) = delete;

  pid_t pid() const { return pid_; }
  // Kills and reaps the placeholder now.
  void release();

 private:
  pid_t pid_ = -1;
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;

  // "cgroupfs" or "systemd".
  virtual const char* driver_name() const = 0;

  // The cgroup path of a pod's cgroup_parent as kubelet sends it for this driver
  // ("/kubepods/burstable/pod<uid>" or "kubepods-burstable-pod<uid>.slice"), validated:
  // Error(invalid_argument) for anything else.
  virtual std::string parent_path(std::string_view cgroup_parent) const = 0;

  // The cgroup path of container (or pod sandbox) `id` under a parent_path().
  virtual std::string cgroup_path(std::string_view parent, std::string_view id) const = 0;

  // Whether vpcri makes the missing levels of a parent itself (and removes them again) or the
  // driver's owner does (systemd makes and collects slices).
  virtual bool makes_parents() const = 0;

  // Makes `cgroup` with the limits in `resources`; a process may join it while the hold lives.
  virtual CgroupHold create(const Cgroup& cgroup, const LinuxResources& resources) const = 0;

  // Live limits: unset (0) fields stay as they are.
  virtual void update(const Cgroup& cgroup, const LinuxResources& resources) const = 0;

  // Kills whatever is still inside and removes the cgroup (systemd: stops the scope). Removing
  // one that is gone already is not an error.
  virtual void remove(const Cgroup& cgroup) const = 0;
};

std::unique_ptr<CgroupManager> make_cgroupfs_manager();

// Error(failed_precondition) unless systemd runs as init on a cgroup v2-only host (`mode`).
std::unique_ptr<CgroupManager> make_systemd_manager(CgroupMode mode);

}  // namespace vpcri::runtime::cgroup
