// Records turned into the CRI messages the List/Status/Stats RPCs answer with.
#pragma once

#include <functional>

#include <google/protobuf/map.h>

#include <string>
#include <vector>

#include "cri/server/runtime_state.h"
#include "net/datapath/link_stats.h"

namespace vpcri::cri {

using Labels = google::protobuf::Map<std::string, std::string>;

// Every selector label is present with the same value.
bool labels_match(const Labels& selector, const Labels& labels);

// What the List* filters of pods and containers select: the one object `id` names (a prefix
// too; none if it names nothing) or all, then only those matching the label selector and, for
// containers, the pod `pod_id` names. Snapshots of the records, in no particular order.
std::vector<SandboxRecord> select_sandboxes(Store& store, const std::string& id, const Labels& selector);
std::vector<ContainerRecord> select_containers(Store& store, const std::string& id, const std::string& pod_id,
                                               const Labels& selector);
// The same selections, each record read in place under its object's short lock (no copies).
void for_each_sandbox(Store& store, const std::string& id, const Labels& selector,
                      const std::function<void(const SandboxRecord&)>& visit);
void for_each_container(Store& store, const std::string& id, const std::string& pod_id, const Labels& selector,
                        const std::function<void(const ContainerRecord&)>& visit);

void to_cri(const SandboxRecord& r, v1::PodSandbox* out);
void to_cri(const SandboxRecord& r, v1::PodSandboxStatus* out);
void to_cri(const ContainerRecord& r, v1::Container* out);
void to_cri(const ContainerRecord& r, v1::ContainerStatus* out);

// Usage of a container (cgroup + writable layer), and of a pod (its cgroup parent, with its
// containers' stats).
void container_stats(RuntimeState& state, const ContainerRecord& r, v1::ContainerStats* out);
// The pod's network section comes from the counters of its own netns (pod_network_counters.h):
// read here, or given by a caller that reports them in more detail.
void pod_stats(RuntimeState& state, const SandboxRecord& r, v1::PodSandboxStats* out);
void pod_stats(RuntimeState& state, const SandboxRecord& r, const std::vector<net::InterfaceCounters>& interfaces,
               v1::PodSandboxStats* out);

}  // namespace vpcri::cri
