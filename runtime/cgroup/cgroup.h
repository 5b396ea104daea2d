// A handle on one container or pod cgroup ("/kubepods/burstable/pod<uid>/<container id>") in
// the host's layout (cgroupfs driver): one directory per v1 hierarchy, plus hybrid's cgroup2
// tracking tree, or a single cgroup2 directory. The handle owns no kernel resource: the cgroup
// outlives it (and the daemon) until remove() is called.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cgroup/devices.h"
#include "runtime/cgroup/oom.h"
#include "runtime/cgroup/resources.h"
#include "runtime/cgroup/root.h"
#include "runtime/cgroup/stats.h"

namespace vpcri::runtime::cgroup {

class Cgroup {
 public:
  // `path` is validated (validate_cgroup_path): Error(invalid_argument) if it could leave the
  // cgroup roots or uses a reserved name; Error(invalid_argument) too if `root` is inconsistent
  // with its mode (no mountpoints). Touches nothing.
  Cgroup(CgroupRoot root, std::string_view path);

  const std::string& path() const { return path_; }
  const CgroupRoot& root() const { return root_; }

  // unified mode: the one directory. v1: this cgroup's directory in the hierarchy holding
  // `controller` ("memory"), or "" when the host has no such hierarchy.
  std::string controller_dir(std::string_view controller) const;
  // The cgroup2 directory (unified mode, or hybrid's tracking tree); "" in legacy mode.
  std::string unified_dir() const;
  // Every directory this cgroup has, each once (co-mounted v1 controllers share one).
  std::vector<std::string> directories() const;

  bool exists() const;

  // mkdir -p in every hierarchy. v1 cpuset: empty cpuset.cpus / cpuset.mems of each level are
  // copied from the parent (the kernel refuses tasks in an empty cpuset). v2: the controllers
  // of root().v2_controllers that each level offers are enabled in cgroup.subtree_control from
  // the mountpoint down to the parent of this cgroup, stopping above a level that holds
  // processes (cgroup2 allows either; an exec's cgroup below its container's). Idempotent.
  void create() const;

  // Writes the limits (see apply.h). Live updates use the same call: unset fields stay as they are.
  void apply(const LinuxResources& resources) const;

  // Which devices the processes may use, set once on a new cgroup before any process joins
  // (v1 only accepts it while the cgroup has no children). v1 and hybrid: the devices
  // controller's lists; cgroup2 (unified, and hybrid's tracking tree too): a BPF device filter,
  // none when allow_all. Error(failed_precondition) if the host offers neither, unless allow_all.
  void apply_devices(const DevicePolicy& policy) const;

  // Moves `pid` (all its threads) into this cgroup in every hierarchy.
  // Error(not_found) if the process does not exist.
  void add_process(pid_t pid) const;

  // Processes in this cgroup and its descendants, sorted, each once.
  std::vector<pid_t> pids() const;

  // Sends `sig` to every process in this cgroup and below, without racing forks: v2 SIGKILL
  // uses cgroup.kill when the kernel has it (5.14+); otherwise the cgroup is frozen (v1 freezer
  // / v2 cgroup.freeze), every process signalled, and thawed again. v2: a cgroup that does not
  // exist (or vanishes meanwhile, as systemd removes an emptied scope's) is not an error.
  void kill_all(int sig) const;

  // rmdir in every hierarchy, descendants first. A cgroup with exiting processes is busy for a
  // moment, so EBUSY is retried until `wait` has passed; then Error(failed_precondition) lists
  // the pids still inside. Removing a cgroup that does not exist is not an error.
  void remove(std::chrono::milliseconds wait = std::chrono::seconds(5)) const;
  // rmdir in every hierarchy, this level only: never a descendant. False (leaving what could not
  // go) when a hierarchy still has a child cgroup or a process there.
  bool remove_if_empty() const;

  CgroupStats stats() const;
  // Tasks in the cgroup (pids.current) and nothing else: cheaper than stats() when that is all
  // a caller needs. nullopt without the pids controller.
  std::optional<uint64_t> pids_current() const;

  // How many processes the OOM killer killed in this cgroup so far (see oom.h); nullopt when
  // the host cannot tell (no memory controller, kernel without the counter).
  std::optional<uint64_t> oom_kill_count() const;

  // A pollable fd for OOM events of this cgroup (see OomWatch). Error(failed_precondition)
  // without a memory controller.
  OomWatch watch_oom() const;

 private:
  bool unified_mode() const { return root_.mode == CgroupMode::unified; }
  std::map<std::string, std::string> v1_dirs() const;  // controller -> directory
  void create_v1() const;
  void create_v2() const;

  CgroupRoot root_;
  std::string path_;
};

}  // namespace vpcri::runtime::cgroup
