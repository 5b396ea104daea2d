// vpcri-init's container filesystem: in a fresh mount namespace, the standard mounts under the
// rootfs (proc, sys, dev...), the spec's bind mounts, pivot_root into it, then masked and
// read-only paths. Failures throw InitError naming the step.
#pragma once

#include "runtime/container/spec.h"

namespace vpcri::runtime::container {

// Everything up to and including pivot_root (the cwd is created in the rootfs on the way).
void setup_rootfs(const InitSpec& spec);

// After pivot_root: masked and read-only paths (not when privileged), then the read-only root.
void finish_rootfs(const InitSpec& spec);

}  // namespace vpcri::runtime::container
