// What vpcri-init does to become a container's (or a pod's pause, or an exec's) first process:
// a plain value the daemon fills from the CRI request, written as JSON into the container's state
// directory and read back by vpcri-init (see init.cc). runtime/ knows nothing of CRI: every
// decision (which namespaces, which capabilities, which mounts) is already made here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/container/cgroupfs_layout.h"

namespace vpcri::runtime::container {

// How the process gets one kind of namespace.
struct NamespaceSpec {
  enum class Mode {
    host,   // stay in the node's (vpcrid's) namespace: hostNetwork, hostIPC, hostPID
    fresh,  // a new, empty namespace of its own
    join,   // setns(2) into `path`: a pinned pod namespace file or /proc/<pid>/ns/<kind>
  };
  Mode mode = Mode::fresh;
  std::string path;  // only for join
  bool operator==(const NamespaceSpec&) const = default;
};

enum class Propagation { private_, rslave, rshared };

// A bind mount into the container (CRI Mount, and the pod's hosts/resolv.conf/hostname/shm).
struct BindMount {
  std::string source;       // absolute host path; must exist
  std::string destination;  // absolute path inside the container; created if missing
  bool readonly = false;
  Propagation propagation = Propagation::private_;
  bool recursive = true;  // rbind (CRI mounts are recursive)
  bool operator==(const BindMount&) const = default;
};

struct Rlimit {
  std::string name;  // "RLIMIT_NOFILE"
  uint64_t soft = 0;
  uint64_t hard = 0;
  bool operator==(const Rlimit&) const = default;
};

struct SeccompSpec {
  enum class Mode { unconfined, runtime_default, localhost };
  Mode mode = Mode::unconfined;
  std::string profile_path;  // localhost: absolute path of a JSON profile (docker/OCI format)
  // The profile compiled for the process's capabilities: classic BPF, sock_filter instructions
  // back to back. vpcrid sets it (seccomp_filter.h) in the spec it hands vpcri-init, which only
  // loads it; stored records leave it empty.
  std::string filter;
  bool operator==(const SeccompSpec&) const = default;
};

// A device the container asked for (CRI Device): a node vpcri-init creates in the container
// (a bind mount of the host's node when privileged); the cgroup allows `access` on it.
struct DeviceNode {
  std::string host_path;  // the host's node
  std::string path;       // absolute path inside the container
  char type = 'c';        // 'c' or 'b'
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t mode = 0666;  // permission bits, as on the host
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string access = "rwm";  // subset of "rwm"
  bool operator==(const DeviceNode&) const = default;
};

// The process and who it runs as.
struct ProcessSpec {
  // args[0] is absolute, or looked up in the PATH of `env` inside the container's root.
  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE, final (image env + CRI env already merged)
  std::string cwd = "/";         // created if missing, as container runtimes do
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  // The capability set ("CAP_CHOWN", ...): bounding, permitted, effective and inheritable all
  // get exactly this set, ambient none. As with containerd and runc, a non-root process thus
  // holds no capabilities in effect after exec (Kubernetes' documented behaviour).
  std::vector<std::string> capabilities;
  bool no_new_privs = false;
  SeccompSpec seccomp;
  std::vector<Rlimit> rlimits;
  // Written to /proc/self/oom_score_adj; lowering it needs CAP_SYS_RESOURCE, and without that
  // the value is raised to the current one instead of failing (containerd's
  // restrict_oom_score_adj).
  std::optional<int> oom_score_adj;
  bool operator==(const ProcessSpec&) const = default;
};

struct InitSpec {
  ProcessSpec process;

  // Namespaces. The PID namespace is entered by whoever forks the process (vpcri-monitor
  // --pidns, or vpcri-init's own fork for exec), since setns(CLONE_NEWPID) only affects children.
  NamespaceSpec net, ipc, uts, pid;
  // mnt: fresh for a container (rootfs set up below); join for an exec into a running container
  // (then rootfs/mounts are ignored: the container's mount namespace already has them).
  NamespaceSpec mnt;
  // cgroup: fresh (the default, containerd's cgroupns=private) is unshared after the process
  // joined its cgroups, so /proc/self/cgroup shows "/" and the container's own /sys/fs/cgroup
  // (read-only unless privileged) is rooted at its cgroup; join for an exec.
  NamespaceSpec cgroup;

  // The container's root: the overlay already mounted by the daemon (host path). vpcri-init
  // mounts /proc, /sys, /dev (tmpfs with the standard nodes), /dev/pts, /dev/mqueue under it,
  // then `mounts`, then pivot_root, then masked and read-only paths.
  std::string rootfs;
  bool readonly_rootfs = false;
  // Privileged: /sys and /sys/fs/cgroup read-write, the host's devices, no masked or read-only
  // paths, no device restriction.
  bool privileged = false;
  std::vector<DeviceNode> devices;
  std::vector<BindMount> mounts;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;

  std::string hostname;                       // set when uts is fresh and this is non-empty
  std::map<std::string, std::string> sysctls;  // applied in the new namespaces before exec

  // cgroup directories (one per hierarchy) the process moves itself into before exec, so no
  // instruction of the user's program ever runs outside its cgroup.
  std::vector<std::string> cgroup_dirs;
  // With a fresh cgroup namespace: the host's cgroup filesystems, mounted again at
  // /sys/fs/cgroup (launch() fills it from vpcrid's one reading; absent, vpcri-init reads it).
  std::optional<CgroupfsLayout> cgroupfs;

  // Exec only: an inherited pidfd of the container's process (>= 0). Every `join` namespace is
  // then entered with one setns(pidfd, flags) (Linux 5.8+), never through /proc/<pid>/ns paths
  // that a recycled pid could point elsewhere; their `path` only names them in messages.
  int ns_pidfd = -1;

  bool operator==(const InitSpec&) const = default;
};

// JSON (nlohmann) form, used for <state>/containers/<id>/init.json. from_json throws
// vpcri::Error(invalid_argument) naming the bad field.
std::string init_spec_to_json(const InitSpec& spec);
InitSpec init_spec_from_json(const std::string& text);

}  // namespace vpcri::runtime::container
