// A process run inside a running container (ExecSync and streaming Exec): the container's own
// InitSpec, joining its namespaces (cgroup namespace included) through a pidfd of its process,
// with no mounts or sysctls of its own, in its cgroup.
#pragma once

#include <string>
#include <vector>

#include "common/fd.h"
#include "cri/server/runtime_state.h"
#include "runtime/container/spec.h"

namespace vpcri::cri {

struct ExecTarget {
  ContainerRecord record;
  // The container's process, checked against its recorded start time: from here on it names
  // that process and no other, whatever happens to its pid. Passed as ExecOptions::ns_pidfd.
  UniqueFd pidfd;
  // Namespace paths name the pid for messages only; the pidfd is what is joined.
  runtime::container::InitSpec spec;
};

// Throws failed_precondition when the container is not running. `rpc` names the caller in errors.
ExecTarget exec_target(RuntimeState& state, const std::string& container_id, const std::vector<std::string>& cmd,
                       const char* rpc);

}  // namespace vpcri::cri
