// Seccomp filters with libseccomp: containerd's RuntimeDefault profile, and Localhost profiles in
// the JSON format kubelet users write (the docker/OCI seccomp profile format).
#pragma once

#include <string>
#include <vector>

namespace vpcri::runtime::security {

// The RuntimeDefault profile: equivalent to containerd's default (moby's default.json for
// amd64, capability-conditional syscalls included), as JSON text in that same format.
const std::string& runtime_default_profile_json();

// Validates a profile (file content): "" if it is loadable, else what is wrong (bad JSON, unknown
// action or architecture). Unknown syscall names are skipped, as other runtimes do.
std::string check_profile_json(const std::string& json);

// The filter load_profile_json loads, compiled but not loaded: a classic BPF program
// (sock_filter instructions back to back) for seccomp_load.h's load_filter. It depends only on
// the profile text, `caps`, the native architecture and the kernel version (minKernel), so
// vpcrid compiles each profile once (filter_cache.h). Throws as load_profile_json does.
std::string compile_profile_json(const std::string& json, const std::vector<std::string>& caps);

// In the calling process, just before exec: builds the filter from `json` for the native
// architecture (plus the profile's "architectures" and the archMap sub-architectures of the native
// one, e.g. x86 and x32 on x86_64) and loads it. `caps` is the process's final capability set
// (profiles may include or exclude rules by capability). The filter does not set no_new_privs:
// without it the kernel only lets a process holding CAP_SYS_ADMIN load a filter, so call this
// before apply_capabilities drops it (as runc does), or set no_new_privs first; otherwise
// Error(failed_precondition). Whatever runs after it until execve must be allowed by the profile.
// Throws vpcri::Error (invalid_argument for a bad profile).
void load_profile_json(const std::string& json, const std::vector<std::string>& caps);

}  // namespace vpcri::runtime::security
