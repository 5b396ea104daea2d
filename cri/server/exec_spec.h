// The InitSpec of a process run inside a running container (ExecSync and streaming Exec): the
// container's own spec, joining its namespaces through its pid, with no mounts or sysctls of its
// own, in its cgroup.
#pragma once

#include <string>
#include <vector>

#include "cri/server/runtime_state.h"
#include "runtime/container/spec.h"

namespace vpcri::cri {

// Throws failed_precondition when the container is not running. `rpc` names the caller in errors.
runtime::container::InitSpec exec_spec(RuntimeState& state, const std::string& container_id,
                                       const std::vector<std::string>& cmd, const char* rpc);

}  // namespace vpcri::cri
