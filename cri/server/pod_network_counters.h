// The traffic counters of a pod's own network namespace, for PodSandboxStats and
// ListPodSandboxMetrics: both report what the pod sent and received, not the node.
#pragma once

#include <vector>

#include "cri/server/store.h"
#include "net/datapath/link_stats.h"

namespace vpcri::cri {

// The interface kubelet treats as the pod's (NetworkUsage.default_interface), as containerd.
inline constexpr const char* kPodDefaultInterface = "eth0";

// The pod's interfaces but loopback; empty for a host-network pod (the node's counters are not
// the pod's) and for a pod whose namespace is gone (stopped). Never throws: a namespace removed
// while being read is logged and reported as no interfaces.
std::vector<net::InterfaceCounters> pod_interface_counters(const Store& store, const SandboxRecord& r);

}  // namespace vpcri::cri
