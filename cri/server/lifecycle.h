// The steps pod and container RPCs share, and the recovery of every object at daemon start.
// Callers hold the object's op() lock around the long ones (stop, remove).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cri/server/runtime_state.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/path.h"

namespace vpcri::cri {

// The cgroup parent of pods kubelet gave none: vpcri's own, swept of orphans at start.
inline constexpr const char* kOwnCgroupParent = "/vpcri";
// The same under cgroup_driver: systemd: one slice for all of them, made and collected by systemd.
inline constexpr const char* kOwnSlice = "vpcri.slice";

// Files of one pod under <state>/pods/<id>.
struct PodPaths {
  std::string dir;         // <state>/pods/<id>
  std::string netns;       // pinned network namespace (absent for host-network pods)
  std::string ns_dir;      // pinned ipc, uts, pid namespaces
  std::string pid_ns;      // <ns_dir>/pid: pause's PID namespace (absent for hostPID pods)
  std::string hosts, resolv_conf, hostname;
  std::string shm;         // tmpfs (or bind of the host's /dev/shm)
  // A pod an older vpcrid made ran pause like a container; what that left is still torn down:
  std::string rootfs;      // pause's rootfs overlay (none now: pause's root is an empty tmpfs)
  std::string monitor;     // pause's monitor state dir (none now: vpcrid watches pause itself)
};
PodPaths pod_paths(const Store& store, const std::string& id);

// A container's rootfs mount point and monitor state dir under <state>/containers/<id>.
std::string container_rootfs(const Store& store, const std::string& id);
std::string container_monitor_dir(const Store& store, const std::string& id);
// Where a container with PID mode TARGET pins its target's PID namespace at creation.
std::string container_target_pid_ns(const Store& store, const std::string& id);

// The pod's sandbox (pause) cgroup: <cgroup parent>/<id> (systemd: <parent>/vpcri-<id>.scope).
runtime::cgroup::Cgroup sandbox_cgroup(const RuntimeState& state, const SandboxRecord& pod);

// An exit nobody recorded (the monitor or its state is gone).
runtime::ExitStatus lost_status(const std::string& message);
void mark_sandbox_notready(RuntimeState& state, Sandbox& pod);

// Records how a running container ended (idempotent: the first report wins) and persists it.
void record_container_exit(RuntimeState& state, Container& container, const runtime::ExitStatus& status);
// Watches a running container's monitor; its exit is recorded as soon as it happens.
void watch_container(RuntimeState& state, const std::shared_ptr<Container>& container,
                     std::shared_ptr<runtime::MonitorHandle> monitor);
// Watches the pod's pause; the pod is NOTREADY as soon as it ends. (The monitor overload: a pod
// an older vpcrid made.)
void watch_sandbox(RuntimeState& state, const std::shared_ptr<Sandbox>& pod,
                   std::shared_ptr<runtime::container::PauseProcess> pause);
void watch_sandbox(RuntimeState& state, const std::shared_ptr<Sandbox>& pod,
                   std::shared_ptr<runtime::MonitorHandle> monitor);

// Sends the stop signal, waits up to `timeout`, then SIGKILLs the container's whole cgroup and
// waits for the exit to be recorded. A container that is not running is left as it is.
void stop_container(RuntimeState& state, Container& container, std::chrono::seconds timeout);

// Force-stops and deletes everything of the container but its log file. Idempotent.
void remove_container(RuntimeState& state, const std::shared_ptr<Container>& container);

// Kills every container of the pod and pause; the pod becomes NOTREADY. Idempotent.
void stop_sandbox(RuntimeState& state, const std::shared_ptr<Sandbox>& pod);

// Creates the pod's cgroup with `resources`. cgroupfs: a requested cgroup_parent that does not
// exist yet is made too; the topmost level made is recorded first (pod.created_cgroup_parent,
// saved), so the pod's teardown, or its rollback after a crash, removes it again once no other
// pod's cgroup is below it. systemd makes and collects the slices itself. Keep `hold` until
// pause has joined the cgroup.
struct NewCgroup {
  runtime::cgroup::Cgroup cgroup;
  runtime::cgroup::CgroupHold hold;
};
NewCgroup create_sandbox_cgroup(RuntimeState& state, SandboxRecord& pod, const runtime::cgroup::LinuxResources& resources);

// Unmounts, unpins, removes cgroups and files of a pod (its containers must be gone). Each step
// is idempotent, so it also finishes a run or removal that crashed half-way.
void teardown_sandbox(RuntimeState& state, const SandboxRecord& pod);

// At daemon start, before serving (recovery.cc): loads every record, rolls back the pods and
// containers whose creation was cut short (intent records), adopts a container whose start was
// cut short after its monitor ran, re-adopts live monitors, records exits that happened while
// vpcrid was down, marks pods whose pause is gone NOTREADY, then removes whatever under vpcri's
// own directories and cgroup parent no record explains.
void recover(RuntimeState& state);

}  // namespace vpcri::cri
