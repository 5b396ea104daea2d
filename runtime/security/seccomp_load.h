// Loading a seccomp filter that is already compiled: all vpcri-init does with seccomp, so it
// needs neither libseccomp nor the profile's JSON (vpcrid compiles each profile once,
// filter_cache.h).
#pragma once

#include <string>

namespace vpcri::runtime::security {

// Loads `bpf` (a classic BPF program, sock_filter instructions back to back, as
// compile_profile_json returns) with seccomp(SECCOMP_SET_MODE_FILTER) and no flags, in the
// calling thread. The preconditions of load_profile_json apply: without no_new_privs the
// process needs CAP_SYS_ADMIN (else Error(failed_precondition)). A program that is empty, not
// whole instructions or longer than the kernel's limit: Error(invalid_argument).
void load_filter(const std::string& bpf);

}  // namespace vpcri::runtime::security
