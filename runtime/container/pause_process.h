// A pod's pause process, started the cheap way (docs/ARCHITECTURE.md, "Pods"): no monitor, no
// vpcri-init, no image rootfs. vpcrid spawns `pause --setup` (pause/setup.c) by vfork and exec: a
// short-lived step that joins the pod's pinned namespaces and cgroup and forks pause (itself, no
// second exec) into a new PID and mount namespace, then leaves: pause
// outlives vpcrid (init reaps it), and vpcrid watches it through a pidfd, named by pid + start
// time so a restarted vpcrid finds it again and never mistakes a recycled pid for it.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "runtime/monitor/process_ref.h"

namespace vpcri::runtime::container {

struct PauseSpec {
  // The read-only pause binary (ReadOnlyBinary::fd): executed through /proc/self/fd, so a container
  // sharing pause's PID namespace cannot open /proc/1/exe for writing (CVE-2019-5736).
  int binary_fd = -1;
  // Namespace files to join; "" keeps the node's (host network / host IPC).
  std::string netns, ipc, uts;
  bool new_pid_ns = true;  // false: the node's PID namespace (hostPID pods)
  // An existing directory: in pause's own mount namespace an empty read-only tmpfs is mounted
  // here and becomes its root (pivot_root), so pause sees nothing of the host's files.
  std::string root_mount_point;
  // Joined before pause exists: a cgroup2 one by cloning pause into it, v1 ones through `tasks`.
  std::vector<std::string> cgroup_dirs;
  // Namespaced sysctls, written inside the pod's network/IPC namespaces (checked again here).
  std::map<std::string, std::string> sysctls;
  uint32_t uid = 0, gid = 0;  // no supplementary groups; every capability dropped either way
};

// pause, running (or ended). Not our child: its pidfd says when it ends.
class PauseProcess {
 public:
  PauseProcess(ProcessRef process, UniqueFd pidfd) : process_(process), pidfd_(std::move(pidfd)) {}

  const ProcessRef& process() const { return process_; }
  int pidfd() const { return pidfd_.get(); }  // readable (POLLIN) once pause has ended
  // SIGKILL; false if it had already ended.
  bool kill() const;
  // True once pause has ended, waiting up to `timeout`.
  bool wait(std::chrono::milliseconds timeout) const;

 private:
  ProcessRef process_;
  UniqueFd pidfd_;
};

// Starts pause as described above and returns once it runs pause's code (its exec succeeded).
// Any failed step throws vpcri::Error naming it with the kernel's reason; nothing is left
// running then.
PauseProcess spawn_pause(const PauseSpec& spec);

// After a restart: pause again by its pid and start time; nullopt if it no longer runs.
std::optional<PauseProcess> adopt_pause(const ProcessRef& process);

}  // namespace vpcri::runtime::container
