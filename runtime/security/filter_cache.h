// Compiled seccomp filters, kept by vpcrid: libseccomp compiles a profile in milliseconds, and
// every container with the same profile and capabilities gets the same program, so each is
// compiled once (vpcri-init then only loads it, seccomp_load.h).
#pragma once

#include <string>
#include <vector>

namespace vpcri::runtime::security {

// compile_profile_json(profile_json, caps), from the cache when the same profile text was
// compiled for the same capability set (in any order) before. The native architecture and the
// kernel version, the other inputs, do not change while vpcrid runs. Thread-safe. Throws as
// compile_profile_json does; a profile that fails is not cached.
std::string cached_filter(const std::string& profile_json, const std::vector<std::string>& caps);

}  // namespace vpcri::runtime::security
