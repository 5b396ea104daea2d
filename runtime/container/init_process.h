// vpcri-init's per-process steps after the namespaces and mounts: limits, the user, and which
// file to execute. Failures throw InitError naming the step.
#pragma once

#include <string>
#include <vector>

#include "runtime/container/spec.h"

namespace vpcri::runtime::container {

// setrlimit for each; raising a hard limit needs CAP_SYS_RESOURCE, and its EPERM says so.
void apply_rlimits(const std::vector<Rlimit>& rlimits);

// Writes /proc/self/oom_score_adj. Lowering it needs CAP_SYS_RESOURCE: without it a lower
// request keeps the current value (containerd's restrict_oom_score_adj).
void apply_oom_score_adj(int value);

// setgroups, setresgid, setresuid (keeping the capabilities across it), then exactly
// process.capabilities (ambient too when uid != 0).
void switch_user(const ProcessSpec& process);

// args[0] as execve needs it: a name without '/' is looked up in the PATH of `env` (the default
// PATH when it has none), an executable regular file in the current root. InitError(ENOENT,
// `exec "<name>": executable file not found in $PATH`) when there is none.
std::string find_executable(const std::string& name, const std::vector<std::string>& env);

}  // namespace vpcri::runtime::container
