// The seccomp filter a container's process will run with, compiled by vpcrid (once per profile
// and capability set: security/filter_cache.h) and handed to vpcri-init inside its InitSpec.
#pragma once

#include "runtime/container/spec.h"

namespace vpcri::runtime::container {

// Sets spec.process.seccomp.filter to the compiled program of its profile (RuntimeDefault, or
// the Localhost file read now) for its capability set; unconfined: clears it. Throws
// vpcri::Error naming the profile when it cannot be read or compiled (invalid_argument for a
// bad profile, not_found for a missing file).
void compile_seccomp(InitSpec& spec);

}  // namespace vpcri::runtime::container
