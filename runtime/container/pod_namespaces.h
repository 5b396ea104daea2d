// A pod's IPC, UTS and (optionally) PID namespaces, pinned as bind-mounted files in the pod's
// state directory (like CRI-O's pinns): they exist before pause starts and after it dies, so
// containers join them by path and never race a recycled pid. The network namespace is the
// network layer's (the daemon passes its path in).
#pragma once

#include <sys/types.h>

#include <string>

#include "runtime/monitor/process_ref.h"

namespace vpcri::runtime::container {

struct PodNamespacesSpec {
  bool ipc = true;        // false: the pod uses the node's IPC namespace
  bool uts = true;        // false: the node's UTS namespace (hostNetwork pods)
  // Must stay false: the kernel gives no handle on a PID namespace before its first process
  // (pid_for_children is ENOENT until then), so an empty one cannot be pinned; pin_pod_namespaces
  // throws invalid_argument. A pod-wide PID namespace (shareProcessNamespace) is pause's fresh
  // one (launch with pid fresh), pinned with pin_pid_namespace() once pause runs.
  bool pid = false;
  std::string hostname;   // set in the new UTS namespace
};

struct PodNamespaces {
  std::string ipc;  // "<dir>/ipc" or "" when not created
  std::string uts;
  std::string pid;  // always "" (see PodNamespacesSpec::pid)
};

// Creates the namespaces in a short-lived thread and bind-mounts each on <dir>/<kind> (dir is
// created). On failure nothing is left mounted. Throws vpcri::Error.
PodNamespaces pin_pod_namespaces(const std::string& dir, const PodNamespacesSpec& spec);

// Pins the PID namespace of the running `process` (pause) on <dir>/pid and returns that path:
// later containers join it by path and never race a recycled pid. The namespace is read through
// a pidfd checked against the start time, so a pid recycled meanwhile is never pinned (Error
// failed_precondition when the process is gone). The namespace still ends with its pid 1 (a
// launch joining it then fails). Throws vpcri::Error.
std::string pin_pid_namespace(const std::string& dir, const ProcessRef& process);
// The same on `path` (a new file), e.g. a container's pin of its TARGET container's namespace.
void pin_pid_namespace_at(const std::string& path, const ProcessRef& process);

// Unmounts and deletes one pinned namespace file; idempotent.
void unpin_namespace(const std::string& path);

// Unmounts and deletes <dir>/{ipc,uts,pid}; idempotent, safe after a crash half-way.
void unpin_pod_namespaces(const std::string& dir);

}  // namespace vpcri::runtime::container
