// A pod's IPC, UTS and (optionally) PID namespaces, pinned as bind-mounted files in the pod's
// state directory (like CRI-O's pinns): they exist before pause starts and after it dies, so
// containers join them by path and never race a recycled pid. The network namespace is the
// network layer's (the daemon passes its path in).
#pragma once

#include <string>

namespace vpcri::runtime::container {

struct PodNamespacesSpec {
  bool ipc = true;        // false: the pod uses the node's IPC namespace
  bool uts = true;        // false: the node's UTS namespace (hostNetwork pods)
  bool pid = false;       // true: a pod-wide PID namespace (shareProcessNamespace)
  std::string hostname;   // set in the new UTS namespace
};

struct PodNamespaces {
  std::string ipc;  // "<dir>/ipc" or "" when not created
  std::string uts;
  std::string pid;  // a PID namespace with no process yet: the first process to enter it (pause) is its pid 1
};

// Creates the namespaces in a short-lived child and bind-mounts each on <dir>/<kind> (dir is
// created). On failure nothing is left mounted. Throws vpcri::Error.
PodNamespaces pin_pod_namespaces(const std::string& dir, const PodNamespacesSpec& spec);

// Unmounts and deletes <dir>/{ipc,uts,pid}; idempotent, safe after a crash half-way.
void unpin_pod_namespaces(const std::string& dir);

}  // namespace vpcri::runtime::container
