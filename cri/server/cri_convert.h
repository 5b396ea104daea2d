// Records turned into the CRI messages the List/Status/Stats RPCs answer with.
#pragma once

#include <google/protobuf/map.h>

#include <string>

#include "cri/server/runtime_state.h"

namespace vpcri::cri {

using Labels = google::protobuf::Map<std::string, std::string>;

// Every selector label is present with the same value.
bool labels_match(const Labels& selector, const Labels& labels);

void to_cri(const SandboxRecord& r, v1::PodSandbox* out);
void to_cri(const SandboxRecord& r, v1::PodSandboxStatus* out);
void to_cri(const ContainerRecord& r, v1::Container* out);
void to_cri(const ContainerRecord& r, v1::ContainerStatus* out);

// Usage of a container (cgroup + writable layer), and of a pod (its cgroup parent, with its
// containers' stats).
void container_stats(RuntimeState& state, const ContainerRecord& r, v1::ContainerStats* out);
void pod_stats(RuntimeState& state, const SandboxRecord& r, v1::PodSandboxStats* out);

}  // namespace vpcri::cri
